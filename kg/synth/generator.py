"""The entry point of the synthetic catalogue generator: :func:`generate` and its result."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import id_width
from .catalogue import make_catalogue
from .categories import build_tree
from .interactions import draw_user_counts, write_interactions
from .names import brand_names, normalise_brand
from .products import write_products
from .writer import write_atomically

PRODUCTS_FILE = "products.jsonl"
INTERACTIONS_FILE = "interactions.csv"


@dataclass(frozen=True)
class SynthStats:
    """What :func:`generate` wrote."""

    n_products: int
    n_users: int
    n_interactions: int
    n_brands: int  # distinct brands (normalised keys)
    n_brand_spellings: int  # distinct raw brand strings, variants included
    n_categories: int  # distinct leaf category paths used by products
    n_category_nodes: int  # distinct category nodes on those paths
    products_path: Path
    interactions_path: Path
    seed: int


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def generate(
    out_dir: Path,
    n_products: int,
    *,
    n_users: int | None = None,
    seed: int = 0,
    interactions_per_product: float = 15.0,
    progress: bool = False,
) -> SynthStats:
    """Write a synthetic catalogue (``products.jsonl``, ``interactions.csv``) into ``out_dir``.

    For scale benchmarks only -- see :mod:`kg.synth`. The output is a pure function of the
    arguments (same seed -> same bytes). Existing files of the same names are replaced only
    once both new files are complete.

    Args:
        out_dir: the folder to write into (created if missing).
        n_products: number of products (>= 1).
        n_users: number of users (>= 1); None (default) for the number that gives a median of
            about 5 interactions per user.
        seed: random seed (>= 0); the products depend only on ``(n_products, seed)``.
        interactions_per_product: the total is about ``n_products * interactions_per_product``
            (every user has at least one interaction, and a user never has more interactions
            than there are products).
        progress: show tqdm progress bars.

    Returns:
        What was written: counts and the two file paths.

    Raises:
        ValueError: an argument is not an integer (or a number) in its range.
    """
    n_products = _check_int("n_products", n_products, 1)
    if n_users is not None:
        n_users = _check_int("n_users", n_users, 1)
    seed = _check_int("seed", seed, 0)
    if isinstance(interactions_per_product, bool) or not isinstance(
        interactions_per_product, (int, float, np.integer, np.floating)
    ):
        raise ValueError(
            f"interactions_per_product must be a number, got {interactions_per_product!r}"
        )
    ipp = float(interactions_per_product)
    if not math.isfinite(ipp) or ipp <= 0:
        raise ValueError(f"interactions_per_product must be > 0, got {interactions_per_product!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    root = np.random.SeedSequence([seed, n_products])
    seq_products, seq_users, seq_inter = root.spawn(3)
    rng = np.random.Generator(np.random.PCG64(seq_products))

    # Catalogue.
    tree = build_tree(rng, n_products)
    n_brands = min(n_products, max(3, round(n_products / 30)))
    brands = brand_names(rng, n_brands)
    cat = make_catalogue(rng, n_products, tree, n_brands)
    pw = id_width(n_products)
    pids = [f"P{i:0{pw}d}" for i in range(n_products)]

    # Users: log-normal interaction counts, median about 5 when n_users is left to us.
    n_users, counts = draw_user_counts(seq_users, n_products, ipp, n_users)

    spellings, n_inter = write_atomically(
        out_dir,
        [
            (PRODUCTS_FILE, False,
             lambda f: write_products(f, rng, cat, brands, pids, progress)),
            (INTERACTIONS_FILE, True,
             lambda f: write_interactions(f, seq_inter, cat, counts, progress)),
        ],
    )

    used_leaves = np.flatnonzero(np.bincount(cat.leaf, minlength=len(tree.leaves)))
    nodes = {node for lf in used_leaves.tolist() for node in tree.leaf_path_nodes[lf]}
    return SynthStats(
        n_products=n_products,
        n_users=int(n_users),
        n_interactions=int(n_inter),
        n_brands=len({normalise_brand(s) for s in spellings}),
        n_brand_spellings=len(spellings),
        n_categories=int(len(used_leaves)),
        n_category_nodes=len(nodes),
        products_path=out_dir / PRODUCTS_FILE,
        interactions_path=out_dir / INTERACTIONS_FILE,
        seed=seed,
    )

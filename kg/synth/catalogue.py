"""The catalogue model: each product's leaf, brand and popularity, as arrays for fast sampling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import offsets, sample_range
from .categories import CategoryTree


@dataclass
class Catalogue:
    """Arrays shared by product writing and interaction drawing (products are indices 0..n-1)."""

    n: int
    tree: CategoryTree
    leaf: np.ndarray  # product -> leaf index
    brand: np.ndarray  # product -> brand index
    leaf_order: np.ndarray  # products sorted by leaf (depth-first order)
    leaf_lo: np.ndarray  # leaf -> first position in leaf_order; leaf_lo[n_leaves] = n
    cum_leaf: np.ndarray  # running popularity along leaf_order (len n + 1)
    brand_order: np.ndarray
    brand_lo: np.ndarray
    cum_brand: np.ndarray
    cum_global: np.ndarray
    anc1_lo: np.ndarray  # leaf -> product-position range of its level-1 subtree in leaf_order
    anc1_hi: np.ndarray
    anc2_lo: np.ndarray  # leaf -> product-position range of its level-2 subtree in leaf_order
    anc2_hi: np.ndarray


def _subtree_ranges(anc: np.ndarray, leaf_lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leaves are in depth-first order, so every subtree covers a contiguous run of leaves."""
    n_anc = int(anc.max()) + 1
    idx = np.arange(len(anc))
    first = np.full(n_anc, len(anc), dtype=np.int64)
    last = np.full(n_anc, -1, dtype=np.int64)
    np.minimum.at(first, anc, idx)
    np.maximum.at(last, anc, idx)
    return leaf_lo[first[anc]], leaf_lo[last[anc] + 1]


def make_catalogue(
    rng: np.random.Generator, n: int, tree: CategoryTree, n_brands: int
) -> Catalogue:
    """Place ``n`` products in the tree's leaves and give them brands and popularities.

    Args:
        rng: the products' random generator (advanced here).
        n: number of products.
        tree: the category tree.
        n_brands: number of brands; every brand gets at least one product.

    Returns:
        The catalogue arrays, with products grouped by leaf and by brand.
    """
    n_leaves = len(tree.leaves)
    # Brands: one product each so every brand exists, the rest by Zipf-Mandelbrot popularity.
    w = 1.0 / (np.arange(n_brands) + 2.0)
    brand = np.empty(n, dtype=np.int64)
    brand[:n_brands] = np.arange(n_brands)
    brand[n_brands:] = rng.choice(n_brands, size=n - n_brands, p=w / w.sum())
    brand = brand[rng.permutation(n)]
    brand_count = np.bincount(brand, minlength=n_brands)

    # Leaves: log-normal sizes; each brand leans towards a few level-1 subtrees ("homes").
    leaf_w = rng.lognormal(0.0, 1.0, size=n_leaves)
    cum_lw = offsets(leaf_w)
    anc1 = tree.leaf_anc1
    n_anc1 = int(anc1.max()) + 1
    a1_first = np.full(n_anc1, n_leaves, dtype=np.int64)
    a1_last = np.full(n_anc1, -1, dtype=np.int64)
    np.minimum.at(a1_first, anc1, np.arange(n_leaves))
    np.maximum.at(a1_last, anc1, np.arange(n_leaves))
    a1_w = np.bincount(anc1, weights=leaf_w, minlength=n_anc1)
    max_home = 6
    n_home = np.minimum(max_home, 1 + np.floor(np.log10(brand_count)).astype(np.int64))
    homes = rng.choice(n_anc1, size=(n_brands, max_home), p=a1_w / a1_w.sum())
    r = rng.random(n)
    home = homes[brand, (rng.random(n) * n_home[brand]).astype(np.int64)]
    at_home = rng.random(n) < 0.8
    lo = np.where(at_home, a1_first[home], 0)
    hi = np.where(at_home, a1_last[home] + 1, n_leaves)
    leaf = sample_range(cum_lw, lo, hi, r)

    # Item popularity: Zipf-Mandelbrot over a random ranking.
    rank = rng.permutation(n)
    pop = (rank + 10.0) ** -0.85

    leaf_order = np.argsort(leaf, kind="stable")
    leaf_lo = offsets(np.bincount(leaf, minlength=n_leaves))
    brand_order = np.argsort(brand, kind="stable")
    brand_lo = offsets(brand_count)
    anc1_lo, anc1_hi = _subtree_ranges(tree.leaf_anc1, leaf_lo)
    anc2_lo, anc2_hi = _subtree_ranges(tree.leaf_anc2, leaf_lo)
    return Catalogue(
        n=n, tree=tree, leaf=leaf, brand=brand, leaf_order=leaf_order, leaf_lo=leaf_lo,
        cum_leaf=offsets(pop[leaf_order]), brand_order=brand_order, brand_lo=brand_lo,
        cum_brand=offsets(pop[brand_order]), cum_global=offsets(pop),
        anc1_lo=anc1_lo, anc1_hi=anc1_hi, anc2_lo=anc2_lo, anc2_hi=anc2_hi,
    )

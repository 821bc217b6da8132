"""Synthetic product catalogue in the canonical data layout -- FOR SCALE BENCHMARKS ONLY.

The data written here is random. It imitates the *shape* of a real catalogue (a category tree,
Zipf-popular brands spelled in several ways, attributes, prices, HTML-laden descriptions,
co-purchase links, users with category and brand affinities) so that importers, graph stores,
indexes and trainers can be timed and load-tested at 1k, 100k or 1M products. It carries no
real preference signal beyond the generator's own rules: NEVER report recommendation quality
figures (recall, NDCG, hit rate, ...) measured on it; use the real data sets for those.

Layout (see the data README): ``products.jsonl`` with one JSON object per line
(``id``, ``title``, ``description``, ``brand``, ``category_path``, ``attributes``, ``price``,
``related``), and ``interactions.csv`` with header ``user_id,item_id,timestamp,rating,kind``.

Structure generated:

* a category tree with a few roots, paths of 3-5 levels, and a number of leaves that grows with
  the catalogue (about one leaf per 20 products); names come from small word lists
  ("Hand Tools > Drills > Cordless Drills"); each product sits in one leaf;
* brands (about one per 30 products) with Zipf popularity; each brand leans towards a few
  subtrees; some brands, more often the big ones, are spelled in case/spacing/punctuation
  variants that normalise to one key ("Vex & Tron", "VEX+TRON", "Vex-Tron");
* attributes (material, color, size, voltage, pack_size, weight_kg) chosen per root category,
  log-normal prices, a short description (about 1 in 10 holds HTML tags, 1 in 10 an entity
  such as ``&amp;``), ``related.also_bought`` lists (mostly same leaf or same brand), and a title
  made of brand + adjective + leaf noun + model number;
* users with 1-3 favourite categories and 1-2 favourite brands, who draw most interactions from
  them (Zipf item popularity inside each); about 5 interactions per user (median), about
  ``interactions_per_product`` per product on average, no repeated (user, item) pair,
  timestamps ISO 8601 UTC strictly increasing within a user, integer ratings 1-5 and a ``kind``
  of view, purchase or review. Rows are grouped by user.

Output is a pure function of the arguments (same seed -> same bytes); the products depend only on
``(n_products, seed)``. Generation is vectorised with numpy and written in chunks: 1M products
and ~15M interactions take about a minute and ~1.2 GB. Both files are written under
temporary names and renamed into place only when both are complete.

This module only uses the standard library, numpy and (when ``progress=True``) tqdm.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["SynthStats", "generate", "normalise_brand"]

PRODUCTS_FILE = "products.jsonl"
INTERACTIONS_FILE = "interactions.csv"
INTERACTIONS_HEADER = "user_id,item_id,timestamp,rating,kind"

# --------------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------------

_ROOTS = (
    "Power Tools", "Hand Tools", "Lab Equipment", "Electrical", "Plumbing", "Safety Gear",
    "Fasteners", "Hardware", "Adhesives & Sealants", "Abrasives", "Test & Measurement",
    "Janitorial Supplies", "Material Handling", "Hydraulics", "Welding",
)
_NOUNS = (
    "Drill", "Saw", "Sander", "Grinder", "Wrench", "Hammer", "Clamp", "Screwdriver", "Level",
    "Chisel", "File", "Brush", "Pump", "Valve", "Fitting", "Hose", "Pipe", "Cable", "Switch",
    "Outlet", "Relay", "Fuse", "Meter", "Gauge", "Sensor", "Glove", "Respirator", "Helmet",
    "Screw", "Bolt", "Nut", "Washer", "Anchor", "Rivet", "Tape", "Sealant", "Disc", "Wheel",
    "Belt", "Pad", "Cart", "Hoist", "Jack", "Torch", "Beaker", "Flask", "Pipette", "Scale",
    "Thermometer", "Caster", "Hinge", "Lock", "Bracket", "Filter", "Nozzle", "Fan", "Heater",
    "Light", "Battery", "Charger",
)
_MOD1 = (
    "Cordless", "Corded", "Electric", "Pneumatic", "Manual", "Digital", "Analog", "Adjustable",
    "Magnetic", "Portable", "Compact", "Heavy-Duty", "Industrial", "Precision", "Rotary",
    "Hydraulic", "Wireless", "Rechargeable", "Insulated", "Waterproof", "Folding", "Telescopic",
    "Threaded", "Flexible", "Reinforced", "Disposable", "Reusable", "Mini", "Variable-Speed",
    "Low-Profile",
)
_MOD2 = (
    "Steel", "Stainless", "Brass", "Aluminum", "Titanium", "Carbide", "Nylon", "Rubber",
    "Ceramic", "Copper", "Plastic", "Fiberglass", "Cast Iron", "Chrome", "Zinc", "Silicone",
    "Polycarbonate", "Glass", "Carbon", "Bronze", "Leather", "Foam", "Vinyl", "Graphite",
    "Tungsten",
)
_MOD3 = (
    "Professional", "Commercial", "Economy", "Premium", "Standard", "Contractor", "Lab-Grade",
    "Marine", "Automotive", "Medical", "Food-Grade", "Outdoor", "Shop", "Field", "Bench",
    "Utility", "Specialty", "Replacement", "Universal", "OEM",
)
# Largest number of children a node may have at each level (level 0 = roots).
_MAX_BRANCH = (len(_ROOTS), len(_NOUNS), len(_MOD1), len(_MOD2), len(_MOD3))
_MAX_LEVEL = 4  # leaves at level 2..4 -> category paths of 3..5 names

_ADJECTIVES = (
    "Heavy-Duty", "Professional", "Compact", "Premium", "Lightweight", "Ergonomic", "Durable",
    "High-Performance", "Multi-Purpose", "Deluxe", "Rugged", "Classic", "Ultra", "Pro-Series",
    "Quick-Release", "Self-Locking", "Anti-Slip", "Corrosion-Resistant", "Low-Noise", "Smart",
)
_USES = (
    "workshop use", "home repair", "laboratory work", "construction sites",
    "maintenance and repair", "automotive work", "plumbing jobs", "electrical installations",
    "cleaning and janitorial tasks", "metal fabrication", "woodworking", "field service",
)
_SYLLABLES = (
    "ka", "vex", "tor", "lin", "mar", "dyn", "pro", "tek", "ron", "sta", "bel", "cor", "flex",
    "gra", "hel", "jet", "kor", "lum", "nor", "ox", "pax", "quin", "rex", "sol", "tri", "ul",
    "vol", "wex", "xan", "zen", "bra", "cro", "del", "fin", "gal", "har", "ion", "jor", "mil",
    "nex", "or", "pri", "sen", "tal", "ver", "zor",
)
_BRAND_SUFFIXES = (
    "Tools", "Industries", "Inc.", "Co.", "Supply", "Labs", "Corp.", "Electric", "Scientific",
    "Works",
)
_ATTRIBUTES: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("material", ("Steel", "Stainless Steel", "Brass", "Aluminum", "Nylon", "Rubber", "Plastic",
                  "Copper", "Fiberglass", "Ceramic", "Silicone", "Cast Iron")),
    ("color", ("Black", "Red", "Yellow", "Blue", "Orange", "Green", "Gray", "White", "Silver")),
    ("size", ("Small", "Medium", "Large", "X-Large", "1/4 in", "1/2 in", "3/4 in", "1 in", "M6",
              "M8", "10 mm", "25 mm")),
    ("voltage", (3.7, 12, 18, 20, 24, 110, 120, 230, 240)),
    ("pack_size", (1, 2, 4, 6, 10, 12, 25, 50, 100)),
    ("weight_kg", (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.5, 5.0, 10.0)),
)
_KINDS = ("view", "purchase", "review")
_KIND_P = (0.55, 0.30, 0.15)
_RATING_P = (0.06, 0.06, 0.10, 0.22, 0.56)

_T0 = 1420070400  # 2015-01-01T00:00:00Z
_T1 = 1704067200  # 2024-01-01T00:00:00Z

_NON_ALNUM = re.compile(r"[^a-z0-9]")


def normalise_brand(name: str) -> str:
    """The key that all spellings of one synthetic brand share: lower case, alphanumerics only."""
    return _NON_ALNUM.sub("", name.lower())


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Category tree
# --------------------------------------------------------------------------------------------


@dataclass
class _Tree:
    names: list[str]  # node -> display name
    parents: list[int]  # node -> parent node (-1 for roots)
    levels: list[int]  # node -> depth (0 for roots)
    leaves: list[int]  # leaf nodes, in depth-first order
    leaf_paths: list[list[str]]  # leaf index -> names root..leaf
    leaf_nouns: list[str]  # leaf index -> singular noun phrase for titles ("Cordless Drill")
    leaf_root: np.ndarray  # leaf index -> root index
    leaf_anc1: np.ndarray  # leaf index -> index of its level-1 ancestor (in level-1 numbering)
    leaf_anc2: np.ndarray  # leaf index -> index of its level-2 ancestor (in level-2 numbering)
    leaf_path_nodes: list[list[int]]  # leaf index -> node ids root..leaf


def _build_tree(rng: np.random.Generator, n_products: int) -> _Tree:
    n_roots = int(min(len(_ROOTS), max(3, round(math.log2(n_products + 1) / 2.5))))
    target_leaves = max(2 * n_roots, n_products / 20.0)

    names: list[str] = []
    parents: list[int] = []
    levels: list[int] = []
    leaves: list[int] = []
    # Per node: (singular noun, plural noun, modifiers applied so far) to compose child names.
    parts: list[tuple[str, str, tuple[str, ...]]] = []

    def add(name: str, parent: int, level: int, part: tuple[str, str, tuple[str, ...]]) -> int:
        names.append(name)
        parents.append(parent)
        levels.append(level)
        parts.append(part)
        return len(names) - 1

    def min_levels(t: float) -> int:
        cap = 1.0
        for k in range(1, _MAX_LEVEL + 1):
            cap *= _MAX_BRANCH[k] * 0.5
            if k >= 2 and cap >= t:
                return k
        return _MAX_LEVEL

    def child_name(node: int, idx: int) -> tuple[str, tuple[str, str, tuple[str, ...]]]:
        level = levels[node] + 1
        sing, plur, mods = parts[node]
        if level == 1:
            noun = _NOUNS[idx]
            return _plural(noun), (noun, _plural(noun), ())
        word = (_MOD1, _MOD2, _MOD3)[level - 2][idx]
        new_mods = (word,) + mods
        return " ".join(new_mods + (plur,)), (sing, plur, new_mods)

    def grow(node: int, target: float, remaining: int) -> None:
        level = levels[node]
        if level >= 2 and (remaining <= 0 or level >= _MAX_LEVEL or target < 1.5):
            leaves.append(node)
            return
        remaining = max(remaining, 1)
        if level == 1:  # vary the depth between sibling subtrees
            remaining = int(min(_MAX_LEVEL - 1, max(1, remaining + rng.integers(-1, 2))))
            remaining = max(remaining, min_levels(target) - 1)
        max_b = _MAX_BRANCH[level + 1]
        b = int(round(target ** (1.0 / remaining) * rng.uniform(0.75, 1.33)))
        b = int(min(max_b, max(2, b)))
        shares = rng.dirichlet(np.full(b, 2.0)) * target
        for idx, share in zip(rng.choice(max_b, size=b, replace=False), shares):
            name, part = child_name(node, int(idx))
            child = add(name, node, level + 1, part)
            grow(child, float(share), remaining - 1)

    root_shares = rng.dirichlet(np.full(n_roots, 4.0)) * target_leaves
    for idx, share in zip(rng.choice(len(_ROOTS), size=n_roots, replace=False), root_shares):
        root = add(_ROOTS[int(idx)], -1, 0, ("", "", ()))
        k = min_levels(float(share))
        grow(root, float(share), int(min(_MAX_LEVEL, k + rng.integers(0, 2))))

    # Per-leaf derived data.
    level1_index: dict[int, int] = {}
    level2_index: dict[int, int] = {}
    for node, lvl in enumerate(levels):
        if lvl == 1:
            level1_index[node] = len(level1_index)
        elif lvl == 2:
            level2_index[node] = len(level2_index)
    root_index = {node: i for i, node in enumerate(n for n, lv in enumerate(levels) if lv == 0)}
    leaf_paths, leaf_nouns, path_nodes = [], [], []
    leaf_root, leaf_anc1, leaf_anc2 = [], [], []
    for leaf in leaves:
        chain = []
        node = leaf
        while node >= 0:
            chain.append(node)
            node = parents[node]
        chain.reverse()
        path_nodes.append(chain)
        leaf_paths.append([names[n] for n in chain])
        sing, _plur, mods = parts[leaf]
        leaf_nouns.append(" ".join(mods + (sing,)))
        leaf_root.append(root_index[chain[0]])
        leaf_anc1.append(level1_index[chain[1]])
        leaf_anc2.append(level2_index[chain[2]])
    return _Tree(
        names=names, parents=parents, levels=levels, leaves=leaves, leaf_paths=leaf_paths,
        leaf_nouns=leaf_nouns, leaf_root=np.asarray(leaf_root, dtype=np.int64),
        leaf_anc1=np.asarray(leaf_anc1, dtype=np.int64),
        leaf_anc2=np.asarray(leaf_anc2, dtype=np.int64), leaf_path_nodes=path_nodes,
    )


# --------------------------------------------------------------------------------------------
# Brands
# --------------------------------------------------------------------------------------------


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _brand_names(rng: np.random.Generator, n: int) -> list[tuple[str, list[str]]]:
    """``n`` brands with distinct normalised keys: (canonical name, spelling variants)."""
    out: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    n_syl = len(_SYLLABLES)
    # Enough syllables per word that collisions stay rare even for millions of brands.
    max_syl = 3 if n < 20_000 else 4
    while len(out) < n:
        batch = max(64, int((n - len(out)) * 1.3))
        styles = rng.choice(3, size=batch, p=(0.6, 0.2, 0.2))
        n1 = rng.integers(2, max_syl + 1, size=batch)
        n2 = rng.integers(1, 3, size=batch)
        syl = rng.integers(0, n_syl, size=(batch, max_syl + 2))
        suffix = rng.integers(0, len(_BRAND_SUFFIXES), size=batch)
        for i in range(batch):
            style = int(styles[i])
            s = [_SYLLABLES[int(j)] for j in syl[i]]
            if style == 0:  # "Vextron"
                word = s[: n1[i]]
                canon = _cap("".join(word))
                variants = [canon.upper(), canon.lower(), "".join(_cap(w) for w in word)]
            elif style == 1:  # "Vex & Tron"
                a = _cap("".join(s[: n2[i]]))
                b = _cap("".join(s[n2[i]: n2[i] + 2]))
                canon = f"{a} & {b}"
                variants = [f"{a.upper()} & {b.upper()}", f"{a}&{b}", f"{a.upper()}+{b.upper()}",
                            f"{a}-{b}", f"{a} {b}"]
            else:  # "Vextron Tools"
                word = _cap("".join(s[: n1[i]]))
                suf = _BRAND_SUFFIXES[int(suffix[i])]
                canon = f"{word} {suf}"
                variants = [canon.upper(), f"{word}-{suf}", canon.lower(),
                            f"{word} {suf.rstrip('.')}" if suf.endswith(".") else f"{word}{suf}"]
            key = normalise_brand(canon)
            if key in seen:
                continue
            seen.add(key)
            variants = [v for v in dict.fromkeys(variants) if v != canon]
            out.append((canon, variants))
            if len(out) == n:
                break
    return out


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _sample_range(cum: np.ndarray, lo: np.ndarray, hi: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Positions in ``[lo, hi)`` drawn proportionally to the weights whose running sum is ``cum``
    (``cum[0] == 0``, ``len(cum) == n + 1``), one per uniform draw ``r``."""
    a = cum[lo]
    u = a + r * (cum[hi] - a)
    pos = np.searchsorted(cum, u, side="right") - 1
    return np.clip(pos, lo, hi - 1)


def _offsets(values: np.ndarray) -> np.ndarray:
    """Running sum with a leading zero (int64 for counts, float64 for weights)."""
    dtype = np.float64 if np.issubdtype(values.dtype, np.floating) else np.int64
    out = np.zeros(len(values) + 1, dtype=dtype)
    np.cumsum(values, out=out[1:])
    return out


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal ASCII digits of non-negative ints: shape (n, width), uint8."""
    pows = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // pows) % 10 + 48).astype(np.uint8)


_D2 = _digits(np.arange(100), 2)  # "00".."99" as (100, 2) uint8


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (cheaper than np.unique's hashing path for large int arrays)."""
    a = np.sort(a)
    if len(a) == 0:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def _iso_bytes(secs: np.ndarray) -> np.ndarray:
    """Unix seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` as an (n, 20) uint8 array (vectorised)."""
    days, rem = np.divmod(secs.astype(np.int64), 86400)
    # Civil-from-days (H. Hinnant), valid for the proleptic Gregorian calendar.
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    hour, rem = np.divmod(rem, 3600)
    minute, sec = np.divmod(rem, 60)
    out = np.empty((len(secs), 20), dtype=np.uint8)
    out[:, 0:2] = _D2[year // 100]
    out[:, 2:4] = _D2[year % 100]
    out[:, 4] = ord("-")
    out[:, 5:7] = _D2[month]
    out[:, 7] = ord("-")
    out[:, 8:10] = _D2[day]
    out[:, 10] = ord("T")
    out[:, 11:13] = _D2[hour]
    out[:, 13] = ord(":")
    out[:, 14:16] = _D2[minute]
    out[:, 16] = ord(":")
    out[:, 17:19] = _D2[sec]
    out[:, 19] = ord("Z")
    return out


def _id_width(n: int) -> int:
    return max(6, len(str(max(n - 1, 0))))


def _progress(enabled: bool, total: int, desc: str, unit: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm  # imported lazily: only needed for progress bars

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False)


# --------------------------------------------------------------------------------------------
# Catalogue model (arrays shared by product writing and interaction drawing)
# --------------------------------------------------------------------------------------------


@dataclass
class _Catalogue:
    n: int
    tree: _Tree
    leaf: np.ndarray  # product -> leaf index
    brand: np.ndarray  # product -> brand index
    pop: np.ndarray  # product -> popularity weight (> 0)
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


def _make_catalogue(rng: np.random.Generator, n: int, tree: _Tree, n_brands: int) -> _Catalogue:
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
    cum_lw = _offsets(leaf_w)
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
    leaf = _sample_range(cum_lw, lo, hi, r)

    # Item popularity: Zipf-Mandelbrot over a random ranking.
    rank = rng.permutation(n)
    pop = (rank + 10.0) ** -0.85

    leaf_order = np.argsort(leaf, kind="stable")
    leaf_lo = _offsets(np.bincount(leaf, minlength=n_leaves))
    brand_order = np.argsort(brand, kind="stable")
    brand_lo = _offsets(brand_count)
    anc1_lo, anc1_hi = _subtree_ranges(tree.leaf_anc1, leaf_lo)
    anc2_lo, anc2_hi = _subtree_ranges(tree.leaf_anc2, leaf_lo)
    return _Catalogue(
        n=n, tree=tree, leaf=leaf, brand=brand, pop=pop, leaf_order=leaf_order, leaf_lo=leaf_lo,
        cum_leaf=_offsets(pop[leaf_order]), brand_order=brand_order, brand_lo=brand_lo,
        cum_brand=_offsets(pop[brand_order]), cum_global=_offsets(pop),
        anc1_lo=anc1_lo, anc1_hi=anc1_hi, anc2_lo=anc2_lo, anc2_hi=anc2_hi,
    )


# --------------------------------------------------------------------------------------------
# products.jsonl
# --------------------------------------------------------------------------------------------


def _write_products(
    f: IO[str], rng: np.random.Generator, cat: _Catalogue,
    brands: Sequence[tuple[str, list[str]]], pids: list[str], progress: bool,
) -> set[str]:
    n, tree = cat.n, cat.tree
    n_brands = len(brands)
    n_roots = int(tree.leaf_root.max()) + 1

    # Brand spellings: some brands (more often the big ones) have variants in use.
    brand_rank = np.argsort(np.argsort(-np.bincount(cat.brand, minlength=n_brands), kind="stable"))
    p_var = np.where(brand_rank < max(3, 0.05 * n_brands), 0.6, 0.15)
    has_var = rng.random(n_brands) < p_var
    use_var = has_var[cat.brand] & (rng.random(n) < 0.35)
    var_pick = rng.integers(0, 1 << 30, size=n)
    model_prefix = [normalise_brand(c)[:2].upper() for c, _ in brands]

    # Titles, descriptions.
    adj = rng.integers(0, len(_ADJECTIVES), size=n)
    model_num = rng.integers(100, 100_000, size=n)
    model_dash = rng.random(n) < 0.5
    pack = rng.random(n) < 0.1
    pack_n = rng.choice((2, 3, 4, 6, 10, 12, 25), size=n)
    use = rng.integers(0, len(_USES), size=n)
    desc_kind = rng.random(n)  # < 0.1: HTML tags, < 0.2: entities, else plain
    desc_tmpl = rng.integers(0, 3, size=n)

    # Attributes: each root has its own key set; each product shows most of its keys.
    n_keys = len(_ATTRIBUTES)
    root_keys = rng.random((n_roots, n_keys)) < 0.6
    root_keys[np.arange(n_roots), rng.integers(0, n_keys, size=n_roots)] = True
    prod_root = tree.leaf_root[cat.leaf]
    attr_on = root_keys[prod_root] & (rng.random((n, n_keys)) < 0.85)
    attr_val = np.stack(
        [rng.integers(0, len(vals), size=n) for _, vals in _ATTRIBUTES], axis=1
    )

    # Prices: log-normal around a per-leaf level.
    leaf_mu = math.log(30.0) + rng.normal(0.0, 0.8, size=len(tree.leaves))
    price = np.maximum(0.5, np.round(np.exp(leaf_mu[cat.leaf] + rng.normal(0, 0.5, n)), 2))

    # Related (also_bought): mostly same leaf, then same brand, then globally popular items.
    k_rel = np.minimum(rng.poisson(3.0, size=n), 10)
    src = np.repeat(np.arange(n), k_rel)
    m = len(src)
    kind = rng.random(m)
    r = rng.random(m)
    rel = np.empty(m, dtype=np.int64)
    same_leaf = kind < 0.55
    same_brand = (kind >= 0.55) & (kind < 0.8)
    other = kind >= 0.8
    lf = cat.leaf[src[same_leaf]]
    rel[same_leaf] = cat.leaf_order[
        _sample_range(cat.cum_leaf, cat.leaf_lo[lf], cat.leaf_lo[lf + 1], r[same_leaf])
    ]
    br = cat.brand[src[same_brand]]
    rel[same_brand] = cat.brand_order[
        _sample_range(cat.cum_brand, cat.brand_lo[br], cat.brand_lo[br + 1], r[same_brand])
    ]
    k_other = int(other.sum())
    rel[other] = _sample_range(
        cat.cum_global, np.zeros(k_other, np.int64), np.full(k_other, n, np.int64), r[other]
    )
    rel_lo = _offsets(k_rel)

    # Convert once to Python objects; the per-product loop below only formats.
    leaf_l = cat.leaf.tolist()
    brand_l = cat.brand.tolist()
    rel_l = rel.tolist()
    rel_lo_l = rel_lo.tolist()
    attr_on_l = attr_on.tolist()
    attr_val_l = attr_val.tolist()
    price_l = price.tolist()
    use_var_l = use_var.tolist()
    var_pick_l = var_pick.tolist()
    adj_l, num_l, dash_l = adj.tolist(), model_num.tolist(), model_dash.tolist()
    pack_l, pack_n_l = pack.tolist(), pack_n.tolist()
    use_l, dk_l, dt_l = use.tolist(), desc_kind.tolist(), desc_tmpl.tolist()
    attr_names = [k for k, _ in _ATTRIBUTES]
    attr_vals = [v for _, v in _ATTRIBUTES]
    spellings: set[str] = set()

    bar = _progress(progress, n, "products", "prod")
    chunk = 20_000
    dumps = json.dumps
    for start in range(0, n, chunk):
        lines = []
        for i in range(start, min(n, start + chunk)):
            b = brand_l[i]
            canon, variants = brands[b]
            bname = variants[var_pick_l[i] % len(variants)] if use_var_l[i] else canon
            spellings.add(bname)
            lf = leaf_l[i]
            noun = tree.leaf_nouns[lf]
            a = _ADJECTIVES[adj_l[i]]
            model = f"{model_prefix[b]}{'-' if dash_l[i] else ''}{num_l[i]}"
            title = f"{bname} {a} {noun} {model}"
            if pack_l[i]:
                title += f", Pack of {pack_n_l[i]}"
            attrs = {}
            on, val = attr_on_l[i], attr_val_l[i]
            for k in range(n_keys):
                if on[k]:
                    attrs[attr_names[k]] = attr_vals[k][val[k]]
            material = attrs.get("material", "steel")
            use_s = _USES[use_l[i]]
            t = dt_l[i]
            if t == 0:
                desc = f"{a} {noun.lower()} from {bname} for {use_s}."
            elif t == 1:
                desc = f"{bname} {noun.lower()} made of {str(material).lower()}, built for {use_s}."
            else:
                desc = f"A {a.lower()} {noun.lower()} ({model}) for {use_s}. Made of {material}."
            dk = dk_l[i]
            if dk < 0.1:
                desc = f"<p>{desc}</p><br/><b>Model:</b> {model}"
            elif dk < 0.2:
                desc = desc.replace(" and ", " &amp; ") + " Size: 1/2&quot; &ndash; fits most."
            obj: dict[str, Any] = {
                "id": pids[i], "title": title, "description": desc, "brand": bname,
                "category_path": tree.leaf_paths[lf],
            }
            if attrs:
                obj["attributes"] = attrs
            obj["price"] = price_l[i]
            rl = rel_l[rel_lo_l[i]: rel_lo_l[i + 1]]
            if rl:
                also = [pids[j] for j in dict.fromkeys(rl) if j != i]
                if also:
                    obj["related"] = {"also_bought": also}
            lines.append(dumps(obj))
        lines.append("")
        f.write("\n".join(lines))
        if bar is not None:
            bar.update(len(lines) - 1)
    if bar is not None:
        bar.close()
    return spellings


# --------------------------------------------------------------------------------------------
# interactions.csv
# --------------------------------------------------------------------------------------------


def _draw_items(
    rng: np.random.Generator, cat: _Catalogue, users: np.ndarray, fav_lo: np.ndarray,
    fav_hi: np.ndarray, n_fav: np.ndarray, fb_lo: np.ndarray, fb_hi: np.ndarray,
    n_fb: np.ndarray, p_cat: np.ndarray, p_brand: np.ndarray, global_only: bool,
) -> np.ndarray:
    """One item per entry of ``users`` (local user indices of the chunk)."""
    m = len(users)
    r = rng.random(m)
    pick = rng.random(m)
    sel = rng.random(m)
    items = np.empty(m, dtype=np.int64)
    if global_only:
        src = np.full(m, 2)
    else:
        src = np.where(sel < p_cat[users], 0, np.where(sel < p_cat[users] + p_brand[users], 1, 2))
    s0 = src == 0
    if s0.any():
        u = users[s0]
        j = (pick[s0] ** 2 * n_fav[u]).astype(np.int64)  # the first favourite dominates
        pos = _sample_range(cat.cum_leaf, fav_lo[u, j], fav_hi[u, j], r[s0])
        items[s0] = cat.leaf_order[pos]
    s1 = src == 1
    if s1.any():
        u = users[s1]
        j = (pick[s1] * n_fb[u]).astype(np.int64)
        pos = _sample_range(cat.cum_brand, fb_lo[u, j], fb_hi[u, j], r[s1])
        items[s1] = cat.brand_order[pos]
    s2 = src == 2
    if s2.any():
        k = int(s2.sum())
        items[s2] = _sample_range(
            cat.cum_global, np.zeros(k, np.int64), np.full(k, cat.n, np.int64), r[s2]
        )
    return items


def _interaction_chunk(
    rng: np.random.Generator, cat: _Catalogue, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the interactions of one block of users: (local user index, item) sorted by user,
    no repeated pair, in random order within each user."""
    nu = len(counts)
    n = cat.n
    # Favourite categories: subtrees (level 1 or 2) around products drawn by popularity.
    max_fav, max_fb = 3, 2
    anchors = _sample_range(
        cat.cum_global, np.zeros(nu * max_fav, np.int64), np.full(nu * max_fav, n, np.int64),
        rng.random(nu * max_fav),
    )
    a_leaf = cat.leaf[anchors]
    deep = rng.random(nu * max_fav) < 0.5
    fav_lo = np.where(deep, cat.anc2_lo[a_leaf], cat.anc1_lo[a_leaf]).reshape(nu, max_fav)
    fav_hi = np.where(deep, cat.anc2_hi[a_leaf], cat.anc1_hi[a_leaf]).reshape(nu, max_fav)
    n_fav = rng.choice((1, 2, 3), size=nu, p=(0.45, 0.35, 0.2))
    anchors = _sample_range(
        cat.cum_global, np.zeros(nu * max_fb, np.int64), np.full(nu * max_fb, n, np.int64),
        rng.random(nu * max_fb),
    )
    a_brand = cat.brand[anchors]
    fb_lo = cat.brand_lo[a_brand].reshape(nu, max_fb)
    fb_hi = cat.brand_lo[a_brand + 1].reshape(nu, max_fb)
    n_fb = rng.choice((1, 2), size=nu, p=(0.6, 0.4))
    p_cat = rng.uniform(0.6, 0.9, size=nu)
    p_brand = (1.0 - p_cat) * 0.6

    args = (fav_lo, fav_hi, n_fav, fb_lo, fb_hi, n_fb, p_cat, p_brand)
    users = np.repeat(np.arange(nu, dtype=np.int64), counts)
    keys = _unique(users * n + _draw_items(rng, cat, users, *args, global_only=False))
    # Re-draw repeated (user, item) pairs a few times; drop whatever still collides.
    for attempt in range(4):
        have = np.bincount(keys // n, minlength=nu)
        deficit = counts - have
        if not deficit.any():
            break
        users = np.repeat(np.arange(nu, dtype=np.int64), deficit)
        more = _draw_items(rng, cat, users, *args, global_only=attempt == 3)
        keys = _unique(np.concatenate([keys, users * n + more]))
    u = keys // n
    items = keys % n
    # Shuffle within each user so item ids do not rise with time.
    order = np.lexsort((rng.random(len(keys)), u))
    return u[order], items[order]


def _write_interactions(
    f: IO[bytes], rng_seq: np.random.SeedSequence, cat: _Catalogue, counts: np.ndarray,
    progress: bool, chunk_target: int = 1_000_000,
) -> int:
    n_users = len(counts)
    uw, pw = _id_width(n_users), _id_width(cat.n)
    f.write((INTERACTIONS_HEADER + "\n").encode("ascii"))
    # Split users into blocks of about chunk_target interactions.
    cum = np.cumsum(counts)
    bounds = np.unique(np.searchsorted(cum, np.arange(chunk_target, int(cum[-1]), chunk_target)))
    starts = np.concatenate([[0], bounds + 1])
    starts = starts[starts < n_users]
    ends = np.concatenate([starts[1:], [n_users]])
    seqs = rng_seq.spawn(len(starts))
    item_digits = _digits(np.arange(cat.n, dtype=np.int64), pw)

    kind_tab = np.zeros((len(_KINDS), 1 + max(len(k) for k in _KINDS) + 1), dtype=np.uint8)
    for i, k in enumerate(_KINDS):
        enc = ("," + k + "\n").encode("ascii")
        kind_tab[i, : len(enc)] = np.frombuffer(enc, dtype=np.uint8)
    rating_cdf = np.cumsum(_RATING_P)
    kind_cdf = np.cumsum(_KIND_P)
    span = _T1 - _T0

    bar = _progress(progress, int(cum[-1]), "interactions", "row")
    total = 0
    for s, e, seq in zip(starts.tolist(), ends.tolist(), seqs):
        rng = np.random.Generator(np.random.PCG64(seq))
        cnt = counts[s:e]
        u, items = _interaction_chunk(rng, cat, cnt)
        m = len(u)
        per_user = np.bincount(u, minlength=e - s)
        first = _offsets(per_user)[:-1]
        # Timestamps: exponential gaps with a per-user pace, squeezed into [T0, T1).
        pace = rng.lognormal(math.log(20 * 86400), 1.0, size=e - s)
        gaps = np.maximum(1, np.floor(rng.exponential(1.0, size=m) * pace[u])).astype(np.int64)
        gaps[first[per_user > 0]] = 0
        off = np.cumsum(gaps)
        off -= np.repeat(off[first], per_user)
        user_span = off[first + per_user - 1]
        too_long = user_span > span - 1
        if too_long.any():
            scale = np.where(too_long, (span - 1) / np.maximum(user_span, 1), 1.0)
            gaps = np.maximum(1, np.floor(gaps * scale[u])).astype(np.int64)
            gaps[first[per_user > 0]] = 0
            off = np.cumsum(gaps)
            off -= np.repeat(off[first], per_user)
            user_span = off[first + per_user - 1]
        start = _T0 + np.floor(rng.random(e - s) * np.maximum(0, span - user_span)).astype(np.int64)
        ts = start[u] + off
        rating = np.searchsorted(rating_cdf, rng.random(m) * rating_cdf[-1], side="right") + 1
        kind = np.searchsorted(kind_cdf, rng.random(m) * kind_cdf[-1], side="right")

        # Assemble fixed-width rows; the zero padding after the kind is dropped at the end.
        w_fixed = 1 + uw + 2 + pw + 1 + 20 + 1 + 1
        rows = np.zeros((m, w_fixed + kind_tab.shape[1]), dtype=np.uint8)
        c = 0
        rows[:, c] = ord("U")
        rows[:, c + 1: c + 1 + uw] = _digits(np.arange(s, e, dtype=np.int64), uw)[u]
        c += 1 + uw
        rows[:, c] = ord(",")
        rows[:, c + 1] = ord("P")
        rows[:, c + 2: c + 2 + pw] = item_digits[items]
        c += 2 + pw
        rows[:, c] = ord(",")
        rows[:, c + 1: c + 21] = _iso_bytes(ts)
        c += 21
        rows[:, c] = ord(",")
        rows[:, c + 1] = 48 + rating
        c += 2
        rows[:, c:] = kind_tab[kind]
        f.write(rows[rows != 0].tobytes())
        total += m
        if bar is not None:
            bar.update(int(cnt.sum()))
    if bar is not None:
        bar.close()
    return total


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


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

    For scale benchmarks only -- see the module docstring. ``n_users`` defaults to the number
    that gives a median of about 5 interactions per user; the total is about
    ``n_products * interactions_per_product`` (every user has at least one interaction, and a
    user never has more interactions than there are products). Existing files of the same names
    are replaced only once both new files are complete.
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
    tree = _build_tree(rng, n_products)
    n_brands = min(n_products, max(3, round(n_products / 30)))
    brands = _brand_names(rng, n_brands)
    cat = _make_catalogue(rng, n_products, tree, n_brands)
    pw = _id_width(n_products)
    pids = [f"P{i:0{pw}d}" for i in range(n_products)]

    # Users: log-normal interaction counts, median about 5 when n_users is left to us.
    target = max(1, round(n_products * ipp))
    sigma = 0.9
    urng = np.random.Generator(np.random.PCG64(seq_users))
    if n_users is None:
        mean_count = 5.0 * math.exp(sigma * sigma / 2)
        n_users = max(1, round(target / mean_count))
    raw = urng.lognormal(0.0, sigma, size=n_users)
    raw *= target / raw.sum()
    counts = np.floor(raw + urng.random(n_users)).astype(np.int64)
    counts = np.clip(counts, 1, min(n_products, 5000))

    products_path = out_dir / PRODUCTS_FILE
    interactions_path = out_dir / INTERACTIONS_FILE
    tmp_paths: list[str] = []
    try:
        fd, tmp_products = tempfile.mkstemp(prefix=f".{PRODUCTS_FILE}.", suffix=".tmp",
                                            dir=out_dir)
        tmp_paths.append(tmp_products)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            spellings = _write_products(f, rng, cat, brands, pids, progress)
        fd, tmp_inter = tempfile.mkstemp(prefix=f".{INTERACTIONS_FILE}.", suffix=".tmp",
                                         dir=out_dir)
        tmp_paths.append(tmp_inter)
        with os.fdopen(fd, "wb") as fb:
            n_inter = _write_interactions(fb, seq_inter, cat, counts, progress)
        for tmp in tmp_paths:
            os.chmod(tmp, 0o644)
        os.replace(tmp_products, products_path)
        os.replace(tmp_inter, interactions_path)
        tmp_paths.clear()
    finally:
        for tmp in tmp_paths:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass

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
        products_path=products_path,
        interactions_path=interactions_path,
        seed=seed,
    )

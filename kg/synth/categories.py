"""The random category tree of the synthetic catalogue ("Hand Tools > Drills > Cordless Drills")."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .names import MOD1, MOD2, MOD3, NOUNS, ROOTS, plural

# Largest number of children a node may have at each level (level 0 = roots).
_MAX_BRANCH = (len(ROOTS), len(NOUNS), len(MOD1), len(MOD2), len(MOD3))
_MAX_LEVEL = 4  # leaves at level 2..4 -> category paths of 3..5 names


@dataclass
class CategoryTree:
    """The leaves of the tree, in depth-first order, and what products need to know about them."""

    leaves: list[int]  # leaf nodes, in depth-first order
    leaf_paths: list[list[str]]  # leaf index -> names root..leaf
    leaf_nouns: list[str]  # leaf index -> singular noun phrase for titles ("Cordless Drill")
    leaf_root: np.ndarray  # leaf index -> root index
    leaf_anc1: np.ndarray  # leaf index -> index of its level-1 ancestor (in level-1 numbering)
    leaf_anc2: np.ndarray  # leaf index -> index of its level-2 ancestor (in level-2 numbering)
    leaf_path_nodes: list[list[int]]  # leaf index -> node ids root..leaf


def build_tree(rng: np.random.Generator, n_products: int) -> CategoryTree:
    """A tree with a few roots and about one leaf per 20 products, at depth 2 to 4.

    Args:
        rng: the products' random generator (advanced here).
        n_products: catalogue size, which sets the number of roots and leaves.

    Returns:
        The tree's leaves with their paths, title nouns and level-0/1/2 ancestors.
    """
    n_roots = int(min(len(ROOTS), max(3, round(math.log2(n_products + 1) / 2.5))))
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
            noun = NOUNS[idx]
            return plural(noun), (noun, plural(noun), ())
        word = (MOD1, MOD2, MOD3)[level - 2][idx]
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
    for idx, share in zip(rng.choice(len(ROOTS), size=n_roots, replace=False), root_shares):
        root = add(ROOTS[int(idx)], -1, 0, ("", "", ()))
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
    return CategoryTree(
        leaves=leaves, leaf_paths=leaf_paths, leaf_nouns=leaf_nouns,
        leaf_root=np.asarray(leaf_root, dtype=np.int64),
        leaf_anc1=np.asarray(leaf_anc1, dtype=np.int64),
        leaf_anc2=np.asarray(leaf_anc2, dtype=np.int64), leaf_path_nodes=path_nodes,
    )

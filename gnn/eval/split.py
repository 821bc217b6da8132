"""The cold-start evaluation split of DESIGN.md §4 (ALDI / ColdRec protocol), fixed by a seed.

Protocol, in order (`make_split`):

1. Duplicate (user, item) pairs are merged (one row per pair; the count is kept).
2. ``cold_share`` (20 %) of the items that have interactions become cold: all their rows leave
   training. The cold items are split 1:1 into validation items and test items, and each cold
   item keeps all its rows in its part.
3. The rows of the other (warm) items are shuffled and split 80/10/10 into train/val/test.
4. A warm validation or test row whose user or item has no training row moves to training
   (one pass over the rows, against the training set of step 3).
5. A cold validation or test row whose user has no training row (after step 4) is dropped from
   evaluation; ``Part.dropped`` counts them.

Warm items are the items with at least one training row; items without any interaction are
neither warm nor cold (they stay candidates of the "overall" ranking only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kg.schema import PRODUCT, USER
from kg.snapshot import GraphSnapshot


def binary_matrix(users, items, n_users: int, n_items: int) -> sp.csr_matrix:
    """Binary float32 CSR [n_users, n_items] of (user, item) rows, repeated rows counted once."""
    data = np.ones(len(users), dtype=np.float32)
    matrix = sp.csr_matrix((data, (users, items)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # binary even when rows repeat (e.g. a manual split)
    return matrix


@dataclass(frozen=True, eq=False)
class Part:
    """The rows of one part (train, val or test) of a split.

    Attributes:
        users: int64 [n] internal user indices.
        items: int64 [n] internal item (Product) indices.
        is_cold: bool [n] whether the row's item is a cold item of this part.
        cold_items: int64 [c] sorted cold items of this part (empty for train).
        dropped: cold rows left out because their user has no training row.
    """

    users: np.ndarray
    items: np.ndarray
    is_cold: np.ndarray
    cold_items: np.ndarray
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.users)

    def matrix(self, n_users: int, n_items: int, rows: np.ndarray | None = None) -> sp.csr_matrix:
        """Binary float32 CSR [n_users, n_items] of this part's rows (all, or a bool row mask)."""
        users, items = self.users, self.items
        if rows is not None:
            users, items = users[rows], items[rows]
        return binary_matrix(users, items, n_users, n_items)


@dataclass(frozen=True, eq=False)
class Split:
    """A train/val/test split of the user-item interactions in internal indices.

    Attributes:
        n_users: Users of the snapshot (rows of every matrix).
        n_items: Items (Products) of the snapshot (columns of every matrix).
        train: Training rows (``is_cold`` all False).
        val: Validation rows: warm rows plus the rows of the validation cold items.
        test: Test rows: warm rows plus the rows of the test cold items.
        warm_items: int64 sorted items with at least one training row.
        seed: Seed of the random choices.
        cold_share: Share of the items with interactions that were made cold.
        duplicates: Duplicate (user, item) rows merged before splitting.
        moved_to_train: Warm val/test rows moved to training (user or item unseen in training).
    """

    n_users: int
    n_items: int
    train: Part
    val: Part
    test: Part
    warm_items: np.ndarray
    seed: int = 0
    cold_share: float = 0.2
    duplicates: int = 0
    moved_to_train: int = 0

    def part(self, name: str) -> Part:
        """The part called ``train``, ``val`` or ``test``."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown part {name!r}: expected 'train', 'val' or 'test'")
        return getattr(self, name)

    def train_matrix(self) -> sp.csr_matrix:
        """Binary float32 CSR [n_users, n_items] of the training rows."""
        return self.train.matrix(self.n_users, self.n_items)

    def warm_mask(self) -> np.ndarray:
        """bool [n_items]: True for the warm items."""
        mask = np.zeros(self.n_items, dtype=bool)
        mask[self.warm_items] = True
        return mask

    def summary(self) -> dict:
        """Sizes of the split as a JSON-serialisable dict."""
        out = {
            "seed": self.seed,
            "cold_share": self.cold_share,
            "users": self.n_users,
            "items": self.n_items,
            "warm_items": len(self.warm_items),
            "duplicates_merged": self.duplicates,
            "moved_to_train": self.moved_to_train,
            "train_rows": len(self.train),
            "train_users": int(np.unique(self.train.users).size),
        }
        for name in ("val", "test"):
            part = self.part(name)
            out[f"{name}_cold_items"] = len(part.cold_items)
            out[f"{name}_rows"] = len(part)
            out[f"{name}_cold_rows"] = int(part.is_cold.sum())
            out[f"{name}_warm_rows"] = int((~part.is_cold).sum())
            out[f"{name}_cold_rows_dropped"] = part.dropped
        return out


def _part(users, items, is_cold, cold_items, dropped=0) -> Part:
    return Part(
        users=np.asarray(users, dtype=np.int64),
        items=np.asarray(items, dtype=np.int64),
        is_cold=np.asarray(is_cold, dtype=bool),
        cold_items=np.sort(np.asarray(cold_items, dtype=np.int64)),
        dropped=int(dropped),
    )


def make_split(
    users: np.ndarray,
    items: np.ndarray,
    n_users: int,
    n_items: int,
    *,
    cold_share: float = 0.2,
    val_share: float = 0.1,
    test_share: float = 0.1,
    seed: int = 0,
) -> Split:
    """Split interactions by the protocol in this module's docstring.

    Args:
        users: int [E] internal user index of each interaction.
        items: int [E] internal item index of each interaction.
        n_users: Number of users (indices must be below it).
        n_items: Number of items (indices must be below it).
        cold_share: Share of the items with interactions that become cold (default: 0.2).
        val_share: Share of the warm rows drawn for validation (default: 0.1).
        test_share: Share of the warm rows drawn for test (default: 0.1).
        seed: Seed of every random choice (default: 0).

    Returns:
        The Split; equal inputs and seed give an equal split, whatever the row order.

    Raises:
        ValueError: For arrays of different lengths, indices out of range or bad shares.
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if users.shape != items.shape or users.ndim != 1:
        raise ValueError(
            f"users and items must be 1-d of one length, got {users.shape} and {items.shape}"
        )
    out_of_range = len(users) and (
        users.min() < 0 or users.max() >= n_users or items.min() < 0 or items.max() >= n_items
    )
    if out_of_range:
        raise ValueError(f"indices out of range for {n_users} users and {n_items} items")
    if not (0 <= cold_share < 1 and min(val_share, test_share) >= 0 and val_share + test_share < 1):
        raise ValueError(f"bad shares: cold {cold_share}, val {val_share}, test {test_share}")
    rng = np.random.default_rng(seed)

    keys = np.unique(users * n_items + items)  # sorted: independent of the input order
    duplicates = len(users) - len(keys)
    users, items = keys // n_items, keys % n_items

    seen_items = np.unique(items)
    cold = rng.permutation(seen_items)[: int(round(cold_share * len(seen_items)))]
    val_cold, test_cold = cold[: len(cold) // 2], cold[len(cold) // 2 :]
    part_of_item = np.zeros(n_items, dtype=np.int8)  # 0 warm, 1 val cold, 2 test cold
    part_of_item[val_cold], part_of_item[test_cold] = 1, 2
    row_part = part_of_item[items]

    warm_rows = rng.permutation(np.flatnonzero(row_part == 0))
    n_val, n_test = int(round(val_share * len(warm_rows))), int(round(test_share * len(warm_rows)))
    val_rows, test_rows = warm_rows[:n_val], warm_rows[n_val : n_val + n_test]
    train_rows = warm_rows[n_val + n_test :]

    in_train_user = np.zeros(n_users, dtype=bool)
    in_train_item = np.zeros(n_items, dtype=bool)
    in_train_user[users[train_rows]] = True
    in_train_item[items[train_rows]] = True
    moved = []
    kept = {}
    for name, rows in (("val", val_rows), ("test", test_rows)):
        ok = in_train_user[users[rows]] & in_train_item[items[rows]]
        kept[name] = np.sort(rows[ok])
        moved.append(rows[~ok])
    train_rows = np.sort(np.concatenate([train_rows, *moved]))
    in_train_user[users[train_rows]] = True

    parts = {}
    for name, code, cold_items in (("val", 1, val_cold), ("test", 2, test_cold)):
        cold_rows = np.flatnonzero(row_part == code)
        has_user = in_train_user[users[cold_rows]]
        rows = np.concatenate([kept[name], cold_rows[has_user]])
        is_cold = np.r_[np.zeros(len(kept[name]), bool), np.ones(int(has_user.sum()), bool)]
        parts[name] = _part(users[rows], items[rows], is_cold, cold_items, (~has_user).sum())
    train = _part(users[train_rows], items[train_rows], np.zeros(len(train_rows), bool), [])
    return Split(
        n_users=n_users,
        n_items=n_items,
        train=train,
        val=parts["val"],
        test=parts["test"],
        warm_items=np.unique(train.items),
        seed=seed,
        cold_share=cold_share,
        duplicates=int(duplicates),
        moved_to_train=int(sum(len(m) for m in moved)),
    )


def split_snapshot(snapshot: GraphSnapshot, **options) -> Split:
    """`make_split` over the INTERACTED edges of a snapshot (User → Product indices).

    Args:
        snapshot: The graph snapshot.
        **options: Passed to `make_split` (``cold_share``, ``val_share``, ``test_share``, ``seed``).
    """
    edges = snapshot.edges["INTERACTED"]
    return make_split(
        edges[0], edges[1], snapshot.num_nodes(USER), snapshot.num_nodes(PRODUCT), **options
    )


def manual_split(
    n_users: int,
    n_items: int,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    val_cold_items=(),
    test_cold_items=(),
) -> Split:
    """A Split from given rows (tests, outside splits): rows of the cold items are the cold rows.

    Args:
        n_users: Number of users.
        n_items: Number of items.
        train: (users, items) int arrays of the training rows.
        val: (users, items) of the validation rows.
        test: (users, items) of the test rows.
        val_cold_items: Cold items of the validation part.
        test_cold_items: Cold items of the test part.
    """
    parts = {}
    for name, (u, i), cold in (("val", val, val_cold_items), ("test", test, test_cold_items)):
        i = np.asarray(i, dtype=np.int64)
        parts[name] = _part(u, i, np.isin(i, np.asarray(cold, dtype=np.int64)), cold)
    tr = _part(train[0], train[1], np.zeros(len(train[0]), bool), [])
    return Split(n_users, n_items, tr, parts["val"], parts["test"], np.unique(tr.items))

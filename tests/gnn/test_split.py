"""The cold-start split: invariants on a synthetic matrix, determinism, move/drop rules, export."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from gnn.eval.split import make_split, manual_split

N_USERS, N_ITEMS = 80, 60


@pytest.fixture(scope="module")
def rows():
    """A random sparse matrix (with duplicate rows) plus 15 users that have one interaction each."""
    rng = np.random.default_rng(7)
    dense = rng.random((N_USERS - 15, N_ITEMS)) < 0.15
    users, items = np.nonzero(dense)
    singles_u = np.arange(N_USERS - 15, N_USERS)
    singles_i = rng.integers(0, N_ITEMS, 15)
    users = np.r_[users, singles_u, users[:10]]  # 10 duplicates
    items = np.r_[items, singles_i, items[:10]]
    return users, items


def pairs(users, items):
    return set(zip(users.tolist(), items.tolist()))


def test_cold_items_never_train_and_parts_are_disjoint(rows):
    split = make_split(*rows, N_USERS, N_ITEMS, seed=3)
    seen = np.unique(rows[1])
    val_cold, test_cold = set(split.val.cold_items.tolist()), set(split.test.cold_items.tolist())
    assert not val_cold & test_cold
    assert len(val_cold) + len(test_cold) == round(0.2 * len(seen))
    assert abs(len(val_cold) - len(test_cold)) <= 1
    assert not set(split.train.items.tolist()) & (val_cold | test_cold)
    assert set(split.warm_items.tolist()) == set(split.train.items.tolist())
    for part, cold in ((split.val, val_cold), (split.test, test_cold)):
        assert set(part.items[part.is_cold].tolist()) <= cold
        assert not set(part.items[~part.is_cold].tolist()) & (val_cold | test_cold)
        # every evaluated row has a user with training rows; warm rows also a trained item
        assert np.isin(part.users, split.train.users).all()
        assert np.isin(part.items[~part.is_cold], split.train.items).all()


def test_no_row_is_lost_and_sizes_add_up(rows):
    split = make_split(*rows, N_USERS, N_ITEMS, seed=3)
    unique = pairs(*rows)
    assert split.duplicates == 10
    parts = [pairs(p.users, p.items) for p in (split.train, split.val, split.test)]
    assert sum(len(p) for p in parts) + split.val.dropped + split.test.dropped == len(unique)
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set().union(*parts) <= unique
    # every row of a cold item is in its part unless its user has no training row
    for part in (split.val, split.test):
        cold_rows = {(u, i) for u, i in unique if i in set(part.cold_items.tolist())}
        assert len(cold_rows) == int(part.is_cold.sum()) + part.dropped
    summary = split.summary()
    assert summary["train_rows"] == len(split.train) and summary["duplicates_merged"] == 10
    assert summary["val_cold_rows_dropped"] == split.val.dropped
    json.dumps(summary)


def test_warm_rows_split_80_10_10_before_moves(rows):
    split = make_split(*rows, N_USERS, N_ITEMS, seed=3)
    warm_eval = int((~split.val.is_cold).sum()) + int((~split.test.is_cold).sum())
    warm_total = len(split.train) + warm_eval
    assert split.moved_to_train > 0
    assert warm_eval + split.moved_to_train == 2 * round(0.1 * warm_total)


def test_single_interaction_users_are_trained_or_dropped(rows):
    """Move rule: a user whose only row was drawn for val/test has no training row: it moves."""
    split = make_split(*rows, N_USERS, N_ITEMS, seed=3)
    cold = set(split.val.cold_items.tolist()) | set(split.test.cold_items.tolist())
    for user, item in zip(rows[0][-25:-10].tolist(), rows[1][-25:-10].tolist()):
        if item in cold:  # its user can have no training row: dropped from evaluation
            assert user not in split.val.users and user not in split.test.users
        else:
            assert (user, item) in pairs(split.train.users, split.train.items)


def test_same_seed_same_split_whatever_the_row_order(rows):
    a = make_split(*rows, N_USERS, N_ITEMS, seed=11)
    order = np.random.default_rng(0).permutation(len(rows[0]))
    b = make_split(rows[0][order], rows[1][order], N_USERS, N_ITEMS, seed=11)
    for name in ("train", "val", "test"):
        pa, pb = a.part(name), b.part(name)
        assert np.array_equal(pa.users, pb.users) and np.array_equal(pa.items, pb.items)
        assert np.array_equal(pa.cold_items, pb.cold_items)
    c = make_split(*rows, N_USERS, N_ITEMS, seed=12)
    assert not np.array_equal(a.test.cold_items, c.test.cold_items)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="out of range"):
        make_split(np.array([0, 5]), np.array([0, 1]), 5, 2)
    with pytest.raises(ValueError, match="one length"):
        make_split(np.array([0]), np.array([0, 1]), 5, 2)


def test_manual_split_marks_cold_rows():
    split = manual_split(3, 4, ([0, 1], [0, 1]), ([0], [2]), ([1, 2], [3, 1]), test_cold_items=[3])
    assert split.test.is_cold.tolist() == [True, False]
    assert split.warm_items.tolist() == [0, 1]


def test_export_writes_rows_maps_features_and_readme(tmp_path, toy_dir):
    from gnn.eval.export import export_split
    from gnn.eval.split import split_snapshot
    from kg.ingest import load_dir
    from kg.snapshot import export_snapshot
    from kg.store_nx import NetworkxStore

    store = NetworkxStore(None)
    load_dir(store, toy_dir)
    snap = export_snapshot(store)
    split = split_snapshot(snap, seed=0, cold_share=0.4)
    features = np.random.default_rng(0).random((snap.num_nodes("Product"), 8)).astype(np.float32)
    out = export_split(split, snap, features, tmp_path / "split")
    assert {p.name for p in out.iterdir()} == {
        "train.csv", "val.csv", "test.csv", "user_ids.csv", "item_ids.csv", "item_text.npy",
        "split.json", "README.txt",
    }
    total = 0
    for name in ("train", "val", "test"):
        with open(out / f"{name}.csv") as fh:
            rows_ = list(csv.DictReader(fh))
        total += len(rows_)
        for row in rows_:
            assert snap.node_ids["User"][int(row["user_idx"])] == row["user_id"]
            assert snap.node_ids["Product"][int(row["item_idx"])] == row["item_id"]
            assert row["is_cold"] in ("0", "1")
    summary = json.loads((out / "split.json").read_text())
    assert total == summary["train_rows"] + summary["val_rows"] + summary["test_rows"]
    assert np.array_equal(np.load(out / "item_text.npy"), features)
    with open(out / "item_ids.csv") as fh:
        groups = {r["item_id"]: r["group"] for r in csv.DictReader(fh)}
    n_cold = len(split.val.cold_items) + len(split.test.cold_items)
    assert sum(g.startswith("cold") for g in groups.values()) == n_cold
    assert "is_cold" in (out / "README.txt").read_text()
    with pytest.raises(ValueError, match="features"):
        export_split(split, snap, features[:2], tmp_path / "bad")

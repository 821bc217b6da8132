"""Writes a Split to plain files (CSV, JSON, .npy) so outside cold-start code runs on exactly it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from gnn.eval.split import Split
from kg.schema import PRODUCT, USER
from kg.snapshot import GraphSnapshot

README = """\
kgrec evaluation split (DESIGN.md section 4, the ALDI / ColdRec cold-start protocol)
===================================================================================
Data fingerprint: {fingerprint}    seed: {seed}    cold share of items: {cold_share}

Protocol: duplicate (user, item) pairs merged; {cold_pct:g}% of the items with interactions are
cold (every row of a cold item is in val or test, never in train); the cold items are split 1:1
into validation items and test items; warm rows split 80/10/10 into train/val/test; a warm
val/test row whose user or item has no training row was moved to train; a cold val/test row
whose user has no training row was dropped (counts in split.json).

Files
-----
train.csv, val.csv, test.csv
    One interaction per line: user_id,item_id,user_idx,item_idx,is_cold
    user_id / item_id are the data set's external ids; user_idx / item_idx are 0-based row
    indices into user_ids.csv / item_ids.csv and item_text.npy; is_cold is 1 for a row of a
    cold item of that part, else 0 (always 0 in train.csv).
user_ids.csv
    user_idx,user_id for every user of the data set (users without rows included).
item_ids.csv
    item_idx,item_id,group for every item; group is warm (has training rows), cold_val,
    cold_test, or none (no interaction at all).
item_text.npy
    float32 [{n_items}, {dim}]: the language model's text vector of each item, row = item_idx
    (unit rows; a zero row for an item without text). Load with numpy.load(path).
split.json
    The split's sizes (rows per part, cold items, moved and dropped rows) and the seed.

Evaluation used by kgrec: full ranking; training positives excluded (and for test, validation
positives too); Recall@k = hits@k / |the user's test items|, NDCG@k with the ideal DCG over
min(|test items|, k); "overall" ranks all items, "cold" only the part's cold items (targets: its
cold rows), "warm" only warm items (targets: its warm rows).
"""


def _write_rows(path: Path, snapshot: GraphSnapshot, users, items, is_cold) -> None:
    user_ids, item_ids = snapshot.node_ids[USER], snapshot.node_ids[PRODUCT]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["user_id", "item_id", "user_idx", "item_idx", "is_cold"])
        out.writerows(
            (user_ids[u], item_ids[i], u, i, int(c))
            for u, i, c in zip(users.tolist(), items.tolist(), is_cold.tolist())
        )


def export_split(
    split: Split, snapshot: GraphSnapshot, item_text_features: np.ndarray, out_dir: str | Path
) -> Path:
    """Write the split's rows, id maps, item text vectors and a README.txt into ``out_dir``.

    Args:
        split: The split (indices into ``snapshot``'s User and Product ids).
        snapshot: The snapshot the split was made from.
        item_text_features: float [n_items, dim] text vectors in Product index order.
        out_dir: Folder to write to (created; files of the same names are replaced).

    Returns:
        The folder.

    Raises:
        ValueError: When the sizes of the split, snapshot and features disagree.
    """
    user_ids, item_ids = snapshot.node_ids[USER], snapshot.node_ids[PRODUCT]
    features = np.asarray(item_text_features, dtype=np.float32)
    sizes = (len(user_ids), len(item_ids), len(features))
    if sizes != (split.n_users, split.n_items, split.n_items):
        raise ValueError(
            f"split has {split.n_users} users and {split.n_items} items, the snapshot "
            f"{len(user_ids)} and {len(item_ids)}, the features {len(features)} rows"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("train", "val", "test"):
        part = split.part(name)
        _write_rows(out / f"{name}.csv", snapshot, part.users, part.items, part.is_cold)

    with open(out / "user_ids.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["user_idx", "user_id"])
        writer.writerows(enumerate(user_ids))
    group = np.full(split.n_items, "none", dtype=object)
    group[split.warm_items] = "warm"
    group[split.val.cold_items] = "cold_val"
    group[split.test.cold_items] = "cold_test"
    with open(out / "item_ids.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["item_idx", "item_id", "group"])
        writer.writerows((i, item_id, group[i]) for i, item_id in enumerate(item_ids))

    np.save(out / "item_text.npy", features)
    summary = split.summary() | {"data_fingerprint": snapshot.fingerprint()}
    (out / "split.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "README.txt").write_text(
        README.format(
            fingerprint=summary["data_fingerprint"],
            seed=split.seed,
            cold_share=split.cold_share,
            cold_pct=100 * split.cold_share,
            n_items=split.n_items,
            dim=features.shape[1] if features.ndim == 2 else 0,
        )
    )
    return out

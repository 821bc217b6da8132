"""Small graphs for the R-GCN tests: a two-topic catalogue read through the real importer."""

from __future__ import annotations

import numpy as np

from kg.ingest import load_dir
from kg.snapshot import export_snapshot
from kg.store_nx import NetworkxStore
from tests.conftest import write_dataset

TOPICS = [
    ("DeWalt", ["Tools", "Power Tools", "Drills"], "cordless drill"),
    ("Bosch", ["Tools", "Power Tools", "Saws"], "circular saw"),
    ("Maybelline", ["Beauty", "Makeup", "Lips"], "matte lipstick"),
    ("Loreal", ["Beauty", "Skin Care", "Creams"], "night cream"),
]


def topic_catalogue(folder, n_products: int = 48, n_users: int = 40, per_user: int = 6,
                    exclude: set[str] = frozenset(), seed: int = 0):
    """Products in four topics (brand + category), users who buy inside one topic.

    ``exclude`` leaves products out of both files (to add them after training).
    """
    rng = np.random.default_rng(seed)
    products = []
    for i in range(n_products):
        brand, path, noun = TOPICS[i % len(TOPICS)]
        if f"P{i:03d}" in exclude:
            continue
        products.append({"id": f"P{i:03d}", "title": f"{brand} {noun} model {i}",
                         "brand": brand, "category_path": path,
                         "attributes": {"pack": str(1 + i % 3)}})
    rows = []
    for u in range(n_users):
        topic = u % len(TOPICS)
        pool = np.arange(topic, n_products, len(TOPICS))
        for day, i in enumerate(rng.choice(pool, size=per_user, replace=False)):
            if f"P{i:03d}" not in exclude:
                rows.append((f"U{u:03d}", f"P{i:03d}", f"2020-01-{day + 1:02d}T00:00:00Z", "5"))
    return write_dataset(folder, products, rows)


def snapshot_of(folder):
    store = NetworkxStore(None)
    load_dir(store, folder, progress=False)
    snap = export_snapshot(store)
    store.close()
    return snap


def topic_features(snapshot, dim: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Text-like vectors: one direction per topic word found in the node's fields, plus noise."""
    rng = np.random.default_rng(seed)
    words = [(t[0].lower(), t[1][-1].lower()) for t in TOPICS]
    out = {}
    for label, fields in snapshot.node_fields.items():
        if label == "User":
            continue
        vecs = rng.normal(0, 0.1, (len(fields), dim)).astype(np.float32)
        for row, f in enumerate(fields):
            text = " ".join(str(v) for v in f.values()).lower()
            for k, pair in enumerate(words):
                if any(w in text for w in pair):
                    vecs[row, k] += 1.0
        out[label] = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    return out

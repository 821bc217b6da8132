"""Snapshot export: the whole graph as index arrays and node text fields, the form gnn/ and llm/ use.

A snapshot is read through the GraphStore contract only, so both stores give identical
snapshots (ids sorted, edges sorted). Internal indices are positions in ``node_ids[label]``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from kg.schema import ATTRIBUTE, BRAND, CATEGORY, LABELS, PRODUCT, REL_TYPES, USER
from kg.store import GraphStore

NODE_PROPS: dict[str, tuple[str, ...]] = {
    PRODUCT: ("title", "description", "price", "text_hash"),
    BRAND: ("name",),
    CATEGORY: ("name", "path"),
    ATTRIBUTE: ("key", "value"),
    USER: (),
}


@dataclass
class GraphSnapshot:
    """Node ids, typed edge index arrays and node text fields.

    Attributes:
        node_ids: label -> external ids, sorted; position = internal index.
        node_fields: label -> one dict per node with the fields its text is built from:
            Product ``{title, description, brand, category_path, attributes, price}``,
            Brand ``{name}``, Category ``{name, path}``, Attribute ``{key, value}``, User ``{}``.
        edges: relationship type -> int64 array ``[2, E]`` of (source index, target index), in the
            endpoint labels of ``kg.schema.REL_TYPES``.
        interactions: per INTERACTED edge (same order as ``edges["INTERACTED"]``): ``ts`` int64
            (Unix seconds), ``rating`` float32 (NaN when absent), ``kind`` (list of str).
    """

    node_ids: dict[str, list[str]]
    node_fields: dict[str, list[dict]]
    edges: dict[str, np.ndarray]
    interactions: dict[str, object] = field(default_factory=dict)
    _index: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    def index(self, label: str) -> dict[str, int]:
        """External id -> internal index for ``label`` (built once)."""
        if label not in self._index:
            self._index[label] = {node_id: i for i, node_id in enumerate(self.node_ids[label])}
        return self._index[label]

    def num_nodes(self, label: str) -> int:
        return len(self.node_ids[label])

    def fingerprint(self) -> str:
        """A hash of ids, edges and product text hashes: the data hash recorded in model bundles."""
        h = hashlib.sha256()
        for label in LABELS:
            h.update(label.encode())
            h.update("\x00".join(self.node_ids[label]).encode())
        for rel in sorted(self.edges):
            if rel == "RECOMMENDED":  # model output written back by the refresh job, not data
                continue
            h.update(rel.encode())
            h.update(np.ascontiguousarray(self.edges[rel]).tobytes())
        h.update("".join(f.get("_text_hash") or "" for f in self.node_fields[PRODUCT]).encode())
        return h.hexdigest()[:16]


def _to_seconds(ts: str | None) -> int:
    if not ts:
        return 0
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())


def export_snapshot(store: GraphStore) -> GraphSnapshot:
    """Read every node and relationship of ``store`` into a GraphSnapshot."""
    node_ids: dict[str, list[str]] = {}
    raw: dict[str, list[tuple]] = {}
    for label in LABELS:
        rows = list(store.iter_nodes(label, NODE_PROPS[label]))
        raw[label] = rows
        node_ids[label] = [r[0] for r in rows]
    snap = GraphSnapshot(node_ids=node_ids, node_fields={}, edges={})

    inter_props = ("kind", "rating", "ts")
    edge_rows: dict[str, list[tuple]] = {}
    for rel, rt in REL_TYPES.items():
        rows = list(store.iter_edges(rel, inter_props if rel == "INTERACTED" else ()))
        edge_rows[rel] = rows
        src_index, dst_index = snap.index(rt.src), snap.index(rt.dst)
        arr = np.empty((2, len(rows)), dtype=np.int64)
        for j, row in enumerate(rows):
            arr[0, j] = src_index[row[0]]
            arr[1, j] = dst_index[row[1]]
        snap.edges[rel] = arr
    inter = edge_rows["INTERACTED"]
    snap.interactions = {
        "kind": [r[2] for r in inter],
        "rating": np.array([np.nan if r[3] is None else r[3] for r in inter], dtype=np.float32),
        "ts": np.array([_to_seconds(r[4]) for r in inter], dtype=np.int64),
    }

    brand_name = {r[0]: r[1] for r in raw[BRAND]}
    cat_path = {r[0]: list(r[2] or []) for r in raw[CATEGORY]}
    attr = {r[0]: (r[1], r[2]) for r in raw[ATTRIBUTE]}
    brand_of: dict[str, str] = {}
    for pid, bid in edge_rows["MADE_BY"]:
        brand_of.setdefault(pid, brand_name.get(bid))
    path_of: dict[str, list[str]] = {}
    for pid, cid in edge_rows["IN_CATEGORY"]:
        if len(cat_path[cid]) > len(path_of.get(pid, [])):
            path_of[pid] = cat_path[cid]
    attrs_of: dict[str, dict[str, str]] = {}
    for pid, aid in edge_rows["HAS_ATTRIBUTE"]:
        key, value = attr[aid]
        attrs_of.setdefault(pid, {})[key] = value

    snap.node_fields = {
        PRODUCT: [
            {
                "title": title or "",
                "description": description or "",
                "brand": brand_of.get(pid),
                "category_path": path_of.get(pid, []),
                "attributes": attrs_of.get(pid, {}),
                "price": price,
                "_text_hash": th,
            }
            for pid, title, description, price, th in raw[PRODUCT]
        ],
        BRAND: [{"name": r[1] or r[0]} for r in raw[BRAND]],
        CATEGORY: [{"name": r[1], "path": list(r[2] or [])} for r in raw[CATEGORY]],
        ATTRIBUTE: [{"key": r[1], "value": r[2]} for r in raw[ATTRIBUTE]],
        USER: [{} for _ in raw[USER]],
    }
    return snap

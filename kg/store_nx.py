"""Embedded default store: an in-process networkx graph persisted to a folder.

Lets a new user run everything with no database server. The graph lives in memory as a
``networkx.MultiDiGraph`` whose nodes are ``(label, id)`` tuples; ``flush()`` writes it to
``<folder>/graph.json`` atomically (temp file, then rename), so a crash never leaves a half file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter, deque
from pathlib import Path
from typing import Iterable, Iterator

import networkx as nx

from kg.errors import KgError, StoreUnavailableError
from kg.schema import CATALOGUE_RELS, EXPLANATION_RELS, LABELS, PRODUCT, REL_TYPES, USER, rel_type
from kg.store import GraphBatch, GraphPath, Hop, NodeKey, display_name, edge_sort_key, merge_props

FORMAT = "kgrec-embedded-graph"
VERSION = 1
GRAPH_FILE = "graph.json"


class NetworkxStore:
    """GraphStore on networkx; see ``kg.store.GraphStore`` for the contract.

    Args:
        path: folder holding ``graph.json`` (created on first flush). None keeps it in memory only.
    """

    name = "embedded"

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else None
        self.g = nx.MultiDiGraph()
        self._ids: dict[str, set[str]] = {label: set() for label in LABELS}
        self._edge_counts: Counter[str] = Counter()
        self._dirty = False
        if self.path is not None and (self.path / GRAPH_FILE).exists():
            self._read(self.path / GRAPH_FILE)

    # --- persistence ----------------------------------------------------------------------------

    def _read(self, file: Path) -> None:
        try:
            with open(file, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreUnavailableError(f"cannot read embedded store {file}: {exc}") from exc
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise StoreUnavailableError(f"{file} is not a kgrec embedded store (format {FORMAT} v{VERSION})")
        for label, rows in data["nodes"].items():
            for node_id, props in rows:
                self.g.add_node((label, node_id), **props)
                self._ids[label].add(node_id)
        for rel, rows in data["edges"].items():
            rt = rel_type(rel)
            for src, dst, props in rows:
                self.g.add_edge((rt.src, src), (rt.dst, dst), key=self._edge_key(rel, props), type=rel, **props)
                self._edge_counts[rel] += 1

    def flush(self) -> None:
        if self.path is None or not self._dirty:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        nodes: dict[str, list] = {label: [] for label in LABELS}
        for (label, node_id), props in self.g.nodes(data=True):
            nodes[label].append([node_id, props])
        edges: dict[str, list] = {rel: [] for rel in REL_TYPES}
        for (_, src), (_, dst), data in self.g.edges(data=True):
            props = {k: v for k, v in data.items() if k != "type"}
            edges[data["type"]].append([src, dst, props])
        fd, tmp = tempfile.mkstemp(prefix=".graph-", suffix=".tmp", dir=self.path)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"format": FORMAT, "version": VERSION, "nodes": nodes, "edges": edges}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path / GRAPH_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._dirty = False

    def close(self) -> None:
        self.flush()

    # --- writes ---------------------------------------------------------------------------------

    def ensure_schema(self, embedding_dim: int = 64) -> None:
        """Nothing to create: ids are unique by construction of the node keys."""

    @staticmethod
    def _edge_key(rel: str, props: dict) -> str:
        keys = REL_TYPES[rel].key_props
        return rel if not keys else rel + "|" + "|".join(str(props.get(k)) for k in keys)

    def apply(self, batch: GraphBatch) -> None:
        # Validate everything first, then mutate: the in-memory mutation cannot fail half-way.
        new_ids = {label: {row["id"] for row in rows} for label, rows in batch.nodes.items()}
        for rel, rows in batch.edges.items():
            rt = rel_type(rel)
            for row in rows:
                for label, node_id in ((rt.src, row["src"]), (rt.dst, row["dst"])):
                    if node_id not in self._ids[label] and node_id not in new_ids.get(label, ()):
                        raise KgError(f"{rel} row {row!r:.120} names a missing {label} {node_id!r}")
        for label, rows in batch.nodes.items():
            for row in rows:
                key = (label, row["id"])
                if key in self.g:
                    merge_props(label, self.g.nodes[key], row, batch.now)
                else:
                    props: dict = {}
                    merge_props(label, props, row, batch.now)
                    self.g.add_node(key, **props)
                    self._ids[label].add(row["id"])
        if batch.replace_catalogue_edges:
            keep = {(rel, row["src"], row["dst"]) for rel in CATALOGUE_RELS for row in batch.edges.get(rel, ())}
            for pid in batch.replace_catalogue_edges:
                stale = [
                    (u, v, k, d["type"])
                    for u, v, k, d in self.g.out_edges((PRODUCT, pid), keys=True, data=True)
                    if d["type"] in CATALOGUE_RELS and (d["type"], pid, v[1]) not in keep
                ]
                for u, v, k, rel in stale:
                    self.g.remove_edge(u, v, key=k)
                    self._edge_counts[rel] -= 1
        for rel, rows in batch.edges.items():
            rt = REL_TYPES[rel]
            for row in rows:
                props = {k: v for k, v in row.items() if k not in ("src", "dst")}
                u, v, key = (rt.src, row["src"]), (rt.dst, row["dst"]), self._edge_key(rel, props)
                if self.g.has_edge(u, v, key):
                    self.g.edges[u, v, key].update({k: val for k, val in props.items() if val is not None})
                else:
                    self.g.add_edge(u, v, key=key, type=rel, **{k: val for k, val in props.items() if val is not None})
                    self._edge_counts[rel] += 1
        self._dirty = True

    def clear(self) -> None:
        self.g.clear()
        self._ids = {label: set() for label in LABELS}
        self._edge_counts.clear()
        self._dirty = True

    # --- reads ----------------------------------------------------------------------------------

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            "nodes": {label: len(self._ids[label]) for label in LABELS},
            "relationships": {rel: self._edge_counts[rel] for rel in REL_TYPES},
        }

    def existing_ids(self, label: str, ids: Iterable[str]) -> set[str]:
        known = self._ids[label]
        return {i for i in ids if i in known}

    def get_node(self, label: str, node_id: str) -> dict | None:
        key = (label, node_id)
        return {"id": node_id, **self.g.nodes[key]} if key in self.g else None

    def iter_nodes(self, label: str, props: tuple[str, ...]) -> Iterator[tuple]:
        for node_id in sorted(self._ids[label]):
            data = self.g.nodes[(label, node_id)]
            yield (node_id, *(data.get(p) for p in props))

    def iter_edges(self, rel: str, props: tuple[str, ...] = ()) -> Iterator[tuple]:
        rt = rel_type(rel)
        rows = []
        for src in self._ids[rt.src]:
            for _, (dst_label, dst), data in self.g.out_edges((rt.src, src), data=True):
                if data["type"] == rel:
                    rows.append((src, dst, *(data.get(p) for p in props)))
        rows.sort(key=edge_sort_key)
        yield from rows

    # --- paths ----------------------------------------------------------------------------------

    def _neighbours(self, node: NodeKey, rel_types: frozenset[str]) -> Iterator[tuple[NodeKey, Hop]]:
        for _, other, data in self.g.out_edges(node, data=True):
            if data["type"] in rel_types:
                yield other, Hop(data["type"], True)
        for other, _, data in self.g.in_edges(node, data=True):
            if data["type"] in rel_types:
                yield other, Hop(data["type"], False)

    def find_paths(
        self,
        src: NodeKey,
        dst: NodeKey,
        *,
        k: int = 3,
        max_hops: int = 4,
        rel_types: tuple[str, ...] = EXPLANATION_RELS,
        through_users: bool = False,
    ) -> list[GraphPath]:
        # Hand-written bounded DFS: networkx's simple-path generators have no per-edge type filter,
        # no node filter for intermediate users, and merge reciprocal multi-edges in undirected views.
        if src not in self.g or dst not in self.g or src == dst:
            return []
        types = frozenset(rel_types)

        def passable(node: NodeKey) -> bool:
            return through_users or node[0] != USER or node == dst

        # Distances to dst (undirected, filtered) prune the search to paths that can still arrive.
        dist = {dst: 0}
        queue = deque([dst])
        while queue:
            node = queue.popleft()
            if dist[node] >= max_hops - 1:
                continue
            for other, _ in self._neighbours(node, types):
                if other not in dist and other != src and passable(other):
                    dist[other] = dist[node] + 1
                    queue.append(other)

        found: list[GraphPath] = []
        for length in range(1, max_hops + 1):
            nodes, hops = [src], []

            def walk(node: NodeKey, left: int) -> None:
                for other, hop in self._neighbours(node, types):
                    if left == 1:
                        if other == dst:
                            found.append(self._path(nodes + [other], hops + [hop]))
                    elif other in dist and dist[other] <= left - 1 and other not in nodes and other != dst:
                        nodes.append(other)
                        hops.append(hop)
                        walk(other, left - 1)
                        nodes.pop()
                        hops.pop()

            walk(src, length)
            if len(found) >= k:
                break
        found.sort(key=GraphPath.sort_key)
        return found[:k]

    def _path(self, nodes: list[NodeKey], hops: list[Hop]) -> GraphPath:
        names = tuple(display_name(label, self.g.nodes[(label, i)], i) for label, i in nodes)
        return GraphPath(nodes=tuple(nodes), hops=tuple(hops), names=names)

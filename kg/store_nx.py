"""Embedded default store: an in-process networkx graph persisted to a folder.

Lets a new user run everything with no database server. The graph lives in memory as a
``networkx.MultiDiGraph`` whose nodes are ``(label, id)`` tuples; ``flush()`` writes it to
``<folder>/graph.json`` atomically (temp file, then rename), so a crash never leaves a half file.
"""

from __future__ import annotations

import functools
import heapq
import json
import os
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Iterator

import networkx as nx

from kg.errors import KgError, StoreUnavailableError
from kg.schema import CATALOGUE_RELS, EXPLANATION_RELS, LABELS, PRODUCT, REL_TYPES, USER, rel_type
from kg.store import (GraphBatch, GraphPath, Hop, NodeKey, display_name, edge_sort_key, merge_props,
                      path_sort_key)

FORMAT = "kgrec-embedded-graph"
VERSION = 1
GRAPH_FILE = "graph.json"

# Entries of the path-search cache (a node's neighbours, or the half-paths from a node)
# before it starts again.
PATH_CACHE = 200_000
# At a search's last length, halves of x and y tips meet over a middle node by intersecting the
# adjacency of each (x, y) pair (`_join_over_middle`) when there are at most this many pairs;
# more, and growing one side's level is cheaper.
MIDDLE_PAIRS = 64
# A path under construction from one end: its nodes and hops in path order; a hop is a plain
# (rel, forward) tuple until the path is built (`_path` makes the `Hop`s).
HalfPath = tuple[tuple[NodeKey, ...], tuple[tuple[str, bool], ...]]
# Every hop a path can take, made once: a search builds hundreds of thousands of them a second.
# Plain tuples, not `Hop` named tuples: the cyclic collector stops tracking an exact tuple of
# untracked items, never a subclass's, and the cache's millions of half-paths would otherwise
# stay tracked (at 100k products a full collection then took 1.6 s in the middle of a request).
FORWARD = {rel: (rel, True) for rel in REL_TYPES}
BACKWARD = {rel: (rel, False) for rel in REL_TYPES}
FLIPPED = {hop: (hop[0], not hop[1]) for hop in (*FORWARD.values(), *BACKWARD.values())}


@functools.lru_cache(maxsize=64)
def _type_set(rel_types: tuple[str, ...]) -> frozenset[str]:
    """One frozenset per allow-list: it keys many cache entries, and each would be a tracked
    object of its own."""
    return frozenset(rel_types)


_NO_EDGES: dict = {}


@functools.lru_cache(maxsize=256)
def _sides(label: str, types: frozenset[str]) -> tuple[bool, bool]:
    """For a node of ``label``: can its outgoing / incoming relationships include one of
    ``types`` (from the schema's end labels)."""
    rels = [REL_TYPES[t] for t in types if t in REL_TYPES]
    return any(r.src == label for r in rels), any(r.dst == label for r in rels)


@functools.lru_cache(maxsize=64)
def _user_side(label: str, outgoing: bool) -> bool:
    """Can a relationship of the schema link a node of ``label`` to a user on that side."""
    return any((r.src, r.dst) == ((label, USER) if outgoing else (USER, label))
               for r in REL_TYPES.values())


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
        self._path_cache: dict[tuple, object] = {}  # path-search cache, see _neighbours
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
        self._path_cache.clear()
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
        self._path_cache.clear()
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

    def _neighbours(self, node: NodeKey, rel_types: frozenset[str],
                    flipped: bool = False) -> list[tuple[NodeKey, Hop]]:
        """(other end, hop) of every relationship of ``rel_types`` at ``node``, either direction;
        ``flipped``: each hop as walked from the other end (a search growing backwards).

        Cached per (node, types) until the next write: explanations for one request walk the
        same user, brands and categories again and again.
        """
        key = ("adjacency", node, rel_types, flipped)
        found = self._path_cache.get(key)
        if found is None:
            if flipped:
                found = [(other, FLIPPED[hop]) for other, hop in self._neighbours(node, rel_types)]
            else:
                # the graph's own adjacency dicts, not its read-only views: a view's lookups cost
                # more than the walk itself, and the first search from a user walks hundreds of
                # nodes
                succ, pred = self.g._succ[node], self.g._pred[node]
                found = [(other, FORWARD[data["type"]]) for other, keyed in succ.items()
                         for data in keyed.values() if data["type"] in rel_types]
                found += [(other, BACKWARD[data["type"]]) for other, keyed in pred.items()
                          for data in keyed.values() if data["type"] in rel_types]
            found = self._remember(key, tuple(found))
        return found

    def _remember(self, key: tuple, value):
        if len(self._path_cache) >= PATH_CACHE:  # start again rather than track use
            self._path_cache.clear()
        self._path_cache[key] = value
        return value

    def _levels(self, end: NodeKey, forward: bool, types: frozenset[str], through_users: bool,
                depth: int) -> list[list]:
        """Half-paths from ``end`` (leaving it when ``forward``, else arriving at it), by length,
        up to ``depth``: per length, [tip -> half-paths ending there, cost of growing them or
        None until `_cost` is asked].

        They do not depend on the other end of the search (a half-path through it is dropped
        when halves are joined), so they are cached like the adjacency: one request explains
        ten items to the same user, and each item is reached by several of its parts.
        """
        key = ("half", end, forward, types, through_users)
        levels = self._path_cache.get(key)
        if levels is None:
            levels = self._remember(key, [[{end: [((end,), ())]}, None]])
        while len(levels) <= depth:
            by_tip: dict[NodeKey, list[HalfPath]] = defaultdict(list)
            for tip, halves in levels[-1][0].items():
                for other, hop in self._neighbours(tip, types, flipped=not forward):
                    if (other[0] == USER and not through_users) or other == end:
                        continue
                    grown = by_tip[other]
                    for nodes, hops in halves:
                        if other in nodes:
                            continue
                        if forward:
                            grown.append((nodes + (other,), hops + (hop,)))
                        else:  # walked from the arriving end: hops are flipped, in path order
                            grown.append(((other,) + nodes, (hop,) + hops))
            # tuples, not lists: once the collector has seen that a tuple holds only untracked
            # objects (strings, node keys, hops) it stops tracking it, so a cache of 100k
            # half-paths does not lengthen every later collection (at 100k products, 6M tracked
            # objects made a full pass take 1.7 s in the middle of a request)
            levels.append([{tip: tuple(h) for tip, h in by_tip.items() if h}, None])
        return levels

    def _cost(self, level: list) -> int:
        """An estimate of the cost of growing a level (it only picks the cheaper end to grow;
        every path is found either way): the tips' numbers of neighbours of any type, O(1) each,
        rather than their filtered neighbour lists, which would cost a walk of every tip.
        Computed when first asked: a search's last level is never grown."""
        if level[1] is None:
            succ, pred = self.g._succ, self.g._pred
            level[1] = sum((len(succ[tip]) + len(pred[tip])) * len(h) for tip, h in level[0].items())
        return level[1]

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
        # Hand-written: networkx's simple-path generators have no per-edge type filter, no node
        # filter for intermediate users, and merge reciprocal multi-edges in undirected views.
        # The k first simple paths in GraphPath.sort_key order (the same as Neo4j's) come from a
        # bidirectional search: half-paths grow from whichever end is cheaper to extend, so a
        # big brand or category at one end costs one pass over its edges, not one per path;
        # halves meet over one edge, and are joined in order until k paths are found.
        if src not in self.g or dst not in self.g or src == dst:
            return []
        types = _type_set(tuple(rel_types))
        a = b = 0  # a path of `length` hops = a half of a hops from src + one hop + b hops to dst
        fwd = self._levels(src, True, types, through_users, 0)
        bwd = self._levels(dst, False, types, through_users, 0)
        found: list[GraphPath] = []
        for length in range(1, max_hops + 1):
            if a + b + 1 < length:
                # a level some earlier search built costs nothing: popular items recur in many
                # users' searches, while a user's own wide levels serve one request
                fwd_ready, bwd_ready = len(fwd) > a + 1, len(bwd) > b + 1
                if (length == max_hops and not (fwd_ready or bwd_ready)
                        and len(fwd[a][0]) * len(bwd[b][0]) <= MIDDLE_PAIRS):
                    # the last length: no level is grown (and cached) for one join
                    self._join_over_middle(fwd[a][0], bwd[b][0], types, through_users, found, k)
                    break
                if (fwd_ready > bwd_ready if fwd_ready != bwd_ready
                        else self._cost(fwd[a]) <= self._cost(bwd[b])):
                    a += 1
                    fwd = self._levels(src, True, types, through_users, a)
                else:
                    b += 1
                    bwd = self._levels(dst, False, types, through_users, b)
            heads, tails = fwd[a][0], bwd[b][0]
            if not heads or not tails:
                break  # no half-path of this length: no longer path either
            meetings: dict[NodeKey, list[tuple[NodeKey, Hop]]] = defaultdict(list)
            for x, y, hop in self._meeting_hops(fwd[a], bwd[b], types):
                meetings[x].append((y, hop))
            # Paths are ranked by their nodes first, and every path through a forward half
            # precedes every path through a half with greater nodes (all halves here are the
            # same length): so halves are joined in that order, all paths of a half at once,
            # until k paths are found; a popular pair's hundreds of co-purchase paths are not
            # all built to keep two.
            firsts = sorted(((f_nodes, f_hops, x) for x in meetings for f_nodes, f_hops in heads[x]),
                            key=lambda half: half[0])
            i = 0
            while i < len(firsts) and len(found) < k:
                f_nodes = firsts[i][0]
                while i < len(firsts) and firsts[i][0] == f_nodes:  # same nodes, other hops
                    _, f_hops, x = firsts[i]
                    for y, hop in meetings[x]:
                        for b_nodes, b_hops in tails[y]:
                            nodes = f_nodes + b_nodes
                            if len(set(nodes)) == len(nodes):  # built and named once cut to k
                                found.append((nodes, f_hops + (hop,) + b_hops))
                    i += 1
            if len(found) >= k:
                break
        found.sort(key=lambda p: path_sort_key(*p))
        return [self._path(list(nodes), list(hops)) for nodes, hops in found[:k]]

    def _join_over_middle(self, heads: dict, tails: dict, types: frozenset[str],
                          through_users: bool, found: list, k: int) -> None:
        """Adds to ``found`` the first paths (in path order, all of a node sequence at once,
        until k) made of a forward half, two relationships x - m - y, and a backward half:
        the middle nodes m come from intersecting the adjacency dicts of x and y (in C, over
        the shorter of the two), so neither end's next level is built. A user's level of
        co-buyers (thousands of half-paths at 100k products) would serve this one join only.

        The halves through one forward half's nodes all end at the same x, and their paths
        order by m first: so middles are taken smallest first (a heap) and their hops read
        only until enough paths are found, not for each of a popular pair's co-buyers.
        """
        firsts = sorted(((f_nodes, f_hops, x) for x in heads for f_nodes, f_hops in heads[x]),
                        key=lambda half: half[0])
        i = 0
        while i < len(firsts) and len(found) < k:
            f_nodes, _, x = firsts[i]
            f_hops_all = []  # the hops of every forward half with these nodes
            while i < len(firsts) and firsts[i][0] == f_nodes:
                f_hops_all.append(firsts[i][1])
                i += 1
            meets = [(y, halves, *self._middle_nodes(x, y, types, through_users))
                     for y, halves in tails.items()]
            middles = list(set().union(*(mids for _, _, mids, _ in meets)))
            heapq.heapify(middles)
            candidates = []  # (nodes, hops) of the paths through these nodes, by middle
            while middles and len(candidates) < k - len(found):
                m = heapq.heappop(middles)  # every later middle makes later node sequences
                for y, halves, mids, sides in meets:
                    if m not in mids:
                        continue
                    into_m, out_of_m = self._middle_hops(m, sides, types)
                    for b_nodes, b_hops in halves:
                        nodes = f_nodes + (m,) + b_nodes
                        if len(set(nodes)) == len(nodes):
                            candidates.extend((nodes, f_hops + (first, second) + b_hops)
                                              for f_hops in f_hops_all for first in into_m
                                              for second in out_of_m)
            candidates.sort(key=lambda path: path[0])
            j = 0
            while j < len(candidates) and len(found) < k:
                nodes = candidates[j][0]
                while j < len(candidates) and candidates[j][0] == nodes:  # same nodes, other hops
                    found.append(candidates[j])
                    j += 1

    def _middle_nodes(self, x: NodeKey, y: NodeKey, types: frozenset[str], through_users: bool
                      ) -> tuple[set, tuple[dict, dict, dict, dict]]:
        """The nodes m adjacent to both x and y (a user only when ``through_users``; some may
        have no hop of ``types``: `_middle_hops` then finds none), and the four adjacency dicts
        they came from, for `_middle_hops`.

        Only the sides of x and y that can hold a relationship of ``types`` are intersected
        (`_sides`: a co-purchase join of two products needs their in-edges only), and without
        ``through_users`` a side that holds users is read as its cached non-user part
        (`_side`): intersecting two popular products' buyers only to drop every user they
        share was most of a catalogue search's time.
        """
        out_x, in_x = self._side_dicts(x, types, through_users)
        out_y, in_y = self._side_dicts(y, types, through_users)
        mids = ((out_x.keys() & out_y.keys()) | (out_x.keys() & in_y.keys())
                | (in_x.keys() & out_y.keys()) | (in_x.keys() & in_y.keys()))
        return mids, (out_x, in_x, out_y, in_y)

    @staticmethod
    def _middle_hops(m: NodeKey, sides: tuple[dict, dict, dict, dict], types: frozenset[str]
                     ) -> tuple[list, list]:
        """(hops x -> m, hops m -> y) of ``types``, from `_middle_nodes`' adjacency dicts."""
        out_x, in_x, out_y, in_y = sides
        no = _NO_EDGES
        firsts = [FORWARD[d["type"]] for d in out_x.get(m, no).values() if d["type"] in types]
        firsts += [BACKWARD[d["type"]] for d in in_x.get(m, no).values() if d["type"] in types]
        if not firsts:
            return firsts, firsts
        # m -> y is an edge in y's predecessors; y -> m, walked from m, one in its successors
        seconds = [FORWARD[d["type"]] for d in in_y.get(m, no).values() if d["type"] in types]
        seconds += [BACKWARD[d["type"]] for d in out_y.get(m, no).values() if d["type"] in types]
        return firsts, seconds

    def _side_dicts(self, node: NodeKey, types: frozenset[str], through_users: bool
                    ) -> tuple[dict, dict]:
        """``node``'s (successors, predecessors) adjacency dicts as `_middle_nodes` reads them:
        empty for a side no relationship of ``types`` can use, and without users unless
        ``through_users`` (`_side`)."""
        out_used, in_used = _sides(node[0], types)
        return (self._side(node, True, through_users) if out_used else _NO_EDGES,
                self._side(node, False, through_users) if in_used else _NO_EDGES)

    def _side(self, node: NodeKey, outgoing: bool, through_users: bool) -> dict:
        """One adjacency dict of ``node``; unless ``through_users``, a side that can hold users
        is its non-user entries, cached like `_neighbours` (a popular product's in-edges are
        hundreds to thousands of buyers and a few other products)."""
        side = (self.g._succ if outgoing else self.g._pred)[node]
        if through_users or not _user_side(node[0], outgoing):
            return side
        key = ("non-user side", node, outgoing)
        found = self._path_cache.get(key)
        if found is None:
            found = self._remember(key, {m: e for m, e in side.items() if m[0] != USER})
        return found

    def _meeting_hops(self, fwd: list, bwd: list, types: frozenset[str]) -> Iterator[tuple]:
        """Every (x, y, hop) with a relationship x-y, x a tip of the forward level ``fwd`` and y
        one of the backward level ``bwd`` (see _levels), walked from the side with fewer tips."""
        heads, tails = fwd[0], bwd[0]
        if len(heads) <= len(tails):
            for x in heads:
                for y, hop in self._links(x, tails, types):
                    yield x, y, hop
        else:
            for y in tails:
                for x, hop in self._links(y, heads, types):
                    yield x, y, FLIPPED[hop]

    def _links(self, v: NodeKey, others: dict, types: frozenset[str]) -> Iterator[tuple]:
        """(o, hop v -> o) for every o in ``others`` linked to v by a relationship of ``types``.

        The intersection of v's adjacency dicts with ``others`` runs in C over the shorter of
        the two, so a big category or a popular product costs no walk of its relationships and
        builds no neighbour list.
        """
        succ, pred = self.g._succ[v], self.g._pred[v]
        for other in succ.keys() & others.keys():
            for data in succ[other].values():
                if data["type"] in types:
                    yield other, FORWARD[data["type"]]
        for other in pred.keys() & others.keys():
            for data in pred[other].values():
                if data["type"] in types:
                    yield other, BACKWARD[data["type"]]

    def _path(self, nodes: list[NodeKey], hops: list[tuple[str, bool]]) -> GraphPath:
        names = tuple(display_name(label, self.g._node[(label, i)], i) for label, i in nodes)
        return GraphPath(nodes=tuple(nodes), hops=tuple(Hop(*h) for h in hops), names=names)

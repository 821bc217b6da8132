"""The GraphStore contract that both stores (Neo4j and embedded networkx) implement identically.

A store receives writes as ``GraphBatch`` objects (nodes and relationships to MERGE), each applied
atomically: either the whole batch is stored or none of it. Reads return plain Python values in a
deterministic order, so the two stores give the same answers to the same calls (the contract tests
in tests/kg/test_store_contract.py run every check against both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, NamedTuple, Protocol, runtime_checkable

from kg.schema import EXPLANATION_RELS

NodeKey = tuple[str, str]  # (label, id)


@dataclass
class GraphBatch:
    """Nodes and relationships to MERGE in one atomic write.

    Args:
        nodes: label -> rows; each row has ``"id"`` plus the properties to set. A property set to
            None is left unchanged. ``Brand`` rows may carry ``aliases`` (a list): the stored list
            becomes the union. ``Product`` rows may carry ``text_hash``: ``updated_at`` is set to
            ``now`` only when it differs from the stored one.
        edges: relationship type -> rows ``{"src": id, "dst": id, **props}``; endpoint labels come
            from ``kg.schema.REL_TYPES``. Both endpoints must exist (in the store or this batch).
        replace_catalogue_edges: product ids whose ``CATALOGUE_RELS`` edges are replaced by the
            ones in this batch (edges absent from the batch are deleted).
        now: ISO time used for ``Product.updated_at``.
    """

    nodes: dict[str, list[dict]] = field(default_factory=dict)
    edges: dict[str, list[dict]] = field(default_factory=dict)
    replace_catalogue_edges: list[str] = field(default_factory=list)
    now: str = ""

    def add_node(self, label: str, row: dict) -> None:
        self.nodes.setdefault(label, []).append(row)

    def add_edge(self, rel: str, src: str, dst: str, **props) -> None:
        self.edges.setdefault(rel, []).append({"src": src, "dst": dst, **props})

    def __len__(self) -> int:
        return sum(map(len, self.nodes.values())) + sum(map(len, self.edges.values()))


class Hop(NamedTuple):
    """One step of a path: relationship type and whether it was walked along its direction.

    A named tuple: it indexes and compares like the plain (rel, forward) pairs the embedded
    path search uses until it builds a path, so `path_sort_key` takes either."""

    rel: str
    forward: bool


@dataclass(frozen=True)
class GraphPath:
    """A path between two nodes: ``nodes[i] -hops[i]- nodes[i+1]``; node names for sentences."""

    nodes: tuple[NodeKey, ...]
    hops: tuple[Hop, ...]
    names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.hops)

    def sort_key(self) -> tuple:
        """Deterministic order shared by both stores: shorter first, then node keys, types and
        directions (see ``path_sort_key``)."""
        return path_sort_key(self.nodes, self.hops)


def path_sort_key(nodes: tuple[NodeKey, ...], hops: tuple[Hop, ...]) -> tuple:
    """``GraphPath.sort_key`` of a path not yet built: its length, its (label, id) node keys,
    then its relationship types and directions. Compared as tuples the node keys order like
    "label:id" strings, since no label is a prefix of another (kg.schema.LABELS), without
    formatting a string per node: the embedded store sorts thousands of candidates a request.
    A hop is a `Hop` or a plain (rel, forward) tuple."""
    return (len(hops), nodes, tuple(h[0] for h in hops), tuple(h[1] for h in hops))


@runtime_checkable
class GraphStore(Protocol):
    """What every store offers. Ids are external string ids; labels/types come from kg.schema."""

    name: str

    def ensure_schema(self, embedding_dim: int = 64) -> None:
        """Create constraints and indexes (Neo4j) — idempotent; a no-op where not needed."""

    def apply(self, batch: GraphBatch) -> None:
        """MERGE a batch atomically (all of it or nothing)."""

    def flush(self) -> None:
        """Make applied batches durable (embedded store writes its folder; Neo4j: no-op)."""

    def counts(self) -> dict[str, dict[str, int]]:
        """``{"nodes": {label: n}, "relationships": {type: n}}`` for every known label and type."""

    def existing_ids(self, label: str, ids: Iterable[str]) -> set[str]:
        """The subset of ``ids`` that exist as nodes of ``label``."""

    def get_node(self, label: str, node_id: str) -> dict | None:
        """A node's properties (``id`` included) or None."""

    def iter_nodes(self, label: str, props: tuple[str, ...]) -> Iterator[tuple]:
        """``(id, *props)`` for every node of ``label``, sorted by id; missing props are None."""

    def iter_edges(self, rel: str, props: tuple[str, ...] = ()) -> Iterator[tuple]:
        """``(src_id, dst_id, *props)`` for every relationship of type ``rel``, sorted."""

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
        """Up to ``k`` shortest simple paths, ignoring direction, ordered by ``GraphPath.sort_key``.

        Only relationships of ``rel_types`` are walked; intermediate nodes are never User nodes
        unless ``through_users``. Paths of the shortest length are all considered before longer
        ones, so the result is the same in both stores.
        """

    def clear(self) -> None:
        """Delete everything (tests and `kgrec load --replace`)."""

    def close(self) -> None:
        """Release connections / flush files."""


# --- property semantics shared by both stores ----------------------------------------------------

CREATE_ONLY_PROPS: dict[str, frozenset[str]] = {"Brand": frozenset({"name"})}


def merge_props(label: str, target: dict, row: dict, now: str) -> None:
    """Apply a batch row's properties to a stored node's dict, with the GraphBatch semantics.

    None leaves a property unchanged; ``aliases`` become the union (stored order first);
    create-only properties (a Brand's display name) keep their first value; a changed
    ``text_hash`` stamps ``updated_at`` with ``now``. The Neo4j store does the same in Cypher.
    """
    create_only = CREATE_ONLY_PROPS.get(label, frozenset())
    for key, value in row.items():
        if key == "id" or value is None:
            continue
        if key == "aliases":
            old = list(target.get("aliases") or [])
            target["aliases"] = old + [a for a in value if a not in old]
        elif key in create_only:
            target.setdefault(key, value)
        elif key == "text_hash":
            if target.get("text_hash") != value:
                target["updated_at"] = now
            target[key] = value
        else:
            target[key] = value


def display_name(label: str, props: dict, node_id: str) -> str:
    """A short human name for a node, used in path explanations."""
    if label == "Attribute" and props.get("key") is not None:
        return f"{props['key']}: {props.get('value')}"
    return props.get("title") or props.get("name") or node_id


def edge_sort_key(row: tuple) -> tuple:
    """The order of ``iter_edges`` rows, the same in both stores (values compared as strings)."""
    return tuple("" if x is None else str(x) for x in row)

"""Neo4j store: the catalogue graph in a Neo4j 5 server through the official driver.

Writes are UNWIND batches inside one managed write transaction per ``GraphBatch`` (all or
nothing); every value travels as a query parameter. Labels and relationship types are the only
names put into query text, and only after checking them against ``kg.schema``.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import neo4j
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

from kg.errors import KgError, StoreUnavailableError
from kg.schema import CATALOGUE_RELS, EXPLANATION_RELS, LABELS, REL_TYPES, VECTOR_INDEX, rel_type
from kg.store import GraphBatch, GraphPath, Hop, NodeKey, display_name, edge_sort_key

_NODE_MERGE = """
UNWIND $rows AS row
MERGE (n:{label} {{id: row.id}})
SET n += row.props
"""
_BRAND_MERGE = """
UNWIND $rows AS row
MERGE (n:Brand {id: row.id})
ON CREATE SET n.name = row.name
SET n += row.props,
    n.aliases = coalesce(n.aliases, []) + [a IN row.aliases WHERE NOT a IN coalesce(n.aliases, [])]
"""
_PRODUCT_MERGE = """
UNWIND $rows AS row
MERGE (n:Product {id: row.id})
SET n.updated_at = CASE
        WHEN row.props.text_hash IS NOT NULL AND coalesce(n.text_hash, '') <> row.props.text_hash
        THEN $now ELSE n.updated_at END,
    n += row.props
"""
# Replacing a product's catalogue edges: delete the old ones, then CREATE the current ones — no
# MERGE check is needed after the delete, which is what makes a first load fast. Flat UNWINDs
# measured faster than one statement with a CALL subquery per edge type.
_DROP_CATALOGUE_EDGES = """
UNWIND $ids AS id
MATCH (p:Product {id: id})-[old:MADE_BY|IN_CATEGORY|HAS_ATTRIBUTE]->()
DELETE old
"""
_EDGE_CREATE = """
UNWIND $pairs AS pair
MATCH (a:{src} {{id: pair[0]}})
MATCH (b:{dst} {{id: pair[1]}})
CREATE (a)-[:{rel}]->(b)
RETURN count(*) AS created
"""
_EDGE_MERGE = """
UNWIND $rows AS row
MATCH (a:{src} {{id: row.src}})
MATCH (b:{dst} {{id: row.dst}})
MERGE (a)-[r:{rel}{key}]->(b)
SET r += row.props
RETURN count(*) AS merged
"""


def _check_label(label: str) -> str:
    if label not in LABELS:
        raise KgError(f"unknown label {label!r}; known: {', '.join(LABELS)}")
    return label


class Neo4jStore:
    """GraphStore on a Neo4j 5 server; see ``kg.store.GraphStore`` for the contract.

    Args:
        uri: ``bolt://host:port`` or ``neo4j://...`` (routing, for clusters/Aura).
        user, password: credentials.
        database: database name (default ``neo4j``).
        driver: an existing driver to share (then ``close()`` leaves it open).

    Raises:
        StoreUnavailableError: the server cannot be reached or rejects the credentials.
    """

    name = "neo4j"

    def __init__(self, uri: str, user: str, password: str, *, database: str = "neo4j", driver=None):
        self.uri, self.database = uri, database
        self._own_driver = driver is None
        self.driver = None
        try:
            self.driver = driver or neo4j.GraphDatabase.driver(uri, auth=(user, password))
            self.driver.verify_connectivity()
        except AuthError as exc:
            self.close()
            raise StoreUnavailableError(f"Neo4j at {uri} rejected user {user!r}: {exc.message}") from exc
        except (ServiceUnavailable, OSError, ValueError) as exc:
            self.close()
            raise StoreUnavailableError(
                f"cannot reach Neo4j at {uri}: {exc} (is it running? `kgrec neo4j start` starts a local one)"
            ) from exc

    # --- helpers --------------------------------------------------------------------------------

    def _read(self, query: str, **params) -> list[neo4j.Record]:
        records, _, _ = self.driver.execute_query(
            query, params, database_=self.database, routing_=neo4j.RoutingControl.READ
        )
        return records

    def close(self) -> None:
        if self._own_driver and self.driver is not None:
            self.driver.close()

    def flush(self) -> None:
        """Committed transactions are already durable."""

    # --- writes ---------------------------------------------------------------------------------

    def ensure_schema(self, embedding_dim: int = 64) -> None:
        dim = int(embedding_dim)
        statements = [
            f"CREATE CONSTRAINT {label.lower()}_id IF NOT EXISTS FOR (n:{label}) REQUIRE n.id IS UNIQUE"
            for label in LABELS
        ]
        statements.append(
            f"CREATE VECTOR INDEX {VECTOR_INDEX} IF NOT EXISTS FOR (p:Product) ON (p.embedding) "
            f"OPTIONS {{indexConfig: {{`vector.dimensions`: {dim}, `vector.similarity_function`: 'cosine'}}}}"
        )
        for statement in statements:
            self.driver.execute_query(statement, database_=self.database)
        self.driver.execute_query("CALL db.awaitIndexes(300)", database_=self.database)

    def apply(self, batch: GraphBatch) -> None:
        with self.driver.session(database=self.database) as session:
            session.execute_write(self._apply_tx, batch)

    @staticmethod
    def _apply_tx(tx: neo4j.ManagedTransaction, batch: GraphBatch) -> None:
        replaced = set(batch.replace_catalogue_edges)
        catalogue: dict[str, dict[str, list[str]]] = {pid: {r: [] for r in CATALOGUE_RELS} for pid in replaced}
        edges: dict[str, list[dict]] = {}
        for rel, rows in batch.edges.items():
            rel_type(rel)
            if rel in CATALOGUE_RELS and replaced:
                rest = []
                for row in rows:
                    (catalogue[row["src"]][rel] if row["src"] in replaced else rest).append(row["dst"] if row["src"] in replaced else row)
                rows = rest
            if rows:
                edges[rel] = rows
        # Products last: their catalogue edges point at the brands/categories/attributes above.
        for label, rows in sorted(batch.nodes.items(), key=lambda item: item[0] == "Product"):
            _check_label(label)
            if label == "Product" and replaced:
                Neo4jStore._products_tx(tx, [r for r in rows if r["id"] in replaced], catalogue, batch.now)
                rows = [r for r in rows if r["id"] not in replaced]
                if not rows:
                    continue
            params = []
            for row in rows:
                props = {k: v for k, v in row.items() if v is not None and k not in ("id", "aliases", "name")}
                if label == "Brand":
                    params.append({"id": row["id"], "name": row.get("name"), "aliases": row.get("aliases") or [], "props": props})
                else:
                    if row.get("name") is not None:
                        props["name"] = row["name"]
                    params.append({"id": row["id"], "props": props})
            query = {"Brand": _BRAND_MERGE, "Product": _PRODUCT_MERGE}.get(label) or _NODE_MERGE.format(label=label)
            tx.run(query, rows=params, now=batch.now).consume()
        for rel, rows in edges.items():
            rt = REL_TYPES[rel]
            key = "{" + ", ".join(f"{p}: row.key.{p}" for p in rt.key_props) + "}" if rt.key_props else ""
            query = _EDGE_MERGE.format(src=rt.src, dst=rt.dst, rel=rel, key=key)
            params = [
                {
                    "src": row["src"],
                    "dst": row["dst"],
                    "key": {p: row.get(p) for p in rt.key_props},
                    "props": {k: v for k, v in row.items() if k not in ("src", "dst") and v is not None},
                }
                for row in rows
            ]
            merged = tx.run(query, rows=params).single()["merged"]
            if merged != len(rows):
                raise KgError(f"{rel}: {len(rows) - merged} of {len(rows)} rows name a missing endpoint")

    @staticmethod
    def _products_tx(tx, rows: list[dict], catalogue: dict[str, dict[str, list[str]]], now: str) -> None:
        """Products whose catalogue edges are replaced (see _DROP_CATALOGUE_EDGES)."""
        params = [{"id": r["id"], "props": {k: v for k, v in r.items() if v is not None and k != "id"}} for r in rows]
        tx.run(_PRODUCT_MERGE, rows=params, now=now).consume()
        tx.run(_DROP_CATALOGUE_EDGES, ids=[r["id"] for r in rows]).consume()
        for rel in CATALOGUE_RELS:
            pairs = [[pid, dst] for pid, targets in catalogue.items() for dst in dict.fromkeys(targets[rel])]
            if not pairs:
                continue
            rt = REL_TYPES[rel]
            created = tx.run(_EDGE_CREATE.format(src=rt.src, dst=rt.dst, rel=rel), pairs=pairs).single()["created"]
            if created != len(pairs):
                raise KgError(f"{rel}: {len(pairs) - created} of {len(pairs)} rows name a missing endpoint")

    def clear(self) -> None:
        with self.driver.session(database=self.database) as session:
            # Relationships first, in chunks, so no transaction outgrows the server's memory pool.
            session.run("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS").consume()
            session.run("MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 20000 ROWS").consume()

    # --- reads ----------------------------------------------------------------------------------

    def counts(self) -> dict[str, dict[str, int]]:
        nodes = {label: self._read(f"MATCH (n:{label}) RETURN count(n) AS c")[0]["c"] for label in LABELS}
        rels = {rel: self._read(f"MATCH ()-[r:{rel}]->() RETURN count(r) AS c")[0]["c"] for rel in REL_TYPES}
        return {"nodes": nodes, "relationships": rels}

    def existing_ids(self, label: str, ids: Iterable[str]) -> set[str]:
        query = f"UNWIND $ids AS id MATCH (n:{_check_label(label)} {{id: id}}) RETURN n.id AS id"
        return {r["id"] for r in self._read(query, ids=list(ids))}

    def get_node(self, label: str, node_id: str) -> dict | None:
        records = self._read(f"MATCH (n:{_check_label(label)} {{id: $id}}) RETURN properties(n) AS p", id=node_id)
        return dict(records[0]["p"]) if records else None

    def iter_nodes(self, label: str, props: tuple[str, ...]) -> Iterator[tuple]:
        query = f"MATCH (n:{_check_label(label)}) RETURN n.id AS id, [p IN $props | n[p]] AS vals ORDER BY id"
        with self.driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS) as session:
            for record in session.run(query, props=list(props)):
                yield (record["id"], *record["vals"])

    def iter_edges(self, rel: str, props: tuple[str, ...] = ()) -> Iterator[tuple]:
        rt = rel_type(rel)
        query = (
            f"MATCH (a:{rt.src})-[r:{rel}]->(b:{rt.dst}) "
            "RETURN a.id AS src, b.id AS dst, [p IN $props | r[p]] AS vals"
        )
        rows = [(r["src"], r["dst"], *r["vals"]) for r in self._read(query, props=list(props))]
        rows.sort(key=edge_sort_key)
        yield from rows

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
        if src == dst:
            return []
        types = "|".join(rel_type(r).name for r in rel_types)
        user_filter = "" if through_users else "AND all(n IN nodes(p)[1..-1] WHERE NOT n:User)"
        found: list[GraphPath] = []
        for length in range(1, max_hops + 1):
            query = (
                f"MATCH (a:{_check_label(src[0])} {{id: $src}}), (b:{_check_label(dst[0])} {{id: $dst}}) "
                f"MATCH p = (a)-[:{types}*{length}]-(b) "
                "WHERE all(i IN range(0, size(nodes(p)) - 2) WHERE NOT nodes(p)[i] IN nodes(p)[i + 1..]) "
                f"{user_filter} "
                "RETURN [n IN nodes(p) | [labels(n)[0], n.id, n.title, n.name, n.key, n.value]] AS nodes, "
                "[i IN range(0, length(p) - 1) | "
                " [type(relationships(p)[i]), startNode(relationships(p)[i]) = nodes(p)[i]]] AS hops"
            )
            for record in self._read(query, src=src[1], dst=dst[1]):
                nodes = tuple((n[0], n[1]) for n in record["nodes"])
                names = tuple(
                    display_name(n[0], {"title": n[2], "name": n[3], "key": n[4], "value": n[5]}, n[1])
                    for n in record["nodes"]
                )
                hops = tuple(Hop(t, fwd) for t, fwd in record["hops"])
                found.append(GraphPath(nodes=nodes, hops=hops, names=names))
            if len(found) >= k:
                break
        found.sort(key=GraphPath.sort_key)
        return found[:k]


def open_neo4j(uri: str, user: str, password: str, database: str = "neo4j") -> Neo4jStore:
    """Connect, with Neo4jError turned into StoreUnavailableError for the CLI."""
    try:
        return Neo4jStore(uri, user, password, database=database)
    except Neo4jError as exc:
        raise StoreUnavailableError(f"Neo4j at {uri}: {exc}") from exc

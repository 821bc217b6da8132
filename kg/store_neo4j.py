"""Neo4j store: the catalogue graph in a Neo4j 5 server through the official driver.

Writes are UNWIND batches inside one managed write transaction per ``GraphBatch`` (all or
nothing); every value travels as a query parameter. Labels and relationship types are the only
names put into query text, and only after checking them against ``kg.schema``.

Where a load spends its time (100k synthetic products, ~6.8 catalogue edges each): about half of
the server's work is the commit itself (turning the transaction state into records, counts and
the transaction log: ~5 us per relationship, the same whatever the Cypher), and on a freshly
started server the JIT compiler costs as much again. The statements below keep the rest small:
one statement per batch for products and their catalogue edges, targets looked up once per batch,
products the store does not hold yet CREATEd with their edges (no MERGE, no old edges to read),
and no write at all for edges that already exist, so a re-load commits almost nothing.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

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
_PRODUCT_SET = """
SET p.updated_at = CASE
        WHEN row.props.text_hash IS NOT NULL AND coalesce(p.text_hash, '') <> row.props.text_hash
        THEN $now ELSE p.updated_at END,
    p += row.props
"""
_PRODUCT_MERGE = "UNWIND $rows AS row\nMERGE (p:Product {id: row.id})" + _PRODUCT_SET

# Products whose catalogue edges are replaced, with those edges, in one statement per batch:
# - the batch's distinct brands/categories/attributes are looked up once (not once per edge) into
#   lists, and each product row names its targets by position in them;
# - `p` stays bound from the MERGE to the CREATEs (no second index seek per edge);
# - each product's current catalogue edges are read once (one expand from p): the stale ones are
#   deleted, and only the missing ones are created, so a re-load writes nothing.
# Missing targets come back in mb/mc/ma (the caller raises KgError, which rolls the batch back).
# Each catalogue type points at its own label, so a target node alone says which edge it is.
# Measured against the flat per-type UNWIND/MATCH/CREATE statements: ~25% less server CPU on a
# first load, and a re-load that deletes and creates nothing.
_TARGETS = """
CALL () { UNWIND $brands AS id OPTIONAL MATCH (n:Brand {id: id})
          RETURN collect([n]) AS B, collect(CASE WHEN n IS NULL THEN id END) AS mb }
CALL () { UNWIND $categories AS id OPTIONAL MATCH (n:Category {id: id})
          RETURN collect([n]) AS C, collect(CASE WHEN n IS NULL THEN id END) AS mc }
CALL () { UNWIND $attributes AS id OPTIONAL MATCH (n:Attribute {id: id})
          RETURN collect([n]) AS A, collect(CASE WHEN n IS NULL THEN id END) AS ma }
"""
_CATALOGUE = _TARGETS.replace("{", "{{").replace("}", "}}") + """
UNWIND $rows AS row
{product}
WITH p, row, B, C, A, mb, mc, ma,
     [(p)-[r:MADE_BY|IN_CATEGORY|HAS_ATTRIBUTE]->(x) | [r, x]] AS old
WITH p, mb, mc, ma, old,
     [i IN row.b | B[i][0]] AS bs, [i IN row.c | C[i][0]] AS cs, [i IN row.a | A[i][0]] AS ats
FOREACH (r IN [o IN old WHERE NOT (o[1] IN bs OR o[1] IN cs OR o[1] IN ats) | o[0]] | DELETE r)
WITH p, mb, mc, ma, bs, cs, ats, [o IN old | o[1]] AS have
FOREACH (x IN [x IN bs WHERE x IS NOT NULL AND NOT x IN have] | CREATE (p)-[:MADE_BY]->(x))
FOREACH (x IN [x IN cs WHERE x IS NOT NULL AND NOT x IN have] | CREATE (p)-[:IN_CATEGORY]->(x))
FOREACH (x IN [x IN ats WHERE x IS NOT NULL AND NOT x IN have] | CREATE (p)-[:HAS_ATTRIBUTE]->(x))
RETURN mb, mc, ma, count(*) AS n
"""
_CATALOGUE_MERGE = _CATALOGUE.format(product="MERGE (p:Product {id: row.id})" + _PRODUCT_SET)
_CATALOGUE_MATCH = _CATALOGUE.format(product="MATCH (p:Product {id: row.id})")
# Products that are not in the store yet (most rows of a first load): CREATE rather than MERGE,
# and no old edges to read or compare. Replaying a first load's batches of the 100k synthetic
# catalogue into a fresh server: ~6.3k -> ~9.2k products/s for this statement; the whole
# catalogue phase, parsing and related links included, ~13% faster (docs/benchmarks.md,
# "Loading"). The caller has read which ids exist in the same transaction; the uniqueness
# constraint turns a concurrent writer's duplicate into an error.
_CATALOGUE_CREATE = _TARGETS + """
UNWIND $rows AS row
CREATE (p:Product) SET p = row.props
WITH p, row, B, C, A, mb, mc, ma
FOREACH (x IN [i IN row.b WHERE B[i][0] IS NOT NULL | B[i][0]] | CREATE (p)-[:MADE_BY]->(x))
FOREACH (x IN [i IN row.c WHERE C[i][0] IS NOT NULL | C[i][0]] | CREATE (p)-[:IN_CATEGORY]->(x))
FOREACH (x IN [i IN row.a WHERE A[i][0] IS NOT NULL | A[i][0]] | CREATE (p)-[:HAS_ATTRIBUTE]->(x))
RETURN mb, mc, ma, count(*) AS n
"""
_EXISTING_PRODUCTS = "UNWIND $ids AS id MATCH (p:Product {id: id}) RETURN collect(p.id) AS ids"

# Other relationships, grouped by source node (one index seek per source, not per row).
_EDGE_MERGE = """
UNWIND $groups AS g
MATCH (a:{src} {{id: g.src}})
UNWIND g.rows AS row
MATCH (b:{dst} {{id: row.dst}})
MERGE (a)-[r:{rel}{key}]->(b)
SET r += row.props
RETURN count(*) AS n
"""
# Relationships without properties (related products, SUBCATEGORY_OF): read the source's existing
# ones once and create the missing ones — about half the cost of a MERGE per row. Like the
# catalogue statement it takes no MERGE lock, so two writers adding the same new edge at the same
# moment could both create it; loads write from one thread.
_EDGE_ADD = """
UNWIND $groups AS g
MATCH (a:{src} {{id: g.src}})
WITH a, g.rows AS dsts, [(a)-[:{rel}]->(x) | x] AS have
UNWIND dsts AS dst
MATCH (b:{dst} {{id: dst}})
FOREACH (i IN CASE WHEN b IN have THEN [] ELSE [1] END | CREATE (a)-[:{rel}]->(b))
RETURN count(*) AS n
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
        # Built once, outside the transaction function (which the driver may run again on retry).
        statements = _plan(batch)
        with self.driver.session(database=self.database) as session:
            session.execute_write(_run_statements, statements)

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


# --- batch writes ---------------------------------------------------------------------------------

# One statement of a batch: Cypher, parameters, and a check of its one result record that raises
# KgError (rolling the whole batch back) when rows named missing endpoints. A step that first
# reads what the store holds is a function of the transaction instead.
_Statement = tuple[str, dict, "Callable[[neo4j.Record | None], None] | None"]
_Step = "_Statement | Callable[[neo4j.ManagedTransaction], None]"


def _run_statements(tx: neo4j.ManagedTransaction, statements: list[_Step]) -> None:
    for step in statements:
        if callable(step):
            step(tx)
            continue
        query, params, check = step
        result = tx.run(query, params)
        if check is None:
            result.consume()
        else:
            check(result.single(strict=False))


def _products_with_catalogue(rows: list[dict], now: str, lookups: dict) -> Callable:
    """The step that writes products and their catalogue edges: CREATE for the ids the store does
    not hold yet, MERGE (which also replaces stale edges) for the others. The split is read inside
    the transaction, so a retried transaction splits again."""

    def step(tx: neo4j.ManagedTransaction) -> None:
        found = set(tx.run(_EXISTING_PRODUCTS, ids=[row["id"] for row in rows]).single()["ids"])
        new, old = [], []
        for row in rows:
            # A repeated row of a new id MERGEs onto the node its first row created.
            (old if row["id"] in found else new).append(row)
            found.add(row["id"])
        if new:
            created = []
            for row in new:
                props = {**row["props"], "id": row["id"]}
                if props.get("text_hash") is not None:  # what _PRODUCT_SET gives a new node
                    props["updated_at"] = now
                created.append({"props": props, "b": row["b"], "c": row["c"], "a": row["a"]})
            _run_statements(tx, [(_CATALOGUE_CREATE, {"rows": created, **lookups},
                                  _catalogue_check(len(new)))])
        if old:
            _run_statements(tx, [(_CATALOGUE_MERGE, {"rows": old, "now": now, **lookups},
                                  _catalogue_check(len(old)))])

    return step


def _node_props(row: dict, drop: tuple[str, ...]) -> dict:
    return {k: v for k, v in row.items() if v is not None and k not in drop}


def _plan(batch: GraphBatch) -> list[_Step]:
    """The statements that apply ``batch``, in order: nodes other than products, products (with
    their catalogue edges when replaced), then the remaining relationships."""
    for label in batch.nodes:
        _check_label(label)
    for rel in batch.edges:
        rel_type(rel)
    statements: list[_Statement] = []
    replaced = dict.fromkeys(batch.replace_catalogue_edges)
    for label, rows in batch.nodes.items():
        if label == "Product" or not rows:
            continue
        if label == "Brand":
            params = [
                {"id": r["id"], "name": r.get("name"), "aliases": r.get("aliases") or [],
                 "props": _node_props(r, ("id", "aliases", "name"))}
                for r in rows
            ]
            statements.append((_BRAND_MERGE, {"rows": params}, None))
        else:
            params = [{"id": r["id"], "props": _node_props(r, ("id",))} for r in rows]
            statements.append((_NODE_MERGE.format(label=label), {"rows": params}, None))

    products = batch.nodes.get("Product", [])
    edges = dict(batch.edges)
    if replaced:
        targets = {pid: {rel: [] for rel in CATALOGUE_RELS} for pid in replaced}
        for rel in CATALOGUE_RELS:
            rest = []
            for row in edges.pop(rel, ()):
                if row["src"] in targets:
                    targets[row["src"]][rel].append(row["dst"])
                else:
                    rest.append(row)
            if rest:
                edges[rel] = rest
        # Distinct targets of each type, in first-seen order; product rows name them by position.
        index: dict[str, dict[str, int]] = {rel: {} for rel in CATALOGUE_RELS}

        def catalogue_row(pid: str) -> dict:
            row = {"id": pid}
            for rel, key in (("MADE_BY", "b"), ("IN_CATEGORY", "c"), ("HAS_ATTRIBUTE", "a")):
                positions = index[rel]
                row[key] = [positions.setdefault(dst, len(positions)) for dst in dict.fromkeys(targets[pid][rel])]
            return row

        merged = [{**catalogue_row(row["id"]), "props": _node_props(row, ("id",))}
                  for row in products if row["id"] in replaced]
        # Replaced products without a row in this batch must already exist (MATCH, not MERGE).
        in_batch = {row["id"] for row in products}
        matched = [catalogue_row(pid) for pid in replaced if pid not in in_batch]
        lookups = {"brands": list(index["MADE_BY"]), "categories": list(index["IN_CATEGORY"]),
                   "attributes": list(index["HAS_ATTRIBUTE"])}
        if merged:
            statements.append(_products_with_catalogue(merged, batch.now, lookups))
        if matched:
            statements.append((_CATALOGUE_MATCH, {"rows": matched, **lookups},
                               _catalogue_check(len(matched))))
        products = [row for row in products if row["id"] not in replaced]
    if products:
        params = [{"id": r["id"], "props": _node_props(r, ("id",))} for r in products]
        statements.append((_PRODUCT_MERGE, {"rows": params, "now": batch.now}, None))

    for rel, rows in edges.items():
        if rows:
            statements.append(_edge_statement(rel, rows))
    return statements


def _catalogue_check(expected: int) -> Callable[[neo4j.Record | None], None]:
    def check(record: neo4j.Record | None) -> None:
        missing = []
        if record is not None:
            for label, ids in (("Brand", record["mb"]), ("Category", record["mc"]), ("Attribute", record["ma"])):
                if ids:
                    missing.append(f"{label} {ids[:5]}" + (f" and {len(ids) - 5} more" if len(ids) > 5 else ""))
        found = 0 if record is None else record["n"]
        if found != expected:
            missing.append(f"Product: {expected - found} of {expected} replaced products")
        if missing:
            raise KgError("catalogue edges name missing endpoints: " + "; ".join(missing))

    return check


def _edge_statement(rel: str, rows: list[dict]) -> _Statement:
    rt = REL_TYPES[rel]
    groups: dict[str, list] = {}
    if not rt.key_props and all(len(row) == 2 for row in rows):  # only src and dst
        for row in rows:
            groups.setdefault(row["src"], {})[row["dst"]] = None
        params = [{"src": src, "rows": list(dsts)} for src, dsts in groups.items()]
        query = _EDGE_ADD.format(src=rt.src, dst=rt.dst, rel=rel)
        expected = sum(len(g["rows"]) for g in params)
    else:
        key = "{" + ", ".join(f"{p}: row.key.{p}" for p in rt.key_props) + "}" if rt.key_props else ""
        for row in rows:
            groups.setdefault(row["src"], []).append({
                "dst": row["dst"],
                "key": {p: row.get(p) for p in rt.key_props},
                "props": {k: v for k, v in row.items() if k not in ("src", "dst") and v is not None},
            })
        params = [{"src": src, "rows": group} for src, group in groups.items()]
        query = _EDGE_MERGE.format(src=rt.src, dst=rt.dst, rel=rel, key=key)
        expected = len(rows)

    def check(record: neo4j.Record | None) -> None:
        found = 0 if record is None else record["n"]
        if found != expected:
            raise KgError(f"{rel}: {expected - found} of {expected} rows name a missing endpoint")

    return query, {"groups": params}, check


def open_neo4j(uri: str, user: str, password: str, database: str = "neo4j") -> Neo4jStore:
    """Connect, with Neo4jError turned into StoreUnavailableError for the CLI."""
    try:
        return Neo4jStore(uri, user, password, database=database)
    except Neo4jError as exc:
        raise StoreUnavailableError(f"Neo4j at {uri}: {exc}") from exc

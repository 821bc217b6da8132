"""Model output written back to Neo4j: product embeddings (vector index) and RECOMMENDED edges.

The refresh job calls these after computing a bundle, so analysts can explore embeddings and
recommendations in Neo4j Browser (``db.index.vector.queryNodes('product_embedding', …)``). Each
batch is one transaction (UNWIND over parameter rows, never formatted Cypher): a job killed
half-way leaves every product with either its old or its new embedding and every user with either
the old or the new list of RECOMMENDED edges, never a mix, and a re-run rewrites them.
Only Neo4j is written: the embedded store keeps embeddings in the model bundle alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from kg.schema import VECTOR_INDEX

log = logging.getLogger(__name__)

EMBEDDING_BATCH = 2000
RECOMMENDATION_BATCH = 500

_SET_EMBEDDINGS = """
UNWIND $rows AS row
MATCH (p:Product {id: row.id})
SET p.embedding = row.v, p.embedding_version = $version
RETURN count(p) AS n
"""

# Old edges of a user are deleted and the new ones created in the same transaction.
_REPLACE_RECOMMENDED = """
UNWIND $rows AS row
MATCH (u:User {id: row.user})
CALL (u) {
  MATCH (u)-[old:RECOMMENDED]->()
  DELETE old
}
WITH u, row
UNWIND row.items AS item
MATCH (p:Product {id: item.id})
CREATE (u)-[:RECOMMENDED {score: item.score, rank: item.rank, model_version: $version}]->(p)
RETURN count(*) AS n
"""


def _write(store, query: str, batches: Iterable[list[dict]], version: str, total: int,
           desc: str, progress: bool) -> int:
    written = 0
    with tqdm(total=total, desc=desc, unit="row", disable=not progress, leave=False) as bar:
        for rows in batches:
            records, _, _ = store.driver.execute_query(
                query, rows=rows, version=version, database_=store.database)
            written += records[0]["n"] if records else 0
            bar.update(len(rows))
    return written


def _chunks(rows: Sequence[dict], size: int) -> Iterable[list[dict]]:
    for i in range(0, len(rows), size):
        yield list(rows[i : i + size])


def vector_index_dimensions(store) -> int | None:
    """The dimension of the ``product_embedding`` index, or None when there is none."""
    records, _, _ = store.driver.execute_query(
        "SHOW VECTOR INDEXES YIELD name, options WHERE name = $name RETURN options",
        name=VECTOR_INDEX, database_=store.database)
    if not records:
        return None
    config = (records[0]["options"] or {}).get("indexConfig") or {}
    dim = config.get("vector.dimensions")
    return None if dim is None else int(dim)


def ensure_vector_index(store, dim: int) -> bool:
    """Make the vector index match ``dim`` (the schema creates it with a default dimension).

    Returns:
        True when the index was (re)created.
    """
    current = vector_index_dimensions(store)
    if current == int(dim):
        return False
    if current is not None:
        log.info("vector index %s has %d dimensions, the model %d: recreating it", VECTOR_INDEX,
                 current, dim)
        store.driver.execute_query(f"DROP INDEX {VECTOR_INDEX} IF EXISTS", database_=store.database)
    store.ensure_schema(embedding_dim=int(dim))
    return True


def products_without_embedding(store) -> set[str]:
    """Ids of products with no stored embedding (new ones, or never written)."""
    records, _, _ = store.driver.execute_query(
        "MATCH (p:Product) WHERE p.embedding IS NULL RETURN p.id AS id", database_=store.database)
    return {r["id"] for r in records}


def write_embeddings(store, ids: Sequence[str], vectors: np.ndarray, version: str, *,
                     batch_size: int = EMBEDDING_BATCH, progress: bool = False) -> int:
    """Set ``Product.embedding`` (and ``embedding_version``) for ``ids``; returns products set."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
    if len(ids):
        ensure_vector_index(store, vectors.shape[1])
    rows = [{"id": pid, "v": vec.tolist()} for pid, vec in zip(ids, vectors)]
    return _write(store, _SET_EMBEDDINGS, _chunks(rows, batch_size), version, len(rows),
                  "write embeddings", progress)


def replace_recommendations(store, recommendations: Mapping[str, Sequence[tuple[str, float]]],
                            version: str, *, batch_size: int = RECOMMENDATION_BATCH,
                            progress: bool = False) -> int:
    """Replace each named user's RECOMMENDED edges by ``[(product id, score), …]`` (best first).

    Returns:
        Edges created.
    """
    rows = [{"user": user, "items": [{"id": pid, "score": float(score), "rank": rank}
                                     for rank, (pid, score) in enumerate(items, 1)]}
            for user, items in recommendations.items()]
    return _write(store, _REPLACE_RECOMMENDED, _chunks(rows, batch_size), version, len(rows),
                  "write recommendations", progress)

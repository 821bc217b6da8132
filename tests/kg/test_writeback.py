"""Write-back of model output to the real Neo4j: embeddings in the vector index, RECOMMENDED edges."""

from __future__ import annotations

import numpy as np
import pytest

from kg.ingest import load_dir
from kg.schema import VECTOR_INDEX
from kg.writeback import (
    ensure_vector_index,
    products_without_embedding,
    replace_recommendations,
    vector_index_dimensions,
    write_embeddings,
)

pytestmark = pytest.mark.neo4j


@pytest.fixture
def loaded(neo4j_store, toy_dir):
    load_dir(neo4j_store, toy_dir)
    return neo4j_store


def _ids(store):
    return [row[0] for row in store.iter_nodes("Product", ())]


def test_embeddings_land_in_the_vector_index_with_the_model_dimension(loaded):
    store = loaded
    ids = _ids(store)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(ids), 8)).astype(np.float32)
    ensure_vector_index(store, 64)  # as a fresh schema makes it (other tests may resize it)
    assert vector_index_dimensions(store) == 64
    assert products_without_embedding(store) == set(ids)
    assert write_embeddings(store, ids, vectors, "v1") == len(ids)
    assert vector_index_dimensions(store) == 8  # recreated for the model's dimension
    assert products_without_embedding(store) == set()
    store.driver.execute_query("CALL db.awaitIndexes(60)")
    records, _, _ = store.driver.execute_query(
        "MATCH (p:Product {id: $id}) "
        "CALL db.index.vector.queryNodes($index, 2, p.embedding) YIELD node, score "
        "RETURN node.id AS id, node.embedding_version AS version, score",
        id=ids[0], index=VECTOR_INDEX)
    assert records[0]["id"] == ids[0] and records[0]["score"] == pytest.approx(1.0, abs=1e-3)  # approximate index
    assert records[0]["version"] == "v1"
    nearest = int(np.argmax([v @ vectors[0] / np.linalg.norm(v) for v in vectors[1:]])) + 1
    assert records[1]["id"] == ids[nearest]
    assert not ensure_vector_index(store, 8)  # already right: left alone


def test_recommendations_replace_a_users_old_edges_in_one_write(loaded):
    store = loaded
    ids = _ids(store)
    users = [row[0] for row in store.iter_nodes("User", ())]
    first = {users[0]: [(ids[0], 0.9), (ids[1], 0.5)], users[1]: [(ids[2], 0.7)]}
    assert replace_recommendations(store, first, "v1") == 3
    second = {users[0]: [(ids[3], 0.8)], users[1]: []}
    assert replace_recommendations(store, second, "v2") == 1
    rows = list(store.iter_edges("RECOMMENDED", ("rank", "score", "model_version")))
    assert rows == [(users[0], ids[3], 1, pytest.approx(0.8), "v2")]
    # a user that the graph does not hold is ignored, nothing else changes
    assert replace_recommendations(store, {"nobody": [(ids[0], 1.0)]}, "v3") == 0
    assert len(list(store.iter_edges("RECOMMENDED"))) == 1


def test_write_embeddings_checks_lengths(loaded):
    with pytest.raises(ValueError, match="2 ids but 1 vectors"):
        write_embeddings(loaded, ["a", "b"], np.zeros((1, 4)), "v1")

"""Tests of llm.encode_nodes.encode_graph_texts: every node's vector, through the cache."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from llm.cache import EmbeddingCache
from llm.encode_nodes import EncodeStats, encode_graph_texts
from llm.errors import InvalidInputError
from llm.texts import node_text


@pytest.fixture(scope="module")
def graph(product_fields) -> dict[str, list[dict]]:
    products = product_fields[:60]
    brands = sorted({p["brand"] for p in products if p["brand"]})
    return {
        "Product": copy.deepcopy(products),
        "Brand": [{"name": b} for b in brands],
        "Category": [{"name": "Staples", "path": ["Industrial & Scientific", "Fasteners"]}],
        "Attribute": [{"key": "price_band", "value": "10-20"}],
        "User": [{"id": "u1"}, {"id": "u2"}],
    }


def test_vectors_per_label_in_node_order(graph, encoder):
    vectors, stats = encode_graph_texts(graph, encoder, None, progress=False)
    assert set(vectors) == set(graph)
    for label, fields in graph.items():
        assert vectors[label].shape == (len(fields), encoder.dim)
        assert vectors[label].dtype == np.float32
    np.testing.assert_array_equal(vectors["User"], 0)  # users have no text
    first = node_text("Product", graph["Product"][0])
    # Same vector as encoding the text alone (bf16 on CPU: batch shape moves the 4th digit).
    assert float(vectors["Product"][0] @ encoder.encode(first)) > 0.9999
    np.testing.assert_allclose(np.linalg.norm(vectors["Brand"], axis=1), 1.0, atol=1e-4)
    assert stats.nodes == sum(len(f) for f in graph.values())
    assert stats.texts == stats.nodes - 2
    assert (stats.hits, stats.misses) == (0, stats.unique)


def test_changing_one_title_reencodes_exactly_that_product(graph, encoder, tmp_path):
    cache = EmbeddingCache(tmp_path)
    first, stats1 = encode_graph_texts(graph, encoder, cache, progress=False)
    assert stats1.hits == 0 and stats1.misses == stats1.unique

    changed = copy.deepcopy(graph)
    changed["Product"][7]["title"] = "Completely new title for product seven"
    second, stats2 = encode_graph_texts(changed, encoder, EmbeddingCache(tmp_path), progress=False)
    assert stats2.misses == 1
    assert stats2.hits == stats2.unique - 1
    others = np.arange(len(graph["Product"])) != 7
    np.testing.assert_array_equal(second["Product"][others], first["Product"][others])
    assert float(second["Product"][7] @ first["Product"][7]) < 0.99
    for label in ("Brand", "Category", "Attribute", "User"):
        np.testing.assert_array_equal(second[label], first[label])

    third, stats3 = encode_graph_texts(changed, encoder, EmbeddingCache(tmp_path), progress=False)
    assert (stats3.hits, stats3.misses) == (stats3.unique, 0)


def test_equal_texts_are_encoded_once(encoder):
    graph = {"Brand": [{"name": "Stanley"}, {"name": "Stanley"}, {"name": ""}], "User": []}
    vectors, stats = encode_graph_texts(graph, encoder, None, progress=False)
    assert (stats.texts, stats.unique, stats.misses) == (2, 1, 1)
    np.testing.assert_array_equal(vectors["Brand"][0], vectors["Brand"][1])
    np.testing.assert_array_equal(vectors["Brand"][2], 0)
    assert vectors["User"].shape == (0, encoder.dim)


def test_progress_bar_and_summary(encoder, capsys):
    _, stats = encode_graph_texts({"Brand": [{"name": "Hosa"}]}, encoder, None, progress=True)
    assert "encode texts" in capsys.readouterr().err
    line = stats.summary()
    assert "1 texts" in line and "1 encoded" in line and encoder.model_id in line
    assert "\n" not in line
    assert EncodeStats(texts=10, seconds=2.0).texts_per_second == 5.0
    assert EncodeStats().texts_per_second == 0.0


def test_unknown_label_is_refused(encoder):
    with pytest.raises(InvalidInputError, match="Shop"):
        encode_graph_texts({"Shop": [{"name": "x"}]}, encoder, None, progress=False)

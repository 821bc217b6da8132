"""Tests of llm.encoder.TextEncoder: same vectors as sentence-transformers, errors, queries."""

from __future__ import annotations

import numpy as np
import pytest

from llm.encoder import TextEncoder, default_model_path
from llm.errors import InvalidInputError, ModelLoadError
from llm.texts import product_text

N_COMPARE = 1000


@pytest.fixture(scope="module")
def real_texts(product_fields) -> list[str]:
    texts = [product_text(f) for f in product_fields]
    return [t for t in texts if t][:N_COMPARE]


@pytest.fixture(scope="module")
def reference(real_texts, offline) -> np.ndarray:
    """sentence-transformers' vectors of the real texts, from the same model folder."""
    sentence_transformers = pytest.importorskip("sentence_transformers")
    model = sentence_transformers.SentenceTransformer(str(default_model_path()), device="cpu")
    return model.encode(real_texts, batch_size=32, convert_to_numpy=True)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_vectors_match_sentence_transformers_on_1000_real_texts(encoder, real_texts, reference):
    assert len(real_texts) == N_COMPARE
    ours = encoder.encode(real_texts)
    assert ours.shape == (N_COMPARE, 384) and ours.dtype == np.float32
    assert _cosine(ours, reference).min() >= 0.999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)


def test_float32_path_matches_sentence_transformers_exactly(real_texts, reference, offline):
    exact = TextEncoder(device="cpu", dtype="float32")
    ours = exact.encode(real_texts[:200], batch_size=16)
    assert _cosine(ours, reference[:200]).min() >= 0.99999


def test_order_is_restored_and_batch_size_does_not_matter(encoder, real_texts):
    texts = real_texts[:40] + ["", "x"]
    forward = encoder.encode(texts, batch_size=7)
    backward = encoder.encode(texts[::-1], batch_size=64)[::-1]
    assert _cosine(forward, backward).min() >= 0.9999


def test_shapes_for_one_text_and_for_no_text(encoder):
    one = encoder.encode("nitrile gloves")
    assert one.shape == (encoder.dim,) and one.dtype == np.float32
    assert encoder.encode([]).shape == (0, encoder.dim)
    assert encoder.encode_query(["a", "b"]).shape == (2, encoder.dim)


def test_progress_callback_counts_every_text(encoder):
    done = []
    encoder.encode(["a", "bb", "ccc"], batch_size=2, callback=done.append)
    assert sum(done) == 3


def test_default_model_and_model_id(encoder):
    assert default_model_path().name == "model"
    assert encoder.dim == 384
    assert encoder.model_id.startswith("all-MiniLM-L6-v2-")
    assert encoder.model_id == TextEncoder(device="cpu").model_id  # stable across loads
    assert TextEncoder(device="cpu", max_length=128).model_id != encoder.model_id
    assert str(encoder.device) == "cpu"


def test_any_local_folder_can_be_given(encoder, offline):
    again = TextEncoder(str(default_model_path()), device="cpu")
    assert again.model_id == encoder.model_id.replace("all-MiniLM-L6-v2", "model")
    np.testing.assert_allclose(again.encode("tape"), encoder.encode("tape"), atol=1e-6)


def test_wrong_model_path_names_the_path(tmp_path, offline):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match="no-such-model") as info:
        TextEncoder(str(missing), device="cpu")
    assert info.value.path == str(missing)


def test_folder_that_is_not_a_model_names_the_path(tmp_path, offline):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match="not a model folder") as info:
        TextEncoder(str(tmp_path), device="cpu")
    assert str(tmp_path) in str(info.value)


def test_broken_model_folder_names_the_path(tmp_path, offline):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError) as info:
        TextEncoder(str(tmp_path), device="cpu")
    assert info.value.path == str(tmp_path) and str(tmp_path) in str(info.value)


def test_unknown_hub_name_without_network(offline):
    with pytest.raises(ModelLoadError, match="nobody/no-such-model"):
        TextEncoder("nobody/no-such-model", device="cpu")


def test_invalid_arguments(encoder):
    with pytest.raises(InvalidInputError):
        encoder.encode(["ok", 3])
    with pytest.raises(InvalidInputError):
        encoder.encode(["ok"], batch_size=0)
    with pytest.raises(InvalidInputError):
        TextEncoder(device="cpu", dtype="int8")
    with pytest.raises(InvalidInputError):
        TextEncoder(device="cpu", max_length=0)


PRODUCTS = [
    "Digital caliper, stainless steel, 0-6 inch, LCD display, measures inside and outside",
    "Nitrile examination gloves, powder free, box of 100, size large",
    "Gaffer tape, black, 2 inch x 30 yards, leaves no residue",
    "pH meter with automatic calibration for water, pool and aquarium testing",
    "Cordless drill driver 20V with two lithium-ion batteries and charger",
]
QUERIES = {
    "instrument to measure the thickness of a metal part precisely": 0,
    "disposable gloves for lab work": 1,
    "sticky tape for stage cables": 2,
    "check the acidity of my fish tank water": 3,
    "battery powered tool to drill holes in wood": 4,
}


def test_queries_land_next_to_the_matching_product(encoder):
    products = encoder.encode(PRODUCTS)
    for query, expected in QUERIES.items():
        scores = products @ encoder.encode_query(query)
        assert int(np.argmax(scores)) == expected, (query, scores)
    np.testing.assert_allclose(encoder.encode_query(" tape "), encoder.encode("tape"), atol=1e-6)

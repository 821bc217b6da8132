"""Tests of llm.cache.EmbeddingCache: hits/misses, reload from disk, concurrent writers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from llm.cache import EmbeddingCache, text_key
from llm.errors import CacheError

REPO = Path(__file__).resolve().parents[2]
MODEL, VERSION, DIM = "toy-model@abc", "1", 8


def _vectors(texts: list[str]) -> np.ndarray:
    """Deterministic stand-in vectors: row i depends only on the text."""
    seeds = [int.from_bytes(text_key(t)[:4], "little") for t in texts]
    return np.stack([np.random.default_rng(s).standard_normal(DIM) for s in seeds]).astype(
        np.float32
    )


def test_lookup_counts_hits_and_misses(tmp_path):
    cache = EmbeddingCache(tmp_path)
    texts = ["a", "b", "c"]
    keys = [text_key(t) for t in texts]
    found, vectors = cache.lookup(MODEL, VERSION, keys)
    assert not found.any() and vectors is None
    assert (cache.hits, cache.misses) == (0, 3)
    cache.put(MODEL, VERSION, keys[:2], _vectors(texts[:2]))
    found, vectors = cache.lookup(MODEL, VERSION, keys)
    assert found.tolist() == [True, True, False]
    np.testing.assert_array_equal(vectors[:2], _vectors(texts[:2]))
    np.testing.assert_array_equal(vectors[2], 0)
    assert (cache.hits, cache.misses) == (2, 4)


def test_survives_a_reload_from_disk(tmp_path):
    texts = [f"text {i}" for i in range(50)]
    keys = [text_key(t) for t in texts]
    EmbeddingCache(tmp_path).put(MODEL, VERSION, keys, _vectors(texts))
    fresh = EmbeddingCache(tmp_path)
    found, vectors = fresh.lookup(MODEL, VERSION, keys)
    assert found.all()
    np.testing.assert_array_equal(vectors, _vectors(texts))
    assert fresh.count(MODEL, VERSION) == 50


def test_namespaces_are_separate(tmp_path):
    cache = EmbeddingCache(tmp_path)
    keys = [text_key("same text")]
    cache.put(MODEL, VERSION, keys, _vectors(["same text"]))
    assert not cache.lookup(MODEL, "2", keys)[0].any()
    assert not cache.lookup("other/model", VERSION, keys)[0].any()
    assert cache.folder("a/b", "1") != cache.folder("a_b", "1")


def test_files_are_npz_without_pickle(tmp_path):
    cache = EmbeddingCache(tmp_path)
    shard = cache.put(MODEL, VERSION, [text_key("x")], _vectors(["x"]))
    with np.load(shard, allow_pickle=False) as data:
        assert data["keys"].dtype == np.uint8 and data["keys"].shape == (1, 32)
        assert data["vectors"].dtype == np.float32 and data["vectors"].shape == (1, DIM)
    assert not list(shard.parent.glob(".tmp-*"))


def test_many_puts_are_compacted_without_loss(tmp_path):
    cache = EmbeddingCache(tmp_path, compact_above=3)
    texts = [f"t{i}" for i in range(20)]
    for text in texts:
        cache.put(MODEL, VERSION, [text_key(text)], _vectors([text]))
    folder = cache.folder(MODEL, VERSION)
    assert len(list(folder.glob("shard-*.npz"))) <= 4
    found, vectors = EmbeddingCache(tmp_path).lookup(MODEL, VERSION, [text_key(t) for t in texts])
    assert found.all()
    np.testing.assert_array_equal(vectors, _vectors(texts))


def test_bad_shapes_and_dimensions_are_refused(tmp_path):
    cache = EmbeddingCache(tmp_path)
    with pytest.raises(CacheError):
        cache.put(MODEL, VERSION, [text_key("a")], np.zeros((2, DIM), np.float32))
    with pytest.raises(CacheError):
        cache.put(MODEL, VERSION, [b"short"], np.zeros((1, DIM), np.float32))
    cache.put(MODEL, VERSION, [text_key("a")], np.zeros((1, DIM), np.float32))
    with pytest.raises(CacheError, match="dim"):
        cache.put(MODEL, VERSION, [text_key("b")], np.zeros((1, DIM + 1), np.float32))
    assert cache.put(MODEL, VERSION, [], np.zeros((0, DIM), np.float32)) is None


def test_unreadable_shard_is_skipped(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put(MODEL, VERSION, [text_key("a")], _vectors(["a"]))
    (cache.folder(MODEL, VERSION) / "shard-0-0-broken.npz").write_bytes(b"not a zip")
    found, _ = EmbeddingCache(tmp_path).lookup(MODEL, VERSION, [text_key("a")])
    assert found.all()


WRITER = """
import sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, {tests!r})
from test_cache import MODEL, VERSION, _vectors
from llm.cache import EmbeddingCache, text_key
root, name, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
cache = EmbeddingCache(root, compact_above=3)
for step in range(40):
    texts = [f"{{name}}-{{step}}-{{i}}" for i in range(5)]
    cache.put(MODEL, VERSION, [text_key(t) for t in texts], _vectors(texts))
"""


def test_two_concurrent_writer_processes_keep_all_vectors(tmp_path):
    root, go = tmp_path / "cache", tmp_path / "go"
    script = WRITER.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(root), name, str(go)], env=env)
        for name in ("left", "right")
    ]
    time.sleep(0.5)  # let both start and wait at the barrier
    go.touch()
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    texts = [f"{n}-{s}-{i}" for n in ("left", "right") for s in range(40) for i in range(5)]
    found, vectors = EmbeddingCache(root).lookup(MODEL, VERSION, [text_key(t) for t in texts])
    assert found.all(), f"{(~found).sum()} of {len(texts)} vectors lost"
    np.testing.assert_array_equal(vectors, _vectors(texts))
    folder = EmbeddingCache(root).folder(MODEL, VERSION)
    assert not list(folder.glob(".tmp-*"))

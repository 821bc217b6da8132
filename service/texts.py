"""Read a snapshot (from a data folder or the configured store) and its text vectors.

Shared by the commands that need both (`kgrec encode`, `train`, `evaluate`), so they read and
encode the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kg.ingest import load_dir
from kg.snapshot import GraphSnapshot, export_snapshot
from kg.store_nx import NetworkxStore
from service.config import Config
from service.stores import open_store


def read_snapshot(config: Config, data_dir: Path | None = None, *, progress: bool = False) -> GraphSnapshot:
    """The snapshot of ``data_dir`` (loaded into memory) or, without it, of the configured store."""
    if data_dir is not None:
        store = NetworkxStore(None)
        load_dir(store, data_dir, progress=progress)
    else:
        store = open_store(config)
    try:
        return export_snapshot(store)
    finally:
        store.close()


def encode_snapshot(config: Config, snapshot: GraphSnapshot, *, labels=None, progress: bool = False,
                    batch_size: int | None = None, num_threads: int | None = None,
                    use_cache: bool = True):
    """``(vectors, stats, model_id)``: label -> float32 text vectors through the content cache."""
    from llm.cache import EmbeddingCache
    from llm.encode_nodes import encode_graph_texts
    from llm.encoder import TextEncoder

    encoder = TextEncoder(config.model, device=None if config.device == "auto" else config.device,
                          batch_size=batch_size, num_threads=num_threads)
    fields = {label: snapshot.node_fields[label] for label in (labels or snapshot.node_fields)}
    cache = EmbeddingCache(config.text_cache_dir) if use_cache else None
    vectors, stats = encode_graph_texts(fields, encoder, cache, progress=progress)
    return vectors, stats, encoder.model_id


def save_vectors(path: Path, snapshot: GraphSnapshot, vectors: dict[str, np.ndarray]) -> None:
    """Vectors as one .npz: an array per label plus ``<label>_ids``."""
    arrays = {f"{label}": v for label, v in vectors.items()}
    arrays.update({f"{label}_ids": np.array(snapshot.node_ids[label]) for label in vectors})
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)

"""Encode the text of every graph node through the content cache (what `kgrec encode` runs)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from llm.cache import EmbeddingCache, text_key
from llm.encoder import TextEncoder
from llm.texts import TEXT_VERSION, node_text

#: Texts encoded between two cache writes: a crash loses at most this much work.
CHUNK_SIZE = 4096


@dataclass
class EncodeStats:
    """What one `encode_graph_texts` call did.

    Attributes:
        nodes: Nodes seen, all labels (User nodes and nodes without text included).
        texts: Nodes that have a text.
        unique: Distinct texts among them (equal texts are encoded once).
        hits: Distinct texts found in the cache.
        misses: Distinct texts encoded by the model (and stored in the cache).
        seconds: Wall time of the whole call (texts, cache, model).
        model_id: The encoder's model id.
        text_version: `llm.texts.TEXT_VERSION` used.
        per_label: Nodes per label.
    """

    nodes: int = 0
    texts: int = 0
    unique: int = 0
    hits: int = 0
    misses: int = 0
    seconds: float = 0.0
    model_id: str = ""
    text_version: str = TEXT_VERSION
    per_label: dict[str, int] = field(default_factory=dict)

    @property
    def texts_per_second(self) -> float:
        """Node texts served per second of wall time (cache hits included)."""
        return self.texts / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{self.texts:,} texts ({self.unique:,} unique) of {self.nodes:,} nodes: "
            f"{self.hits:,} cache hits, {self.misses:,} encoded in {self.seconds:.1f} s "
            f"({self.texts_per_second:,.0f} texts/s; "
            f"model {self.model_id}, text v{self.text_version})"
        )


def encode_graph_texts(
    node_fields: Mapping[str, Sequence[Mapping]],
    encoder: TextEncoder,
    cache: EmbeddingCache | None,
    *,
    progress: bool = True,
) -> tuple[dict[str, np.ndarray], EncodeStats]:
    """Text vectors of every node, encoding only texts the cache does not hold.

    Args:
        node_fields: Label → the fields dicts of that label's nodes, in node order (as
            `kg.snapshot` gives them); labels as in `llm.texts.node_text`.
        encoder: The text encoder.
        cache: Where vectors are looked up and stored; None encodes everything.
        progress: Show a tqdm bar (stderr) over the texts to encode.

    Returns:
        ``(vectors, stats)``: label → float32 [n_label, dim] in the order of `node_fields`
        (unit rows; zero rows for nodes without text, e.g. every User), and the stats.

    Raises:
        InvalidInputError: For an unknown label.
    """
    start = time.perf_counter()
    stats = EncodeStats(model_id=encoder.model_id, text_version=TEXT_VERSION)
    texts_by_label: dict[str, list[str | None]] = {}
    unique: dict[str, int] = {}
    for label, fields in node_fields.items():
        texts = [node_text(label, f) for f in fields]
        texts_by_label[label] = texts
        stats.per_label[label] = len(texts)
        for text in texts:
            if text is not None:
                stats.texts += 1
                unique.setdefault(text, len(unique))
    stats.nodes = sum(stats.per_label.values())
    stats.unique = len(unique)

    distinct = list(unique)
    keys = [text_key(t) for t in distinct]
    vectors = np.zeros((len(distinct), encoder.dim), dtype=np.float32)
    found = np.zeros(len(distinct), dtype=bool)
    if cache is not None and distinct:
        found, cached = cache.lookup(encoder.model_id, TEXT_VERSION, keys)
        if cached is not None:
            vectors[found] = cached[found]
    missing = np.flatnonzero(~found)
    stats.hits = len(distinct) - len(missing)
    stats.misses = len(missing)
    if len(missing):
        _encode_missing(distinct, keys, missing, vectors, encoder, cache, progress)

    out = {}
    for label, texts in texts_by_label.items():
        rows = np.zeros((len(texts), encoder.dim), dtype=np.float32)
        where = [i for i, t in enumerate(texts) if t is not None]
        if where:
            rows[where] = vectors[[unique[texts[i]] for i in where]]
        out[label] = rows
    stats.seconds = time.perf_counter() - start
    return out, stats


def _encode_missing(
    distinct: list[str],
    keys: list[bytes],
    missing: np.ndarray,
    vectors: np.ndarray,
    encoder: TextEncoder,
    cache: EmbeddingCache | None,
    progress: bool,
) -> None:
    """Encodes distinct[missing] into vectors[missing], storing each chunk in the cache."""
    from tqdm.auto import tqdm

    # Longest first, so each chunk holds texts of similar length (little padding).
    missing = sorted(missing.tolist(), key=lambda i: -len(distinct[i]))
    with tqdm(total=len(missing), desc="encode texts", unit="text", disable=not progress) as bar:
        for begin in range(0, len(missing), CHUNK_SIZE):
            chunk = missing[begin : begin + CHUNK_SIZE]
            encoded = encoder.encode([distinct[i] for i in chunk], callback=bar.update)
            vectors[chunk] = encoded
            if cache is not None:
                cache.put(encoder.model_id, TEXT_VERSION, [keys[i] for i in chunk], encoded)

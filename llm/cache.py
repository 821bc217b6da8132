"""Content cache of text vectors on disk, keyed by (model id, text version, sha256 of the text)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from llm.errors import CacheError

log = logging.getLogger(__name__)

_SHARD_GLOB = "shard-*.npz"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_STALE_TMP_SECONDS = 3600.0


def text_key(text: str) -> bytes:
    """The 32-byte sha256 digest of `text` (UTF-8) that the cache stores vectors under."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Vectors of texts already encoded, so a re-run encodes only new or changed texts.

    Layout: ``<root>/<model id>__<text version>/shard-<ns>-<pid>-<rand>.npz``. Each `put`
    writes one new shard (``keys`` uint8 [n, 32] sha256 digests, ``vectors`` float32 [n, dim]):
    first to a temporary file in the same folder, then `os.replace`, so readers never see a
    half-written file and concurrent writers never touch each other's files. When a folder
    holds more than `compact_above` shards, `put` merges them into one the same way and then
    deletes only the shards it has read and merged; a shard another process deletes meanwhile
    is skipped (its vectors are in that process's merged shard). No pickle anywhere.

    Args:
        root: Cache folder; created when missing.
        compact_above: Merge the shards of a namespace when there are more than this many.

    Attributes:
        hits: Keys found by `lookup` since construction.
        misses: Keys not found by `lookup` since construction.
    """

    def __init__(self, root: str | os.PathLike, *, compact_above: int = 16) -> None:
        self.root = Path(root)
        self.compact_above = compact_above
        self.hits = 0
        self.misses = 0
        self._loaded: dict[Path, tuple[dict[bytes, int], np.ndarray]] = {}

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r}, hits={self.hits}, misses={self.misses})"

    def folder(self, model_id: str, text_version: str) -> Path:
        """The folder holding the shards of one (model id, text version) namespace."""
        raw = f"{model_id}__{text_version}"
        safe = _UNSAFE.sub("_", raw)
        if safe != raw:  # keep ids that differ only in unsafe characters apart
            safe += "-" + hashlib.sha256(raw.encode()).hexdigest()[:8]
        return self.root / safe

    def lookup(
        self, model_id: str, text_version: str, keys: Sequence[bytes]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Finds cached vectors; counts hits and misses.

        Args:
            model_id: The encoder's `model_id`.
            text_version: `llm.texts.TEXT_VERSION` (or any version string of the texts).
            keys: sha256 digests from `text_key`, n of them.

        Returns:
            ``(found, vectors)``: bool [n], and float32 [n, dim] with zero rows where not found
            (None when the namespace holds nothing yet).
        """
        index, matrix = self._namespace(self.folder(model_id, text_version))
        rows = np.fromiter((index.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        found = rows >= 0
        hits = int(found.sum())
        self.hits += hits
        self.misses += len(keys) - hits
        if matrix.shape[0] == 0:
            return found, None
        vectors = np.zeros((len(keys), matrix.shape[1]), dtype=np.float32)
        vectors[found] = matrix[rows[found]]
        return found, vectors

    def put(
        self, model_id: str, text_version: str, keys: Sequence[bytes], vectors: np.ndarray
    ) -> Path | None:
        """Stores vectors (one new shard on disk); merges shards when there are too many.

        Args:
            model_id: The encoder's `model_id`.
            text_version: Version string of the texts.
            keys: sha256 digests from `text_key`, n of them.
            vectors: float32 [n, dim].

        Returns:
            The shard written, or None when `keys` is empty.

        Raises:
            CacheError: When shapes disagree or dim differs from vectors already cached.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(keys):
            raise CacheError(f"need vectors [{len(keys)}, dim], got {list(vectors.shape)}")
        if not len(keys):
            return None
        if any(len(k) != 32 for k in keys):
            raise CacheError("keys must be 32-byte sha256 digests (see text_key)")
        folder = self.folder(model_id, text_version)
        index, matrix = self._namespace(folder)
        if matrix.shape[0] and matrix.shape[1] != vectors.shape[1]:
            raise CacheError(
                f"{folder} holds {matrix.shape[1]}-dim vectors, got {vectors.shape[1]}-dim"
            )
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 32)
        folder.mkdir(parents=True, exist_ok=True)
        shard = _write_shard(folder, key_array, vectors)
        self._loaded[folder] = _merge(index, matrix, key_array, vectors)
        if len(list(folder.glob(_SHARD_GLOB))) > self.compact_above:
            self.compact(model_id, text_version)
        return shard

    def compact(self, model_id: str, text_version: str) -> None:
        """Merges all shards of a namespace into one; safe while other processes write."""
        folder = self.folder(model_id, text_version)
        read, keys, vectors = _read_folder(folder)
        if len(read) <= 1:
            return
        _write_shard(folder, keys, vectors)
        for path in read:
            path.unlink(missing_ok=True)
        now = time.time()
        for tmp in folder.glob(".tmp-*"):
            try:
                if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                    tmp.unlink(missing_ok=True)
            except OSError:
                pass

    def reload(self) -> None:
        """Forgets what was read, so the next lookup sees shards other processes wrote since."""
        self._loaded.clear()

    def count(self, model_id: str, text_version: str) -> int:
        """Number of distinct texts cached in a namespace."""
        return len(self._namespace(self.folder(model_id, text_version))[0])

    def _namespace(self, folder: Path) -> tuple[dict[bytes, int], np.ndarray]:
        if folder not in self._loaded:
            _, keys, vectors = _read_folder(folder)
            self._loaded[folder] = _merge({}, np.zeros((0, 0), np.float32), keys, vectors)
        return self._loaded[folder]


def _write_shard(folder: Path, keys: np.ndarray, vectors: np.ndarray) -> Path:
    """Writes keys [n, 32] uint8 and vectors [n, dim] float32 to a new shard, atomically."""
    name = f"shard-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.npz"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, keys=keys, vectors=vectors)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder / name


def _read_folder(folder: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Reads every shard of `folder`: (shards read, keys [n, 32] uint8, vectors [n, dim])."""
    read, key_parts, vector_parts = [], [], []
    for path in sorted(folder.glob(_SHARD_GLOB)) if folder.is_dir() else ():
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
        except FileNotFoundError:  # merged and deleted by another process meanwhile
            continue
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            log.warning("embedding cache: skipping unreadable shard %s (%s)", path, error)
            continue
        if keys.ndim != 2 or keys.shape[1] != 32 or vectors.shape[0] != keys.shape[0]:
            log.warning("embedding cache: skipping malformed shard %s", path)
            continue
        if vector_parts and vectors.shape[1] != vector_parts[0].shape[1]:
            raise CacheError(f"{path} holds {vectors.shape[1]}-dim vectors, others differ")
        read.append(path)
        key_parts.append(keys)
        vector_parts.append(vectors.astype(np.float32, copy=False))
    if not read:
        return [], np.zeros((0, 32), np.uint8), np.zeros((0, 0), np.float32)
    keys = np.concatenate(key_parts)
    vectors = np.concatenate(vector_parts)
    _, first = np.unique(keys, axis=0, return_index=True)  # duplicates: keep one
    first.sort()
    return read, keys[first], vectors[first]


def _merge(
    index: dict[bytes, int], matrix: np.ndarray, keys: np.ndarray, vectors: np.ndarray
) -> tuple[dict[bytes, int], np.ndarray]:
    """Adds keys [m, 32] / vectors [m, dim] to an in-memory index → (index, matrix)."""
    if keys.shape[0] == 0:
        return index, matrix
    base = matrix.shape[0]
    fresh = []
    for i, key in enumerate(keys):
        digest = key.tobytes()
        if digest not in index:
            index[digest] = base + len(fresh)
            fresh.append(i)
    if not fresh:
        return index, matrix
    added = vectors[fresh]
    return index, (np.concatenate([matrix, added]) if base else added)

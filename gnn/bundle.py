"""Model bundles: one versioned folder with everything the service and the refresh job need.

Layout of ``<root>/<version>/``:

- ``manifest.json`` — format, version, creation time, data hash, metrics, model and training
  settings, the device that trained it, text model id, and the sha256 of every other file;
- ``model.pt`` — the R-GCN weights (CPU tensors, so any machine loads them);
- ``id_maps.json`` — label -> external ids in index order;
- ``embeddings.npz`` — ``users``, ``products`` and ``nodes`` (every node) embeddings;
- ``graph.npz`` — the input graph (catalogue edges, message interactions, text features as
  float16), so new nodes are embedded from a bundle with no store (`gnn.infer`);
- ``catalogue.json`` — per label, the node fields the service shows and filters on (product
  title, brand, category path, price; brand, category and attribute names), so ranking needs no
  store.

A bundle is written into a hidden temp folder beside its final place and renamed into it, and
``<root>/CURRENT`` (the active version's name) is replaced atomically afterwards, so a reader sees
the old bundle or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from gnn.graph import KGGraph
from gnn.model import ModelConfig, RGCNRecModel
from kg.schema import LABELS, PRODUCT, USER

FORMAT = 1
CURRENT = "CURRENT"
FILES = ("model.pt", "id_maps.json", "embeddings.npz", "graph.npz", "catalogue.json")
#: Product fields kept in catalogue.json (what ranking filters and responses show; no description).
CATALOGUE_FIELDS = ("title", "brand", "category_path", "price")


class BundleError(Exception):
    """A bundle folder is missing, incomplete or corrupt (the message names the path)."""


@dataclass
class Bundle:
    """A loaded model bundle.

    Attributes:
        path: Its folder.
        manifest: The parsed manifest.json.
        model: The R-GCN in eval mode on the CPU.
        node_ids: label -> external ids in index order.
        user_emb, product_emb: float32 [n, out] embeddings.
        node_emb: float32 [num_nodes, out] embeddings of every node (global index order).
        graph: The input graph (features as float32).
        message_users, message_items: int64 interactions the embeddings were computed with.
        catalogue: label -> node fields (see ``catalogue.json``).
    """

    path: Path
    manifest: dict
    model: RGCNRecModel
    node_ids: dict[str, list[str]]
    user_emb: np.ndarray
    product_emb: np.ndarray
    node_emb: np.ndarray
    graph: KGGraph
    message_users: np.ndarray
    message_items: np.ndarray
    catalogue: dict[str, list[dict]] = field(default_factory=dict)
    _index: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    @property
    def version(self) -> str:
        return self.manifest["version"]

    def index(self, label: str) -> dict[str, int]:
        """External id -> index for ``label``."""
        if label not in self._index:
            self._index[label] = {v: i for i, v in enumerate(self.node_ids[label])}
        return self._index[label]


def new_version(data_hash: str) -> str:
    """A sortable, unique version name: UTC time to the microsecond plus the data hash's head."""
    now = datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{data_hash[:8]}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_bundle(
    root: Path,
    *,
    model: RGCNRecModel,
    graph: KGGraph,
    node_ids: dict[str, list[str]],
    node_emb: torch.Tensor | np.ndarray,
    message_users,
    message_items,
    data_hash: str,
    metrics: dict | None = None,
    train_config: dict | None = None,
    extra: dict | None = None,
    make_current: bool = True,
    node_fields: dict[str, list[dict]] | None = None,
) -> Path:
    """Writes a bundle under ``root`` atomically and (by default) makes it the current one.

    Args:
        node_fields: label -> fields of each node (`kg.snapshot.GraphSnapshot.node_fields`);
            what `CATALOGUE_FIELDS` names of products, and every field of the other labels but
            users, goes to ``catalogue.json``.

    Returns:
        The final bundle folder ``root/<version>``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    version = new_version(data_hash)
    tmp = root / f".tmp-{version}-{os.getpid()}"
    tmp.mkdir()
    try:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save(state, tmp / "model.pt")
        (tmp / "id_maps.json").write_text(json.dumps({l: node_ids[l] for l in LABELS}))
        emb = np.asarray(node_emb.detach().cpu() if torch.is_tensor(node_emb) else node_emb,
                         dtype=np.float32)
        p0, u0 = graph.offsets[PRODUCT], graph.offsets[USER]
        np.savez(tmp / "embeddings.npz", nodes=emb,
                 products=emb[p0 : p0 + graph.counts[PRODUCT]],
                 users=emb[u0 : u0 + graph.counts[USER]])
        arrays = {
            "kg_edge_index": graph.kg_edge_index.cpu().numpy(),
            "kg_edge_type": graph.kg_edge_type.cpu().numpy(),
            "message_users": np.asarray(message_users, dtype=np.int64),
            "message_items": np.asarray(message_items, dtype=np.int64),
        }
        arrays |= {f"features_{l}": v.cpu().numpy().astype(np.float16)
                   for l, v in graph.features.items()}
        np.savez(tmp / "graph.npz", **arrays)
        catalogue = {}
        for label, rows in (node_fields or {}).items():
            if label == USER:
                continue
            keep = CATALOGUE_FIELDS if label == PRODUCT else None
            catalogue[label] = [{k: v for k, v in r.items() if not k.startswith("_")
                                 and (keep is None or k in keep)} for r in rows]
        (tmp / "catalogue.json").write_text(json.dumps(catalogue))
        manifest = {
            "format": FORMAT,
            "version": version,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "data_hash": data_hash,
            "counts": graph.counts,
            "model_config": model.config.to_dict(),
            "train_config": train_config or {},
            "metrics": metrics or {},
            "files": {name: _sha256(tmp / name) for name in FILES},
        } | (extra or {})
        with open(tmp / "manifest.json", "w") as fh:
            json.dump(manifest, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        final = root / version
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if make_current:
        set_current(root, version)
    return final


def set_current(root: Path, version: str) -> None:
    """Points ``root/CURRENT`` at ``version`` (temp file + rename: atomic)."""
    root = Path(root)
    if not (root / version / "manifest.json").exists():
        raise BundleError(f"no bundle {version!r} in {root}")
    tmp = root / f".{CURRENT}.{os.getpid()}.{time.monotonic_ns()}"
    tmp.write_text(version + "\n")
    os.replace(tmp, root / CURRENT)
    _fsync_dir(root)


def resolve(path: Path) -> Path:
    """A bundle folder from either a bundle folder or a root holding CURRENT."""
    path = Path(path)
    if (path / "manifest.json").exists():
        return path
    current = path / CURRENT
    if current.exists():
        return path / current.read_text().strip()
    raise BundleError(f"{path} is neither a model bundle (no manifest.json) nor a bundle root "
                      f"(no {CURRENT}); run `kgrec train` first")


def load_bundle(path: Path, *, verify: bool = True) -> Bundle:
    """Loads a bundle on the CPU, whatever device trained it.

    Args:
        path: A bundle folder or a root with CURRENT.
        verify: Check every file's sha256 against the manifest.

    Raises:
        BundleError: Missing files, a checksum mismatch or an unknown format.
    """
    folder = resolve(path)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{folder / 'manifest.json'}: cannot read: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{folder}: bundle format {manifest.get('format')!r}, expected {FORMAT}")
    for name in FILES:
        if not (folder / name).exists():
            raise BundleError(f"{folder}: missing {name}")
        if verify and _sha256(folder / name) != manifest["files"][name]:
            raise BundleError(f"{folder / name}: checksum does not match the manifest")
    model = RGCNRecModel(ModelConfig.from_dict(manifest["model_config"]))
    model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu", weights_only=True))
    model.eval()
    node_ids = json.loads((folder / "id_maps.json").read_text())
    emb = np.load(folder / "embeddings.npz")
    g = np.load(folder / "graph.npz")
    counts = {label: int(manifest["counts"][label]) for label in LABELS}
    offsets, start = {}, 0
    for label in LABELS:
        offsets[label], start = start, start + counts[label]
    features = {k[len("features_"):]: torch.from_numpy(g[k].astype(np.float32))
                for k in g.files if k.startswith("features_")}
    graph = KGGraph(counts, offsets, torch.from_numpy(g["kg_edge_index"]),
                    torch.from_numpy(g["kg_edge_type"]), features)
    catalogue = json.loads((folder / "catalogue.json").read_text())
    return Bundle(folder, manifest, model, node_ids, emb["users"], emb["products"], emb["nodes"],
                  graph, g["message_users"], g["message_items"], catalogue)

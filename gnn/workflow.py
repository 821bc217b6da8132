"""Train a bundle from a snapshot: split, fit with early stopping, score, re-embed on all data.

This is what `kgrec train` (and the refresh job with ``--retrain``) runs. The held-out split of
DESIGN.md §4 chooses the epoch (validation Recall@20, all items) and gives honest test figures;
the bundle's embeddings are then recomputed with every interaction as a message edge, which the
inductive model allows without retraining.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gnn import distributed
from gnn.bundle import save_bundle
from gnn.eval.protocol import SETTINGS, Evaluator
from gnn.eval.split import split_snapshot
from gnn.graph import build_graph
from gnn.model import ModelConfig
from gnn.train import FitResult, Interactions, TrainConfig, embed, fit
from kg.schema import PRODUCT, USER
from kg.snapshot import GraphSnapshot

log = logging.getLogger(__name__)


@dataclass
class TrainOutcome:
    """What `train_bundle` did."""

    result: FitResult
    metrics: dict
    bundle: Path | None
    seconds: float


def all_interactions(snapshot: GraphSnapshot) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, product) pairs of the snapshot's INTERACTED edges."""
    edges = snapshot.edges["INTERACTED"]
    n_items = max(snapshot.num_nodes(PRODUCT), 1)
    keys = np.unique(edges[0] * n_items + edges[1])
    return keys // n_items, keys % n_items


def train_bundle(
    snapshot: GraphSnapshot,
    features: dict[str, np.ndarray],
    bundle_root: Path | None,
    *,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig = TrainConfig(),
    k: int = 20,
    device: str | torch.device = "cpu",
    progress: bool = False,
    extra_manifest: dict | None = None,
) -> TrainOutcome:
    """Trains on the split of ``train_config.seed`` and (rank 0) writes a bundle.

    Args:
        snapshot: The graph.
        features: label -> text vectors (`llm.encode_nodes.encode_graph_texts`).
        bundle_root: Where bundles live (None: train and score only).
        model_config: Network shape (default: `ModelConfig` with the features' width).
        train_config: Optimisation settings.
        k: List length of the metrics.
        device: Training device.
        progress: tqdm bars on stderr.
        extra_manifest: More manifest fields (e.g. the text model id).

    Raises:
        ValueError: When the snapshot has no interactions.
    """
    start = time.perf_counter()
    if snapshot.edges["INTERACTED"].shape[1] == 0:
        raise ValueError("the store has no interactions to train on; load some first")
    graph = build_graph(snapshot, features)
    model_config = model_config or ModelConfig(text_dim=graph.text_dim)
    split = split_snapshot(snapshot, seed=train_config.seed)
    evaluator = Evaluator(split, k)
    data = Interactions.from_arrays(split.train.users, split.train.items, split.warm_items)
    result = fit(graph, data, model_config, train_config, device=device, progress=progress,
                 validate=lambda e: evaluator.recall(e.score, "overall", "val"))
    metrics: dict = {"k": k, "best_epoch": result.best_epoch,
                     "epoch_seconds": round(result.epoch_seconds, 3),
                     "device": str(device), "split": split.summary()}
    for part in ("val", "test"):
        scores = evaluator.run(result.embeddings.score, part, SETTINGS)
        metrics[part] = {s: scores[s].to_dict() for s in SETTINGS}
    users, items = all_interactions(snapshot)
    final = embed(result.model, graph, torch.from_numpy(users), torch.from_numpy(items))
    path = None
    if bundle_root is not None and distributed.is_main():
        path = save_bundle(
            bundle_root, model=result.model, graph=graph, node_ids=snapshot.node_ids,
            node_emb=final.all, message_users=users, message_items=items,
            data_hash=snapshot.fingerprint(), metrics=metrics,
            train_config=train_config.to_dict() | {"history": result.history},
            extra=extra_manifest,
        )
        log.info("bundle written to %s", path)
    return TrainOutcome(result, metrics, path, time.perf_counter() - start)

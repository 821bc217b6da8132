"""Train a bundle from a snapshot: split, fit with early stopping, score, re-embed on all data.

This is what `kgrec train` (and the refresh job with ``--retrain``) runs. The held-out split of
DESIGN.md §4 chooses the epoch (validation Recall@20, all items), the hybrid's settings and
blend, and gives honest test figures; the bundle's embeddings are then recomputed with every
interaction as a message edge, which the inductive model allows without retraining.
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
from gnn.eval.baselines.base import TrainData, sparse_rows
from gnn.eval.kgrec import shared_ranker
from gnn.eval.protocol import SETTINGS
from gnn.eval.split import split_snapshot
from gnn.train import FitResult, TrainConfig, embed
from kg.schema import PRODUCT
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
    model_options: dict | None = None,
    train_config: TrainConfig = TrainConfig(),
    k: int = 20,
    device: str | torch.device = "cpu",
    progress: bool = False,
    extra_manifest: dict | None = None,
    publish: bool = True,
) -> TrainOutcome:
    """Trains kgrec's ranker on the split of ``train_config.seed`` and (rank 0) writes a bundle.

    The R-GCN is trained with early stopping on validation; the hybrid's other parts and the
    blend are chosen on validation too (`gnn.hybrid`). Test figures are given for the R-GCN
    alone (``rgcn``) and for the blended ranker (``kgrec``). The bundle holds the R-GCN and the
    ranker's settings (``manifest["ranker"]``), from which the service rebuilds the other parts
    over the bundle's interactions and text vectors.

    Args:
        snapshot: The graph.
        features: label -> text vectors (`llm.encode_nodes.encode_graph_texts`).
        bundle_root: Where bundles live (None: train and score only).
        model_options: Overrides of `gnn.model.ModelConfig`.
        train_config: Optimisation settings (``seed`` also fixes the split).
        k: List length of the metrics.
        device: Training device.
        progress: tqdm bars on stderr.
        extra_manifest: More manifest fields (e.g. the text model id).
        publish: Make the new bundle the current one (the refresh job publishes it itself, after
            writing its output back to the store).

    Raises:
        ValueError: When the snapshot has no interactions.
    """
    start = time.perf_counter()
    if snapshot.edges["INTERACTED"].shape[1] == 0:
        raise ValueError("the store has no interactions to train on; load some first")
    split = split_snapshot(snapshot, seed=train_config.seed)
    data = TrainData.build(split, features[PRODUCT], snapshot, k=k, seed=train_config.seed,
                           device=device, node_text=features)
    train_options = {k_: v for k_, v in train_config.to_dict().items() if k_ != "seed"}
    rgcn_options = {"model_options": model_options or {}, "train_options": train_options,
                    "progress": progress}
    ranker, _, _ = shared_ranker(data, rgcn_options)
    rgcn = ranker.parts["rgcn"]
    result: FitResult = rgcn.result
    metrics: dict = {"k": k, "best_epoch": result.best_epoch,
                     "epoch_seconds": round(result.epoch_seconds, 3),
                     "device": str(device), "split": split.summary(),
                     "validation": ranker.figures}
    matrix = data.matrix
    scorers = {"rgcn": result.embeddings.score,
               "kgrec": lambda u: ranker.score(sparse_rows(matrix, u), u)}
    for name, score_fn in scorers.items():
        metrics[name] = {}
        for part in ("val", "test"):
            scores = data.evaluator.run(score_fn, part, SETTINGS)
            metrics[name][part] = {s: scores[s].to_dict() for s in SETTINGS}
    users, items = all_interactions(snapshot)
    graph = rgcn.inductor.graph
    final = embed(result.model, graph, torch.from_numpy(users), torch.from_numpy(items))
    ranker_settings = {"blend": ranker.blend.to_dict(),
                       "parts": {n: p.params for n, p in ranker.parts.items() if n != "rgcn"}}
    path = None
    if bundle_root is not None and distributed.is_main():
        path = save_bundle(
            bundle_root, model=result.model, graph=graph, node_ids=snapshot.node_ids,
            node_emb=final.all, message_users=users, message_items=items,
            data_hash=snapshot.fingerprint(), metrics=metrics,
            train_config=train_config.to_dict() | {"history": result.history},
            extra={"ranker": ranker_settings} | (extra_manifest or {}),
            node_fields=snapshot.node_fields, make_current=publish,
        )
        log.info("bundle written to %s", path)
    return TrainOutcome(result, metrics, path, time.perf_counter() - start)

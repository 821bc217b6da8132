"""A bundle from a few timed training steps, for benchmarks on catalogues too big to train here.

On 2 CPU cores a full training of a 100k-product catalogue takes hours (every step runs the
R-GCN over the whole graph; see docs/benchmarks.md). The refresh and serving benchmarks only
need *a* bundle of the right shape, so this trains the R-GCN of the default configuration for
``steps`` steps (no validation, no hybrid fitting) and publishes it with fixed ranker settings.
The timed steps also give the per-step cost from which a full training's epoch is estimated.

Not for real use: the blend weights and part settings below are the ones `kgrec train` chose
on amazon-industrial-scientific (seed 0); latency and refresh time do not depend on them.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

RANKER = {
    "blend": {"warm": {"rgcn": 2.0, "neighbours": 1.0, "text-bridge": 0.25, "text": 0.5},
              "cold": {"rgcn": 2.0, "text-bridge": 1.0, "text": 2.0}, "offset": 2.5},
    "parts": {"neighbours": {"k": 400, "shrink": 0.0}, "text-bridge": {"k": 20, "tau": 0.2},
              "text": {"tau": 0.1}},
}


def quick_bundle(snapshot, features: dict, bundle_root: Path, steps: int,
                 extra_manifest: dict | None = None) -> dict:
    """Train ``steps`` steps, publish the bundle; return the timings and the epoch estimate."""
    import torch

    from gnn.bundle import save_bundle
    from gnn.eval.split import split_snapshot
    from gnn.graph import build_graph
    from gnn.model import ModelConfig
    from gnn.train import Interactions, TrainConfig, epoch_edges, fit
    from gnn.workflow import all_interactions

    default = TrainConfig()
    split = split_snapshot(snapshot, seed=default.seed)  # what a full training would train on
    train = Interactions.from_arrays(split.train.users, split.train.items, split.warm_items)
    epoch_steps = math.ceil(len(epoch_edges(train, default, 1)[1]) / default.batch_size)

    users, items = all_interactions(snapshot)
    graph = build_graph(snapshot, features)
    data = Interactions.from_arrays(users, items)
    # one epoch of `steps` batches of the default size, the rest of the default settings kept
    share = min(1.0, steps * default.batch_size / len(users))
    config = TrainConfig(max_epochs=1, supervision_share=share, cold_item_share=0.0)
    t = time.perf_counter()
    result = fit(graph, data, ModelConfig(text_dim=graph.text_dim), config)
    seconds = time.perf_counter() - t
    done = math.ceil(len(epoch_edges(data, config, 1)[1]) / config.batch_size)
    step_seconds = result.history[0]["seconds"] / done
    save_bundle(bundle_root, model=result.model, graph=graph, node_ids=snapshot.node_ids,
                node_emb=result.embeddings.all, message_users=users, message_items=items,
                data_hash=snapshot.fingerprint(), metrics={}, train_config=config.to_dict(),
                extra={"ranker": RANKER} | (extra_manifest or {}), node_fields=snapshot.node_fields,
                make_current=True)
    return {"steps": done, "seconds": round(seconds, 1), "step_seconds": round(step_seconds, 2),
            "epoch_steps": epoch_steps, "epoch_seconds_estimate": round(step_seconds * epoch_steps),
            "min_epochs": default.patience + 1, "threads": torch.get_num_threads()}

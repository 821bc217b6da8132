"""Run under torchrun by tests/gnn/test_distributed.py: a few DDP epochs, weights saved per rank."""

import sys
from pathlib import Path

import torch

from gnn import distributed
from gnn.graph import INTERACTED, build_graph
from gnn.model import ModelConfig
from gnn.train import Interactions, TrainConfig, fit
from tests.gnn.rgcn_data import snapshot_of, topic_catalogue, topic_features

out = Path(sys.argv[1])
device = distributed.init_from_env("cpu")
rank, world = distributed.rank_and_world()
snap = snapshot_of(topic_catalogue(out / f"data-{rank}"))
graph = build_graph(snap, topic_features(snap))
edges = snap.edges[INTERACTED]
result = fit(graph, Interactions.from_arrays(edges[0], edges[1]),
             ModelConfig(text_dim=graph.text_dim, hidden=8, out=8),
             TrainConfig(max_epochs=3, batch_size=48, seed=1), device=device)
torch.save({"world": world, "state": result.model.state_dict(), "steps": len(result.history)},
           out / f"rank{rank}.pt")
distributed.shutdown()

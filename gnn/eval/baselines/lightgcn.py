"""LightGCN on the user-item training graph, with PyG's model and BPR loss, early-stopped.

Source: X. He, K. Deng, X. Wang, Y. Li, Y. Zhang, M. Wang, "LightGCN: Simplifying and Powering
Graph Convolution Network for Recommendation", SIGIR 2020; implementation
`torch_geometric.nn.models.LightGCN` (embedding, ``get_embedding`` propagation and
``recommendation_loss``). Nodes are users then items (item i is node n_users + i), edges the
training rows in both directions. Negatives are drawn from warm items; items without training
rows get zero vectors (score 0). Early stopping on validation warm Recall@k.
"""

from __future__ import annotations

import torch
from torch_geometric.nn.models import LightGCN as PygLightGCN

from gnn.eval.baselines.base import Recommender, TrainData
from gnn.eval.baselines.training import bpr_triples, optimise, train_with_early_stopping, zero_unseen

DEFAULTS = {"dim": 64, "layers": 3, "lr": 2e-2, "reg": 1e-4, "batch_size": 8192,
            "max_epochs": 60, "patience": 10}


class LightGCN(Recommender):
    """LightGCN recommender.

    Args:
        **options: Overrides of `DEFAULTS` (dim, layers, lr, reg, batch_size, max_epochs,
            patience).
    """

    name = "lightgcn"

    def __init__(self, **options) -> None:
        super().__init__()
        self.options = options

    def fit(self, data: TrainData) -> "LightGCN":
        config = DEFAULTS | self.options
        n_users = data.n_users
        generator = data.generator(offset=2)
        model = PygLightGCN(n_users + data.n_items, config["dim"], config["layers"])
        # PyG's reset_parameters uses the global generator; redo it with ours (reproducible).
        torch.nn.init.xavier_uniform_(model.embedding.weight, generator=generator)
        users = torch.from_numpy(data.split.train.users)
        items = torch.from_numpy(data.split.train.items) + n_users
        edge_index = torch.stack([torch.cat([users, items]), torch.cat([items, users])])
        optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])

        def run_epoch(epoch: int) -> float:
            model.train()
            total, batches = 0.0, 0
            for u, pos, neg in bpr_triples(data, config["batch_size"], generator):
                pos, neg = pos + n_users, neg + n_users
                emb = model.get_embedding(edge_index)
                pos_rank = (emb[u] * emb[pos]).sum(1)
                neg_rank = (emb[u] * emb[neg]).sum(1)
                nodes = torch.cat([u, pos, neg]).unique()
                loss = model.recommendation_loss(
                    pos_rank, neg_rank, node_id=nodes, lambda_reg=config["reg"]
                )
                total, batches = total + optimise(optimizer, loss), batches + 1
            return total / max(batches, 1)

        def validate() -> float:
            self._embed(model, edge_index, data)
            return data.validate(self.score, "warm")

        epoch, value = train_with_early_stopping(
            model, run_epoch, validate, max_epochs=config["max_epochs"],
            patience=config["patience"], name="lightgcn",
        )
        self._embed(model, edge_index, data)
        self.params = config | {"epochs": epoch, "val_warm_recall": round(value, 4)}
        return self

    @torch.no_grad()
    def _embed(self, model: PygLightGCN, edge_index: torch.Tensor, data: TrainData) -> None:
        model.eval()
        emb = model.get_embedding(edge_index)
        self._users = emb[: data.n_users].clone()
        self._items = zero_unseen(emb[data.n_users :], data)

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self._users[users] @ self._items.T

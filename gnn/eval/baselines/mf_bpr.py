"""Matrix factorisation trained with BPR, early-stopped on validation; its factors are shared.

Source: S. Rendle, C. Freudenthaler, Z. Gantner, L. Schmidt-Thieme, "BPR: Bayesian Personalized
Ranking from Implicit Feedback", UAI 2009. Score = u_u · v_i; loss per (user, positive,
negative) triple: -log σ(u·v_pos − u·v_neg) + reg (‖u‖² + ‖v_pos‖² + ‖v_neg‖²), Adam.
Negatives are drawn from warm items only; items without training rows get zero vectors
(score 0). The factors are cached in ``TrainData.shared`` so the content-kNN mapping and
DropoutNet reuse the same MF.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gnn.eval.baselines.base import Recommender, TrainData
from gnn.eval.baselines.training import bpr_triples, optimise, train_with_early_stopping, zero_unseen

DEFAULTS = {"dim": 64, "lr": 1e-2, "reg": 3e-2, "batch_size": 1024, "max_epochs": 60, "patience": 5}


class _MF(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, generator: torch.Generator) -> None:
        super().__init__()
        self.users = torch.nn.Parameter(torch.randn(n_users, dim, generator=generator) * 0.1)
        self.items = torch.nn.Parameter(torch.randn(n_items, dim, generator=generator) * 0.1)


def bpr_factors(data: TrainData, **options) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """BPR-MF factors of the training rows (cached per options in ``data.shared``).

    Args:
        data: Training data.
        **options: Overrides of `DEFAULTS` (dim, lr, reg, batch_size, max_epochs, patience).

    Returns:
        (user factors float32 [n_users, dim], item factors float32 [n_items, dim] with zero rows
        for items without training rows, params dict with the best epoch and its val recall).
    """
    config = DEFAULTS | options
    key = ("mf-bpr", tuple(sorted(config.items())))
    if key in data.shared:
        return data.shared[key]
    generator = data.generator(offset=1)
    model = _MF(data.n_users, data.n_items, config["dim"], generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])

    def run_epoch(epoch: int) -> float:
        total, batches = 0.0, 0
        for users, pos, neg in bpr_triples(data, config["batch_size"], generator):
            u, p, n = model.users[users], model.items[pos], model.items[neg]
            loss = -F.logsigmoid((u * p).sum(1) - (u * n).sum(1)).mean()
            norms = u.square().sum(1) + p.square().sum(1) + n.square().sum(1)
            loss = loss + config["reg"] * norms.mean()
            total, batches = total + optimise(optimizer, loss), batches + 1
        return total / max(batches, 1)

    def validate() -> float:
        items = model.items.detach()
        return data.validate(lambda users: model.users.detach()[users] @ items.T, "warm")

    epoch, value = train_with_early_stopping(
        model, run_epoch, validate, max_epochs=config["max_epochs"], patience=config["patience"],
        name="mf-bpr",
    )
    result = (model.users.detach().clone(), zero_unseen(model.items, data),
              config | {"epochs": epoch, "val_warm_recall": round(value, 4)})
    data.shared[key] = result
    return result


class MFBPR(Recommender):
    """BPR matrix factorisation (warm items only; cold items score 0).

    Args:
        **options: Overrides of `DEFAULTS`.
    """

    name = "mf-bpr"

    def __init__(self, **options) -> None:
        super().__init__()
        self.options = options

    def fit(self, data: TrainData) -> "MFBPR":
        self._users, self._items, self.params = bpr_factors(data, **self.options)
        return self

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self._users[users] @ self._items.T

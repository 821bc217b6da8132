"""DropoutNet-style hybrid: towers over (MF vector, text) trained to reproduce MF scores, with the
MF input of items dropped at random so that items without interactions are scored from text.

Source: M. Volkovs, G. Yu, T. Poutanen, "DropoutNet: Addressing Cold Start in Recommender
Systems", NeurIPS 2017. Inputs: user u → its BPR-MF vector U_u (no user content here); item i →
[V_i, text_i], where V_i is replaced by 0 with probability ``dropout`` during training (and is 0
for every item without training rows, at training and at scoring time). Towers f, g are 2-layer
tanh MLPs; the loss is

.. math::
    \\big(f(U_u) \\cdot g([V_i, t_i]) - U_u \\cdot V_i\\big)^2

over every training pair (u, i) plus one pair (u, j) with a random warm item j per row. The
epoch with the best validation overall Recall@k is kept (it serves warm and cold items alike).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gnn.eval.baselines.base import Recommender, TrainData
from gnn.eval.baselines.mf_bpr import bpr_factors
from gnn.eval.baselines.training import bpr_triples, optimise, train_with_early_stopping

DEFAULTS = {"hidden": 256, "out": 64, "dropout": 0.5, "lr": 5e-3, "batch_size": 4096,
            "max_epochs": 30, "patience": 3}


class _Towers(torch.nn.Module):
    def __init__(self, mf_dim: int, text_dim: int, hidden: int, out: int) -> None:
        super().__init__()
        self.user = torch.nn.Sequential(torch.nn.Linear(mf_dim, hidden), torch.nn.Tanh(),
                                        torch.nn.Linear(hidden, out))
        self.item = torch.nn.Sequential(torch.nn.Linear(mf_dim + text_dim, hidden), torch.nn.Tanh(),
                                        torch.nn.Linear(hidden, out))


class DropoutNet(Recommender):
    """DropoutNet with item-side input dropout.

    Args:
        mf_options: Overrides of `gnn.eval.baselines.mf_bpr.DEFAULTS` for the MF targets.
        **options: Overrides of `DEFAULTS` (hidden, out, dropout, lr, batch_size, max_epochs,
            patience).
    """

    name = "dropoutnet"

    def __init__(self, mf_options: dict | None = None, **options) -> None:
        super().__init__()
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise ValueError(
                f"unknown DropoutNet options {sorted(unknown)}: expected {sorted(DEFAULTS)}"
            )
        self.options = options
        self.mf_options = mf_options or {}

    def fit(self, data: TrainData) -> "DropoutNet":
        config = DEFAULTS | self.options
        user_mf, item_mf, _ = bpr_factors(data, **self.mf_options)
        text = torch.from_numpy(data.item_text)
        generator = data.generator(offset=3)
        towers = _Towers(user_mf.shape[1], text.shape[1], config["hidden"], config["out"])
        with torch.no_grad():  # reproducible initialisation from our generator
            for p in towers.parameters():
                p.uniform_(-1.0, 1.0, generator=generator).mul_(1.0 / max(p.shape[-1], 1) ** 0.5)
        optimizer = torch.optim.Adam(towers.parameters(), lr=config["lr"])
        self._user_mf, self._towers = user_mf, towers
        self._item_input = torch.cat([item_mf, text], dim=1)

        def run_epoch(epoch: int) -> float:
            towers.train()
            total, batches = 0.0, 0
            for users, pos, neg in bpr_triples(data, config["batch_size"] // 2, generator):
                users, items = torch.cat([users, users]), torch.cat([pos, neg])
                target = (user_mf[users] * item_mf[items]).sum(1)
                item_in = self._item_input[items].clone()
                drop = torch.rand(len(items), generator=generator) < config["dropout"]
                item_in[drop, : item_mf.shape[1]] = 0.0
                pred = (towers.user(user_mf[users]) * towers.item(item_in)).sum(1)
                loss = F.mse_loss(pred, target)
                total, batches = total + optimise(optimizer, loss), batches + 1
            return total / max(batches, 1)

        def validate() -> float:
            self._embed()
            return data.validate(self.score, "overall")

        epoch, value = train_with_early_stopping(
            towers, run_epoch, validate, max_epochs=config["max_epochs"],
            patience=config["patience"], name="dropoutnet",
        )
        self._embed()
        self.params = config | {"epochs": epoch, "val_overall_recall": round(value, 4)}
        return self

    @torch.no_grad()
    def _embed(self) -> None:
        self._towers.eval()
        self._users = self._towers.user(self._user_mf)
        self._items = self._towers.item(self._item_input)

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self._users[users] @ self._items.T

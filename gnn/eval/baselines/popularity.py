"""Popularity baseline: every user gets the items with the most training interactions.

Source: "TopPop" in P. Cremonesi, Y. Koren, R. Turrin, "Performance of recommender algorithms on
top-N recommendation tasks", RecSys 2010. Cold items have no training rows, so they all score 0
(ties): popularity carries no signal in the cold setting.
"""

from __future__ import annotations

import numpy as np
import torch

from gnn.eval.baselines.base import Recommender, TrainData


class Popularity(Recommender):
    """Score of item i = its number of training rows, the same for every user."""

    name = "popularity"

    def fit(self, data: TrainData) -> "Popularity":
        counts = np.bincount(data.split.train.items, minlength=data.n_items)
        self._counts = torch.from_numpy(counts.astype(np.float32))
        return self

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self._counts.expand(len(users), -1).clone()

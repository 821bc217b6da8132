"""Content-based baseline: a user's profile is the mean text vector of the items they touched.

Source: the classic content-based profile (M. Pazzani, D. Billsus, "Content-based recommendation
systems", The Adaptive Web, 2007): user vector = mean of the language-model vectors of their
training items, score = dot product with every item's text vector. Uses no collaborative
signal, so cold and warm items are scored alike.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from gnn.eval.baselines.base import Recommender, TrainData


class TextKNN(Recommender):
    """score(u, i) = mean_{j in train(u)} text_j · text_i."""

    name = "text-knn"

    def fit(self, data: TrainData) -> "TextKNN":
        matrix = data.matrix
        counts = np.asarray(matrix.sum(axis=1)).ravel()
        inverse = sp.diags(1.0 / np.maximum(counts, 1.0)).astype(np.float32)
        profiles = inverse @ matrix @ data.item_text  # [n_users, dim]
        self._users = torch.from_numpy(np.ascontiguousarray(profiles, dtype=np.float32))
        self._items = torch.from_numpy(data.item_text)
        return self

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self._users[users] @ self._items.T

"""Content-kNN mapping for new items: a cold item's MF vector is the mean of its text neighbours'.

Source: the kNN attribute-to-factor mapping ("map-knn") of Z. Gantner, L. Drumond,
C. Freudenthaler, S. Rendle, L. Schmidt-Thieme, "Learning Attribute-to-Feature Mappings for
Cold-Start Recommendations", ICDM 2010, here with language-model text vectors as attributes:

.. math::
    v_i = \\frac{1}{k} \\sum_{j \\in N_k(i)} v_j \\quad (i \\text{ without training rows}),

where :math:`N_k(i)` are the k warm items with the largest inner product of text vectors with
item i and :math:`v_j` the BPR-MF item factors (shared with `gnn.eval.baselines.mf_bpr`). Warm
items keep their MF vectors; score = u_u · v_i. k is chosen on validation (cold Recall@k).
"""

from __future__ import annotations

import logging

import torch

from gnn.eval.baselines.base import Recommender, TrainData
from gnn.eval.baselines.mf_bpr import bpr_factors

log = logging.getLogger(__name__)


def text_neighbours(text: torch.Tensor, queries: torch.Tensor, pool: torch.Tensor, k: int,
                    chunk: int = 2048) -> torch.Tensor:
    """int64 [len(queries), k]: for each query item, the k pool items of largest text inner product.

    Args:
        text: float32 [n_items, dim] item text vectors.
        queries: int64 [q] items to find neighbours for.
        pool: int64 [p] items that may be neighbours (k is capped at p).
        k: Neighbours per query.
        chunk: Queries per matrix product (bounds memory at chunk * p floats).
    """
    k = min(k, len(pool))
    pool_text = text[pool]
    out = [(text[queries[b : b + chunk]] @ pool_text.T).topk(k, dim=1).indices
           for b in range(0, len(queries), chunk)]
    return pool[torch.cat(out)] if out else torch.zeros((0, k), dtype=torch.int64)


class ContentKNN(Recommender):
    """MF for warm items, the text-kNN mean of MF vectors for items without training rows.

    Args:
        neighbours: Candidate k (chosen on validation cold recall).
        mf_options: Overrides of `gnn.eval.baselines.mf_bpr.DEFAULTS`.
    """

    name = "content-knn"

    def __init__(self, neighbours=(1, 2, 5, 10, 20, 50), mf_options: dict | None = None) -> None:
        super().__init__()
        self.neighbours = tuple(neighbours)
        self.mf_options = mf_options or {}

    def fit(self, data: TrainData) -> "ContentKNN":
        self._users, items, mf_params = bpr_factors(data, **self.mf_options)
        warm = torch.from_numpy(data.split.warm_items)
        is_warm = torch.zeros(data.n_items, dtype=torch.bool)
        is_warm[warm] = True
        unseen = torch.nonzero(~is_warm).flatten()
        text = torch.from_numpy(data.item_text)
        neighbours = text_neighbours(text, unseen, warm, max(self.neighbours))
        best = (-1.0, None, None)
        for k in sorted(set(min(k, len(warm)) for k in self.neighbours)):
            self._items = items.clone()
            if len(unseen) and k > 0:
                self._items[unseen] = items[neighbours[:, :k]].mean(1)
            recall = data.validate(self.score, "cold")
            log.info("content-knn k=%d: val cold recall %.4f", k, recall)
            if recall > best[0]:
                best = (recall, k, self._items)
        _, k, self._items = best
        self.params = {"k": k, "mf_epochs": mf_params["epochs"]}
        return self

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self._users[users] @ self._items.T

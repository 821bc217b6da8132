"""Item-based k-nearest-neighbour collaborative filtering with shrunk cosine similarity.

Source: B. Sarwar, G. Karypis, J. Konstan, J. Riedl, "Item-based collaborative filtering
recommendation algorithms", WWW 2001; the shrink term in the denominator as in the ItemKNN-CF
baseline of M. Ferrari Dacrema, P. Cremonesi, D. Jannach, "Are we really making much progress?",
RecSys 2019. Neighbourhood size and shrink are chosen on validation (warm Recall@k).

.. math::
    s_{ij} = \\frac{x_i \\cdot x_j}{\\lVert x_i \\rVert \\lVert x_j \\rVert + h}, \\qquad
    \\hat r_{uj} = \\sum_{i \\in I(u) \\cap N_k(j)} s_{ij}

where :math:`x_i` is item i's column of the binary training matrix and :math:`N_k(j)` the k
items most similar to j. Cold items have empty columns, so they score 0.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import torch

from gnn.eval.baselines.base import Recommender, TrainData, sparse_rows, to_tensor

log = logging.getLogger(__name__)


def prune_columns(similarity: torch.Tensor, k: int) -> sp.csr_matrix:
    """Keeps the k largest positive entries of each column of a dense [n, n] similarity."""
    k = min(k, similarity.shape[0])
    values, rows = similarity.topk(k, dim=0)
    cols = torch.arange(similarity.shape[1]).expand(k, -1)
    keep = values > 0
    entries = (values[keep].numpy(), (rows[keep].numpy(), cols[keep].numpy()))
    return sp.csr_matrix(entries, shape=tuple(similarity.shape))


class ItemKNN(Recommender):
    """Item-kNN; the (k, shrink) pair with the best validation warm recall is kept.

    Args:
        neighbours: Candidate neighbourhood sizes k.
        shrinks: Candidate shrink terms h.
    """

    name = "item-knn"

    def __init__(self, neighbours=(50, 100, 200, 400), shrinks=(0.0, 10.0)) -> None:
        super().__init__()
        self.neighbours = tuple(neighbours)
        self.shrinks = tuple(shrinks)

    def fit(self, data: TrainData) -> "ItemKNN":
        self._matrix = data.matrix
        gram = to_tensor((self._matrix.T @ self._matrix).toarray())
        norms = gram.diagonal().sqrt()
        best = (-1.0, None, None)
        for shrink in self.shrinks:
            similarity = gram / (norms[:, None] * norms[None, :] + shrink + 1e-12)
            similarity.fill_diagonal_(0.0)
            for k in self.neighbours:
                self._similarity = prune_columns(similarity, k)
                recall = data.validate(self.score, "warm")
                log.info("item-knn k=%d shrink=%g: val warm recall %.4f", k, shrink, recall)
                if recall > best[0]:
                    best = (recall, {"k": k, "shrink": shrink}, self._similarity)
        _, self.params, self._similarity = best
        return self

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return to_tensor(sparse_rows(self._matrix, users) @ self._similarity)

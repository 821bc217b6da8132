"""User-based k-nearest-neighbour collaborative filtering with shrunk cosine similarity.

Source: J. Herlocker, J. Konstan, A. Borchers, J. Riedl, "An algorithmic framework for performing
collaborative filtering", SIGIR 1999; shrink term and tuning as in the UserKNN-CF baseline of
M. Ferrari Dacrema, P. Cremonesi, D. Jannach, "Are we really making much progress?", RecSys 2019.

.. math::
    s_{uv} = \\frac{x_u \\cdot x_v}{\\lVert x_u \\rVert \\lVert x_v \\rVert + h}, \\qquad
    \\hat r_{ui} = \\sum_{v \\in N_k(u)} s_{uv} x_{vi}

with :math:`x_u` the user's binary training row and :math:`N_k(u)` the k most similar other
users. Neighbourhood size and shrink are chosen on validation (warm Recall@k). Scoring works on a
batch of users at once: one sparse product for the similarities, a top-k, one sparse product
for the scores.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import torch

from gnn.eval.baselines.base import Recommender, TrainData, sparse_rows, to_tensor

log = logging.getLogger(__name__)


class UserKNN(Recommender):
    """User-kNN; the (k, shrink) pair with the best validation warm recall is kept.

    Args:
        neighbours: Candidate neighbourhood sizes k.
        shrinks: Candidate shrink terms h.
    """

    name = "user-knn"

    def __init__(self, neighbours=(50, 100, 200, 400), shrinks=(0.0, 10.0)) -> None:
        super().__init__()
        self.neighbours = tuple(neighbours)
        self.shrinks = tuple(shrinks)

    def fit(self, data: TrainData) -> "UserKNN":
        self._matrix = data.matrix
        self._matrix_t = self._matrix.T.tocsr()
        self._norms = torch.from_numpy(np.sqrt(self._matrix.getnnz(axis=1)).astype(np.float32))
        best = (-1.0, None)
        for shrink in self.shrinks:
            for k in self.neighbours:
                self.params = {"k": k, "shrink": shrink}
                recall = data.validate(self.score, "warm")
                log.info("user-knn k=%d shrink=%g: val warm recall %.4f", k, shrink, recall)
                if recall > best[0]:
                    best = (recall, dict(self.params))
        self.params = best[1]
        return self

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return user_knn_scores(sparse_rows(self._matrix, users), self._matrix, self._matrix_t,
                               self._norms, self.params["k"], self.params["shrink"], users)


def user_knn_scores(history: sp.csr_matrix, matrix: sp.csr_matrix, matrix_t: sp.csr_matrix,
                    norms: torch.Tensor, k: int, shrink: float,
                    users: torch.Tensor | None = None) -> torch.Tensor:
    """User-kNN scores [b, n_items] of binary history rows against the training users.

    Args:
        history: CSR [b, n_items] the histories to score (training rows, or a new user's items).
        matrix, matrix_t: The training matrix [n_users, n_items] and its transpose (CSR).
        norms: float32 [n_users] sqrt of each training user's row count.
        k, shrink: Neighbourhood size and shrink term.
        users: The training user of each history row, left out of its own neighbourhood;
            None for histories of users outside the training matrix.
    """
    n_users = matrix.shape[0]
    overlap = to_tensor((history @ matrix_t).toarray())
    own = torch.from_numpy(np.sqrt(history.getnnz(axis=1)).astype(np.float32))
    similarity = overlap / (own[:, None] * norms[None, :] + shrink + 1e-12)
    if users is not None:
        similarity[torch.arange(len(users)), users] = 0.0
    values, neighbours = similarity.topk(min(k, n_users), dim=1)
    # every row has the same number of neighbours, so the CSR arrays are the top-k's own (a
    # neighbour of similarity 0 adds nothing), by user index as (row, col) pairs would give;
    # building it from such pairs cost more than the product itself on a one-user request
    neighbours, order = neighbours.sort(dim=1)
    values = values.gather(1, order)
    b, width = neighbours.shape
    weights = sp.csr_matrix(
        (values.reshape(-1).numpy(), neighbours.reshape(-1).numpy().astype(matrix.indices.dtype),
         np.arange(0, b * width + 1, width, dtype=matrix.indptr.dtype)),
        shape=(b, n_users),
    )
    return to_tensor(weights @ matrix)

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

from gnn.eval.baselines.base import Recommender, TrainData, row_indices, sparse_rows, to_tensor

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

    A row's neighbours are its k most similar users of positive similarity; equal similarities
    at the k-th place go to the lower user index (`user_knn_row` keeps the same users, so a
    request scores as evaluation does).

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
    kth = similarity.topk(min(k, n_users), dim=1).values[:, -1:]
    keep = similarity > kth
    tied = similarity == kth
    short = k - keep.sum(1)  # places left for users at the k-th similarity
    rows = torch.nonzero((short > 0) & (kth[:, 0] > 0)).reshape(-1)
    if len(rows):  # the lowest-index tied users fill them (torch.topk's pick is undocumented)
        first = tied[rows].to(torch.int32).cumsum(1) <= short[rows, None].to(torch.int32)
        keep[rows] |= tied[rows] & first
    keep &= similarity > 0
    # the CSR of the kept pairs, in (row, user) order as nonzero() gives them
    row, col = keep.nonzero(as_tuple=True)
    indptr = np.zeros(len(keep) + 1, dtype=matrix.indptr.dtype)
    np.cumsum(keep.sum(1).numpy(), out=indptr[1:])
    weights = sp.csr_matrix((similarity[row, col].numpy(), col.numpy().astype(matrix.indices.dtype),
                             indptr), shape=(len(keep), n_users))
    return to_tensor(weights @ matrix)


def user_knn_row(history: sp.csr_matrix, matrix: sp.csr_matrix, matrix_t: sp.csr_matrix,
                 norms, k: int, shrink: float, user: int | None = None) -> sp.csr_matrix:
    """`user_knn_scores` of one history row, as a sparse row [1, n_items] (the same values).

    A request scores one history, and only the users who share one of its items (a few thousand
    of 200k at the 100k catalogue) can be its neighbours: their similarities are taken from the
    sparse overlap and the k best kept by a partial sort, where the dense path divides and ranks
    every user's (3.4x faster there). Ties at the k-th place go to the lower user index, as
    there.

    Args:
        history: CSR [1, n_items] the binary history.
        matrix, matrix_t, norms, k, shrink: As for `user_knn_scores` (``norms`` may be numpy).
        user: The history's training user, left out of its own neighbourhood; None for others.
    """
    if history.shape[0] != 1:
        raise ValueError(f"user_knn_row scores one history, got {history.shape[0]} rows")
    # history @ matrix_t of a binary row is each co-user's count of shared items: counted from
    # the items' own rows of matrix_t (scipy's product sets up work arrays over all users)
    buyers = [row_indices(matrix_t, i) for i in history.indices]
    users, counts = np.unique(np.concatenate(buyers) if buyers else np.zeros(0, np.int32),
                              return_counts=True)
    dots = counts.astype(np.float32)
    own = np.float32(np.sqrt(history.getnnz()))
    similarity = dots / (own * np.asarray(norms)[users] + shrink + 1e-12)
    if user is not None:
        similarity[users == user] = 0.0
    keep = similarity > 0
    if keep.sum() > k:
        kth = np.partition(similarity, len(users) - k)[len(users) - k]
        keep = similarity > kth
        tied = np.flatnonzero(similarity == kth)  # in user order: the lowest indices first
        keep[tied[: k - keep.sum()]] = True
    users, similarity = users[keep], similarity[keep]
    weights = sp.csr_matrix(
        (similarity.astype(np.float32), users.astype(matrix.indices.dtype),
         np.array([0, len(users)], dtype=matrix.indptr.dtype)), shape=(1, matrix.shape[0]))
    return weights @ matrix

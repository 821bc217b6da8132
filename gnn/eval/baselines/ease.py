"""EASE: a linear item-item autoencoder with a closed-form solution.

Source: H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019. With the
binary training matrix X and L2 weight λ:

.. math::
    P = (X^\\top X + \\lambda I)^{-1}, \\qquad
    B_{ij} = -\\frac{P_{ij}}{P_{jj}} \\; (i \\ne j), \\quad B_{jj} = 0, \\qquad
    \\hat r_u = x_u B

λ is chosen on validation (warm Recall@k). One Cholesky inverse of an [n_items, n_items]
matrix per candidate λ; cold items have empty columns, so they score 0.
"""

from __future__ import annotations

import logging

import torch

from gnn.eval.baselines.base import Recommender, TrainData, sparse_rows, to_tensor

log = logging.getLogger(__name__)


def ease_weights(gram: torch.Tensor, lam: float) -> torch.Tensor:
    """B float32 [n, n] of EASE from the Gram matrix X^T X [n, n] and λ.

    float32 is enough: the Gram matrix holds small integers and λ ≥ 1 bounds the condition
    number by (largest eigenvalue + λ) / λ.
    """
    regular = gram.float() + lam * torch.eye(len(gram))
    precision = torch.cholesky_inverse(torch.linalg.cholesky(regular))
    weights = -precision / precision.diagonal()[None, :]
    weights.fill_diagonal_(0.0)
    return weights


class EASE(Recommender):
    """EASE with λ chosen on validation.

    Args:
        lambdas: Candidate L2 weights λ.
    """

    name = "ease"

    def __init__(self, lambdas=(100.0, 250.0, 500.0, 1000.0)) -> None:
        super().__init__()
        self.lambdas = tuple(lambdas)

    def fit(self, data: TrainData) -> "EASE":
        self._matrix = data.matrix
        gram = to_tensor((self._matrix.T @ self._matrix).toarray())
        best = (-1.0, None, None)
        for lam in self.lambdas:
            self._weights = ease_weights(gram, lam)
            recall = data.validate(self.score, "warm")
            log.info("ease lambda=%g: val warm recall %.4f", lam, recall)
            if recall > best[0]:
                best = (recall, {"lambda": lam}, self._weights)
        _, self.params, self._weights = best
        return self

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return to_tensor(sparse_rows(self._matrix, users) @ self._weights.numpy())

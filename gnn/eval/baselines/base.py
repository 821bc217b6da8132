"""The contract every evaluated recommender follows (baselines and kgrec's own R-GCN alike).

A recommender is fitted once on `TrainData` (the split's training rows, item text vectors, the
snapshot for models that use KG edges, and a validation evaluator for choosing
hyper-parameters) and then asked for full score rows: ``score(users) -> [batch, n_items]``.

To add a model to the evaluation, subclass `Recommender`::

    class RGCNRecommender(Recommender):
        name = "kgrec-rgcn"

        def fit(self, data: TrainData) -> "RGCNRecommender":
            # message edges: data.snapshot's KG edges + data.split.train rows only
            ...
            self.params = {"layers": 2, "epochs": best_epoch}
            return self

        def score(self, users: torch.Tensor) -> torch.Tensor:
            return self.user_emb[users] @ self.item_emb.T

and pass an instance to `gnn.eval.runner.evaluate`. Only the validation part may be used for
choices (``data.validate``); the test part is never shown to ``fit``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch

from gnn.eval.protocol import Evaluator
from gnn.eval.split import Split
from kg.snapshot import GraphSnapshot


@dataclass
class TrainData:
    """What a recommender may learn from.

    Attributes:
        split: The split (only ``split.train`` rows and ``split.val`` via `validate` may be used).
        item_text: float32 [n_items, dim] text vectors of the items (unit rows, zero when no text).
        evaluator: Evaluator of the split (its ``k`` is the reported list length).
        snapshot: The graph snapshot (KG edges for graph models) or None.
        seed: Seed for the models' random choices.
        device: Where torch models train and score.
        shared: Artefacts reused between models of one run (e.g. the MF-BPR factors).
        node_text: label -> text vectors of the other node labels (Brand, Category, ...), for
            models that read text on the whole graph; None when not encoded.
    """

    split: Split
    item_text: np.ndarray
    evaluator: Evaluator
    snapshot: GraphSnapshot | None = None
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    shared: dict[str, Any] = field(default_factory=dict)
    node_text: dict[str, np.ndarray] | None = None

    @classmethod
    def build(cls, split: Split, item_text: np.ndarray, snapshot: GraphSnapshot | None = None, *,
              k: int = 20, seed: int = 0, device: str | torch.device = "cpu",
              node_text: dict[str, np.ndarray] | None = None) -> "TrainData":
        """TrainData with a fresh Evaluator of list length ``k``."""
        item_text = np.asarray(item_text, dtype=np.float32)
        if item_text.ndim != 2 or len(item_text) != split.n_items:
            raise ValueError(f"item_text must be [{split.n_items}, dim], got {item_text.shape}")
        return cls(split, item_text, Evaluator(split, k), snapshot, seed, torch.device(device),
                   node_text=node_text)

    @property
    def n_users(self) -> int:
        return self.split.n_users

    @property
    def n_items(self) -> int:
        return self.split.n_items

    @property
    def matrix(self) -> sp.csr_matrix:
        """Binary float32 CSR [n_users, n_items] of the training rows."""
        return self.evaluator.targets("train")

    def validate(self, score_fn, setting: str = "warm", metric: str = "recall") -> float:
        """Validation Recall@k (or NDCG@k, or their sum: ``metric``) of a scoring function in
        one setting (overall, cold or warm)."""
        return self.evaluator.figure(score_fn, setting, "val", metric)

    def generator(self, offset: int = 0) -> torch.Generator:
        """A torch CPU generator seeded from ``seed`` (plus ``offset`` per model)."""
        return torch.Generator().manual_seed(self.seed * 1000 + offset)


class Recommender(abc.ABC):
    """A model that scores every item for a batch of users.

    Attributes:
        name: Short name used in tables and JSON.
        params: Hyper-parameters in use after `fit` (those chosen on validation included).
    """

    name: ClassVar[str] = "recommender"

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    @abc.abstractmethod
    def fit(self, data: TrainData) -> "Recommender":
        """Learns from ``data``; returns self."""

    @abc.abstractmethod
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Scores of every item for some users.

        Args:
            users: int64 [b] internal user indices.

        Returns:
            float32 [b, n_items]; higher is better (excluded items are masked by the caller).
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"


def sparse_rows(matrix: sp.csr_matrix, users: torch.Tensor) -> sp.csr_matrix:
    """The rows of a CSR matrix for a tensor of user indices."""
    return matrix[np.asarray(users.cpu(), dtype=np.int64)]


def row_indices(matrix: sp.csr_matrix, row: int) -> np.ndarray:
    """The column indices of one CSR row, read from its index arrays (a view: scipy's row
    slice builds a new matrix, which costs a request more than the read)."""
    return matrix.indices[matrix.indptr[row] : matrix.indptr[row + 1]]


def to_tensor(array) -> torch.Tensor:
    """A float32 CPU tensor from a dense numpy array or a scipy sparse matrix."""
    if sp.issparse(array):
        array = array.toarray()
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

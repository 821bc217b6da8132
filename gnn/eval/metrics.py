"""Top-k ranking metrics over full rankings: Recall@k, NDCG@k, catalogue coverage and novelty.

Conventions (ALDI / ColdRec, kept here so every number kgrec reports means the same):

- The *reachable targets* of a user are their target items that are candidates and not
  excluded (excluded: training positives, and for test also validation positives). A user with
  no reachable target is not evaluated (not in any mean; ``users`` counts the evaluated ones).
- Recall@k = hits@k / |reachable targets| (not divided by min(|targets|, k): a user with more
  than k targets cannot reach 1).
- NDCG@k = DCG@k / IDCG@k with DCG@k = sum over hits at 0-based rank r of 1 / log2(r + 2) and
  IDCG@k the DCG of a perfect list of min(|reachable targets|, k) hits.
- The top-k list holds only candidates that are not excluded and have a score above -inf; when
  fewer than k items qualify, the list is shorter. Equal scores are ordered by a fixed
  pseudo-random order of the items (``tie_seed``), not by item index: a model that gives many
  items the same score (e.g. 0 to every cold item) then ranks them at random, reproducibly.
- Coverage = distinct items in any evaluated user's top-k / number of candidate items.
- Novelty = mean over all recommended (user, slot) entries of -log2(p(item)), with
  p(item) = (training rows of the item + 1) / (training rows + number of items) (add-one
  smoothing, so never-seen cold items have a finite, high novelty).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch


@dataclass
class RankingMetrics:
    """Means over the evaluated users, plus the per-user values.

    Attributes:
        k: List length.
        recall: Mean Recall@k (None when no user was evaluated).
        ndcg: Mean NDCG@k (None when no user was evaluated).
        users: Users evaluated (with at least one reachable target).
        coverage: Share of candidate items in any top-k list (None without candidates).
        novelty: Mean self-information of recommended items in bits (None without popularity
            or without any recommended item).
        user_index: int64 [users] the evaluated users, in evaluation order.
        recall_per_user: float64 [users].
        ndcg_per_user: float64 [users].
    """

    k: int
    recall: float | None
    ndcg: float | None
    users: int
    coverage: float | None
    novelty: float | None
    user_index: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    recall_per_user: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    ndcg_per_user: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def to_dict(self) -> dict:
        """The scalar figures as plain JSON types."""
        return {"recall": self.recall, "ndcg": self.ndcg, "users": self.users,
                "coverage": self.coverage, "novelty": self.novelty}


def self_information(train_counts: np.ndarray) -> np.ndarray:
    """-log2 of the add-one smoothed popularity share of each item, float64 [n_items] (bits)."""
    counts = np.asarray(train_counts, dtype=np.float64)
    return -np.log2((counts + 1.0) / (counts.sum() + len(counts)))


# The tie order's own random stream: drawn straight from ``tie_seed`` it would be the very
# permutation that `gnn.eval.split.make_split` draws its cold items from for the same seed (when
# every item has interactions), putting the cold items first among equal scores.
TIE_STREAM = 0x71E


def tie_order(n_items: int, tie_seed: int | None) -> np.ndarray:
    """The item order that breaks equal scores: pseudo-random for a seed, by index for None."""
    if tie_seed is None:
        return np.arange(n_items)
    seq = np.random.SeedSequence(tie_seed, spawn_key=(TIE_STREAM,))
    return np.random.default_rng(seq).permutation(n_items)


class RankingAccumulator:
    """Collects one setting's metrics batch by batch (see the module docstring).

    Args:
        k: List length.
        candidates: bool [n_items] items that may be ranked (and count as targets).
        info: float [n_items] self-information of each item for novelty, or None.
        tie_seed: Seed of the item order that breaks ties; None breaks them by item index.
    """

    def __init__(self, k: int, candidates: np.ndarray, info: np.ndarray | None = None,
                 tie_seed: int | None = 0) -> None:
        if k < 1:
            raise ValueError(f"k must be positive, got {k}")
        self.k = k
        self.candidates = torch.as_tensor(np.asarray(candidates, dtype=bool))
        self.info = None if info is None else torch.as_tensor(np.asarray(info, dtype=np.float64))
        self._discount = 1.0 / torch.log2(torch.arange(k, dtype=torch.float64) + 2.0)
        self._ideal = torch.cumsum(self._discount, 0)
        self._recommended = torch.zeros(len(self.candidates), dtype=torch.bool)
        order = tie_order(len(candidates), tie_seed)
        columns = order[np.asarray(candidates, dtype=bool)[order]]  # candidates in tie order
        identity = np.array_equal(columns, np.arange(len(candidates)))
        self._columns = None if identity else torch.from_numpy(columns)
        self._users: list[np.ndarray] = []
        self._recall: list[torch.Tensor] = []
        self._ndcg: list[torch.Tensor] = []
        self._info_sum = 0.0
        self._slots = 0

    def update(self, scores: torch.Tensor, targets: torch.Tensor, exclude: torch.Tensor,
               users: np.ndarray) -> None:
        """Adds one batch of users.

        Args:
            scores: float [b, n_items] model scores (higher is better; -inf: never recommend).
            targets: bool [b, n_items] the users' target items.
            exclude: bool [b, n_items] items removed from the ranking (e.g. training positives).
            users: int [b] the users' indices (kept for the per-user arrays).
        """
        if self._columns is not None:  # the candidates only, in tie-break order
            scores, targets, exclude = (t[:, self._columns] for t in (scores, targets, exclude))
        reach = targets & ~exclude
        n_reach = reach.sum(1)
        rows = n_reach > 0
        if not bool(rows.any()):
            return
        masked = scores[rows].masked_fill(exclude[rows], float("-inf"))
        k = min(self.k, masked.shape[1])
        top_scores, top_items = masked.topk(k, dim=1)
        valid = top_scores > float("-inf")
        hits = reach[rows].gather(1, top_items) & valid
        n_reach = n_reach[rows].to(torch.float64)
        self._recall.append(hits.sum(1) / n_reach)
        dcg = (hits.to(torch.float64) * self._discount[:k]).sum(1)
        ideal = self._ideal[(n_reach.clamp(max=self.k) - 1).long()]
        self._ndcg.append(dcg / ideal)
        self._users.append(np.asarray(users)[rows.numpy()])
        if self._columns is not None:
            top_items = self._columns[top_items]
        shown = top_items[valid]
        self._recommended[shown] = True
        if self.info is not None:
            self._info_sum += float(self.info[shown].sum())
            self._slots += int(shown.numel())

    def result(self) -> RankingMetrics:
        """The metrics of every batch added so far."""
        recall = torch.cat(self._recall).numpy() if self._recall else np.zeros(0)
        ndcg = torch.cat(self._ndcg).numpy() if self._ndcg else np.zeros(0)
        n_cand = int(self.candidates.sum())
        return RankingMetrics(
            k=self.k,
            recall=float(recall.mean()) if len(recall) else None,
            ndcg=float(ndcg.mean()) if len(ndcg) else None,
            users=len(recall),
            coverage=float((self._recommended & self.candidates).sum()) / n_cand
            if n_cand else None,
            novelty=self._info_sum / self._slots if self._slots else None,
            user_index=np.concatenate(self._users) if self._users else np.zeros(0, np.int64),
            recall_per_user=recall,
            ndcg_per_user=ndcg,
        )


def check_scores(scores: torch.Tensor, n_users: int, n_items: int) -> torch.Tensor:
    """The scores as float tensor [n_users, n_items]; raises ValueError for a bad shape or NaN."""
    scores = torch.as_tensor(scores)
    if tuple(scores.shape) != (n_users, n_items):
        raise ValueError(
            f"score() returned shape {tuple(scores.shape)}, expected {(n_users, n_items)}"
        )
    if not scores.is_floating_point():
        scores = scores.float()
    if bool(torch.isnan(scores).any()):
        raise ValueError("score() returned NaN")
    return scores.cpu()


def dense_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> torch.Tensor:
    """bool [len(rows), n_cols]: the nonzeros of the given rows of a CSR matrix."""
    return torch.from_numpy(matrix[rows].toarray() != 0)


def ranking_metrics(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    targets: sp.spmatrix,
    exclude: sp.spmatrix | None = None,
    *,
    k: int = 20,
    candidates: np.ndarray | None = None,
    train_counts: np.ndarray | None = None,
    batch_size: int = 1024,
    tie_seed: int | None = 0,
) -> RankingMetrics:
    """Recall@k, NDCG@k, coverage and novelty of one scoring function (module conventions).

    Args:
        score_fn: int64 tensor [b] of user indices -> float tensor [b, n_items] of scores.
        targets: [n_users, n_items] nonzero at each user's target items.
        exclude: [n_users, n_items] nonzero at items removed from the user's ranking, or None.
        k: List length (default: 20).
        candidates: bool [n_items] items that may be ranked; None means all.
        train_counts: int [n_items] training rows per item for novelty; None gives no novelty.
        batch_size: Users scored per call of ``score_fn``.
        tie_seed: Seed of the item order that breaks equal scores; None: by item index.

    Returns:
        The RankingMetrics of the users with at least one reachable target.
    """
    targets = sp.csr_matrix(targets)
    n_users, n_items = targets.shape
    exclude = sp.csr_matrix((n_users, n_items)) if exclude is None else sp.csr_matrix(exclude)
    candidates = np.ones(n_items, bool) if candidates is None else np.asarray(candidates, bool)
    info = None if train_counts is None else self_information(train_counts)
    acc = RankingAccumulator(k, candidates, info, tie_seed)
    users = np.flatnonzero(targets.getnnz(axis=1) > 0)
    for begin in range(0, len(users), batch_size):
        batch = users[begin : begin + batch_size]
        scores = check_scores(score_fn(torch.from_numpy(batch)), len(batch), n_items)
        acc.update(scores, dense_rows(targets, batch), dense_rows(exclude, batch), batch)
    return acc.result()

"""The three ranking settings of DESIGN.md §4 (overall, cold, warm) on a split's val or test part.

For a part (val or test) the targets of a user are all their rows in that part; the settings
differ only in the candidate items, and targets outside the candidates do not count:

- ``overall``: every item is a candidate (targets: all the part's rows);
- ``cold``: only the part's cold items (targets: the rows of those items);
- ``warm``: only the warm items, those with training rows (targets: the part's warm rows).

Excluded from every ranking: the user's training positives, and for test also their
validation positives. Metrics follow `gnn.eval.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from gnn.eval.metrics import (
    RankingAccumulator,
    RankingMetrics,
    check_scores,
    dense_rows,
    self_information,
)
from gnn.eval.split import Split

SETTINGS = ("overall", "cold", "warm")
SELECTION_METRICS = ("recall", "ndcg", "recall+ndcg")

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


class Evaluator:
    """Scores users in batches and computes every setting from one score matrix per batch.

    Args:
        split: The split.
        k: List length (default: 20).
        batch_size: Users per ``score_fn`` call (default: 1024).
        tie_seed: Seed of the item order that breaks equal scores (see `gnn.eval.metrics`).
    """

    def __init__(
        self, split: Split, k: int = 20, batch_size: int = 1024, tie_seed: int | None = 0
    ) -> None:
        self.split = split
        self.tie_seed = tie_seed
        self.k = k
        self.batch_size = batch_size
        self.train_counts = np.bincount(split.train.items, minlength=split.n_items)
        self.info = self_information(self.train_counts)
        self._cache: dict[str, sp.csr_matrix] = {}

    def targets(self, part: str) -> sp.csr_matrix:
        """Binary CSR [n_users, n_items] of the part's rows."""
        if part not in self._cache:
            self._cache[part] = self.split.part(part).matrix(self.split.n_users, self.split.n_items)
        return self._cache[part]

    def exclude(self, part: str) -> sp.csr_matrix:
        """CSR [n_users, n_items] of the items removed from the part's rankings."""
        key = f"exclude-{part}"
        if key not in self._cache:
            if part == "val":
                matrix = self.targets("train")
            elif part == "test":
                matrix = self.targets("train") + self.targets("val")
            else:
                raise ValueError(f"can only evaluate on 'val' or 'test', got {part!r}")
            self._cache[key] = sp.csr_matrix(matrix)
        return self._cache[key]

    def candidates(self, part: str, setting: str) -> np.ndarray:
        """bool [n_items] the candidate items of a setting."""
        n_items = self.split.n_items
        if setting == "overall":
            return np.ones(n_items, dtype=bool)
        if setting == "cold":
            mask = np.zeros(n_items, dtype=bool)
            mask[self.split.part(part).cold_items] = True
            return mask
        if setting == "warm":
            return self.split.warm_mask()
        raise ValueError(f"unknown setting {setting!r}: expected one of {SETTINGS}")

    def run(
        self,
        score_fn: ScoreFn,
        part: str = "test",
        settings: Sequence[str] = SETTINGS,
        *,
        progress: bool = False,
        desc: str = "",
    ) -> dict[str, RankingMetrics]:
        """Metrics of ``score_fn`` in each setting on one part.

        Args:
            score_fn: int64 tensor [b] of user indices -> float tensor [b, n_items].
            part: ``"val"`` or ``"test"``.
            settings: Any of `SETTINGS`.
            progress: Show a tqdm bar on stderr.
            desc: Label of the bar.

        Returns:
            Setting -> RankingMetrics.

        Raises:
            ValueError: For an unknown part or setting, or scores of a bad shape or with NaN.
        """
        if not settings:
            raise ValueError("no setting to evaluate")
        targets, exclude = self.targets(part), self.exclude(part)
        accs = {s: RankingAccumulator(self.k, self.candidates(part, s), self.info, self.tie_seed)
                for s in settings}
        n_items = self.split.n_items
        # users with a target among the candidates of some requested setting
        union = np.logical_or.reduce([self.candidates(part, s) for s in settings])
        users = np.flatnonzero(targets[:, np.flatnonzero(union)].getnnz(axis=1) > 0)
        batches = range(0, len(users), self.batch_size)
        for begin in tqdm(batches, desc=desc or f"rank {part}", disable=not progress, leave=False):
            batch = users[begin : begin + self.batch_size]
            with torch.no_grad():
                scores = check_scores(score_fn(torch.from_numpy(batch)), len(batch), n_items)
            batch_targets, batch_exclude = dense_rows(targets, batch), dense_rows(exclude, batch)
            for acc in accs.values():
                acc.update(scores, batch_targets, batch_exclude, batch)
        return {s: acc.result() for s, acc in accs.items()}

    def figure(self, score_fn: ScoreFn, setting: str = "warm", part: str = "val",
               metric: str = "recall") -> float:
        """One model-selection figure of one setting: a metric of `SELECTION_METRICS` (0.0 when
        no user is evaluated); ``recall+ndcg`` is the sum of the two means."""
        if metric not in SELECTION_METRICS:
            raise ValueError(f"unknown metric {metric!r}: expected one of {SELECTION_METRICS}")
        result = self.run(score_fn, part, (setting,))[setting]
        if result.recall is None:
            return 0.0
        return sum(getattr(result, name) for name in metric.split("+"))

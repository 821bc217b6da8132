"""kgrec's own ranker in the evaluation table, and its ablations (each part removed).

``kgrec`` is `gnn.hybrid.ranker.HybridRanker` with every part; ``kgrec-no-<part>`` drops one
part and searches its blend again. The parts are fitted once per run and shared through
``TrainData.shared`` (so the ablation rows cost a blend search each), and all choices use the
validation part only.
"""

from __future__ import annotations

import numpy as np
import torch

from gnn.eval.baselines.base import Recommender, TrainData, sparse_rows
from gnn.hybrid.ranker import PART_NAMES, HybridRanker, fit_parts, validation_cache

SHARED_KEY = "kgrec-hybrid"


def shared_ranker(data: TrainData, rgcn_options: dict | None = None):
    """The full ranker, its validation cache and users, fitted once per TrainData."""
    if SHARED_KEY not in data.shared:
        parts = fit_parts(data, PART_NAMES, rgcn_options)
        cold = np.ones(data.n_items, dtype=bool)
        cold[data.split.warm_items] = False
        ranker = HybridRanker(parts, cold)
        users, cache = validation_cache(data, ranker)
        ranker.search(data, cache, users)
        data.shared[SHARED_KEY] = (ranker, cache, users)
    return data.shared[SHARED_KEY]


class KGRec(Recommender):
    """The hybrid ranker, optionally without some parts.

    Args:
        drop: Part names to leave out (see `gnn.hybrid.ranker.PART_NAMES`).
        rgcn_options: ``{"model_options": ..., "train_options": ...}`` for the R-GCN part.
    """

    name = "kgrec"

    def __init__(self, drop=(), rgcn_options: dict | None = None) -> None:
        super().__init__()
        unknown = set(drop) - set(PART_NAMES)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}: expected some of {PART_NAMES}")
        self.drop = tuple(drop)
        self.rgcn_options = rgcn_options

    def fit(self, data: TrainData) -> "KGRec":
        full, cache, users = shared_ranker(data, self.rgcn_options)
        self.ranker = full.without(data, self.drop, cache, users) if self.drop else full
        self._matrix = data.matrix
        self.params = {"blend": self.ranker.blend.to_dict(), **self.ranker.figures,
                       "parts": {n: p.params for n, p in self.ranker.parts.items()}}
        return self

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.ranker.score(sparse_rows(self._matrix, users), users)


def _ablation(part: str) -> type:
    cls = type(f"KGRecNo{part.title().replace('-', '')}", (KGRec,), {
        "name": f"kgrec-no-{part}",
        "__init__": lambda self, **kw: KGRec.__init__(self, drop=(part,), **kw),
        "__doc__": f"kgrec without its {part} part (ablation).",
    })
    return cls


KGRecNoRgcn = _ablation("rgcn")
KGRecNoNeighbours = _ablation("neighbours")
KGRecNoTextBridge = _ablation("text-bridge")
KGRecNoText = _ablation("text")

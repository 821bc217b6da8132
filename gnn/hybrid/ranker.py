"""kgrec's ranker: the R-GCN, neighbours, the text bridge and the text profile, blended.

`HybridRanker.fit` fits each part on the training rows (choosing its settings on validation),
caches every part's standardised validation scores once, and searches the blend weights on them
(`gnn.hybrid.blend`). Ablations reuse the fitted parts: `HybridRanker.without` searches a new
blend without some parts, so an ablation row costs a blend search, not a refit.
"""

from __future__ import annotations

import functools
import logging
import time

import numpy as np
import scipy.sparse as sp
import torch

from gnn.eval.baselines.base import TrainData, sparse_rows
from gnn.eval.split import binary_matrix
from gnn.hybrid.blend import Blend, BoundedRow, RowScores, search_blend, standardise
from gnn.hybrid.parts import (NeighbourPart, Part, RGCNPart, TextBridgePart, TextPart,
                              text_neighbours)

log = logging.getLogger(__name__)

#: Parts in blend order; the ones that can score an item without training rows are COLD_PARTS.
PART_NAMES = ("rgcn", "neighbours", "text-bridge", "text")
COLD_PARTS = ("rgcn", "text-bridge", "text")
#: What the blend search maximises on validation: the ranker is judged on both Recall@k and
#: NDCG@k, and Recall alone picks blends that find the items but place them low in the list.
BLEND_METRIC = "recall+ndcg"


def fit_parts(data: TrainData, names=PART_NAMES, rgcn_options: dict | None = None
              ) -> dict[str, Part]:
    """Fits the named parts on ``data`` (settings chosen on its validation part)."""
    matrix = data.matrix

    def validate(part: Part, setting: str) -> float:
        return data.validate(lambda u: part.scores(sparse_rows(matrix, u), u), setting)

    parts: dict[str, Part] = {}
    neighbours = None
    # both text parts start from each item's most similar items: one pass over the text pairs
    similar = functools.cache(lambda: text_neighbours(torch.from_numpy(data.item_text)))
    for name in names:
        t0 = time.perf_counter()
        if name == "neighbours" or (name == "text-bridge" and neighbours is None):
            neighbours = NeighbourPart().fit(data, validate)
            if name == "neighbours":
                parts[name] = neighbours
        if name == "text-bridge":
            parts[name] = TextBridgePart(neighbours).fit(data, validate, similar())
        elif name == "text":
            parts[name] = TextPart().fit(data, validate, similar())
        elif name == "rgcn":
            parts[name] = RGCNPart(**(rgcn_options or {})).fit(data, validate)
        elif name != "neighbours":
            raise ValueError(f"unknown part {name!r}: expected one of {PART_NAMES}")
        log.info("part %s: %s (%.1f s)", name, parts[name].params, time.perf_counter() - t0)
    return parts


class HybridRanker:
    """Blended parts; score(history, users) -> [b, n_items].

    Args:
        parts: Fitted parts by name.
        cold_items: bool [n_items] items without training rows (new items are cold too).
        blend: The blend (None until `search`).
    """

    def __init__(self, parts: dict[str, Part], cold_items: np.ndarray, blend: Blend | None = None):
        self.parts = parts
        self.cold_items = torch.as_tensor(np.asarray(cold_items, dtype=bool))
        self.blend = blend
        self.figures: dict = {}

    def part_scores(self, history: sp.csr_matrix, users: torch.Tensor | None,
                    names=None) -> dict[str, torch.Tensor]:
        """Standardised scores of each part."""
        return {n: standardise(self.parts[n].scores(history, users)) for n in (names or self.parts)}

    @property
    def used_parts(self) -> list[str]:
        """The parts the blend gives a weight (the others need not be computed)."""
        return [n for n in self.parts if self.blend.warm.get(n) or self.blend.cold.get(n)]

    def score(self, history: sp.csr_matrix, users: torch.Tensor | None = None) -> torch.Tensor:
        return self.blend.combine(self.part_scores(history, users, self.used_parts),
                                  self.cold_items)

    def score_row(self, history: sp.csr_matrix, users: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, dict[str, RowScores]]:
        """One history's blended scores [n_items] (`score` of one row, to float rounding) and
        each used part's `RowScores`, from which `Blend.contributions_at` reads an item's share.

        What a request calls: the sparse parts stay sparse (`Part.row_scores`), which at 100k
        items makes a request's ranking several times cheaper than `score`'s dense rows.
        """
        rows = self.row_parts(history, users)
        return self.blend.combine_row(rows, self.cold_items), rows

    def score_row_bounded(self, history: sp.csr_matrix, users: torch.Tensor | None = None
                          ) -> tuple[BoundedRow, dict[str, RowScores]]:
        """`score_row` as totals within a bound of the exact ones (`Blend.combine_row_bounded`),
        whose `BoundedRow.top_k` is exact: what a request needs, at a quarter of the memory
        traffic of the R-GCN product."""
        rows = self.row_parts(history, users)
        return self.blend.combine_row_bounded(rows, self.cold_items), rows

    def row_parts(self, history: sp.csr_matrix, users: torch.Tensor | None
                  ) -> dict[str, RowScores]:
        """Each used part's `RowScores` of one history."""
        return {n: RowScores.of(self.parts[n].row_scores(history, users)) for n in self.used_parts}

    def search(self, data: TrainData, cache: dict[str, torch.Tensor] | None = None,
               cache_users: np.ndarray | None = None) -> "HybridRanker":
        """Chooses the blend on validation; ``cache`` holds standardised val scores per part."""
        if cache is None:
            cache_users, cache = validation_cache(data, self)
        position = torch.full((data.n_users,), -1, dtype=torch.int64)
        position[torch.from_numpy(cache_users)] = torch.arange(len(cache_users))
        names = [n for n in PART_NAMES if n in self.parts]
        cold_names = [n for n in COLD_PARTS if n in self.parts]

        def measure(blend: Blend, setting: str) -> float:
            def score_fn(users):
                rows = position[users]
                return blend.combine({n: cache[n][rows] for n in names}, self.cold_items)
            return data.validate(score_fn, setting, BLEND_METRIC)

        self.blend, self.figures = search_blend(names, cold_names, measure, BLEND_METRIC)
        return self

    def without(self, data: TrainData, drop, cache, cache_users) -> "HybridRanker":
        """A ranker with the same fitted parts less ``drop``, its blend searched anew."""
        kept = {n: p for n, p in self.parts.items() if n not in drop}
        return HybridRanker(kept, self.cold_items.numpy()).search(
            data, {n: cache[n] for n in kept}, cache_users)


def history_row(items, n_items: int) -> sp.csr_matrix:
    """A binary CSR [1, n_items] of one history (a new user's items, or a known user's)."""
    # built from its index arrays: scipy's (row, col) constructor goes through COO, which
    # cost a request more than its neighbour search
    items = np.unique(np.asarray(items, dtype=np.int64)).astype(np.int32)
    return sp.csr_matrix((np.ones(len(items), np.float32), items,
                          np.array([0, len(items)], dtype=np.int32)), shape=(1, n_items))


def validation_cache(data: TrainData, ranker: HybridRanker, batch_size: int = 1024
                     ) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
    """Standardised scores of every part for the users with validation rows."""
    users = np.unique(data.split.val.users)
    matrix = data.matrix
    out: dict[str, list[torch.Tensor]] = {n: [] for n in ranker.parts}
    for begin in range(0, len(users), batch_size):
        batch = torch.from_numpy(users[begin : begin + batch_size])
        scores = ranker.part_scores(sparse_rows(matrix, batch), batch)
        for name, value in scores.items():
            out[name].append(value)
    return users, {n: torch.cat(v) for n, v in out.items()}


def ranker_from_bundle(bundle) -> HybridRanker:
    """The trained ranker of a `gnn.bundle.Bundle`, rebuilt over the bundle's interactions.

    The bundle holds the R-GCN and its embeddings, every interaction (as message edges), the
    products' text vectors and the ranker's settings (``manifest["ranker"]``); the other parts
    are rebuilt from those with the chosen settings, no fitting. Items without any interaction
    in the bundle are the cold items.
    """
    from gnn.infer import Inductor
    from gnn.train import Embeddings
    from kg.schema import PRODUCT, USER

    settings = bundle.manifest.get("ranker")
    if not settings:
        raise ValueError(f"{bundle.path}: the bundle has no ranker settings (train it again)")
    n_users, n_items = bundle.graph.counts[USER], bundle.graph.counts[PRODUCT]
    matrix = binary_matrix(bundle.message_users, bundle.message_items, n_users, n_items)
    text = bundle.graph.features[PRODUCT].numpy()
    warm = np.unique(bundle.message_items)
    params = settings["parts"]
    parts: dict[str, Part] = {}
    neighbours = NeighbourPart.from_settings(matrix, params["neighbours"])
    embeddings = Embeddings(torch.from_numpy(bundle.user_emb), torch.from_numpy(bundle.product_emb),
                            torch.from_numpy(bundle.node_emb))
    inductor = Inductor(bundle.model, bundle.graph, bundle.message_users, bundle.message_items)
    similar = functools.cache(lambda: text_neighbours(torch.from_numpy(text)))  # both text parts
    for name in PART_NAMES:
        if name == "rgcn":
            parts[name] = RGCNPart.from_settings(embeddings, inductor, {})
        elif name == "neighbours":
            parts[name] = neighbours
        elif name == "text-bridge":
            parts[name] = TextBridgePart.from_settings(neighbours, text, warm, params[name],
                                                       similar())
        elif name == "text":
            parts[name] = TextPart.from_settings(text, params[name], similar())
    cold = np.ones(n_items, dtype=bool)
    cold[warm] = False
    ranker = HybridRanker(parts, cold, Blend.from_dict(settings["blend"]))
    ranker.matrix = matrix
    return ranker

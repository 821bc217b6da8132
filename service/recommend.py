"""Ranking for the three entry points (a known user, a short history, a text query) and filters.

The ranker is the bundle's hybrid (`gnn.hybrid`): its parts' standardised scores are blended
with the trained weights; a query adds the query scorer's standardised scores. Items the user
already has are never recommended; filters remove candidates before the top-k.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from gnn.eval.baselines.base import row_indices
from gnn.hybrid.blend import BoundedRow, standardise
from gnn.hybrid.ranker import history_row
from service.errors import invalid, not_found
from service.requests import Filters, RecommendRequest
from service.state import ServingState


@dataclass
class Ranking:
    """A ranked list with what explains it.

    Attributes:
        items: Product indices, best first.
        scores: Their blended scores.
        history: Product indices the ranking started from (the user's items plus ``history``).
        user: The known user's index, or None.
        contributions: part name -> float [len(items)] weight x standardised score per item.
        matches: Entities the query named (see `gnn.query`), empty without a query.
    """

    items: list[int]
    scores: list[float]
    history: list[int]
    user: int | None
    contributions: dict[str, np.ndarray] = field(default_factory=dict)
    matches: list = field(default_factory=list)


def resolve_history(state: ServingState, req: RecommendRequest) -> tuple[int | None, list[int]]:
    user = None
    if req.user_id is not None:
        user = state.users.get(req.user_id)
        if user is None:
            raise not_found("user_id", f"unknown user {req.user_id!r}")
    items = []
    for i, pid in enumerate(req.history):
        idx = state.products.get(pid)
        if idx is None:
            raise not_found(f"history[{i}]", f"unknown item {pid!r}")
        items.append(idx)
    own = row_indices(state.matrix, user).tolist() if user is not None else []
    return user, list(dict.fromkeys(own + items))


def candidate_mask(state: ServingState, filters: Filters) -> np.ndarray:
    """bool [n_products]: products that pass the filters (404/400 naming an unknown filter)."""
    mask = np.ones(len(state.product_ids), dtype=bool)
    if filters.category is not None:
        members = state.category_subtree(filters.category)
        if members is None:
            raise not_found("filters.category", f"unknown category {filters.category!r} "
                            "(use the category id, e.g. 'Tools > Staplers')")
        keep = np.zeros_like(mask)
        keep[members] = True
        mask &= keep
    if filters.brand is not None:
        brand = state.brand_index(filters.brand)
        if brand is None:
            raise not_found("filters.brand", f"unknown brand {filters.brand!r}")
        mask &= state.brand_of == brand
    if filters.price_min is not None or filters.price_max is not None:
        if np.isnan(state.price).all():
            raise invalid("filters.price_min" if filters.price_min is not None else
                          "filters.price_max", "this catalogue has no prices")
        price = np.nan_to_num(state.price, nan=-1.0)
        if filters.price_min is not None:
            mask &= price >= filters.price_min
        if filters.price_max is not None:
            mask &= (price <= filters.price_max) & (price >= 0)
    return mask


def rank(state: ServingState, req: RecommendRequest, query_scores=None) -> Ranking:
    """The top ``req.k`` products for a request.

    Args:
        state: The serving state.
        req: The parsed request.
        query_scores: ``(scores [n_products], matches)`` of the request's query, or None.
    """
    user, history = resolve_history(state, req)
    ranker = state.ranker
    n = len(state.product_ids)
    rows = {}
    if history:
        users = torch.tensor([user]) if user is not None and not req.history else None
        # totals within a bound of the exact ones; the top-k below is exact (gnn.hybrid.blend)
        bounded, rows = ranker.score_row_bounded(history_row(history, n), users)
    else:
        bounded = BoundedRow(torch.zeros(n))
    total = bounded.total
    matches, query = [], None
    if query_scores is not None:
        scores, matches = query_scores
        query = standardise(torch.as_tensor(scores, dtype=torch.float32)[None])[0]
        total = total + query
    if req.filters.active():
        mask = torch.from_numpy(candidate_mask(state, req.filters))
        if history:
            mask[torch.tensor(history)] = False
        total = total.masked_fill(~mask, float("-inf"))
        candidates = int(mask.sum())
    else:  # no mask to build: only the history is left out (it holds no repeats)
        if history:
            total[torch.tensor(history)] = float("-inf")
        candidates = n - len(history)
    k = min(req.k, candidates)
    top = bounded.top_k(k, total) if k else (torch.zeros(0), torch.zeros(0, dtype=torch.int64))
    items = top[1].tolist()
    contributions = ranker.blend.contributions_at(rows, ranker.cold_items, items) if rows else {}
    if query is not None:
        contributions["query"] = query[items].numpy()
    return Ranking(items, [round(s, 5) for s in top[0].tolist()], history, user,
                   contributions, matches)


def similar_items(state: ServingState, item: int, k: int, filters: Filters) -> tuple[list[int], list[float]]:
    """Products nearest to ``item`` by R-GCN embedding (cosine), the item itself left out."""
    emb = torch.nn.functional.normalize(torch.from_numpy(state.bundle.product_emb), dim=1)
    scores = emb @ emb[item]
    mask = torch.from_numpy(candidate_mask(state, filters))
    mask[item] = False
    scores = scores.masked_fill(~mask, float("-inf"))
    k = min(k, int(mask.sum()))
    top = scores.topk(k)
    return top[1].tolist(), [round(float(s), 5) for s in top[0]]

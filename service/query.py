"""The query entry point: a new user's natural-language query scored over the bundle's catalogue.

The query is encoded by the same language model as the products; `gnn.query.QueryScorer`
combines its text similarity to every product, its projection into the R-GCN's product space
(a ridge map fitted on the bundle's products) and the brands / categories / attributes it
names. The scorer is built once per serving state, on its first query.
"""

from __future__ import annotations

import threading

import numpy as np

from gnn.query import EntityMatcher, QueryProjection, QueryScorer
from kg.schema import CATEGORY, PRODUCT

_lock = threading.Lock()


def scorer_for(state) -> QueryScorer:
    """The state's QueryScorer (built on first use)."""
    with _lock:
        if state.query_scorer is None:
            features = state.bundle.graph.features
            text = features[PRODUCT].numpy()
            emb = state.bundle.product_emb
            has_text = np.linalg.norm(text, axis=1) > 0
            projection = QueryProjection.fit(text[has_text], emb[has_text]) if has_text.sum() > 10 else None
            categories = features[CATEGORY].numpy() if CATEGORY in features else None
            matcher = EntityMatcher.from_snapshot(state.snapshot, categories)
            state.query_scorer = QueryScorer(state.snapshot, text, emb if projection else None,
                                             projection, matcher)
        return state.query_scorer


def query_scores(state, encoder, text: str):
    """``(scores [n_products], matches)`` for a query text."""
    vector = encoder.encode_query(text)
    return scorer_for(state).score(np.asarray(vector).reshape(-1), text)

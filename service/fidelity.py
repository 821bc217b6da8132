"""Explanation fidelity: does removing a path's edges lower the explained item's score?

For a path explaining item Y to user u, the interaction edges on the path are removed — the
user's own (u bought X) from u's history, another user's (v bought X, v bought Y) from the
interaction matrix the neighbour parts and the R-GCN's message graph read — and Y is scored
again by the same ranker: the R-GCN embeds the user anew over the reduced graph (`gnn.infer`),
the neighbour and text parts use the reduced history and matrix. Both scores are taken the same
way (the user as a history, so before and after differ only by the removed edges). Catalogue
edges on a path (MADE_BY, IN_CATEGORY, ...) are kept: they feed the R-GCN's item embeddings,
which are not recomputed here.
"""

from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp

from gnn.hybrid.parts import NeighbourPart
from gnn.hybrid.ranker import history_row
from gnn.infer import Inductor
from kg.schema import USER


def _score(ranker, matrix: sp.csr_matrix, history: list[int], item: int,
           inductor: Inductor | None) -> float:
    parts = dict(ranker.parts)
    if "neighbours" in parts:
        neighbours = NeighbourPart.from_settings(matrix, parts["neighbours"].params)
        parts["neighbours"] = neighbours
        if "text-bridge" in parts:
            bridge = copy.copy(parts["text-bridge"])
            bridge.neighbours = neighbours
            parts["text-bridge"] = bridge
    if "rgcn" in parts and inductor is not None:
        rgcn = copy.copy(parts["rgcn"])
        rgcn.inductor = inductor
        parts["rgcn"] = rgcn
    reduced = copy.copy(ranker)
    reduced.parts = parts
    return float(reduced.score(history_row(history, matrix.shape[1]), None)[0, item])


def path_edges(state, path: dict) -> list[tuple[int, int]]:
    """(user index, product index) of the INTERACTED edges on a path (explanation JSON)."""
    nodes = path["nodes"]
    out = []
    for hop, a, b in zip(path["relationships"], nodes, nodes[1:]):
        if hop["type"] != "INTERACTED":
            continue
        user, item = (a, b) if a["label"] == USER else (b, a)
        u, p = state.users.get(user["id"]), state.products.get(item["id"])
        if u is not None and p is not None:
            out.append((u, p))
    return out


def fidelity(state, user: int, item: int, path: dict) -> bool | None:
    """True when removing the path's interaction edges lowers the item's score; None if the path
    has no interaction edge to remove."""
    removed = path_edges(state, path)
    if not removed:
        return None
    matrix = state.matrix.tolil(copy=True)
    history = state.matrix[user].indices.tolist()
    before = _score(state.ranker, state.matrix, history, item, state.ranker.parts["rgcn"].inductor
                    if "rgcn" in state.ranker.parts else None)
    for u, p in removed:
        matrix[u, p] = 0
    matrix = matrix.tocsr()
    matrix.eliminate_zeros()
    after_history = [h for h in history if (user, h) not in removed]
    inductor = None
    if "rgcn" in state.ranker.parts:
        coo = matrix.tocoo()
        base = state.ranker.parts["rgcn"].inductor
        inductor = Inductor(base.model, base.graph, coo.row, coo.col)
    after = _score(state.ranker, matrix, after_history, item, inductor)
    return after < before


def fidelity_share(state, users, k: int = 10, rank_fn=None, explain_fn=None) -> dict:
    """Share of explanation paths (with an interaction edge) whose removal lowers the score."""
    results = []
    for u in users:
        ranking = rank_fn(u, k)
        explanations = explain_fn(ranking)
        for item, ex in zip(ranking.items, explanations):
            for path in ex.get("paths", []):
                value = fidelity(state, u, item, path)
                if value is not None:
                    results.append(value)
    return {"paths": len(results), "share_lower": float(np.mean(results)) if results else None}

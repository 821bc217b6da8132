"""Explanations: for each recommended item, the 1-3 graph paths that carry the signals that ranked it.

The ranking parts say which evidence matters (`service.recommend.Ranking.contributions`), and
each part has its kind of path:

- ``rgcn`` / ``text`` with catalogue links: user -> bought X -> brand/category <- item Y
  ("You bought X by Stanley; Y is also by Stanley");
- ``neighbours``: user -> bought X <- another user -> bought Y ("People who bought X also
  bought Y");
- ``text-bridge`` (items no one bought): user -> X <- another user -> Z, then Z ~ Y by text;
- ``text``: X ~ Y by text similarity when no catalogue path exists;
- ``query``: matched brand/category -> Y.

Graph paths are read from the active store (`kg.store.GraphStore.find_paths`); text-similarity
steps come from the bundle's text vectors. Each path's score is the contribution of the part it
stands for. When the store cannot be reached, explanations say so and ranking is unaffected.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from kg.schema import PRODUCT, USER
from kg.store import GraphPath, Hop
from service.recommend import Ranking
from service.state import ServingState

log = logging.getLogger(__name__)

MAX_PATHS = 3
VERBS = {"INTERACTED": "bought", "MADE_BY": "is made by", "IN_CATEGORY": "is in",
         "SUBCATEGORY_OF": "is a subcategory of", "HAS_ATTRIBUTE": "has",
         "ALSO_BOUGHT": "was bought with", "ALSO_VIEWED": "was viewed with",
         "BOUGHT_TOGETHER": "is bought together with", "SIMILAR_TEXT": "is much like"}


def _path_kind(path: GraphPath) -> str:
    """What a path shows: a co-purchase (through another user), shared catalogue entries, ..."""
    if any(label == USER for label, _ in path.nodes[1:-1]):
        return "co-purchase"
    if any(h.rel == "SIMILAR_TEXT" for h in path.hops):
        return "text-similarity"
    return "catalogue"


def _path_json(path: GraphPath, score: float, sentence: str, signal: str) -> dict:
    return {
        "kind": _path_kind(path),
        "signal": signal,
        "score": round(float(score), 4),
        "sentence": sentence,
        "nodes": [{"label": l, "id": i, "name": n} for (l, i), n in zip(path.nodes, path.names)],
        "relationships": [{"type": h.rel, "forward": h.forward} for h in path.hops],
    }


VIA = {"MADE_BY": "by", "IN_CATEGORY": "in", "HAS_ATTRIBUTE": "with"}
# The neighbour and text-bridge parts stand for other buyers: their paths use interactions only.
CO_PURCHASE = ("INTERACTED",)


def _sentence(path: GraphPath, signal: str) -> str:
    names = path.names
    rels = [h.rel for h in path.hops]
    if len(rels) == 3 and rels[0] == "INTERACTED" and rels[1] == rels[2] and rels[1] in VIA:
        via = VIA[rels[1]]
        return f"You bought {names[1]} {via} {names[2]}; {names[3]} is also {via} {names[2]}."
    if len(rels) == 2 and rels[0] == rels[1] and rels[0] in VIA and path.nodes[0][0] == PRODUCT:
        via = VIA[rels[0]]
        return f"{names[2]} is {via} {names[1]}, like {names[0]}."
    if rels[:3] == ["INTERACTED"] * 3 and len(names) > 3:
        return f"People who bought {names[1]}, as you did, also bought {names[3]}."
    if signal == "query" and len(path.nodes) >= 2:
        return f"{names[-1]} matches {names[0]}, named in your query."
    steps = [names[0]]
    for hop, name in zip(path.hops, names[1:]):
        verb = VERBS.get(hop.rel, hop.rel.lower())
        steps.append(f"{verb} {name}" if hop.forward else f"← {verb} ← {name}")
    return " ".join(steps) + "."


def _similar(state: ServingState, a: int, b: int) -> float:
    text = state.text_vectors
    return 0.0 if text is None else float(text[a] @ text[b])


def _most_similar(state: ServingState, history: list[int], item: int) -> int:
    """The history item whose text is closest to ``item``'s (the first one on ties)."""
    text = state.text_vectors
    if text is None:
        return history[0]
    return history[int(np.argmax(text[history] @ text[item]))]


def _text_path(state: ServingState, start: tuple, via: int, item: int, score: float,
               prefix: GraphPath | None, kind: str) -> dict:
    """A path ending in a text-similarity step ``via ~ item`` (not a stored relationship)."""


    sim = _similar(state, via, item)
    via_node, item_node = (PRODUCT, state.product_ids[via]), (PRODUCT, state.product_ids[item])
    via_name = state.product(via)["title"]
    item_name = state.product(item)["title"]
    if prefix is None:
        path = GraphPath((start, via_node, item_node),
                         (Hop("INTERACTED", True), Hop("SIMILAR_TEXT", True)),
                         (start[1], via_name, item_name))
        sentence = f"{item_name} is much like {via_name}, which you bought (text similarity {sim:.2f})."
    else:
        path = GraphPath(prefix.nodes + (item_node,), prefix.hops + (Hop("SIMILAR_TEXT", True),),
                         prefix.names + (item_name,))
        sentence = (f"People who bought {prefix.names[1]}, as you did, bought {via_name}; "
                    f"{item_name} is much like it (text similarity {sim:.2f}).")
    out = _path_json(path, score, sentence, kind)
    out["relationships"][-1]["similarity"] = round(sim, 4)
    return out


def explain(state: ServingState, ranking: Ranking, store) -> list[dict]:
    """One explanation object per ranked item: ``{"available", "paths" | "reason"}``."""
    out = []
    # one request asks the same question more than once (the rgcn and text parts both want
    # user -> item paths): answer each from the store once (a raised error is not cached)
    find = functools.lru_cache(maxsize=None)(
        lambda src, dst, **kw: store.find_paths(src, dst, **kw))
    for pos, item in enumerate(ranking.items):
        try:
            paths = _explain_item(state, ranking, pos, item, find)
            out.append({"available": True, "paths": paths[:MAX_PATHS]})
        except Exception as exc:  # the store went away: ranking stands, explanations say so
            log.warning("explanations unavailable: %s", exc)
            out.append({"available": False, "reason": f"graph store unreachable: {exc}"})
    return out


def _explain_item(state, ranking: Ranking, pos: int, item: int, find_paths) -> list[dict]:
    contrib = {name: float(c[pos]) for name, c in ranking.contributions.items()}
    order = sorted(contrib, key=contrib.get, reverse=True)
    pid = state.product_ids[item]
    target = (PRODUCT, pid)
    # paths start at the user; for an anonymous history, at its items (see below)
    start = (USER, state.bundle.node_ids[USER][ranking.user]) if ranking.user is not None else None
    paths: list[dict] = []
    seen: set = set()

    def add(p: dict) -> None:
        key = tuple((n["label"], n["id"]) for n in p["nodes"]) + (p["kind"],)
        if key not in seen:
            seen.add(key)
            paths.append(p)

    for kind in order:
        if len(paths) >= MAX_PATHS:
            break
        score = contrib[kind]
        if kind == "query":
            for m in ranking.matches[:2]:
                for p in find_paths((m.label, m.id), target, k=1, max_hops=3):
                    add(_path_json(p, score, _sentence(p, "query"), "query"))
            continue
        sources = [start] if start else [(PRODUCT, state.product_ids[h]) for h in ranking.history[:5]]
        if kind in ("rgcn", "text"):
            for src in sources:
                for p in find_paths(src, target, k=2, max_hops=3 if start else 2):
                    add(_path_json(p, score, _sentence(p, kind), kind))
            if kind == "text" and ranking.history:
                best = _most_similar(state, ranking.history, item)
                add(_text_path(state, start or (PRODUCT, state.product_ids[best]), best, item,
                               score, None, kind))
        elif kind == "neighbours" and start:
            # the neighbour signal is other buyers: only paths user -> X <- another user -> Y
            # (with interactions alone, every path of at most 3 hops between them is one)
            for p in find_paths(start, target, k=2, max_hops=3, rel_types=CO_PURCHASE,
                                through_users=True):
                add(_path_json(p, score, _sentence(p, kind), kind))
        elif kind == "text-bridge" and start and "text-bridge" in state.ranker.parts:
            kernel = state.ranker.parts["text-bridge"].kernel  # CSR: the item's row, unsliced
            begin, end = kernel.indptr[item], kernel.indptr[item + 1]
            if end > begin:
                via = int(kernel.indices[begin + np.argmax(kernel.data[begin:end])])
                for p in find_paths(start, (PRODUCT, state.product_ids[via]), k=1,
                                    max_hops=3, rel_types=CO_PURCHASE, through_users=True):
                    add(_text_path(state, start, via, item, score, p, kind))
    return paths

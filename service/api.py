"""The /v1 endpoints: recommendations, items, similar items, feedback events.

Views are thin: parse (`service.requests`), rank (`service.recommend`), explain
(`service.explain`), answer JSON. Errors are raised as `service.errors.ApiError`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from service.errors import ApiError, invalid, not_found
from service.explain import explain
from service.recommend import candidate_mask, rank, resolve_history, similar_items
from service.requests import (
    RecommendRequest, check_query_args, json_body, parse_bool, parse_k, parse_query_filters,
    parse_recommend,
)

bp = Blueprint("api", __name__, url_prefix="/v1")


def _ext():
    return current_app.extensions["kgrec"]


def _explanations(state, ranking) -> list[dict]:
    """Explanations, or "unavailable" for each item when the store cannot be reached."""
    ext = _ext()
    try:
        store = ext.store()
    except Exception as exc:  # e.g. Neo4j down: ranking still answers
        ext.reset_store()
        return [{"available": False, "reason": f"graph store unreachable: {exc}"}
                for _ in ranking.items]
    out = explain(state, ranking, store)
    if any(not e["available"] for e in out):
        ext.reset_store()  # reconnect on the next request
    return out


def _answer(state, ranking, want_explain: bool) -> dict:
    items = []
    explanations = _explanations(state, ranking) if want_explain else None
    for rank_, (idx, score) in enumerate(zip(ranking.items, ranking.scores), 1):
        entry = state.product(idx) | {"rank": rank_, "score": score}
        if explanations is not None:
            entry["explanation"] = explanations[rank_ - 1]
        items.append(entry)
    body = {"model_version": state.version, "items": items}
    if ranking.matches:
        body["query_matches"] = [{"label": m.label, "id": m.id, "name": m.name}
                                 for m in ranking.matches]
    return body


def _query_scores(state, req: RecommendRequest):
    if req.query is None:
        return None
    return _ext().query_scores(state, req.query)


@bp.get("/users/<user_id>/recommendations")
def user_recommendations(user_id: str):
    check_query_args(request.args, {"k", "explain", "category", "brand", "price_min", "price_max"})
    req = RecommendRequest(user_id=user_id, k=parse_k(request.args.get("k"), from_query=True),
                           explain=parse_bool(request.args.get("explain"), "explain", True),
                           filters=parse_query_filters(request.args))
    state = _ext().holder.state
    if user_id not in state.users:
        raise not_found("user_id", f"unknown user {user_id!r}")
    return jsonify(_answer(state, rank(state, req), req.explain))


@bp.post("/recommendations")
def recommendations():
    req = parse_recommend(json_body(request))
    state = _ext().holder.state
    if req.query is not None:  # an unknown id or filter answers 404/400 before the model runs
        resolve_history(state, req)
        candidate_mask(state, req.filters)
    ranking = rank(state, req, _query_scores(state, req))
    return jsonify(_answer(state, ranking, req.explain))


@bp.get("/items/<item_id>")
def item(item_id: str):
    check_query_args(request.args, set())
    state = _ext().holder.state
    idx = state.products.get(item_id)
    if idx is None:
        raise not_found("item_id", f"unknown item {item_id!r}")
    body = state.product(idx) | {"interactions": int(state.matrix[:, idx].nnz),
                                 "cold": bool(state.ranker.cold_items[idx])}
    return jsonify(body)


@bp.get("/items/<item_id>/similar")
def similar(item_id: str):
    check_query_args(request.args, {"k", "category", "brand", "price_min", "price_max"})
    k = parse_k(request.args.get("k"), from_query=True)
    filters = parse_query_filters(request.args)
    state = _ext().holder.state
    idx = state.products.get(item_id)
    if idx is None:
        raise not_found("item_id", f"unknown item {item_id!r}")
    items, scores = similar_items(state, idx, k, filters)
    return jsonify({"model_version": state.version, "item": item_id,
                    "items": [state.product(i) | {"rank": r, "score": s}
                              for r, (i, s) in enumerate(zip(items, scores), 1)]})


@bp.post("/events")
def events():
    from service.events import MAX_BATCH, EventError, validate_event

    data = json_body(request)
    raw = data.get("events", [data]) if set(data) <= {"events"} and "events" in data else [data]
    if not isinstance(raw, list) or not raw:
        raise invalid("events", "events must be a non-empty list of event objects")
    if len(raw) > MAX_BATCH:
        raise invalid("events", f"at most {MAX_BATCH} events per request")
    state = _ext().holder.state
    clean = []
    for i, event in enumerate(raw):
        where = f"events[{i}]." if "events" in data else ""
        try:
            ev = validate_event(event)
        except EventError as exc:
            raise invalid(where + exc.field, exc.message) from None
        # a user the model has not seen yet is welcome (that is how new users arrive)
        if ev["item_id"] not in state.products:
            raise not_found(where + "item_id", f"unknown item {ev['item_id']!r}")
        clean.append(ev)
    ids = _ext().events().append(clean)
    return jsonify({"accepted": len(ids), "ids": ids}), 202


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return jsonify(exc.body()), exc.status

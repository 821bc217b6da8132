"""The REST API on both stores: every endpoint, the three entry points, bad input as 4xx JSON."""

from __future__ import annotations

import json

import pytest

from gnn.train import TrainConfig
from gnn.workflow import train_bundle
from kg.ingest import load_dir
from kg.snapshot import export_snapshot
from service.app import create_app
from service.config import load_config
from service.stores import open_store
from service.texts import encode_snapshot
from tests.gnn.rgcn_data import topic_catalogue

TOKEN = "s3cret-token"


def _config(home, **env):
    return load_config({"KGREC_HOME": str(home), "KGREC_DEVICE": "cpu",
                        "KGREC_ADMIN_TOKEN": TOKEN, **env})


def _build(tmp_path_factory, store_env: dict):
    home = tmp_path_factory.mktemp("home")
    config = _config(home, **store_env)
    folder = topic_catalogue(tmp_path_factory.mktemp("data"), n_products=48, n_users=40)
    store = open_store(config)
    if store.name == "neo4j":
        store.clear()
        store.ensure_schema()
    load_dir(store, folder, progress=False)
    store.flush()
    snap = export_snapshot(store)
    store.close()
    vectors, _, _ = encode_snapshot(config, snap)
    train_bundle(snap, vectors, config.bundle_root, model_options={"hidden": 16, "out": 16},
                 train_config=TrainConfig(max_epochs=4, batch_size=64), k=5)
    return config, snap


@pytest.fixture(scope="module", params=["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def served(request, tmp_path_factory):
    if request.param == "neo4j":
        uri, user, password = request.getfixturevalue("neo4j_credentials")
        env = {"KGREC_STORE": "neo4j", "NEO4J_URI": uri, "NEO4J_USER": user,
               "NEO4J_PASSWORD": password}
    else:
        env = {}
    config, snap = _build(tmp_path_factory, env)
    app = create_app(config)
    return app, snap


@pytest.fixture
def client(served):
    return served[0].test_client()


def _error(resp, status, field):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["field"] == field, body
    return body["error"]


def topic(pid: str) -> int:
    return int(pid[1:]) % 4


def test_known_user_gets_topic_items_with_explanations(client, served):
    _, snap = served
    user = "U002"  # buys topic 2
    resp = client.get(f"/v1/users/{user}/recommendations?k=5")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    items = body["items"]
    assert len(items) == 5 and body["model_version"]
    assert [i["rank"] for i in items] == [1, 2, 3, 4, 5]
    assert sum(topic(i["id"]) == 2 for i in items) >= 4
    bought = {snap.node_ids["Product"][j] for u, j in zip(*snap.edges["INTERACTED"])
              if snap.node_ids["User"][u] == user}
    assert not bought & {i["id"] for i in items}
    explained = [i["explanation"] for i in items if i["explanation"]["available"]]
    assert explained and all(e["paths"] for e in explained)
    path = explained[0]["paths"][0]
    assert path["nodes"][0] == {"label": "User", "id": user, "name": user}
    assert path["nodes"][-1]["id"] == items[0]["id"] and path["sentence"]
    no_explain = client.get(f"/v1/users/{user}/recommendations?k=2&explain=false").get_json()
    assert "explanation" not in no_explain["items"][0]


def test_other_buyer_signals_are_explained_by_co_purchase_paths(client, served):
    """The neighbour and text-bridge parts stand for other buyers: their paths must say so
    (user -> X <- another user -> Y), never a catalogue path worded as a co-purchase."""
    _, snap = served
    by_signal: dict[str, list] = {}
    for user in snap.node_ids["User"][:20]:
        for item in client.get(f"/v1/users/{user}/recommendations?k=5").get_json()["items"]:
            for path in item["explanation"].get("paths", []):
                by_signal.setdefault(path["signal"], []).append(path)
    assert by_signal.get("neighbours"), sorted(by_signal)
    for path in by_signal["neighbours"]:
        assert [r["type"] for r in path["relationships"]] == ["INTERACTED"] * 3
        assert path["kind"] == "co-purchase" and path["nodes"][2]["label"] == "User"
        assert path["sentence"].startswith("People who bought ")
    for path in by_signal.get("text-bridge", []):
        rels = [r["type"] for r in path["relationships"]]
        assert rels[-1] == "SIMILAR_TEXT" and set(rels[:-1]) == {"INTERACTED"}


def test_text_explanations_name_the_closest_item(served):
    """A text path goes through the history item whose text is closest to the recommended one;
    a text-bridge path through the item's strongest warm text neighbour (the kernel's row max),
    reached by a co-purchase. Driven with one signal at a time, whatever weights the blend chose."""
    import numpy as np

    from service.explain import explain
    from service.recommend import Ranking

    app, snap = served
    ext = app.extensions["kgrec"]
    state = ext.holder.state
    text = state.ranker.parts["text"].text.numpy()
    kernel = state.ranker.parts["text-bridge"].kernel.toarray()
    users = snap.node_ids["User"]
    checked = {"text": 0, "text-bridge": 0}
    with app.app_context():
        store = ext.store()
        for user in range(10):
            history = sorted({int(j) for u, j in zip(*snap.edges["INTERACTED"]) if u == user})
            items = [i for i in range(len(state.product_ids)) if i not in history][:8]
            for signal in checked:
                ranking = Ranking(items=items, scores=[0.0] * len(items), history=history,
                                  user=state.users[users[user]],
                                  contributions={signal: np.ones(len(items))})
                for item, expl in zip(items, explain(state, ranking, store)):
                    ends = [p for p in expl["paths"]
                            if p["relationships"][-1]["type"] == "SIMILAR_TEXT"]
                    if signal == "text":
                        via = history[int(np.argmax(text[history] @ text[item]))]
                    elif kernel[item].any():
                        via = int(np.argmax(kernel[item]))
                    else:
                        assert not ends
                        continue
                    for path in ends:
                        assert path["signal"] == signal
                        assert path["nodes"][-2]["id"] == state.product_ids[via]
                        assert path["nodes"][-1]["id"] == state.product_ids[item]
                        sim = path["relationships"][-1]["similarity"]
                        assert sim == pytest.approx(float(text[via] @ text[item]), abs=1e-4)
                        checked[signal] += 1
    assert checked["text"] >= 10 and checked["text-bridge"] >= 1, checked


def test_history_and_query_entry_points(client):
    resp = client.post("/v1/recommendations", json={"history": ["P001", "P005"], "k": 4})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    items = resp.get_json()["items"]
    assert sum(topic(i["id"]) == 1 for i in items) >= 3
    assert {"P001", "P005"}.isdisjoint(i["id"] for i in items)
    resp = client.post("/v1/recommendations", json={"query": "a Maybelline matte lipstick", "k": 5})
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert sum(topic(i["id"]) == 2 for i in body["items"]) >= 4
    assert any(m["name"].lower() == "maybelline" for m in body["query_matches"])
    query_paths = [p for i in body["items"] for p in i["explanation"].get("paths", [])
                   if p["signal"] == "query"]
    assert query_paths and query_paths[0]["nodes"][0]["label"] in ("Brand", "Category")


def test_filters_restrict_candidates(client):
    body = client.get("/v1/users/U000/recommendations?k=10&brand=Bosch").get_json()
    assert body["items"] and all(i["brand"] == "Bosch" for i in body["items"])
    cat = "Beauty"
    body = client.post("/v1/recommendations", json={"user_id": "U000", "k": 10,
                                                    "filters": {"category": cat}}).get_json()
    assert body["items"] and all(i["category_path"][0] == "Beauty" for i in body["items"])


def test_items_and_similar(client):
    item = client.get("/v1/items/P003").get_json()
    assert item["id"] == "P003" and item["brand"] == "Loreal" and item["interactions"] >= 0
    sim = client.get("/v1/items/P003/similar?k=5").get_json()
    assert len(sim["items"]) == 5 and "P003" not in [i["id"] for i in sim["items"]]
    assert sum(topic(i["id"]) == 3 for i in sim["items"]) >= 4


@pytest.mark.parametrize("method, url, body, status, field", [
    ("get", "/v1/users/nobody/recommendations", None, 404, "user_id"),
    ("get", "/v1/users/U001/recommendations?k=0", None, 400, "k"),
    ("get", "/v1/users/U001/recommendations?k=101", None, 400, "k"),
    ("get", "/v1/users/U001/recommendations?k=abc", None, 400, "k"),
    ("get", "/v1/users/U001/recommendations?colour=red", None, 400, "colour"),
    ("get", "/v1/users/U001/recommendations?brand=Nope", None, 404, "filters.brand"),
    ("get", "/v1/users/U001/recommendations?price_min=x", None, 400, "price_min"),
    ("get", "/v1/items/nope", None, 404, "item_id"),
    ("get", "/v1/items/nope/similar", None, 404, "item_id"),
    ("post", "/v1/recommendations", {}, 400, "body"),
    ("post", "/v1/recommendations", {"user_id": 5}, 400, "user_id"),
    ("post", "/v1/recommendations", {"user_id": "U001", "k": "5"}, 400, "k"),
    ("post", "/v1/recommendations", {"user_id": "U001", "k": True}, 400, "k"),
    ("post", "/v1/recommendations", {"user_id": "U001", "colour": 1}, 400, "colour"),
    ("post", "/v1/recommendations", {"user_id": "ghost"}, 404, "user_id"),
    ("post", "/v1/recommendations", {"history": ["P001", "nope"]}, 404, "history[1]"),
    ("post", "/v1/recommendations", {"history": "P001"}, 400, "history"),
    ("post", "/v1/recommendations", {"history": [3]}, 400, "history[0]"),
    ("post", "/v1/recommendations", {"user_id": "U001", "filters": {"shade": 1}}, 400,
     "filters.shade"),
    ("post", "/v1/recommendations", {"user_id": "U001", "filters": {"category": "Nope"}}, 404,
     "filters.category"),
    ("post", "/v1/recommendations", {"user_id": "U001", "filters": {"price_min": 5}}, 400,
     "filters.price_min"),
    ("post", "/v1/recommendations", {"user_id": "U001", "explain": "maybe"}, 400, "explain"),
    ("post", "/v1/recommendations", {"query": ""}, 400, "query"),
    ("post", "/v1/events", {"user_id": "U001", "item_id": "P001"}, 400, "kind"),
    ("post", "/v1/events", {"user_id": "U001", "item_id": "nope", "kind": "view"}, 404, "item_id"),
    ("post", "/v1/events", {"events": [{"user_id": "U1", "item_id": "P001", "kind": "buy"}]},
     400, "events[0].kind"),
])
def test_bad_input_is_a_4xx_json_error_naming_the_field(client, method, url, body, status, field):
    resp = getattr(client, method)(url, json=body) if body is not None else getattr(client, method)(url)
    _error(resp, status, field)


def test_malformed_and_oversized_bodies(client):
    _error(client.post("/v1/recommendations", data="{not json", content_type="application/json"),
           400, "body")
    _error(client.post("/v1/recommendations", data="[1, 2]", content_type="application/json"),
           400, "body")
    _error(client.post("/v1/recommendations", data="user_id=U1", content_type="text/plain"),
           400, "body")
    big = json.dumps({"query": "x" * 100_000})
    _error(client.post("/v1/recommendations", data=big, content_type="application/json"),
           413, "body")
    assert client.put("/v1/recommendations").status_code == 405
    assert client.get("/v1/nothing-here").get_json()["error"]["code"] == "not_found"


def test_events_are_stored(client, served):
    app, _ = served
    resp = client.post("/v1/events", json={"user_id": "new-user", "item_id": "P001",
                                           "kind": "purchase", "timestamp": "2024-05-01T10:00:00Z"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    ids = resp.get_json()["ids"]
    batch = client.post("/v1/events", json={"events": [
        {"user_id": "U001", "item_id": "P002", "kind": "view"},
        {"user_id": "U001", "item_id": "P003", "kind": "rating", "rating": 4}]}).get_json()
    assert batch["accepted"] == 2
    stored = app.extensions["kgrec"].events().pending()
    assert {e.id for e in stored} >= set(ids + batch["ids"])
    assert any(e.user_id == "new-user" and e.kind == "purchase" for e in stored)


def test_ops_endpoints(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"bundle": True, "store": True}
    client.get("/v1/items/P001")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'kgrec_requests_total{endpoint="/v1/items/<item_id>",method="GET",status="200"}' in metrics
    page = client.get("/")
    assert page.status_code == 200 and b"<svg" not in page.data and b"drawPath" in page.data


def test_reload_needs_the_token_and_swaps_bundles(client, served):
    app, _ = served
    _error(client.post("/v1/admin/reload"), 401, "Authorization")
    _error(client.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"}), 401,
           "Authorization")
    before = client.get("/readyz").get_json()["model_version"]
    resp = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200 and resp.get_json()["previous"] == before


def test_serving_state_and_store_are_frozen_and_a_replaced_bundle_is_freed(client, served):
    """The collector's full passes over a worker's big heap were the p99 tail (service/heap.py)."""
    import gc
    import weakref

    from service import heap

    app, snap = served
    ext = app.extensions["kgrec"]
    user = snap.node_ids["User"][0]
    try:
        assert client.post("/v1/recommendations", json={"user_id": user, "k": 3}).status_code == 200
        store, state = ext.store(), ext.holder.state
        tracked = {id(o) for o in gc.get_objects()}
        assert id(store) not in tracked and id(state) not in tracked and id(state.bundle) not in tracked
        assert gc.get_threshold()[0] >= heap.GEN0_THRESHOLD
        old = weakref.ref(state)
        del state
        resp = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 200
        assert old() is None  # freed by the reload's settle, not kept in the frozen generation
        assert id(ext.holder.state) not in {id(o) for o in gc.get_objects()}
    finally:
        gc.unfreeze()


def test_every_route_is_in_the_openapi_document(client, served):
    app, _ = served
    doc = client.get("/openapi.json").get_json()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    assert routes == documented


def test_not_ready_without_a_bundle(tmp_path):
    app = create_app(_config(tmp_path / "empty-home"))
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    _error(client.get("/v1/users/U1/recommendations"), 503, None)
    assert client.get("/healthz").status_code == 200

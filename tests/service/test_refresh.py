"""The refresh job on both stores: deltas and events in, an inferred bundle published, the service
reloaded, Neo4j written back; the lock, bad input, an unchanged graph."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server

from gnn.bundle import CURRENT, load_bundle
from gnn.train import TrainConfig
from gnn.workflow import train_bundle
from kg.errors import KgError
from kg.ingest import load_dir
from kg.snapshot import export_snapshot
from service.app import create_app
from service.config import load_config
from service.events import EventStore
from service.refresh import (
    RefreshBusy,
    RefreshOptions,
    active_users,
    prune_bundles,
    refresh,
    refresh_lock,
)
from service.stores import open_store
from service.texts import encode_snapshot
from tests.conftest import write_dataset
from tests.gnn.rgcn_data import topic_catalogue

TOKEN = "refresh-token"
NEW_PRODUCT = {"id": "P900", "title": "Maybelline matte lipstick model 900", "brand": "Maybelline",
               "category_path": ["Beauty", "Makeup", "Lips"], "attributes": {"pack": "2"}}


def make_home(tmp_path, store_env: dict, *, n_products: int = 48, n_users: int = 40):
    """A home with the topic catalogue loaded into the store and a small trained bundle."""
    home = tmp_path / "home"
    config = load_config({"KGREC_HOME": str(home), "KGREC_DEVICE": "cpu", "KGREC_ADMIN_TOKEN": TOKEN,
                          "KGREC_RELOAD_POLL": "0", **store_env})
    folder = topic_catalogue(tmp_path / "data", n_products=n_products, n_users=n_users)
    store = open_store(config)
    if store.name == "neo4j":
        store.clear()
        store.ensure_schema()
    load_dir(store, folder)
    snap = export_snapshot(store)
    store.close()
    vectors, _, model_id = encode_snapshot(config, snap)
    train_bundle(snap, vectors, config.bundle_root, model_options={"hidden": 16, "out": 16},
                 train_config=TrainConfig(max_epochs=40, batch_size=64), k=5,
                 extra_manifest={"text_model": model_id})
    return config


@pytest.fixture(params=["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def home(request, tmp_path):
    env = {}
    if request.param == "neo4j":
        uri, user, password = request.getfixturevalue("neo4j_credentials")
        env = {"KGREC_STORE": "neo4j", "NEO4J_URI": uri, "NEO4J_USER": user, "NEO4J_PASSWORD": password}
    return make_home(tmp_path, env)


def _current(config) -> str:
    return (config.bundle_root / CURRENT).read_text().strip()


def test_a_new_product_reaches_its_brands_buyers_without_retraining(home, tmp_path):
    config = home
    before = load_bundle(config.bundle_root)
    delta = write_dataset(tmp_path / "delta", [NEW_PRODUCT], None)
    report = refresh(config, RefreshOptions(deltas=[delta]))

    assert report.previous == before.version and report.bundle == _current(config) != before.version
    assert report.changes["products_new"] == 1 and report.changes["products_changed"] == 0
    assert report.changes["products_after"] == report.changes["products_before"] + 1
    # only the new product's text went to the language model; brand and category were cached
    assert report.encode["encoded"] == 1 and report.encode["cache_hits"] == report.encode["texts"] - 1
    assert report.embeddings["method"].startswith("inference")
    assert report.embeddings["products_new"] == 1
    after = load_bundle(config.bundle_root)
    assert after.manifest["refresh"]["from"] == before.version
    assert after.manifest["files"]["model.pt"] == before.manifest["files"]["model.pt"]  # same weights
    assert after.manifest["ranker"] == before.manifest["ranker"]

    # a topic-2 user (bought Maybelline lipsticks) gets the new product, explained by its brand
    app = create_app(config)
    resp = app.test_client().get("/v1/users/U002/recommendations?k=10")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["model_version"] == after.version
    recs = {r["id"]: r for r in body["items"]}
    assert "P900" in recs, list(recs)
    paths = recs["P900"]["explanation"]["paths"]
    assert any(n["label"] == "Brand" and n["name"] == "Maybelline" for p in paths for n in p["nodes"]), paths

    if config.store == "neo4j":
        w = report.writeback
        assert w["users"] > 0 and w["edges"] == w["users"] * 10
        store = open_store(config)
        try:
            rec = [r for r in store.iter_edges("RECOMMENDED", ("model_version",)) if r[:2] == ("U002", "P900")]
            assert rec and rec[0][2] == after.version
            assert store.get_node("Product", "P900")["embedding_version"] == after.version
        finally:
            store.close()
        # only what changed is written back again: a forced re-run rewrites no embedding
        again = refresh(config, RefreshOptions(force=True))
        assert again.writeback["embeddings"] == 0
    else:
        assert "skipped" in report.writeback


def test_events_are_ingested_once_and_an_unchanged_graph_publishes_nothing(home):
    config = home
    with EventStore(config.events_path) as events:
        events.append([{"user_id": "U001", "item_id": "P001", "kind": "purchase",
                        "timestamp": "2020-02-01T00:00:00Z"},
                       {"user_id": "NEW-USER", "item_id": "P002", "kind": "view",
                        "timestamp": "2020-02-01T00:00:00Z"},
                       {"user_id": "U003", "item_id": "NO-SUCH-ITEM", "kind": "view",
                        "timestamp": "2020-02-01T00:00:00Z"}])
    first = refresh(config, RefreshOptions())
    assert first.events["ingested"] == 2 and first.events["skipped"] == 1
    assert "NO-SUCH-ITEM" in first.events["errors"][0]
    assert first.events["consumed"] == 3
    assert first.changes["users_after"] == first.changes["users_before"] + 1
    bundle = load_bundle(config.bundle_root)
    assert "NEW-USER" in bundle.node_ids["User"]
    with EventStore(config.events_path) as events:
        assert events.count(consumed=False) == 0

    second = refresh(config, RefreshOptions())
    assert second.up_to_date and second.bundle is None and _current(config) == bundle.version


def test_a_bad_delta_names_file_and_line_and_publishes_nothing(tmp_path):
    config = make_home(tmp_path, {})
    before = _current(config)
    bad = write_dataset(tmp_path / "bad", [NEW_PRODUCT, '{"id": "P901", "title": 5}'], None)
    with pytest.raises(KgError, match=r"bad/products.jsonl:2: field 'title'"):
        refresh(config, RefreshOptions(deltas=[bad]))
    assert _current(config) == before
    store = open_store(config)
    try:
        assert store.get_node("Product", "P001") is not None  # nothing already stored was lost
    finally:
        store.close()


def test_the_lock_keeps_a_second_run_out(tmp_path):
    config = make_home(tmp_path, {}, n_products=32, n_users=16)
    with refresh_lock(config.home / "refresh.lock"):
        with pytest.raises(RefreshBusy, match=r"another refresh is running \(pid \d+"):
            refresh(config, RefreshOptions())
    assert refresh(config, RefreshOptions(force=True)).bundle  # free again


def test_the_running_service_is_told_to_reload(tmp_path):
    config = make_home(tmp_path, {}, n_products=32, n_users=16)
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        report = refresh(config, RefreshOptions(force=True, service_url=url))
        assert report.reload == {"ok": True, "url": url, "model_version": report.bundle}
        assert app.extensions["kgrec"].holder.state.version == report.bundle
    finally:
        server.shutdown()
    # a service that is down is reported, the bundle is still published
    report = refresh(config, RefreshOptions(force=True, service_url=url))
    assert not report.reload["ok"] and "not reached" in report.reload["message"]
    assert _current(config) == report.bundle


def test_a_worker_picks_up_a_new_current_bundle_by_itself(tmp_path):
    config = make_home(tmp_path, {}, n_products=32, n_users=16)
    app = create_app(config)
    holder = app.extensions["kgrec"].holder
    assert not holder.reload_if_changed()  # CURRENT is what it serves
    report = refresh(config, RefreshOptions(force=True))
    assert holder.reload_if_changed() and holder.state.version == report.bundle
    # a broken bundle named by CURRENT is tried once; the old one keeps serving
    bad = config.bundle_root / "20990101T000000000000Z-broken"
    bad.mkdir()
    (bad / "manifest.json").write_text(json.dumps({"format": 1}))
    (config.bundle_root / CURRENT).write_text(bad.name + "\n")
    assert not holder.reload_if_changed() and not holder.reload_if_changed()
    assert holder.state.version == report.bundle and "missing" in holder.last_error


def test_active_users_are_counted_from_the_newest_interaction(tmp_path):
    from tests.gnn.rgcn_data import snapshot_of

    snap = snapshot_of(topic_catalogue(tmp_path / "d", n_products=16, n_users=8, per_user=3))
    # days 1..3 of January 2020: everyone's last interaction is on day 3
    assert active_users(snap, 0, set()) == sorted(set(snap.node_ids["User"]))
    assert active_users(snap, 0, {"U001", "unknown"}) == sorted(set(snap.node_ids["User"]))


def test_prune_keeps_the_newest_and_the_current(tmp_path):
    root = tmp_path / "bundles"
    for name in ("v1", "v2", "v3", "v4"):
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text("{}")
    (root / CURRENT).write_text("v1\n")
    (root / ".tmp-v5-999999999").mkdir()  # a writer that died
    assert prune_bundles(root, keep=2) == ["v2"]
    assert sorted(p.name for p in root.iterdir()) == ["CURRENT", "v1", "v3", "v4"]


def test_retrain_trains_a_new_model_and_publishes_it(tmp_path):
    config = make_home(tmp_path, {}, n_products=32, n_users=16)
    before = load_bundle(config.bundle_root)
    report = refresh(config, RefreshOptions(retrain=True, seed=1))
    after = load_bundle(config.bundle_root)
    assert report.embeddings["method"] == "retrained" and report.bundle == after.version
    assert after.manifest["files"]["model.pt"] != before.manifest["files"]["model.pt"]
    assert after.manifest["refresh"] == {"from": before.version, "method": "retrain"}
    assert after.manifest["train_config"]["seed"] == 1


def test_cli_prints_the_report_and_exits_75_when_busy(tmp_path):
    from click.testing import CliRunner

    from service.cli import main

    config = make_home(tmp_path, {}, n_products=32, n_users=16)
    env = {"KGREC_HOME": str(config.home), "KGREC_DEVICE": "cpu", "KGREC_RELOAD_POLL": "0"}
    delta = write_dataset(tmp_path / "delta", [NEW_PRODUCT], None)
    result = CliRunner().invoke(main, ["refresh", str(delta), "--json"], env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert body["changes"]["products_new"] == 1 and body["bundle"] == _current(config)
    result = CliRunner().invoke(main, ["refresh"], env=env)
    assert result.exit_code == 0 and "up to date" in result.stdout
    with refresh_lock(config.home / "refresh.lock"):
        result = CliRunner().invoke(main, ["refresh"], env=env)
    assert result.exit_code == 75 and "another refresh is running" in result.stderr
    result = CliRunner().invoke(main, ["refresh", str(tmp_path / "missing")], env=env)
    assert result.exit_code == 2 and "missing" in result.stderr

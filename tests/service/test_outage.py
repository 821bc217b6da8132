"""Neo4j goes away: ranking still answers, explanations say they are unavailable, then recover."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gnn.train import TrainConfig
from gnn.workflow import train_bundle
from kg.ingest import load_dir
from kg.snapshot import export_snapshot
from service.app import create_app
from service.config import load_config
from service.texts import encode_snapshot
from tests.gnn.rgcn_data import topic_catalogue


@pytest.mark.neo4j
@pytest.mark.slow
def test_ranking_survives_a_neo4j_outage_and_explanations_recover(tmp_path):
    from kg.neo4j_local import server
    from kg.store_neo4j import Neo4jStore

    if not server.java_available():
        pytest.skip("needs java 17 + mvn") if os.environ.get("KGREC_REQUIRE_NEO4J") != "1" else \
            pytest.fail("needs java 17 + mvn")
    cache = Path(os.environ.get("KGREC_BUILD_CACHE", server.default_cache_root()))
    home = tmp_path / "neo4j"
    info = server.start(home, cache_root=cache, browser=False, quick_start=True, timeout=180)
    try:
        config = load_config({"KGREC_HOME": str(tmp_path / "home"), "KGREC_DEVICE": "cpu",
                              "KGREC_STORE": "neo4j", "NEO4J_URI": info.uri,
                              "NEO4J_USER": info.user, "NEO4J_PASSWORD": info.password})
        store = Neo4jStore(info.uri, info.user, info.password)
        store.ensure_schema()
        load_dir(store, topic_catalogue(tmp_path / "data"), progress=False)
        snap = export_snapshot(store)
        store.close()
        vectors, _, _ = encode_snapshot(config, snap)
        train_bundle(snap, vectors, config.bundle_root, model_options={"hidden": 8, "out": 8},
                     train_config=TrainConfig(max_epochs=2, batch_size=64), k=5)
        client = create_app(config).test_client()
        url = "/v1/users/U001/recommendations?k=3"

        def explanations():
            resp = client.get(url)
            assert resp.status_code == 200, resp.get_data(as_text=True)
            return [i["explanation"] for i in resp.get_json()["items"]]

        assert all(e["available"] for e in explanations())
        server.stop(home)
        down = explanations()
        assert down and not any(e["available"] for e in down)
        assert all("unreachable" in e["reason"] for e in down)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["store"] is False
        server.start(home, cache_root=cache, browser=False, quick_start=True, timeout=180)
        assert all(e["available"] for e in explanations())
        assert client.get("/readyz").status_code == 200
    finally:
        server.stop(home)

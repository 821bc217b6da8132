"""Explanation fidelity on a trained bundle: removing an explanation's edges lowers the score."""

from __future__ import annotations

import pytest

from gnn.bundle import load_bundle
from gnn.train import TrainConfig
from gnn.workflow import train_bundle
from kg.ingest import load_dir
from kg.snapshot import export_snapshot
from kg.store_nx import NetworkxStore
from service.config import load_config
from service.explain import explain
from service.fidelity import fidelity, fidelity_share, path_edges
from service.recommend import rank
from service.requests import RecommendRequest
from service.state import ServingState
from service.texts import encode_snapshot
from tests.gnn.rgcn_data import topic_catalogue


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    config = load_config({"KGREC_HOME": str(home), "KGREC_DEVICE": "cpu"})
    store = NetworkxStore(None)
    load_dir(store, topic_catalogue(tmp_path_factory.mktemp("data")), progress=False)
    snap = export_snapshot(store)
    vectors, _, _ = encode_snapshot(config, snap)
    train_bundle(snap, vectors, config.bundle_root, model_options={"hidden": 16, "out": 16},
                 train_config=TrainConfig(max_epochs=4, batch_size=64), k=5)
    return ServingState(load_bundle(config.bundle_root)), store


def test_most_explanations_are_faithful(served):
    state, store = served
    users = list(range(0, 40, 4))

    def rank_fn(u, k):
        return rank(state, RecommendRequest(user_id=state.bundle.node_ids["User"][u], k=k))

    out = fidelity_share(state, users, k=5, rank_fn=rank_fn,
                         explain_fn=lambda r: explain(state, r, store))
    assert out["paths"] >= 20
    assert out["share_lower"] >= 0.7, out


def test_a_path_without_interaction_edges_is_not_counted(served):
    state, _ = served
    path = {"nodes": [{"label": "Brand", "id": "bosch", "name": "Bosch"},
                      {"label": "Product", "id": "P001", "name": "x"}],
            "relationships": [{"type": "MADE_BY", "forward": False}]}
    assert path_edges(state, path) == []
    assert fidelity(state, 0, 1, path) is None

"""Model bundles: round trip on the CPU, atomic publication, integrity checks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from gnn import bundle as bundle_mod
from gnn.bundle import BundleError, load_bundle, resolve, save_bundle, set_current
from gnn.graph import INTERACTED, build_graph
from gnn.infer import Inductor
from gnn.model import ModelConfig, RGCNRecModel
from gnn.train import embed
from kg.schema import PRODUCT, USER
from tests.gnn.rgcn_data import snapshot_of, topic_catalogue, topic_features


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    snap = snapshot_of(topic_catalogue(tmp_path_factory.mktemp("topics")))
    graph = build_graph(snap, topic_features(snap))
    torch.manual_seed(0)
    model = RGCNRecModel(ModelConfig(text_dim=graph.text_dim, hidden=8, out=8)).eval()
    inter = snap.edges[INTERACTED]
    emb = embed(model, graph, torch.from_numpy(inter[0]), torch.from_numpy(inter[1]))
    return snap, graph, model, emb, inter


def write(root, trained, **kw):
    snap, graph, model, emb, inter = trained
    return save_bundle(root, model=model, graph=graph, node_ids=snap.node_ids, node_emb=emb.all,
                       message_users=inter[0], message_items=inter[1],
                       data_hash=snap.fingerprint(), metrics={"test": {"recall": 0.5}},
                       node_fields=snap.node_fields, **kw)


def test_round_trip_on_cpu(tmp_path, trained):
    snap, graph, model, emb, inter = trained
    path = write(tmp_path, trained)
    assert resolve(tmp_path) == path  # CURRENT points at it
    b = load_bundle(tmp_path)
    assert b.version == path.name and b.manifest["data_hash"] == snap.fingerprint()
    assert b.manifest["metrics"]["test"]["recall"] == 0.5 and b.manifest["created_at"]
    np.testing.assert_array_equal(b.product_emb, emb.items.numpy())
    np.testing.assert_array_equal(b.user_emb, emb.users.numpy())
    assert b.node_ids == snap.node_ids and b.index(PRODUCT)[snap.node_ids[PRODUCT][3]] == 3
    first = b.catalogue[PRODUCT][0]
    assert set(first) == {"title", "brand", "category_path", "price"}  # no description, no hash
    assert first["title"] == snap.node_fields[PRODUCT][0]["title"] and USER not in b.catalogue
    assert b.catalogue["Brand"][0]["name"] == snap.node_fields["Brand"][0]["name"]
    for key, value in model.state_dict().items():
        assert torch.equal(b.model.state_dict()[key], value)
    # the stored graph re-embeds to the stored embeddings (features kept as float16)
    again = embed(b.model, b.graph, torch.from_numpy(b.message_users),
                  torch.from_numpy(b.message_items))
    torch.testing.assert_close(again.items, emb.items, atol=5e-3, rtol=1e-2)
    ind = Inductor(b.model, b.graph, b.message_users, b.message_items)
    assert ind.embed_user([0, 1]).shape == (8,)
    # weights saved on any device load on the CPU
    state = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    assert all(t.device.type == "cpu" for t in state.values())


def test_new_bundle_becomes_current_and_old_stays(tmp_path, trained):
    first = write(tmp_path, trained)
    second = write(tmp_path, trained)
    assert first != second and sorted([first.name, second.name]) == [first.name, second.name]
    assert resolve(tmp_path) == second and first.exists()
    set_current(tmp_path, first.name)
    assert load_bundle(tmp_path).version == first.name
    with pytest.raises(BundleError, match="no bundle"):
        set_current(tmp_path, "nope")
    kept = write(tmp_path, trained, make_current=False)
    assert resolve(tmp_path) == first and kept.exists()


def test_failed_write_leaves_nothing_and_keeps_current(tmp_path, trained, monkeypatch):
    first = write(tmp_path, trained)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(bundle_mod.np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path, trained)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, "CURRENT"])
    assert load_bundle(tmp_path).version == first.name


def test_corrupt_or_missing_bundles_are_named(tmp_path, trained):
    path = write(tmp_path, trained)
    with open(path / "embeddings.npz", "ab") as fh:
        fh.write(b"junk")
    with pytest.raises(BundleError, match="embeddings.npz: checksum"):
        load_bundle(path)
    os.remove(path / "graph.npz")
    with pytest.raises(BundleError, match="missing graph.npz"):
        load_bundle(path, verify=False)
    with pytest.raises(BundleError, match="kgrec train"):
        load_bundle(tmp_path / "empty")
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps(manifest | {"format": 99}))
    with pytest.raises(BundleError, match="format 99"):
        load_bundle(path)

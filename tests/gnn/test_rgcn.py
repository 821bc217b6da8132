"""The R-GCN: graph tensors, epoch edge split, determinism, inference for new nodes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnn.graph import INTERACTED, KG_RELS, RELATION_ID, RELATIONS, build_graph
from gnn.infer import Inductor, NewNodes
from gnn.model import ModelConfig, RGCNRecModel
from gnn.train import Interactions, TrainConfig, embed, epoch_edges, fit
from kg.schema import BRAND, CATEGORY, LABELS, PRODUCT, USER
from tests.gnn.rgcn_data import snapshot_of, topic_catalogue, topic_features


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    return snapshot_of(topic_catalogue(tmp_path_factory.mktemp("topics")))


def interactions(snapshot) -> Interactions:
    edges = snapshot.edges[INTERACTED]
    return Interactions.from_arrays(edges[0], edges[1])


def test_graph_offsets_relations_and_inverse_edges(snap):
    graph = build_graph(snap, topic_features(snap))
    assert list(graph.offsets) == list(LABELS)
    assert graph.num_nodes == sum(snap.num_nodes(label) for label in LABELS)
    assert RELATIONS[RELATION_ID["MADE_BY__inv"]] == "MADE_BY__inv"
    made_by = snap.edges["MADE_BY"]
    fwd = graph.kg_edge_index[:, graph.kg_edge_type == RELATION_ID["MADE_BY"]]
    inv = graph.kg_edge_index[:, graph.kg_edge_type == RELATION_ID["MADE_BY__inv"]]
    assert fwd.shape[1] == inv.shape[1] == made_by.shape[1]
    assert torch.equal(fwd[0] - graph.offsets[PRODUCT], torch.from_numpy(made_by[0]))
    assert torch.equal(fwd[1] - graph.offsets[BRAND], torch.from_numpy(made_by[1]))
    assert torch.equal(inv, fwd.flip(0))
    # interactions never come in through the catalogue edges
    assert not (graph.kg_edge_type >= RELATION_ID[INTERACTED]).any()
    # no KG: only interactions would carry messages
    assert build_graph(snap, None, use_kg=False).kg_edge_index.shape[1] == 0
    with pytest.raises(ValueError, match="Brand"):
        build_graph(snap, {BRAND: np.zeros((1, 4), np.float32)})


def test_epoch_edges_are_disjoint_and_drop_whole_items(snap):
    data = interactions(snap)
    config = TrainConfig(supervision_share=0.3, cold_item_share=0.25, seed=3)
    message, rows = epoch_edges(data, config, epoch=1)
    supervised = torch.zeros(len(data.users), dtype=torch.bool)
    supervised[rows] = True
    assert not (message & supervised).any() and (message | supervised).all()
    assert len(rows.unique()) == len(rows)
    # about a quarter of the items have no message edge at all
    items_with_messages = data.items[message].unique()
    share_dropped = 1 - len(items_with_messages) / len(data.warm_items)
    assert 0.2 <= share_dropped <= 0.45
    # another epoch draws other edges, the same epoch the same ones
    assert not torch.equal(epoch_edges(data, config, 2)[1], rows)
    assert torch.equal(epoch_edges(data, config, 1)[1], rows)


def test_training_is_seed_deterministic_on_cpu_and_learns(snap):
    graph = build_graph(snap, topic_features(snap))
    data = interactions(snap)
    config = TrainConfig(max_epochs=6, batch_size=64, seed=5)
    mc = ModelConfig(text_dim=graph.text_dim, hidden=16, out=16)
    first = fit(graph, data, mc, config)
    second = fit(graph, data, mc, config)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    other = fit(graph, data, mc, TrainConfig(max_epochs=6, batch_size=64, seed=6))
    assert not torch.equal(other.embeddings.all, first.embeddings.all)
    assert first.history[-1]["loss"] < first.history[0]["loss"]
    # users score products of their own topic above the other topics' products
    scores = first.embeddings.score(torch.arange(snap.num_nodes(USER)))
    topic_of_user = torch.tensor([int(u[1:]) % 4 for u in snap.node_ids[USER]])
    topic_of_item = torch.tensor([int(p[1:]) % 4 for p in snap.node_ids[PRODUCT]])
    same = topic_of_user[:, None] == topic_of_item[None, :]
    assert scores[same].mean() > scores[~same].mean() + 0.2


def test_early_stopping_keeps_the_best_epoch(snap):
    graph = build_graph(snap, topic_features(snap))
    values = iter([0.1, 0.5, 0.2, 0.2, 0.2, 0.9])
    result = fit(graph, interactions(snap), ModelConfig(text_dim=graph.text_dim, hidden=8, out=8),
                 TrainConfig(max_epochs=6, patience=3, batch_size=64),
                 validate=lambda e: next(values))
    assert result.best_epoch == 2 and result.best_value == 0.5
    assert len(result.history) == 5  # epochs 3, 4, 5 brought nothing: stop after 5


def test_new_nodes_get_exactly_the_full_graph_embedding(tmp_path):
    """A product (and a new brand) added after training: subgraph inference = full forward."""
    new_id = "P047"
    full = snapshot_of(topic_catalogue(tmp_path / "full"))
    old = snapshot_of(topic_catalogue(tmp_path / "old", exclude={new_id}))
    assert old.num_nodes(PRODUCT) == full.num_nodes(PRODUCT) - 1
    feats_full = topic_features(full)
    # the old graph's features are the full graph's rows for the nodes it has
    feats_old = {label: feats_full[label][[full.index(label)[i] for i in old.node_ids[label]]]
                 for label in feats_full}
    torch.manual_seed(0)
    model = RGCNRecModel(ModelConfig(text_dim=16, hidden=8, out=8, layers=2)).eval()
    old_graph = build_graph(old, feats_old)
    old_inter = old.edges[INTERACTED]
    inductor = Inductor(model, old_graph, old_inter[0], old_inter[1])

    p_full = full.index(PRODUCT)[new_id]
    new = NewNodes({PRODUCT: feats_full[PRODUCT][[p_full]]})
    new_ref = (PRODUCT, old.num_nodes(PRODUCT))
    for rel, target_label in (("MADE_BY", BRAND), ("IN_CATEGORY", CATEGORY),
                              ("HAS_ATTRIBUTE", "Attribute")):
        edges = full.edges[rel]
        for dst in edges[1][edges[0] == p_full]:
            target_id = full.node_ids[target_label][dst]
            new.edges.append((rel, new_ref, (target_label, old.index(target_label)[target_id])))
    # two known users bought it
    buyers = full.edges[INTERACTED][0][full.edges[INTERACTED][1] == p_full]
    for u in buyers:
        user = full.node_ids[USER][u]
        new.edges.append((INTERACTED, (USER, old.index(USER)[user]), new_ref))
    got = inductor.embed(new)[PRODUCT][0]

    full_graph = build_graph(full, feats_full)
    inter = full.edges[INTERACTED]
    with torch.no_grad():
        want = embed(model, full_graph, torch.from_numpy(inter[0]), torch.from_numpy(inter[1])).items[p_full]
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)

    # an anonymous user with a history: same as the user node of the full graph
    user_full = buyers[0]
    history = [old.index(PRODUCT)[full.node_ids[PRODUCT][i]]
               for i in inter[1][inter[0] == user_full] if full.node_ids[PRODUCT][i] != new_id]
    anon = inductor.embed_user(history)
    assert anon.shape == (8,) and torch.isfinite(anon).all()

    with pytest.raises(ValueError, match="MADE_BY goes from Product to Brand"):
        inductor.embed(NewNodes({PRODUCT: feats_full[PRODUCT][[p_full]]},
                                [("MADE_BY", (BRAND, 0), new_ref)]))
    with pytest.raises(ValueError, match="does not exist"):
        inductor.embed(NewNodes({PRODUCT: feats_full[PRODUCT][[p_full]]},
                                [("MADE_BY", new_ref, (BRAND, 999))]))

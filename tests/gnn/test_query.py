"""Query tower: the ridge projection, entity matching by name and vector, and query scoring."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from gnn.query import EntityMatcher, Match, QueryProjection, QueryScorer, category_products
from kg.schema import ATTRIBUTE, BRAND, CATEGORY, PRODUCT
from tests.conftest import TOY_INTERACTIONS, TOY_PRODUCTS, write_dataset
from tests.gnn.rgcn_data import snapshot_of as load_snapshot

CATALOGUE = [
    {"id": "gun-stanley", "title": "Heavy duty staple gun", "brand": "Stanley",
     "category_path": ["Tools", "Staplers", "Staple Guns"], "attributes": {"material": "steel"}},
    {"id": "gun-arrow", "title": "Light duty staple gun", "brand": "Arrow",
     "category_path": ["Tools", "Staplers", "Staple Guns"]},
    {"id": "staples-arrow", "title": "Box of 1000 staples", "brand": "Arrow",
     "category_path": ["Tools", "Staplers", "Staples"]},
    {"id": "tape-stanley", "title": "Tape measure 25 ft", "brand": "Stanley",
     "category_path": ["Tools", "Measuring"]},
    {"id": "hammer", "title": "Claw hammer with fibreglass handle", "brand": "Estwing",
     "category_path": ["Tools", "Hammers"], "attributes": {"material": "steel"}},
    {"id": "glue", "title": "Super glue", "brand": "Gorilla",
     "category_path": ["Tools", "Adhesives"]},
    {"id": "fabric", "title": "Upholstery fabric, 3 yards", "category_path": ["Home", "Fabrics"]},
    {"id": "gloves", "title": "Work gloves"},
]
TEXT_ONLY = [
    {"id": "t1", "title": "Cordless drill with two batteries"},
    {"id": "t2", "title": "Staple gun for upholstery and crafts"},
    {"id": "t3", "title": "Garden hose, 50 ft"},
    {"id": "t4", "title": "Scented candle"},
]


def snapshot_of(folder, products, interactions=None):
    return load_snapshot(write_dataset(folder, products, interactions))


def vectors_of(snapshot, encoder):
    from llm.encode_nodes import encode_graph_texts

    return encode_graph_texts(snapshot.node_fields, encoder, None, progress=False)[0]


def synthetic_embeddings(text: np.ndarray, dim: int = 64, seed: int = 0) -> np.ndarray:
    """What a trained model might give: a random linear map of the text vectors plus noise."""
    rng = np.random.default_rng(seed)
    mapped = text @ rng.normal(size=(text.shape[1], dim))
    return (mapped + 0.05 * rng.normal(size=mapped.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def toy(tmp_path_factory, encoder):
    snapshot = snapshot_of(tmp_path_factory.mktemp("toy") / "d", TOY_PRODUCTS, TOY_INTERACTIONS)
    return snapshot, vectors_of(snapshot, encoder)


@dataclass
class Shop:
    snapshot: object
    text: np.ndarray
    emb: np.ndarray
    projection: QueryProjection
    matcher: EntityMatcher
    scorer: QueryScorer


@pytest.fixture(scope="module")
def shop(tmp_path_factory, encoder):
    snapshot = snapshot_of(tmp_path_factory.mktemp("shop") / "d", CATALOGUE)
    vectors = vectors_of(snapshot, encoder)
    text = vectors[PRODUCT]
    emb = synthetic_embeddings(text)
    projection = QueryProjection.fit(text, emb)
    matcher = EntityMatcher.from_snapshot(snapshot, vectors[CATEGORY])
    scorer = QueryScorer(snapshot, text, emb, projection, matcher)
    return Shop(snapshot, text, emb, projection, matcher, scorer)


# --- projection ---------------------------------------------------------------------------------


def linear_data(n=3000, dim_in=384, dim_out=64, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim_in))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    weight, bias = rng.normal(size=(dim_in, dim_out)), rng.normal(size=dim_out)
    y = x @ weight + bias + 0.1 * rng.normal(size=(n, dim_out))
    return x.astype(np.float32), y.astype(np.float32), weight, bias


def test_projection_recovers_a_linear_map():
    x, y, weight, bias = linear_data()
    x[:50] = 0.0  # products without text: left out of the fit, whatever their embeddings
    y[:50] = 1e6
    projection = QueryProjection.fit(x, y, seed=0)
    assert projection.held_out_r2 > 0.9
    assert projection.n_train == len(x) - 50
    assert projection.alpha in (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    fresh = np.random.default_rng(7).normal(size=(5, 384)).astype(np.float32)
    fresh /= np.linalg.norm(fresh, axis=1, keepdims=True)
    truth = fresh @ weight + bias
    predicted = projection.transform(fresh)
    assert predicted.shape == (5, 64) and predicted.dtype == np.float32
    assert np.abs(predicted - truth).max() < 0.2 * np.abs(truth).max()
    assert projection.transform(fresh[0]).shape == (64,)


def test_projection_is_seeded_and_checks_inputs():
    x, y, _, _ = linear_data(n=400)
    one, two = QueryProjection.fit(x, y, seed=3), QueryProjection.fit(x, y, seed=3)
    np.testing.assert_array_equal(one.weight, two.weight)
    assert one.held_out_r2 == two.held_out_r2
    with pytest.raises(ValueError, match="at least 2"):
        QueryProjection.fit(np.zeros((5, 8)), np.ones((5, 4)))
    with pytest.raises(ValueError):
        QueryProjection.fit(x, y[:10])
    with pytest.raises(ValueError):
        one.transform(np.zeros((2, 10)))


def test_projection_round_trips(tmp_path):
    x, y, _, _ = linear_data(n=500)
    projection = QueryProjection.fit(x, y)
    back = QueryProjection.from_dict(json.loads(json.dumps(projection.to_dict())))
    np.testing.assert_array_equal(back.weight, projection.weight)
    np.testing.assert_array_equal(back.bias, projection.bias)
    assert (back.alpha, back.held_out_r2, back.n_train) == (
        projection.alpha, projection.held_out_r2, projection.n_train)
    projection.save(tmp_path / "projection.npz")
    loaded = QueryProjection.load(tmp_path / "projection.npz")
    np.testing.assert_array_equal(loaded.transform(x[:3]), projection.transform(x[:3]))
    assert loaded.held_out_r2 == projection.held_out_r2


# --- matching -----------------------------------------------------------------------------------


def named(matches: list[Match]) -> set[tuple[str, str]]:
    return {(m.label, m.id) for m in matches if m.how == "name"}


def test_matcher_finds_brand_and_category_names(toy):
    snapshot, vectors = toy
    matcher = EntityMatcher.from_snapshot(snapshot, vectors[CATEGORY])
    matches = matcher.match("I need a Stanley staple gun")
    assert (BRAND, "stanley") in named(matches)
    brand = next(m for m in matches if m.label == BRAND)
    assert (brand.name, brand.index) == ("Stanley", snapshot.index(BRAND)["stanley"])
    assert named(matcher.match("staple guns for upholstery")) == {
        (CATEGORY, "Tools > Staplers > Staple Guns")}
    # "Arrow Fastener Co., Inc." is also matched without its corporate suffixes.
    assert (BRAND, "arrowfastener") in named(matcher.match("ARROW-FASTENER t50"))
    assert (ATTRIBUTE, "material=steel") in named(matcher.match("a steel hammer"))


def test_matcher_prefers_the_longest_match():
    matcher = EntityMatcher(
        brands=[("black", "Black"), ("blackanddecker", "Black & Decker")],
        categories=[("Staples", "Staples"), ("Staple Guns", "Staple Guns")],
    )
    assert named(matcher.match("black and decker staple guns")) == {
        (BRAND, "blackanddecker"), (CATEGORY, "Staple Guns")}
    assert named(matcher.match("black staples")) == {(BRAND, "black"), (CATEGORY, "Staples")}


def test_matcher_ignores_stop_words_short_and_numeric_names():
    matcher = EntityMatcher(
        brands=[("theone", "The One"), ("hi", "Hi")],
        categories=[("Other", "Other"), ("More", "More")],
        attributes=[("size=all", "all"), ("price_band=10-20", "10-20"), ("colour=red", "Red")],
    )
    assert matcher.match("the one and all other hi more things 10-20") == []
    assert named(matcher.match("one RED thing")) == {(ATTRIBUTE, "colour=red")}


def test_matcher_returns_nothing_for_an_unrelated_query(toy, encoder):
    snapshot, vectors = toy
    matcher = EntityMatcher.from_snapshot(snapshot, vectors[CATEGORY])
    query = "chocolate cake recipe"
    assert matcher.match(query, encoder.encode_query(query)) == []


def test_matcher_falls_back_to_category_vectors():
    vectors = np.eye(4, dtype=np.float32)
    categories = [(f"c{i}", f"Category {i}") for i in range(4)]
    matcher = EntityMatcher(categories=categories, category_vectors=vectors, max_vector_matches=1)
    query = np.array([0.1, 0.9, 0.7, 0.0], dtype=np.float32)
    matches = matcher.match("something unnamed", query)
    assert [(m.id, m.how) for m in matches] == [("c1", "vector")]
    assert matches[0].score == pytest.approx(0.9 / np.linalg.norm(query))
    assert matcher.match("category 3 please", query)[0].how == "name"  # a named category wins
    assert len(matcher.match("category 3 please", query)) == 1


# --- scoring ------------------------------------------------------------------------------------


def ranked_ids(snapshot, scores):
    return [snapshot.node_ids[PRODUCT][i] for i in np.argsort(-scores, kind="stable")]


def test_category_membership_includes_descendants(shop):
    snapshot = shop.snapshot
    members = category_products(snapshot, len(snapshot.node_ids[PRODUCT])).toarray()
    staplers = members[snapshot.index(CATEGORY)["Tools > Staplers"]]
    products = {snapshot.node_ids[PRODUCT][i] for i in np.flatnonzero(staplers)}
    assert products == {"gun-stanley", "gun-arrow", "staples-arrow"}
    assert members[snapshot.index(CATEGORY)["Tools"]].sum() == 6


def test_scorer_puts_the_named_brand_and_category_first(shop, encoder):
    snapshot, scorer = shop.snapshot, shop.scorer
    query = "I need a Stanley staple gun"
    scores, matches = scorer.score(encoder.encode_query(query), query)
    assert scores.shape == (len(CATALOGUE),) and np.isfinite(scores).all()
    assert {(BRAND, "stanley"), (CATEGORY, "Tools > Staplers > Staple Guns")} <= named(matches)
    ranking = ranked_ids(snapshot, scores)
    assert ranking[0] == "gun-stanley"
    assert set(ranking[:3]) == {"gun-stanley", "gun-arrow", "tape-stanley"}

    query = "anything made by stanley"
    scores, _ = scorer.score(encoder.encode_query(query), query)
    assert set(ranked_ids(snapshot, scores)[:2]) == {"gun-stanley", "tape-stanley"}

    query = "staplers"  # a parent category: its descendants' products are boosted
    scores, _ = scorer.score(encoder.encode_query(query), query)
    assert set(ranked_ids(snapshot, scores)[:3]) == {"gun-stanley", "gun-arrow", "staples-arrow"}


def test_entity_part_alone_is_exactly_the_matched_products(shop, encoder):
    snapshot = shop.snapshot
    only_entities = QueryScorer(
        snapshot, shop.text, shop.emb, shop.projection, shop.matcher,
        weights={"text": 0.0, "projection": 0.0},
    )
    query = "Arrow staples"
    scores, _ = only_entities.score(encoder.encode_query(query), query)
    boosted = {snapshot.node_ids[PRODUCT][i] for i in np.flatnonzero(scores > 0)}
    assert boosted == {"gun-arrow", "staples-arrow"}
    assert ranked_ids(snapshot, scores)[0] == "staples-arrow"  # brand and category both
    with pytest.raises(ValueError, match="unknown score parts"):
        QueryScorer(snapshot, shop.text, None, None, None, weights={"popularity": 1.0})


def test_scorer_without_matches_uses_text_and_projection(shop, encoder):
    query = "something to sit on softly"
    parts, matches = shop.scorer.parts(encoder.encode_query(query), query)
    assert set(parts) == {"text", "projection"} and not [m for m in matches if m.how == "name"]


def test_text_only_catalogue_still_gets_scores(tmp_path, encoder):
    snapshot = snapshot_of(tmp_path / "plain", TEXT_ONLY)
    assert not snapshot.node_ids[BRAND] and not snapshot.node_ids[CATEGORY]
    vectors = vectors_of(snapshot, encoder)
    emb = synthetic_embeddings(vectors[PRODUCT])
    scorer = QueryScorer(
        snapshot, vectors[PRODUCT], emb, QueryProjection.fit(vectors[PRODUCT], emb),
        EntityMatcher.from_snapshot(snapshot, vectors[CATEGORY]),
    )
    query = "I need a staple gun for upholstery"
    scores, matches = scorer.score(encoder.encode_query(query), query)
    assert matches == [] and scores.shape == (4,) and np.isfinite(scores).all()
    assert ranked_ids(snapshot, scores)[0] == "t2"
    text_only = QueryScorer(snapshot, vectors[PRODUCT], None, None, None)
    scores, _ = text_only.score(encoder.encode_query(query), query)
    assert ranked_ids(snapshot, scores)[0] == "t2"

"""One contract suite, run against both stores: same calls, same answers (DESIGN.md §2)."""

from __future__ import annotations

import pytest

from kg.errors import KgError, LoadError
from kg.ingest import load_dir
from kg.snapshot import export_snapshot
from kg.store import GraphBatch
from tests.conftest import TOY_COUNTS, TOY_INTERACTIONS, TOY_PRODUCTS, write_dataset


def test_toy_load_gives_hand_counted_graph(store, toy_dir):
    report = load_dir(store, toy_dir)
    assert store.counts() == TOY_COUNTS
    assert report.products == 5 and report.interactions == 5 and report.users == 3
    assert report.related_dropped == 1  # "not-in-catalogue" is not a product
    assert report.junk_segments == 2  # "1 pack", "2 pack"
    assert report.missing == {"brand": 2, "category_path": 1, "description": 4}


def test_second_load_changes_nothing(store, toy_dir):
    load_dir(store, toy_dir)
    before = (store.counts(), store.get_node("Product", "p1"), store.get_node("Brand", "stanley"))
    load_dir(store, toy_dir)
    after = (store.counts(), store.get_node("Product", "p1"), store.get_node("Brand", "stanley"))
    assert after == before


def test_cleaning_and_brand_merge(store, toy_dir):
    load_dir(store, toy_dir)
    brand = store.get_node("Brand", "stanley")
    assert brand["name"] == "Stanley" and brand["aliases"] == ["Stanley", "STANLEY"]
    assert store.get_node("Brand", "arrowfastener")["name"] == "Arrow Fastener Co., Inc."
    assert store.get_node("Product", "p4")["description"] == "Strong glue & more"
    assert store.get_node("Category", "Tools > Adhesives")["path"] == ["Tools", "Adhesives"]
    assert store.get_node("Attribute", "price_band=20-50") == {
        "id": "price_band=20-50", "key": "price_band", "value": "20-50"}
    assert list(store.iter_edges("IN_CATEGORY")) == [
        ("p1", "Tools > Staplers > Staple Guns"), ("p2", "Tools > Staplers > Staples"),
        ("p3", "Tools > Staplers > Staple Guns"), ("p4", "Tools > Adhesives")]


def test_reload_of_changed_product_replaces_its_catalogue_edges(store, toy_dir, tmp_path):
    load_dir(store, toy_dir)
    stamp = store.get_node("Product", "p2")["updated_at"]
    changed = dict(TOY_PRODUCTS[0], brand="Arrow", title="Arrow staple gun", attributes={}, price=None)
    load_dir(store, write_dataset(tmp_path / "delta", [changed, TOY_PRODUCTS[1]], []), )
    edges = {(s, d) for s, d in store.iter_edges("MADE_BY")}
    assert ("p1", "arrow") in edges and ("p1", "stanley") not in edges
    assert ("p1", "material=steel") not in set(store.iter_edges("HAS_ATTRIBUTE"))
    assert store.get_node("Product", "p1")["title"] == "Arrow staple gun"
    assert store.get_node("Product", "p2")["updated_at"] == stamp  # unchanged text, unchanged stamp


def test_interactions_keep_kind_rating_timestamp(store, toy_dir):
    load_dir(store, toy_dir)
    rows = list(store.iter_edges("INTERACTED", ("kind", "rating", "ts")))
    assert rows[0] == ("u1", "p1", "rating", 5.0, "2020-01-01T00:00:00Z")
    assert ("u2", "p3", "view", None, "2020-01-04T00:00:00Z") in rows


def test_bad_row_fails_load_and_its_batch_is_not_committed(store, tmp_path):
    products = [{"id": f"q{i}", "title": f"thing {i}"} for i in range(1, 8)]
    products[4] = '{"id": "q5", "title": "broken"'  # line 5 is not valid JSON
    folder = write_dataset(tmp_path / "bad", products, None)
    with pytest.raises(LoadError) as info:
        load_dir(store, folder, batch_size=3)
    message = str(info.value)
    assert "products.jsonl:5" in message and "not valid JSON" in message
    # Lines 1-3 (first batch) are stored; line 4 shares the failing batch and is not.
    assert store.existing_ids("Product", [f"q{i}" for i in range(1, 8)]) == {"q1", "q2", "q3"}


@pytest.mark.parametrize(
    "row, field",
    [
        ("u9,nope,2020-01-01T00:00:00Z,5", "item_id"),
        ("u9,p1,yesterday,5", "timestamp"),
        ("u9,p1,2020-01-01T00:00:00Z,7", "rating"),
    ],
)
def test_bad_interaction_names_file_line_and_field(store, tmp_path, row, field):
    folder = write_dataset(tmp_path / "bad", TOY_PRODUCTS, [*TOY_INTERACTIONS[:2], row, *TOY_INTERACTIONS[2:]])
    with pytest.raises(LoadError) as info:
        load_dir(store, folder, batch_size=2)
    assert f"interactions.csv:4: field '{field}'" in str(info.value)
    # Header is line 1; rows on lines 2-3 form the first batch and were committed.
    assert store.counts()["relationships"]["INTERACTED"] == 2


def test_skip_mode_reports_and_keeps_good_rows(store, tmp_path):
    rows = [*TOY_INTERACTIONS, "u9,nope,2020-01-01T00:00:00Z,5"]
    products = [*TOY_PRODUCTS, {"id": "p1", "title": "duplicate"}, {"title": "no id"}]
    report = load_dir(store, write_dataset(tmp_path / "skip", products, rows), on_error="skip")
    assert report.skipped == 3
    assert any("products.jsonl:6: field 'id': duplicate" in e for e in report.errors)
    assert any("products.jsonl:7: field 'id': missing" in e for e in report.errors)
    assert any("interactions.csv:7: field 'item_id': unknown product 'nope'" in e for e in report.errors)
    assert store.counts() == TOY_COUNTS
    assert store.get_node("Product", "p1")["title"] == "Stanley heavy duty staple gun"


def test_interactions_may_name_products_already_in_store(store, toy_dir, tmp_path):
    load_dir(store, toy_dir)
    folder = tmp_path / "delta"
    folder.mkdir()
    (folder / "interactions.csv").write_text("user_id,item_id,timestamp,rating\nu7,p5,2021-05-01T10:00:00+02:00,\n")
    load_dir(store, folder)
    assert list(store.iter_edges("INTERACTED", ("ts",)))[-1] == ("u7", "p5", "2021-05-01T08:00:00Z")


def test_batch_with_missing_endpoint_is_rejected_whole(store, toy_dir):
    load_dir(store, toy_dir)
    batch = GraphBatch()
    batch.add_node("Brand", {"id": "newbrand", "name": "New", "aliases": ["New"]})
    batch.add_edge("MADE_BY", "p5", "newbrand")
    batch.add_edge("MADE_BY", "ghost", "newbrand")
    with pytest.raises(KgError):
        store.apply(batch)
    assert store.get_node("Brand", "newbrand") is None
    assert store.counts() == TOY_COUNTS


def _catalogue_batch(now: str, *products: tuple[str, str, str]) -> GraphBatch:
    """A batch that replaces the catalogue edges of (id, brand, text_hash) products, as the
    importer writes one (Neo4j creates new products and merges known ones: both in one batch)."""
    batch = GraphBatch(now=now)
    for pid, brand, text_hash in products:
        batch.add_node("Product", {"id": pid, "title": f"title of {pid}", "text_hash": text_hash})
        batch.add_edge("MADE_BY", pid, brand)
        batch.add_edge("IN_CATEGORY", pid, "Tools > Adhesives")
        batch.replace_catalogue_edges.append(pid)
    return batch


def test_new_and_known_products_in_one_batch(store, toy_dir):
    load_dir(store, toy_dir)
    arrow = dict(store.iter_edges("MADE_BY"))["p3"]
    store.apply(_catalogue_batch("2030-01-01T00:00:00Z", ("p9", "stanley", "h9"), ("p1", arrow, "h1")))
    assert store.get_node("Product", "p9") == {"id": "p9", "title": "title of p9", "text_hash": "h9",
                                               "updated_at": "2030-01-01T00:00:00Z"}
    assert store.get_node("Product", "p1")["updated_at"] == "2030-01-01T00:00:00Z"
    made_by = set(store.iter_edges("MADE_BY"))
    assert {("p9", "stanley"), ("p1", arrow)} <= made_by and ("p1", "stanley") not in made_by
    assert ("p9", "Tools > Adhesives") in set(store.iter_edges("IN_CATEGORY"))
    assert not [e for e in store.iter_edges("HAS_ATTRIBUTE") if e[0] in ("p1", "p9")]
    counts = store.counts()
    assert counts["nodes"]["Product"] == TOY_COUNTS["nodes"]["Product"] + 1
    assert counts["relationships"]["MADE_BY"] == TOY_COUNTS["relationships"]["MADE_BY"] + 1


def test_a_new_product_twice_in_one_batch_is_one_node(store, toy_dir):
    load_dir(store, toy_dir)
    arrow = dict(store.iter_edges("MADE_BY"))["p3"]
    store.apply(_catalogue_batch("2030-01-01T00:00:00Z", ("p9", "stanley", "h9"), ("p9", arrow, "h9b")))
    assert store.get_node("Product", "p9")["text_hash"] == "h9b"
    assert {dst for src, dst in store.iter_edges("MADE_BY") if src == "p9"} == {"stanley", arrow}
    assert store.counts()["nodes"]["Product"] == TOY_COUNTS["nodes"]["Product"] + 1


@pytest.mark.parametrize("known", [False, True], ids=["new product", "known product"])
def test_catalogue_edge_to_a_missing_target_rejects_the_batch(store, toy_dir, known):
    load_dir(store, toy_dir)
    before = store.get_node("Product", "p1")
    batch = _catalogue_batch("2030-01-01T00:00:00Z", ("p1" if known else "p9", "ghost-brand", "h"),
                             ("p8", "stanley", "h8"))
    with pytest.raises(KgError):
        store.apply(batch)
    assert store.get_node("Product", "p8") is None and store.get_node("Product", "p9") is None
    assert store.get_node("Product", "p1") == before
    assert store.counts() == TOY_COUNTS


def test_paths_shortest_first_no_users_by_default(store, toy_dir):
    load_dir(store, toy_dir)
    paths = store.find_paths(("User", "u1"), ("Product", "p3"), k=3)
    assert [p.nodes[2] for p in paths] == [
        ("Attribute", "material=steel"), ("Attribute", "price_band=20-50"),
        ("Category", "Tools > Staplers > Staple Guns")]
    assert all(p.nodes[1] == ("Product", "p1") and len(p) == 3 for p in paths)
    first = paths[0]
    assert [(h.rel, h.forward) for h in first.hops] == [
        ("INTERACTED", True), ("HAS_ATTRIBUTE", True), ("HAS_ATTRIBUTE", False)]
    assert first.names == ("u1", "Stanley heavy duty staple gun", "material: steel", "Arrow T50 staple gun")


def test_paths_through_users_only_when_asked(store, toy_dir):
    load_dir(store, toy_dir)
    via_users = store.find_paths(("User", "u1"), ("Product", "p3"), k=4, through_users=True)
    assert via_users[-1].nodes == (("User", "u1"), ("Product", "p1"), ("User", "u2"), ("Product", "p3"))
    plain = store.find_paths(("User", "u1"), ("Product", "p3"), k=10)
    assert all(n[0] != "User" for p in plain for n in p.nodes[1:])
    # 3 paths of 3 hops, then 3 of 4 hops through p2 -ALSO_BOUGHT- p1 (counted by hand).
    assert [len(p) for p in plain] == [3, 3, 3, 4, 4, 4]


def test_paths_respect_relationship_allow_list_and_hops(store, toy_dir):
    load_dir(store, toy_dir)
    only_cat = store.find_paths(("User", "u1"), ("Product", "p3"), k=5, rel_types=("INTERACTED", "IN_CATEGORY"))
    assert [p.nodes[2] for p in only_cat] == [("Category", "Tools > Staplers > Staple Guns")]
    assert store.find_paths(("User", "u1"), ("Product", "p3"), max_hops=2) == []
    assert store.find_paths(("User", "u1"), ("Product", "missing")) == []


def test_snapshot_arrays_and_fields(store, toy_dir):
    load_dir(store, toy_dir)
    snap = export_snapshot(store)
    assert snap.node_ids["Product"] == ["p1", "p2", "p3", "p4", "p5"]
    assert snap.edges["MADE_BY"].tolist() == [[0, 1, 2], [1, 1, 0]]  # brands sorted: arrowfastener, stanley
    fields = snap.node_fields["Product"][0]
    assert fields["brand"] == "Stanley" and fields["category_path"] == ["Tools", "Staplers", "Staple Guns"]
    assert fields["attributes"] == {"material": "steel", "price_band": "20-50"}
    assert snap.interactions["kind"][3] == "view" and snap.interactions["ts"][0] == 1577836800


@pytest.mark.neo4j
def test_both_stores_give_identical_snapshots(embedded_store, neo4j_store, toy_dir):
    for s in (embedded_store, neo4j_store):
        load_dir(s, toy_dir)
    a, b = export_snapshot(embedded_store), export_snapshot(neo4j_store)
    assert a.node_ids == b.node_ids
    assert {k: v.tolist() for k, v in a.edges.items()} == {k: v.tolist() for k, v in b.edges.items()}
    assert a.node_fields == b.node_fields and a.fingerprint() == b.fingerprint()

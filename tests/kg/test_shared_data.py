"""The real shared catalogue: both stores hold the same graph, and a second load changes nothing."""

from __future__ import annotations

import json

import pytest

from kg.ingest import load_dir
from kg.snapshot import export_snapshot


@pytest.fixture(scope="module")
def industrial_embedded(industrial_dir, tmp_path_factory):
    from kg.store_nx import NetworkxStore

    store = NetworkxStore(tmp_path_factory.mktemp("industrial") / "store")
    report = load_dir(store, industrial_dir)
    return store, report


def test_embedded_load_matches_source_files(industrial_embedded, industrial_dir):
    store, report = industrial_embedded
    products = [json.loads(line) for line in open(industrial_dir / "products.jsonl")]
    n_interactions = sum(1 for _ in open(industrial_dir / "interactions.csv")) - 1
    counts = store.counts()
    assert counts["nodes"]["Product"] == len(products) == report.products
    assert counts["relationships"]["INTERACTED"] == n_interactions == report.interactions
    with_brand = sum(1 for p in products if p.get("brand"))
    # Every product with a real brand name is MADE_BY one Brand; placeholders are the only loss.
    assert counts["relationships"]["MADE_BY"] == with_brand - (report.missing["brand"] - (len(products) - with_brand))
    assert counts["relationships"]["SUBCATEGORY_OF"] == counts["nodes"]["Category"] - len(
        {p["category_path"][0] for p in products if p.get("category_path")})
    assert report.skipped == 0 and report.junk_segments > 0


def test_embedded_store_survives_reopen(industrial_embedded):
    from kg.store_nx import NetworkxStore

    store, _ = industrial_embedded
    store.flush()
    reopened = NetworkxStore(store.path)
    assert reopened.counts() == store.counts()
    assert export_snapshot(reopened).fingerprint() == export_snapshot(store).fingerprint()


@pytest.mark.neo4j
def test_neo4j_and_embedded_identical_and_idempotent(industrial_embedded, industrial_dir, neo4j_store):
    store, _ = industrial_embedded
    load_dir(neo4j_store, industrial_dir)
    first = neo4j_store.counts()
    assert first == store.counts()
    load_dir(neo4j_store, industrial_dir)
    assert neo4j_store.counts() == first
    assert export_snapshot(neo4j_store).fingerprint() == export_snapshot(store).fingerprint()

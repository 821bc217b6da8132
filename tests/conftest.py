"""Shared fixtures: the real Neo4j server (started once per session), stores, toy and shared data.

Neo4j: when NEO4J_URI is set, tests use that server (NEO4J_USER / NEO4J_PASSWORD); otherwise the
local server of kg/neo4j_local is started once for the session in a temp folder, when Java and
Maven are present. Without them, Neo4j tests are skipped — unless KGREC_REQUIRE_NEO4J=1 (as in
`make test` and CI), where they fail instead, so CI never passes with Neo4j silently skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("KGREC_DATA_ROOT", REPO.parent / "shared" / "data"))
INDUSTRIAL = DATA_ROOT / "amazon-industrial-scientific"
BEAUTY = DATA_ROOT / "amazon-luxury-beauty"


@pytest.fixture(scope="session")
def neo4j_credentials(tmp_path_factory):
    """(uri, user, password) of a real Neo4j 5 server."""
    if os.environ.get("NEO4J_URI"):
        yield os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", "")
        return
    from kg.neo4j_local import server

    if not server.java_available():
        message = "Neo4j tests need NEO4J_URI, or java 17 + mvn to start the local server"
        if os.environ.get("KGREC_REQUIRE_NEO4J") == "1":
            pytest.fail(message)
        pytest.skip(message)
    home = tmp_path_factory.mktemp("neo4j-home")
    cache = Path(os.environ.get("KGREC_BUILD_CACHE", server.default_cache_root()))
    # quick_start: the JVM's fast compiler only — quicker start, fine for test-sized queries.
    info = server.start(home, cache_root=cache, browser=False, quick_start=True, timeout=180)
    try:
        yield info.uri, info.user, info.password
    finally:
        server.stop(home)


@pytest.fixture
def neo4j_store(neo4j_credentials):
    """A Neo4jStore on an emptied database (Community has one user database, so tests clear it)."""
    from kg.store_neo4j import Neo4jStore

    uri, user, password = neo4j_credentials
    store = Neo4jStore(uri, user, password)
    store.clear()
    store.ensure_schema()
    yield store
    store.close()


@pytest.fixture
def embedded_store(tmp_path):
    from kg.store_nx import NetworkxStore

    store = NetworkxStore(tmp_path / "store")
    yield store
    store.close()


@pytest.fixture(params=["embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request):
    """Each contract test runs once per store."""
    return request.getfixturevalue(f"{request.param}_store")


TOY_PRODUCTS = [
    {"id": "p1", "title": "Stanley heavy duty staple gun", "brand": "Stanley",
     "category_path": ["Tools", "Staplers", "Staple Guns"], "attributes": {"material": "steel"},
     "price": 25.0, "related": {"also_bought": ["p2", "not-in-catalogue"]}},
    {"id": "p2", "title": "Stanley staples 1/2 inch", "brand": "STANLEY",
     "category_path": ["Tools", "Staplers", "Staples"], "price": 5},
    {"id": "p3", "title": "Arrow T50 staple gun", "brand": "Arrow Fastener Co., Inc.",
     "category_path": ["Tools", "Staplers", "Staple Guns"], "attributes": {"material": "steel"}, "price": 30},
    {"id": "p4", "title": "Super glue", "description": "<b>Strong</b> glue &amp; more",
     "category_path": ["Tools", "Adhesives", "1 pack", "2 pack"]},
    {"id": "p5", "title": "Work gloves", "brand": "Generic"},
]
TOY_INTERACTIONS = [
    ("u1", "p1", "2020-01-01T00:00:00Z", "5"),
    ("u1", "p2", "2020-01-02T00:00:00Z", "4"),
    ("u2", "p1", "2020-01-03T00:00:00Z", "5"),
    ("u2", "p3", "2020-01-04T00:00:00Z", ""),
    ("u3", "p4", "2020-01-05T00:00:00Z", "2"),
]
# Counted by hand from the rows above (see tests/kg/test_store_contract.py).
TOY_COUNTS = {
    "nodes": {"Product": 5, "Brand": 2, "Category": 5, "Attribute": 3, "User": 3},
    "relationships": {"MADE_BY": 3, "IN_CATEGORY": 4, "SUBCATEGORY_OF": 4, "HAS_ATTRIBUTE": 5,
                      "ALSO_BOUGHT": 1, "ALSO_VIEWED": 0, "BOUGHT_TOGETHER": 0, "INTERACTED": 5,
                      "RECOMMENDED": 0},
}


def write_dataset(folder: Path, products: list, interactions: list, *, header="user_id,item_id,timestamp,rating"):
    """Write a canonical folder; product entries may be dicts or raw strings (for bad JSON)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "products.jsonl", "w") as fh:
        for p in products:
            fh.write((p if isinstance(p, str) else json.dumps(p)) + "\n")
    if interactions is not None:
        with open(folder / "interactions.csv", "w") as fh:
            fh.write(header + "\n")
            for row in interactions:
                fh.write((row if isinstance(row, str) else ",".join(row)) + "\n")
    return folder


@pytest.fixture
def toy_dir(tmp_path):
    return write_dataset(tmp_path / "toy", TOY_PRODUCTS, TOY_INTERACTIONS)


@pytest.fixture(scope="session")
def industrial_dir():
    if not (INDUSTRIAL / "products.jsonl").exists():
        pytest.skip(f"shared data set not found at {INDUSTRIAL} (set KGREC_DATA_ROOT)")
    return INDUSTRIAL


@pytest.fixture(scope="session")
def offline():
    """No hub access while models load (everything must come from local files)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(scope="session")
def encoder(offline):
    """The default encoder (all-MiniLM-L6-v2 from its PyPI package) on CPU, loaded once per session
    (tests/llm and the query tests share it)."""
    from llm.encoder import TextEncoder

    return TextEncoder(device="cpu")

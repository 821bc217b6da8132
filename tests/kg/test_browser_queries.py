"""The saved Neo4j Browser queries (kg/queries/explore.cypher) against the real Neo4j, and Browser.

The catalogue is the four-topic one of tests/gnn/rgcn_data.py (brand + category per topic,
users who buy inside one topic) plus one cold product nobody interacted with. Embeddings are
deterministic topic vectors and each user's RECOMMENDED list is the top five by cosine to the
mean of what they bought, both written with kg.writeback, so the cold product (a pure topic
vector) is recommended to the users of its topic. Every saved query runs with parameters taken
from that data and must return rows that say what its header promises.

The Browser test starts its own local server with Neo4j Browser on (the session fixture's has no
HTTP connector), opens Browser in headless Chromium (Debian's chromium + chromium-driver through
Selenium, never Selenium Manager), logs in, runs a saved query and waits for its graph.
Without chromium / chromedriver / selenium it is skipped, unless KGREC_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from kg.browser_queries import (
    QUERIES_FILE,
    QueryFileError,
    check_query,
    load_queries,
    parse_queries,
)
from kg.ingest import load_dir
from kg.writeback import replace_recommendations, write_embeddings
from tests.browser import find_binaries, open_chromium, unavailable
from tests.gnn.rgcn_data import TOPICS, topic_catalogue

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {"why_recommended", "similar_products", "brand_neighbourhood", "cold_products",
            "user_recommendations"}
COLD = "P900"  # a Maybelline lipstick (topic 2) with no interactions
COLD_TOPIC = 2
VERSION = "test-v1"
# The schema's default dimension: the session database is shared, and other tests expect the
# vector index at that size after `clear()` (which keeps indexes).
DIM = 64
TOP = 5


# --- the file itself (no server) ------------------------------------------------------------------

def test_the_file_holds_every_expected_query():
    queries = load_queries()
    assert EXPECTED <= set(queries), f"missing from {QUERIES_FILE}: {EXPECTED - set(queries)}"
    for q in queries.values():
        assert q.description, f"{q.name} has no description"
        assert q.cypher and not q.cypher.endswith(";")


def test_queries_take_values_only_as_parameters():
    queries = load_queries()
    problems = [p for q in queries.values() for p in check_query(q)]
    assert problems == []
    # every example value in a :param line is a plain literal, and each query uses its own
    for q in queries.values():
        assert set(q.example_params()) == q.used_params


def test_the_docs_show_every_query():
    doc = (REPO / "docs" / "neo4j-browser.md").read_text()
    for name in load_queries():
        assert f"`{name}`" in doc, f"docs/neo4j-browser.md does not describe {name}"


def test_check_query_catches_formatted_values():
    text = """
// name: bad
// Formats a value.
// :param user => 'U1'
MATCH (u:User {id: 'U002'}) WHERE u.id = $user OR u.id = '{user}' RETURN u;

// name: fmt
// Python placeholders.
MATCH (u:User) WHERE u.id = {user} AND u.x = %s RETURN u;

// name: undeclared
// Uses a parameter it does not declare.
MATCH (u:User {id: $user}) RETURN u;
"""
    queries = parse_queries(text)
    assert [p for p in check_query(queries["bad"])] == [
        "bad: string literal 'U002' in the query (values must be $parameters)",
        "bad: string literal '{user}' in the query (values must be $parameters)",
    ]
    assert check_query(queries["fmt"]) == ["fmt: %-formatting in the query text",
                                          "fmt: a {placeholder} in the query text"]
    assert check_query(queries["undeclared"]) == [
        "undeclared: uses ['user'] without a :param line"]


def test_parse_errors_name_the_line():
    with pytest.raises(QueryFileError, match=r"<text>:2: query 'a' does not end with ';'"):
        parse_queries("\n// name: a\nMATCH (n) RETURN n\n")
    with pytest.raises(QueryFileError, match="defined twice"):
        parse_queries("// name: a\nRETURN 1;\n// name: a\nRETURN 2;\n")
    with pytest.raises(QueryFileError, match="more than one statement"):
        parse_queries("// name: a\nRETURN 1; RETURN 2;\n")
    parsed = parse_queries("// name: a\n// d\nRETURN ';' AS x; // trailing comment\n")
    assert parsed["a"].cypher == "RETURN ';' AS x"


def test_paste_text_sets_the_params_then_runs_the_query(capsys):
    from kg.browser_queries import main, paste_text

    query = load_queries()["why_recommended"]
    text = paste_text(query, {"user": "A1'B"})
    assert text.splitlines()[:3] == [":param user => 'A1\\'B';", ":param product => 'P900';",
                                     "// why_recommended"]
    assert text.endswith(query.cypher + ";")
    similar = paste_text(load_queries()["similar_products"], {"k": "5"})
    assert similar.splitlines()[1] == ":param k => 5;"
    assert main(["similar_products", "k=3"]) == 0
    assert ":param k => 3;" in capsys.readouterr().out
    assert main(["cold_products", "user=U1"]) == 2
    assert "cold_products has no parameter 'user'" in capsys.readouterr().err
    assert main(["nope"]) == 2


# --- the data -------------------------------------------------------------------------------------

def explore_catalogue(folder: Path) -> Path:
    """The four-topic catalogue plus the cold product COLD (no interactions; ALSO_VIEWED P002)."""
    topic_catalogue(folder)
    brand, path, noun = TOPICS[COLD_TOPIC]
    with open(folder / "products.jsonl", "a") as fh:
        fh.write(json.dumps({"id": COLD, "title": f"{brand} {noun}, new shade",
                             "brand": brand, "category_path": path, "attributes": {"pack": "1"},
                             "related": {"also_viewed": ["P002"]}}) + "\n")
    return folder


def _topic(pid: str) -> int:
    return COLD_TOPIC if pid == COLD else int(pid[1:]) % len(TOPICS)


def write_model_output(store) -> dict[str, list[tuple[str, float]]]:
    """Deterministic embeddings and top-5 RECOMMENDED lists (see the module docstring)."""
    rng = np.random.default_rng(7)
    ids = sorted(row[0] for row in store.iter_nodes("Product", ()))
    vectors = np.zeros((len(ids), DIM), dtype=np.float32)
    for i, pid in enumerate(ids):
        vectors[i, _topic(pid)] = 1.0
        if pid != COLD:
            vectors[i] += 0.175 * rng.normal(size=DIM)  # noise of norm ~1.4 against 1
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    write_embeddings(store, ids, vectors, VERSION)
    index = {pid: i for i, pid in enumerate(ids)}
    bought: dict[str, set[str]] = {}
    for user, pid in store.iter_edges("INTERACTED"):
        bought.setdefault(user, set()).add(pid)
    recs = {}
    for user, items in sorted(bought.items()):
        profile = vectors[[index[p] for p in items]].mean(axis=0)
        scores = vectors @ (profile / np.linalg.norm(profile))
        order = [i for i in np.argsort(-scores, kind="stable") if ids[i] not in items][:TOP]
        recs[user] = [(ids[i], float(scores[i])) for i in order]
    replace_recommendations(store, recs, VERSION)
    store.driver.execute_query("CALL db.awaitIndexes(60)", database_=store.database)
    return recs


def _run(store, query, **params):
    records, _, _ = store.driver.execute_query(query.cypher, params, database_=store.database)
    return [r.data() for r in records], records


# --- every query against the real Neo4j ---------------------------------------------------------

@pytest.mark.neo4j
def test_every_saved_query_returns_rows(neo4j_store, tmp_path):
    store = neo4j_store
    load_dir(store, explore_catalogue(tmp_path / "catalogue"), progress=False)
    recs = write_model_output(store)
    queries = load_queries()
    cold_users = sorted(u for u, items in recs.items() if COLD in [p for p, _ in items])
    assert cold_users, "the cold product must be recommended to someone"
    user = cold_users[0]
    warm = next(p for p, _ in recs[user] if p != COLD)
    ran = set()

    # (1) why was Y recommended to U: the edge, and evidence paths over catalogue edges only
    for product in (COLD, warm):
        rows, records = _run(store, queries["why_recommended"], user=user, product=product)
        assert rows, f"why_recommended({user}, {product}) returned no rows"
        rank = [p for p, _ in recs[user]].index(product) + 1
        assert {(r["rank"], r["model_version"]) for r in rows} == {(rank, VERSION)}
        assert rows[0]["score"] == pytest.approx(dict(recs[user])[product], abs=1e-6)
        paths = [rec["evidence"] for rec in records if rec["evidence"] is not None]
        assert 1 <= len(paths) <= 3
        for path in paths:
            assert len(path) <= 4
            assert path.start_node["id"] == user and path.end_node["id"] == product
            assert [n for n in path.nodes[1:] if "User" in n.labels] == []
            assert "RECOMMENDED" not in {r.type for r in path.relationships}
            assert path.relationships[0].type == "INTERACTED"
        assert [r["hops"] for r in rows] == sorted(r["hops"] for r in rows)
        # U bought something of the same brand / category / also-viewed neighbour: 2-3 hops
        assert rows[0]["hops"] <= 3 and rows[0]["via"][0] == user
    ran.add("why_recommended")

    # (2) similar products through the vector index: the same topic comes first
    rows, _ = _run(store, queries["similar_products"], product="P010", k=5)
    assert len(rows) == 5 and "P010" not in [r["id"] for r in rows]
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert all(_topic(r["id"]) == _topic("P010") for r in rows[:3])
    ran.add("similar_products")

    # (3) a brand's neighbourhood, by name or by normalised id
    brand = TOPICS[1][0]
    for key in (brand, brand.lower()):
        rows, records = _run(store, queries["brand_neighbourhood"], brand=key)
        assert len(rows) == 12  # products P001, P005, ... P045
        assert {_topic(r["product"]) for r in rows} == {1}
        assert all(len(rec["categories"]) == 1 for rec in records)
        assert any(rec["users"] for rec in records)
        assert all(len(rec["users"]) <= 5 for rec in records)
        counts = [r["interactions"] for r in rows]
        assert counts == sorted(counts, reverse=True)
    ran.add("brand_neighbourhood")

    # (4) cold products: the recommended cold one first, with where its signal comes from
    rows, records = _run(store, queries["cold_products"])
    assert rows and rows[0]["product"] == COLD
    cold = rows[0]
    assert cold["recommended"] == len(cold_users)
    assert len(records[0]["recommended_to"]) == min(10, len(cold_users))
    signal = {(s["via"], s["node"]): s["warm_products"] for s in cold["signal"]}
    warm_in_topic = len({p for _, p in store.iter_edges("INTERACTED") if _topic(p) == COLD_TOPIC})
    assert signal[("MADE_BY", TOPICS[COLD_TOPIC][0])] == warm_in_topic
    assert signal[("IN_CATEGORY", TOPICS[COLD_TOPIC][1][-1])] == warm_in_topic
    assert ("ALSO_VIEWED", f"{TOPICS[COLD_TOPIC][0]} {TOPICS[COLD_TOPIC][2]} model 2") in signal
    assert len(cold["nearest_warm"]) == 3
    assert {_topic(n["id"]) for n in cold["nearest_warm"]} == {COLD_TOPIC}
    ran.add("cold_products")

    # (5) a user's list, best first, the cold product flagged
    rows, _ = _run(store, queries["user_recommendations"], user=user)
    assert [r["product"] for r in rows] == [p for p, _ in recs[user]]
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["product"] for r in rows if r["cold"]] == [COLD]
    assert len(rows[0]["history"]) == 6
    ran.add("user_recommendations")

    # the example values of the :param lines fit this catalogue: each query returns rows with them
    for q in queries.values():
        assert _run(store, q, **q.example_params())[0], f"{q.name} with its :param examples"

    # a query added to the file without a check here still has to return rows
    for name in set(queries) - ran:
        q = queries[name]
        params = {k: v for k, v in dict(user=user, product=warm, brand=brand, k=5).items()
                  if k in q.used_params}
        assert _run(store, q, **params)[0], f"{name} returned no rows"


# --- Neo4j Browser in headless Chromium -----------------------------------------------------------

WAIT_S = 60


@pytest.fixture(scope="module")
def browser_binaries():
    return find_binaries()


@pytest.fixture(scope="module")
def browser_server(browser_binaries, tmp_path_factory):
    """A local Neo4j with the HTTP connector and Neo4j Browser, holding the test catalogue."""
    from kg.neo4j_local import server
    from kg.store_neo4j import Neo4jStore

    if not server.java_available():
        unavailable("the Browser test needs java 17 + mvn to start a local server with Browser",
                     "KGREC_REQUIRE_NEO4J")
    home = tmp_path_factory.mktemp("neo4j-browser-home")
    cache = Path(os.environ.get("KGREC_BUILD_CACHE", server.default_cache_root()))
    info = server.start(home, cache_root=cache, browser=True, quick_start=True, timeout=180)
    try:
        store = Neo4jStore(info.uri, info.user, info.password)
        try:
            store.ensure_schema()
            load_dir(store, explore_catalogue(tmp_path_factory.mktemp("catalogue")), progress=False)
            recs = write_model_output(store)
        finally:
            store.close()
        yield info, recs
    finally:
        server.stop(home)


def browser_url(info, cypher: str | None = None) -> str:
    """Browser's address, with the Bolt address and user filled in and ``cypher`` in the editor."""
    query = {"dbms": f"neo4j://{info.user}@127.0.0.1:{info.bolt_port}", "db": "neo4j"}
    if cypher is not None:
        query.update(cmd="edit", arg=cypher)
    return info.browser_url + "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)


def connect_browser(driver, info, wait) -> None:
    """Fill Browser's connect form (user and password) and wait until it is connected."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    password = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='password']")))
    username = driver.find_element(By.CSS_SELECTOR, "[data-testid='username']")
    if username.get_attribute("value") != info.user:
        username.clear()
        username.send_keys(info.user)
    password.send_keys(info.password)
    driver.find_element(By.CSS_SELECTOR, "[data-testid='connect']").click()
    wait.until(lambda d: "You are connected as user" in d.find_element(By.TAG_NAME, "body").text)


def run_in_browser(driver, text: str, wait) -> None:
    """Type ``text`` into Browser's (empty) editor and run it.

    Lines are typed without their indentation and joined with Shift+Enter (Enter alone would
    run the first line): the editor then holds the query as the file has it, less the indents.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC

    editor = wait.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, "[data-testid='activeEditor'] textarea")))
    lines = text.split("\n")
    for i, line in enumerate(lines):
        editor.send_keys(line.strip())
        if i < len(lines) - 1:
            editor.send_keys(Keys.SHIFT, Keys.ENTER)
    driver.find_element(By.CSS_SELECTOR, "[data-testid='editor-Run']").click()


def set_params(driver, params: dict, wait) -> None:
    """Set Browser parameters with one ``:params`` command (values as JSON: strings, numbers)."""
    from selenium.webdriver.common.by import By

    before = len(driver.find_elements(By.CSS_SELECTOR, "[data-testid='frame']"))
    run_in_browser(driver, ":params " + json.dumps(params), wait)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-testid='frame']")) > before)


@pytest.mark.browser
@pytest.mark.neo4j
def test_browser_runs_a_saved_query(browser_server, browser_binaries, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    info, recs = browser_server
    user = sorted(u for u, items in recs.items() if COLD in [p for p, _ in items])[0]
    query = load_queries()["why_recommended"]
    start = time.monotonic()
    driver = open_chromium(*browser_binaries, tmp_path / "profile", tmp_path / "chromedriver.log",
                           window="1400,1000")
    try:
        wait = WebDriverWait(driver, WAIT_S)
        driver.get(browser_url(info))
        wait.until(lambda d: "Neo4j Browser" in d.title)
        connect_browser(driver, info, wait)
        set_params(driver, {"user": user, "product": COLD}, wait)
        run_in_browser(driver, query.browser_text(), wait)
        # the result frame draws the user, the recommended cold product and the evidence path
        # between them (user -> a product they bought -> brand/category -> cold product)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg g.node")) >= 4)
        frame = driver.find_elements(By.CSS_SELECTOR, "[data-testid='frame']")[0]  # newest first
        assert frame.text.startswith("// why_recommended")
        assert "RECOMMENDED (1)" in frame.text and "INTERACTED" in frame.text  # the overview
        assert len(frame.find_elements(By.CSS_SELECTOR, "svg g.relationship")) >= 3
        errors = frame.find_elements(By.CSS_SELECTOR, "[data-testid='cypherFrameErrorMessage']")
        assert errors == []
    finally:
        driver.quit()
    assert time.monotonic() - start < 60

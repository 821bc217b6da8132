"""The web page at ``/`` in a real headless Chromium (Debian's chromium + chromium-driver, Selenium).

The app (embedded store, the small four-topic catalogue of tests/gnn/rgcn_data.py, a freshly
trained bundle) is served on a real loopback port by werkzeug in a thread; the browser types into
the form, submits, and the test reads what the page drew: recommended items with their titles and
each explanation as an inline SVG path graph (a circle per node, a line per edge, node labels).
The browser console must stay free of errors.

Without chromium / chromedriver (or selenium) the tests are skipped — unless
KGREC_REQUIRE_BROWSER=1 (as in `make test` and CI), where they fail instead.
Selenium Manager is never used: the driver and browser binaries are given explicitly (no network).
"""

from __future__ import annotations

import threading

import pytest

from service.app import create_app
from tests.browser import find_binaries, open_chromium
from tests.service.test_api import _build

pytestmark = pytest.mark.browser

TOPICS = {0: "DeWalt", 1: "Bosch", 2: "Maybelline", 3: "Loreal"}  # brand of product P<i> is i % 4
WAIT_S = 30
# Uncaught errors and unhandled promise rejections, recorded by the page itself (belt and braces
# next to the console log: both must stay empty).
ERROR_HOOK = """
window.__kgrecErrors = [];
window.addEventListener("error", e => window.__kgrecErrors.push(String(e.message || e)));
window.addEventListener("unhandledrejection", e => window.__kgrecErrors.push(String(e.reason)));
"""
# What the page drew, read in one round trip: per item its id, title and path drawings.
RENDERED = """
return Array.from(document.querySelectorAll("#results .item")).map(item => ({
  id: item.dataset.itemId,
  title: item.querySelector(".title").textContent,
  sentences: Array.from(item.querySelectorAll(".sentence")).map(s => s.textContent),
  paths: Array.from(item.querySelectorAll("svg.path")).map(svg => ({
    signal: svg.dataset.signal,
    kind: svg.dataset.kind,
    width: svg.getBoundingClientRect().width,
    nodes: Array.from(svg.querySelectorAll("circle.node")).map(c => c.dataset.label),
    edges: svg.querySelectorAll("line.edge").length,
    rels: Array.from(svg.querySelectorAll("text.rel")).map(t => t.textContent),
    labels: Array.from(svg.querySelectorAll("text.node-label")).map(t => t.textContent),
  })),
}));
"""


@pytest.fixture(scope="module")
def browser_binaries():
    return find_binaries()


@pytest.fixture(scope="module")
def live(tmp_path_factory, browser_binaries):
    """(base URL, snapshot): the app on a real loopback port, served by werkzeug in a thread."""
    from werkzeug.serving import make_server

    config, snap = _build(tmp_path_factory, {})
    server = make_server("127.0.0.1", 0, create_app(config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kgrec-page", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", snap
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def driver(browser_binaries, tmp_path_factory):
    chromium, chromedriver = browser_binaries
    drv = open_chromium(chromium, chromedriver, tmp_path_factory.mktemp("chromium-profile"),
                        tmp_path_factory.mktemp("chromedriver") / "chromedriver.log", wait_s=WAIT_S)
    try:
        drv.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ERROR_HOOK})
        yield drv
    finally:
        drv.quit()


@pytest.fixture
def page(driver, live):
    """The page freshly loaded (console log drained first, so each test sees only its own)."""
    base, _ = live
    driver.get_log("browser")
    driver.get(base + "/")
    assert driver.title == "kgrec"
    return driver


def _submit(drv, *, user: str = "", query: str = "", history: str = "", k: int = 5) -> str:
    """Fill the form as a person would, submit it, wait for this submission's answer."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    for field, value in (("user", user), ("query", query), ("history", history), ("k", str(k))):
        box = drv.find_element(By.ID, field)
        box.clear()
        if value:
            box.send_keys(value)
    results = drv.find_element(By.ID, "results")
    seq = int(results.get_attribute("data-seq")) + 1
    drv.find_element(By.ID, "go").click()

    def answered(d):
        el = d.find_element(By.ID, "results")
        state = el.get_attribute("data-state")
        return state if el.get_attribute("data-seq") == str(seq) and state in ("done", "error") else None

    state = WebDriverWait(drv, WAIT_S, poll_frequency=0.1).until(
        answered, message=f"no answer on the page within {WAIT_S} s "
                          f"(status: {drv.find_element(By.ID, 'status').text!r})")
    return state


def _titles(snap) -> dict[str, str]:
    return {pid: f["title"] for pid, f in zip(snap.node_ids["Product"], snap.node_fields["Product"])}


def _check_items(drv, snap, k: int) -> list[dict]:
    """Items are catalogue products with their titles; every path drawing is a well-formed graph."""
    from selenium.webdriver.common.by import By

    titles = _titles(snap)
    items = drv.execute_script(RENDERED)
    assert 1 <= len(items) <= k, items
    assert len(drv.find_elements(By.CSS_SELECTOR, "#results .item")) == len(items)
    for rank, item in enumerate(items, 1):
        assert item["id"] in titles, item
        assert item["title"].startswith(f"{rank}. {titles[item['id']]} ({item['id']})"), item
        for path in item["paths"]:
            n = len(path["nodes"])
            assert n >= 2 and path["edges"] == n - 1 and len(path["rels"]) == n - 1, path
            assert len(path["labels"]) == n and all(path["labels"]), path
            assert path["labels"][-1] == titles[item["id"]][:28], (item["id"], path)  # ends at the item
            assert path["nodes"][-1] == "Product" and path["width"] > 0, path
    drawn = [p for i in items for p in i["paths"]]
    assert drawn, f"no explanation path drawn: {items}"
    svg = drv.find_element(By.CSS_SELECTOR, "#results .item svg.path")
    assert svg.is_displayed() and svg.size["width"] > 0 and svg.size["height"] > 0
    return items


def _assert_clean_console(drv, allow: tuple[str, ...] = ()):
    severe = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"
              and not any(a in e["message"] for a in allow)]
    assert not severe, f"errors in the browser console: {severe}"
    errors = drv.execute_script("return window.__kgrecErrors || null")
    assert errors == [], f"uncaught errors on the page: {errors}"


def _brand(item: dict) -> str:
    return TOPICS[int(item["id"][1:]) % 4]


def test_query_shows_recommendations_with_path_drawings(page, live):
    _, snap = live
    assert _submit(page, query="a Maybelline matte lipstick", k=5) == "done"
    items = _check_items(page, snap, k=5)
    assert sum(_brand(i) == "Maybelline" for i in items) >= 4, items
    query_paths = [p for i in items for p in i["paths"] if p["signal"] == "query"]
    assert query_paths, items
    assert query_paths[0]["nodes"][0] in ("Brand", "Category"), query_paths[0]
    assert any(p["labels"][0] == "Maybelline" for p in query_paths), query_paths
    assert "5 items" in page.find_element("id", "status").text
    _assert_clean_console(page)


def test_known_user_gets_recommendations_with_paths_from_the_user(page, live):
    _, snap = live
    user = "U002"  # buys topic 2 (Maybelline)
    assert _submit(page, user=user, k=5) == "done"
    items = _check_items(page, snap, k=5)
    assert len(items) == 5 and sum(_brand(i) == "Maybelline" for i in items) >= 4, items
    from_user = [p for i in items for p in i["paths"]
                 if p["nodes"][0] == "User" and p["labels"][0] == user]
    assert from_user, items
    assert all(i["sentences"] for i in items if i["paths"]), items
    _assert_clean_console(page)


def test_short_history_then_a_second_submission_replaces_the_first(page, live):
    _, snap = live
    assert _submit(page, history="P001, P005", k=4) == "done"
    items = _check_items(page, snap, k=4)
    assert sum(_brand(i) == "Bosch" for i in items) >= 3, items
    assert not {"P001", "P005"} & {i["id"] for i in items}, items
    assert _submit(page, query="a Loreal night cream", k=3) == "done"
    items = _check_items(page, snap, k=3)
    assert sum(_brand(i) == "Loreal" for i in items) >= 2, items
    _assert_clean_console(page)


def test_unknown_user_shows_the_error_naming_the_field(page):
    assert _submit(page, user="ghost") == "error"
    error = page.find_element("css selector", "#status .error").text
    assert "ghost" in error and "user_id" in error, error
    assert page.find_elements("css selector", "#results .item") == []
    # the 404 itself is logged by Chromium as a failed resource load; nothing else may be
    _assert_clean_console(page, allow=("/v1/recommendations - Failed to load resource",))

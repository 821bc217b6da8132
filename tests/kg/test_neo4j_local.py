"""The local Neo4j server (kg.neo4j_local): a real Neo4j 5.26 started from Maven Central jars.

One module-scoped server (about 6 s to start), restarted once to check that the password and the
data survive. The launcher is built in the shared cache (~/.cache/kgrec), so only the first run
on a machine pays for the Maven download.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from kg.neo4j_local import server as n4j

pytestmark = [
    pytest.mark.neo4j,
    pytest.mark.skipif(not n4j.java_available(), reason="java 17 + javac + mvn not on PATH"),
]

neo4j = pytest.importorskip("neo4j")


@pytest.fixture(scope="module")
def cache_root() -> Path:
    return n4j.default_cache_root()


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("neo4j-home")


@pytest.fixture(scope="module")
def server(home: Path, cache_root: Path):
    info = n4j.start(home, cache_root=cache_root, timeout=180, quick_start=True)
    try:
        yield info
    finally:
        n4j.stop(home)


def _driver(uri: str, auth: tuple[str, str]):
    return neo4j.GraphDatabase.driver(uri, auth=auth, connection_timeout=10)


def test_status_reports_running_server(server, home):
    assert server.uri == f"bolt://127.0.0.1:{server.bolt_port}"
    assert server.user == "neo4j" and len(server.password) >= 8
    assert server.password not in repr(server)
    st = n4j.status(home)
    assert st is not None
    assert st == server
    state = home / "server.json"
    assert state.stat().st_mode & 0o777 == 0o600
    assert (home / "logs" / "launcher.log").exists()
    assert (home / "logs" / "debug.log").exists()


def test_start_again_reuses_running_server(server, home, cache_root):
    t0 = time.monotonic()
    again = n4j.start(home, cache_root=cache_root)
    assert time.monotonic() - t0 < 2
    assert again == server


def test_busy_port_reported(server, tmp_path, cache_root):
    with pytest.raises(n4j.Neo4jServerError, match="busy"):
        n4j.start(tmp_path / "other", cache_root=cache_root, bolt_port=server.bolt_port)


def test_bolt_with_right_password(server):
    with _driver(server.uri, server.auth) as driver:
        driver.verify_connectivity()
        records, _, _ = driver.execute_query("RETURN 1 + 1 AS two")
        assert records[0]["two"] == 2


def test_wrong_password_rejected(server):
    with _driver(server.uri, (server.user, server.password + "-wrong")) as driver:
        with pytest.raises(neo4j.exceptions.AuthError):
            driver.verify_connectivity()


def test_vector_index_nearest_node(server):
    dims = 64

    def vec(i: int) -> list[float]:
        v = [0.01] * dims
        v[i] = 1.0
        return v

    with _driver(server.uri, server.auth) as driver:
        driver.execute_query(
            "CREATE VECTOR INDEX item_embedding IF NOT EXISTS FOR (n:VecItem) ON n.embedding "
            "OPTIONS {indexConfig: {`vector.dimensions`: $dims, "
            "`vector.similarity_function`: 'cosine'}}",
            dims=dims,
        )
        driver.execute_query(
            "UNWIND range(0, 9) AS i CREATE (:VecItem {id: i, embedding: $vecs[i]})",
            vecs=[vec(i) for i in range(10)],
        )
        driver.execute_query("CALL db.awaitIndexes(60)")
        query = vec(7)
        query[3] = 0.3  # nearest is still 7, then 3
        deadline = time.monotonic() + 30
        while True:  # the vector index is updated asynchronously after commit
            records, _, _ = driver.execute_query(
                "CALL db.index.vector.queryNodes('item_embedding', 2, $q) "
                "YIELD node, score RETURN node.id AS id, score",
                q=query,
            )
            if len(records) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [r["id"] for r in records] == [7, 3]
        assert records[0]["score"] > records[1]["score"]


def test_browser_served(server):
    assert (
        server.http_port and server.browser_url == f"http://127.0.0.1:{server.http_port}/browser/"
    )
    with urllib.request.urlopen(server.browser_url, timeout=10) as resp:
        assert resp.status == 200
        assert "text/html" in resp.headers.get("Content-Type", "")
        assert b"<html" in resp.read().lower()


def test_stop_then_restart_keeps_password_and_data(server, home, cache_root):
    """Runs last in this module: stops the shared server and starts it again."""
    with _driver(server.uri, server.auth) as driver:
        driver.execute_query("CREATE (:Marker {name: 'before-restart'})")

    t0 = time.monotonic()
    assert n4j.stop(home) is True
    assert time.monotonic() - t0 < 10
    assert n4j.status(home) is None
    assert n4j.stop(home) is False  # nothing left to stop

    restarted = n4j.start(home, cache_root=cache_root, timeout=180, quick_start=True)
    try:
        assert restarted.password == server.password
        assert restarted.pid != server.pid
        assert n4j.status(home) == restarted
        with _driver(restarted.uri, restarted.auth) as driver:
            records, _, _ = driver.execute_query(
                "MATCH (m:Marker {name: 'before-restart'}) RETURN count(m) AS n"
            )
            assert records[0]["n"] == 1
        # A given password that differs from the recorded one is refused, not silently ignored.
        with pytest.raises(n4j.Neo4jServerError):
            n4j.start(home, cache_root=cache_root, password="another-password")
    finally:
        assert n4j.stop(home) is True
    assert n4j.status(home) is None

"""The `kgrec` command line: load/stats/synth/neo4j wiring, messages and exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from service.cli import main
from tests.conftest import TOY_COUNTS, TOY_PRODUCTS, write_dataset


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("KGREC_HOME", str(tmp_path / "home"))
    for var in ("NEO4J_URI", "KGREC_STORE", "KGREC_STORE_PATH"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


def test_load_then_stats_just_work_with_the_default_store(run, toy_dir):
    result = run("load", toy_dir)
    assert result.exit_code == 0, result.output
    assert "products: 5" in result.stdout and "interactions: 5 from 3 users" in result.stdout
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["store"] == "embedded"
    assert {k: stats[k] for k in ("nodes", "relationships")} == TOY_COUNTS
    run("load", toy_dir)
    assert json.loads(run("stats", "--json").stdout)["nodes"] == TOY_COUNTS["nodes"]


def test_stats_table_and_sample(run, toy_dir):
    run("load", toy_dir)
    out = run("stats", "--sample", "2").stdout
    assert "Product" in out and "INTERACTED" in out and "sample products:" in out
    assert "sample explanation paths from user" in out and "-[MADE_BY]->" in out


def test_bad_file_exits_1_naming_file_and_line_and_keeps_earlier_batches(run, tmp_path):
    products = [dict(p) for p in TOY_PRODUCTS]
    products[3]["price"] = "expensive"
    folder = write_dataset(tmp_path / "bad", products, [])
    result = run("load", "--batch-size", "2", folder)
    assert result.exit_code == 1
    assert f"{folder / 'products.jsonl'}:4: field 'price': expected a number" in result.stderr
    nodes = json.loads(run("stats", "--json").stdout)["nodes"]
    assert nodes["Product"] == 2  # lines 1-2 committed; line 3 shared the failing batch


def test_skip_mode_reports_rows_and_exits_1(run, tmp_path):
    folder = write_dataset(tmp_path / "skip", [*TOY_PRODUCTS, "not json"], [])
    result = run("load", "--on-error", "skip", folder)
    assert result.exit_code == 1
    assert "skipped 1 bad rows" in result.stdout and "products.jsonl:6" in result.stdout
    assert json.loads(run("stats", "--json").stdout)["nodes"]["Product"] == 5


def test_missing_folder_and_unknown_store_are_usage_errors(run, tmp_path):
    assert run("load", tmp_path / "nope").exit_code == 2
    assert run("stats", "--store", "sqlite").exit_code == 2


def test_neo4j_store_without_server_says_how_to_start_one(run):
    result = run("stats", "--store", "neo4j")
    assert result.exit_code == 1 and "kgrec neo4j start" in result.stderr


def test_neo4j_status_when_not_running(run):
    result = run("neo4j", "status", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout) == {"running": False}


def test_every_command_has_help(run):
    for command in (["--help"], ["load", "--help"], ["stats", "-h"], ["synth", "--help"], ["neo4j", "start", "--help"]):
        result = run(*command)
        assert result.exit_code == 0 and "Usage:" in result.stdout


def test_evaluate_help_names_every_method(run):
    from gnn.eval.baselines import BASELINES

    text = " ".join(run("evaluate", "--help").stdout.split())  # click wraps the list
    listed = text.split("(default: all):")[1].split("(kgrec:")[0]
    assert [n.strip().replace(" ", "") for n in listed.split(",")] == list(BASELINES)


def test_synth_then_load(run, tmp_path):
    out = tmp_path / "synth"
    assert run("synth", "--products", "300", "--seed", "3", out).exit_code == 0
    result = run("load", out)
    assert result.exit_code == 0, result.output
    nodes = json.loads(run("stats", "--json").stdout)["nodes"]
    assert nodes["Product"] == 300 and nodes["Brand"] > 1 and nodes["User"] > 1


@pytest.mark.neo4j
def test_load_and_stats_on_neo4j(run, toy_dir, neo4j_store, neo4j_credentials):
    uri, user, password = neo4j_credentials
    env = {"NEO4J_URI": uri, "NEO4J_USER": user, "NEO4J_PASSWORD": password}
    assert run("load", "--store", "neo4j", toy_dir, env=env).exit_code == 0
    stats = json.loads(run("stats", "--store", "neo4j", "--json", env=env).stdout)
    assert stats["store"] == "neo4j" and {k: stats[k] for k in ("nodes", "relationships")} == TOY_COUNTS
    wrong = run("stats", "--store", "neo4j", env={**env, "NEO4J_PASSWORD": "wrong"})
    assert wrong.exit_code == 1 and "rejected" in wrong.stderr


def test_encode_uses_the_cache_on_the_second_run(run, toy_dir):
    first = run("encode", toy_dir)
    assert first.exit_code == 0, first.output
    # 5 products + 2 brands + 5 categories + 3 attributes have text; the 3 users do not.
    assert "15 texts" in first.stdout and "0 cache hits, 15 encoded" in first.stdout
    second = run("encode", toy_dir)
    assert "15 cache hits, 0 encoded" in second.stdout


def test_encode_with_a_wrong_model_path_names_it(run, toy_dir, tmp_path):
    result = run("encode", "--model", tmp_path / "no-such-model", toy_dir)
    assert result.exit_code == 1 and str(tmp_path / "no-such-model") in result.stderr


@pytest.mark.neo4j
def test_neo4j_start_status_stop(run, tmp_path):
    from kg.neo4j_local import server

    if not server.java_available():
        pytest.skip("java/mvn not available")
    started = run("neo4j", "start", "--no-browser")
    try:
        assert started.exit_code == 0, started.output
        assert "Neo4j running" in started.stdout and "bolt://127.0.0.1:" in started.stdout
        status = json.loads(run("neo4j", "status", "--json").stdout)
        assert status["running"] is True and status["uri"].startswith("bolt://127.0.0.1:")
        # With no NEO4J_URI, the neo4j store finds the local server through its server.json.
        assert run("load", "--store", "neo4j", "--quiet", tmp_path / "missing").exit_code == 2
        stats = run("stats", "--store", "neo4j", "--json")
        assert stats.exit_code == 0 and json.loads(stats.stdout)["store"] == "neo4j"
    finally:
        stopped = run("neo4j", "stop")
    assert stopped.exit_code == 0 and "Neo4j stopped" in stopped.stdout
    assert run("neo4j", "status").exit_code == 1

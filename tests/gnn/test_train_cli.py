"""`kgrec train`: metrics printed and stored, a loadable bundle made current, clear errors."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from gnn.bundle import load_bundle
from service.cli import main
from tests.conftest import write_dataset
from tests.gnn.test_evaluate_cli import tiny_folder


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("KGREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("KGREC_DEVICE", "cpu")
    threads = torch.get_num_threads()

    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    yield invoke
    torch.set_num_threads(threads)


def test_train_from_the_store_writes_a_current_bundle(run, tmp_path):
    folder = tiny_folder(tmp_path / "tiny")
    assert run("load", folder).exit_code == 0
    result = run("train", "--max-epochs", "3", "--threads", "1")
    assert result.exit_code == 0, result.output
    assert "best epoch" in result.stdout and "kgrec  test" in result.stdout
    b = load_bundle(tmp_path / "home" / "bundles")
    assert str(b.path) in result.stdout
    m = b.manifest["metrics"]
    assert set(m["kgrec"]["test"]) == {"overall", "cold", "warm"} and 1 <= m["best_epoch"] <= 3
    assert m["rgcn"]["test"]["cold"]["recall"] is not None
    ranker = b.manifest["ranker"]
    assert set(ranker["parts"]) == {"neighbours", "text-bridge", "text"}
    assert set(ranker["blend"]) == {"warm", "cold", "offset"}
    assert m["split"]["test_cold_items"] > 0 and b.manifest["text_model"].startswith("all-MiniLM")
    assert b.manifest["train_config"]["max_epochs"] == 3
    assert len(b.manifest["train_config"]["history"]) >= 1
    assert b.product_emb.shape == (40, b.manifest["model_config"]["out"])
    assert b.user_emb.shape[0] == 30


def test_train_json_on_a_folder_and_a_second_run_makes_a_new_version(run, tmp_path):
    folder = tiny_folder(tmp_path / "tiny")
    first = json.loads(run("train", folder, "--max-epochs", "2", "--json").stdout)
    second = json.loads(run("train", folder, "--max-epochs", "2", "--json", "--seed", "1").stdout)
    assert first["bundle"] != second["bundle"]
    assert load_bundle(tmp_path / "home" / "bundles").path.name == second["bundle"].split("/")[-1]
    assert first["kgrec"]["test"]["overall"]["recall"] is not None and first["split"]["seed"] == 0


def test_train_without_interactions_says_so(run, tmp_path):
    folder = write_dataset(tmp_path / "empty", [{"id": "p1", "title": "a thing"}], [])
    result = run("train", folder)
    assert result.exit_code == 1 and "no interactions" in result.output

"""`kgrec evaluate` on a tiny folder: JSON with every method's figures, the table, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gnn.eval.baselines import BASELINES
from service.cli.evaluate_cmd import evaluate
from service.config import load_config
from tests.conftest import write_dataset

TOPICS = [
    ("DeWalt", ["Tools", "Power Tools", "Drills"], "cordless drill driver",
     "battery drill for wood and metal"),
    ("Maybelline", ["Beauty", "Makeup", "Lips"], "matte lipstick",
     "long lasting lip colour in a bold shade"),
]


def tiny_folder(folder):
    """40 products in two topics, 30 users who each touch 7 products of one topic."""
    rng = np.random.default_rng(0)
    products = []
    for i in range(40):
        brand, categories, title, desc = TOPICS[i % 2]
        products.append({"id": f"P{i:03d}", "title": f"{brand} {title} model {i}",
                         "description": desc, "brand": brand, "category_path": categories})
    rows = []
    for u in range(30):
        topic = u % 2
        items = rng.choice(np.arange(topic, 40, 2), size=7, replace=False)
        for day, i in enumerate(items):
            ts = f"2020-01-{day + 1:02d}T00:00:00Z"
            rows.append((f"U{u:02d}", f"P{i:03d}", ts, str(rng.integers(1, 6))))
    return write_dataset(folder, products, rows)


@pytest.fixture
def invoke(tmp_path, monkeypatch):
    monkeypatch.setenv("KGREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("KGREC_DEVICE", "cpu")
    threads = torch.get_num_threads()  # --threads sets a process-wide value: restore it

    def run(*args):
        return CliRunner().invoke(evaluate, [str(a) for a in args], obj=load_config(),
                                  catch_exceptions=False)

    yield run
    torch.set_num_threads(threads)


def test_json_has_every_method_and_setting(invoke, tmp_path):
    folder = tiny_folder(tmp_path / "tiny")
    result = invoke(folder, "--json", "--seed", "1", "--export-split", tmp_path / "split",
                    "--threads", "1", "--k", "2")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["k"] == 2 and out["split"]["seed"] == 1
    assert out["split"]["test_cold_items"] + out["split"]["val_cold_items"] == 8
    assert set(out["methods"]) == set(BASELINES)
    for name, figures in out["methods"].items():
        for setting in ("overall", "cold", "warm"):
            assert set(figures[setting]) == {"recall", "ndcg", "users", "coverage", "novelty"}
        assert 0.0 <= figures["overall"]["recall"] <= 1.0, name
        assert figures["overall"]["users"] > 0
        assert isinstance(figures["fit_seconds"], float) and isinstance(figures["params"], dict)
    # text knows the two topics, so the text-based methods find the cold items
    methods = out["methods"]
    assert methods["text-knn"]["cold"]["recall"] > methods["popularity"]["cold"]["recall"]
    assert (tmp_path / "split" / "README.txt").exists()
    assert json.loads((tmp_path / "split" / "split.json").read_text())["seed"] == 1


def test_table_lists_the_chosen_methods(invoke, tmp_path):
    folder = tiny_folder(tmp_path / "tiny")
    result = invoke(folder, "--methods", "popularity,text-knn", "--k", "5")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("| method | overall R@5") for line in lines)
    assert sum(line.startswith(("| popularity", "| text-knn")) for line in lines) == 2
    assert "split (seed 0)" in result.stdout


def test_unknown_method_is_a_usage_error(invoke, tmp_path):
    result = invoke(tiny_folder(tmp_path / "tiny"), "--methods", "popularity,magic")
    assert result.exit_code == 2 and "magic" in result.output


def test_folder_without_interactions_fails_with_exit_1(invoke, tmp_path):
    folder = write_dataset(tmp_path / "empty", [{"id": "p1", "title": "a thing"}], [])
    result = invoke(folder, "--json")
    assert result.exit_code == 1 and "no interactions" in result.output

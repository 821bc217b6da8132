"""The query `make demo` asks (scripts/demo_ask.py) comes from the catalogue, categories or not."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "demo_ask.py"
_spec = importlib.util.spec_from_file_location("demo_ask", _PATH)
demo_ask = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo_ask)


def _products(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir()
    (folder / "products.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_query_names_the_first_leaf_category(tmp_path):
    folder = _products(tmp_path / "c", [
        {"id": "A", "title": "no category"},
        {"id": "B", "title": "t", "category_path": ["Tools", "Staple Guns"]},
    ])
    assert demo_ask._sample_query(folder) == "I need staple guns"


def test_text_only_catalogue_uses_the_first_title(tmp_path):
    folder = _products(tmp_path / "t", [
        {"id": "A", "title": "Crabtree &amp; Evelyn - Hand Cream 100 ml"},
        {"id": "B", "title": "Other"},
    ])
    assert demo_ask._sample_query(folder) == "I need Crabtree Evelyn Hand Cream"

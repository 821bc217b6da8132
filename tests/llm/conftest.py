"""Shared fixtures of the llm tests: the data set's product fields and one encoder per session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

DATA_SET = "amazon-industrial-scientific"


def data_root() -> Path:
    """`KGREC_DATA_ROOT` when set, else shared/data beside the repository (here and in CI)."""
    override = os.environ.get("KGREC_DATA_ROOT")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def product_fields_from(path: Path) -> list[dict]:
    """The fields dicts `llm.texts.product_text` reads, one per line of a products.jsonl."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            rows.append(
                {
                    "title": row.get("title", ""),
                    "description": row.get("description", ""),
                    "brand": row.get("brand"),
                    "category_path": row.get("category_path", []),
                    "attributes": row.get("attributes", {}),
                    "price": row.get("price"),
                }
            )
    return rows


@pytest.fixture(scope="session")
def product_fields() -> list[dict]:
    """All products of the shared Industrial & Scientific data set as fields dicts."""
    path = data_root() / DATA_SET / "products.jsonl"
    if not path.is_file():
        pytest.skip(f"data set not found: {path} (set KGREC_DATA_ROOT to the data folder)")
    return product_fields_from(path)



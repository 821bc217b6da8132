"""Tests for the query builder and source draw of benchmarks/query_bench.py (pure functions)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "query_bench.py"
_spec = importlib.util.spec_from_file_location("query_bench", _PATH)
qb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qb)

STAPLES = {"title": "Stanley TRA708T Sharpshooter 1/2-Inch Leg Length Staples", "brand": "Stanley",
           "category_path": ["Industrial & Scientific", "Fasteners", "Staples"]}


def test_query_from_leaf_category_and_brand():
    assert qb.build_query(STAPLES) == "I need Staples from Stanley"
    assert qb.build_query(STAPLES, "keywords") == "Stanley Staples"


def test_query_with_one_of_brand_and_category():
    assert qb.build_query({**STAPLES, "brand": None}) == "I need Staples"
    assert qb.build_query({**STAPLES, "category_path": []}) == "I need something from Stanley"
    assert qb.build_query({**STAPLES, "brand": "  "}, "keywords") == "Staples"
    assert qb.leaf_category("A > B > ") == "B"


def test_text_only_product_needs_the_title_fallback():
    text_only = {"title": "Crabtree & Evelyn - Gardener's Ultra-Moisturising Hand Therapy"}
    assert qb.build_query(text_only) is None
    assert qb.build_query(text_only, fallback="title") == "I need Crabtree & Evelyn - Gardener's"
    assert qb.build_query({}, fallback="title") is None
    with pytest.raises(ValueError):
        qb.build_query(STAPLES, "poem")


def test_bm25_document_has_every_field_lower_case():
    doc = qb.product_document({**STAPLES, "description": "Heavy-duty staples, Café use."})
    assert doc[:3] == ["stanley", "tra708t", "sharpshooter"]
    assert {"heavy", "duty", "cafe", "fasteners", "industrial", "scientific"} <= set(doc)
    assert qb.bm25_tokens("I need Staples from 3M!") == ["i", "need", "staples", "from", "3m"]


def test_sources_are_eligible_test_items_drawn_by_seed():
    users = np.array([0, 0, 1, 1, 2, 3, 3, 3])
    items = np.array([5, 6, 5, 7, 7, 5, 6, 8])
    eligible = np.zeros(10, dtype=bool)
    eligible[[5, 6, 8]] = True
    picked, rows, skipped = qb.pick_sources(users, items, eligible, seed=0, max_users=None)
    assert picked.tolist() == [0, 1, 3] and skipped == 1  # user 2 has only item 7
    assert (users[rows] == picked).all() and eligible[items[rows]].all()
    again = qb.pick_sources(users, items, eligible, seed=0, max_users=None)
    assert np.array_equal(rows, again[1])
    few, few_rows, _ = qb.pick_sources(users, items, eligible, seed=1, max_users=2)
    assert len(few) == 2 and set(few) <= {0, 1, 3} and (users[few_rows] == few).all()


def test_untie_keeps_the_order_and_breaks_ties_by_the_keys():
    scores = np.array([[0.5, 2.0, 0.5, -1.0], [1.0, 1.0, 1.0, 1.0]])
    keys = np.array([[0.9, 0.0, 0.1, 0.5], [0.3, 0.2, 0.1, 0.0]])
    ranked = qb.untie(scores, keys)
    assert ranked.tolist() == [[2.0, 3.0, 1.0, 0.0], [3.0, 2.0, 1.0, 0.0]]


def test_cell_sizes_count_products_with_the_same_brand_and_leaf():
    other_staples = {**STAPLES, "title": "Stanley staples, 5000"}
    tape = {**STAPLES, "category_path": ["Industrial & Scientific", "Tape"]}
    assert qb.cell_sizes([STAPLES, other_staples, tape], [0, 2]).tolist() == [2, 1]

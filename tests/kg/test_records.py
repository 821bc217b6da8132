"""Validation of source rows: every bad row is named by file, line and field (kg.records)."""

from __future__ import annotations

import pytest

from kg.errors import InvalidInputError
from kg.records import check_interaction_header, parse_interaction, parse_product, parse_timestamp

COLS = {"user_id": 0, "item_id": 1, "timestamp": 2, "rating": 3, "kind": 4}


@pytest.mark.parametrize(
    "text, field, words",
    [
        ('{"id": "a", "title": "x"', None, "not valid JSON"),
        ('["a"]', None, "JSON object"),
        ('{"title": "x"}', "id", "missing"),
        ('{"id": "  ", "title": "x"}', "id", "empty"),
        ('{"id": "a"}', "title", "missing"),
        ('{"id": 7, "title": "x"}', "id", "expected a string"),
        ('{"id": "a", "title": "x", "price": "cheap"}', "price", "expected a number"),
        ('{"id": "a", "title": "x", "price": -1}', "price", "negative"),
        ('{"id": "a", "title": "x", "category_path": "A > B"}', "category_path", "list of strings"),
        ('{"id": "a", "title": "x", "attributes": {"size": [1]}}', "attributes.size", "string or number"),
        ('{"id": "a", "title": "x", "related": {"also_liked": ["b"]}}', "related.also_liked", "unknown relation"),
        ('{"id": "a", "title": "x", "related": {"also_bought": "b"}}', "related.also_bought", "list"),
    ],
)
def test_bad_product_rows(text, field, words):
    with pytest.raises(InvalidInputError) as info:
        parse_product("data/products.jsonl", 12, text)
    err = info.value
    assert (err.path, err.line, err.field) == ("data/products.jsonl", 12, field)
    assert words in str(err) and str(err).startswith("data/products.jsonl:12:")


def test_good_product_row_with_every_field():
    rec = parse_product("p.jsonl", 1, '{"id": " a1 ", "title": "", "brand": "B", "price": 3, "attributes": '
                        '{"size": 2, "none": null}, "related": {"also_bought": ["b", " "]}}')
    assert (rec.id, rec.title, rec.price, rec.attributes, rec.related) == (
        "a1", "", 3.0, {"size": 2}, {"also_bought": ["b"]})


@pytest.mark.parametrize(
    "cells, field",
    [
        (["", "p", "2020-01-01T00:00:00Z", "5", ""], "user_id"),
        (["u", "", "2020-01-01T00:00:00Z", "5", ""], "item_id"),
        (["u", "p", "01/02/2020", "5", ""], "timestamp"),
        (["u", "p", "2020-01-01T00:00:00Z", "five", ""], "rating"),
        (["u", "p", "2020-01-01T00:00:00Z", "0", ""], "rating"),
        (["u", "p", "2020-01-01T00:00:00Z", "5", "like"], "kind"),
    ],
)
def test_bad_interaction_rows(cells, field):
    with pytest.raises(InvalidInputError) as info:
        parse_interaction("i.csv", 3, cells, COLS)
    assert (info.value.line, info.value.field) == (3, field)


def test_interaction_defaults_and_timestamps():
    rec = parse_interaction("i.csv", 2, ["u", "p", "2020-01-01T02:00:00+02:00", "", ""], COLS)
    assert (rec.ts, rec.rating, rec.kind) == ("2020-01-01T00:00:00Z", None, "view")
    assert parse_interaction("i.csv", 2, ["u", "p", "2020-01-01", "4", ""], COLS).kind == "rating"
    assert parse_timestamp("2018-09-28T00:00:00Z") == "2018-09-28T00:00:00Z"


def test_header_must_name_the_columns():
    with pytest.raises(InvalidInputError) as info:
        check_interaction_header("i.csv", ["user", "item_id", "timestamp", "rating"])
    assert info.value.line == 1 and info.value.field == "user_id"
    assert check_interaction_header("i.csv", ["user_id", "item_id", "timestamp", "rating", "kind"])["kind"] == 4

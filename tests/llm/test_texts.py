"""Tests of llm.texts: the text each node type gives the language model."""

from __future__ import annotations

import pytest

from llm.errors import InvalidInputError
from llm.texts import (
    CATEGORY_SEGMENT_CHARS,
    MAX_CATEGORY_DEPTH,
    DESCRIPTION_CHARS,
    MAX_ATTRIBUTES,
    TEXT_VERSION,
    clean,
    node_text,
    product_text,
    truncate,
)

PRODUCT = {
    "title": "Stanley TRA708T Sharpshooter 1/2-Inch Staples",
    "description": "<p>Heavy-duty staples for <b>insulation</b> &amp; roofing felt.</p><br/>",
    "brand": "Stanley",
    "category_path": ["Industrial &amp; Scientific", "Fasteners", "Staples"],
    "attributes": {"material": "steel", "count": 1000},
    "price": 7.99,
}


def test_product_text_has_every_piece_in_order():
    text = product_text(PRODUCT)
    assert text == (
        "Stanley TRA708T Sharpshooter 1/2-Inch Staples. Brand: Stanley. "
        "Category: Industrial & Scientific > Fasteners > Staples. count: 1000; material: steel. "
        "Heavy-duty staples for insulation & roofing felt."
    )
    assert "7.99" not in text  # price is left out on purpose


def test_html_tags_scripts_comments_and_entities_are_stripped():
    raw = (
        '<table width="668"><tr><td>Serum</td></tr></table><style>p {color: red}</style>'
        "<!-- Begin A+ Content -->Caf&eacute; &ndash; rich<br />&amp; light<script>x()</script>"
    )
    assert clean(raw) == "Serum Café – rich & light"


def test_less_than_signs_that_are_not_tags_survive():
    assert clean("for < 1.50mm and <95% humidity") == "for < 1.50mm and <95% humidity"
    assert clean("FEATURES: <> Zero setting") == "FEATURES: <> Zero setting"


def test_missing_and_empty_product_fields_are_allowed():
    assert product_text({"title": "Gaffer tape"}) == "Gaffer tape"
    text = product_text(
        {"title": "", "description": None, "brand": None, "category_path": [], "attributes": {}}
    )
    assert text is None
    assert product_text({"brand": "Hosa"}) == "Brand: Hosa"


def test_description_is_truncated_at_a_word_boundary():
    text = product_text({"title": "T", "description": "word " * 500})
    description = text.split(". ", 1)[1]
    assert len(description) <= DESCRIPTION_CHARS
    assert description.endswith("word")
    assert truncate("abcdef ghi", 8) == "abcdef"
    assert truncate("short", 8) == "short"


def test_attributes_are_sorted_limited_and_keys_become_words():
    attributes = {f"key_{i:02d}": f"v{i}" for i in range(20, 0, -1)}
    text = product_text({"title": "T", "attributes": attributes})
    assert text.count(": v") == MAX_ATTRIBUTES
    assert "key 01: v1; key 02: v2" in text
    assert product_text({"title": "T", "attributes": dict(reversed(attributes.items()))}) == text


def test_junk_category_segments_are_capped():
    path = ["Root", "Tools", "Discs"] + ["a very long bullet point copied into the path " * 3] * 9
    text = product_text({"title": "T", "category_path": path})
    category = text.split(". ", 1)[1]
    assert category.count(" > ") == MAX_CATEGORY_DEPTH - 1
    assert max(len(s) for s in category.split(" > ")) <= len("Category: ") + CATEGORY_SEGMENT_CHARS


def test_other_node_types():
    assert node_text("Brand", {"name": " Sealed Unit Parts Co., Inc. "}) == (
        "Brand: Sealed Unit Parts Co., Inc."
    )
    assert node_text("Category", {"name": "Staples", "path": ["Fasteners", "Staples"]}) == (
        "Category: Fasteners > Staples"
    )
    assert node_text("Category", {"name": "Staples", "path": ["Fasteners"]}) == (
        "Category: Fasteners > Staples"
    )
    assert node_text("Category", {"name": "Tools"}) == "Category: Tools"
    assert node_text("Attribute", {"key": "price_band", "value": "10-20"}) == "price band: 10-20"
    assert node_text("Attribute", {"key": "weight", "value": 2.5}) == "weight: 2.5"
    assert node_text("User", {"id": "A2X"}) is None


def test_empty_nodes_have_no_text():
    assert node_text("Brand", {}) is None
    assert node_text("Category", {"name": "", "path": []}) is None
    assert node_text("Attribute", {"key": "colour", "value": ""}) is None


def test_product_dispatch_and_unknown_label():
    assert node_text("Product", PRODUCT) == product_text(PRODUCT)
    with pytest.raises(InvalidInputError, match="Shop"):
        node_text("Shop", {})


def test_text_version_is_a_string():
    assert isinstance(TEXT_VERSION, str) and TEXT_VERSION


def test_real_products_give_short_texts(product_fields):
    texts = [product_text(f) for f in product_fields]
    assert sum(t is None for t in texts) == 0
    assert max(len(t) for t in texts) < 800
    assert not any("<br" in t or "&amp;" in t for t in texts)

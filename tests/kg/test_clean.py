"""Cleaning rules for real catalogue text (kg.clean)."""

from __future__ import annotations

import pytest

from kg.clean import (
    attribute_key,
    attribute_value,
    brand_key,
    clean_category_path,
    clean_text,
    is_junk_segment,
    price_band,
)


def test_clean_text_unescapes_and_strips_tags():
    assert clean_text("Crabtree &amp; Evelyn - Hand  Therapy") == "Crabtree & Evelyn - Hand Therapy"
    assert clean_text("<p>Strong<br/>glue</p> &amp;amp; more") == "Strong glue & more"
    assert clean_text("  plain text \n") == "plain text"


@pytest.mark.parametrize(
    "variants",
    [
        ["Black & Decker", "BLACK+DECKER", "black and decker", "Black-&-Decker"],
        ["Wago", "Wago Corp.", "Wago Corporation", "WAGO"],
        ["Sealed Unit Parts Co., Inc.", "Sealed Unit Parts"],
        ["L'Oréal", "L'Oreal", "LOREAL"],
    ],
)
def test_brand_spellings_share_one_key(variants):
    assert len({brand_key(v) for v in variants}) == 1


def test_brand_placeholders_are_missing_and_distinct_brands_stay_apart():
    assert [brand_key(b) for b in ("", "Unknown", "N/A", "Generic", "  ")] == [None] * 5
    assert brand_key("Stanley") != brand_key("Stanley Black")
    assert brand_key("Co") == "co"  # a suffix alone is a name, not a suffix


@pytest.mark.parametrize(
    "segment, junk",
    [
        ("1 pack", True),
        ("4-1/2 in x 7/8", True),
        ("40+ x NH  & Type 27", True),
        ("5 x 5/8-11 INT", True),
        ("Flaps grind and blend in a single step on low to medium-high pressure", True),
        ("!!!", True),
        ("3D Printers", False),
        ("Tapes, Adhesives & Sealants", False),
        ("Staple Guns", False),
    ],
)
def test_junk_segments(segment, junk):
    assert is_junk_segment(segment) is junk


def test_category_path_is_cut_at_first_junk_segment():
    path = ["Industrial &amp; Scientific", "Abrasives", "Flap Discs", "40+ x NH &amp; Type 27", "Grinding Wheels"]
    assert clean_category_path(path) == (["Industrial & Scientific", "Abrasives", "Flap Discs"], 2)
    assert clean_category_path([]) == ([], 0)


@pytest.mark.parametrize(
    "price, band", [(0.5, "0-1"), (1, "1-2"), (4.99, "2-5"), (5, "5-10"), (12.5, "10-20"), (20, "20-50"),
                    (999, "500-1000"), (1000, "1000-2000")]
)
def test_price_bands(price, band):
    assert price_band(price) == band


def test_attribute_normalisation():
    assert attribute_key("Item Weight") == "item_weight"
    assert attribute_value(12.0) == "12" and attribute_value(2.5) == "2.5" and attribute_value(True) == "true"
    assert attribute_value("Stainless &amp; Steel") == "Stainless & Steel"

"""Cleaning of real catalogue text: HTML, brand spellings, junk category segments, price bands.

All rules here are generic (no data-set specific names or ids): they target mess that real shop
exports share — HTML entities and tags, brands spelled with different case and punctuation, and
category paths whose tail was filled from bullet points.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from functools import lru_cache

from kg.schema import CATEGORY_SEPARATOR

_TAG = re.compile(r"<[^>]{0,2000}>")


def clean_text(value: str) -> str:
    """Unescape HTML entities (twice: shops double-escape), drop tags, collapse whitespace."""
    text = value
    if "&" in text:
        text = html.unescape(html.unescape(text))
    if "<" in text:
        text = _TAG.sub(" ", text)
    return " ".join(text.split())


def is_dirty(value: str) -> bool:
    """True when ``clean_text`` would change more than surrounding whitespace (for reports)."""
    return "&" in value and ";" in value or bool(_TAG.search(value))


# --- brands -------------------------------------------------------------------------------------

_MISSING_BRANDS = frozenset(
    {"", "na", "n a", "none", "null", "unknown", "no brand", "unbranded", "generic", "not applicable"}
)
_CORPORATE_SUFFIXES = frozenset(
    {"inc", "co", "corp", "corporation", "company", "ltd", "llc", "limited", "gmbh", "plc", "sa", "ag"}
)


def _ascii_fold(value: str) -> str:
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")


@lru_cache(maxsize=65536)
def brand_key(raw: str) -> str | None:
    """Normalised brand key, or None for placeholders such as "Unknown" or "N/A".

    Case, accents, spacing and punctuation variants map to one key ("BLACK+DECKER",
    "Black & Decker" -> "blackanddecker"); trailing corporate suffixes are dropped
    ("Sealed Unit Parts Co., Inc." -> "sealedunitparts").
    """
    text = _ascii_fold(clean_text(raw)).lower().replace("&", " and ").replace("+", " and ")
    words = re.findall(r"[a-z0-9]+", text)
    if " ".join(words) in _MISSING_BRANDS:
        return None
    while len(words) > 1 and words[-1] in _CORPORATE_SUFFIXES:
        words.pop()
    key = "".join(words)
    return key or None


# --- categories ---------------------------------------------------------------------------------

# A segment is junk when it reads like a quantity or a measurement ("1 pack", "4-1/2 in x 7/8",
# "40+ x NH"), like a sentence (a bullet point copied into the path), or has no letters at all.
_MEASURE = re.compile(
    r"\d\s*(?:x|/)\s*\d|\d\s*\+|\b\d+\s*(?:pack|pk|pcs|pieces|count|ct)\b|\bx\s*\d", re.IGNORECASE
)
MAX_SEGMENT_WORDS = 8
MAX_SEGMENT_CHARS = 60


def is_junk_segment(segment: str) -> bool:
    """True for a category path segment that is not a category name (see module docstring)."""
    if not re.search(r"[^\W\d_]", segment):
        return True
    if len(segment) > MAX_SEGMENT_CHARS or len(segment.split()) > MAX_SEGMENT_WORDS:
        return True
    return bool(_MEASURE.search(segment))


def clean_category_path(path: list[str]) -> tuple[list[str], int]:
    """Clean each segment and cut the path at its first junk segment.

    Returns the cleaned path (root to leaf) and the number of segments dropped. Everything after a
    junk segment goes too: a tail copied from bullet points is never a real sub-category.
    """
    cleaned, dropped = _clean_path(tuple(path))
    return list(cleaned), dropped


@lru_cache(maxsize=65536)  # catalogues repeat a few thousand paths over many products
def _clean_path(path: tuple[str, ...]) -> tuple[tuple[str, ...], int]:
    cleaned: list[str] = []
    for i, raw in enumerate(path):
        segment = clean_text(raw)
        if not segment:
            continue
        if is_junk_segment(segment):
            return tuple(cleaned), len(path) - i
        cleaned.append(segment)
    return tuple(cleaned), 0


def category_id(path: list[str]) -> str:
    """The Category node id of a (cleaned) path."""
    return CATEGORY_SEPARATOR.join(path)


# --- attributes ---------------------------------------------------------------------------------

_BAND_EDGES = (1, 2, 5)  # 1-2-5 series: 0-1, 1-2, 2-5, 5-10, 10-20, ...


@lru_cache(maxsize=4096)
def price_band(price: float) -> str:
    """A coarse, catalogue-independent price band on the 1-2-5 series, e.g. 12.5 -> "10-20"."""
    if price < 1:
        return "0-1"
    decade = 10 ** math.floor(math.log10(price))
    for lo, hi in zip(_BAND_EDGES, _BAND_EDGES[1:] + (10,)):
        if price < hi * decade:
            return f"{_fmt(lo * decade)}-{_fmt(hi * decade)}"
    return f"{_fmt(10 * decade)}-{_fmt(20 * decade)}"  # unreachable guard for float edge cases


def _fmt(value: float) -> str:
    return str(int(value)) if value >= 1 else f"{value:g}"


@lru_cache(maxsize=65536)
def attribute_key(key: str) -> str:
    """Attribute keys in snake case: "Item Weight" -> "item_weight"."""
    return "_".join(re.findall(r"[a-z0-9]+", _ascii_fold(clean_text(key)).lower()))


def attribute_value(value: str | int | float) -> str:
    """Attribute values as clean strings; whole floats lose their ".0"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _clean_value(str(value))


_clean_value = lru_cache(maxsize=65536)(clean_text)

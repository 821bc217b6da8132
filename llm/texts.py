"""Node fields → the short text the language model reads, one function per node type."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any

from llm.errors import InvalidInputError

#: Version of the text functions below. It is part of every cache key, so bump it whenever any
#: function's output changes (wording, order, limits); old cached vectors are then ignored.
TEXT_VERSION = "1"

#: Characters of the description kept. The description goes last, so the tokenizer's own
#: truncation (max_length tokens) cuts it first; this limit keeps texts short for speed.
DESCRIPTION_CHARS = 300
#: Attributes kept per product (sorted by key, so the text does not depend on dict order).
MAX_ATTRIBUTES = 8
#: Characters kept of one attribute value, and of a title.
ATTRIBUTE_VALUE_CHARS = 60
TITLE_CHARS = 200
#: Category segments kept (root first) and characters per segment: real paths sometimes end in
#: junk segments copied from bullet points, whole sentences long.
MAX_CATEGORY_DEPTH = 6
CATEGORY_SEGMENT_CHARS = 60

_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# A tag starts with a letter (or /letter): "< 1.50mm" and "<95%" in real descriptions are kept.
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_SPACE = re.compile(r"\s+")


def clean(value: Any) -> str:
    """Returns `value` as one line of plain text: HTML removed, entities decoded, spaces collapsed.

    Args:
        value: A string (may hold HTML tags and entities such as ``&amp;``), a number or None.

    Returns:
        The cleaned text; ``""`` for None.
    """
    if value is None:
        return ""
    text = str(value)
    if "<" in text:
        text = _COMMENT.sub(" ", _SCRIPT_STYLE.sub(" ", text))
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return _SPACE.sub(" ", text).strip()


def truncate(text: str, limit: int) -> str:
    """Cuts `text` to at most `limit` characters, at a word boundary when one is near the end."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = head.rfind(" ")
    if cut > limit * 0.6:
        head = head[:cut]
    return head.rstrip(" ,;:-")


def product_text(fields: Mapping[str, Any]) -> str | None:
    """Text of a Product node: ``title. Brand: b. Category: A > B > C. k: v; k: v. description``.

    Why each piece is there:
    - title: the most specific words about the product; first, so truncation never cuts it.
    - brand: buyers search and stay loyal by brand; also ties the vector to the Brand node's.
    - category path (root → leaf, joined by " > "; MAX_CATEGORY_DEPTH segments of at most
      CATEGORY_SEGMENT_CHARS): places the product in the catalogue's taxonomy even when the
      title is terse ("SPP6 kit").
    - key attributes (at most MAX_ATTRIBUTES, sorted by key): material, size, colour …
    - head of the description (HTML stripped, DESCRIPTION_CHARS): use and features; last, so
      the tokenizer's truncation at max_length tokens removes it first.
    Price is left out on purpose: a language model reads numbers poorly, the graph carries
    price as a `price_band` Attribute node, and a price change must not force a re-encode.

    Args:
        fields: ``{"title", "description", "brand", "category_path", "attributes", "price"}``;
            any of them may be missing, None or empty.

    Returns:
        The text, or None when the product has no text at all.
    """
    parts = []
    title = truncate(clean(fields.get("title")), TITLE_CHARS)
    if title:
        parts.append(title)
    brand = clean(fields.get("brand"))
    if brand:
        parts.append(f"Brand: {brand}")
    path = " > ".join(_segments(fields.get("category_path")))
    if path:
        parts.append(f"Category: {path}")
    attributes = fields.get("attributes") or {}
    pairs = []
    for key in sorted(attributes, key=str)[:MAX_ATTRIBUTES]:
        value = truncate(clean(attributes[key]), ATTRIBUTE_VALUE_CHARS)
        if value:
            pairs.append(f"{_key_words(key)}: {value}")
    if pairs:
        parts.append("; ".join(pairs))
    description = truncate(clean(fields.get("description")), DESCRIPTION_CHARS)
    if description:
        parts.append(description)
    if not parts:
        return None
    return ". ".join(p.rstrip(".") if i < len(parts) - 1 else p for i, p in enumerate(parts))


def brand_text(fields: Mapping[str, Any]) -> str | None:
    """Text of a Brand node: ``Brand: <name>``.

    The prefix tells the model that the name is a maker ("Apple" the brand, not the fruit), and
    matches the ``Brand: ...`` piece of product texts, so a brand lands near its products.

    Args:
        fields: ``{"name": str}``.

    Returns:
        The text, or None when the name is missing or empty.
    """
    name = clean(fields.get("name"))
    return f"Brand: {name}" if name else None


def category_text(fields: Mapping[str, Any]) -> str | None:
    """Text of a Category node: ``Category: A > B > C`` (its path, root → leaf).

    The whole path is used, not the bare name, because leaf names are ambiguous on their own
    ("Accessories", "Kits"); the format matches the ``Category: ...`` piece of product texts.
    The name is appended when the path does not already end with it.

    Args:
        fields: ``{"name": str, "path": list[str]}``; either may be missing.

    Returns:
        The text, or None when both name and path are empty.
    """
    path = _segments(fields.get("path"))
    name = truncate(clean(fields.get("name")), CATEGORY_SEGMENT_CHARS)
    if name and (not path or path[-1] != name):
        path.append(name)
    return f"Category: {' > '.join(path)}" if path else None


def attribute_text(fields: Mapping[str, Any]) -> str | None:
    """Text of an Attribute node: ``<key words>: <value>`` (e.g. ``price band: 10-20``).

    The key is kept because values alone are ambiguous ("10-20", "red"); underscores become
    spaces so the tokenizer sees words. Same format as attributes inside product texts.

    Args:
        fields: ``{"key": str, "value": str}`` (value may be a number).

    Returns:
        The text, or None when the value is missing or empty.
    """
    value = truncate(clean(fields.get("value")), ATTRIBUTE_VALUE_CHARS)
    if not value:
        return None
    key = _key_words(fields.get("key"))
    return f"{key}: {value}" if key else value


def user_text(fields: Mapping[str, Any]) -> None:
    """Users have no text: they start from a learned vector (DESIGN §3). Always None."""
    return None


def _segments(path: Any) -> list[str]:
    """Cleaned, non-empty category segments, at most MAX_CATEGORY_DEPTH, each shortened."""
    segments = (truncate(clean(c), CATEGORY_SEGMENT_CHARS) for c in path or ())
    return [s for s in segments if s][:MAX_CATEGORY_DEPTH]


def _key_words(key: Any) -> str:
    return clean(str(key or "").replace("_", " "))


TEXT_FUNCTIONS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "Product": product_text,
    "Brand": brand_text,
    "Category": category_text,
    "Attribute": attribute_text,
    "User": user_text,
}


def node_text(label: str, fields: Mapping[str, Any]) -> str | None:
    """Text of one node, dispatched on its label.

    Args:
        label: One of ``"Product"``, ``"Brand"``, ``"Category"``, ``"Attribute"``, ``"User"``.
        fields: The node's fields as a plain dict (see the per-type functions).

    Returns:
        The text, or None when the node has no text (every User; nodes with empty fields).

    Raises:
        InvalidInputError: For an unknown label.
    """
    try:
        function = TEXT_FUNCTIONS[label]
    except KeyError:
        raise InvalidInputError(
            f"unknown node label {label!r}; expected one of {sorted(TEXT_FUNCTIONS)}"
        ) from None
    return function(fields)

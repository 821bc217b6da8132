"""Parsing and validation of the canonical source rows (products.jsonl, interactions.csv).

Each parser turns one raw row into a typed record or raises ``InvalidInputError`` naming the file,
the line and the field, so a bad row is reported precisely and never half-applied.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

from kg.errors import InvalidInputError
from kg.schema import INTERACTION_KINDS, RELATED_FIELDS

PRODUCT_FIELDS = ("id", "title", "description", "brand", "category_path", "attributes", "price", "related")
INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp", "rating")
RATING_RANGE = (1.0, 5.0)


@dataclass
class ProductRecord:
    """One validated products.jsonl row (raw strings: cleaning happens in kg.ingest)."""

    id: str
    title: str
    line: int
    description: str | None = None
    brand: str | None = None
    category_path: list[str] = field(default_factory=list)
    attributes: dict[str, str | int | float] = field(default_factory=dict)
    price: float | None = None
    related: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class InteractionRecord:
    """One validated interactions.csv row; ``ts`` is normalised to ``YYYY-MM-DDTHH:MM:SSZ``."""

    user_id: str
    item_id: str
    ts: str
    rating: float | None
    kind: str
    line: int


def _require_str(path, line, row, name, *, required=False, allow_empty=True):
    value = row.get(name)
    if value is None:
        if required:
            raise InvalidInputError(path, line, name, "missing (required)")
        return None
    if not isinstance(value, str):
        raise InvalidInputError(path, line, name, f"expected a string, got {type(value).__name__} {value!r:.60}")
    if not allow_empty and not value.strip():
        raise InvalidInputError(path, line, name, "must not be empty")
    return value


def parse_product(path: str, line: int, text: str) -> ProductRecord:
    """Parse one products.jsonl line (1-based ``line``) into a ProductRecord."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(path, line, None, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, dict):
        raise InvalidInputError(path, line, None, f"expected a JSON object, got {type(row).__name__}")
    pid = _require_str(path, line, row, "id", required=True, allow_empty=False).strip()
    title = _require_str(path, line, row, "title", required=True)
    rec = ProductRecord(id=pid, title=title, line=line)
    rec.description = _require_str(path, line, row, "description")
    rec.brand = _require_str(path, line, row, "brand")

    cats = row.get("category_path")
    if cats is not None:
        if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
            raise InvalidInputError(path, line, "category_path", f"expected a list of strings, got {cats!r:.80}")
        rec.category_path = cats

    attrs = row.get("attributes")
    if attrs is not None:
        if not isinstance(attrs, dict):
            raise InvalidInputError(path, line, "attributes", f"expected an object, got {type(attrs).__name__}")
        for key, value in attrs.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise InvalidInputError(
                    path, line, f"attributes.{key}", f"expected a string or number, got {type(value).__name__}"
                )
            rec.attributes[key] = value

    price = row.get("price")
    if price is not None:
        if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price):
            raise InvalidInputError(path, line, "price", f"expected a number, got {price!r:.40}")
        if price < 0:
            raise InvalidInputError(path, line, "price", f"must not be negative, got {price}")
        rec.price = float(price)

    related = row.get("related")
    if related is not None:
        if not isinstance(related, dict):
            raise InvalidInputError(path, line, "related", f"expected an object, got {type(related).__name__}")
        for rel, ids in related.items():
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise InvalidInputError(path, line, f"related.{rel}", "expected a list of product id strings")
            if rel not in RELATED_FIELDS:
                raise InvalidInputError(
                    path, line, f"related.{rel}", f"unknown relation; known: {', '.join(RELATED_FIELDS)}"
                )
            rec.related[rel] = [i.strip() for i in ids if i.strip()]
    return rec


def parse_timestamp(value: str) -> str:
    """ISO 8601 -> canonical UTC string; naive times are taken as UTC. Raises ValueError."""
    value = value.strip()
    if not value:
        raise ValueError("empty")
    dt = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_interaction_header(path: str, header: list[str] | None) -> dict[str, int]:
    """Column positions from the CSV header; raises InvalidInputError on line 1 when columns are missing."""
    if not header:
        raise InvalidInputError(path, 1, None, "empty file: expected header " + ",".join(INTERACTION_COLUMNS))
    names = [h.strip() for h in header]
    missing = [c for c in INTERACTION_COLUMNS if c not in names]
    if missing:
        raise InvalidInputError(
            path, 1, missing[0], f"header lacks column(s) {', '.join(missing)}; got {','.join(names)}"
        )
    return {name: i for i, name in enumerate(names)}


def parse_interaction(path: str, line: int, cells: list[str], cols: dict[str, int]) -> InteractionRecord:
    """Parse one interactions.csv row (``cols`` from ``check_interaction_header``)."""
    if len(cells) < len(INTERACTION_COLUMNS):
        raise InvalidInputError(path, line, None, f"expected at least {len(INTERACTION_COLUMNS)} columns, got {len(cells)}")

    def cell(name: str) -> str:
        i = cols.get(name)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    user, item = cell("user_id"), cell("item_id")
    if not user:
        raise InvalidInputError(path, line, "user_id", "must not be empty")
    if not item:
        raise InvalidInputError(path, line, "item_id", "must not be empty")
    try:
        ts = parse_timestamp(cell("timestamp"))
    except ValueError:
        raise InvalidInputError(path, line, "timestamp", f"not an ISO 8601 time: {cell('timestamp')!r}") from None
    rating: float | None = None
    raw_rating = cell("rating")
    if raw_rating:
        try:
            rating = float(raw_rating)
        except ValueError:
            raise InvalidInputError(path, line, "rating", f"not a number: {raw_rating!r}") from None
        if not (RATING_RANGE[0] <= rating <= RATING_RANGE[1]):
            raise InvalidInputError(path, line, "rating", f"out of range 1–5: {raw_rating}")
    kind = cell("kind").lower() or ("rating" if rating is not None else "view")
    if kind not in INTERACTION_KINDS:
        raise InvalidInputError(path, line, "kind", f"unknown kind {kind!r}; known: {', '.join(INTERACTION_KINDS)}")
    return InteractionRecord(user_id=user, item_id=item, ts=ts, rating=rating, kind=kind, line=line)

"""The graph model shared by both stores: labels, relationship types, keys and endpoints.

Every node carries a string property ``id`` that is unique within its label (a Neo4j uniqueness
constraint enforces it there), so both stores address a node as ``(label, id)``:

- ``Product {id, title, description, price, text_hash, updated_at, embedding}``
- ``Brand {id, name, aliases}`` — ``id`` is the normalised brand key (see ``kg.clean.brand_key``),
  ``name`` the first spelling seen, ``aliases`` every raw spelling.
- ``Category {id, name, path}`` — ``id`` is the cleaned path joined by ``" > "``.
- ``Attribute {id, key, value}`` — ``id`` is ``"key=value"`` (e.g. ``price_band=10-20``).
- ``User {id}``
"""

from __future__ import annotations

from dataclasses import dataclass

PRODUCT, BRAND, CATEGORY, ATTRIBUTE, USER = "Product", "Brand", "Category", "Attribute", "User"
LABELS: tuple[str, ...] = (PRODUCT, BRAND, CATEGORY, ATTRIBUTE, USER)

CATEGORY_SEPARATOR = " > "


@dataclass(frozen=True)
class RelType:
    """A relationship type with its endpoint labels.

    ``key_props`` name the relationship properties that, together with its two endpoints, identify
    one relationship (MERGE key). All other properties are overwritten on re-load (last row wins).
    """

    name: str
    src: str
    dst: str
    key_props: tuple[str, ...] = ()


REL_TYPES: dict[str, RelType] = {
    r.name: r
    for r in (
        RelType("MADE_BY", PRODUCT, BRAND),
        RelType("IN_CATEGORY", PRODUCT, CATEGORY),
        RelType("SUBCATEGORY_OF", CATEGORY, CATEGORY),
        RelType("HAS_ATTRIBUTE", PRODUCT, ATTRIBUTE),
        RelType("ALSO_BOUGHT", PRODUCT, PRODUCT),
        RelType("ALSO_VIEWED", PRODUCT, PRODUCT),
        RelType("BOUGHT_TOGETHER", PRODUCT, PRODUCT),
        RelType("INTERACTED", USER, PRODUCT, key_props=("kind",)),
        RelType("RECOMMENDED", USER, PRODUCT),
    )
}

# Outgoing product edges that describe the catalogue entry itself: re-loading a product replaces
# them (a product whose brand changed loses its old MADE_BY edge).
CATALOGUE_RELS: tuple[str, ...] = ("MADE_BY", "IN_CATEGORY", "HAS_ATTRIBUTE")

# Source field name in products.jsonl `related` -> relationship type.
RELATED_FIELDS: dict[str, str] = {
    "also_bought": "ALSO_BOUGHT",
    "also_viewed": "ALSO_VIEWED",
    "bought_together": "BOUGHT_TOGETHER",
}

INTERACTION_KINDS: tuple[str, ...] = ("view", "purchase", "rating", "review")

# Relationship types a path explanation may use by default (RECOMMENDED is model output, not evidence).
EXPLANATION_RELS: tuple[str, ...] = tuple(r for r in REL_TYPES if r != "RECOMMENDED")

VECTOR_INDEX = "product_embedding"


def rel_type(name: str) -> RelType:
    """Return the RelType called ``name``; raise KeyError naming the known types otherwise."""
    try:
        return REL_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown relationship type {name!r}; known: {', '.join(REL_TYPES)}") from None

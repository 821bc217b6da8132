"""Request parsing: strict JSON bodies and query strings, each error naming its field.

Written by hand (a dozen rules) rather than with a schema library: every rule here is also
stated in the OpenAPI document (`service.openapi`), which the tests check against the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Request

from service.errors import invalid

MAX_K = 100
MAX_HISTORY = 200
MAX_QUERY_CHARS = 1000


@dataclass
class Filters:
    """Candidate filters: a category subtree, a brand, a price range."""

    category: str | None = None
    brand: str | None = None
    price_min: float | None = None
    price_max: float | None = None

    def active(self) -> bool:
        return any(v is not None for v in (self.category, self.brand, self.price_min, self.price_max))


@dataclass
class RecommendRequest:
    user_id: str | None = None
    query: str | None = None
    history: list[str] = field(default_factory=list)
    k: int = 10
    explain: bool = True
    filters: Filters = field(default_factory=Filters)


def json_body(request: Request) -> dict:
    """The request's JSON object; 400 naming ``body`` when it is not one."""
    if not request.is_json:
        raise invalid("body", "expected a JSON body (Content-Type: application/json)")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # json.loads on e.g. 30,000 nested brackets: not a ValueError
        raise invalid("body", "the body is nested too deeply") from None
    if data is None:
        raise invalid("body", "the body is not valid JSON")
    if not isinstance(data, dict):
        raise invalid("body", f"expected a JSON object, got {type(data).__name__}")
    return data


def _unknown(data: dict, allowed: set[str], prefix: str = "") -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise invalid(prefix + extra[0], f"unknown field {prefix + extra[0]!r}; allowed: "
                      f"{', '.join(sorted(allowed))}")


def _string(data: dict, name: str, *, max_len: int = 200, prefix: str = "") -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise invalid(prefix + name, f"{prefix + name} must be a non-empty string")
    if len(value) > max_len:
        raise invalid(prefix + name, f"{prefix + name} is longer than {max_len} characters")
    return value


def _number(data: dict, name: str, prefix: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise invalid(prefix + name, f"{prefix + name} must be a number")
    if value < 0:
        raise invalid(prefix + name, f"{prefix + name} must be >= 0")
    return float(value)


def parse_k(value, name: str = "k", default: int = 10, *, from_query: bool = False) -> int:
    """k from JSON (an integer) or, with ``from_query``, a query string (digits); 1..MAX_K."""
    if value is None:
        return default
    if isinstance(value, str) and from_query:
        # \d is what int() parses (Unicode decimal digits); isdigit() also passed '²' and '--5'
        if not re.fullmatch(r"-?\d+", value.strip()):
            raise invalid(name, f"{name} must be an integer")
        try:
            value = int(value)
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
            raise invalid(name, f"{name} must be between 1 and {MAX_K}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, f"{name} must be an integer")
    if not 1 <= value <= MAX_K:
        raise invalid(name, f"{name} must be between 1 and {MAX_K}, got {value}")
    return value


def parse_bool(value, name: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    raise invalid(name, f"{name} must be true or false")


def parse_filters(data) -> Filters:
    if data is None:
        return Filters()
    if not isinstance(data, dict):
        raise invalid("filters", "filters must be an object")
    _unknown(data, {"category", "brand", "price_min", "price_max"}, "filters.")
    f = Filters(_string(data, "category", prefix="filters."), _string(data, "brand", prefix="filters."),
                _number(data, "price_min", "filters."), _number(data, "price_max", "filters."))
    if f.price_min is not None and f.price_max is not None and f.price_min > f.price_max:
        raise invalid("filters.price_min", "filters.price_min is above filters.price_max")
    return f


def parse_recommend(data: dict) -> RecommendRequest:
    """The body of ``POST /v1/recommendations``."""
    _unknown(data, {"user_id", "query", "history", "k", "explain", "filters"})
    req = RecommendRequest(
        user_id=_string(data, "user_id"),
        query=_string(data, "query", max_len=MAX_QUERY_CHARS),
        k=parse_k(data.get("k")),
        explain=parse_bool(data.get("explain"), "explain", True),
        filters=parse_filters(data.get("filters")),
    )
    history = data.get("history")
    if history is not None:
        if not isinstance(history, list):
            raise invalid("history", "history must be a list of item ids")
        if len(history) > MAX_HISTORY:
            raise invalid("history", f"history holds more than {MAX_HISTORY} items")
        for i, item in enumerate(history):
            if not isinstance(item, str) or not item:
                raise invalid(f"history[{i}]", f"history[{i}] must be a non-empty string")
        req.history = list(dict.fromkeys(history))
    if req.user_id is None and req.query is None and not req.history:
        raise invalid("body", "give at least one of user_id, query, history")
    return req


def parse_query_filters(args) -> Filters:
    """Filters from a query string (``category``, ``brand``, ``price_min``, ``price_max``)."""
    raw: dict = {}
    for name in ("category", "brand"):
        if name in args:
            raw[name] = args[name]
    for name in ("price_min", "price_max"):
        if name in args:
            try:
                raw[name] = float(args[name])
            except ValueError:
                raise invalid(name, f"{name} must be a number") from None
    try:
        return parse_filters(raw)
    except Exception as exc:  # re-name "filters.x" as the query parameter "x"
        if getattr(exc, "field", None):
            exc.field = exc.field.removeprefix("filters.")
        raise


def check_query_args(args, allowed: set[str]) -> None:
    extra = sorted(set(args) - allowed)
    if extra:
        raise invalid(extra[0], f"unknown query parameter {extra[0]!r}; allowed: "
                      f"{', '.join(sorted(allowed))}")

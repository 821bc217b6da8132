"""The small web page at ``/``: pick a user, type a query or build a history; see the ranking.

Plain HTML + JavaScript (service/static/index.html), paths drawn as inline SVG: no build step,
nothing fetched from outside.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response

bp = Blueprint("page", __name__)
PAGE = Path(__file__).with_name("static") / "index.html"


@bp.get("/")
def index():
    return Response(PAGE.read_text(encoding="utf-8"), mimetype="text/html")

"""API errors as JSON: ``{"error": {"code", "message", "field"}}`` with a 4xx (or 503) status.

Views raise `ApiError` (or let a package error through); one set of handlers registered by
`register` turns every error, Flask's own 404/405/413 included, into that body, so a client
never sees an HTML page or a 500 for bad input.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered to the client.

    Args:
        status: HTTP status (400 bad input, 404 unknown id, 401/403 auth, 503 not ready).
        code: Short machine-readable code (``invalid``, ``not_found``, ...).
        message: What is wrong, for a person.
        field: The request field at fault (dotted path), when there is one.
    """

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid", message, field)


def not_found(field: str, message: str) -> ApiError:
    return ApiError(404, "not_found", message, field)


def register(app: Flask) -> None:
    """Install the JSON error handlers on ``app``."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(exc.body()), exc.status

    from service.events import EventStoreError

    @app.errorhandler(EventStoreError)
    def _events_unavailable(exc: EventStoreError):
        log.error("event store: %s", exc)
        body = {"error": {"code": "unavailable", "message": f"event store unavailable: {exc}",
                          "field": None}}
        return jsonify(body), 503

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.code or 500, "http_error")
        field = "body" if exc.code in (400, 413, 415) else None
        body = {"error": {"code": code, "message": exc.description, "field": field}}
        # keep the exception's own headers (405's Allow, required by RFC 9110), not its HTML type
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return jsonify(body), exc.code, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        body = {"error": {"code": "internal", "message": "internal error (logged)", "field": None}}
        return jsonify(body), 500

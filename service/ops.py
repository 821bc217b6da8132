"""Operations endpoints: liveness, readiness, Prometheus metrics, the guarded bundle reload."""

from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess,
)

from service.errors import ApiError

bp = Blueprint("ops", __name__)

# Under gunicorn, PROMETHEUS_MULTIPROC_DIR makes every worker write its samples to files that
# /metrics aggregates (prometheus-client's multiprocess mode); without it, the default registry.
REQUESTS = Counter("kgrec_requests_total", "HTTP requests", ["endpoint", "method", "status"])
LATENCY = Histogram("kgrec_request_seconds", "Request latency", ["endpoint"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
RELOADS = Counter("kgrec_bundle_reloads_total", "Bundle reloads", ["outcome"])


def observe(endpoint: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(endpoint, method, str(status)).inc()
    LATENCY.labels(endpoint).observe(seconds)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    ext = current_app.extensions["kgrec"]
    checks = {"bundle": ext.holder.ready, "store": ext.store_reachable()}
    body = {"ready": all(checks.values()), "checks": checks,
            "model_version": ext.holder._state.version if ext.holder.ready else None}
    if ext.holder.last_error:
        body["last_error"] = ext.holder.last_error
    return jsonify(body), 200 if body["ready"] else 503


@bp.get("/metrics")
def metrics():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, mimetype=CONTENT_TYPE_LATEST)


@bp.post("/v1/admin/reload")
def reload():
    ext = current_app.extensions["kgrec"]
    token = ext.admin_token
    if not token:
        raise ApiError(403, "forbidden", "reload is disabled: set KGREC_ADMIN_TOKEN", "Authorization")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "unauthorized", "missing or wrong admin token", "Authorization")
    t0 = time.perf_counter()
    old = ext.holder._state.version if ext.holder.ready else None
    try:
        state = ext.holder.reload()
    except Exception as exc:
        RELOADS.labels("failed").inc()
        raise ApiError(409, "reload_failed", f"bundle not loaded, still serving {old}: {exc}",
                       None) from None
    ext.reset_store()
    RELOADS.labels("ok").inc()
    return jsonify({"previous": old, "model_version": state.version,
                    "seconds": round(time.perf_counter() - t0, 3)})

"""The Flask application factory: ``create_app(config)`` wires config, state, blueprints, errors.

No state exists at import time. Per-app state lives in ``app.extensions["kgrec"]`` (a
`Kgrec` object): the model holder, the lazily opened graph store, the event log and the
language model for queries, each created on first use in the worker process that uses it.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from flask import Flask, g, request

from service import errors
from service.config import Config, load_config
from service.jsonio import OrjsonProvider

log = logging.getLogger("kgrec.access")


class Kgrec:
    """Per-app state (see the module docstring)."""

    def __init__(self, config: Config) -> None:
        from service.state import ModelHolder

        self.config = config
        self.admin_token = config.admin_token
        self.holder = ModelHolder(config.bundle_root)
        self._store = None
        self._events = None
        self._encoder = None
        self._lock = threading.Lock()

    def store(self):
        """The graph store (opened on first use; reopened after `reset_store`)."""
        with self._lock:
            if self._store is None:
                from service import heap
                from service.stores import open_store

                self._store = open_store(self.config)
                heap.settle()  # the embedded store is most of a worker's heap
            return self._store

    def reset_store(self) -> None:
        """Drop the store handle (after a reload the embedded store is re-read from disk)."""
        with self._lock:
            if self._store is not None:
                try:
                    self._store.close()
                except Exception:  # a dead connection has nothing to close
                    pass
            self._store = None

    def store_reachable(self) -> bool:
        try:
            store = self.store()
            store.get_node("Product", "\x00readyz")
            return True
        except Exception as exc:
            log.warning("store unreachable: %s", exc)
            self.reset_store()
            return False

    def events(self):
        with self._lock:
            if self._events is None:
                from service.events import EventStore

                self._events = EventStore(self.config.events_path)
            return self._events

    def encoder(self):
        with self._lock:
            if self._encoder is None:
                from llm.encoder import TextEncoder

                device = None if self.config.device == "auto" else self.config.device
                self._encoder = TextEncoder(self.config.model, device=device)
            return self._encoder

    def query_scores(self, state, text: str):
        """``(scores [n_products], matches)`` of a natural-language query."""
        from service.query import query_scores

        return query_scores(state, self.encoder(), text)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line (structured logs for the service)."""

    def format(self, record: logging.LogRecord) -> str:
        body = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        body.update(getattr(record, "fields", {}))
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body)


def create_app(config: Config | None = None, *, load_bundle: bool = True) -> Flask:
    """A configured app; ``config`` defaults to `load_config()` (env vars over defaults)."""
    from service import api, ops, openapi, page

    config = config or load_config()
    app = Flask(__name__)
    app.json = OrjsonProvider(app)  # keys in the order the views build them
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    ext = Kgrec(config)
    app.extensions["kgrec"] = ext
    errors.register(app)
    for blueprint in (api.bp, ops.bp, openapi.bp, page.bp):
        app.register_blueprint(blueprint)

    @app.before_request
    def _start():
        g.t0 = time.perf_counter()

    @app.after_request
    def _log(response):
        seconds = time.perf_counter() - g.get("t0", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        ops.observe(endpoint, request.method, response.status_code, seconds)
        log.info("request", extra={"fields": {
            "method": request.method, "path": request.path, "status": response.status_code,
            "ms": round(seconds * 1000, 2)}})
        return response

    if load_bundle:
        ext.holder.try_load()
    if config.reload_poll > 0:
        ext.holder.listeners += [ext.reset_store, lambda: ops.RELOADS.labels("watch").inc()]
        ext.holder.watch(config.reload_poll)
    return app

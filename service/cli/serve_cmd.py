"""`kgrec serve`: the REST service under gunicorn (or Flask's dev server with --dev)."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

import click

from service.cli.options import store_options
from service.config import Config


def _json_logging() -> None:
    from service.app import JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


@click.command()
@store_options
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="Address to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="gunicorn worker processes (each loads the bundle).")
@click.option("--bundles", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Bundle root (default: $KGREC_HOME/bundles). [KGREC_BUNDLES]")
@click.option("--timeout", type=int, default=60, show_default=True, help="gunicorn worker timeout, s.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="torch CPU threads per worker (workers x threads should not exceed the cores).")
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn.")
def serve(config: Config, bind: str, workers: int, bundles: Path | None, timeout: int, threads: int,
          dev: bool):
    """Serve recommendations over HTTP (API in /openapi.json, a page at /).

    Loads the current bundle (`kgrec train` makes one); without one the service starts, says it
    is not ready on /readyz, and loads it on `POST /v1/admin/reload` (token: KGREC_ADMIN_TOKEN).
    Logs are JSON lines on stderr; Prometheus metrics on /metrics, aggregated over workers.
    """
    from service.app import create_app

    config = config.with_overrides(bundles=bundles)
    _json_logging()
    if dev:
        host, _, port = bind.rpartition(":")
        create_app(config).run(host=host or "127.0.0.1", port=int(port), threaded=True)
        return
    from gunicorn.app.base import BaseApplication

    # prometheus-client's multiprocess mode: every worker writes samples to this folder
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="kgrec-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir

    class App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", timeout)
            self.cfg.set("accesslog", None)
            self.cfg.set("child_exit", _child_exit)

        def load(self):  # in each worker: one request at a time, so no intra-op threads to share
            import torch

            torch.set_num_threads(threads)
            _json_logging()
            from service import heap

            heap.enable_huge_pages(config.huge_pages)
            logging.getLogger("kgrec.serve").info("worker starting", extra={"fields": {
                "pid": os.getpid(), "torch_threads": torch.get_num_threads()}})
            return create_app(config)

    click.echo(f"kgrec serve: http://{bind} ({workers} workers, bundles in {config.bundle_root})",
               err=True)
    App().run()


def _child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

"""`kgrec refresh`: the batch job that brings deltas and feedback into a new published bundle."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from service.cli.options import store_options
from service.config import Config


@click.command()
@click.argument("deltas", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@store_options
@click.option("--events/--no-events", default=True, show_default=True,
              help="Ingest the feedback stored by POST /v1/events (then mark it consumed).")
@click.option("--retrain", is_flag=True,
              help="Train a new model instead of re-embedding with the current one.")
@click.option("--force", is_flag=True, help="Re-embed and publish even when the graph is unchanged.")
@click.option("--active-days", type=click.FloatRange(min=0), default=90, show_default=True,
              help="Users with an interaction this many days before the newest one get "
                   "RECOMMENDED edges in Neo4j.")
@click.option("--recommend-k", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="RECOMMENDED edges per active user.")
@click.option("--service-url", default=None,
              help="Running service to tell to reload (POST /v1/admin/reload with "
                   "KGREC_ADMIN_TOKEN). [KGREC_SERVICE_URL]")
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
              help="A bad row in a delta file: 'fail' stops the job (exit 1, nothing published); "
                   "'skip' skips and reports it.")
@click.option("--keep", "keep_bundles", type=click.IntRange(min=1), default=3, show_default=True,
              help="Bundles kept in the bundle root (the current one always is).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --retrain.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def refresh(config: Config, deltas: tuple[Path, ...], events: bool, retrain: bool, force: bool,
            active_days: float, recommend_k: int, service_url: str | None, on_error: str,
            keep_bundles: int, seed: int, as_json: bool) -> None:
    """Ingest DELTAS (folders in the canonical layout) and stored events, re-embed, publish.

    New or changed products and new interactions are upserted (idempotent); only new or changed
    texts are encoded; embeddings come from the current model by inference (new products get
    theirs from brand, categories, attributes and text) unless --retrain; on Neo4j, changed
    embeddings go to the vector index `product_embedding` and active users get RECOMMENDED
    edges; the new bundle is published atomically and the service told to reload. Safe to kill
    and re-run; a second run while one is going exits with status 75.
    """
    from service.refresh import BUSY_EXIT, RefreshBusy, RefreshError, RefreshOptions
    from service.refresh import refresh as run

    options = RefreshOptions(
        deltas=list(deltas), events=events, retrain=retrain, force=force, active_days=active_days,
        recommend_k=recommend_k, service_url=service_url or config.service_url, on_error=on_error,
        keep_bundles=keep_bundles, progress=sys.stderr.isatty(), seed=seed)
    try:
        report = run(config, options)
    except RefreshBusy as exc:
        click.echo(f"kgrec: {exc}", err=True)
        sys.exit(BUSY_EXIT)
    except RefreshError as exc:
        click.echo(f"kgrec: error: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(report.to_dict()) if as_json else report.summary())
    skipped = sum(d.get("skipped", 0) for d in report.changes.get("deltas", []))
    if skipped:
        sys.exit(1)  # like `kgrec load --on-error skip`: the rows were reported, the job went on

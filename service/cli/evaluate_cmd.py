"""`kgrec evaluate`: DESIGN.md §4 cold-start protocol on a data folder, all baselines, one table."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click

from gnn.eval.baselines import BASELINES  # names only: imports no model code
from service.config import Config

log = logging.getLogger(__name__)


def _method_names(ctx, param, value: str | None) -> list[str] | None:
    if not value:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise click.BadParameter(
            f"unknown {', '.join(unknown)}; choose from {', '.join(BASELINES)}"
        )
    return names


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object with every figure instead of the table.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the split and of the models.")
@click.option("--export-split", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the split (row CSVs, id maps, item text vectors, README.txt) here.")
@click.option("--k", type=click.IntRange(min=1), default=20, show_default=True,
              help="List length of every metric.")
@click.option("--methods", callback=_method_names, default=None,
              help="Comma-separated methods to run (default: all): " + ", ".join(BASELINES)
                   + " (kgrec: the ranker the service uses; kgrec-no-*: it without one part).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (default: torch's choice).")
@click.pass_obj
def evaluate(config: Config, data_dir: Path, as_json: bool, seed: int, export_split: Path | None,
             k: int, methods: list[str] | None, threads: int | None) -> None:
    """Evaluate the baselines on DATA_DIR with the cold-start protocol (DESIGN.md section 4).

    DATA_DIR is read into an in-memory store; product texts go through the language model
    (cached under KGREC_HOME); 20% of the items become cold (half validation, half test), warm
    interactions split 80/10/10; hyper-parameters are chosen on validation; the table gives test
    Recall@k and NDCG@k for all items (overall), cold items and warm items, plus catalogue
    coverage and novelty of the overall top-k. Exit code 1 when the folder cannot be loaded or
    has no interactions.
    """
    import torch

    from gnn.eval import runner
    from gnn.eval.baselines import make_baselines
    from gnn.eval.export import export_split as write_split
    from gnn.eval.split import split_snapshot
    from kg.schema import PRODUCT
    from service.texts import encode_snapshot, read_snapshot

    if threads:
        torch.set_num_threads(threads)
    progress = sys.stderr.isatty()
    timings = {}
    start = time.perf_counter()
    snapshot = read_snapshot(config, data_dir, progress=progress)
    timings["load_seconds"] = round(time.perf_counter() - start, 2)
    if snapshot.edges["INTERACTED"].shape[1] == 0:
        raise click.ClickException(f"{data_dir} has no interactions to evaluate on")

    t = time.perf_counter()
    vectors, stats, model_id = encode_snapshot(config, snapshot, progress=progress,
                                               num_threads=threads)
    log.info("text vectors: %s", stats.summary())
    timings["encode_seconds"] = round(time.perf_counter() - t, 2)
    device = "cuda" if config.device == "cuda" or (
        config.device == "auto" and torch.cuda.is_available()) else "cpu"

    split = split_snapshot(snapshot, seed=seed)
    if export_split is not None:
        write_split(split, snapshot, vectors[PRODUCT], export_split)
        click.echo(f"split written to {export_split}", err=True)
    results = runner.evaluate(snapshot, vectors[PRODUCT], make_baselines(methods), split, k,
                              seed=seed, progress=progress, node_text=vectors, device=device)
    timings["total_seconds"] = round(time.perf_counter() - start, 2)
    results |= {"data_dir": str(data_dir), "text_model": model_id, "device": device,
                "timings": timings}
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    click.echo(f"kgrec evaluate {data_dir} (seed {seed}, k={k})")
    click.echo(runner.format_split(results["split"]))
    click.echo("")
    click.echo(runner.format_table(results))
    click.echo("")
    click.echo(f"R = Recall@{k} (hits / test items of the user), N = NDCG@{k}; test part; "
               f"coverage and novelty of the overall top-{k}. "
               f"Time: load {timings['load_seconds']:.1f} s, "
               f"text {timings['encode_seconds']:.1f} s, "
               f"models {results['seconds']:.1f} s, total {timings['total_seconds']:.1f} s.")

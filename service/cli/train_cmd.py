"""`kgrec train`: the R-GCN on the store's graph, early-stopped on validation, saved as a bundle.

Runs on one process, or under ``torchrun --nproc_per_node=N -m service train`` with
DistributedDataParallel (NCCL on GPUs, Gloo on CPUs); rank 0 writes the bundle and prints.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from service.cli.options import store_options
from service.config import Config


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.4f}"


@click.command()
@click.argument("data_dir", required=False,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@store_options
@click.option("--bundles", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Bundle root to write into (default: $KGREC_HOME/bundles). [KGREC_BUNDLES]")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="Training device: auto is CUDA when present, else CPU. [KGREC_DEVICE]")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the split, the initial weights and the sampling.")
@click.option("--max-epochs", type=click.IntRange(min=1), default=None,
              help="Upper bound of epochs (default 100; early stopping usually ends sooner).")
@click.option("--patience", type=click.IntRange(min=1), default=None,
              help="Epochs without a better validation Recall@20 before stopping (default 8).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (default: torch's choice).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
def train(config: Config, data_dir: Path | None, bundles: Path | None, device: str | None,
          seed: int, max_epochs: int | None, patience: int | None, threads: int | None,
          as_json: bool) -> None:
    """Train the R-GCN on the store's graph (or on DATA_DIR read into memory) and save a bundle.

    20% of the products are held out as cold items and warm interactions split 80/10/10
    (DESIGN.md section 4); training stops when validation Recall@20 over all items stops
    improving; the hybrid ranker's parts and blend are chosen on validation; test Recall/NDCG@20
    (overall, cold, warm) of the R-GCN alone and of the ranker are printed and stored in the
    bundle's manifest. The bundle's embeddings use every interaction. The new bundle becomes the
    current one (CURRENT in the bundle root), which `kgrec serve` loads.
    """
    import torch

    from gnn import distributed
    from gnn.train import TrainConfig
    from gnn.workflow import train_bundle
    from service.texts import encode_snapshot, read_snapshot

    config = config.with_overrides(device=device, bundles=bundles)
    if threads:
        torch.set_num_threads(threads)
    dev = distributed.init_from_env(config.device)
    if config.device == "cuda" and dev.type != "cuda":
        raise click.ClickException("--device cuda asked for, but torch sees no CUDA device")
    main_rank = distributed.is_main()
    progress = sys.stderr.isatty() and main_rank
    snapshot = read_snapshot(config, data_dir, progress=progress)
    vectors, stats, model_id = encode_snapshot(config, snapshot, progress=progress,
                                               num_threads=threads)
    if main_rank:
        click.echo(f"text vectors: {stats.summary()}", err=True)
    train_config = TrainConfig(seed=seed)
    overrides = {k: v for k, v in (("max_epochs", max_epochs), ("patience", patience)) if v}
    train_config = replace(train_config, **overrides)
    try:
        outcome = train_bundle(snapshot, vectors, config.bundle_root, train_config=train_config,
                               device=dev, progress=progress,
                               extra_manifest={"text_model": model_id})
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        distributed.shutdown()
    if not main_rank:
        return
    m = outcome.metrics
    if as_json:
        click.echo(json.dumps(m | {"bundle": str(outcome.bundle),
                                   "seconds": round(outcome.seconds, 2)}, indent=2))
        return
    click.echo(f"trained on {m['device']}: best epoch {m['best_epoch']}, "
               f"{m['epoch_seconds']:.2f} s/epoch, {outcome.seconds:.1f} s in all")
    click.echo(f"{'ranker':<7}{'part':<6} {'overall R@20':>12} {'cold R@20':>10} "
               f"{'warm R@20':>10} {'overall N@20':>12}")
    for name in ("rgcn", "kgrec"):
        for part in ("val", "test"):
            r = m[name][part]
            click.echo(f"{name:<7}{part:<6} {_fmt(r['overall']['recall']):>12} "
                       f"{_fmt(r['cold']['recall']):>10} {_fmt(r['warm']['recall']):>10} "
                       f"{_fmt(r['overall']['ndcg']):>12}")
    click.echo(f"bundle: {outcome.bundle}")

"""Data commands: `kgrec load`, `kgrec stats`, `kgrec synth`."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import click

from kg.ingest import load_dir
from kg.schema import PRODUCT, USER
from kg.snapshot import export_snapshot
from service.cli.options import store_options
from service.config import Config
from service.stores import open_store


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@store_options
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Rows per atomic write (default 5000). [KGREC_BATCH_SIZE]")
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
              help="On a bad row: 'fail' stops (nothing of that row's batch is stored, exit 1); "
                   "'skip' skips the row and reports it.")
@click.option("--replace", is_flag=True, help="Delete everything in the store before loading.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def load(config: Config, data_dir: Path, batch_size: int | None, on_error: str, replace: bool, quiet: bool):
    """Load DATA_DIR (products.jsonl + interactions.csv, canonical layout) into the store.

    Idempotent: loading the same folder twice leaves the same graph. Bad rows are reported with
    their file, line and field.
    """
    store = open_store(config)
    try:
        if replace:
            store.clear()
        click.echo(f"loading {data_dir} into the {store.name} store …", err=True)
        report = load_dir(
            store, data_dir, batch_size=batch_size or config.batch_size, on_error=on_error,
            progress=not quiet and sys.stderr.isatty(),
        )
    finally:
        store.close()
    click.echo(report.summary())
    if report.skipped:
        sys.exit(1)


def _print_counts(counts: dict) -> None:
    width = max(len(k) for part in counts.values() for k in part)
    for title, key in (("nodes", "nodes"), ("relationships", "relationships")):
        click.echo(f"{title}:")
        for name, n in counts[key].items():
            click.echo(f"  {name:<{width}}  {n:>10,}")


def _print_sample(store, n: int, seed: int = 0) -> None:
    """A few products with their brand and category, and one user's explanation path."""
    snap = export_snapshot(store)
    products = snap.node_ids[PRODUCT]
    if not products:
        click.echo("sample: the store holds no products")
        return
    rng = random.Random(seed)
    click.echo("sample products:")
    for i in sorted(rng.sample(range(len(products)), min(n, len(products)))):
        f = snap.node_fields[PRODUCT][i]
        click.echo(f"  {products[i]}  {f['title'][:70]!r}")
        click.echo(f"      brand: {f['brand'] or '-'} | category: {' > '.join(f['category_path']) or '-'}")
    inter = snap.edges["INTERACTED"]
    made_by = snap.edges["MADE_BY"]
    if inter.shape[1] == 0 or made_by.shape[1] == 0:
        return
    # A user, one item they touched, and another product of the same brand they did not touch.
    brand_of = dict(zip(made_by[0].tolist(), made_by[1].tolist()))
    by_brand: dict[int, list[int]] = {}
    for p, b in brand_of.items():
        by_brand.setdefault(b, []).append(p)
    for j in rng.sample(range(inter.shape[1]), min(200, inter.shape[1])):
        user, item = int(inter[0, j]), int(inter[1, j])
        touched = set(inter[1, inter[0] == user].tolist())
        others = [p for p in by_brand.get(brand_of.get(item, -1), []) if p not in touched]
        if others:
            src, dst = (USER, snap.node_ids[USER][user]), (PRODUCT, products[others[0]])
            paths = store.find_paths(src, dst, k=2)
            if paths:
                click.echo(f"sample explanation paths from user {src[1]} to product {dst[1]}:")
                for path in paths:
                    parts = [repr(path.names[0][:40])]
                    for hop, name in zip(path.hops, path.names[1:]):
                        arrow = f"-[{hop.rel}]->" if hop.forward else f"<-[{hop.rel}]-"
                        parts.append(f"{arrow} {name[:40]!r}")
                    click.echo("  " + " ".join(parts))
                return


@click.command()
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--sample", type=click.IntRange(min=0), default=0,
              help="Also print N sample products and a sample explanation path.")
def stats(config: Config, as_json: bool, sample: int):
    """Counts per node label and relationship type in the store."""
    store = open_store(config)
    try:
        counts = store.counts()
        if as_json:
            click.echo(json.dumps({"store": store.name, **counts}, indent=2))
        else:
            click.echo(f"store: {store.name}")
            _print_counts(counts)
            if sample:
                _print_sample(store, sample)
    finally:
        store.close()


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--products", "n_products", type=click.IntRange(min=1), required=True,
              help="Number of products (e.g. 100000).")
@click.option("--users", "n_users", type=click.IntRange(min=1), default=None,
              help="Number of users (default: scales with the catalogue).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same files).")
def synth(out_dir: Path, n_products: int, n_users: int | None, seed: int):
    """Write a synthetic catalogue in the canonical layout to OUT_DIR (for scale benchmarks only)."""
    from kg.synth import generate

    result = generate(out_dir, n_products, n_users=n_users, seed=seed, progress=sys.stderr.isatty())
    click.echo(f"wrote {out_dir}: {result}")

"""Refresh time for a 1 % catalogue delta against a full rebuild (issue: target ≥ 20× faster).

    python benchmarks/refresh_bench.py ../shared/data/amazon-industrial-scientific
    python benchmarks/refresh_bench.py --synth 100000 --train-steps 20   # too big to train here

The catalogue is split: a seeded ``--delta-share`` of its products, with their interactions, is
the delta; the rest is the base. The full rebuild is what an operator would run without the
refresh job, measured on the base (so slightly less than the whole catalogue would cost): load
into a fresh embedded store, encode every text with a cold cache, train, publish. The refresh
then ingests the delta into that home and publishes a bundle by inference (`kgrec refresh`).
``--max-epochs`` caps the full rebuild's training (the 100k catalogue on 2 cores); the table
says so, and the rebuild time is then a lower bound. ``--train-steps N`` does not train at all
(a 100k catalogue takes hours per epoch on 2 cores): it times N steps of the default training,
estimates an epoch from them, and refreshes the bundle of those steps
(`benchmarks/quick_bundle.py`); the rebuild's measured part is then load and encode only.
Prints a Markdown table; ``--json`` too.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # kgrec and benchmarks/


def split_folder(src: Path, out: Path, share: float, seed: int) -> tuple[Path, Path, int]:
    """Write ``out/base`` and ``out/delta`` (a ``share`` of the products with their interactions)."""
    lines = [line for line in open(src / "products.jsonl", encoding="utf-8") if line.strip()]
    ids = [json.loads(line)["id"] for line in lines]
    held = set(random.Random(seed).sample(ids, max(1, round(share * len(ids)))))
    for part in ("base", "delta"):
        (out / part).mkdir(parents=True, exist_ok=True)
    with open(out / "base" / "products.jsonl", "w") as base, open(out / "delta" / "products.jsonl", "w") as delta:
        for pid, line in zip(ids, lines):
            (delta if pid in held else base).write(line if line.endswith("\n") else line + "\n")
    with open(src / "interactions.csv", encoding="utf-8") as fh, \
            open(out / "base" / "interactions.csv", "w") as base, \
            open(out / "delta" / "interactions.csv", "w") as delta:
        header = fh.readline()
        base.write(header)
        delta.write(header)
        item_column = next(csv.reader([header])).index("item_id")
        for row in fh:
            item = next(csv.reader([row]))[item_column]
            (delta if item in held else base).write(row)
    return out / "base", out / "delta", len(held)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, help="A folder in the canonical layout.")
    parser.add_argument("--synth", type=int, default=None, help="Generate a synthetic catalogue of N products.")
    parser.add_argument("--delta-share", type=float, default=0.01)
    parser.add_argument("--max-epochs", type=int, default=None, help="Cap of the rebuild's training.")
    parser.add_argument("--train-steps", type=int, default=None,
                        help="Too big to train here: time this many training steps instead, estimate "
                             "the training from them (benchmarks/quick_bundle.py) and refresh that bundle.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if (args.data is None) == (args.synth is None):
        parser.error("give a data folder or --synth N")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from gnn.train import TrainConfig
    from gnn.workflow import train_bundle
    from kg.ingest import load_dir
    from kg.snapshot import export_snapshot
    from service.config import load_config
    from service.refresh import RefreshOptions, refresh
    from service.stores import open_store
    from service.texts import encode_snapshot

    work = Path(tempfile.mkdtemp(prefix="kgrec-refresh-bench-"))
    if args.synth:
        from kg.synth import generate

        source, name = work / "synth", f"synth-{args.synth}"
        generate(source, args.synth, seed=args.seed, progress=False)
    else:
        source, name = args.data, args.data.name
    base, delta, n_delta = split_folder(source, work / "split", args.delta_share, args.seed)
    config = load_config({"KGREC_HOME": str(work / "home"), "KGREC_DEVICE": "cpu",
                          "KGREC_RELOAD_POLL": "0"})
    rebuild: dict[str, float] = {}
    t = time.perf_counter()
    store = open_store(config)
    load_dir(store, base)
    snapshot = export_snapshot(store)
    store.close()
    rebuild["load"] = time.perf_counter() - t
    print(f"load {rebuild['load']:.1f}s (home {config.home})", file=sys.stderr, flush=True)
    t = time.perf_counter()
    vectors, stats, model_id = encode_snapshot(config, snapshot)
    rebuild["encode"] = time.perf_counter() - t
    print(f"encode {rebuild['encode']:.1f}s", file=sys.stderr, flush=True)
    t = time.perf_counter()
    estimate = None
    if args.train_steps:
        from benchmarks.quick_bundle import quick_bundle

        estimate = quick_bundle(snapshot, vectors, config.bundle_root, args.train_steps,
                                extra_manifest={"text_model": model_id})
        print(f"training steps {estimate}", file=sys.stderr, flush=True)
    else:
        train_config = TrainConfig(**({"max_epochs": args.max_epochs} if args.max_epochs else {}))
        outcome = train_bundle(snapshot, vectors, config.bundle_root, train_config=train_config,
                               extra_manifest={"text_model": model_id})
        rebuild["train + publish"] = time.perf_counter() - t
        print(f"train {rebuild['train + publish']:.1f}s", file=sys.stderr, flush=True)
    t = time.perf_counter()
    report = refresh(config, RefreshOptions(deltas=[delta], events=False))
    refresh_total = time.perf_counter() - t
    total = sum(rebuild.values())
    result = {
        "data": name, "products": snapshot.num_nodes("Product") + n_delta, "delta_products": n_delta,
        "interactions_after": report.changes["interactions_after"],
        "rebuild_seconds": {k: round(v, 1) for k, v in rebuild.items()} | {"total": round(total, 1)},
        "rebuild_epochs": None if estimate else outcome.result.best_epoch, "max_epochs": args.max_epochs,
        "training_estimate": estimate,
        "refresh_seconds": {k: round(v, 2) for k, v in report.seconds.items()} | {"total": round(refresh_total, 1)},
        "texts_encoded_by_refresh": report.encode.get("encoded"),
        "speedup": round(total / refresh_total, 1), "home": str(config.home),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch threads {__import__('torch').get_num_threads()}",
    }
    print(f"| data | products | delta | full rebuild (load / encode / train) | refresh (steps) | speed-up |")
    print("|---|---|---|---|---|---|")
    rb = result["rebuild_seconds"]
    steps = ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items())
    if estimate:
        train = (f"not run: {estimate['step_seconds']:.1f} s/step × {estimate['epoch_steps']} steps ≈ "
                 f"{estimate['epoch_seconds_estimate']:,} s per epoch, ≥ {estimate['min_epochs']} epochs")
        measured = f"≥ {rb['total']:.0f} s ({rb['load']:.0f} / {rb['encode']:.0f} / {train})"
        least = total + estimate["min_epochs"] * estimate["epoch_seconds_estimate"]
        speedup = f"≥ {result['speedup']:.0f}× (load + encode alone); ≈ {least / refresh_total:,.0f}× with the training"
        result["speedup_with_training_estimate"] = round(least / refresh_total, 1)
    else:
        cap = f" (training capped at {args.max_epochs} epochs: a lower bound)" if args.max_epochs else ""
        measured = f"{rb['total']:.0f} s ({rb['load']:.0f} / {rb['encode']:.0f} / {rb['train + publish']:.0f}){cap}"
        speedup = f"{result['speedup']:.0f}×"
    print(f"| {name} | {result['products']:,} | {n_delta:,} products | {measured} | "
          f"{refresh_total:.1f} s ({steps}) | {speedup} |")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()

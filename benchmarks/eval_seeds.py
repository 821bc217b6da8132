"""`kgrec evaluate` over several split seeds: mean ± std of every figure, one markdown table.

Usage:
    python benchmarks/eval_seeds.py DATA_DIR [--seeds 0 1 2] [--out-dir DIR] [--methods a,b]

Runs ``kgrec evaluate DATA_DIR --json --seed S`` for each seed (a seed whose
``DIR/<data set>-<seed>.json`` already exists is read, not re-run), then prints, per method,
mean ± std over the seeds of Recall@20 and NDCG@20 overall / cold / warm, coverage and novelty,
and how many seeds kgrec met the targets of issue 9 on (cold ≥ 1.1 × the best baseline, warm ≥
the best baseline, Recall and NDCG).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

SETTINGS = ("overall", "cold", "warm")
OURS = "kgrec"


def run_seed(data_dir: Path, seed: int, out: Path, methods: str | None) -> dict:
    if not out.exists():
        cmd = [sys.executable, "-m", "service", "evaluate", str(data_dir), "--json",
               "--seed", str(seed)] + (["--methods", methods] if methods else [])
        print(f"running: {' '.join(cmd[2:])}", file=sys.stderr)
        text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        out.write_text(text)
    return json.loads(out.read_text())


def mean_std(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def targets(result: dict) -> dict[str, bool]:
    """Did kgrec meet issue 9's bar on this run (against every other method not named kgrec*)?"""
    methods = result["methods"]
    others = {n: m for n, m in methods.items() if not n.startswith("kgrec")}
    ours = methods[OURS]
    met = {}
    for setting, factor in (("cold", 1.1), ("warm", 1.0)):
        for metric in ("recall", "ndcg"):
            best = max(m[setting][metric] or 0.0 for m in others.values())
            met[f"{setting} {metric}"] = (ours[setting][metric] or 0.0) >= factor * best
    return met


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out-dir", type=Path, default=Path("out/eval"))
    ap.add_argument("--methods", default=None,
                    help="methods of the runs still to make (default: all); rows of methods "
                         "missing from some seeds say on how many they ran")
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    name = args.data_dir.resolve().name
    runs = [run_seed(args.data_dir, s, args.out_dir / f"{name}-{s}.json", args.methods)
            for s in args.seeds]
    methods = list(runs[0]["methods"])
    print(f"### {name}: mean ± std over split seeds {', '.join(map(str, args.seeds))}\n")
    head = ["method"] + [f"{s} {m}@20" for s in SETTINGS for m in ("R", "N")] + [
        "coverage@20", "novelty@20"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for method in methods:
        have = [r["methods"][method] for r in runs if method in r["methods"]]
        row = [method if len(have) == len(runs) else f"{method} ({len(have)} seed)"]
        for setting in SETTINGS:
            for metric in ("recall", "ndcg"):
                row.append(mean_std([m[setting][metric] for m in have]))
        row.append(mean_std([m["overall"]["coverage"] for m in have]))
        row.append(mean_std([m["overall"]["novelty"] for m in have]))
        print("| " + " | ".join(row) + " |")
    if OURS in methods:
        met = [targets(r) for r in runs]
        print(f"\nkgrec met the bar (cold ≥ 1.1 × best baseline, warm ≥ best baseline) on: " +
              ", ".join(f"{k} {sum(m[k] for m in met)}/{len(met)} seeds" for k in met[0]))


if __name__ == "__main__":
    main()

"""Load throughput: products/s and relationships/s into Neo4j and into the embedded store.

Usage:
    python benchmarks/load_bench.py [--data DIR ...] [--synth N] [--stores embedded,neo4j]

Each data set is loaded into an emptied store (first load), then loaded again (the idempotent
re-load). The Neo4j server is NEO4J_URI when set, else a local one started in a temp folder.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kg.ingest import load_dir  # noqa: E402
from kg.store_nx import NetworkxStore  # noqa: E402


def neo4j_store(stack: list):
    from kg.store_neo4j import Neo4jStore

    if os.environ.get("NEO4J_URI"):
        return Neo4jStore(os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER", "neo4j"), os.environ.get("NEO4J_PASSWORD", ""))
    from kg.neo4j_local import server

    home = Path(tempfile.mkdtemp(prefix="kgrec-bench-neo4j-"))
    info = server.start(home, cache_root=Path.home() / ".cache" / "kgrec", browser=False)
    stack.append(lambda: server.stop(home))
    return Neo4jStore(info.uri, info.user, info.password)


def run(store, data: Path, batch_size: int) -> dict:
    store.clear()
    store.flush()
    row = {}
    for run_name in ("first", "again"):
        start = time.perf_counter()
        report = load_dir(store, data, batch_size=batch_size)
        total = time.perf_counter() - start
        row[run_name] = (report, total)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="*", type=Path,
                        default=[REPO.parent / "shared" / "data" / "amazon-industrial-scientific"])
    parser.add_argument("--synth", type=int, default=100_000, help="also a synthetic catalogue of N products (0: none)")
    parser.add_argument("--stores", default="embedded,neo4j")
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()

    datasets = list(args.data)
    tmp = Path(tempfile.mkdtemp(prefix="kgrec-bench-"))
    if args.synth:
        from kg.synth import generate

        generate(tmp / f"synth-{args.synth}", args.synth, seed=0)
        datasets.append(tmp / f"synth-{args.synth}")

    cleanup: list = []
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; batch size {args.batch_size}")
    print("| data set | store | products | products/s (catalogue phase, all edges) | interactions/s | relationships | relationships/s (whole load) | whole load s | re-load s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for name in args.stores.split(","):
            store = NetworkxStore(tmp / "embedded") if name == "embedded" else neo4j_store(cleanup)
            for data in datasets:
                row = run(store, data, args.batch_size)
                report, total = row["first"]
                p_s = report.products / report.seconds["products"] if report.seconds.get("products") else 0
                i_s = report.interactions / report.seconds["interactions"] if report.seconds.get("interactions") else 0
                print(f"| {data.name} | {name} | {report.products:,} | {p_s:,.0f} | {i_s:,.0f} | "
                      f"{report.relationships:,} | {report.relationships / total:,.0f} | {total:.1f} | {row['again'][1]:.1f} |",
                      flush=True)
            store.close()
    finally:
        for stop in cleanup:
            stop()


if __name__ == "__main__":
    main()

"""In-process cost of one recommendation request, by step: each ranker part, and explanations
by kind of path search.

Usage:
    python benchmarks/explain_bench.py [--users 500] [--k 10] [--seed 0] [--repeat 2]

Reads the current bundle and the configured store (KGREC_HOME, KGREC_STORE, ...) like
`fidelity_bench.py`, then for random known users times ``rank`` and ``explain`` as the service
calls them (no HTTP, one process), the ranker's parts one by one, and every ``find_paths`` call,
grouped by what asked for it (catalogue paths, co-purchase paths). The first pass over the users
is "cold" (empty path caches, as after a reload or a write); later passes ("warm") find the
store's caches filled. It shows where a request's milliseconds go before a load test
(`serve_bench.py`) shows how many requests a second the whole service answers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gnn.bundle import load_bundle  # noqa: E402
from gnn.hybrid.ranker import history_row  # noqa: E402
from service.config import load_config  # noqa: E402
from service import heap  # noqa: E402
from service.explain import explain  # noqa: E402
from service.recommend import rank  # noqa: E402
from service.requests import RecommendRequest  # noqa: E402
from service.state import ServingState  # noqa: E402
from service.stores import open_store  # noqa: E402


class TimedStore:
    """The store, with every ``find_paths`` call timed under a name for what asked for it."""

    def __init__(self, store, times: dict[str, list[float]]):
        self.store, self.times = store, times

    def find_paths(self, src, dst, **kw):
        kind = "co-purchase" if kw.get("through_users") else "catalogue"
        kind += f" k={kw.get('k', 3)} hops<={kw.get('max_hops', 4)}"
        t0 = time.perf_counter()
        try:
            return self.store.find_paths(src, dst, **kw)
        finally:
            self.times[kind].append(time.perf_counter() - t0)


def measure(state, store, users, k: int) -> dict[str, list[float]]:
    """Per step, one duration per request (per call for path searches), in seconds."""
    times: dict[str, list[float]] = defaultdict(list)
    timed = TimedStore(store, times)
    ranker = state.ranker
    n = len(state.product_ids)
    for u in users:
        req = RecommendRequest(user_id=state.bundle.node_ids["User"][u], k=k)
        t0 = time.perf_counter()
        ranking = rank(state, req)
        t1 = time.perf_counter()
        explain(state, ranking, timed)
        t2 = time.perf_counter()
        times["rank (all parts, blend, top-k)"].append(t1 - t0)
        times["explain (all items)"].append(t2 - t1)
        row = history_row(ranking.history, n)
        users_t = torch.tensor([int(u)])  # as `rank` passes a known user
        for name in ranker.used_parts:
            t0 = time.perf_counter()
            ranker.part_scores(row, users_t, [name])
            times[f"part {name}"].append(time.perf_counter() - t0)
    return times


def table(times: dict[str, list[float]], n_requests: int) -> list[str]:
    rows = ["| step | calls per request | mean ms per call | p99 ms per call | ms per request |",
            "|---|---:|---:|---:|---:|"]
    for name in sorted(times, key=lambda s: (not s.startswith(("rank", "explain")), s)):
        ms = np.asarray(times[name]) * 1e3
        rows.append(f"| {name} | {len(ms) / n_requests:.1f} | {ms.mean():.3f} | "
                    f"{np.percentile(ms, 99):.3f} | {ms.sum() / n_requests:.3f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2, help="passes over the users (first: cold)")
    args = ap.parse_args()
    config = load_config()
    state = ServingState(load_bundle(config.bundle_root))
    store = open_store(config)
    heap.settle()  # as the service does once a bundle and a store are loaded
    rng = np.random.default_rng(args.seed)
    counts = np.asarray(state.matrix.getnnz(axis=1))
    known = np.flatnonzero(counts >= 1)
    users = rng.choice(known, size=min(args.users, len(known)), replace=False)
    print(f"bundle {state.version}, store {store.name}; {len(users)} users, top-{args.k}")
    for i in range(args.repeat):
        times = measure(state, store, users, args.k)
        print(f"\npass {i + 1} ({'cold caches' if i == 0 else 'warm caches'})\n")
        print("\n".join(table(times, len(users))))
    store.close()


if __name__ == "__main__":
    main()

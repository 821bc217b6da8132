"""Explanation fidelity: the share of explanation paths whose edges, removed, lower the score.

Usage:
    python benchmarks/fidelity_bench.py [--users 100] [--k 10] [--seed 0]

Reads the current bundle and the configured store (KGREC_HOME, KGREC_STORE, ...), samples users,
ranks and explains their top-k as the service does, and for every path with an interaction edge
removes the path's interaction edges and re-scores the item (`service.fidelity`). A placebo row
removes instead one random item of the user's history that is not on the path.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gnn.bundle import load_bundle  # noqa: E402
from service.config import load_config  # noqa: E402
from service.explain import explain  # noqa: E402
from service.fidelity import fidelity, path_edges  # noqa: E402
from service.recommend import rank  # noqa: E402
from service.requests import RecommendRequest  # noqa: E402
from service.state import ServingState  # noqa: E402
from service.stores import open_store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    config = load_config()
    state = ServingState(load_bundle(config.bundle_root))
    store = open_store(config)
    rng = np.random.default_rng(args.seed)
    counts = np.asarray(state.matrix.getnnz(axis=1))
    users = rng.choice(np.flatnonzero(counts >= 2), size=args.users, replace=False)
    real, placebo, by_kind = [], [], {}
    t0 = time.perf_counter()
    for u in users:
        ranking = rank(state, RecommendRequest(user_id=state.bundle.node_ids["User"][u], k=args.k))
        for item, ex in zip(ranking.items, explain(state, ranking, store)):
            for path in ex.get("paths", []):
                value = fidelity(state, int(u), item, path)
                if value is None:
                    continue
                real.append(value)
                by_kind.setdefault(path["kind"], []).append(value)
                on_path = {p for _, p in path_edges(state, path)}
                others = [h for h in state.matrix[u].indices if h not in on_path]
                if others:
                    fake = {"nodes": [{"label": "User", "id": state.bundle.node_ids["User"][u]},
                                      {"label": "Product", "id": state.product_ids[rng.choice(others)]}],
                            "relationships": [{"type": "INTERACTED", "forward": True}]}
                    placebo.append(fidelity(state, int(u), item, fake))
    store.close()
    print(f"bundle {state.version}; {len(users)} users, top-{args.k}; "
          f"{time.perf_counter() - t0:.0f} s")
    print("| paths | n | share whose removal lowers the score |")
    print("|---|---:|---:|")
    print(f"| all explanation paths | {len(real)} | {np.mean(real):.3f} |")
    for kind, values in sorted(by_kind.items()):
        print(f"| {kind} | {len(values)} | {np.mean(values):.3f} |")
    print(f"| placebo: a random other history item removed | {len(placebo)} | {np.mean(placebo):.3f} |")


if __name__ == "__main__":
    main()

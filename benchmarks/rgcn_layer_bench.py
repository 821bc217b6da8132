"""R-GCN layer speed: PyG's RGCNConv against kgrec's FusedRGCNConv, forward + backward.

Usage:
    python benchmarks/rgcn_layer_bench.py [--nodes 1000000] [--edges 10000000] [--relations 10]
        [--dim 128] [--bases 4|none] [--device auto|cpu|cuda] [--repeat 20]

A random graph (uniform endpoints, uniform relation ids) and random features; both layers get
the same weights, their outputs are checked equal, then each forward+backward is timed (median
of --repeat after 3 warm-up runs; CUDA timings synchronise). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from torch_geometric.nn import RGCNConv  # noqa: E402

from gnn.layers import FusedRGCNConv  # noqa: E402


def timed(layer, x, edge_index, edge_type, repeat, device) -> float:
    def once():
        if x.grad is not None:
            x.grad = None
        layer.zero_grad(set_to_none=True)
        layer(x, edge_index, edge_type).sum().backward()

    for _ in range(3):
        once()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        once()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--relations", type=int, default=10)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--bases", default="4")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    bases = None if args.bases == "none" else int(args.bases)
    torch.manual_seed(0)
    x = torch.randn(args.nodes, args.dim, device=device, requires_grad=True)
    edge_index = torch.randint(0, args.nodes, (2, args.edges), device=device)
    edge_type = torch.randint(0, args.relations, (args.edges,), device=device)
    pyg = RGCNConv(args.dim, args.dim, args.relations, num_bases=bases, aggr="mean").to(device)
    fused = FusedRGCNConv(args.dim, args.dim, args.relations, num_bases=bases).to(device)
    fused.load_state_dict(pyg.state_dict())
    with torch.no_grad():
        diff = (pyg(x, edge_index, edge_type) - fused(x, edge_index, edge_type)).abs().max().item()
    rows = [(name, timed(layer, x, edge_index, edge_type, args.repeat, device))
            for name, layer in (("PyG RGCNConv", pyg), ("kgrec FusedRGCNConv", fused))]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    print(f"R-GCN layer, forward+backward: {args.nodes:,} nodes, {args.edges:,} edges, "
          f"{args.relations} relations, d={args.dim}, bases={bases}; {device.type} ({where}); "
          f"max |difference| {diff:.2e}")
    print("| layer | ms (median) | speed-up |")
    print("|---|---:|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} | {rows[0][1] / ms:.2f}x |")


if __name__ == "__main__":
    main()

"""Benchmark: kgrec's TextEncoder vs sentence-transformers, and encode_graph_texts cold/warm cache.

Encodes every product text of one data set (default: shared/data/amazon-industrial-scientific)
in one process, interleaving the contenders `--repeat` times so that load from other processes
hits all of them alike, and prints a table: texts, seconds (best of the repeats), median
seconds, texts/s (best), ratio to sentence-transformers. Every contender gets one small warm-up
call first. Example (from the repository root)::

    python benchmarks/encode_bench.py --device cpu --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "amazon-industrial-scientific"


def load_product_fields(folder: Path) -> list[dict]:
    """Fields dicts of every product in `folder`/products.jsonl (as kg.snapshot gives them)."""
    fields = []
    with (folder / "products.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            fields.append(
                {
                    "title": row.get("title", ""),
                    "description": row.get("description", ""),
                    "brand": row.get("brand"),
                    "category_path": row.get("category_path", []),
                    "attributes": row.get("attributes", {}),
                    "price": row.get("price"),
                }
            )
    return fields


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo, like `lscpu`), or the platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def time_runs(contenders: dict[str, Callable[[], int]], repeat: int) -> dict[str, list[float]]:
    """Runs each contender `repeat` times, interleaved; name → seconds of each run."""
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for round_ in range(repeat):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
            print(f"  round {round_ + 1}: {name}: {seconds[name][-1]:.2f} s", file=sys.stderr)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="data set folder")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0 … or auto")
    parser.add_argument("--batch-size", type=int, default=None, help="ours (default: auto)")
    parser.add_argument("--st-batch-size", type=int, default=32, help="sentence-transformers")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (best kept)")
    parser.add_argument("--no-float32", action="store_true", help="skip our float32 row")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(REPO))
    import torch
    from sentence_transformers import SentenceTransformer

    from llm.cache import EmbeddingCache
    from llm.encode_nodes import encode_graph_texts
    from llm.encoder import TextEncoder, default_model_path
    from llm.texts import product_text

    fields = load_product_fields(args.data)
    texts = [t for t in (product_text(f) for f in fields) if t is not None]
    device = None if args.device == "auto" else args.device
    ours = TextEncoder(device=device, batch_size=args.batch_size)
    st = SentenceTransformer(str(default_model_path()), device=str(ours.device))
    contenders: dict[str, Callable[[], object]] = {
        f"sentence-transformers encode() fp32, batch {args.st_batch_size}": lambda: st.encode(
            texts, batch_size=args.st_batch_size, normalize_embeddings=True
        ),
        f"TextEncoder.encode() {_dtype(ours)}, batch {ours.batch_size}": lambda: ours.encode(texts),
    }
    warm_ups = [lambda: st.encode(texts[:64]), lambda: ours.encode(texts[:64])]
    if not args.no_float32 and ours.dtype != torch.float32:
        exact = TextEncoder(device=device, batch_size=args.batch_size, dtype="float32")
        contenders[f"TextEncoder.encode() float32, batch {exact.batch_size}"] = lambda: (
            exact.encode(texts)
        )
        warm_ups.append(lambda: exact.encode(texts[:64]))
    for warm_up in warm_ups:  # first-call allocations and kernel selection are not timed
        warm_up()

    with tempfile.TemporaryDirectory(prefix="kgrec-bench-cache-") as tmp:
        graph = {"Product": fields}

        def cold() -> None:
            for shard in Path(tmp).rglob("*.npz"):
                shard.unlink()
            encode_graph_texts(graph, ours, EmbeddingCache(tmp), progress=False)

        def warm() -> None:
            _, stats = encode_graph_texts(graph, ours, EmbeddingCache(tmp), progress=False)
            assert stats.misses == 0, stats.summary()

        contenders["encode_graph_texts, cold cache (encode + write)"] = cold
        contenders["encode_graph_texts, warm cache (read from disk)"] = warm
        print(f"{len(texts)} product texts, device {ours.device}", file=sys.stderr)
        seconds = time_runs(contenders, args.repeat)

    reference = min(next(iter(seconds.values())))
    print(f"\nMachine: {cpu_model()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {ours.device}; "
          f"load average after the run {os.getloadavg()[0]:.1f}")
    print(f"Model: {ours.model_id}; {len(texts)} texts; best of {args.repeat} interleaved rounds\n")
    print("| run | texts | seconds (best) | seconds (median) | texts/s | ratio vs ST |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in seconds.items():
        best = min(runs)
        print(f"| {name} | {len(texts):,} | {best:.2f} | {statistics.median(runs):.2f} | "
              f"{len(texts) / best:,.0f} | {reference / best:.2f}× |")
    return 0


def _dtype(encoder) -> str:
    return str(encoder.dtype).removeprefix("torch.")


if __name__ == "__main__":
    raise SystemExit(main())

"""Runs recommenders on one split: test Recall/NDCG overall, cold and warm, coverage, novelty."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from gnn.eval.baselines.base import Recommender, TrainData
from gnn.eval.protocol import SETTINGS
from gnn.eval.split import Split
from kg.snapshot import GraphSnapshot

log = logging.getLogger(__name__)


def jsonable(value):
    """``value`` with numpy scalars/arrays, tuples and non-finite floats turned into JSON types."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def evaluate(
    snapshot: GraphSnapshot | None,
    text_features: np.ndarray,
    recommenders: Sequence[Recommender],
    split: Split,
    k: int = 20,
    *,
    seed: int = 0,
    progress: bool = False,
    node_text: dict[str, np.ndarray] | None = None,
    device: str = "cpu",
) -> dict:
    """Fits every recommender on the split's training part and ranks the test part.

    Args:
        snapshot: The snapshot the split was made from (handed to models that use KG edges).
        text_features: float32 [n_items, dim] item text vectors in Product index order.
        recommenders: Unfitted recommenders with distinct ``name``s (fitted in this order).
        split: The split.
        k: List length of every metric (default: 20).
        seed: Seed of the models' random choices (default: 0).
        progress: Show a tqdm bar over the recommenders on stderr.
        node_text: label -> text vectors of every node label (for the R-GCN models).
        device: Where torch models train.

    Returns:
        A JSON-serialisable dict: ``k``, ``split`` (its summary), ``methods`` (name -> {overall,
        cold, warm: {recall, ndcg, users, coverage, novelty}, params, fit_seconds,
        eval_seconds}) and ``seconds``.

    Raises:
        ValueError: For duplicate names, or features that do not match the split.
    """
    names = [r.name for r in recommenders]
    if len(set(names)) != len(names):
        raise ValueError(f"recommender names must be distinct, got {names}")
    start = time.perf_counter()
    data = TrainData.build(split, text_features, snapshot, k=k, seed=seed, device=device,
                           node_text=node_text)
    methods = {}
    bar = tqdm(recommenders, desc="evaluate", unit="model", disable=not progress)
    for rec in bar:
        bar.set_postfix_str(rec.name)
        t0 = time.perf_counter()
        rec.fit(data)
        t1 = time.perf_counter()
        results = data.evaluator.run(rec.score, "test", SETTINGS)
        t2 = time.perf_counter()
        methods[rec.name] = {s: results[s].to_dict() for s in SETTINGS} | {
            "params": jsonable(rec.params),
            "fit_seconds": round(t1 - t0, 2),
            "eval_seconds": round(t2 - t1, 2),
        }
        log.info("%s: fit %.1f s, test %.1f s, %s", rec.name, t1 - t0, t2 - t1,
                 {s: round(results[s].recall or 0.0, 4) for s in SETTINGS})
    return jsonable({
        "k": k,
        "split": split.summary(),
        "methods": methods,
        "seconds": round(time.perf_counter() - start, 2),
    })


def _fmt(value, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _params(params: Mapping) -> str:
    shown = {k: v for k, v in params.items() if k not in ("batch_size", "max_epochs", "patience")}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def format_table(results: Mapping, *, params: bool = True) -> str:
    """A markdown table of `evaluate`'s result (coverage and novelty of the overall ranking)."""
    k = results["k"]
    head = ["method", f"overall R@{k}", f"overall N@{k}", f"cold R@{k}", f"cold N@{k}",
            f"warm R@{k}", f"warm N@{k}", f"coverage@{k}", f"novelty@{k}", "fit s"]
    if params:
        head.append("chosen on validation")
    rule = "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"
    lines = ["| " + " | ".join(head) + " |", rule]
    for name, m in results["methods"].items():
        row = [name]
        for setting in SETTINGS:
            row += [_fmt(m[setting]["recall"]), _fmt(m[setting]["ndcg"])]
        overall = m["overall"]
        row += [_fmt(overall["coverage"], 3), _fmt(overall["novelty"], 2), f"{m['fit_seconds']:.1f}"]
        if params:
            row.append(_params(m.get("params") or {}))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def format_split(summary: Mapping) -> str:
    """One paragraph describing a split's sizes (for the CLI and docs)."""
    s = summary
    dropped = s["val_cold_rows_dropped"] + s["test_cold_rows_dropped"]
    return (
        f"split (seed {s['seed']}): {s['users']:,} users, {s['items']:,} items "
        f"({s['warm_items']:,} warm, {s['val_cold_items']:,} cold val, "
        f"{s['test_cold_items']:,} cold test); train {s['train_rows']:,} rows; "
        f"val {s['val_warm_rows']:,} warm + {s['val_cold_rows']:,} cold rows; "
        f"test {s['test_warm_rows']:,} warm + {s['test_cold_rows']:,} cold rows; "
        f"{s['moved_to_train']:,} moved to train, {dropped:,} cold rows dropped (user not in "
        f"train), {s['duplicates_merged']:,} duplicates merged"
    )

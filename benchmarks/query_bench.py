"""Query quality: kgrec's query entry point against BM25 and plain text-embedding kNN.

Usage:
    python benchmarks/query_bench.py DATA_DIR [--seed 0] [--max-users 2000]
        [--templates sentence,keywords] [--fallback none|title] [--with-history]
        [--max-epochs N] [--json]

For each test user of the evaluation split (`gnn.eval.split`, the split `kgrec evaluate` and
`kgrec train` use for ``--seed``), one of their held-out (test) items is drawn (seeded) and a
query is built from its category path and brand (`build_query`): the leaf category and the
brand, e.g. "I need Staples from Stanley" (template ``sentence``) or "Stanley Staples"
(``keywords``). All products, less the user's training and validation items (the protocol's
test exclusion), are ranked by

- ``kgrec query``: the service's query entry point (``POST /v1/recommendations`` with a
  ``query`` and no user): `service.query.scorer_for` builds `gnn.query.QueryScorer` (text
  cosine + `QueryProjection` into the R-GCN's product space + `EntityMatcher` boost) over an
  R-GCN trained on this split's training rows (the ``kgrec-rgcn`` of `kgrec evaluate`), and the
  query is encoded with `llm.encoder.TextEncoder.encode_query`, as the service does;
- ``bm25``: `rank_bm25.BM25Okapi` over product texts (title, description, brand, category
  path; lower-case ``[a-z0-9]+`` tokens);
- ``text-knn``: cosine of the same query vector with the products' text vectors;
- the query scorer's parts alone or less one (text is ``text-knn``);
- with ``--with-history``, the service's known-user entry point without and with the query
  (``{user_id}`` and ``{user_id, query}``), kgrec's hybrid ranker fitted on this split.

Figures (k = 20, `gnn.eval.metrics.RankingAccumulator` conventions, but equal scores ordered at
random per user, see `untie`): hit@20 / NDCG@20 of the item the query was built from
("source"), split by whether that item is cold (no training row) or warm; Recall@20 / NDCG@20
of all the user's test items, and of the ones besides the source. The R-GCN embeddings are
those of the training rows only, not a bundle's (a bundle re-embeds with every interaction,
test rows included).

A catalogue without brands and categories (e.g. amazon-luxury-beauty) has nothing to build
such a query from: with ``--fallback none`` (default) such items are never sources (and a data
set with none is reported as skipped); ``--fallback title`` uses the first TITLE_WORDS words of
the item's title instead, a known-item search, not the same task.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

K = 20
TITLE_WORDS = 5
#: Query templates by name: (brand and category, category only, brand only, title words only).
TEMPLATES: dict[str, tuple[str, str, str, str]] = {
    "sentence": ("I need {category} from {brand}", "I need {category}",
                 "I need something from {brand}", "I need {title}"),
    "keywords": ("{brand} {category}", "{category}", "{brand}", "{title}"),
}
_TOKEN = re.compile(r"[a-z0-9]+")


# --- queries and documents (pure functions, tested in tests/gnn/test_query_bench.py) -------------


def leaf_category(path) -> str | None:
    """The last non-empty segment of a category path (list of segments or "A > B" string)."""
    if isinstance(path, str):
        path = path.split(">")
    segments = [str(s).strip() for s in (path or []) if s is not None and str(s).strip()]
    return segments[-1] if segments else None


def title_words(title, n: int = TITLE_WORDS) -> str | None:
    """The first ``n`` whitespace-separated words of a title (None when it has none)."""
    words = str(title or "").split()
    return " ".join(words[:n]) if words else None


def build_query(fields: dict, template: str = "sentence", fallback: str = "none") -> str | None:
    """A natural-language query for a product from its leaf category and brand.

    Args:
        fields: Product fields of a `kg.snapshot.GraphSnapshot` (``brand``, ``category_path``,
            ``title``).
        template: A name of TEMPLATES.
        fallback: ``"none"`` (None when the product has neither brand nor category) or
            ``"title"`` (then its first TITLE_WORDS title words).

    Returns:
        The query, or None when nothing can be built.
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; known: {sorted(TEMPLATES)}")
    if fallback not in ("none", "title"):
        raise ValueError(f"unknown fallback {fallback!r}: expected 'none' or 'title'")
    both, category_only, brand_only, title_only = TEMPLATES[template]
    brand = str(fields.get("brand") or "").strip() or None
    category = leaf_category(fields.get("category_path"))
    if brand and category:
        return both.format(brand=brand, category=category)
    if category:
        return category_only.format(category=category)
    if brand:
        return brand_only.format(brand=brand)
    if fallback == "title":
        words = title_words(fields.get("title"))
        if words:
            return title_only.format(title=words)
    return None


def bm25_tokens(text: str) -> list[str]:
    """Lower-case ASCII word tokens (accents folded, everything else a separator)."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii")
    return _TOKEN.findall(folded.lower())


def product_document(fields: dict) -> list[str]:
    """BM25 tokens of a product: title, description, brand and category path."""
    path = fields.get("category_path") or []
    if isinstance(path, str):
        path = [path]
    parts = [fields.get("title"), fields.get("description"), fields.get("brand"), *path]
    return bm25_tokens(" ".join(str(p) for p in parts if p))


def cell_sizes(fields: list[dict], items) -> np.ndarray:
    """For each item, how many products share its brand and leaf category (itself included)."""
    key = [(f.get("brand"), leaf_category(f.get("category_path"))) for f in fields]
    counts: dict = {}
    for k in key:
        counts[k] = counts.get(k, 0) + 1
    return np.array([counts[key[i]] for i in items], dtype=np.int64)


def pick_sources(test_users: np.ndarray, test_items: np.ndarray, eligible: np.ndarray,
                 seed: int, max_users: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    """Users (sorted) and one source row each, drawn with ``seed``.

    Args:
        test_users, test_items: The test part's rows.
        eligible: bool [n_items] items a query can be built from.
        seed: Seed of the user sample and the source draw.
        max_users: Most users kept (a seeded sample), None for all.

    Returns:
        ``(users, rows, skipped)``: int64 [m] users, int64 [m] the index of each one's source row
        in the test rows, and how many test users had no eligible test item.
    """
    rng = np.random.default_rng(seed)
    users_all = np.unique(test_users)
    ok_rows = np.flatnonzero(eligible[test_items])
    order = ok_rows[np.argsort(test_users[ok_rows], kind="stable")]
    with_source, starts, counts = np.unique(test_users[order], return_index=True,
                                            return_counts=True)
    skipped = len(users_all) - len(with_source)
    keep = np.arange(len(with_source))
    if max_users is not None and len(keep) > max_users:
        keep = np.sort(rng.choice(len(keep), size=max_users, replace=False))
    picks = rng.integers(0, counts[keep])
    return with_source[keep], order[starts[keep] + picks], int(skipped)


# --- scoring -------------------------------------------------------------------------------------


class CachedBM25:
    """`rank_bm25.BM25Okapi` scores; per-token score vectors cached (BM25 is a sum over tokens)."""

    def __init__(self, documents: list[list[str]]) -> None:
        from rank_bm25 import BM25Okapi

        self.bm25 = BM25Okapi(documents)
        self._cache: dict[str, np.ndarray] = {}

    def scores(self, tokens: list[str]) -> np.ndarray:
        total = np.zeros(self.bm25.corpus_size, dtype=np.float64)
        for token in tokens:
            if token not in self._cache:
                self._cache[token] = np.asarray(self.bm25.get_scores([token]), dtype=np.float64)
            total += self._cache[token]
        return total


def untie(scores: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Scores with no ties: per row, the rank order of (score, then ``keys``) as float32.

    Equal scores are ordered by ``keys`` (uniform random numbers drawn per user and item), so
    a tie costs every item the same on average, user by user, rather than following the
    accumulator's one fixed item order (`gnn.eval.metrics.tie_order`) for every user.
    """
    order = np.lexsort((keys, scores), axis=-1)  # ascending score, then ascending key
    ranked = np.empty(scores.shape, dtype=np.float32)
    np.put_along_axis(ranked, order, np.arange(scores.shape[-1], dtype=np.float32)[None], -1)
    return ranked


def metrics(scores: np.ndarray, targets: np.ndarray, exclude: np.ndarray) -> tuple:
    """(recall per user, ndcg per user) at K, in row order (every row has a target).

    ``scores`` must have no ties (`untie`); `gnn.eval.metrics.RankingAccumulator` conventions.
    """
    import torch

    from gnn.eval.metrics import RankingAccumulator

    acc = RankingAccumulator(K, np.ones(scores.shape[1], dtype=bool), tie_seed=None)
    acc.update(torch.from_numpy(np.ascontiguousarray(scores, dtype=np.float32)),
               torch.from_numpy(targets), torch.from_numpy(exclude), np.arange(len(scores)))
    result = acc.result()
    if result.users != len(scores):
        raise AssertionError(f"{len(scores) - result.users} rows without a reachable target")
    order = np.argsort(result.user_index)
    return result.recall_per_user[order], result.ndcg_per_user[order]


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def summarise(scores, source_targets, all_targets, exclude, source_cold, tie_keys) -> dict:
    """Source hit / NDCG (all, cold, warm sources); Recall / NDCG of all and of the other items."""
    scores = untie(scores, tie_keys)
    hit, hit_ndcg = metrics(scores, source_targets, exclude)
    recall, ndcg = metrics(scores, all_targets, exclude)
    others = all_targets & ~source_targets
    rows = others.any(1)
    other_recall, other_ndcg = metrics(scores[rows], others[rows], exclude[rows])
    return {"source_hit": _mean(hit), "source_ndcg": _mean(hit_ndcg),
            "source_hit_cold": _mean(hit[source_cold]), "source_hit_warm": _mean(hit[~source_cold]),
            "recall": _mean(recall), "ndcg": _mean(ndcg),
            "other_recall": _mean(other_recall), "other_ndcg": _mean(other_ndcg),
            "users_with_others": int(rows.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--seed", type=int, default=0, help="split seed (as kgrec evaluate / train)")
    ap.add_argument("--max-users", type=int, default=2000,
                    help="seeded sample of test users (0: all)")
    ap.add_argument("--templates", default="sentence,keywords",
                    help=f"comma-separated, of {sorted(TEMPLATES)}")
    ap.add_argument("--fallback", choices=("none", "title"), default="none",
                    help="items with neither brand nor category: not used (none) or queried by "
                         "their first title words (title)")
    ap.add_argument("--with-history", action="store_true",
                    help="also the known-user entry point without and with the query")
    ap.add_argument("--max-epochs", type=int, default=None, help="R-GCN epoch bound (default 100)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = ap.parse_args()
    templates = [t.strip() for t in args.templates.split(",") if t.strip()]
    for t in templates:
        if t not in TEMPLATES:
            ap.error(f"unknown template {t!r}; known: {sorted(TEMPLATES)}")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the text model is a local package
    import torch

    from gnn.eval.baselines.base import TrainData, sparse_rows
    from gnn.eval.rgcn import RGCNRecommender
    from gnn.eval.split import split_snapshot
    from gnn.hybrid.blend import standardise as row_standardise
    from gnn.query import DEFAULT_WEIGHTS, standardise
    from kg.schema import BRAND, CATEGORY, PRODUCT
    from llm.encoder import TextEncoder
    from service.config import load_config
    from service.query import query_scores, scorer_for
    from service.texts import encode_snapshot, read_snapshot

    timings: dict[str, float] = {}
    t_all = t = time.perf_counter()
    config = load_config()
    snapshot = read_snapshot(config, args.data_dir)
    timings["load_s"] = time.perf_counter() - t
    fields = snapshot.node_fields[PRODUCT]
    n_items = len(fields)
    split = split_snapshot(snapshot, seed=args.seed)
    eligible = np.array([build_query(f, templates[0], args.fallback) is not None for f in fields])
    has_kg = {"products": n_items,
              "with_brand": int(sum(bool(f.get("brand")) for f in fields)),
              "with_category": int(sum(bool(f.get("category_path")) for f in fields))}
    max_users = args.max_users or None
    users, rows, skipped = pick_sources(split.test.users, split.test.items, eligible, args.seed,
                                        max_users)
    out: dict = {"data_dir": str(args.data_dir), "seed": args.seed, "k": K,
                 "fallback": args.fallback, "catalogue": has_kg, "split": split.summary(),
                 "test_users": int(np.unique(split.test.users).size),
                 "users_without_source": skipped, "users": int(len(users))}
    if not len(users):
        out["skipped"] = ("no test item has a brand or a category to build a query from "
                          "(try --fallback title)")
        print(json.dumps(out, indent=2) if args.json else f"{args.data_dir}: {out['skipped']}")
        return

    t = time.perf_counter()
    vectors, stats, _ = encode_snapshot(config, snapshot)
    timings["encode_catalogue_s"] = time.perf_counter() - t
    device = "cuda" if config.device == "cuda" or (
        config.device == "auto" and torch.cuda.is_available()) else "cpu"
    data = TrainData.build(split, vectors[PRODUCT], snapshot, k=K, seed=args.seed, device=device,
                           node_text=vectors)
    train_options = {"max_epochs": args.max_epochs} if args.max_epochs else {}
    t = time.perf_counter()
    rec = RGCNRecommender(train_options=train_options).fit(data)
    timings["rgcn_fit_s"] = time.perf_counter() - t
    out["rgcn"] = rec.params

    # The service's query scorer over this split's R-GCN (service.query.scorer_for reads a
    # serving state: bundle.graph.features, bundle.product_emb, snapshot, query_scorer).
    state = SimpleNamespace(
        bundle=SimpleNamespace(graph=rec.graph, product_emb=rec.result.embeddings.items.numpy()),
        snapshot=snapshot, query_scorer=None)
    scorer = scorer_for(state)
    out["projection"] = repr(scorer.projection)
    encoder = TextEncoder(config.model, device=None if config.device == "auto" else config.device)
    out["text_model"] = encoder.model_id
    text = np.asarray(vectors[PRODUCT], dtype=np.float32)
    norms = np.linalg.norm(text, axis=1, keepdims=True)
    text = np.divide(text, norms, out=np.zeros_like(text), where=norms > 0)
    t = time.perf_counter()
    bm25 = CachedBM25([product_document(f) for f in fields])
    timings["bm25_index_s"] = time.perf_counter() - t

    m = len(users)
    test = split.test
    sources = test.items[rows]
    source_cold = test.is_cold[rows]
    exclude = data.evaluator.exclude("test")[users].toarray() != 0
    all_targets = data.evaluator.targets("test")[users].toarray() != 0
    source_targets = np.zeros((m, n_items), dtype=bool)
    source_targets[np.arange(m), sources] = True
    tie_keys = np.random.default_rng([args.seed, 1]).random((m, n_items))  # see `untie`
    cells = cell_sizes(fields, sources)
    out["source_items"] = {"cold": int(source_cold.sum()), "warm": int((~source_cold).sum()),
                           "same_brand_and_leaf_median": float(np.median(cells)),
                           "same_brand_and_leaf_mean": round(float(cells.mean()), 2),
                           "same_brand_and_leaf_at_most_20": round(float((cells <= 20).mean()), 4)}

    history = None
    if args.with_history:
        from gnn.eval.kgrec import shared_ranker

        t = time.perf_counter()
        ranker, _, _ = shared_ranker(data, {"model_options": {}, "train_options": train_options})
        history = np.zeros((m, n_items), dtype=np.float32)
        for begin in range(0, m, 512):  # as service.recommend.rank for a known user
            batch = torch.from_numpy(users[begin : begin + 512])
            z = ranker.part_scores(sparse_rows(data.matrix, batch), batch, ranker.used_parts)
            history[begin : begin + 512] = ranker.blend.combine(z, ranker.cold_items).numpy()
        timings["hybrid_fit_and_score_s"] = time.perf_counter() - t

    variants = {  # the query scorer's parts: weights over {text, projection, entity}
        "kgrec query": dict(DEFAULT_WEIGHTS),
        "  query: no entity": {**DEFAULT_WEIGHTS, "entity": 0.0},
        "  query: no projection": {**DEFAULT_WEIGHTS, "projection": 0.0},
        "  query: entity only": {"text": 0.0, "projection": 0.0, "entity": 1.0},
        "  query: projection only": {"text": 0.0, "projection": 1.0, "entity": 0.0},
    }
    out["templates"] = {}
    for template in templates:
        queries = [build_query(fields[i], template, args.fallback) for i in sources]
        scores = {name: np.zeros((m, n_items), dtype=np.float32)
                  for name in [*variants, "bm25", "text-knn"]}
        seconds = {name: 0.0 for name in ("encode (batched)", "kgrec query", "bm25", "text-knn")}
        matched = {"brand": 0, "category (name)": 0, "category (vector)": 0, "nothing": 0}
        source_brand_hit = 0
        brand_missed: dict[str, int] = {}
        t = time.perf_counter()
        # in one call (the service encodes one query per request: the same vectors, ~10x slower)
        query_vectors = np.asarray(encoder.encode_query(queries)).reshape(m, -1)
        seconds["encode (batched)"] += time.perf_counter() - t
        for j, (item, query) in enumerate(zip(sources, queries)):
            vector = query_vectors[j]
            t = time.perf_counter()
            full, matches = scorer.score(vector, query)  # = service.query.query_scores
            seconds["kgrec query"] += time.perf_counter() - t
            if j < 3:  # the same figures as the service's own function / rank_bm25's own
                same, _ = query_scores(state, encoder, query)
                single = np.asarray(encoder.encode_query(query)).reshape(-1)
                assert np.allclose(same, scorer.score(single, query)[0], atol=1e-5)
                cosine = single @ vector / (np.linalg.norm(single) * np.linalg.norm(vector))
                assert cosine > 0.9999, f"batched query vector differs: cosine {cosine}"
                tokens = bm25_tokens(query)
                assert np.allclose(bm25.scores(tokens), bm25.bm25.get_scores(tokens))
            scores["kgrec query"][j] = full
            parts, _ = scorer.parts(vector, query)
            for name, weights in list(variants.items())[1:]:
                total = np.zeros(n_items, dtype=np.float64)
                for part, values in parts.items():
                    if weights.get(part):
                        total += weights[part] * standardise(values)
                scores[name][j] = total
            t = time.perf_counter()
            scores["bm25"][j] = bm25.scores(bm25_tokens(query))
            seconds["bm25"] += time.perf_counter() - t
            t = time.perf_counter()
            scores["text-knn"][j] = text @ (vector / max(float(np.linalg.norm(vector)), 1e-12))
            seconds["text-knn"] += time.perf_counter() - t
            labels = {mt.label for mt in matches if mt.how == "name"}
            matched["brand"] += BRAND in labels
            matched["category (name)"] += CATEGORY in labels
            matched["category (vector)"] += any(mt.how == "vector" for mt in matches)
            matched["nothing"] += not matches
            brand_ids = {mt.id for mt in matches if mt.label == BRAND}
            made_by = snapshot.edges["MADE_BY"]
            own = {snapshot.node_ids[BRAND][b] for b in made_by[1][made_by[0] == item]}
            source_brand_hit += bool(brand_ids & own)
            if own and not brand_ids & own:
                name = fields[item].get("brand") or "?"
                brand_missed[name] = brand_missed.get(name, 0) + 1
        if history is not None:
            # service.recommend.rank: the blend plus the standardised query scores
            q = row_standardise(torch.from_numpy(scores["kgrec query"])).numpy()
            scores["kgrec user (no query)"] = history
            scores["kgrec user + query"] = history + q
        t = time.perf_counter()
        result = {name: summarise(s, source_targets, all_targets, exclude, source_cold, tie_keys)
                  for name, s in scores.items()}
        timings[f"metrics_{template}_s"] = time.perf_counter() - t
        out["templates"][template] = {
            "examples": queries[:5],
            "matches": {k_: round(v / m, 4) for k_, v in matched.items()}
                       | {"source item's brand": round(source_brand_hit / m, 4)},
            "brands_not_matched": dict(sorted(brand_missed.items(), key=lambda kv: -kv[1])[:10]),
            "ms_per_query": {k_: round(1000 * v / m, 3) for k_, v in seconds.items()},
            "methods": result,
        }
    timings["total_s"] = time.perf_counter() - t_all
    out["timings"] = {k_: round(v, 1) for k_, v in timings.items()}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print_tables(out)


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.4f}"


def print_tables(out: dict) -> None:
    c = out["catalogue"]
    print(f"query quality on {out['data_dir']} (seed {out['seed']}, k={out['k']}): "
          f"{out['users']} test users ({out['test_users']} in the split, "
          f"{out['users_without_source']} without a test item to build a query from); "
          f"source items {out['source_items']['cold']} cold, {out['source_items']['warm']} warm "
          f"(products sharing the source's brand and leaf category: median "
          f"{out['source_items'].get('same_brand_and_leaf_median')}, share <= 20 "
          f"{out['source_items'].get('same_brand_and_leaf_at_most_20')}); "
          f"catalogue {c['products']} products, {c['with_brand']} with brand, "
          f"{c['with_category']} with category; fallback {out['fallback']}")
    print(f"R-GCN on the split's training rows: {out['rgcn']}; {out['projection']}")
    for template, res in out["templates"].items():
        print(f"\ntemplate {template!r}, e.g. " + "; ".join(repr(q) for q in res["examples"][:3]))
        print("query named: " + ", ".join(f"{k} {v:.3f}" for k, v in res["matches"].items()))
        if res.get("brands_not_matched"):
            print(f"source brands not recognised: {res['brands_not_matched']}")
        print("ms/query: " + ", ".join(f"{k} {v:.2f}" for k, v in res["ms_per_query"].items()))
        print("")
        others = next(iter(res["methods"].values()))["users_with_others"]
        print(f"(other held-out: the {others} users with test items besides the source)\n")
        print("| method | source hit@20 | source N@20 | cold source hit@20 | warm source hit@20 "
              "| all held-out R@20 | all held-out N@20 | other held-out R@20 "
              "| other held-out N@20 |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, r in res["methods"].items():
            print(f"| {name.strip()} | {_fmt(r['source_hit'])} | {_fmt(r['source_ndcg'])} | "
                  f"{_fmt(r['source_hit_cold'])} | {_fmt(r['source_hit_warm'])} | "
                  f"{_fmt(r['recall'])} | {_fmt(r['ndcg'])} | {_fmt(r['other_recall'])} | "
                  f"{_fmt(r['other_ndcg'])} |")
    print("\ntimings (s): " + ", ".join(f"{k} {v}" for k, v in out["timings"].items()))


if __name__ == "__main__":
    main()

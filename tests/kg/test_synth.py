"""Tests for kg.synth: the synthetic catalogue generator used for scale benchmarks."""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from kg.synth import SynthStats, generate

N_PRODUCTS = 2000
HEADER = ["user_id", "item_id", "timestamp", "rating", "kind"]


def _key(brand: str) -> str:
    return re.sub(r"[^a-z0-9]", "", brand.lower())


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthStats, list[dict], list[dict]]:
    out = tmp_path_factory.mktemp("synth") / "nested" / "dir"  # created by generate()
    stats = generate(out, N_PRODUCTS, seed=0)
    with open(stats.products_path, encoding="utf-8") as f:
        products = [json.loads(line) for line in f]
    with open(stats.interactions_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        assert header == HEADER
        rows = [dict(zip(header, r)) for r in reader]
    return stats, products, rows


def test_files_exist_and_parse(synth: tuple[SynthStats, list[dict], list[dict]]) -> None:
    stats, products, rows = synth
    out = stats.products_path.parent
    assert stats.products_path == out / "products.jsonl"
    assert stats.interactions_path == out / "interactions.csv"
    assert sorted(p.name for p in out.iterdir()) == ["interactions.csv", "products.jsonl"]
    first_line = stats.interactions_path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first_line == "user_id,item_id,timestamp,rating,kind"

    ids = [p["id"] for p in products]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == len(ids) == N_PRODUCTS == stats.n_products
    for p in products:
        assert isinstance(p["title"], str) and p["title"]
        assert isinstance(p["description"], str) and p["description"]
        assert isinstance(p["brand"], str) and p["brand"]
        assert 3 <= len(p["category_path"]) <= 5
        assert all(isinstance(c, str) and c for c in p["category_path"])
        assert isinstance(p["price"], float) and p["price"] > 0
        for k, v in p.get("attributes", {}).items():
            assert isinstance(k, str) and isinstance(v, (str, int, float))
        for rel in p.get("related", {}).values():
            assert rel and p["id"] not in rel and len(set(rel)) == len(rel)

    id_set = set(ids)
    assert all(r in id_set for p in products for rel in p.get("related", {}).values() for r in rel)
    assert len(rows) == stats.n_interactions
    assert len({r["user_id"] for r in rows}) == stats.n_users
    for r in rows:
        assert r["item_id"] in id_set
        ts = datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
        assert ts.utcoffset() == timedelta(0)
        assert r["timestamp"].endswith("Z")
        assert r["rating"] in {"1", "2", "3", "4", "5"}
        assert r["kind"] in {"view", "purchase", "review"}


def test_counts_and_shape(synth: tuple[SynthStats, list[dict], list[dict]]) -> None:
    stats, products, rows = synth
    # About 15 interactions per product, median about 5 per user, no repeated (user, item).
    assert 13 * N_PRODUCTS <= len(rows) <= 16 * N_PRODUCTS
    per_user = Counter(r["user_id"] for r in rows)
    assert 4 <= statistics.median(per_user.values()) <= 6
    pairs = [(r["user_id"], r["item_id"]) for r in rows]
    assert len(set(pairs)) == len(pairs)
    # Every product's path is a leaf: no path is a proper prefix of another.
    paths = {tuple(p["category_path"]) for p in products}
    assert stats.n_categories == len(paths)
    assert not any(a != b and b[: len(a)] == a for a in paths for b in paths)
    assert 3 <= len({p[0] for p in paths}) <= 15
    assert {len(p) for p in paths} >= {3, 4}  # depth varies
    # Descriptions sometimes carry HTML tags or entities.
    descs = [p["description"] for p in products]
    assert sum("<" in d for d in descs) > N_PRODUCTS // 50
    assert sum("&amp;" in d or "&quot;" in d for d in descs) > N_PRODUCTS // 50
    # Related items are mostly in the same leaf or of the same brand.
    by_id = {p["id"]: p for p in products}
    same = total = 0
    for p in products:
        for r in p.get("related", {}).get("also_bought", []):
            q = by_id[r]
            total += 1
            same += q["category_path"] == p["category_path"] or _key(q["brand"]) == _key(p["brand"])
    assert total > N_PRODUCTS and same / total > 0.6


def test_timestamps_increase_within_user(synth: tuple[SynthStats, list[dict], list[dict]]) -> None:
    _, _, rows = synth
    last: dict[str, datetime] = {}
    lo = datetime(2010, 1, 1, tzinfo=timezone.utc)
    hi = datetime(2030, 1, 1, tzinfo=timezone.utc)
    for r in rows:
        ts = datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
        assert lo < ts < hi
        prev = last.get(r["user_id"])
        assert prev is None or ts > prev
        last[r["user_id"]] = ts


def test_brand_popularity_is_skewed(synth: tuple[SynthStats, list[dict], list[dict]]) -> None:
    stats, products, _ = synth
    per_brand = Counter(_key(p["brand"]) for p in products)
    assert len(per_brand) == stats.n_brands
    assert 30 <= stats.n_brands <= 150  # grows with catalogue size (~ n / 30)
    counts = sorted(per_brand.values(), reverse=True)
    assert counts[0] >= 8 * statistics.median(counts)


def test_brand_spelling_variants(synth: tuple[SynthStats, list[dict], list[dict]]) -> None:
    stats, products, _ = synth
    spellings: dict[str, set[str]] = defaultdict(set)
    for p in products:
        spellings[_key(p["brand"])].add(p["brand"])
    varied = [s for s in spellings.values() if len(s) >= 2]
    assert len(varied) >= 5
    assert any(len(s) >= 3 for s in varied)
    assert stats.n_brand_spellings == sum(len(s) for s in spellings.values())
    # Variants differ in case/spacing/punctuation only -- never in letters.
    for s in varied:
        assert len({_key(b) for b in s}) == 1


def test_users_concentrate_on_favourite_categories(
    synth: tuple[SynthStats, list[dict], list[dict]],
) -> None:
    _, products, rows = synth
    root = {p["id"]: p["category_path"][0] for p in products}
    users = [r["user_id"] for r in rows]
    items = [r["item_id"] for r in rows]

    def top_root_share(item_list: list[str]) -> float:
        per_user: dict[str, list[str]] = defaultdict(list)
        for u, i in zip(users, item_list):
            per_user[u].append(root[i])
        shares = [Counter(rs).most_common(1)[0][1] / len(rs)
                  for rs in per_user.values() if len(rs) >= 5]
        return float(np.mean(shares))

    observed = top_root_share(items)
    shuffled = list(np.random.default_rng(0).permutation(items))
    baseline = top_root_share(shuffled)  # same popularity, no user affinity
    print(f"top-root share {observed:.3f} vs shuffled {baseline:.3f}")
    assert observed > baseline + 0.15, (observed, baseline)
    assert observed > 0.65


def test_deterministic(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", 300, seed=7, interactions_per_product=5.0)
    b = generate(tmp_path / "b", 300, seed=7, interactions_per_product=5.0)
    c = generate(tmp_path / "c", 300, seed=8, interactions_per_product=5.0)
    assert a.products_path.read_bytes() == b.products_path.read_bytes()
    assert a.interactions_path.read_bytes() == b.interactions_path.read_bytes()
    assert a.products_path.read_bytes() != c.products_path.read_bytes()
    assert a.interactions_path.read_bytes() != c.interactions_path.read_bytes()


def test_overwrite_and_explicit_users(tmp_path: Path) -> None:
    generate(tmp_path, 50, seed=1)
    stats = generate(tmp_path, 50, n_users=20, seed=1, interactions_per_product=4.0)
    assert stats.n_users == 20
    with open(stats.interactions_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len({r["user_id"] for r in rows}) == 20
    assert 100 <= len(rows) <= 210  # ~200 asked; repeats in a 50-item catalogue are dropped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["interactions.csv", "products.jsonl"]


def test_interrupted_run_leaves_no_partial_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kg.synth.generator as synth_mod

    old = generate(tmp_path, 40, seed=3)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def boom(f, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        f.write(b"user_id,item_id,timestamp,rating,kind\nU1,P1,")
        raise KeyboardInterrupt

    monkeypatch.setattr(synth_mod, "write_interactions", boom)
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path, 60, seed=4)
    # The old files are untouched and no temporary file is left behind.
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert old.products_path.exists()


def test_tiny_catalogue(tmp_path: Path) -> None:
    stats = generate(tmp_path, 1, seed=0, progress=True)
    assert stats.n_products == 1 and stats.n_brands == 1 and stats.n_categories == 1
    lines = stats.interactions_path.read_text().splitlines()
    assert lines[0] == ",".join(HEADER) and len(lines) - 1 == stats.n_interactions >= 1


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_products": 0}, "n_products"),
        ({"n_products": -5}, "n_products"),
        ({"n_products": 2.5}, "n_products"),
        ({"n_products": 10, "n_users": 0}, "n_users"),
        ({"n_products": 10, "seed": -1}, "seed"),
        ({"n_products": 10, "interactions_per_product": 0.0}, "interactions_per_product"),
        ({"n_products": 10, "interactions_per_product": float("nan")},
         "interactions_per_product"),
    ],
)
def test_invalid_arguments(tmp_path: Path, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        generate(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()

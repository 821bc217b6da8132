"""Path search against a brute-force reference, on random catalogues with hub brands/categories.

The embedded store's bidirectional search must return exactly what enumerating every simple
path does (and, with the server, what Neo4j returns), for every argument the service passes.
"""

from __future__ import annotations

import random

import pytest

from kg.ingest import load_dir
from kg.schema import EXPLANATION_RELS, USER
from kg.store import GraphPath, Hop
from kg.store_nx import NetworkxStore
from tests.conftest import write_dataset

# (k, max_hops, through_users, rel_types): the calls service/explain.py and `kgrec stats` make
CALLS = [(1, 3, False, EXPLANATION_RELS), (2, 3, False, EXPLANATION_RELS), (2, 2, False, EXPLANATION_RELS),
         (12, 3, True, EXPLANATION_RELS), (1, 3, True, EXPLANATION_RELS), (2, 4, False, EXPLANATION_RELS),
         (50, 4, True, ("INTERACTED", "MADE_BY")), (2, 3, True, ("INTERACTED",)),
         (1, 3, True, ("INTERACTED",))]


def random_catalogue(folder, seed: int, n_products: int = 40, n_users: int = 15):
    """Few brands and categories (hubs), attributes, related links both ways, repeated purchases."""
    rng = random.Random(seed)
    products = []
    for i in range(n_products):
        p = {"id": f"p{i}", "title": f"product {i}"}
        if rng.random() < 0.8:
            p["brand"] = f"Brand {rng.randrange(4)}"
        if rng.random() < 0.8:
            p["category_path"] = ["Root", f"Cat {rng.randrange(3)}", f"Leaf {rng.randrange(3)}"]
        if rng.random() < 0.5:
            p["attributes"] = {"colour": rng.choice(["red", "blue"])}
        if rng.random() < 0.4:
            p["related"] = {"also_bought": [f"p{rng.randrange(n_products)}" for _ in range(2)]}
        products.append(p)
    rows = [(f"u{rng.randrange(n_users)}", f"p{rng.randrange(n_products)}",
             f"2020-01-{d % 28 + 1:02d}T00:00:00Z", "") for d in range(4 * n_users)]
    return write_dataset(folder, products, rows)


def brute_force(store: NetworkxStore, src, dst, k, max_hops, through_users, rel_types) -> list[GraphPath]:
    """Every simple path up to max_hops by plain DFS, then the contract's cut: all paths of each
    length before longer ones, stop once k are found, order by sort_key."""
    types = set(rel_types)
    by_len: dict[int, list[GraphPath]] = {}

    def walk(nodes, hops):
        node = nodes[-1]
        if node == dst:
            by_len.setdefault(len(hops), []).append(store._path(nodes, hops))
            return
        if len(hops) == max_hops or (len(nodes) > 1 and node[0] == USER and not through_users):
            return
        edges = [(o, Hop(d["type"], True)) for _, o, d in store.g.out_edges(node, data=True)]
        edges += [(o, Hop(d["type"], False)) for o, _, d in store.g.in_edges(node, data=True)]
        for other, hop in edges:
            if hop.rel in types and other not in nodes:
                walk(nodes + [other], hops + [hop])

    if src in store.g and dst in store.g and src != dst:
        walk([src], [])
    found: list[GraphPath] = []
    for length in sorted(by_len):
        found += by_len[length]
        if len(found) >= k:
            break
    return sorted(found, key=GraphPath.sort_key)[:k]


def endpoint_pairs(store: NetworkxStore, rng: random.Random, n: int) -> list[tuple]:
    nodes = sorted(store.g.nodes)
    users = [x for x in nodes if x[0] == USER]
    products = [x for x in nodes if x[0] == "Product"]
    others = [x for x in nodes if x[0] not in (USER, "Product")]
    pairs = [(rng.choice(users), rng.choice(products)) for _ in range(n)]
    pairs += [(rng.choice(others), rng.choice(products)) for _ in range(n // 2)]
    pairs += [(rng.choice(products), rng.choice(products)) for _ in range(n // 2)]
    return pairs


@pytest.mark.parametrize("seed", range(4))
def test_bidirectional_search_equals_brute_force(tmp_path, seed):
    store = NetworkxStore()
    load_dir(store, random_catalogue(tmp_path / "cat", seed))
    rng = random.Random(seed)
    checked = nonempty = 0
    for src, dst in endpoint_pairs(store, rng, 30):
        for k, hops, users, rels in CALLS:
            got = store.find_paths(src, dst, k=k, max_hops=hops, through_users=users, rel_types=rels)
            assert got == brute_force(store, src, dst, k, hops, users, rels), (src, dst, k, hops, users)
            checked += 1
            nonempty += bool(got)
    assert nonempty > checked // 3  # the random graphs do have paths to compare


def test_reciprocal_links_are_two_paths_in_a_fixed_order(tmp_path):
    products = [{"id": "a", "title": "A", "related": {"also_bought": ["b"]}},
                {"id": "b", "title": "B", "related": {"also_bought": ["a"]}}]
    store = NetworkxStore()
    load_dir(store, write_dataset(tmp_path / "d", products, []))
    paths = store.find_paths(("Product", "a"), ("Product", "b"), k=5)
    assert [[h.forward for h in p.hops] for p in paths] == [[False], [True]]


@pytest.mark.neo4j
def test_both_stores_find_the_same_paths_on_a_random_catalogue(neo4j_store, tmp_path):
    folder = random_catalogue(tmp_path / "cat", 7, n_products=30, n_users=10)
    embedded = NetworkxStore()
    for s in (embedded, neo4j_store):
        load_dir(s, folder)
    rng = random.Random(7)
    for src, dst in endpoint_pairs(embedded, rng, 8):
        for k, hops, users, rels in CALLS[:4]:
            a = embedded.find_paths(src, dst, k=k, max_hops=hops, through_users=users, rel_types=rels)
            b = neo4j_store.find_paths(src, dst, k=k, max_hops=hops, through_users=users, rel_types=rels)
            assert a == b, (src, dst, k, hops, users)


def test_a_write_is_seen_by_the_next_search(tmp_path):
    products = [{"id": "a", "title": "A"}, {"id": "b", "title": "B", "brand": "Acme"}]
    store = NetworkxStore()
    load_dir(store, write_dataset(tmp_path / "d", products, []))
    assert store.find_paths(("Product", "a"), ("Product", "b")) == []  # a's (no) neighbours cached
    load_dir(store, write_dataset(tmp_path / "delta", [dict(products[0], brand="Acme")], []))
    paths = store.find_paths(("Product", "a"), ("Product", "b"))
    assert [p.nodes[1] for p in paths] == [("Brand", "acme")]
    store.clear()
    assert store.find_paths(("Product", "a"), ("Product", "b")) == []


def test_path_order_is_the_order_of_label_id_strings():
    """path_sort_key compares (label, id) tuples; that orders like "label:id" strings only while
    no label is a prefix of another, which this checks too."""
    from kg.schema import LABELS
    from kg.store import path_sort_key

    assert not [(a, b) for a in LABELS for b in LABELS if a != b and b.startswith(a)]
    rng = random.Random(3)
    ids = ["a", "a b", "a:b", "ab", "B", "", "z~", "é", "1", "10", "9"]
    paths = []
    for _ in range(400):
        n = rng.randint(2, 4)
        nodes = tuple((rng.choice(LABELS), rng.choice(ids)) for _ in range(n))
        hops = tuple(Hop(rng.choice(EXPLANATION_RELS), rng.random() < 0.5) for _ in range(n - 1))
        paths.append((nodes, hops))

    def as_strings(p):
        nodes, hops = p
        return (len(hops), tuple(f"{l}:{i}" for l, i in nodes), tuple(h.rel for h in hops),
                tuple(h.forward for h in hops))

    assert sorted(paths, key=lambda p: path_sort_key(*p)) == sorted(paths, key=as_strings)
    assert GraphPath(paths[0][0], paths[0][1]).sort_key() == path_sort_key(*paths[0])


def test_cached_half_paths_leave_the_collectors_view(tmp_path):
    """The search's cache holds hundreds of thousands of half-paths at 100k products: once the
    collector has passed, none of their tuples may stay tracked, or every later collection walks
    them (a 1.6 s full pass in a request at 100k, with hops as `Hop` objects inside)."""
    import gc

    store = NetworkxStore()
    load_dir(store, random_catalogue(tmp_path / "cat", 3))
    rng = random.Random(3)
    for src, dst in endpoint_pairs(store, rng, 20):
        store.find_paths(src, dst, k=2, max_hops=3, through_users=True)
    gc.collect()
    gc.collect()  # a tuple inside a tuple is let go one pass after the inner one
    halves = [half for key, levels in store._path_cache.items() if key[0] == "half"
              for level in levels for by_tip in level[:1] for tip_halves in by_tip.values()
              for half in tip_halves]
    hops = [hop for key, found in store._path_cache.items() if key[0] == "adjacency"
            for _, hop in found]
    assert len(halves) > 100 and hops
    assert not any(gc.is_tracked(half) for half in halves)
    assert not any(gc.is_tracked(hop) for hop in hops)

"""``products.jsonl`` of the synthetic catalogue: titles, descriptions, attributes, prices."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import IO, Any

import numpy as np

from .arrays import offsets, sample_range
from .catalogue import Catalogue
from .names import ADJECTIVES, ATTRIBUTES, USES, normalise_brand
from .writer import progress_bar


def write_products(
    f: IO[str], rng: np.random.Generator, cat: Catalogue,
    brands: Sequence[tuple[str, list[str]]], pids: list[str], progress: bool,
) -> set[str]:
    """Write one JSON object per product to ``f``, in product order.

    Args:
        f: the open (text) ``products.jsonl``.
        rng: the products' random generator (advanced here).
        cat: the catalogue model.
        brands: (canonical name, spelling variants) per brand index.
        pids: product ids, by product index.
        progress: show a tqdm progress bar.

    Returns:
        The distinct brand strings written, variants included.
    """
    n, tree = cat.n, cat.tree
    n_brands = len(brands)
    n_roots = int(tree.leaf_root.max()) + 1

    # Brand spellings: some brands (more often the big ones) have variants in use.
    brand_rank = np.argsort(np.argsort(-np.bincount(cat.brand, minlength=n_brands), kind="stable"))
    p_var = np.where(brand_rank < max(3, 0.05 * n_brands), 0.6, 0.15)
    has_var = rng.random(n_brands) < p_var
    use_var = has_var[cat.brand] & (rng.random(n) < 0.35)
    var_pick = rng.integers(0, 1 << 30, size=n)
    model_prefix = [normalise_brand(c)[:2].upper() for c, _ in brands]

    # Titles, descriptions.
    adj = rng.integers(0, len(ADJECTIVES), size=n)
    model_num = rng.integers(100, 100_000, size=n)
    model_dash = rng.random(n) < 0.5
    pack = rng.random(n) < 0.1
    pack_n = rng.choice((2, 3, 4, 6, 10, 12, 25), size=n)
    use = rng.integers(0, len(USES), size=n)
    desc_kind = rng.random(n)  # < 0.1: HTML tags, < 0.2: entities, else plain
    desc_tmpl = rng.integers(0, 3, size=n)

    # Attributes: each root has its own key set; each product shows most of its keys.
    n_keys = len(ATTRIBUTES)
    root_keys = rng.random((n_roots, n_keys)) < 0.6
    root_keys[np.arange(n_roots), rng.integers(0, n_keys, size=n_roots)] = True
    prod_root = tree.leaf_root[cat.leaf]
    attr_on = root_keys[prod_root] & (rng.random((n, n_keys)) < 0.85)
    attr_val = np.stack(
        [rng.integers(0, len(vals), size=n) for _, vals in ATTRIBUTES], axis=1
    )

    # Prices: log-normal around a per-leaf level.
    leaf_mu = math.log(30.0) + rng.normal(0.0, 0.8, size=len(tree.leaves))
    price = np.maximum(0.5, np.round(np.exp(leaf_mu[cat.leaf] + rng.normal(0, 0.5, n)), 2))

    # Related (also_bought): mostly same leaf, then same brand, then globally popular items.
    k_rel = np.minimum(rng.poisson(3.0, size=n), 10)
    src = np.repeat(np.arange(n), k_rel)
    m = len(src)
    kind = rng.random(m)
    r = rng.random(m)
    rel = np.empty(m, dtype=np.int64)
    same_leaf = kind < 0.55
    same_brand = (kind >= 0.55) & (kind < 0.8)
    other = kind >= 0.8
    lf = cat.leaf[src[same_leaf]]
    rel[same_leaf] = cat.leaf_order[
        sample_range(cat.cum_leaf, cat.leaf_lo[lf], cat.leaf_lo[lf + 1], r[same_leaf])
    ]
    br = cat.brand[src[same_brand]]
    rel[same_brand] = cat.brand_order[
        sample_range(cat.cum_brand, cat.brand_lo[br], cat.brand_lo[br + 1], r[same_brand])
    ]
    k_other = int(other.sum())
    rel[other] = sample_range(
        cat.cum_global, np.zeros(k_other, np.int64), np.full(k_other, n, np.int64), r[other]
    )
    rel_lo = offsets(k_rel)

    # Convert once to Python objects; the per-product loop below only formats.
    leaf_l = cat.leaf.tolist()
    brand_l = cat.brand.tolist()
    rel_l = rel.tolist()
    rel_lo_l = rel_lo.tolist()
    attr_on_l = attr_on.tolist()
    attr_val_l = attr_val.tolist()
    price_l = price.tolist()
    use_var_l = use_var.tolist()
    var_pick_l = var_pick.tolist()
    adj_l, num_l, dash_l = adj.tolist(), model_num.tolist(), model_dash.tolist()
    pack_l, pack_n_l = pack.tolist(), pack_n.tolist()
    use_l, dk_l, dt_l = use.tolist(), desc_kind.tolist(), desc_tmpl.tolist()
    attr_names = [k for k, _ in ATTRIBUTES]
    attr_vals = [v for _, v in ATTRIBUTES]
    spellings: set[str] = set()

    bar = progress_bar(progress, n, "products", "prod")
    chunk = 20_000
    dumps = json.dumps
    for start in range(0, n, chunk):
        lines = []
        for i in range(start, min(n, start + chunk)):
            b = brand_l[i]
            canon, variants = brands[b]
            bname = variants[var_pick_l[i] % len(variants)] if use_var_l[i] else canon
            spellings.add(bname)
            lf = leaf_l[i]
            noun = tree.leaf_nouns[lf]
            a = ADJECTIVES[adj_l[i]]
            model = f"{model_prefix[b]}{'-' if dash_l[i] else ''}{num_l[i]}"
            title = f"{bname} {a} {noun} {model}"
            if pack_l[i]:
                title += f", Pack of {pack_n_l[i]}"
            attrs = {}
            on, val = attr_on_l[i], attr_val_l[i]
            for k in range(n_keys):
                if on[k]:
                    attrs[attr_names[k]] = attr_vals[k][val[k]]
            material = attrs.get("material", "steel")
            use_s = USES[use_l[i]]
            t = dt_l[i]
            if t == 0:
                desc = f"{a} {noun.lower()} from {bname} for {use_s}."
            elif t == 1:
                desc = f"{bname} {noun.lower()} made of {str(material).lower()}, built for {use_s}."
            else:
                desc = f"A {a.lower()} {noun.lower()} ({model}) for {use_s}. Made of {material}."
            dk = dk_l[i]
            if dk < 0.1:
                desc = f"<p>{desc}</p><br/><b>Model:</b> {model}"
            elif dk < 0.2:
                desc = desc.replace(" and ", " &amp; ") + " Size: 1/2&quot; &ndash; fits most."
            obj: dict[str, Any] = {
                "id": pids[i], "title": title, "description": desc, "brand": bname,
                "category_path": tree.leaf_paths[lf],
            }
            if attrs:
                obj["attributes"] = attrs
            obj["price"] = price_l[i]
            rl = rel_l[rel_lo_l[i]: rel_lo_l[i + 1]]
            if rl:
                also = [pids[j] for j in dict.fromkeys(rl) if j != i]
                if also:
                    obj["related"] = {"also_bought": also}
            lines.append(dumps(obj))
        lines.append("")
        f.write("\n".join(lines))
        if bar is not None:
            bar.update(len(lines) - 1)
    if bar is not None:
        bar.close()
    return spellings

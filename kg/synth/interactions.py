"""``interactions.csv`` of the synthetic catalogue: users, their favourites, their interactions."""

from __future__ import annotations

import math
from typing import IO

import numpy as np

from .arrays import digits, id_width, iso_bytes, offsets, sample_range, unique
from .catalogue import Catalogue
from .writer import progress_bar

INTERACTIONS_HEADER = "user_id,item_id,timestamp,rating,kind"

_KINDS = ("view", "purchase", "review")
_KIND_P = (0.55, 0.30, 0.15)
_RATING_P = (0.06, 0.06, 0.10, 0.22, 0.56)

_T0 = 1420070400  # 2015-01-01T00:00:00Z
_T1 = 1704067200  # 2024-01-01T00:00:00Z


def draw_user_counts(
    seq: np.random.SeedSequence, n_products: int, interactions_per_product: float,
    n_users: int | None,
) -> tuple[int, np.ndarray]:
    """Log-normal interaction counts per user, about ``n_products * interactions_per_product``
    in all.

    Args:
        seq: seed of the users' random stream.
        n_products: catalogue size; no user has more interactions than products (nor > 5000).
        interactions_per_product: average number of interactions per product (> 0).
        n_users: number of users; None for the number that gives a median of about 5
            interactions per user.

    Returns:
        ``(n_users, counts)`` with ``counts`` an int64 array of shape (n_users,), all >= 1.
    """
    target = max(1, round(n_products * interactions_per_product))
    sigma = 0.9
    urng = np.random.Generator(np.random.PCG64(seq))
    if n_users is None:
        mean_count = 5.0 * math.exp(sigma * sigma / 2)
        n_users = max(1, round(target / mean_count))
    raw = urng.lognormal(0.0, sigma, size=n_users)
    raw *= target / raw.sum()
    counts = np.floor(raw + urng.random(n_users)).astype(np.int64)
    counts = np.clip(counts, 1, min(n_products, 5000))
    return n_users, counts


def _draw_items(
    rng: np.random.Generator, cat: Catalogue, users: np.ndarray, fav_lo: np.ndarray,
    fav_hi: np.ndarray, n_fav: np.ndarray, fb_lo: np.ndarray, fb_hi: np.ndarray,
    n_fb: np.ndarray, p_cat: np.ndarray, p_brand: np.ndarray, global_only: bool,
) -> np.ndarray:
    """One item per entry of ``users`` (local user indices of the chunk)."""
    m = len(users)
    r = rng.random(m)
    pick = rng.random(m)
    sel = rng.random(m)
    items = np.empty(m, dtype=np.int64)
    if global_only:
        src = np.full(m, 2)
    else:
        src = np.where(sel < p_cat[users], 0, np.where(sel < p_cat[users] + p_brand[users], 1, 2))
    s0 = src == 0
    if s0.any():
        u = users[s0]
        j = (pick[s0] ** 2 * n_fav[u]).astype(np.int64)  # the first favourite dominates
        pos = sample_range(cat.cum_leaf, fav_lo[u, j], fav_hi[u, j], r[s0])
        items[s0] = cat.leaf_order[pos]
    s1 = src == 1
    if s1.any():
        u = users[s1]
        j = (pick[s1] * n_fb[u]).astype(np.int64)
        pos = sample_range(cat.cum_brand, fb_lo[u, j], fb_hi[u, j], r[s1])
        items[s1] = cat.brand_order[pos]
    s2 = src == 2
    if s2.any():
        k = int(s2.sum())
        items[s2] = sample_range(
            cat.cum_global, np.zeros(k, np.int64), np.full(k, cat.n, np.int64), r[s2]
        )
    return items


def _interaction_chunk(
    rng: np.random.Generator, cat: Catalogue, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the interactions of one block of users: (local user index, item) sorted by user,
    no repeated pair, in random order within each user."""
    nu = len(counts)
    n = cat.n
    # Favourite categories: subtrees (level 1 or 2) around products drawn by popularity.
    max_fav, max_fb = 3, 2
    anchors = sample_range(
        cat.cum_global, np.zeros(nu * max_fav, np.int64), np.full(nu * max_fav, n, np.int64),
        rng.random(nu * max_fav),
    )
    a_leaf = cat.leaf[anchors]
    deep = rng.random(nu * max_fav) < 0.5
    fav_lo = np.where(deep, cat.anc2_lo[a_leaf], cat.anc1_lo[a_leaf]).reshape(nu, max_fav)
    fav_hi = np.where(deep, cat.anc2_hi[a_leaf], cat.anc1_hi[a_leaf]).reshape(nu, max_fav)
    n_fav = rng.choice((1, 2, 3), size=nu, p=(0.45, 0.35, 0.2))
    anchors = sample_range(
        cat.cum_global, np.zeros(nu * max_fb, np.int64), np.full(nu * max_fb, n, np.int64),
        rng.random(nu * max_fb),
    )
    a_brand = cat.brand[anchors]
    fb_lo = cat.brand_lo[a_brand].reshape(nu, max_fb)
    fb_hi = cat.brand_lo[a_brand + 1].reshape(nu, max_fb)
    n_fb = rng.choice((1, 2), size=nu, p=(0.6, 0.4))
    p_cat = rng.uniform(0.6, 0.9, size=nu)
    p_brand = (1.0 - p_cat) * 0.6

    args = (fav_lo, fav_hi, n_fav, fb_lo, fb_hi, n_fb, p_cat, p_brand)
    users = np.repeat(np.arange(nu, dtype=np.int64), counts)
    keys = unique(users * n + _draw_items(rng, cat, users, *args, global_only=False))
    # Re-draw repeated (user, item) pairs a few times; drop whatever still collides.
    for attempt in range(4):
        have = np.bincount(keys // n, minlength=nu)
        deficit = counts - have
        if not deficit.any():
            break
        users = np.repeat(np.arange(nu, dtype=np.int64), deficit)
        more = _draw_items(rng, cat, users, *args, global_only=attempt == 3)
        keys = unique(np.concatenate([keys, users * n + more]))
    u = keys // n
    items = keys % n
    # Shuffle within each user so item ids do not rise with time.
    order = np.lexsort((rng.random(len(keys)), u))
    return u[order], items[order]


def write_interactions(
    f: IO[bytes], rng_seq: np.random.SeedSequence, cat: Catalogue, counts: np.ndarray,
    progress: bool, chunk_target: int = 1_000_000,
) -> int:
    """Write the CSV header and every user's interactions to ``f``, grouped by user.

    Args:
        f: the open (binary) ``interactions.csv``.
        rng_seq: seed of the interactions' random streams (one is spawned per block of users).
        cat: the catalogue model.
        counts: number of interactions asked per user, shape (n_users,).
        progress: show a tqdm progress bar.
        chunk_target: about how many interactions are drawn and written at a time.

    Returns:
        The number of rows written (repeated (user, item) pairs that could not be re-drawn
        are dropped, so it can be below ``counts.sum()``).
    """
    n_users = len(counts)
    uw, pw = id_width(n_users), id_width(cat.n)
    f.write((INTERACTIONS_HEADER + "\n").encode("ascii"))
    # Split users into blocks of about chunk_target interactions.
    cum = np.cumsum(counts)
    bounds = np.unique(np.searchsorted(cum, np.arange(chunk_target, int(cum[-1]), chunk_target)))
    starts = np.concatenate([[0], bounds + 1])
    starts = starts[starts < n_users]
    ends = np.concatenate([starts[1:], [n_users]])
    seqs = rng_seq.spawn(len(starts))
    itemdigits = digits(np.arange(cat.n, dtype=np.int64), pw)

    kind_tab = np.zeros((len(_KINDS), 1 + max(len(k) for k in _KINDS) + 1), dtype=np.uint8)
    for i, k in enumerate(_KINDS):
        enc = ("," + k + "\n").encode("ascii")
        kind_tab[i, : len(enc)] = np.frombuffer(enc, dtype=np.uint8)
    rating_cdf = np.cumsum(_RATING_P)
    kind_cdf = np.cumsum(_KIND_P)
    span = _T1 - _T0

    bar = progress_bar(progress, int(cum[-1]), "interactions", "row")
    total = 0
    for s, e, seq in zip(starts.tolist(), ends.tolist(), seqs):
        rng = np.random.Generator(np.random.PCG64(seq))
        cnt = counts[s:e]
        u, items = _interaction_chunk(rng, cat, cnt)
        m = len(u)
        per_user = np.bincount(u, minlength=e - s)
        first = offsets(per_user)[:-1]
        # Timestamps: exponential gaps with a per-user pace, squeezed into [T0, T1).
        pace = rng.lognormal(math.log(20 * 86400), 1.0, size=e - s)
        gaps = np.maximum(1, np.floor(rng.exponential(1.0, size=m) * pace[u])).astype(np.int64)
        gaps[first[per_user > 0]] = 0
        off = np.cumsum(gaps)
        off -= np.repeat(off[first], per_user)
        user_span = off[first + per_user - 1]
        too_long = user_span > span - 1
        if too_long.any():
            scale = np.where(too_long, (span - 1) / np.maximum(user_span, 1), 1.0)
            gaps = np.maximum(1, np.floor(gaps * scale[u])).astype(np.int64)
            gaps[first[per_user > 0]] = 0
            off = np.cumsum(gaps)
            off -= np.repeat(off[first], per_user)
            user_span = off[first + per_user - 1]
        start = _T0 + np.floor(rng.random(e - s) * np.maximum(0, span - user_span)).astype(np.int64)
        ts = start[u] + off
        rating = np.searchsorted(rating_cdf, rng.random(m) * rating_cdf[-1], side="right") + 1
        kind = np.searchsorted(kind_cdf, rng.random(m) * kind_cdf[-1], side="right")

        # Assemble fixed-width rows; the zero padding after the kind is dropped at the end.
        w_fixed = 1 + uw + 2 + pw + 1 + 20 + 1 + 1
        rows = np.zeros((m, w_fixed + kind_tab.shape[1]), dtype=np.uint8)
        c = 0
        rows[:, c] = ord("U")
        rows[:, c + 1: c + 1 + uw] = digits(np.arange(s, e, dtype=np.int64), uw)[u]
        c += 1 + uw
        rows[:, c] = ord(",")
        rows[:, c + 1] = ord("P")
        rows[:, c + 2: c + 2 + pw] = itemdigits[items]
        c += 2 + pw
        rows[:, c] = ord(",")
        rows[:, c + 1: c + 21] = iso_bytes(ts)
        c += 21
        rows[:, c] = ord(",")
        rows[:, c + 1] = 48 + rating
        c += 2
        rows[:, c:] = kind_tab[kind]
        f.write(rows[rows != 0].tobytes())
        total += m
        if bar is not None:
            bar.update(int(cnt.sum()))
    if bar is not None:
        bar.close()
    return total

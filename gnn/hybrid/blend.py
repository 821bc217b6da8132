"""A learned blend of part scores, one set of weights for sold items and one for unsold ones.

Each part's scores are standardised per user (z-score over all items), so the weights compare
like with like. Items with training interactions ("warm") and items without ("cold": new or
never sold) get separate weights, because some parts (neighbours) say nothing about cold items,
plus an offset that places the cold items' scores against the warm items' in one ranking:

    score(u, i) = sum_p w_warm[p] z_p(u, i)              if i has training interactions
                  sum_p w_cold[p] z_p(u, i) + offset     otherwise

The warm weights maximise a validation figure of the warm ranking (the caller's: kgrec uses
Recall@k + NDCG@k), the cold weights the same figure of the cold ranking, then the offset that
figure over all items (coordinate ascent on small grids, written here because no kept library
searches a blend against a full-ranking metric).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch

log = logging.getLogger(__name__)

#: Weights tried per part against the anchor's 1, a factor of 2 apart (choices at the old top, 2,
#: were common, so the grid reaches 8).
WEIGHTS = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: Offsets tried for the cold items: a blend of z-scores with weights summing to several units
#: spreads over as many standard deviations, so the grid reaches well beyond that.
OFFSETS = tuple(np.round(np.linspace(-12.0, 12.0, 97), 3))


def standardise(scores: torch.Tensor) -> torch.Tensor:
    """Per-row z-scores (rows with no spread become 0)."""
    mean = scores.mean(1, keepdim=True)
    std = scores.std(1, keepdim=True)
    return torch.where(std > 1e-12, (scores - mean) / std.clamp_min(1e-12), torch.zeros_like(scores))


@dataclass
class RowScores:
    """One history's scores from one part, dense [n] or sparse (zero off ``indices``, each index
    once), with the mean and standard deviation over all n items that `standardise` would use.

    A request's neighbour and text parts reach a few thousand of 100k items: kept sparse, they
    are blended by adding at those items only (`Blend.combine_row`), not as dense z-score rows.
    """

    dense: torch.Tensor | None = None
    indices: np.ndarray | None = None
    values: np.ndarray | None = None
    mean: float = 0.0
    std: float = 0.0
    #: a dot-product row (`DotItems.row`): scores dots.items @ vector, never materialised
    #: unless a blend needs them (`Blend.combine_row` folds them into one product)
    vector: torch.Tensor | None = None
    dots: "DotItems | None" = None
    #: the row's width (a sparse row's n; 0 when not known)
    n: int = 0

    @classmethod
    def of(cls, scores) -> "RowScores":
        """From a dense tensor [n] (or [1, n]), a scipy sparse row [1, n], or a RowScores (a
        `DotItems.row`, kept as it is)."""
        if isinstance(scores, RowScores):
            return scores
        if sp.issparse(scores):
            # a row of a scipy product holds each index once (unsorted: sorting 14k entries of
            # the text bridge's row cost more than blending them)
            row = sp.csr_matrix(scores)
            n = row.shape[1]
            values = row.data.astype(np.float64)
            mean = values.sum() / n
            # torch's std is the unbiased one: sum of squares about the mean over n - 1, where
            # the n - nnz zeros each add mean^2
            spread = ((values - mean) ** 2).sum() + (n - len(values)) * mean**2
            std = float(np.sqrt(spread / max(n - 1, 1)))
            return cls(None, row.indices, row.data, float(mean), std, n=n)
        dense = torch.as_tensor(scores, dtype=torch.float32).reshape(-1)
        return cls(dense, None, None, float(dense.mean()), float(dense.std()))

    @property
    def scale(self) -> float:
        """1 / std, or 0 for a row with no spread (`standardise` makes it all zeros)."""
        return 1.0 / self.std if self.std > 1e-12 else 0.0

    def at(self, items: np.ndarray) -> np.ndarray:
        """The standardised scores at ``items`` (distinct, as a top-k's are)."""
        items = np.asarray(items, dtype=np.int64)
        if self.dense is not None:
            raw = self.dense.numpy()[items].astype(np.float64)
        elif self.vector is not None:
            raw = (self.dots.items.numpy()[items] @ self.vector.numpy()).astype(np.float64)
        else:
            # scattered into a zero row and read back: one pass over the row's entries (the
            # text bridge's are ~18k of 100k, unsorted), cheaper than searching them
            width = self.n or max(int(self.indices.max(initial=-1)), int(items.max(initial=-1))) + 1
            row = np.zeros(width, dtype=self.values.dtype)
            row[self.indices] = self.values
            raw = row[items].astype(np.float64)
        return ((raw - self.mean) * self.scale).astype(np.float32)


def by_group(cold_items: torch.Tensor, warm: float, cold: float) -> torch.Tensor:
    """float32 [n]: ``cold`` at the cold items, ``warm`` at the others."""
    return torch.where(cold_items, torch.tensor(cold, dtype=torch.float32),
                       torch.tensor(warm, dtype=torch.float32))


class DotItems:
    """Item vectors E [n, d] that score a query vector u as E @ u (the R-GCN's embeddings).

    A row's mean and standard deviation over the n items follow from u alone, mean = u . mu and
    var = u^T C u / (n - 1) with mu and C the vectors' mean and centred scatter matrix (float64,
    computed once): a request then needs no pass over its 100k scores for them, and the blend
    folds its weights into the vectors (`Blend.combine_row`), so the whole dense part of a
    request is one matrix-vector product.
    """

    def __init__(self, items: torch.Tensor) -> None:
        self.items = torch.as_tensor(items, dtype=torch.float32).contiguous()
        e = self.items.double()
        mu = e.mean(0)
        centred = e - mu
        self.mu, self.scatter = mu.numpy(), (centred.T @ centred).numpy()

    def row(self, vector: torch.Tensor) -> RowScores:
        """The `RowScores` of E @ vector, its scores left to whoever needs them."""
        vector = torch.as_tensor(vector, dtype=torch.float32).reshape(-1)
        u = vector.double().numpy()
        n = len(self.items)
        var = max(float(u @ self.scatter @ u), 0.0) / max(n - 1, 1)
        return RowScores(mean=float(u @ self.mu), std=float(np.sqrt(var)), vector=vector, dots=self)


class QuantisedRows:
    """An int8 copy of a float32 matrix M [n, d], each row with its own scale, whose product
    with a vector q comes with a bound on its error: ``product(q)`` gives approx [n] and one
    number e with |approx - M @ q| <= e at every row, float32 rounding included.

    Row i is s_i x_i + r_i with x_i int8, s_i = max|M_i| / 127 and |r_ij| <= s_i / 2; q is
    t y + e the same way. So M_i . q = s_i t (x_i . y) + s_i (x_i . e) + r_i . q, and the two
    last terms are at most s_i t |x_i|_1 / 2 and s_i |q|_1 / 2: their maxima over the rows
    are kept, so a request's bound costs no pass over the rows. (Written here: torch has the
    int8 product, `torch._int_mm`, but no quantised matrix-vector product with a bound.)
    """

    #: float32 rounding of the exact and approximate products, as a share of sum |M_ij q_j|
    #: (d of a few hundred at most: d x 2^-24 is far below it), plus an absolute floor
    ROUNDING = 1e-4
    #: columns per int8 block: torch's CPU int8 product takes ~0.5 ms for 100k x 64 and twice
    #: that from 65 columns on (measured 2026-12-07), so wider matrices go in blocks of 64
    BLOCK = 64

    def __init__(self, matrix: torch.Tensor) -> None:
        matrix = torch.as_tensor(matrix, dtype=torch.float32)
        top = matrix.abs().amax(1)
        self.scale = torch.where(top > 0, top / 127.0, torch.ones_like(top))
        rows = torch.round(matrix / self.scale[:, None]).clamp_(-127, 127).to(torch.int8)
        self.blocks = [rows[:, b : b + self.BLOCK].contiguous()
                       for b in range(0, rows.shape[1], self.BLOCK)]
        l1 = rows.abs().sum(1, dtype=torch.int32).double()
        empty = len(l1) == 0
        self.max_scaled_l1 = 0.0 if empty else float((self.scale.double() * l1).max())
        self.max_scale = 0.0 if empty else float(top.max()) / 127.0  # zero rows: no error
        self.max_norm1 = 0.0 if empty else float(matrix.abs().sum(1).max())

    def dots(self, y: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """int32 [n] (or [len(items)]): the int8 rows (those of ``items``) times the int8
        vector ``y`` [d]."""
        y = y[:, None]
        out = None
        for i, block in enumerate(self.blocks):
            rows = block if items is None else block[items]
            part = torch._int_mm(rows, y[i * self.BLOCK : (i + 1) * self.BLOCK].contiguous())
            out = part if out is None else out.add_(part)
        return out.reshape(-1)

    def product(self, query: torch.Tensor) -> tuple[torch.Tensor, float, Callable]:
        """(approx [n], error, approx_at): approx = s_i t (x_i . y) for the int8 ``y`` of
        ``query``; ``approx_at(items)`` is approx[items], recomputed the same way."""
        q = torch.as_tensor(query, dtype=torch.float32).reshape(-1)
        top = float(q.abs().max()) if len(q) else 0.0
        t = top / 127.0 if top > 0 else 1.0
        y = torch.round(q / t).clamp_(-127, 127).to(torch.int8)
        error = (0.5 * t * self.max_scaled_l1 + 0.5 * float(q.abs().sum()) * self.max_scale
                 + self.ROUNDING * top * self.max_norm1 + self.ROUNDING)

        def approx_at(items: torch.Tensor | None = None) -> torch.Tensor:
            scale = self.scale if items is None else self.scale[items]
            return torch.mul(self.dots(y, items), scale).mul_(t)

        return approx_at(), error, approx_at


class BoundedRow(NamedTuple):
    """Blended totals of one history [n], each within ``error`` of the exact one (``error``
    None: exact), and ``correction(items)``: what turns those items' totals into exact ones."""

    total: torch.Tensor
    error: float | None = None
    correction: Callable[[torch.Tensor], torch.Tensor] | None = None

    def top_k(self, k: int, total: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores, items) of the k best exact totals. ``total``: ``self.total`` as the caller
        changed it since (another part added, items set to -inf), by default ``self.total``.

        At least k items are above the k-th best total less the error, so an item more than
        twice the error below that is not among the k best: only the others (tens at 100k
        items) are scored exactly."""
        total = self.total if total is None else total
        if self.error is None or k == 0:
            return total.topk(k)
        candidates = within_of_top(total, k, 2 * self.error)
        top = (total[candidates] + self.correction(candidates)).topk(k)
        return top.values, candidates[top.indices]


#: `within_of_top` reads a row in blocks of this many entries
TOP_BLOCK = 256


def within_of_top(total: torch.Tensor, k: int, margin: float) -> torch.Tensor:
    """Indices of the entries of ``total`` [n] at least its k-th largest value less ``margin``
    (1 <= k <= its finite entries), in index order.

    From the maxima of blocks of `TOP_BLOCK` entries (one vectorised pass) rather than a
    top-k over all n, which was the dearer half of a request's selection at 100k items: the
    k blocks with the largest maxima hold at least k entries at least their k-th maximum, so
    the k-th largest value is among their entries, and only blocks whose maximum reaches
    the floor are searched. (Written here: torch has no threshold-from-top-k primitive.)"""
    n = len(total)
    whole = n - n % TOP_BLOCK
    maxima = total[:whole].view(-1, TOP_BLOCK).amax(1)
    if whole < n:
        maxima = torch.cat([maxima, total[whole:].max().reshape(1)])
    if len(maxima) <= k:
        floor = float(total.topk(k).values[-1]) - margin
        return torch.nonzero(total >= floor).reshape(-1)
    best = _block_entries(maxima.topk(k).indices, n)
    floor = float(total[best].topk(k).values[-1]) - margin
    reached = torch.nonzero(maxima >= floor).reshape(-1)
    entries = _block_entries(reached, n)
    return entries[total[entries] >= floor]


def _block_entries(blocks: torch.Tensor, n: int) -> torch.Tensor:
    """The indices of every entry of these blocks (the last one may be short), in order."""
    blocks = blocks.sort().values
    index = (blocks[:, None] * TOP_BLOCK + torch.arange(TOP_BLOCK)).reshape(-1)
    return index[index < n]


@dataclass
class Blend:
    """Blend weights per part for warm and cold items, and the cold items' offset."""

    warm: dict[str, float] = field(default_factory=dict)
    cold: dict[str, float] = field(default_factory=dict)
    offset: float = 0.0

    def combine(self, z: Mapping[str, torch.Tensor], cold_items: torch.Tensor) -> torch.Tensor:
        """Blended scores [b, n] from standardised part scores and a bool [n] cold-item mask."""
        first = next(iter(z.values()))
        warm = torch.zeros_like(first)
        cold = torch.full_like(first, self.offset)
        for name, scores in z.items():
            if self.warm.get(name):
                warm += self.warm[name] * scores
            if self.cold.get(name):
                cold += self.cold[name] * scores
        return torch.where(cold_items[None, :], cold, warm)

    def contributions(self, z: Mapping[str, torch.Tensor], cold_items: torch.Tensor
                      ) -> dict[str, torch.Tensor]:
        """Each part's share of `combine` (its group's weight x its scores), parts with a weight."""
        out = {}
        for name, scores in z.items():
            if self.warm.get(name) or self.cold.get(name):
                out[name] = by_group(cold_items, self.warm.get(name, 0.0),
                                     self.cold.get(name, 0.0)) * scores
        return out

    def combine_row(self, rows: Mapping[str, RowScores], cold_items: torch.Tensor) -> torch.Tensor:
        """`combine` of one history from `RowScores`: [n], with no dense row per sparse part.

        Each part's z-score w (s - mean) / std is w / std times its raw scores plus a constant,
        so the constants of every part are summed once per group and a sparse part adds its
        scaled scores at its own items only. A dot-product part (`DotItems`) is one product
        with its vectors pre-multiplied by each item's weight, plus a column holding the cold
        items' extra constant: the dense part of the blend in one pass over memory.
        """
        return self._combine_row(rows, cold_items, bounded=False).total

    def combine_row_bounded(self, rows: Mapping[str, RowScores], cold_items: torch.Tensor
                            ) -> "BoundedRow":
        """`combine_row` with the dot-product part read from its int8 copy (`QuantisedRows`):
        each total is then within ``error`` of the exact one, and `BoundedRow.top_k` scores
        exactly the few items that can be among the best: the same top-k as `combine_row`'s.

        Why: at 100k items the float32 product streams 26 MB a request and was a quarter of a
        serving worker's time under load; the int8 copy is a quarter of that. Without torch's
        int8 product (`torch._int_mm`) the result is exact (``error`` None)."""
        return self._combine_row(rows, cold_items, bounded=True)

    def _combine_row(self, rows: Mapping[str, RowScores], cold_items: torch.Tensor,
                     bounded: bool) -> "BoundedRow":
        cold_np = cold_items.numpy()
        shift = {"warm": 0.0, "cold": self.offset}
        coef = {}
        for name, row in rows.items():
            w, c = self.warm.get(name, 0.0) * row.scale, self.cold.get(name, 0.0) * row.scale
            coef[name] = (w, c)
            shift["warm"] -= w * row.mean
            shift["cold"] -= c * row.mean
        dots = [n for n, row in rows.items() if row.vector is not None and any(coef[n])]
        error = correction = None
        if dots:
            name, row = dots[0], rows[dots[0]]
            fused = self._fused(name, row.dots, cold_items)
            query = torch.cat([row.vector * row.scale,
                               torch.tensor([shift["cold"] - shift["warm"]], dtype=torch.float32)])
            quantised = self._quantised(fused) if bounded else None
            if quantised is not None:
                # the vectors' columns in int8, the cold items' column (0 or 1) as it is
                rows_int8, cold_column = quantised
                total, error, approx_at = rows_int8.product(query[:-1])
                last = float(query[-1])
                total.add_(cold_column, alpha=last).add_(shift["warm"])

                def correction(items: torch.Tensor) -> torch.Tensor:
                    # the float32 product at those items in place of the int8 one
                    return fused[items] @ query - approx_at(items) - cold_column[items] * last
            else:
                total = torch.mv(fused, query).add_(shift["warm"])
        else:
            total = by_group(cold_items, shift["warm"], shift["cold"])
        out = total.numpy()
        for name, row in rows.items():
            w, c = coef[name]
            if not (w or c) or (dots and name == dots[0]):
                continue
            if row.dense is not None or row.vector is not None:
                dense = row.dense if row.dense is not None else row.dots.items @ row.vector
                total.addcmul_(by_group(cold_items, w, c), dense)
            else:
                out[row.indices] += np.where(cold_np[row.indices], c, w) * row.values
        return BoundedRow(total, error, correction)

    def _quantised(self, fused: torch.Tensor) -> tuple[QuantisedRows, torch.Tensor] | None:
        """The int8 copy of a fused matrix's vectors and its last column (made once per
        matrix), None where torch has no int8 product."""
        if not hasattr(torch, "_int_mm"):
            return None
        cached = getattr(self, "_quantised_cache", None)
        if cached is None or cached[0] is not fused:
            cached = self._quantised_cache = (fused, (QuantisedRows(fused[:, :-1]),
                                                      fused[:, -1].contiguous()))
        return cached[1]

    def _fused(self, name: str, dots: DotItems, cold_items: torch.Tensor) -> torch.Tensor:
        """[n, d + 1]: each item's vector times its group's weight for part ``name``, then 1 for
        a cold item (0 for a warm one); built once per blend, part and item set."""
        key = (name, id(dots), id(cold_items), self.warm.get(name, 0.0), self.cold.get(name, 0.0))
        cached = getattr(self, "_fused_cache", None)
        if cached is None or cached[0] != key:
            weight = by_group(cold_items, self.warm.get(name, 0.0), self.cold.get(name, 0.0))
            fused = torch.cat([dots.items * weight[:, None], cold_items.float()[:, None]], 1)
            # the objects are kept with it, so their ids in the key are not reused
            cached = self._fused_cache = (key, fused.contiguous(), dots, cold_items)
        return cached[1]

    def contributions_at(self, rows: Mapping[str, RowScores], cold_items: torch.Tensor,
                         items) -> dict[str, np.ndarray]:
        """`contributions` of one history at ``items`` only (what explanations read)."""
        items = np.asarray(items, dtype=np.int64)
        cold = cold_items.numpy()[items]
        out = {}
        for name, row in rows.items():
            w, c = self.warm.get(name, 0.0), self.cold.get(name, 0.0)
            if w or c:
                out[name] = (np.where(cold, c, w) * row.at(items)).astype(np.float32)
        return out

    def to_dict(self) -> dict:
        return {"warm": self.warm, "cold": self.cold, "offset": self.offset}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Blend":
        return cls(dict(data["warm"]), dict(data["cold"]), float(data["offset"]))


def _ascend(names: list[str], measure: Callable[[dict[str, float]], float], passes: int = 2
            ) -> tuple[dict[str, float], float]:
    """Coordinate ascent of weights on `WEIGHTS`, from the best single part at weight 1."""
    singles = {n: measure({n: 1.0}) for n in names}
    start = max(singles, key=singles.get)
    weights = {n: (1.0 if n == start else 0.0) for n in names}
    best = singles[start]
    for _ in range(passes):
        improved = False
        for name in names:
            if name == start:
                continue  # the anchor keeps weight 1 (the scale is free)
            for w in WEIGHTS:
                if w == weights[name]:
                    continue
                value = measure(weights | {name: w})
                if value > best + 1e-6:
                    best, weights, improved = value, weights | {name: w}, True
        if not improved:
            break
    return weights, best


def search_blend(
    names: list[str],
    cold_names: list[str],
    measure: Callable[[Blend, str], float],
    metric: str = "recall",
) -> tuple[Blend, dict]:
    """Chooses a `Blend` on validation.

    Args:
        names: Parts usable for warm items.
        cold_names: Parts usable for cold items (those that score them at all).
        measure: (blend, setting) -> the validation figure in that setting.
        metric: What ``measure`` measures, to name the figures (e.g. ``recall+ndcg``).

    Returns:
        The blend and the validation figures reached at each stage.
    """
    warm, warm_value = _ascend(names, lambda w: measure(Blend(warm=w, cold={}), "warm"))
    if cold_names:
        cold, cold_value = _ascend(cold_names, lambda w: measure(Blend(warm={}, cold=w), "cold"))
    else:
        cold, cold_value = {}, 0.0
    best = (-1.0, 0.0)
    for offset in OFFSETS:
        value = measure(Blend(warm, cold, float(offset)), "overall")
        if value > best[0] + 1e-6:
            best = (value, float(offset))
    blend = Blend(warm, cold, best[1])
    key = metric.replace("+", "_")
    figures = {f"val_warm_{key}": round(warm_value, 4), f"val_cold_{key}": round(cold_value, 4),
               f"val_overall_{key}": round(best[0], 4)}
    log.info("blend %s: %s", blend.to_dict(), figures)
    return blend, figures

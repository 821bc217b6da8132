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
        cold_np = cold_items.numpy()
        shift = {"warm": 0.0, "cold": self.offset}
        coef = {}
        for name, row in rows.items():
            w, c = self.warm.get(name, 0.0) * row.scale, self.cold.get(name, 0.0) * row.scale
            coef[name] = (w, c)
            shift["warm"] -= w * row.mean
            shift["cold"] -= c * row.mean
        dots = [n for n, row in rows.items() if row.vector is not None and any(coef[n])]
        if dots:
            name, row = dots[0], rows[dots[0]]
            fused = self._fused(name, row.dots, cold_items)
            query = torch.cat([row.vector * row.scale,
                               torch.tensor([shift["cold"] - shift["warm"]], dtype=torch.float32)])
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
        return total

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

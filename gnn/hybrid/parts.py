"""The scoring parts of kgrec's hybrid ranker; each scores any history, known user or new.

Every part maps a batch of binary history rows H [b, n_items] (the items each user touched) to
scores [b, n_items] and needs no retraining for a new user (a new history row) or a new item
(its text vector, and for the R-GCN its catalogue edges):

- `NeighbourPart` — user-kNN over the interaction matrix (Herlocker et al., SIGIR 1999; see
  `gnn.eval.baselines.user_knn`): people who bought what you bought. Scores warm items only.
- `TextBridgePart` — the neighbour scores carried to every item through its k nearest *warm*
  items by text (the kNN attribute-to-factor mapping of Gantner et al., ICDM 2010, applied to
  scores rather than MF factors): an item no one bought gets the neighbour score of the sold
  items whose text is closest to it.
- `TextPart` — a soft text k-nearest-neighbour profile: sum over the user's items j of
  exp((cos(t_i, t_j) - 1) / tau), which, unlike the mean profile of ``text-knn``, rewards an item
  very close to one bought item over one loosely close to all of them.
- `RGCNPart` — the R-GCN of `gnn.model` (text + catalogue graph + interactions).

The parts choose their own settings (k, shrink, tau) on validation data only.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import torch

from gnn.eval.baselines.base import TrainData, row_indices, to_tensor
from gnn.eval.baselines.user_knn import user_knn_row, user_knn_scores
from gnn.hybrid.blend import DotItems, RowScores
from gnn.infer import Inductor

log = logging.getLogger(__name__)


class Part:
    """A scoring part. ``name`` keys it in the blend; ``params`` records its chosen settings."""

    name = "part"

    def __init__(self) -> None:
        self.params: dict = {}

    def fit(self, data: TrainData, history_scores) -> "Part":
        """Chooses settings on validation; ``history_scores(fn)`` evaluates a history scorer."""
        return self

    def scores(self, history: sp.csr_matrix, users: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def row_scores(self, history: sp.csr_matrix, users: torch.Tensor | None):
        """One history's scores (a request): a dense [n_items] tensor, a CSR row [1, n_items]
        from parts whose scores are zero but for a few items, which the blend then adds there
        only, or a `RowScores` of dot products (`gnn.hybrid.blend.DotItems`)."""
        return self.scores(history, users)[0]

    def choose(self, grid: list[dict], validate, setting: str, prepare=None) -> None:
        """Keeps the settings of ``grid`` with the best validation Recall@k in ``setting``.

        ``prepare(params)`` builds what the settings need (e.g. a kernel) before measuring and
        returns it; the best one is kept in ``self.prepared``.
        """
        best = (-1.0, None, None)
        for params in grid:
            self.params = dict(params)
            self.prepared = prepare(self.params) if prepare else None
            value = validate(self, setting)
            if value > best[0]:
                best = (value, dict(params), self.prepared)
        _, self.params, self.prepared = best


class NeighbourPart(Part):
    """User-kNN with (k, shrink) chosen on validation warm Recall@k."""

    name = "neighbours"

    def __init__(self, neighbours=(50, 100, 200, 400), shrinks=(0.0, 10.0)) -> None:
        super().__init__()
        self.grid = [(k, h) for h in shrinks for k in neighbours]

    def fit(self, data, validate) -> "NeighbourPart":
        self._set_matrix(data.matrix)
        self.choose([{"k": k, "shrink": h} for k, h in self.grid], validate, "warm")
        return self

    @classmethod
    def from_settings(cls, matrix: sp.csr_matrix, params: dict) -> "NeighbourPart":
        """A fitted part from its settings over an interaction matrix (e.g. a bundle's)."""
        part = cls()
        part._set_matrix(matrix)
        part.params = dict(params)
        return part

    def _set_matrix(self, matrix: sp.csr_matrix) -> None:
        self._last = None
        self.matrix = sp.csr_matrix(matrix, dtype=np.float32)
        self.matrix_t = self.matrix.T.tocsr()
        self.norms = torch.from_numpy(np.sqrt(self.matrix.getnnz(axis=1)).astype(np.float32))

    def scores(self, history, users):
        return self._remembered("dense", history, users, lambda key: user_knn_scores(
            history, self.matrix, self.matrix_t, self.norms, *key, users))

    def row_scores(self, history, users):
        user = None if users is None else int(users[0])
        return self._remembered("row", history, users, lambda key: user_knn_row(
            history, self.matrix, self.matrix_t, self.norms, *key, user))

    def _remembered(self, kind: str, history, users, compute):
        # The text-bridge part asks for the same scores right after this part (HybridRanker.
        # part_scores passes both the same objects): the last answer is kept for that.
        key = (self.params["k"], self.params["shrink"])
        last = getattr(self, "_last", None)
        if (last is not None and last[0] == kind and last[1] is history and last[2] is users
                and last[3] == key):
            return last[4]
        out = compute(key)
        self._last = (kind, history, users, key, out)
        return out


def warm_text_kernel(text: torch.Tensor, warm: torch.Tensor, k: int, tau: float,
                     neighbours: tuple[torch.Tensor, torch.Tensor] | None = None,
                     chunk: int = 2048) -> sp.csr_matrix:
    """Row-normalised sparse [n_items, n_items]: each item's k nearest warm items by text.

    Weights exp((cos - 1) / tau) over the k neighbours, summing to 1 per row; an item is never
    its own neighbour (unless fewer than k other warm items exist).

    ``neighbours``, each item's nearest items of any kind (`text_neighbours`), saves the pass
    over every pair of texts: a row whose first k warm neighbours, itself left out, are among
    them takes them from there, and only the other rows (none, unless k nears the list's
    length) are searched over the warm pool. The text part already needs that list, so a bundle
    loads with one similarity pass instead of two.
    """
    n = len(text)
    kk = min(k, len(warm))
    rows = torch.arange(n)
    if neighbours is not None and kk > 0:
        idx, cos = neighbours
        is_warm = torch.zeros(n, dtype=torch.bool)
        is_warm[warm] = True
        usable = is_warm[idx] & (idx != rows[:, None])
        keep = usable & (usable.cumsum(1) <= kk)
        found = keep.sum(1) == kk
        search = rows[~found]
        keep &= found[:, None]
        parts = [(rows[:, None].expand_as(idx)[keep], idx[keep], cos[keep])]
    else:
        search = rows
        parts = []
    pool = text[warm]
    for begin in range(0, len(search) if kk > 0 else 0, chunk):
        these = search[begin : begin + chunk]
        sim = text[these] @ pool.T
        sim = sim.masked_fill(warm[None, :] == these[:, None], -2.0)
        top, at = sim.topk(kk, dim=1)
        parts.append((these[:, None].expand_as(at).reshape(-1), warm[at].reshape(-1),
                      top.reshape(-1)))
    if not parts:
        return sp.csr_matrix((n, n), dtype=np.float32)
    r, c, cos = (torch.cat(x) for x in zip(*parts))
    weights = torch.exp((cos - 1.0) / tau)
    sums = torch.zeros(n).index_add_(0, r, weights).clamp_min(1e-12)
    return sp.csr_matrix(((weights / sums[r]).numpy(), (r.numpy(), c.numpy())),
                         shape=(n, n), dtype=np.float32)


class TextBridgePart(Part):
    """Neighbour scores of each item's nearest warm items by text; (k, tau) on validation cold."""

    name = "text-bridge"

    def __init__(self, neighbours: NeighbourPart, ks=(5, 10, 20, 50), taus=(0.05, 0.2, 1.0)) -> None:
        super().__init__()
        self.neighbours = neighbours
        self.grid = [(k, tau) for k in ks for tau in taus]

    def fit(self, data, validate, similar=None) -> "TextBridgePart":
        """``similar``: `text_neighbours` of ``data.item_text`` when already computed."""
        self.text = torch.from_numpy(data.item_text)
        self.warm = torch.from_numpy(data.split.warm_items)
        similar = text_neighbours(self.text) if similar is None else similar
        self.choose([{"k": k, "tau": tau} for k, tau in self.grid], validate, "cold",
                    lambda p: warm_text_kernel(self.text, self.warm, p["k"], p["tau"], similar))
        return self

    @classmethod
    def from_settings(cls, neighbours: NeighbourPart, text: np.ndarray, warm: np.ndarray,
                      params: dict, similar=None) -> "TextBridgePart":
        """A fitted part from its settings: the kernel over the given warm items is rebuilt
        (from ``similar``, the texts' `text_neighbours`, when given)."""
        part = cls(neighbours)
        part.text = torch.as_tensor(np.asarray(text, dtype=np.float32))
        part.warm = torch.as_tensor(np.asarray(warm, dtype=np.int64))
        part.params = dict(params)
        part.prepared = warm_text_kernel(part.text, part.warm, params["k"], params["tau"], similar)
        return part

    @property
    def kernel(self) -> sp.csr_matrix:
        """Row-normalised [n_items, n_items] weights of each item's nearest warm items."""
        return self.prepared

    def scores(self, history, users):
        base = self.neighbours.scores(history, users).numpy()
        used = np.flatnonzero(base.any(axis=0))  # the items some neighbour bought
        if 4 * len(used) < base.shape[1]:
            # only those items' kernel columns count: a short history's neighbours reach a few
            # thousand of 100k items, and the product over their columns (the same sums) is
            # ~5x cheaper than over every row's k entries
            return to_tensor(np.asarray(self._columns()[:, used] @ base[:, used].T).T)
        return to_tensor(np.asarray(self.kernel @ base.T).T)

    def row_scores(self, history, users):
        # the neighbours' sparse row times the kernel's transpose (the by-columns copy, read
        # as rows): only the kernel columns of items some neighbour bought are touched
        return self.neighbours.row_scores(history, users) @ self._columns().T

    def _columns(self) -> sp.csc_matrix:
        """The kernel by columns, made once per kernel (fitting tries several)."""
        cached = getattr(self, "_by_columns", None)
        if cached is None or cached[0] is not self.kernel:
            cached = self._by_columns = (self.kernel, self.kernel.tocsc())
        return cached[1]


#: Text-kernel weights below this are dropped (a cosine more than 11.5 tau below 1): a history
#: item then costs its few dozen to few hundred close products instead of a pass over every
#: product's text vector (memory-bound: 6.7 MB per history item at 4k products, 150 MB at 100k).
MIN_WEIGHT = 1e-5
#: At most this many neighbours per item are kept, the closest (only a large tau reaches it).
MAX_NEIGHBOURS = 256


def text_neighbours(text: torch.Tensor, m: int = MAX_NEIGHBOURS) -> tuple[torch.Tensor, torch.Tensor]:
    """Each item's ``m`` most similar items by cosine, itself included: (indices, cosines) [n, m].

    Computed in row chunks of at most ~64 MB of similarities, whatever the catalogue's size.
    """
    n = len(text)
    m = min(m, n)
    chunk = max(16, (1 << 24) // max(n, 1))
    idx, cos = [], []
    for begin in range(0, n, chunk):
        top = (text[begin : begin + chunk] @ text.T).topk(m, dim=1)
        cos.append(top.values)
        idx.append(top.indices)
    if not idx:
        return torch.zeros((0, m), dtype=torch.int64), torch.zeros((0, m))
    return torch.cat(idx), torch.cat(cos)


def text_kernel(neighbours: tuple[torch.Tensor, torch.Tensor], tau: float,
                min_weight: float = MIN_WEIGHT) -> sp.csr_matrix:
    """Sparse [n, n] exp((cos - 1) / tau) over each item's neighbours, weights < min_weight dropped."""
    idx, cos = neighbours
    n = len(idx)
    weights = torch.exp((cos - 1.0) / tau)
    keep = weights >= min_weight
    rows = torch.arange(n)[:, None].expand_as(idx)[keep]
    return sp.csr_matrix((weights[keep].numpy(), (rows.numpy(), idx[keep].numpy())),
                         shape=(n, n), dtype=np.float32)


class TextPart(Part):
    """Soft text-kNN profile; tau chosen on validation cold Recall@k.

    Scores are H @ K with K the sparse text kernel of `text_kernel`, the same in validation,
    evaluation and serving; against the dense kernel each score differs by less than
    ``MIN_WEIGHT`` per history item, unless an item has more than ``MAX_NEIGHBOURS``
    neighbours above it (a large tau), where the farthest are cut.
    """

    name = "text"

    def __init__(self, taus=(0.02, 0.05, 0.1, 0.3)) -> None:
        super().__init__()
        self.taus = tuple(taus)

    def fit(self, data, validate, similar=None) -> "TextPart":
        """``similar``: `text_neighbours` of ``data.item_text`` when already computed."""
        self.text = torch.from_numpy(data.item_text)
        similar = text_neighbours(self.text) if similar is None else similar  # same for every tau
        self.choose([{"tau": tau} for tau in self.taus], validate, "cold",
                    lambda p: text_kernel(similar, p["tau"]))
        return self

    @classmethod
    def from_settings(cls, text: np.ndarray, params: dict, similar=None) -> "TextPart":
        part = cls()
        part.text = torch.as_tensor(np.asarray(text, dtype=np.float32))
        part.params = dict(params)
        similar = text_neighbours(part.text) if similar is None else similar
        part.prepared = text_kernel(similar, params["tau"])
        return part

    @property
    def kernel(self) -> sp.csr_matrix:
        """Sparse [n_items, n_items] text weights: row j scores every item for history item j."""
        return self.prepared

    def scores(self, history, users):
        return to_tensor(self.row_scores(history, users).toarray())

    def row_scores(self, history, users):
        # any number of rows: H @ K is sparse, and `scores` densifies it for a batch
        return sp.csr_matrix(history, dtype=np.float32) @ self.kernel


class RGCNPart(Part):
    """The R-GCN (text features, catalogue edges, training interactions as messages)."""

    name = "rgcn"

    def __init__(self, model_options: dict | None = None, train_options: dict | None = None,
                 progress: bool = False) -> None:
        super().__init__()
        self.model_options = model_options or {}
        self.train_options = train_options or {}
        self.progress = progress

    def fit(self, data, validate) -> "RGCNPart":
        from gnn.eval.rgcn import RGCNRecommender

        rec = RGCNRecommender(model_options=self.model_options, train_options=self.train_options,
                              progress=self.progress)
        rec.fit(data)
        self.result = rec.result
        self.embeddings = rec.result.embeddings
        self.inductor = Inductor(rec.result.model, rec.graph, data.split.train.users,
                                 data.split.train.items)
        self.params = rec.params
        return self

    @classmethod
    def from_settings(cls, embeddings, inductor: Inductor, params: dict) -> "RGCNPart":
        """A fitted part from stored embeddings and an inductor over the same graph."""
        part = cls()
        part.embeddings, part.inductor, part.params = embeddings, inductor, dict(params)
        return part

    def row_scores(self, history, users) -> RowScores:
        # the user's vector, not its 100k dot products: the blend folds them into one product
        if users is not None:
            vector = self.embeddings.users[int(users[0])]
        else:
            vector = self.inductor.embed_user(row_indices(sp.csr_matrix(history), 0))
        return self.dot_items.row(vector)

    @property
    def dot_items(self) -> DotItems:
        """The product embeddings with their moments (made once per embeddings)."""
        cached = getattr(self, "_dot_items", None)
        if cached is None or cached[0] is not self.embeddings.items:
            cached = self._dot_items = (self.embeddings.items, DotItems(self.embeddings.items))
        return cached[1]

    def scores(self, history, users):
        if users is not None:
            return self.embeddings.score(users)
        # new users: embedded from their items by the trained R-GCN (gnn.infer), no retraining
        history = sp.csr_matrix(history)
        rows = [self.inductor.embed_user(row_indices(history, r))
                for r in range(history.shape[0])]
        return torch.stack(rows) @ self.embeddings.items.T

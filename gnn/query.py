"""Query tower: a new user's natural-language query → one score per product (DESIGN §3, §5).

A query such as "I need a staple gun for upholstery" has no history, so it is scored by three
signals that need none, each standardised over the catalogue and blended with fixed weights:

- text: cosine of the query's language-model vector with every product's text vector;
- projection: the query vector mapped into the R-GCN's product embedding space by a ridge
  regression fitted on (product text vector → product embedding), dotted with the embeddings
  (`QueryProjection`), so the query reaches what the graph learned about products;
- entity: a boost for products MADE_BY a brand, IN_CATEGORY a category (or any descendant of
  it) or HAS_ATTRIBUTE an attribute value that the query names (`EntityMatcher`).

Catalogues without brands, categories or attributes simply have no entity boost.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from kg.clean import brand_key
from kg.schema import ATTRIBUTE, BRAND, CATEGORY, PRODUCT

#: Ridge penalties tried, relative to the mean eigenvalue of XᵀX (trace / dim), so the grid
#: suits any catalogue size.
ALPHAS: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
HELD_OUT_SHARE = 0.1
DEFAULT_WEIGHTS: Mapping[str, float] = {"text": 1.0, "projection": 0.5, "entity": 1.0}
PARTS: tuple[str, ...] = tuple(DEFAULT_WEIGHTS)


class SnapshotLike(Protocol):
    """What the query tower reads of a `kg.snapshot.GraphSnapshot`."""

    node_ids: dict[str, list[str]]
    node_fields: dict[str, list[dict]]
    edges: dict[str, np.ndarray]


# --- projection ---------------------------------------------------------------------------------


class QueryProjection:
    """Linear map text space → product embedding space: ``y = x @ weight + bias``.

    Ridge regression in closed form, written by hand because it is five lines of linear algebra
    (centre, XᵀX + λI, solve, intercept) and keeps the fit exact and dependency-free.

    Attributes:
        weight: float32 [in_dim, out_dim].
        bias: float32 [out_dim].
        alpha: The chosen penalty, relative to trace(XᵀX) / in_dim.
        held_out_r2: Out-of-sample R² of the chosen penalty on the held-out products (1 − SSE /
            squared error of predicting the training mean), fitted on the other products.
        n_train: Products with text the final map was fitted on (all of them).
    """

    def __init__(
        self,
        weight: np.ndarray,
        bias: np.ndarray,
        *,
        alpha: float = float("nan"),
        held_out_r2: float = float("nan"),
        n_train: int = 0,
    ) -> None:
        weight = np.asarray(weight, dtype=np.float32)
        bias = np.asarray(bias, dtype=np.float32)
        if weight.ndim != 2 or bias.shape != (weight.shape[1],):
            raise ValueError(
                f"weight [in, out] and bias [out] expected, got {weight.shape}, {bias.shape}"
            )
        self.weight, self.bias = weight, bias
        self.alpha, self.held_out_r2, self.n_train = float(alpha), float(held_out_r2), int(n_train)

    @property
    def in_dim(self) -> int:
        return int(self.weight.shape[0])

    @property
    def out_dim(self) -> int:
        return int(self.weight.shape[1])

    def __repr__(self) -> str:
        return (
            f"QueryProjection({self.in_dim}->{self.out_dim}, alpha={self.alpha:g}, "
            f"held_out_r2={self.held_out_r2:.3f}, n_train={self.n_train})"
        )

    @classmethod
    def fit(
        cls,
        text: np.ndarray,
        emb: np.ndarray,
        seed: int = 0,
        alphas: Sequence[float] = ALPHAS,
    ) -> QueryProjection:
        """Fits the map on the products that have text (zero text rows are left out).

        The penalty is the one of `alphas` with the best R² on a seeded 10 % of those products
        (fitted on the other 90 %); the returned map is then refitted on all of them.

        Raises:
            ValueError: For mismatched shapes, or fewer than two products with text.
        """
        x, y = np.asarray(text, dtype=np.float64), np.asarray(emb, dtype=np.float64)
        if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
            raise ValueError(f"text [n, in] and emb [n, out] expected, got {x.shape}, {y.shape}")
        keep = np.linalg.norm(x, axis=1) > 0
        x, y = x[keep], y[keep]
        if len(x) < 2:
            raise ValueError(f"need at least 2 products with text to fit, got {len(x)}")
        order = np.random.default_rng(seed).permutation(len(x))
        n_held = max(1, int(round(HELD_OUT_SHARE * len(x))))
        held, train = order[:n_held], order[n_held:]
        best_alpha, best_r2 = float(alphas[0]), -np.inf
        for alpha in alphas:
            weight, bias = _ridge(x[train], y[train], alpha)
            r2 = _r2(y[held], x[held] @ weight + bias, y[train].mean(0))
            if r2 > best_r2:
                best_alpha, best_r2 = float(alpha), r2
        weight, bias = _ridge(x, y, best_alpha)
        return cls(weight, bias, alpha=best_alpha, held_out_r2=best_r2, n_train=len(x))

    def transform(self, q: np.ndarray) -> np.ndarray:
        """Query vectors [m, in] (or one [in]) → points [m, out] (or [out]) in embedding space."""
        q = np.asarray(q, dtype=np.float32)
        if q.shape[-1] != self.in_dim or q.ndim not in (1, 2):
            raise ValueError(f"query vectors [m, {self.in_dim}] expected, got {q.shape}")
        return q @ self.weight + self.bias

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (float32 values survive a JSON round trip exactly)."""
        return {
            "weight": self.weight.tolist(),
            "bias": self.bias.tolist(),
            "alpha": self.alpha,
            "held_out_r2": self.held_out_r2,
            "n_train": self.n_train,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueryProjection:
        """Inverse of `to_dict`.

        Raises:
            ValueError: When a key is missing or the shapes do not fit.
        """
        try:
            weight, bias = data["weight"], data["bias"]
        except KeyError as error:
            raise ValueError(f"projection dict lacks {error}") from None
        return cls(
            np.asarray(weight, dtype=np.float32).reshape(len(weight), -1),
            bias,
            alpha=data.get("alpha", float("nan")),
            held_out_r2=data.get("held_out_r2", float("nan")),
            n_train=data.get("n_train", 0),
        )

    def save(self, path: str | os.PathLike) -> None:
        """Writes the map as .npz (weights as arrays, settings as a JSON string)."""
        meta = {"alpha": self.alpha, "held_out_r2": self.held_out_r2, "n_train": self.n_train}
        with open(path, "wb") as handle:
            np.savez(handle, weight=self.weight, bias=self.bias, meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: str | os.PathLike) -> QueryProjection:
        """Reads a map written by `save`."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return cls(data["weight"], data["bias"], **meta)


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge with an unpenalised intercept; the penalty is alpha · trace(XᵀX) / dim."""
    x_mean, y_mean = x.mean(0), y.mean(0)
    xc = x - x_mean
    gram = xc.T @ xc
    lam = alpha * max(np.trace(gram) / len(gram), 1e-12)
    weight = np.linalg.solve(gram + lam * np.eye(len(gram)), xc.T @ (y - y_mean))
    return weight, y_mean - x_mean @ weight


def _r2(truth: np.ndarray, predicted: np.ndarray, baseline: np.ndarray) -> float:
    """1 − SSE / SSE of predicting `baseline` (the training mean), over all output dims."""
    total = float(((truth - baseline) ** 2).sum())
    error = float(((truth - predicted) ** 2).sum())
    return 1.0 - error / total if total > 0 else 0.0


# --- entity matching ----------------------------------------------------------------------------

#: English function words: a name made only of them ("Other", "All", "The One") is never matched.
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each either else etc
    ever every few for from further had has have having he her here hers him his how i if in into
    is it its itself just least less me more most much my neither no nor not now of off on once
    one only or other others our out over own per same she should so some such than that the
    their them then there these they this those through to too under until up upon us very via
    was we were what when where whether which while who whom whose why will with within without
    would yes yet you your none na n/a misc miscellaneous true false""".split()
)
#: Names shorter than this (letters and digits, spaces left out) are never matched by name.
MIN_NAME_CHARS = 3
MAX_NAME_TOKENS = 8
_TOKEN = re.compile(r"[a-z0-9]+")
_LETTER = re.compile(r"[a-z]")


@dataclass(frozen=True)
class Match:
    """An entity the query names: node label, local index, id, display name, how it was found.

    ``how`` is ``"name"`` (its name occurs in the query) or ``"vector"`` (a category whose text
    vector is close to the query's); ``score`` is 1 for a name match, the cosine otherwise.
    """

    label: str
    index: int
    id: str
    name: str
    how: str
    score: float = 1.0


def tokens(text: str) -> list[str]:
    """Lower-case ASCII word tokens; '&' and '+' read as "and", apostrophes dropped."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    folded = folded.replace("'", "").replace("&", " and ").replace("+", " and ")
    return _TOKEN.findall(folded)


def singular(token: str) -> str:
    """Light English plural folding, applied to names and queries alike ("guns" → "gun")."""
    if len(token) <= 3 or not token.endswith("s") or token.endswith(("ss", "us", "is")):
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("xes", "ches", "shes", "sses")):
        return token[:-2]
    return token[:-1]


def _brand_variants(name: str) -> list[list[str]]:
    """The brand's name, and its name without corporate suffixes ("Arrow Fastener Co., Inc.")."""
    words = tokens(name)
    key = brand_key(name)
    variants = [words]
    for end in range(1, len(words)):
        if key is not None and brand_key(" ".join(words[:end])) == key:
            variants.append(words[:end])
            break
    return variants


class EntityMatcher:
    """Finds the brands, categories and attribute values a query names.

    By name: the query's and the names' tokens are compared case-, accent-, punctuation- and
    plural-insensitively, as whole words (token n-grams); where candidate spans overlap, the
    longest wins ("staple guns" over "staples"). Names under MIN_NAME_CHARS characters, names
    without a letter (price bands such as "10-20") and names made only of STOP_WORDS are left
    out: they would match by accident. By vector (fallback, only when no category is named):
    the categories whose text vector has cosine >= `threshold` with the query vector, at most
    `max_vector_matches`, best first.

    Args:
        brands, categories, attributes: ``(id, name)`` per node, in node order (the position is
            the node's local index); a category's name is its last path segment, an attribute's
            its value.
        category_vectors: float [n_categories, dim] text vectors (None: no vector fallback).
        threshold: Least cosine of a vector match.
        max_vector_matches: Most vector matches returned.
    """

    def __init__(
        self,
        brands: Sequence[tuple[str, str]] = (),
        categories: Sequence[tuple[str, str]] = (),
        attributes: Sequence[tuple[str, str]] = (),
        category_vectors: np.ndarray | None = None,
        *,
        threshold: float = 0.6,
        max_vector_matches: int = 3,
    ) -> None:
        self.threshold, self.max_vector_matches = float(threshold), int(max_vector_matches)
        self._names: dict[tuple[str, ...], list[tuple[str, int, str, str]]] = {}
        self._longest = 0
        for label, entries in ((BRAND, brands), (CATEGORY, categories), (ATTRIBUTE, attributes)):
            for index, (node_id, name) in enumerate(entries):
                variants = _brand_variants(name) if label == BRAND else [tokens(name or "")]
                for words in variants:
                    self._add(words, (label, index, node_id, name))
        self._categories = list(categories)
        self._vectors = None
        if category_vectors is not None and len(self._categories):
            vectors = np.asarray(category_vectors, dtype=np.float32)
            if len(vectors) != len(self._categories):
                raise ValueError(
                    f"{len(vectors)} category vectors for {len(self._categories)} categories"
                )
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            self._vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)

    def _add(self, words: list[str], entry: tuple[str, int, str, str]) -> None:
        if not words or len(words) > MAX_NAME_TOKENS or len("".join(words)) < MIN_NAME_CHARS:
            return
        if not _LETTER.search("".join(words)) or all(w in STOP_WORDS for w in words):
            return
        key = tuple(singular(w) for w in words)
        entries = self._names.setdefault(key, [])
        if entry not in entries:
            entries.append(entry)
        self._longest = max(self._longest, len(key))

    @classmethod
    def from_snapshot(
        cls, snapshot: SnapshotLike, category_vectors: np.ndarray | None = None, **options: Any
    ) -> EntityMatcher:
        """A matcher over the snapshot's Brand, Category and Attribute nodes (see class doc)."""

        def entries(label: str, name_of) -> list[tuple[str, str]]:
            ids, fields = snapshot.node_ids.get(label, []), snapshot.node_fields.get(label, [])
            return [(node_id, name_of(f) or "") for node_id, f in zip(ids, fields)]

        def category_name(fields: Mapping) -> str:
            return fields.get("name") or (fields.get("path") or [""])[-1]

        return cls(
            entries(BRAND, lambda f: f.get("name")),
            entries(CATEGORY, category_name),
            entries(ATTRIBUTE, lambda f: str(f.get("value") or "")),
            category_vectors,
            **options,
        )

    def match(self, query_text: str, query_vector: np.ndarray | None = None) -> list[Match]:
        """The entities `query_text` names (in query order), then any vector-matched categories."""
        words = [singular(w) for w in tokens(query_text or "")]
        spans = [
            (start, start + n)
            for n in range(min(self._longest, len(words)), 0, -1)
            for start in range(len(words) - n + 1)
            if tuple(words[start : start + n]) in self._names
        ]
        taken = np.zeros(len(words), dtype=bool)
        chosen = []
        for start, end in spans:  # longest first, then leftmost
            if not taken[start:end].any():
                taken[start:end] = True
                chosen.append((start, end))
        found: dict[tuple[str, int], Match] = {}
        for start, end in sorted(chosen):
            for label, index, node_id, name in self._names[tuple(words[start:end])]:
                found.setdefault((label, index), Match(label, index, node_id, name, "name"))
        matches = list(found.values())
        if query_vector is not None and self._vectors is not None:
            if not any(m.label == CATEGORY for m in matches):
                matches += self._vector_matches(np.asarray(query_vector, dtype=np.float32))
        return matches

    def _vector_matches(self, query_vector: np.ndarray) -> list[Match]:
        norm = float(np.linalg.norm(query_vector))
        if norm == 0 or self.max_vector_matches <= 0:
            return []
        cosine = self._vectors @ (query_vector / norm)
        best = np.argsort(-cosine, kind="stable")[: self.max_vector_matches]
        return [
            Match(CATEGORY, int(i), *self._categories[i], "vector", float(cosine[i]))
            for i in best
            if cosine[i] >= self.threshold
        ]


# --- scoring ------------------------------------------------------------------------------------


def standardise(values: np.ndarray) -> np.ndarray:
    """z-scores over products (all zeros when the values have no spread)."""
    values = np.asarray(values, dtype=np.float64)
    std = values.std()
    return (values - values.mean()) / std if std > 1e-12 else np.zeros_like(values)


def _incidence(
    edges: np.ndarray | None, n_rows: int, n_products: int, product_row: int
) -> sp.csr_matrix:
    """Binary entity × product matrix from a [2, E] Product→entity edge array."""
    if edges is None or edges.size == 0 or n_rows == 0:
        return sp.csr_matrix((n_rows, n_products), dtype=np.float32)
    products, entities = edges[product_row], edges[1 - product_row]
    matrix = sp.csr_matrix(
        (np.ones(len(products), dtype=np.float32), (entities, products)), shape=(n_rows, n_products)
    )
    matrix.data[:] = 1.0  # duplicate edges count once
    return matrix


def category_products(snapshot: SnapshotLike, n_products: int) -> sp.csr_matrix:
    """Category × product: 1 where the product is IN_CATEGORY the category or a descendant of it.

    Products sit in leaf categories only, so their memberships are pushed up SUBCATEGORY_OF
    (child → parent) level by level until nothing changes (cycle-safe: membership only grows).
    """
    n_categories = len(snapshot.node_ids.get(CATEGORY, []))
    member = _incidence(snapshot.edges.get("IN_CATEGORY"), n_categories, n_products, 0)
    links = snapshot.edges.get("SUBCATEGORY_OF")
    if links is None or links.size == 0 or member.nnz == 0:
        return member
    # up[parent, child] = 1, so up @ member moves each child's products to its parent.
    up = sp.csr_matrix(
        (np.ones(links.shape[1], dtype=np.float32), (links[1], links[0])),
        shape=(n_categories, n_categories),
    )
    while True:
        grown = member + up @ member
        grown.data[:] = 1.0
        grown.eliminate_zeros()
        if grown.nnz == member.nnz:
            return member.tocsr()
        member = grown.tocsr()


class QueryScorer:
    """One score per product for a natural-language query (see module docstring).

    Args:
        snapshot: The graph (node ids and edges; a `kg.snapshot.GraphSnapshot`).
        product_text: float [n_products, dim] product text vectors (zero rows: no text).
        product_emb: float [n_products, d] product embeddings of the trained model, or None
            (then the projection part is left out).
        projection: Text space → embedding space, or None (projection part left out).
        matcher: Finds the named entities, or None (entity part left out).
        weights: Weight per part, ``{"text", "projection", "entity"}``; missing keys keep
            DEFAULT_WEIGHTS.

    Raises:
        ValueError: For shapes that do not fit the snapshot or each other, or an unknown part.
    """

    def __init__(
        self,
        snapshot: SnapshotLike,
        product_text: np.ndarray,
        product_emb: np.ndarray | None,
        projection: QueryProjection | None,
        matcher: EntityMatcher | None,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        n = len(snapshot.node_ids[PRODUCT])
        unknown = set(weights or ()) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown score parts {sorted(unknown)}; known: {list(PARTS)}")
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        text = np.asarray(product_text, dtype=np.float32)
        if text.ndim != 2 or len(text) != n:
            raise ValueError(f"product_text [{n}, dim] expected, got {text.shape}")
        norms = np.linalg.norm(text, axis=1, keepdims=True)
        self._text = np.divide(text, norms, out=np.zeros_like(text), where=norms > 0)
        self._emb = None
        if product_emb is not None and projection is not None:
            emb = np.asarray(product_emb, dtype=np.float32)
            if emb.shape != (n, projection.out_dim) or projection.in_dim != text.shape[1]:
                raise ValueError(
                    f"product_emb {emb.shape} / projection {projection.in_dim}->"
                    f"{projection.out_dim} do not fit {n} products with {text.shape[1]}-d text"
                )
            self._emb = emb
        self.projection, self.matcher = projection, matcher
        count = {label: len(snapshot.node_ids.get(label, [])) for label in (BRAND, ATTRIBUTE)}
        self._products_of: dict[str, sp.csr_matrix] = {
            BRAND: _incidence(snapshot.edges.get("MADE_BY"), count[BRAND], n, 0),
            CATEGORY: category_products(snapshot, n),
            ATTRIBUTE: _incidence(snapshot.edges.get("HAS_ATTRIBUTE"), count[ATTRIBUTE], n, 0),
        }
        self.n_products = n

    def parts(
        self, query_vector: np.ndarray, query_text: str
    ) -> tuple[dict[str, np.ndarray], list[Match]]:
        """The raw (unstandardised) score of each part present, and the matched entities."""
        q = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        dim = self._text.shape[1]
        if q.shape[0] != dim:
            raise ValueError(f"query vector of {dim} values expected, got {q.shape}")
        norm = float(np.linalg.norm(q))
        q = q / norm if norm > 0 else q
        parts = {"text": self._text @ q}
        if self._emb is not None:
            parts["projection"] = self._emb @ self.projection.transform(q)
        matches = self.matcher.match(query_text, q) if self.matcher is not None else []
        if matches:
            parts["entity"] = self.entity_boost(matches)
        return parts, matches

    def entity_boost(self, matches: Iterable[Match]) -> np.ndarray:
        """Per product, the summed scores of the matched entities it is connected to."""
        boost = np.zeros(self.n_products, dtype=np.float32)
        for label, matrix in self._products_of.items():
            rows = [(m.index, m.score) for m in matches if m.label == label]
            if rows and matrix.shape[0]:
                picked = np.zeros(matrix.shape[0], dtype=np.float32)
                np.add.at(picked, [r for r, _ in rows], [s for _, s in rows])
                boost += matrix.T @ picked
        return boost

    def score(self, query_vector: np.ndarray, query_text: str) -> tuple[np.ndarray, list[Match]]:
        """float32 [n_products] blended scores (higher is better) and the matched entities."""
        parts, matches = self.parts(query_vector, query_text)
        total = np.zeros(self.n_products, dtype=np.float64)
        for name, values in parts.items():
            if self.weights[name]:
                total += self.weights[name] * standardise(values)
        return total.astype(np.float32), matches

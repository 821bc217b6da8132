"""What the service serves from: the current model bundle, its ranker and catalogue lookups.

`ModelHolder` loads a bundle into a complete `ServingState` first and only then swaps the one
reference that requests read, so a request sees the old state or the new one, never a mix, and
a bundle that fails to load leaves the old state serving.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp

from gnn.bundle import CURRENT, Bundle, load_bundle
from gnn.graph import RELATIONS
from gnn.hybrid.ranker import ranker_from_bundle
from kg.schema import BRAND, CATEGORY, LABELS, PRODUCT, REL_TYPES, USER
from kg.snapshot import GraphSnapshot
from service import heap
from service.errors import ApiError

log = logging.getLogger(__name__)


def catalogue_snapshot(bundle: Bundle) -> GraphSnapshot:
    """A GraphSnapshot of the bundle's catalogue (no interactions): ids, fields, KG edges."""
    g = bundle.graph
    edges = {}
    index, types = g.kg_edge_index.numpy(), g.kg_edge_type.numpy()
    for rel, rt in REL_TYPES.items():
        if rel in RELATIONS:
            mask = types == RELATIONS.index(rel)
            edges[rel] = np.stack([index[0][mask] - g.offsets[rt.src],
                                   index[1][mask] - g.offsets[rt.dst]]).astype(np.int64)
        else:
            edges[rel] = np.zeros((2, 0), dtype=np.int64)
    fields = {label: bundle.catalogue.get(label, [{} for _ in bundle.node_ids[label]])
              for label in LABELS}
    fields[USER] = [{} for _ in bundle.node_ids[USER]]
    return GraphSnapshot(node_ids=bundle.node_ids, node_fields=fields, edges=edges)


class ServingState:
    """A loaded bundle with everything ranking needs, built once per bundle."""

    def __init__(self, bundle: Bundle) -> None:
        t0 = time.perf_counter()
        self.bundle = bundle
        self.version = bundle.version
        self.snapshot = catalogue_snapshot(bundle)
        self.ranker = ranker_from_bundle(bundle)
        self.matrix: sp.csr_matrix = self.ranker.matrix
        self.product_ids = bundle.node_ids[PRODUCT]
        self.products = bundle.index(PRODUCT)
        self.users = bundle.index(USER)
        n = len(self.product_ids)
        self.brand_of = np.full(n, -1, dtype=np.int64)
        made_by = self.snapshot.edges["MADE_BY"]
        self.brand_of[made_by[0]] = made_by[1]
        self.price = np.array([np.nan if f.get("price") is None else float(f["price"])
                               for f in self.snapshot.node_fields[PRODUCT]], dtype=np.float64)
        # display name (lower case) -> brand, first brand of a name wins (the filter's lookup)
        self._brand_names: dict[str, int] = {}
        for i, f in enumerate(self.snapshot.node_fields[BRAND]):
            self._brand_names.setdefault((f.get("name") or "").lower(), i)
        self._subtree_cache: dict[int, np.ndarray] = {}
        # the products' text vectors as numpy, for the few dot products an explanation takes
        # (torch's per-call overhead would be most of their cost); None without a text part
        text = self.ranker.parts.get("text")
        self.text_vectors: np.ndarray | None = None if text is None else text.text.numpy()
        self.loaded_at = time.time()
        self.query_scorer = None  # built on first query (needs the language model)
        log.info("bundle %s ready in %.2f s: %d products, %d users", self.version,
                 time.perf_counter() - t0, n, len(bundle.node_ids[USER]))

    def product(self, index: int) -> dict:
        """The public view of a product."""
        f = self.snapshot.node_fields[PRODUCT][index]
        out = {"id": self.product_ids[index], "title": f.get("title") or ""}
        if f.get("brand"):
            out["brand"] = f["brand"]
        if f.get("category_path"):
            out["category_path"] = list(f["category_path"])
        if f.get("price") is not None:
            out["price"] = f["price"]
        return out

    def brand_index(self, brand: str) -> int | None:
        """A brand by id (normalised key) or by its display name, any case."""
        idx = self.snapshot.index(BRAND).get(brand)
        return idx if idx is not None else self._brand_names.get(brand.strip().lower())

    def category_subtree(self, category_id: str) -> np.ndarray | None:
        """Products in a category or any of its descendants (None for an unknown category)."""
        cat = self.snapshot.index(CATEGORY).get(category_id)
        if cat is None:
            return None
        if cat not in self._subtree_cache:
            sub = self.snapshot.edges["SUBCATEGORY_OF"]  # child -> parent
            members = {cat}
            frontier = [cat]
            while frontier:
                children = sub[0][np.isin(sub[1], frontier)]
                frontier = [c for c in children.tolist() if c not in members]
                members.update(frontier)
            ic = self.snapshot.edges["IN_CATEGORY"]
            self._subtree_cache[cat] = np.unique(ic[0][np.isin(ic[1], list(members))])
        return self._subtree_cache[cat]


class ModelHolder:
    """The current ServingState; `reload` swaps in a new one atomically.

    Args:
        bundle_root: A bundle folder or a root holding CURRENT.
    """

    def __init__(self, bundle_root: Path) -> None:
        self.bundle_root = Path(bundle_root)
        self._state: ServingState | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self._failed_version: str | None = None
        self.listeners: list[Callable[[], None]] = []  # called after a watcher's reload

    def reload(self) -> ServingState:
        """Loads the current bundle; keeps the old state (and re-raises) when that fails."""
        with self._lock:
            try:
                state = ServingState(load_bundle(self.bundle_root))
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("bundle load failed, still serving %s: %s",
                          self._state.version if self._state else "nothing", self.last_error)
                raise
            self._state, self.last_error = state, None  # one reference swap
            self._failed_version = None
        heap.settle()  # one full collection per reload, not one in the middle of some request
        return state

    def current_version(self) -> str | None:
        """The version the root's CURRENT names now (None without one)."""
        try:
            return (self.bundle_root / CURRENT).read_text().strip() or None
        except OSError:
            return None

    def reload_if_changed(self) -> bool:
        """Load the bundle CURRENT names when it is not the one served (a version that failed to
        load is not tried again until CURRENT changes). True when a new state was swapped in."""
        version = self.current_version()
        served = self._state.version if self._state is not None else None
        if version is None or version in (served, self._failed_version):
            return False
        try:
            self.reload()
        except Exception:
            self._failed_version = version
            return False
        for listener in self.listeners:
            listener()
        return True

    def watch(self, interval: float) -> threading.Thread:
        """Check CURRENT every ``interval`` seconds in a daemon thread, so that every gunicorn
        worker picks up a bundle the refresh job published (a reload request reaches only one).
        The thread holds the holder weakly and ends with it."""
        ref = weakref.ref(self)

        def loop() -> None:
            while True:
                time.sleep(interval)
                holder = ref()
                if holder is None:
                    return
                try:
                    holder.reload_if_changed()
                except Exception:  # never let the watcher die; reload() logged it
                    log.exception("bundle watcher")
                del holder

        thread = threading.Thread(target=loop, name="kgrec-bundle-watch", daemon=True)
        thread.start()
        return thread

    def try_load(self) -> None:
        """Load at start-up if there is a bundle; a missing one leaves the service not ready."""
        try:
            self.reload()
        except Exception:
            pass

    @property
    def state(self) -> ServingState:
        state = self._state
        if state is None:
            raise ApiError(503, "not_ready", "no model bundle loaded"
                           + (f" ({self.last_error})" if self.last_error else "")
                           + "; run `kgrec train`, then POST /v1/admin/reload")
        return state

    @property
    def ready(self) -> bool:
        return self._state is not None

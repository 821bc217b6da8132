"""Importer for the canonical layout (``products.jsonl`` + ``interactions.csv``) into any GraphStore.

Written for real exports: text is cleaned (``kg.clean``), brand spellings are merged under one
normalised key with the raw names kept as aliases, every prefix of a category path becomes a
Category with SUBCATEGORY_OF, junk path tails are cut, attributes/price/related links are loaded
when present and any optional field may be missing. Rows are validated (``kg.records``) and
written in batches, each batch in one atomic store write; by default the first bad row stops the
load with nothing of its batch committed, ``on_error="skip"`` skips and reports bad rows instead.
Every write is a MERGE, so loading the same folder twice leaves the store unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from kg.clean import (
    attribute_key,
    attribute_value,
    brand_key,
    category_id,
    clean_category_path,
    clean_text,
    is_dirty,
    price_band,
)
from kg.errors import InvalidInputError, KgError, LoadError
from kg.records import (
    InteractionRecord,
    ProductRecord,
    check_interaction_header,
    parse_interaction,
    parse_product,
)
from kg.schema import ATTRIBUTE, BRAND, CATEGORY, PRODUCT, RELATED_FIELDS, USER
from kg.store import GraphBatch, GraphStore

log = logging.getLogger(__name__)

PRODUCTS_FILE = "products.jsonl"
INTERACTIONS_FILE = "interactions.csv"
DEFAULT_BATCH_SIZE = 5000
MAX_REPORTED_ERRORS = 50


@dataclass
class LoadReport:
    """What a load did: counts, cleaning, skipped rows and timings."""

    products: int = 0
    interactions: int = 0
    users: int = 0
    relationships: int = 0
    brands: int = 0
    brand_variants: int = 0
    categories: int = 0
    attributes: int = 0
    related_links: int = 0
    related_dropped: int = 0
    junk_segments: int = 0
    html_cleaned: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def skip(self, exc: InvalidInputError) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(str(exc))

    def summary(self) -> str:
        t = self.seconds
        lines = [
            f"products: {self.products} in {t.get('products', 0):.1f}s "
            f"({_rate(self.products, t.get('products'))} products/s); interactions: {self.interactions} "
            f"from {self.users} users in {t.get('interactions', 0):.1f}s "
            f"({_rate(self.interactions, t.get('interactions'))}/s); relationships written: {self.relationships} "
            f"({_rate(self.relationships, sum(t.values()))}/s)",
            f"brands: {self.brands} ({self.brand_variants} with several spellings merged); categories: "
            f"{self.categories}; attributes: {self.attributes}; related links: {self.related_links} "
            f"({self.related_dropped} to unknown products dropped)",
            f"cleaning: {self.html_cleaned} texts had HTML tags/entities; {self.junk_segments} junk "
            f"category segments cut; missing fields: "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.missing.items())) or "none"),
        ]
        if self.skipped:
            lines.append(f"skipped {self.skipped} bad rows:")
            lines += [f"  {e}" for e in self.errors]
            if self.skipped > len(self.errors):
                lines.append(f"  … and {self.skipped - len(self.errors)} more")
        return "\n".join(lines)


def _rate(n: int, seconds: float | None) -> str:
    return f"{n / seconds:,.0f}" if seconds else "-"


def text_hash(rec: ProductRecord, brand: str | None, path: list[str]) -> str:
    """Hash of everything the product's text is built from; a change stamps ``updated_at``."""
    parts = [rec.title, rec.description or "", brand or "", "\x1e".join(path),
             "\x1e".join(f"{k}={v}" for k, v in sorted(rec.attributes.items())), repr(rec.price)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


class _Lines:
    """Iterate a text file's lines with 1-based numbers and a byte-based tqdm bar."""

    def __init__(self, path: Path, progress: bool, desc: str):
        self.path, self.progress, self.desc = path, progress, desc

    def __iter__(self) -> Iterator[tuple[int, str]]:
        size = self.path.stat().st_size
        with open(self.path, encoding="utf-8-sig", newline="") as fh, tqdm(
            total=size, unit="B", unit_scale=True, desc=self.desc, disable=not self.progress, leave=False
        ) as bar:
            for number, line in enumerate(fh, start=1):
                bar.update(len(line.encode("utf-8", "ignore")) if self.progress else 0)
                yield number, line


class _Writer:
    """Applies batches on a background thread while the caller parses the next ones.

    Parsing is Python work and a store write mostly waits on the database, so overlapping them
    nearly halves load time. Batches are applied in submission order; the first store error stops
    the writer and is re-raised to the caller by the next ``submit`` or by ``drain``.
    """

    def __init__(self, apply: Callable[[GraphBatch], None]):
        self._apply, self._queue = apply, queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="kgrec-load-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                if self._error is None:
                    self._apply(batch)
            except BaseException as exc:  # re-raised in the caller's thread
                self._error = exc
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def submit(self, batch: GraphBatch) -> None:
        if self._error is not None:
            self.drain()
        self._queue.put(batch)

    def drain(self) -> None:
        """Wait until every submitted batch is applied; raise the writer's error if any."""
        self._queue.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


class Loader:
    """Loads one folder of the canonical layout into a store (see module docstring).

    Args:
        store: any GraphStore.
        batch_size: rows per atomic write.
        on_error: ``"fail"`` (stop at the first bad row) or ``"skip"`` (skip and report).
        progress: show tqdm bars.
    """

    def __init__(self, store: GraphStore, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 on_error: str = "fail", progress: bool = False):
        if on_error not in ("fail", "skip"):
            raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.store, self.batch_size, self.on_error, self.progress = store, batch_size, on_error, progress
        self.report = LoadReport()
        self.now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.product_ids: set[str] = set()  # ids in this load's products file
        self._store_ids: set[str] = set()  # ids confirmed to exist in the store already
        self._written: dict[str, set] = {BRAND: set(), CATEGORY: set(), ATTRIBUTE: set(), USER: set()}
        self._brand_names: dict[str, set[str]] = {}
        self._related: list[tuple[str, str, str]] = []

    # --- driver ---------------------------------------------------------------------------------

    def load_dir(self, data_dir: str | Path) -> LoadReport:
        """Load ``products.jsonl`` then ``interactions.csv`` from ``data_dir`` (either may be absent)."""
        data_dir = Path(data_dir)
        products, interactions = data_dir / PRODUCTS_FILE, data_dir / INTERACTIONS_FILE
        if not data_dir.is_dir():
            raise KgError(f"{data_dir}: not a folder")
        if not products.exists() and not interactions.exists():
            raise KgError(f"{data_dir}: neither {PRODUCTS_FILE} nor {INTERACTIONS_FILE} found")
        self.store.ensure_schema()
        try:
            if products.exists():
                self.load_products(products)
            else:
                log.warning("%s: no %s, loading interactions only", data_dir, PRODUCTS_FILE)
            if interactions.exists():
                self.load_interactions(interactions)
            else:
                log.warning("%s: no %s, loading the catalogue only", data_dir, INTERACTIONS_FILE)
        finally:
            self.store.flush()
        return self.report

    def _run(self, path: Path, rows: Iterator[tuple[int, str]], parse: Callable, build: Callable) -> None:
        """Parse rows into batches and apply each; stop or skip on a bad row per ``on_error``."""
        batch: list = []
        committed, first_line = 0, None
        writer = _Writer(self._apply)
        try:
            for number, raw in rows:
                if not raw.strip():
                    continue
                first_line = first_line or number
                try:
                    record = parse(number, raw)
                    self._check(record, path)
                except InvalidInputError as exc:
                    if self.on_error == "skip":
                        self.report.skip(exc)
                        continue
                    writer.drain()  # the batches before this one are committed, this one is not
                    raise LoadError(exc, committed, (first_line, number)) from None
                batch.append(record)
                if len(batch) >= self.batch_size:
                    writer.submit(self._build(build, batch, writer))
                    committed += len(batch)
                    batch, first_line = [], None
            if batch:
                writer.submit(self._build(build, batch, writer))
            writer.drain()
        finally:
            writer.close()

    @staticmethod
    def _build(build: Callable, records: list, writer: _Writer) -> GraphBatch:
        """Build a batch; a LoadError raised while building waits for earlier batches first."""
        try:
            return build(records)
        except LoadError:
            writer.drain()
            raise

    def _apply(self, batch: GraphBatch) -> None:
        batch.now = self.now
        self.store.apply(batch)
        self.report.relationships += sum(map(len, batch.edges.values()))  # only the writer thread adds

    def _check(self, record, path: Path) -> None:
        if isinstance(record, ProductRecord):
            if record.id in self.product_ids:
                raise InvalidInputError(path, record.line, "id", f"duplicate product id {record.id!r}")
            self.product_ids.add(record.id)

    # --- products -------------------------------------------------------------------------------

    def load_products(self, path: Path) -> None:
        start = time.perf_counter()
        rows = _Lines(path, self.progress, f"products {path.name}")
        self._run(path, iter(rows), lambda n, raw: parse_product(str(path), n, raw), self._product_batch)
        self._load_related()
        self.report.brand_variants = sum(1 for names in self._brand_names.values() if len(names) > 1)
        self.report.seconds["products"] = time.perf_counter() - start

    def _missing(self, name: str) -> None:
        self.report.missing[name] = self.report.missing.get(name, 0) + 1

    def _product_batch(self, records: list[ProductRecord]) -> GraphBatch:
        batch = GraphBatch(replace_catalogue_edges=[r.id for r in records])
        brands: dict[str, dict] = {}
        for rec in records:
            self.report.products += 1
            self.report.html_cleaned += is_dirty(rec.title) + is_dirty(rec.description or "")
            brand = None
            if rec.brand is not None and (key := brand_key(rec.brand)):
                raw = rec.brand.strip()
                brand = clean_text(raw)
                names = self._brand_names.setdefault(key, set())
                if raw not in names:
                    names.add(raw)
                    row = brands.setdefault(key, {"id": key, "name": brand, "aliases": []})
                    row["aliases"].append(raw)
                batch.add_edge("MADE_BY", rec.id, key)
            else:
                self._missing("brand")
            path, dropped = clean_category_path(rec.category_path)
            self.report.junk_segments += dropped
            if path:
                for depth in range(1, len(path) + 1):
                    cid = category_id(path[:depth])
                    if cid not in self._written[CATEGORY]:
                        self._written[CATEGORY].add(cid)
                        self.report.categories += 1
                        batch.add_node(CATEGORY, {"id": cid, "name": path[depth - 1], "path": path[:depth]})
                        if depth > 1:
                            batch.add_edge("SUBCATEGORY_OF", cid, category_id(path[: depth - 1]))
                batch.add_edge("IN_CATEGORY", rec.id, category_id(path))
            else:
                self._missing("category_path")
            attrs = [(attribute_key(k), attribute_value(v)) for k, v in rec.attributes.items()]
            if rec.price is not None:
                attrs.append(("price_band", price_band(rec.price)))
            seen_attrs: set[str] = set()
            for key, value in attrs:
                aid = f"{key}={value}"
                if not key or not value or aid in seen_attrs:
                    continue
                seen_attrs.add(aid)
                if aid not in self._written[ATTRIBUTE]:
                    self._written[ATTRIBUTE].add(aid)
                    self.report.attributes += 1
                    batch.add_node(ATTRIBUTE, {"id": aid, "key": key, "value": value})
                batch.add_edge("HAS_ATTRIBUTE", rec.id, aid)
            if rec.description is None:
                self._missing("description")
            batch.add_node(PRODUCT, {
                "id": rec.id,
                "title": clean_text(rec.title),
                "description": clean_text(rec.description) if rec.description is not None else None,
                "price": rec.price,
                "text_hash": text_hash(rec, brand, path),
            })
            for field_name, ids in rec.related.items():
                self._related += [(rec.id, RELATED_FIELDS[field_name], other) for other in dict.fromkeys(ids)]
        if brands:
            self.report.brands = len(self._brand_names)
            batch.nodes[BRAND] = list(brands.values())
        return batch

    def _load_related(self) -> None:
        """Related links once every product of the file exists; links to unknown products are dropped."""
        if not self._related:
            return
        targets = {dst for _, _, dst in self._related} - self.product_ids
        known = self.product_ids | (self.store.existing_ids(PRODUCT, targets) if targets else set())
        links = [(s, rel, d) for s, rel, d in dict.fromkeys(self._related) if d in known and d != s]
        self.report.related_dropped += len(self._related) - len(links)
        self.report.related_links += len(links)
        for i in range(0, len(links), self.batch_size):
            batch = GraphBatch()
            for src, rel, dst in links[i : i + self.batch_size]:
                batch.add_edge(rel, src, dst)
            self._apply(batch)
        self._related = []

    # --- interactions ---------------------------------------------------------------------------

    def load_interactions(self, path: Path) -> None:
        start = time.perf_counter()
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            cols = check_interaction_header(str(path), next(reader, None))
        lines = _Lines(path, self.progress, f"interactions {path.name}")

        def rows() -> Iterator[tuple[int, str]]:
            it = iter(lines)
            next(it, None)  # header, validated above
            yield from it

        def parse(number: int, raw: str) -> InteractionRecord:
            cells = next(csv.reader([raw]), [])
            return parse_interaction(str(path), number, cells, cols)

        self._interaction_path = path
        self._run(path, rows(), parse, self._interaction_batch)
        self.report.seconds["interactions"] = time.perf_counter() - start

    def load_interaction_records(self, records: list[InteractionRecord], source: str | Path) -> None:
        """Interactions that do not come from a CSV file (the service's event log), checked and
        batched like ``interactions.csv`` rows; ``source`` and each record's ``line`` name a bad one."""
        start = time.perf_counter()
        self._interaction_path = Path(source)
        for i in range(0, len(records), self.batch_size):
            self._apply(self._interaction_batch(records[i : i + self.batch_size]))
        self.store.flush()
        self.report.seconds["events"] = time.perf_counter() - start

    def _check_items(self, records: list[InteractionRecord]) -> list[InteractionRecord]:
        """Reject (or skip) rows naming a product that is neither in this load nor in the store."""
        unknown = {r.item_id for r in records} - self.product_ids - self._store_ids
        if unknown:
            self._store_ids |= self.store.existing_ids(PRODUCT, unknown)
        kept = []
        for rec in records:
            if rec.item_id in self.product_ids or rec.item_id in self._store_ids:
                kept.append(rec)
                continue
            exc = InvalidInputError(self._interaction_path, rec.line, "item_id", f"unknown product {rec.item_id!r}")
            if self.on_error == "skip":
                self.report.skip(exc)
            else:
                raise LoadError(exc, self.report.interactions, (records[0].line, records[-1].line))
        return kept

    def _interaction_batch(self, records: list[InteractionRecord]) -> GraphBatch:
        batch = GraphBatch()
        for rec in self._check_items(records):
            self.report.interactions += 1
            if rec.user_id not in self._written[USER]:
                self._written[USER].add(rec.user_id)
                self.report.users += 1
                batch.add_node(USER, {"id": rec.user_id})
            batch.add_edge("INTERACTED", rec.user_id, rec.item_id, kind=rec.kind, rating=rec.rating, ts=rec.ts)
        rows = batch.edges.get("INTERACTED", [])
        batch.edges["INTERACTED"] = list({(r["src"], r["dst"], r["kind"]): r for r in rows}.values())
        return batch


def load_dir(store: GraphStore, data_dir: str | Path, **options) -> LoadReport:
    """Load a canonical folder into ``store``; see ``Loader`` for the options."""
    return Loader(store, **options).load_dir(data_dir)

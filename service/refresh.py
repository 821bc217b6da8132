"""The batch refresh job (`kgrec refresh`): deltas and feedback in, a new bundle out.

Steps, each timed in the report:

1. ingest — delta folders in the canonical layout (new or changed products, new interactions)
   and the events stored by ``POST /v1/events``, upserted with MERGE (idempotent);
2. snapshot — the whole graph; when its data hash equals the current bundle's, nothing changed
   and the job stops here (``--force`` goes on);
3. encode — node texts through the content-addressed cache: only new or changed texts reach the
   language model;
4. embed — the current bundle's R-GCN run over the new graph (inductive: new products get their
   embedding from brand, categories, attributes and text, no retraining); ``--retrain`` trains
   a new model instead. The bundle is written but not yet current;
5. write-back (Neo4j only) — embeddings that changed into the vector index, RECOMMENDED edges of
   active users;
6. publish — CURRENT names the new bundle (one atomic rename);
7. reload — the running service is told (it also notices CURRENT by itself);
8. events — the ingested events are marked consumed; old bundles are pruned.

Crash safety: every write is atomic (a store batch, a write-back batch, a bundle folder, the
CURRENT file) and every step is idempotent, so a job killed anywhere leaves the store consistent
and the service on the previous bundle, and the next run completes the work: events are marked
consumed only after the bundle that holds them is published; an unpublished bundle is never
served. A lock file keeps two runs from overlapping.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

from gnn.bundle import CURRENT, Bundle, BundleError, load_bundle, save_bundle, set_current
from kg.ingest import Loader
from kg.records import InteractionRecord
from kg.schema import PRODUCT, USER
from kg.snapshot import GraphSnapshot, export_snapshot
from service.config import Config
from service.events import EventStore
from service.stores import open_store

log = logging.getLogger(__name__)

#: Exit status of `kgrec refresh` when another run holds the lock (sysexits EX_TEMPFAIL: retry later).
BUSY_EXIT = 75
#: Embeddings closer than this to the previous bundle's are not written back again.
EMBEDDING_TOLERANCE = 1e-5


class RefreshError(Exception):
    """The job cannot go on (the message says why and what to do); nothing is published."""


class RefreshBusy(RefreshError):
    """Another refresh holds the lock."""


@dataclass
class RefreshOptions:
    """What one run does (the flags of `kgrec refresh`)."""

    deltas: list[Path] = field(default_factory=list)
    events: bool = True
    retrain: bool = False
    force: bool = False
    active_days: float = 90.0
    recommend_k: int = 10
    service_url: str | None = None
    on_error: str = "fail"
    keep_bundles: int = 3
    progress: bool = False
    seed: int = 0


@dataclass
class RefreshReport:
    """What a run did; `summary` is what the CLI prints."""

    previous: str | None = None
    bundle: str | None = None
    up_to_date: bool = False
    changes: dict = field(default_factory=dict)
    encode: dict = field(default_factory=dict)
    embeddings: dict = field(default_factory=dict)
    writeback: dict = field(default_factory=dict)
    reload: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    pruned: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        c = self.changes
        lines = []
        if self.up_to_date:
            lines.append(f"up to date: the graph equals bundle {self.previous}; nothing published")
        else:
            lines.append(f"published bundle {self.bundle} (previous {self.previous or 'none'})")
        lines.append(
            f"graph: products {c.get('products_before', 0)} -> {c.get('products_after', 0)} "
            f"({c.get('products_new', 0)} new, {c.get('products_changed', 0)} changed); interactions "
            f"{c.get('interactions_before', 0)} -> {c.get('interactions_after', 0)}; users "
            f"{c.get('users_before', 0)} -> {c.get('users_after', 0)}")
        if self.events:
            e = self.events
            lines.append(f"events: {e.get('ingested', 0)} ingested, {e.get('skipped', 0)} skipped, "
                         f"{e.get('consumed', 0)} marked consumed")
        if self.encode:
            lines.append(f"texts: {self.encode['texts']} ({self.encode['encoded']} encoded, "
                         f"{self.encode['cache_hits']} from the cache)")
        if self.embeddings:
            m = self.embeddings
            lines.append(f"embeddings: {m['method']}; {m['products_changed']} products' embeddings "
                         f"changed, {m['products_new']} new")
        if self.writeback:
            w = self.writeback
            lines.append(w["skipped"] if "skipped" in w else
                         f"Neo4j: {w['embeddings']} embeddings written; RECOMMENDED for "
                         f"{w['users']} active users ({w['edges']} edges)")
        if self.reload:
            lines.append("service: " + (f"reloaded {self.reload['model_version']}"
                                        if self.reload.get("ok") else self.reload.get("message", "")))
        if self.pruned:
            lines.append(f"pruned old bundles: {', '.join(self.pruned)}")
        lines.append("steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
                     + f" (total {sum(self.seconds.values()):.1f}s)")
        return "\n".join(lines)


# --- the lock -------------------------------------------------------------------------------------


@contextmanager
def refresh_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (flock: released by the kernel if the job dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise RefreshBusy(f"another refresh is running ({holder}; lock {path}); "
                              "try again when it has finished") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {_now()}".encode(), 0)
        yield
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- steps ----------------------------------------------------------------------------------------


class _Clock:
    def __init__(self, report: RefreshReport) -> None:
        self.report = report

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        log.info("refresh: %s …", name)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.report.seconds[name] = round(time.perf_counter() - t0, 3)


def _current_bundle(root: Path) -> Bundle | None:
    if not (root / CURRENT).exists():
        return None
    try:
        return load_bundle(root)
    except BundleError as exc:
        raise RefreshError(f"the current bundle cannot be loaded ({exc}); "
                           "run `kgrec train` (or `kgrec refresh --retrain`)") from None


def _event_records(events) -> list[InteractionRecord]:
    return [InteractionRecord(user_id=e.user_id, item_id=e.item_id, ts=e.timestamp,
                              rating=e.rating, kind=e.kind, line=e.id) for e in events]


def _ingest(store, options: RefreshOptions, event_store: EventStore | None,
            report: RefreshReport) -> tuple[int, set[str]]:
    """Load the deltas, then the pending events; returns the last event id read and its users."""
    for delta in options.deltas:
        loader = Loader(store, on_error=options.on_error, progress=options.progress)
        loaded = loader.load_dir(delta)
        report.changes.setdefault("deltas", []).append(
            {"folder": str(delta), "products": loaded.products, "interactions": loaded.interactions,
             "skipped": loaded.skipped, "errors": loaded.errors})
    last_event, users = 0, set()
    if event_store is not None:
        pending = event_store.pending()
        if pending:
            loader = Loader(store, on_error="skip", progress=False)
            loader.load_interaction_records(_event_records(pending), f"{event_store.path} event")
            last_event, users = pending[-1].id, {e.user_id for e in pending}
            report.events = {"ingested": loader.report.interactions, "skipped": loader.report.skipped,
                             "errors": loader.report.errors, "last_id": last_event}
        else:
            report.events = {"ingested": 0, "skipped": 0, "last_id": 0}
    store.flush()
    return last_event, users


def _changed_products(snapshot: GraphSnapshot, features: dict, previous: Bundle | None):
    """(new ids, changed ids): products absent from the previous bundle, and products whose text
    vector or catalogue fields differ from it."""
    if previous is None:
        return list(snapshot.node_ids[PRODUCT]), []
    old_index = previous.index(PRODUCT)
    old_text = previous.graph.features.get(PRODUCT)
    new, changed = [], []
    for i, pid in enumerate(snapshot.node_ids[PRODUCT]):
        j = old_index.get(pid)
        if j is None:
            new.append(pid)
            continue
        old_fields = previous.catalogue.get(PRODUCT, [{}] * (j + 1))[j]
        fields = snapshot.node_fields[PRODUCT][i]
        same_fields = all(old_fields.get(k) == fields.get(k) for k in old_fields)
        same_text = old_text is None or np.allclose(old_text[j].numpy(), features[PRODUCT][i],
                                                    atol=2e-3)  # float16 in the bundle
        if not (same_fields and same_text):
            changed.append(pid)
    return new, changed


def _embed(config: Config, snapshot: GraphSnapshot, features: dict, previous: Bundle | None,
           options: RefreshOptions, text_model: str, report: RefreshReport) -> Path:
    """Write the new bundle (not current yet) and return its folder."""
    from gnn.graph import build_graph
    from gnn.train import embed
    from gnn.workflow import all_interactions, train_bundle

    root = config.bundle_root
    if options.retrain or previous is None:
        import torch

        from gnn.train import TrainConfig

        device = "cuda" if config.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
        outcome = train_bundle(snapshot, features, root, train_config=TrainConfig(seed=options.seed),
                               device=device, progress=options.progress, publish=False,
                               extra_manifest={"text_model": text_model,
                                               "refresh": {"from": previous.version if previous else None,
                                                           "method": "retrain"}})
        report.embeddings["method"] = "retrained" + ("" if previous else " (no bundle before)")
        return outcome.bundle
    trained_on = previous.manifest.get("text_model")
    if trained_on and trained_on != text_model:
        raise RefreshError(f"bundle {previous.version} was trained on text model {trained_on!r}, "
                           f"the configured one is {text_model!r}: set KGREC_MODEL back, or "
                           "run `kgrec refresh --retrain`")
    graph = build_graph(snapshot, features)
    users, items = all_interactions(snapshot)
    import torch

    out = embed(previous.model, graph, torch.from_numpy(users), torch.from_numpy(items))
    manifest = previous.manifest
    extra = {k: v for k, v in manifest.items() if k not in (
        "format", "version", "created_at", "data_hash", "counts", "model_config", "train_config",
        "metrics", "files")}
    extra["refresh"] = {"from": previous.version, "method": "inference",
                        "trained_version": manifest.get("refresh", {}).get("trained_version",
                                                                           previous.version)}
    report.embeddings["method"] = f"inference with the model of {previous.version}"
    return save_bundle(root, model=previous.model, graph=graph, node_ids=snapshot.node_ids,
                       node_emb=out.all, message_users=users, message_items=items,
                       data_hash=snapshot.fingerprint(), metrics=manifest.get("metrics"),
                       train_config=manifest.get("train_config"), extra=extra,
                       make_current=False, node_fields=snapshot.node_fields)


def _embedding_changes(bundle: Bundle, previous: Bundle | None) -> tuple[list[str], list[str]]:
    """(ids whose embedding differs from the previous bundle's, ids new to it)."""
    if previous is None:
        return [], list(bundle.node_ids[PRODUCT])
    old = previous.index(PRODUCT)
    if bundle.product_emb.shape[1] != previous.product_emb.shape[1]:  # retrained, other size
        return [p for p in bundle.node_ids[PRODUCT] if p in old], [p for p in bundle.node_ids[PRODUCT]
                                                                  if p not in old]
    changed, new = [], []
    for i, pid in enumerate(bundle.node_ids[PRODUCT]):
        j = old.get(pid)
        if j is None:
            new.append(pid)
        elif not np.allclose(bundle.product_emb[i], previous.product_emb[j], atol=EMBEDDING_TOLERANCE):
            changed.append(pid)
    return changed, new


def active_users(snapshot: GraphSnapshot, days: float, touched: set[str]) -> list[str]:
    """Users with an interaction in the ``days`` before the newest one, plus ``touched`` users.

    Measured from the newest interaction, not the wall clock, so a catalogue's history gives the
    same answer whenever the job runs.
    """
    ts = snapshot.interactions.get("ts")
    edges = snapshot.edges["INTERACTED"]
    users = set()
    if ts is not None and len(ts):
        recent = ts >= ts.max() - days * 86400
        users = set(np.unique(edges[0][recent]).tolist())
    ids = snapshot.node_ids[USER]
    index = snapshot.index(USER)
    users |= {index[u] for u in touched if u in index}
    return [ids[u] for u in sorted(users)]


def recommendations_for(bundle: Bundle, users: list[str], k: int) -> dict[str, list[tuple[str, float]]]:
    """Top-``k`` products of each user, ranked exactly as the service ranks a known user."""
    from service.recommend import rank
    from service.requests import RecommendRequest
    from service.state import ServingState

    state = ServingState(bundle)
    out = {}
    for user in users:
        ranking = rank(state, RecommendRequest(user_id=user, k=k, explain=False))
        out[user] = [(state.product_ids[i], s) for i, s in zip(ranking.items, ranking.scores)]
    return out


def _write_back(store, bundle: Bundle, changed: list[str], new: list[str], snapshot: GraphSnapshot,
                options: RefreshOptions, touched: set[str], report: RefreshReport) -> None:
    """``changed``, ``new``: `_embedding_changes` of the bundle, computed once by the embed step."""
    from kg.writeback import products_without_embedding, replace_recommendations, write_embeddings

    missing = products_without_embedding(store)
    ids = sorted(set(changed) | set(new) | missing)
    index = bundle.index(PRODUCT)
    ids = [pid for pid in ids if pid in index]
    vectors = bundle.product_emb[[index[pid] for pid in ids]] if ids else np.zeros((0, 1))
    written = write_embeddings(store, ids, vectors, bundle.version, progress=options.progress)
    users = active_users(snapshot, options.active_days, touched)
    recs = recommendations_for(bundle, users, options.recommend_k)
    edges = replace_recommendations(store, recs, bundle.version, progress=options.progress)
    report.writeback = {"embeddings": written, "users": len(users), "edges": edges}


def _tell_service(url: str, token: str | None, report: RefreshReport) -> None:
    request = urllib.request.Request(url.rstrip("/") + "/v1/admin/reload", method="POST", data=b"",
                                     headers={"Authorization": f"Bearer {token or ''}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            body = json.loads(resp.read() or b"{}")
        report.reload = {"ok": True, "url": url, "model_version": body.get("model_version")}
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        report.reload = {"ok": False, "url": url, "message":
                         f"reload request to {url} answered {exc.code}: {detail} (the service "
                         "still picks the bundle up from CURRENT within its poll interval)"}
    except (urllib.error.URLError, OSError) as exc:
        report.reload = {"ok": False, "url": url, "message":
                         f"service at {url} not reached ({exc}); it loads the new bundle from "
                         "CURRENT when it runs"}
    if not report.reload["ok"]:
        log.warning(report.reload["message"])


def prune_bundles(root: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` bundles (never the current one) and the temp folders
    of writers that died (their pid is gone)."""
    current = (root / CURRENT).read_text().strip() if (root / CURRENT).exists() else None
    removed = []
    for tmp in root.glob(".tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(tmp, ignore_errors=True)
    versions = sorted(p.name for p in root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").exists())
    for name in versions[: max(len(versions) - keep, 0)]:
        if name != current:
            shutil.rmtree(root / name, ignore_errors=True)
            removed.append(name)
    return removed


def refresh(config: Config, options: RefreshOptions) -> RefreshReport:
    """Run the job once (see the module docstring).

    Raises:
        RefreshBusy: Another run holds the lock.
        RefreshError: The job cannot go on (e.g. a bundle trained on another text model).
        kg.errors.KgError: A delta file is malformed (the message names file and line); what was
            loaded before the bad batch stays, nothing is published.
    """
    from service.texts import encode_snapshot

    report = RefreshReport()
    clock = _Clock(report)
    root = config.bundle_root
    with refresh_lock(config.home / "refresh.lock"):
        previous = _current_bundle(root)
        report.previous = previous.version if previous else None
        event_store = EventStore(config.events_path) if options.events else None
        store = open_store(config)
        try:
            before = store.counts()
            with clock.step("ingest"):
                last_event, touched = _ingest(store, options, event_store, report)
            after = store.counts()
            for key, label in (("products", PRODUCT), ("users", USER)):
                report.changes[f"{key}_before"] = before["nodes"][label]
                report.changes[f"{key}_after"] = after["nodes"][label]
            report.changes["interactions_before"] = before["relationships"]["INTERACTED"]
            report.changes["interactions_after"] = after["relationships"]["INTERACTED"]
            with clock.step("snapshot"):
                snapshot = export_snapshot(store)
            if snapshot.edges["INTERACTED"].shape[1] == 0:
                raise RefreshError("the store has no interactions; load a catalogue with "
                                   "`kgrec load` first")
            unchanged = previous is not None and previous.manifest.get("data_hash") == snapshot.fingerprint()
            if unchanged and not (options.force or options.retrain):
                report.up_to_date = True
            else:
                with clock.step("encode"):
                    features, stats, text_model = encode_snapshot(config, snapshot,
                                                                  progress=options.progress)
                    report.encode = {"texts": stats.texts, "encoded": stats.misses,
                                     "cache_hits": stats.hits}
                new, changed = _changed_products(snapshot, features, previous)
                report.changes["products_new"], report.changes["products_changed"] = len(new), len(changed)
                with clock.step("embed"):
                    folder = _embed(config, snapshot, features, previous, options, text_model, report)
                    bundle = load_bundle(folder)
                    emb_changed, emb_new = _embedding_changes(bundle, previous)
                    report.embeddings |= {"products_changed": len(emb_changed),
                                          "products_new": len(emb_new)}
                report.bundle = bundle.version
                if store.name == "neo4j":
                    with clock.step("write-back"):
                        _write_back(store, bundle, emb_changed, emb_new, snapshot, options,
                                    touched, report)
                else:
                    report.writeback = {"skipped": "write-back skipped: the embedded store keeps "
                                                   "embeddings in the bundle only"}
                with clock.step("publish"):
                    set_current(root, bundle.version)
                if options.service_url:
                    with clock.step("reload"):
                        _tell_service(options.service_url, config.admin_token, report)
            if event_store is not None:
                report.events["consumed"] = event_store.mark_consumed(last_event) if last_event else 0
            report.pruned = prune_bundles(root, options.keep_bundles) if root.exists() else []
        finally:
            store.close()
            if event_store is not None:
                event_store.close()
    log.info("refresh done: %s", report.summary().replace("\n", "; "))
    return report

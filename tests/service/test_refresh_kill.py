"""Kill test: `kgrec refresh` killed (SIGKILL) at random moments against the real Neo4j.

After each kill the store holds a state some prefix of the job could have produced (no batch
half-applied, no user with a mix of old and new RECOMMENDED edges), CURRENT names a complete
bundle, and a re-run completes the work. Each trial brings a new delta and new events, so every
trial has work to do. Trials: KGREC_KILL_TRIALS (default 10).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import numpy as np
import pytest

from gnn.bundle import CURRENT, load_bundle
from kg.snapshot import export_snapshot
from service.events import EventStore
from service.refresh import RefreshOptions, refresh
from service.stores import open_store
from tests.conftest import REPO, write_dataset
from tests.service.test_refresh import make_home

pytestmark = pytest.mark.neo4j
TRIALS = int(os.environ.get("KGREC_KILL_TRIALS", "10"))
K = 5


def _env(config) -> dict:
    env = dict(os.environ)
    env.update({"KGREC_HOME": str(config.home), "KGREC_STORE": "neo4j", "KGREC_DEVICE": "cpu",
                "NEO4J_URI": config.neo4j_uri, "NEO4J_USER": config.neo4j_user,
                "NEO4J_PASSWORD": config.neo4j_password, "KGREC_RELOAD_POLL": "0",
                "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    return env


def _command(delta) -> list[str]:
    return [sys.executable, "-m", "service", "-v", "refresh", str(delta), "--recommend-k", str(K)]


def _state(config) -> dict:
    store = open_store(config)
    try:
        counts = store.counts()
        recs = list(store.iter_edges("RECOMMENDED", ("model_version",)))
        dims = {len(e) for _, e in store.iter_nodes("Product", ("embedding",)) if e is not None}
    finally:
        store.close()
    per_user: dict[str, list] = {}
    for user, _, version in recs:
        per_user.setdefault(user, []).append(version)
    return {"products": counts["nodes"]["Product"],
            "interactions": counts["relationships"]["INTERACTED"],
            "per_user": per_user, "dims": dims}


def _delta(tmp_path, trial: int, users: list[str]):
    """Two new products (one of them bought in the delta by two users) and two events."""
    products = [{"id": f"N{trial:02d}{j}", "title": f"Maybelline gloss lipstick edition {trial}-{j}",
                 "brand": "Maybelline", "category_path": ["Beauty", "Makeup", "Lips"]}
                for j in range(2)]
    rows = [(u, f"N{trial:02d}0", f"2020-03-{trial + 1:02d}T00:00:00Z", "5") for u in users[:2]]
    events = [{"user_id": u, "item_id": f"P{(3 * trial + j) % 48:03d}", "kind": "view",
               "timestamp": f"2020-03-{trial + 1:02d}T12:00:00Z"} for j, u in enumerate(users[2:4])]
    return write_dataset(tmp_path / f"delta{trial}", products, rows), events


TARGETS = ("start-up", "ingest", "snapshot", "encode", "embed", "write-back", "publish")


def _kill_during(proc: subprocess.Popen, target: str, delay: float) -> str:
    """SIGKILL ``proc`` ``delay`` s after it logs the start of step ``target`` (start-up: after
    0.3 s + delay); returns its stderr. A run that ends first is left alone."""
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if f"refresh: {target} …" in line:
                seen.set()
        seen.set()  # the process ended

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if target == "start-up":
        time.sleep(0.3 + delay)
    else:
        seen.wait(timeout=300)
        time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    reader.join(timeout=60)
    return "".join(lines)


def test_refresh_killed_at_random_points_stays_consistent_and_completes(tmp_path, neo4j_credentials):
    uri, user, password = neo4j_credentials
    config = make_home(tmp_path, {"KGREC_STORE": "neo4j", "NEO4J_URI": uri, "NEO4J_USER": user,
                                  "NEO4J_PASSWORD": password})
    env = _env(config)
    # one undisturbed run first: the first write-back of every embedding
    subprocess.run([sys.executable, "-m", "service", "refresh", "--force", "--recommend-k", str(K)],
                   env=env, cwd=REPO, check=True, capture_output=True, timeout=600)
    rng = np.random.default_rng(0)
    users = sorted(_state(config)["per_user"])
    reached: Counter[str] = Counter()
    for trial in range(TRIALS):
        before = _state(config)
        old_bundle = (config.bundle_root / CURRENT).read_text().strip()
        delta, events = _delta(tmp_path, trial, list(rng.permutation(users)))
        with EventStore(config.events_path) as store:
            store.append(events)
        # the kill lands in a chosen step (in turn), a random moment after the step began
        target = TARGETS[trial % len(TARGETS)]
        proc = subprocess.Popen(_command(delta), env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        err = _kill_during(proc, target, float(rng.uniform(0.0, 0.4)))
        steps = re.findall(r"refresh: ([a-z-]+) …", err)
        reached["finished" if proc.returncode == 0 else (steps[-1] if steps else "start-up")] += 1

        # consistent: some prefix of the job's writes, nothing half-applied
        mid = _state(config)
        allowed = {(before["products"], before["interactions"]),
                   (before["products"] + 2, before["interactions"]),
                   (before["products"] + 2, before["interactions"] + 2),
                   (before["products"] + 2, before["interactions"] + 4)}
        assert (mid["products"], mid["interactions"]) in allowed, (trial, steps, mid, before)
        for u, versions in mid["per_user"].items():
            assert len(versions) == K and len(set(versions)) == 1, (trial, steps, u, versions)
        assert len(mid["dims"]) == 1
        current = (config.bundle_root / CURRENT).read_text().strip()
        load_bundle(config.bundle_root)  # complete and checksummed
        if proc.returncode != 0 and "publish" not in steps:
            assert current == old_bundle, (trial, steps)  # the service stays on the previous one

        # a re-run completes the work
        report = refresh(config, RefreshOptions(deltas=[delta], recommend_k=K))  # the same command again
        done = _state(config)
        assert (done["products"], done["interactions"]) == (before["products"] + 2,
                                                            before["interactions"] + 4), trial
        bundle = load_bundle(config.bundle_root)
        store = open_store(config)
        try:
            assert bundle.manifest["data_hash"] == export_snapshot(store).fingerprint()
            assert store.get_node("Product", f"N{trial:02d}1")["embedding"] is not None
        finally:
            store.close()
        assert f"N{trial:02d}1" in bundle.node_ids["Product"]
        with EventStore(config.events_path) as store:
            assert store.count(consumed=False) == 0
        assert report.up_to_date or report.bundle == bundle.version
    print("kill points:", dict(reached))
    assert len(reached) >= 4, reached  # the kills landed in many phases of the job

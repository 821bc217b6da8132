"""The event store: validation, ordering, consumption, atomicity, crash durability, concurrency."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from service.events import (
    MAX_BATCH,
    Event,
    EventError,
    EventStore,
    EventStoreError,
    format_utc,
    validate_event,
)

REPO = Path(__file__).resolve().parents[2]


def ev(n: int = 0, **extra) -> dict:
    return {"user_id": f"u{n}", "item_id": f"i{n}", "kind": "view", **extra}


@pytest.fixture
def store(tmp_path):
    with EventStore(tmp_path / "deep" / "folder" / "events.sqlite") as opened:
        yield opened


def test_round_trip_keeps_order_and_normalises(store):
    before = format_utc(datetime.now(timezone.utc))
    minutes_only = "2020-01-01T00:00Z"
    ids = store.append(
        [
            {"user_id": "alice", "item_id": "B01", "kind": "purchase", "timestamp": minutes_only},
            {
                "user_id": "bob",
                "item_id": "B02",
                "kind": "rating",
                "rating": 4,
                "timestamp": "2020-01-01T02:30:00.75+02:00",
            },
            {"user_id": "carol", "item_id": "B03", "kind": "review", "rating": None},
        ]
    )
    after = format_utc(datetime.now(timezone.utc))
    got = store.pending()
    assert [e.id for e in got] == ids
    assert all(isinstance(e, Event) for e in got)
    first, second, third = got
    assert (first.user_id, first.item_id, first.kind, first.rating) == (
        "alice",
        "B01",
        "purchase",
        None,
    )
    assert first.timestamp == "2020-01-01T00:00:00Z"
    assert (second.timestamp, second.rating) == ("2020-01-01T00:30:00Z", 4.0)
    assert before <= third.timestamp <= after  # defaulted to now, in the same normal form
    assert third.rating is None
    assert {e.received_at for e in got} == {first.received_at}  # one batch, one receipt time
    assert before <= first.received_at <= after and first.received_at.endswith("Z")


def test_ids_increase_across_calls_and_restarts(tmp_path):
    path = tmp_path / "events.sqlite"
    with EventStore(path) as first:
        ids = first.append([ev(1), ev(2)]) + first.append([ev(3)])
    with EventStore(path) as second:
        ids += second.append([ev(4), ev(5)])
        assert [e.id for e in second.pending()] == ids
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_the_connection_is_wal_and_fully_synchronous(store):
    with store._connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


LONG = "x" * 201


@pytest.mark.parametrize(
    "raw, field",
    [
        (["u1", "i1", "view"], "event"),
        ("not an object", "event"),
        (None, "event"),
        ({**ev(), "score": 3}, "score"),
        ({"item_id": "i", "kind": "view"}, "user_id"),
        ({"user_id": "u", "kind": "view"}, "item_id"),
        ({"user_id": "u", "item_id": "i"}, "kind"),
        ({**ev(), "user_id": 7}, "user_id"),
        ({**ev(), "user_id": ""}, "user_id"),
        ({**ev(), "user_id": "   "}, "user_id"),
        ({**ev(), "user_id": LONG}, "user_id"),
        ({**ev(), "item_id": None}, "item_id"),
        ({**ev(), "item_id": LONG}, "item_id"),
        ({**ev(), "kind": "click"}, "kind"),
        ({**ev(), "kind": ["view"]}, "kind"),
        ({**ev(), "timestamp": 1577836800}, "timestamp"),
        ({**ev(), "timestamp": "yesterday"}, "timestamp"),
        ({**ev(), "timestamp": "2020-13-01T00:00:00Z"}, "timestamp"),
        ({**ev(), "timestamp": "2020-01-01T00:00:00"}, "timestamp"),  # naive
        ({**ev(), "timestamp": "2020-01-01"}, "timestamp"),  # a date, no time zone
        ({**ev(), "timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp"),  # before year 1 in UTC
        ({**ev(), "rating": "5"}, "rating"),
        ({**ev(), "rating": True}, "rating"),
        ({**ev(), "rating": 0}, "rating"),
        ({**ev(), "rating": 5.5}, "rating"),
        ({**ev(), "rating": float("nan")}, "rating"),
    ],
)
def test_every_validation_error_names_its_field(store, raw, field):
    with pytest.raises(EventError) as caught:
        validate_event(raw)
    assert caught.value.field == field and f"'{field}'" in str(caught.value)
    assert caught.value.message and caught.value.index is None
    with pytest.raises(EventError) as in_batch:
        store.append([ev(1), raw])
    assert (in_batch.value.field, in_batch.value.index) == (field, 1)
    assert "events[1]" in str(in_batch.value)
    assert store.count() == 0


def test_limits_are_inclusive():
    ok = validate_event({**ev(), "user_id": "u" * 200, "rating": 1, "kind": "rating"})
    assert ok["rating"] == 1.0 and len(ok["user_id"]) == 200
    assert validate_event({**ev(), "rating": 5.0, "timestamp": None})["rating"] == 5.0


def test_validated_events_validate_again_unchanged(store):
    """The service validates first (to check items), then appends the normalised dicts."""
    first = validate_event(ev(1, timestamp="2020-06-01T12:00:00-03:00", rating=2))
    clean = [first, validate_event(ev(2))]
    assert [validate_event(e) for e in clean] == clean
    ids = store.append(clean)
    assert [(e.id, e.timestamp, e.rating) for e in store.pending()] == [
        (ids[0], "2020-06-01T15:00:00Z", 2.0),
        (ids[1], clean[1]["timestamp"], None),
    ]


def test_batch_must_be_a_list_of_at_most_max_batch(store):
    for bad in ({"events": []}, ev(), "x"):
        with pytest.raises(EventError) as caught:
            store.append(bad)
        assert caught.value.field == "events"
    with pytest.raises(EventError) as caught:
        store.append([ev(n) for n in range(MAX_BATCH + 1)])
    assert caught.value.field == "events" and str(MAX_BATCH) in str(caught.value)
    assert store.append([]) == [] and store.count() == 0
    assert len(store.append([ev(n) for n in range(MAX_BATCH)])) == MAX_BATCH


def test_a_batch_failing_validation_on_its_third_event_stores_nothing(store):
    with pytest.raises(EventError) as caught:
        store.append([ev(1), ev(2), {**ev(3), "kind": "like"}, ev(4)])
    assert (caught.value.index, caught.value.field) == (2, "kind")
    assert store.count() == 0 and store.pending() == []
    assert len(store.append([ev(5)])) == 1


def test_a_batch_failing_inside_the_database_is_rolled_back(store):
    # Valid events, but a trigger makes the third insert fail half-way through the transaction.
    other = sqlite3.connect(store.path)
    other.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.item_id = 'i3' "
        "BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    other.commit()
    other.close()
    with pytest.raises(EventStoreError, match="boom"):
        store.append([ev(1), ev(2), ev(3), ev(4)])
    assert store.count() == 0
    assert len(store.append([ev(1), ev(2)])) == 2  # the connection is usable again


def test_mark_consumed_then_pending_after(store):
    ids = store.append([ev(n) for n in range(6)])
    assert [e.id for e in store.pending(limit=2)] == ids[:2]
    assert [e.id for e in store.pending(after=ids[1], limit=2)] == ids[2:4]
    assert store.pending(limit=0) == []

    assert store.mark_consumed(ids[2]) == 3
    assert store.mark_consumed(ids[2]) == 0  # idempotent
    assert store.mark_consumed(ids[0]) == 0  # lower than what is already consumed
    assert [e.id for e in store.pending()] == ids[3:]
    assert [e.id for e in store.pending(after=ids[3])] == ids[4:]
    assert [e.id for e in store.pending(after=ids[0])] == ids[3:]  # consumed ones stay hidden
    assert (store.count(), store.count(consumed=True), store.count(consumed=False)) == (6, 3, 3)

    later = store.append([ev(9)])
    assert later[0] > ids[-1]
    assert store.mark_consumed(ids[-1]) == 3  # not the event that came after up_to
    assert [e.id for e in store.pending()] == later
    assert store.mark_consumed(later[0]) == 1
    assert store.pending() == [] and store.count(consumed=False) == 0


def test_closed_and_forked_stores_refuse_work(tmp_path):
    store = EventStore(tmp_path / "events.sqlite")
    store.close()
    store.close()
    with pytest.raises(EventStoreError, match="closed"):
        store.append([ev()])
    forked = EventStore(tmp_path / "events.sqlite")
    forked._pid = -1  # as if this process were a fork of the one that opened it
    with pytest.raises(EventStoreError, match="fork"):
        forked.count()
    forked._pid = os.getpid()
    forked.close()


def test_threads_share_one_store(store):
    got: list[int] = []

    def work(t: int) -> None:
        for n in range(20):
            got.extend(store.append([ev(t * 100 + n)]))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == len(set(got)) == 120 == store.count()


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from service.events import EventStore

    store = EventStore(Path(sys.argv[1]))
    n = 0
    while True:  # until killed
        size = 1 + n % 4
        ids = store.append([{"user_id": f"u{n}", "item_id": f"i{k}", "kind": "view"}
                            for k in range(size)])
        print(" ".join(map(str, ids)), flush=True)
        n += 1
    """
)


def test_acknowledged_events_survive_sigkill(tmp_path):
    path = tmp_path / "events.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    acknowledged: list[int] = []
    try:
        for _ in range(60):
            line = child.stdout.readline()
            assert line.endswith("\n"), f"child stopped early: {child.stderr.read()}"
            acknowledged += map(int, line.split())
        child.send_signal(signal.SIGKILL)  # while it is still appending
        rest, _ = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    for line in rest.splitlines(keepends=True):
        if line.endswith("\n"):  # a complete line: printed after its append returned
            acknowledged += map(int, line.split())
    with EventStore(path) as reopened:
        stored = [e.id for e in reopened.pending()]
    assert len(acknowledged) >= 60
    assert set(acknowledged) <= set(stored)
    assert stored == sorted(set(stored))


def _append_from_process(path: str, worker: int, barrier, results) -> None:
    """Spawned worker: open the store at the same moment as the others, append 200 events."""
    barrier.wait(timeout=60)
    sizes, acknowledged, n, calls = (1, 3, 10, 1, 25), [], 0, 0
    with EventStore(Path(path)) as store:
        while n < 200:
            size = min(sizes[calls % len(sizes)], 200 - n)
            calls += 1
            batch = [
                {"user_id": f"w{worker}", "item_id": f"n{n + k}", "kind": "view"}
                for k in range(size)
            ]
            ids = store.append(batch)
            acknowledged.extend(zip(ids, (f"n{n + k}" for k in range(size))))
            n += size
    results.put((worker, acknowledged))


def test_concurrent_processes_lose_nothing(tmp_path):
    path = tmp_path / "fresh" / "events.sqlite"  # created by the workers themselves, all at once
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=_append_from_process, args=(str(path), w, barrier, results))
        for w in range(4)
    ]
    for process in workers:
        process.start()
    acknowledged: dict[int, list[tuple[int, str]]] = {}
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < len(workers):
            try:
                worker, pairs = results.get(timeout=0.2)
                acknowledged[worker] = pairs
            except queue.Empty:
                crashed = [p.exitcode for p in workers if p.exitcode not in (None, 0)]
                assert not crashed, f"a worker failed with exit code {crashed}"
                assert time.monotonic() < deadline, "workers did not finish in 60 s"
    finally:
        for process in workers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert all(process.exitcode == 0 for process in workers)
    all_ids = [i for pairs in acknowledged.values() for i, _ in pairs]
    assert len(all_ids) == len(set(all_ids)) == 800
    with EventStore(path) as store:
        stored = {e.id: (e.user_id, e.item_id) for e in store.pending()}
        assert len(stored) == 800 == store.count()
    for worker, pairs in acknowledged.items():
        assert [i for i, _ in pairs] == sorted(i for i, _ in pairs)  # increasing per process
        assert [item for _, item in pairs] == [f"n{n}" for n in range(200)]
        assert all(stored[i] == (f"w{worker}", item) for i, item in pairs)


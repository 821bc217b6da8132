"""Durable store for interaction feedback (``POST /v1/events``) until the next batch refresh.

Why SQLite in WAL mode, from the standard library:

* **Durable on acknowledge.** Every ``append`` is one transaction committed with
  ``synchronous=FULL``: in WAL mode the log is fsynced at each commit, so once ``append``
  returns, its events survive a process crash (SIGKILL, OOM) and a power cut. A hand-rolled
  append-only file would need its own fsync, torn-write and recovery logic.
* **Several writer processes.** Gunicorn workers each open their own connection; SQLite's file
  locks serialise the writers (``timeout=30`` makes a busy writer wait instead of failing) and WAL
  lets the refresh job read while they write.
* **Ids are a safe cursor.** There is only ever one writer, so ids (``AUTOINCREMENT``: never
  reused, even after rows are deleted) are handed out in commit order. A reader that has seen id
  N will never later find an uncommitted event with an id below N, so ``pending(after=N)`` and
  ``mark_consumed(up_to=N)`` cannot skip an event.
* No server to run, and nothing to install.

One ``EventStore`` per process (and per path): it holds one connection, shared by that process's
threads under a lock. SQLite connections must not cross ``fork()``, so an ``EventStore`` created
before gunicorn forks (``--preload``) refuses to work in the child: create it in each worker.
WAL needs a local file system (not NFS/SMB).
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MAX_BATCH = 1000  # events per append call: bounds one transaction's size and a request's cost
MAX_ID_LENGTH = 200
KINDS = ("view", "purchase", "rating", "review")
REQUIRED_FIELDS = ("user_id", "item_id", "kind")
ALLOWED_FIELDS = frozenset({*REQUIRED_FIELDS, "timestamp", "rating"})
RATING_RANGE = (1, 5)
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    rating REAL,
    received_at TEXT NOT NULL,
    consumed INTEGER NOT NULL DEFAULT 0,
    consumed_at TEXT
);
CREATE INDEX IF NOT EXISTS events_pending ON events (id) WHERE consumed = 0;
"""
_INSERT = (
    "INSERT INTO events (user_id, item_id, kind, timestamp, rating, received_at) "
    "VALUES (:user_id, :item_id, :kind, :timestamp, :rating, :received_at)"
)
_COLUMNS = "id, user_id, item_id, kind, timestamp, received_at, rating"


class EventError(Exception):
    """An event (or batch) that cannot be stored; ``field`` names the offending field.

    ``index`` is the event's 0-based position in the batch when raised by ``append``.
    """

    def __init__(self, field: str, message: str, index: int | None = None):
        self.field, self.message, self.index = field, message, index
        where = f"events[{index}]: " if index is not None else ""
        super().__init__(f"{where}field '{field}': {message}")


class EventStoreError(Exception):
    """The event database cannot be used: locked for too long, closed, corrupt, forked, not WAL."""


@dataclass(frozen=True)
class Event:
    """One stored event; ``timestamp`` and ``received_at`` are UTC, ``2020-01-01T00:00:00Z``."""

    id: int
    user_id: str
    item_id: str
    kind: str
    timestamp: str
    received_at: str
    rating: float | None = None


def format_utc(moment: datetime) -> str:
    """``moment`` as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds): sorts as text, one spelling."""
    utc = moment.astimezone(timezone.utc).replace(microsecond=0, tzinfo=None)
    return utc.isoformat() + "Z"


def _check_id(raw: dict, name: str) -> str:
    value = raw[name]
    if not isinstance(value, str):
        raise EventError(name, f"must be a string, not {type(value).__name__}")
    if not value.strip():
        raise EventError(name, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise EventError(name, f"must be at most {MAX_ID_LENGTH} characters, not {len(value)}")
    return value


def _check_timestamp(value: Any) -> str:
    if value is None:
        return format_utc(datetime.now(timezone.utc))
    if not isinstance(value, str):
        raise EventError("timestamp", f"must be an ISO 8601 string, not {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise EventError("timestamp", f"{value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EventError("timestamp", f"{value!r} has no timezone (add 'Z' or '+00:00')")
    try:
        return format_utc(moment)
    except OverflowError:
        raise EventError("timestamp", f"{value!r} is out of range in UTC") from None


def _check_rating(value: Any) -> float | None:
    if value is None:
        return None
    low, high = RATING_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EventError("rating", f"must be a number, not {type(value).__name__}")
    if not (math.isfinite(value) and low <= value <= high):
        raise EventError("rating", f"must be between {low} and {high}, not {value!r}")
    return float(value)


def validate_event(raw: Any) -> dict:
    """Check one decoded JSON event and return it normalised, ready to store.

    Whether the user and item exist is not checked here: the service does that.

    Args:
        raw: the decoded JSON value. Allowed keys: ``user_id``, ``item_id``, ``kind`` (required),
            ``timestamp`` and ``rating`` (optional; ``null`` is the same as absent).

    Returns:
        ``{user_id, item_id, kind, timestamp, rating}``: ``timestamp`` in UTC as
        ``2020-01-01T00:00:00Z`` (now when absent; fractions of a second dropped), ``rating`` a
        float or None.

    Raises:
        EventError: the first problem found, naming its field (``event`` when ``raw`` is not an
            object).
    """
    if not isinstance(raw, dict):
        raise EventError("event", f"must be a JSON object, not {type(raw).__name__}")
    unknown = sorted(str(key) for key in raw if key not in ALLOWED_FIELDS)
    if unknown:
        allowed = ", ".join(sorted(ALLOWED_FIELDS))
        raise EventError(unknown[0], f"unknown field (allowed: {allowed})")
    for name in REQUIRED_FIELDS:
        if name not in raw:
            raise EventError(name, "is required")
    kind = raw["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise EventError("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    return {
        "user_id": _check_id(raw, "user_id"),
        "item_id": _check_id(raw, "item_id"),
        "kind": kind,
        "timestamp": _check_timestamp(raw.get("timestamp")),
        "rating": _check_rating(raw.get("rating")),
    }


def _connect(path: Path) -> sqlite3.Connection:
    """Open ``path`` in WAL mode with ``synchronous=FULL`` and make sure the schema exists.

    Safe to run in several processes at once: the schema is created under ``BEGIN IMMEDIATE``
    (one process at a time), and the switch to WAL is retried while another process holds a lock.
    """
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        if str(mode).lower() != "wal":
            raise EventStoreError(f"{path}: cannot use WAL mode (journal_mode is {mode!r})")
        conn.execute("PRAGMA synchronous=FULL")  # per connection: not stored in the file
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise EventStoreError(
                    f"{path}: schema version {version} is newer than this code's {SCHEMA_VERSION}"
                )
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except BaseException:
        conn.close()
        raise
    return conn


class EventStore:
    """Append-only event log in one SQLite file; see the module docstring for the guarantees.

    Args:
        path: the database file; its parent folders are created.

    Raises:
        EventStoreError: the file cannot be opened, is not a usable database, or WAL is refused.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        try:
            self._conn: sqlite3.Connection | None = _connect(self.path)
        except sqlite3.Error as error:
            raise EventStoreError(f"{self.path}: {error}") from error

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EventStore({str(self.path)!r})"

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """The connection, held under the lock; SQLite errors come out as EventStoreError."""
        with self._lock:
            if self._conn is None:
                raise EventStoreError(f"{self.path}: the event store is closed")
            if os.getpid() != self._pid:
                raise EventStoreError(
                    f"{self.path}: EventStore opened in process {self._pid} used in {os.getpid()} "
                    "after fork; create one in each worker process"
                )
            try:
                yield self._conn
            except sqlite3.Error as error:
                raise EventStoreError(f"{self.path}: {error}") from error

    def append(self, events: list[dict]) -> list[int]:
        """Validate and store ``events`` in one transaction: all of them or none.

        Returning means the events are on disk (``synchronous=FULL``). All are validated before
        anything is written, so a bad event anywhere rejects the whole batch.

        Args:
            events: decoded JSON events, at most ``MAX_BATCH``; see ``validate_event``.

        Returns:
            The events' ids, in the order given; increasing.

        Raises:
            EventError: ``events`` is not a list or too long (field ``events``), or an event is
                invalid (``index`` says which).
            EventStoreError: the database stayed locked for ``BUSY_TIMEOUT_S`` or failed.
        """
        if not isinstance(events, list):
            raise EventError("events", f"must be a JSON array, not {type(events).__name__}")
        if len(events) > MAX_BATCH:
            raise EventError("events", f"at most {MAX_BATCH} events per call, not {len(events)}")
        rows = []
        for index, raw in enumerate(events):
            try:
                rows.append(validate_event(raw))
            except EventError as error:
                raise EventError(error.field, error.message, index) from None
        if not rows:
            return []
        received_at = format_utc(datetime.now(timezone.utc))
        with self._connection() as conn:
            # IMMEDIATE takes the write lock up front, so a busy writer waits (timeout) instead of
            # failing on a read-to-write lock upgrade.
            conn.execute("BEGIN IMMEDIATE")
            try:
                ids = [
                    conn.execute(_INSERT, {**row, "received_at": received_at}).lastrowid
                    for row in rows
                ]
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return ids

    def pending(self, after: int = 0, limit: int | None = None) -> list[Event]:
        """Events not yet consumed with ``id > after``, in id order, at most ``limit`` of them.

        Page through with ``after=`` the last id of the previous page.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0 or None, not {limit}")
        query = f"SELECT {_COLUMNS} FROM events WHERE consumed = 0 AND id > ? ORDER BY id LIMIT ?"
        with self._connection() as conn:
            rows = conn.execute(query, (int(after), -1 if limit is None else int(limit))).fetchall()
        return [Event(*row) for row in rows]

    def mark_consumed(self, up_to: int) -> int:
        """Mark every pending event with ``id <= up_to`` consumed; idempotent.

        Call it after the events up to ``up_to`` have been ingested, so a crashed refresh run
        reads them again. Ids are handed out in commit order (module docstring), so no pending
        event below ``up_to`` can appear after a reader has seen ``up_to``.

        Returns:
            How many events changed from pending to consumed (0 on a repeated call).
        """
        consumed_at = format_utc(datetime.now(timezone.utc))
        with self._connection() as conn:
            cursor = conn.execute(
                "UPDATE events SET consumed = 1, consumed_at = ? WHERE consumed = 0 AND id <= ?",
                (consumed_at, int(up_to)),
            )  # autocommit: one statement is one transaction, durable when it returns
        return cursor.rowcount

    def count(self, consumed: bool | None = None) -> int:
        """How many events are stored: all (None), consumed (True) or pending (False)."""
        query, params = "SELECT COUNT(*) FROM events", ()
        if consumed is not None:
            query, params = query + " WHERE consumed = ?", (int(consumed),)
        with self._connection() as conn:
            return conn.execute(query, params).fetchone()[0]

    def close(self) -> None:
        """Close the connection; safe to call twice. Later calls raise EventStoreError.

        In a forked child it does nothing: the inherited connection belongs to the parent.
        """
        with self._lock:
            if os.getpid() != self._pid:
                return
            if self._conn is not None:
                self._conn.close()
            self._conn = None

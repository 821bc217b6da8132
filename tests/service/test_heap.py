"""service.heap.settle: long-lived state leaves the collector's view, replaced state is freed."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import pytest

from service import heap
from service.config import load_config


@pytest.fixture(autouse=True)
def restore_gc():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class Node:
    """A stand-in for a bundle or store: an object graph with a reference cycle."""

    def __init__(self):
        self.me = self
        self.rows = [{"id": i} for i in range(100)]


def _tracked(obj) -> bool:
    return any(o is obj for o in gc.get_objects())


def test_settle_freezes_what_is_alive_and_raises_the_young_threshold():
    state = Node()
    assert _tracked(state)
    heap.settle()
    assert not _tracked(state) and not _tracked(state.rows[0])
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] >= heap.GEN0_THRESHOLD
    later = Node()
    assert _tracked(later)  # only what was alive at the call is frozen


def test_a_replaced_state_in_a_cycle_is_freed_by_the_next_settle():
    state = Node()
    heap.settle()
    gone = weakref.ref(state)
    state = Node()  # the reload: the old one is garbage, but frozen and in a cycle
    gc.collect()
    assert gone() is not None  # a plain collection cannot free frozen objects ...
    heap.settle()
    assert gone() is None  # ... settle unfreezes first, so nothing leaks across reloads
    assert not _tracked(state)


MAPS = """\
55d0c0000000-55d0c0a00000 rw-p 00000000 00:00 0                          [heap]
7f0000100000-7f0000900000 rw-p 00000000 00:00 0
7f0001000000-7f0001400000 rw-s 00000000 00:05 1234                       /dev/shm/x
7f0002000000-7f0002400000 r--p 00000000 08:01 99                         /usr/lib/libc.so.6
7f0003000000-7f0003600000 rw-p 00001000 08:01 99                         /usr/lib/libc.so.6
7f0004000000-7f0004100000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00400000 rw-p 00000000 00:00 0                          [stack]
"""


def test_heap_regions_are_the_private_anonymous_writable_mappings_in_whole_huge_pages():
    mb = 1 << 20
    assert heap.heap_regions(MAPS) == [
        (0x55D0C0000000, 10 * mb),  # [heap]: 10 MB, aligned both ends
        (0x7F0000200000, 6 * mb),  # starts 1 MB into a 2 MB page, ends on one: 6 MB left
    ]  # shared, file-backed, read-only, under 2 MB (the 1 MB one) and the stack are left out


@pytest.mark.skipif(heap.huge_pages_unavailable() is not None,
                    reason=str(heap.huge_pages_unavailable()))
def test_collapse_heap_moves_live_memory_to_huge_pages():
    # a fresh interpreter: 256 MB of touched heap, then the collapse; its memory reads the same
    code = (
        "import numpy as np, json\n"
        "from service import heap\n"
        "a = np.arange(32 << 20, dtype=np.int64)\n"
        "before = heap.huge_page_mb()\n"
        "done = heap.collapse_heap()\n"
        "ok = bool((a == np.arange(32 << 20, dtype=np.int64)).all())\n"
        "print(json.dumps({'before': before, 'done': done, 'ok': ok}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["ok"] and "skipped" not in result["done"], result
    assert result["done"]["mb"] >= 256 and result["done"]["huge_mb"] >= 200, result
    assert result["done"]["huge_mb"] > result["before"], result


def test_settle_backs_the_heap_with_huge_pages_only_when_enabled(monkeypatch, caplog):
    calls = []
    monkeypatch.setattr(heap, "collapse_heap", lambda: calls.append(1) or {"skipped": "test"})
    caplog.set_level(logging.INFO, logger="service.heap")
    heap.settle()
    assert calls == []  # off unless enabled (kgrec serve's workers enable it)
    heap.enable_huge_pages(True)
    try:
        heap.settle()
        for thread in threading.enumerate():
            if thread.name == "kgrec-huge-pages":
                thread.join(10)
    finally:
        heap.enable_huge_pages(False)
    assert calls == [1]
    assert "huge pages not used: test" in caplog.text


def test_huge_pages_setting_reads_one_or_zero():
    assert load_config({}).huge_pages is True
    assert load_config({"KGREC_HUGE_PAGES": "0"}).huge_pages is False
    assert load_config({"KGREC_HUGE_PAGES": "true"}).huge_pages is True
    with pytest.raises(ValueError, match="KGREC_HUGE_PAGES must be 1 or 0"):
        load_config({"KGREC_HUGE_PAGES": "maybe"})

"""service.heap.settle: long-lived state leaves the collector's view, replaced state is freed."""

from __future__ import annotations

import gc
import weakref

import pytest

from service import heap


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

"""Keeping the garbage collector's pauses off the request path.

A worker's long-lived heap is large: the embedded store's networkx graph alone is millions of
dicts and tuples. CPython's cyclic collector walks every tracked object on a full pass, and with
this heap a pass took 300-600 ms in the middle of a request: that was the p99 tail of
`POST /v1/recommendations` (docs/benchmarks.md, "Serving latency"). After a bundle or a store is
loaded, ``settle()`` collects once and freezes what is alive (``gc.freeze``: the collector skips
those objects from then on; reference counting still frees them), and raises the young
generation's threshold so that per-request garbage is collected in fewer, small passes.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

GEN0_THRESHOLD = 50_000  # CPython's default is 700: a request allocates tens of thousands


def settle() -> None:
    """Collect, then freeze every live object; call after loading long-lived state.

    What an earlier call froze is unfrozen first, so that a replaced bundle or store caught in
    a reference cycle can still be collected rather than leak.
    """
    start = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(GEN0_THRESHOLD, gen0), gen1, gen2)
    log.info("heap settled: %d objects frozen in %.2f s", gc.get_freeze_count(),
             time.perf_counter() - start)

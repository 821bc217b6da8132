"""Keeping the garbage collector's pauses off the request path.

A worker's long-lived heap is large: the embedded store's networkx graph alone is millions of
dicts and tuples. CPython's cyclic collector walks every tracked object on a full pass, and with
this heap a pass took 300-600 ms in the middle of a request: that was the p99 tail of
`POST /v1/recommendations` (docs/benchmarks.md, "Serving latency"). After a bundle or a store is
loaded, ``settle()`` collects once and freezes what is alive (``gc.freeze``: the collector skips
those objects from then on; reference counting still frees them), and raises the young
generation's threshold so that per-request garbage is collected in fewer, small passes.

The same heap is also what a request's path searches walk: at 100k products a request touches
thousands of dicts spread over several GB, and with 4 kB pages most of those reads miss the
TLB as well as the caches. Under ``kgrec serve`` (`enable_huge_pages`), ``settle()`` then asks
Linux to back the heap with 2 MB pages (``MADV_COLLAPSE``, Linux >= 6.1, in a background
thread): at 100k, 8.39 -> 7.27 ms a request in process, +3 % requests/s under wrk
(docs/benchmarks.md, "Serving latency").
Elsewhere, or when the kernel cannot, it logs why and changes nothing.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import re
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

GEN0_THRESHOLD = 50_000  # CPython's default is 700: a request allocates tens of thousands

# madvise(2) advice values (asm-generic/mman-common.h). Written by hand with ctypes: Python's
# mmap.madvise takes only mappings it made, not the interpreter's own heap.
MADV_HUGEPAGE, MADV_COLLAPSE = 14, 25
HUGE_PAGE = 2 << 20
CHUNK = 64 << 20  # at most this much per madvise call
THP_ENABLED = Path("/sys/kernel/mm/transparent_hugepage/enabled")

_huge_pages = False  # set by enable_huge_pages (kgrec serve's workers)
_huge_lock = threading.Lock()


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
    if _huge_pages:
        threading.Thread(target=_log_huge_pages, name="kgrec-huge-pages", daemon=True).start()


def enable_huge_pages(on: bool = True) -> None:
    """Make every later ``settle()`` back the heap with huge pages (see the module docstring)."""
    global _huge_pages
    _huge_pages = on


def heap_regions(maps: str) -> list[tuple[int, int]]:
    """(start, length) of the private, anonymous, writable mappings in a ``/proc/PID/maps``
    text (the interpreter's arenas, malloc's heap, numpy and torch buffers), cut to whole
    2 MB pages; files, stacks and shared mappings are left out."""
    out = []
    for line in maps.splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        perms, name = parts[1], (parts[5] if len(parts) > 5 else "")
        if not perms.startswith("rw") or perms[3:4] != "p" or name not in ("", "[heap]"):
            continue
        start, end = (int(v, 16) for v in parts[0].split("-"))
        start, end = -(-start // HUGE_PAGE) * HUGE_PAGE, end // HUGE_PAGE * HUGE_PAGE
        if end > start:
            out.append((start, end - start))
    return out


def huge_pages_unavailable() -> str | None:
    """Why this machine cannot collapse a heap into huge pages, or None when it can."""
    if sys.platform != "linux":
        return f"not Linux ({sys.platform})"
    try:
        mode = THP_ENABLED.read_text().split("[", 1)[1].split("]", 1)[0]
    except (OSError, IndexError):
        return "the kernel has no transparent huge pages"
    if mode == "never":
        return f"transparent huge pages are off ({THP_ENABLED}: never)"
    release = tuple(int(p) for p in re.findall(r"\d+", os.uname().release)[:2])
    if release < (6, 1):
        return f"the kernel has no MADV_COLLAPSE (Linux {os.uname().release} < 6.1)"
    return None


def collapse_heap() -> dict:
    """Back this process's heap with 2 MB pages now; what was done, or why nothing was.

    Returns ``{"mb": heap size asked, "huge_mb": MB on huge pages after, "seconds"}``, or
    ``{"skipped": reason}`` off Linux, with transparent huge pages off, or before Linux 6.1. A
    part the kernel cannot collapse (unmapped meanwhile, no free 2 MB page) stays as it was.
    """
    reason = huge_pages_unavailable()
    if reason:
        return {"skipped": reason}
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    start_time, asked = time.perf_counter(), 0
    with _huge_lock, open("/proc/self/maps") as fh:
        regions = heap_regions(fh.read())
        for start, length in regions:
            for offset in range(0, length, CHUNK):
                size = min(CHUNK, length - offset)
                asked += size
                # the hint keeps the region's later faults on huge pages; the collapse
                # rebuilds what is there now (ENOMEM/EAGAIN: a part was unmapped or busy)
                libc.madvise(start + offset, size, MADV_HUGEPAGE)
                libc.madvise(start + offset, size, MADV_COLLAPSE)
    return {"mb": asked >> 20, "huge_mb": huge_page_mb(),
            "seconds": round(time.perf_counter() - start_time, 2)}


def huge_page_mb() -> int:
    """MB of this process's anonymous memory on transparent huge pages (0 where unknown)."""
    try:
        with open("/proc/self/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1]) >> 10
    except OSError:
        pass
    return 0


def _log_huge_pages() -> None:
    try:
        done = collapse_heap()
    except Exception as exc:  # a hint that failed must not take the worker down
        log.warning("huge pages not used: %s", exc)
        return
    if "skipped" in done:
        log.info("huge pages not used: %s", done["skipped"])
    else:
        log.info("heap on huge pages: %d MB of %d MB in %.1f s", done["huge_mb"], done["mb"],
                 done["seconds"])

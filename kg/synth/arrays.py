"""Vectorised numpy helpers of the generator: weighted sampling, running sums, ASCII encoding."""

from __future__ import annotations

import numpy as np


def sample_range(cum: np.ndarray, lo: np.ndarray, hi: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Positions in ``[lo, hi)`` drawn proportionally to the weights whose running sum is ``cum``
    (``cum[0] == 0``, ``len(cum) == n + 1``), one per uniform draw ``r``."""
    a = cum[lo]
    u = a + r * (cum[hi] - a)
    pos = np.searchsorted(cum, u, side="right") - 1
    return np.clip(pos, lo, hi - 1)


def offsets(values: np.ndarray) -> np.ndarray:
    """Running sum with a leading zero (int64 for counts, float64 for weights)."""
    dtype = np.float64 if np.issubdtype(values.dtype, np.floating) else np.int64
    out = np.zeros(len(values) + 1, dtype=dtype)
    np.cumsum(values, out=out[1:])
    return out


def unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (cheaper than np.unique's hashing path for large int arrays)."""
    a = np.sort(a)
    if len(a) == 0:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def id_width(n: int) -> int:
    """Number of digits in the zero-padded ids of ``n`` products or users (at least 6)."""
    return max(6, len(str(max(n - 1, 0))))


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal ASCII digits of non-negative ints: shape (n, width), uint8."""
    pows = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // pows) % 10 + 48).astype(np.uint8)


_D2 = digits(np.arange(100), 2)  # "00".."99" as (100, 2) uint8


def iso_bytes(secs: np.ndarray) -> np.ndarray:
    """Unix seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` as an (n, 20) uint8 array (vectorised)."""
    days, rem = np.divmod(secs.astype(np.int64), 86400)
    # Civil-from-days (H. Hinnant), valid for the proleptic Gregorian calendar.
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    hour, rem = np.divmod(rem, 3600)
    minute, sec = np.divmod(rem, 60)
    out = np.empty((len(secs), 20), dtype=np.uint8)
    out[:, 0:2] = _D2[year // 100]
    out[:, 2:4] = _D2[year % 100]
    out[:, 4] = ord("-")
    out[:, 5:7] = _D2[month]
    out[:, 7] = ord("-")
    out[:, 8:10] = _D2[day]
    out[:, 10] = ord("T")
    out[:, 11:13] = _D2[hour]
    out[:, 13] = ord(":")
    out[:, 14:16] = _D2[minute]
    out[:, 16] = ord(":")
    out[:, 17:19] = _D2[sec]
    out[:, 19] = ord("Z")
    return out

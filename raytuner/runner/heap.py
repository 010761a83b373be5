"""Give the driver's freed heap back to the OS as trials finish: ``HeapTrim``.

With thousands of short trials the driver allocates and frees a great deal per trial
(results, JSON state, Ray's messages) and glibc's allocator keeps freed pages mapped: the
driver's RSS grew 80-90 MB over 900 trivial trials on a loaded 2-core machine while its
Python heap grew 6-7 KB a trial (``scripts/bench_scale.py``; ``BENCH_SCALE_TRACE=1``).
``malloc_trim(0)`` hands those pages back; called every ``every`` finished trials it took
the same run's growth to about 14 MB. A call costs about a millisecond; once one takes
more, the next waits ``COST_FACTOR`` times that (a few percent of the driver's time at
most). Where libc has no ``malloc_trim`` (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from typing import Any, Callable

from ray.tune import Callback

COST_FACTOR = 20  # a trim waits at least 20 times what the last one took
MIN_COST_S = 0.001  # (when it took more than this)


def malloc_trim() -> Callable[[], Any] | None:
    """glibc's ``malloc_trim(0)``, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


class HeapTrim(Callback):
    """Trims the driver's heap every ``every`` finished (completed or failed) trials."""

    def __init__(self, every: int = 50, trim: Callable[[], Any] | None = None) -> None:
        self.every = every
        self._trim = trim if trim is not None else malloc_trim()
        self._ended = 0
        self._next = 0.0  # monotonic time before which no trim is made
        self.trims = 0

    def _ended_one(self) -> None:
        self._ended += 1
        if self._trim is None or self._ended % self.every or time.monotonic() < self._next:
            return
        began = time.monotonic()
        self._trim()
        self.trims += 1
        cost = time.monotonic() - began
        self._next = time.monotonic() + (COST_FACTOR * cost if cost > MIN_COST_S else 0.0)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ended_one()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ended_one()

    def __getstate__(self) -> dict[str, Any]:  # Ray pickles callbacks with the experiment state
        return {**self.__dict__, "_trim": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._trim = malloc_trim()

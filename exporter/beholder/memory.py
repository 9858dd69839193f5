"""glibc malloc and CPython GC settings for a long-running agent with a handful of busy threads.

Two defaults cost the agent tens of MiB under load without holding any more live data:
each thread gets its own malloc arena (up to 8 per CPU), and after a large buffer is freed
glibc raises its mmap threshold to that size, so the next multi-MiB OTLP request comes
from an arena and its pages stay resident. Two arenas and a fixed 128 KiB threshold keep
RSS at what the bounded queues hold (measured in docs/reliability.md). A MALLOC_* variable
the operator set wins; on a libc without `mallopt` nothing changes.

The cyclic GC's default thresholds suit programs that keep what they allocate; the agent
frees nearly everything by reference counting within a batch (see `tune_gc`).
"""

from __future__ import annotations

import ctypes
import gc
import os
from collections.abc import Mapping

_M_MMAP_THRESHOLD = -3  # glibc malloc.h
_M_ARENA_MAX = -8
# glibc's own variable names (the threshold's has a trailing underscore) -> (mallopt param, value)
SETTINGS = {"MALLOC_ARENA_MAX": (_M_ARENA_MAX, 2), "MALLOC_MMAP_THRESHOLD_": (_M_MMAP_THRESHOLD, 128 << 10)}


def tune_malloc(environ: Mapping[str, str] | None = None) -> list[str]:
    """Apply the settings not overridden by the environment; the names applied."""
    env = os.environ if environ is None else environ
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return []
    applied = []
    for name, (param, value) in SETTINGS.items():
        if name not in env and mallopt(param, value) == 1:
            applied.append(name)
    return applied


# Young collections after 50,000 net new container objects (CPython: 700), a middle one
# every 20 of those, a full one every 10 middle ones.
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Every decoded event is a few GC-tracked objects that live only as long as their batch,
    so with CPython's defaults a batch of 4,096 events ran a dozen or more young collections
    and, every 70,000 objects or so, a full one over the agent's whole heap (policies,
    profiles, the process tree): about half of the agent's CPU in one measured run of 120,000
    events (0.65 s of 1.25 s). Cyclic garbage (rare here) waits longer; reference counting is unchanged."""
    gc.set_threshold(*GC_THRESHOLDS)


class Trimmer:
    """Hands glibc's free heap pages back to the kernel, at most once per `interval_s`.

    glibc returns memory only from the top of its heap and at free() of an mmapped block;
    freed chunks in the middle of an arena (a batch's decoded events, an encoded request
    under the mmap threshold) stay resident until `malloc_trim`, which releases every whole
    free page. Measured under the soak load: 5–6 MiB of RSS back per call, 1–3 ms each
    (docs/reliability.md). Without glibc's `malloc_trim` this does nothing."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._next = 0.0
        try:
            self._trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            self._trim = None

    def __call__(self, now: float) -> bool:
        """Trim when due (`now` is `time.monotonic()`); whether it ran."""
        if self._trim is None or now < self._next:
            return False
        self._next = now + self.interval_s
        self._trim(0)
        return True

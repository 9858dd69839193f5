"""Every stage's lost records, totalled in one place.

The loss metric, the `--stats-file`, the closing line and the `beholder.agent.loss` records
all read these totals, so they cannot disagree; stages on any thread count into them.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from beholder.events.interfaces import LossCounter


class LossLedger:
    """Running loss totals by stage; each count is also passed on to `forward` (the metric)."""

    def __init__(self, forward: LossCounter | None = None) -> None:
        self._forward = forward
        self._totals: Counter[str] = Counter()
        self._lock = threading.Lock()

    def lost(self, stage: str, n: int) -> None:
        if n <= 0:
            return
        if self._forward is not None:
            self._forward.lost(stage, n)  # first: it refuses a stage the metric does not know
        with self._lock:
            self._totals[stage] += n

    def totals(self) -> dict[str, int]:
        """Stage -> records lost since start (stages that lost nothing are absent)."""
        with self._lock:
            return dict(self._totals)


class FailureLog:
    """One log line when writing starts failing (or fails differently), one when it works
    again; the records lost in between are counted, not logged batch by batch (a full disk
    would otherwise print a line per batch)."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._log = logger
        self._what = what
        self._failing = ""  # the current failure's text
        self.lost = 0  # records lost since the current failure began

    def failed(self, exc: BaseException, records: int) -> None:
        text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        if text != self._failing:
            self._log.error("%s: cannot write: %s (repeats are counted, not logged)", self._what, text)
            self._failing, self.lost = text, 0
        self.lost += records

    def succeeded(self) -> None:
        if self._failing:
            self._log.warning(
                "%s: writing again; %d records were not written meanwhile", self._what, self.lost
            )
            self._failing, self.lost = "", 0

"""One line per OTLP outage, whichever signals it hits: logs, traces and metrics share it.

A collector that goes away fails every exporter at once (the logs and traces queues, the
metrics reader); each says so here, and only the first says it out loud. The outage ends,
with one more line, when the last exporter that failed has recovered. An exporter that
closes while failing leaves quietly (the agent is stopping; its spool says what is left).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("beholder.otel")


@dataclass(slots=True)
class _Down:
    signal: str
    failures: int = 0


class Outages:
    """The exporters currently failing, keyed by the exporter object."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: dict[int, _Down] = {}
        self._since = 0.0
        self._failures = 0  # of exporters that already recovered, in this outage
        self._signals: list[str] = []  # every signal the outage hit, in order

    def failing(self, exporter: object, signal: str, endpoint: str, reason: str, then: str) -> None:
        """`exporter` (of `signal`) failed an attempt; the outage's first failure is logged."""
        with self._lock:
            first = not self._down
            down = self._down.setdefault(id(exporter), _Down(signal))
            down.failures += 1
            if first:
                self._since, self._failures, self._signals = time.monotonic(), 0, []
            if signal not in self._signals:
                self._signals.append(signal)
        if first:
            log.warning(
                "beholder: %s export to %s failing (%s); %s, one line when it recovers",
                signal,
                endpoint,
                reason,
                then,
            )

    def recovered(self, exporter: object, endpoint: str) -> None:
        """`exporter` delivered again; the outage's end is logged when it was the last one down."""
        with self._lock:
            down = self._down.pop(id(exporter), None)
            if down is None:
                return
            self._failures += down.failures
            if self._down:
                return
            failures, seconds = self._failures, time.monotonic() - self._since
            signals = "+".join(self._signals)
        log.warning(
            "beholder: %s export to %s recovered after %d failed attempts (%.0f s)",
            signals,
            endpoint,
            failures,
            seconds,
        )

    def leave(self, exporter: object) -> None:
        """`exporter` closes: it takes no further part in the outage, and says nothing."""
        with self._lock:
            down = self._down.pop(id(exporter), None)
            if down is not None:
                self._failures += down.failures

    def down(self, exporter: object) -> bool:
        with self._lock:
            return id(exporter) in self._down


OUTAGES = Outages()  # the agent's exporters share one

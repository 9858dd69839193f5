"""The OTLP traces `Sink`: process spans through the export queue, spool and loss accounting
the logs use, to the endpoint `OTEL_EXPORTER_OTLP_TRACES_*` (or the generic one) names.

Spans are finished on the agent's thread by the enrich stage's `ProcessSpans` (one per
exited process, far fewer than events), which the sink `attach`es to, and queued as
serialized `ExportTraceServiceRequest`s; the queue's threads send them, spill
them to their own spool (`<spool dir>/traces`) while the collector is away and count what
cannot be kept under the same `beholder.event.lost` stages as log records. The open spans
are saved beside that spool (`open-spans.json`) so a restarted agent continues them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial

from beholder import __version__
from beholder.events.model import Alert, Event
from beholder.otel import wire
from beholder.otel.config import endpoint_configured
from beholder.otel.otlp_sink import build_exporter
from beholder.otel.queue import ExportQueue, QueuedSink, Serialized
from beholder.otel.resource import SCOPE_NAME
from beholder.otel.traces import ProcessSpans

STATE_FILE = "open-spans.json"
SPANS_PER_REQUEST = 2048  # a few hundred bytes each: well under the collector's 4 MiB
TRACES_SHARE = 4  # the traces queue and spool get a quarter of the logs' bounds


class TraceSink(QueuedSink):
    """One span per process, exported when the process exits (or when the agent stops)."""

    def __init__(
        self,
        queue: ExportQueue,
        resource: Mapping[str, object],
        spans: ProcessSpans | None = None,
        close_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(queue, close_timeout_s, close_timeout_s)
        self._resource = resource
        directory = queue.spool_directory
        self._state = directory / STATE_FILE if directory is not None else None
        self.spans = spans or ProcessSpans()
        self.spans.export = True

    def attach(self, spans: ProcessSpans) -> int:
        """Export what `spans` (the enrich stage's) finishes, continuing the spans a previous
        agent left open; how many it continues."""
        self.spans = spans
        spans.export = True
        return spans.restore(self._state) if self._state is not None else 0

    def emit(self, events: list[Event], alerts: list[Alert]) -> None:
        self._put(self.spans.take())
        if self._state is not None:
            self.spans.save(self._state)

    def _put(self, spans: list[bytes]) -> None:
        for i in range(0, len(spans), SPANS_PER_REQUEST):
            part = spans[i : i + SPANS_PER_REQUEST]
            payload = wire.request(self._resource, SCOPE_NAME, __version__, part)
            self._queue.put(Serialized(payload, len(part)))

    def close(self) -> None:
        """Export the spans of processes still running (kept in the state file for the next
        agent to continue), then drain or spool the queue."""
        if self._state is not None:
            self.spans.save(self._state, force=True)
        self._put(self.spans.take() + self.spans.close())
        super().close()


def traces_wanted(env: Mapping[str, str] | None = None) -> bool:
    """A traces endpoint is configured and `OTEL_TRACES_EXPORTER` does not say `none`."""
    env = os.environ if env is None else env
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")}
    return "none" not in exporters and endpoint_configured("traces", env)


build_trace_sink = partial(build_exporter, TraceSink, "traces", TRACES_SHARE)

"""The SDK's OTLP metric exporter as the agent runs it: one line per outage, bounded shutdown.

Left alone, the SDK exporter logs a "Transient error … retrying" line on every attempt of
every export interval while the collector is down, and the reader's final export at
shutdown retries until the export timeout. Wrapped, the SDK's own lines are kept (the first
becomes the reason), the agent says once that metrics export is failing and once that it
recovered, and a shutdown during an outage does not wait for a collector that is not there.
"""

from __future__ import annotations

import logging
import threading
import time

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData

from beholder.otel.transport import explain_http_error

log = logging.getLogger("beholder.otel.metrics")
SDK_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.sdk.metrics._internal.export",
)


class OutageReportingExporter(MetricExporter):
    """Delegates to `inner`; turns its failures into one line per outage."""

    def __init__(self, inner: MetricExporter, endpoint: str) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner = inner
        self._endpoint = endpoint
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._failures = 0
        self._reason = ""
        self._closing = False
        for name in SDK_LOGGERS:
            logging.getLogger(name).addFilter(self._swallow)

    def _swallow(self, record: logging.LogRecord) -> bool:
        """Keep the SDK's line as the reason for the next failure instead of printing it."""
        if not self._reason and record.levelno >= logging.WARNING:
            self._reason = record.getMessage().splitlines()[0][:200]
        return False

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: object
    ) -> MetricExportResult:
        if self._closing and self.down:
            return MetricExportResult.FAILURE  # the final export would only wait out the timeout
        try:
            result = self._inner.export(metrics_data, timeout_millis=timeout_millis)
        except Exception as exc:  # the SDK reader would log a traceback per interval
            self._reason = self._reason or f"{type(exc).__name__}: {exc}"
            result = MetricExportResult.FAILURE
        self._note(result)
        return result

    def _note(self, result: MetricExportResult) -> None:
        with self._lock:
            if result is MetricExportResult.SUCCESS:
                if self._down_since is not None:
                    log.warning(
                        "beholder: metrics export to %s recovered after %d failed exports (%.0f s)",
                        self._endpoint,
                        self._failures,
                        time.monotonic() - self._down_since,
                    )
                self._down_since, self._failures = None, 0
            else:
                self._failures += 1
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.warning(
                        "beholder: metrics export to %s failing (%s); retrying each interval, "
                        "one line when it recovers",
                        self._endpoint,
                        explain_http_error(self._reason) if self._reason else "no reason given",
                    )
            self._reason = ""

    def begin_shutdown(self) -> None:
        """From now on an outage ends exports at once; an export waiting on a retry is woken."""
        self._closing = True
        if self.down:
            self._inner.shutdown(timeout_millis=0)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        if not (self._closing and self.down):  # already shut down by `begin_shutdown`
            self._inner.shutdown(timeout_millis=timeout_millis)
        for name in SDK_LOGGERS:
            logging.getLogger(name).removeFilter(self._swallow)

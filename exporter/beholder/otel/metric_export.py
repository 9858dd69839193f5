"""The SDK's OTLP metric exporter as the agent runs it: one line per outage, bounded shutdown.

Left alone, the SDK exporter logs a "Transient error … retrying" line on every attempt of
every export interval while the collector is down, and an export in progress at shutdown
retries until the export timeout. Wrapped, the SDK's own lines are swallowed (the first
becomes the reason), the agent says once that export is failing and once that it recovered
(one line per outage, shared with the logs and traces queues: `otel.outage`), and a shutdown
during an outage wakes the retrying export and skips the final one instead of waiting for a
collector that is not there.
"""

from __future__ import annotations

import logging
import threading

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData

from beholder.otel.outage import OUTAGES, Outages
from beholder.otel.transport import explain_http_error

SDK_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.sdk.metrics._internal.export",
)
_exporting = threading.local()  # the wrapper whose export runs on this thread


class _Router(logging.Filter):
    """Hands an SDK line logged during a wrapped export to that wrapper instead of printing it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exporter = getattr(_exporting, "exporter", None)
        if exporter is None:
            return True
        exporter.sdk_said(record)
        return False


_ROUTER = _Router()
for _name in SDK_LOGGERS:
    logging.getLogger(_name).addFilter(_ROUTER)


class OutageReportingExporter(MetricExporter):
    """Delegates to `inner`; turns its failures into one line per outage."""

    def __init__(self, inner: MetricExporter, endpoint: str, outages: Outages = OUTAGES) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner = inner
        self._endpoint = endpoint
        self._outages = outages  # shared with the logs and traces queues: one line per outage
        self._closing = False

    def sdk_said(self, record: logging.LogRecord) -> None:
        """The SDK's retry lines mean an outage has begun: say so once, print none of them."""
        if record.levelno >= logging.WARNING:
            self._failing(record.getMessage().splitlines()[0][:200])

    @property
    def down(self) -> bool:
        return self._outages.down(self)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: object
    ) -> MetricExportResult:
        if self._closing and self.down:
            return MetricExportResult.FAILURE  # the final export would only wait out the timeout
        _exporting.exporter = self
        try:
            result = self._inner.export(metrics_data, timeout_millis=timeout_millis)
        except Exception as exc:  # the SDK reader would log a traceback per interval
            result = MetricExportResult.FAILURE
            self._failing(f"{type(exc).__name__}: {exc}")
        finally:
            _exporting.exporter = None
        if result is MetricExportResult.SUCCESS:
            self._recovered()
        else:
            self._failing("export failed")
        return result

    def _failing(self, reason: str) -> None:
        reason = explain_http_error(reason)
        self._outages.failing(self, "metrics", self._endpoint, reason, "retrying each interval")

    def _recovered(self) -> None:
        self._outages.recovered(self, self._endpoint)

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
        self._outages.leave(self)

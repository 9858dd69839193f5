"""Pipeline metrics: an OTel SDK MeterProvider, pushed over OTLP and/or scraped by Prometheus.

The hot path talks to `PipelineMetrics`, whose methods take whole batches and turn them
into one `add` per distinct attribute set, so the cost per event is a dictionary count,
not an SDK call. Names follow OTel's naming guidance (see semconv/registry/metrics.yaml); the
Prometheus exporter derives `beholder_event_count_total` and friends from them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import product
from operator import attrgetter

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from beholder import __version__
from beholder.events.model import Action, Alert, Event, Operation
from beholder.health import Health
from beholder.otel import semconv as sc
from beholder.otel.config import GRPC, OtlpConfig
from beholder.otel.enum_values import ACTION, OPERATION
from beholder.otel.metric_export import OutageReportingExporter
from beholder.otel.resource import SCHEMA_URL

_OPERATION_OF = attrgetter("operation")
_TIMESTAMP_OF = attrgetter("timestamp_ns")

# "handover": the agent's reader-to-processing queue; "export_queue": the OTLP export queue;
# "output": the line-writing sinks (console, KubeArmor/native JSON, Kubescape, OTLP file).
LOSS_STAGES = ("ringbuf", "handover", "decode", "export_queue", "export", "spool", "output")
ALERT_SOURCES = ("policy", "profile")
ALERT_SEVERITIES = range(1, 11)  # KubeArmor's scale; profile rules map onto it
# Seconds from the kernel seeing an event to the batch reaching the sinks.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PipelineMetrics:
    """Batch-level recording methods over the `beholder.*` instruments.

    Every counter series that can exist is added at 0 at construction, so a quiet node
    already exports `beholder.event.lost{stage=…} 0` and loss alerts have a series to watch.
    """

    def __init__(self, meter_provider: MeterProvider) -> None:
        self._spool_lock = threading.Lock()
        self._spool_bytes = 0
        meter = meter_provider.get_meter("beholder", __version__, schema_url=SCHEMA_URL)
        self._events = meter.create_counter(
            sc.METRIC_EVENT_COUNT, unit="{event}", description="Events observed, by operation."
        )
        self._alerts = meter.create_counter(
            sc.METRIC_ALERT_COUNT, unit="{alert}", description="Alerts raised, by source, action, severity."
        )
        self._lost = meter.create_counter(
            sc.METRIC_EVENT_LOST, unit="{event}", description="Records lost, by the stage that lost them."
        )
        self._suppressed = meter.create_counter(
            sc.METRIC_EVENT_SUPPRESSED, unit="{event}", description="Repeats folded away by deduplication."
        )
        self._queue = meter.create_up_down_counter(
            sc.METRIC_EXPORT_QUEUE_USAGE, unit="{record}", description="Records waiting in memory to export."
        )
        self._queue_limit = meter.create_up_down_counter(
            sc.METRIC_EXPORT_QUEUE_LIMIT, unit="{record}", description="Most records the export queue holds."
        )
        self._spool = meter.create_up_down_counter(
            sc.METRIC_EXPORT_SPOOL_USAGE, unit="By", description="Bytes waiting in the disk spool."
        )
        self._spool_limit = meter.create_up_down_counter(
            sc.METRIC_EXPORT_SPOOL_LIMIT, unit="By", description="Bytes the disk spool holds at most."
        )
        self._latency = meter.create_histogram(
            sc.METRIC_PIPELINE_DURATION,
            unit="s",
            description="Age of a batch's oldest event when the batch reaches the sinks.",
            explicit_bucket_boundaries_advisory=_LATENCY_BUCKETS,
        )
        self._start_at_zero()

    def _start_at_zero(self) -> None:
        for operation in Operation:
            self._events.add(0, {sc.BEHOLDER_OPERATION: OPERATION[operation]})
        for source, action, severity in product(ALERT_SOURCES, Action, ALERT_SEVERITIES):
            self._alerts.add(0, _alert_attributes(source, action, severity))
        for stage in LOSS_STAGES:
            self._lost.add(0, {sc.BEHOLDER_STAGE: stage})
        self._suppressed.add(0, {sc.BEHOLDER_REASON: "repeat"})
        self._queue.add(0)

    def record_batch(self, events: list[Event], alerts: list[Alert], now_ns: int | None = None) -> None:
        """Count a batch's events and alerts and sample its latency, once per batch."""
        # map/attrgetter keep the per-event loops in C (a generator ran Python code per event)
        for operation, n in Counter(map(_OPERATION_OF, events)).items():
            self._events.add(n, {sc.BEHOLDER_OPERATION: OPERATION[operation]})
        for (source, action, severity), n in Counter(
            (alert.source, alert.action, alert.severity) for alert in alerts
        ).items():
            self._alerts.add(n, _alert_attributes(source, action, severity))
        if events:
            now_ns = time.time_ns() if now_ns is None else now_ns
            oldest = min(map(_TIMESTAMP_OF, events))
            self._latency.record(max(now_ns - oldest, 0) / 1e9)

    def lost(self, stage: str, n: int) -> None:
        if stage not in LOSS_STAGES:
            raise ValueError(f"unknown loss stage {stage!r}")
        if n > 0:
            self._lost.add(n, {sc.BEHOLDER_STAGE: stage})

    def suppressed(self, n: int, reason: str = "repeat") -> None:
        if n > 0:
            self._suppressed.add(n, {sc.BEHOLDER_REASON: reason})

    def queue_changed(self, delta: int) -> None:
        if delta:
            self._queue.add(delta)

    def queue_limit(self, records: int) -> None:
        """An export queue's bound, added once when the queue is built."""
        self._queue_limit.add(records)

    def spool_limit(self, size: int) -> None:
        """A spool's bound, added once when the spool is opened."""
        self._spool_limit.add(size)

    def spool_bytes(self, size: int) -> None:
        """The spool's current size; the UpDownCounter gets the change since the last call."""
        with self._spool_lock:
            delta, self._spool_bytes = size - self._spool_bytes, size
        if delta:
            self._spool.add(delta)


def _alert_attributes(source: str, action: Action, severity: int) -> dict[str, str | int]:
    return {
        sc.BEHOLDER_ALERT_SOURCE: source,
        sc.BEHOLDER_POLICY_ACTION: ACTION[action],
        sc.BEHOLDER_ALERT_SEVERITY: severity,
    }


@dataclass
class MetricsRuntime:
    """The provider plus what must be stopped with it (the Prometheus HTTP server)."""

    provider: MeterProvider
    metrics: PipelineMetrics
    prometheus_port: int | None = None
    _servers: list = field(default_factory=list)
    otlp_exporter: OutageReportingExporter | None = None

    def shutdown(self, timeout_s: float = 5.0) -> None:
        if self.otlp_exporter is not None:
            self.otlp_exporter.begin_shutdown()
        self.provider.shutdown(timeout_millis=timeout_s * 1000)
        for server, thread in self._servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout_s)
        self._servers.clear()


def start_metrics(
    resource: Mapping[str, object],
    otlp: OtlpConfig | None = None,
    prometheus_addr: tuple[str, int] | None = None,
    interval_s: float = 10.0,
    health: Health | None = None,
) -> MetricsRuntime:
    """Build the MeterProvider: OTLP push when `otlp` is given, `/metrics` (with `/healthz`
    and `/readyz`) when an address is.

    Port 0 picks a free port; the chosen one is in `MetricsRuntime.prometheus_port`.
    """
    readers: list[MetricReader] = []
    exporter = None
    if otlp is not None:
        exporter = OutageReportingExporter(_otlp_metric_exporter(otlp), otlp.endpoint)
        readers.append(PeriodicExportingMetricReader(exporter, interval_s * 1000))
    servers = []
    port = None
    if prometheus_addr is not None:  # the Prometheus client and server only when scraped (RSS)
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry

        from beholder.otel.http_endpoint import serve

        registry = CollectorRegistry(auto_describe=True)
        readers.append(PrometheusMetricReader(registry=registry))
        server, thread = serve(prometheus_addr, registry, health or Health(ready=True))
        servers.append((server, thread))
        port = server.server_port
    # The logs' resource as it is (Resource.create would add the SDK's defaults on top).
    provider = MeterProvider(metric_readers=readers, resource=Resource(dict(resource), SCHEMA_URL))
    return MetricsRuntime(provider, PipelineMetrics(provider), port, servers, exporter)


def _otlp_metric_exporter(config: OtlpConfig) -> MetricExporter:
    """The official metric exporter, fed our spec-conforming settings explicitly (only the
    configured protocol's exporter is imported: see `beholder.otel.transport.make_transport`)."""
    if config.protocol == GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression as GrpcCompression
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        from beholder.otel.grpc_transport import grpc_credentials

        return GrpcMetricExporter(
            endpoint=config.endpoint,
            insecure=config.insecure,
            credentials=None if config.insecure else grpc_credentials(config),
            headers=config.headers,
            timeout=config.timeout_s,
            compression=GrpcCompression.Gzip
            if config.compression == "gzip"
            else GrpcCompression.NoCompression,
        )
    from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter(
        endpoint=config.endpoint,
        certificate_file=config.certificate or None,
        client_key_file=config.client_key,
        client_certificate_file=config.client_certificate,
        headers=config.headers,
        timeout=config.timeout_s,
        compression=HttpCompression.Gzip if config.compression == "gzip" else HttpCompression.NoCompression,
    )

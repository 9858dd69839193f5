"""Pipeline metrics: an OTel SDK MeterProvider, pushed over OTLP and/or scraped by Prometheus.

The hot path talks to `PipelineMetrics`, whose methods take whole batches and turn them
into one `add` per distinct attribute set, so the cost per event is a dictionary count,
not an SDK call. Names follow OTel rules (dotted, no `_total`, curly-brace units); the
Prometheus exporter derives `beholder_events_total` and friends from them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression as GrpcCompression
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry

from beholder import __version__
from beholder.events.model import Alert, Event
from beholder.health import Health
from beholder.otel import semconv as sc
from beholder.otel.config import GRPC, OtlpConfig
from beholder.otel.http_endpoint import serve
from beholder.otel.transport import grpc_credentials

# "handover": the agent's reader-to-processing queue; "export_queue": the OTLP export queue.
LOSS_STAGES = ("ringbuf", "handover", "decode", "export_queue", "export", "spool")
# Seconds from the kernel seeing an event to the batch reaching the sinks.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PipelineMetrics:
    """Batch-level recording methods over the `beholder.*` instruments."""

    def __init__(self, meter_provider: MeterProvider) -> None:
        self.lost_totals: Counter[str] = Counter()  # also kept here for --stats-file
        self._totals_lock = threading.Lock()
        meter = meter_provider.get_meter("beholder", __version__)
        self._events = meter.create_counter(
            sc.METRIC_EVENTS, unit="{event}", description="Events observed, by operation."
        )
        self._alerts = meter.create_counter(
            sc.METRIC_ALERTS, unit="{alert}", description="Alerts raised, by source, action and severity."
        )
        self._lost = meter.create_counter(
            sc.METRIC_EVENTS_LOST, unit="{event}", description="Records lost, by the stage that lost them."
        )
        self._suppressed = meter.create_counter(
            sc.METRIC_EVENTS_SUPPRESSED, unit="{event}", description="Repeats folded away by deduplication."
        )
        self._queue = meter.create_up_down_counter(
            sc.METRIC_EXPORT_QUEUE_SIZE,
            unit="{record}",
            description="Log records waiting in memory to export.",
        )
        self._spool = meter.create_gauge(
            sc.METRIC_EXPORT_SPOOL_SIZE, unit="By", description="Bytes waiting in the disk spool."
        )
        self._latency = meter.create_histogram(
            sc.METRIC_PIPELINE_LATENCY,
            unit="s",
            description="Age of a batch's oldest event when the batch reaches the sinks.",
            explicit_bucket_boundaries_advisory=_LATENCY_BUCKETS,
        )

    def record_batch(self, events: list[Event], alerts: list[Alert], now_ns: int | None = None) -> None:
        """Count a batch's events and alerts and sample its latency, once per batch."""
        for operation, n in Counter(event.operation for event in events).items():
            self._events.add(n, {sc.BEHOLDER_OPERATION: operation.value})
        for (source, action, severity), n in Counter(
            (alert.source, alert.action, alert.severity) for alert in alerts
        ).items():
            self._alerts.add(
                n,
                {
                    sc.BEHOLDER_ALERT_SOURCE: source,
                    sc.BEHOLDER_POLICY_ACTION: action.value,
                    sc.BEHOLDER_ALERT_SEVERITY: severity,
                },
            )
        if events:
            now_ns = time.time_ns() if now_ns is None else now_ns
            oldest = min(event.timestamp_ns for event in events)
            self._latency.record(max(now_ns - oldest, 0) / 1e9)

    def lost(self, stage: str, n: int) -> None:
        if stage not in LOSS_STAGES:
            raise ValueError(f"unknown loss stage {stage!r}")
        if n > 0:
            self._lost.add(n, {sc.BEHOLDER_STAGE: stage})
            with self._totals_lock:
                self.lost_totals[stage] += n

    def suppressed(self, n: int, reason: str = "repeat") -> None:
        if n > 0:
            self._suppressed.add(n, {sc.BEHOLDER_REASON: reason})

    def queue_changed(self, delta: int) -> None:
        if delta:
            self._queue.add(delta)

    def spool_bytes(self, size: int) -> None:
        self._spool.set(size)


@dataclass
class MetricsRuntime:
    """The provider plus what must be stopped with it (the Prometheus HTTP server)."""

    provider: MeterProvider
    metrics: PipelineMetrics
    prometheus_port: int | None = None
    _servers: list = field(default_factory=list)

    def shutdown(self, timeout_s: float = 5.0) -> None:
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
    if otlp is not None:
        readers.append(PeriodicExportingMetricReader(_otlp_metric_exporter(otlp), interval_s * 1000))
    servers = []
    port = None
    if prometheus_addr is not None:
        registry = CollectorRegistry(auto_describe=True)
        readers.append(PrometheusMetricReader(registry=registry))
        server, thread = serve(prometheus_addr, registry, health or Health(ready=True))
        servers.append((server, thread))
        port = server.server_port
    provider = MeterProvider(metric_readers=readers, resource=Resource.create(dict(resource)))
    return MetricsRuntime(provider, PipelineMetrics(provider), port, servers)


def _otlp_metric_exporter(config: OtlpConfig) -> GrpcMetricExporter | HttpMetricExporter:
    """The official metric exporter, fed our spec-conforming settings explicitly."""
    if config.protocol == GRPC:
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
    return HttpMetricExporter(
        endpoint=config.endpoint,
        certificate_file=config.certificate or None,
        client_key_file=config.client_key,
        client_certificate_file=config.client_certificate,
        headers=config.headers,
        timeout=config.timeout_s,
        compression=HttpCompression.Gzip if config.compression == "gzip" else HttpCompression.NoCompression,
    )

"""Summary counts as OTel metrics, read from the tables when the SDK collects.

Observable instruments cost nothing on the hot path: the callback runs on the metric
reader's schedule and reads `Summary.totals()`. The pipeline owner wires it once:
`register_summary_metrics(metrics_runtime.provider, query_server.summary)`.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from beholder import __version__
from beholder.otel import semconv as sc
from beholder.otel.resource import SCHEMA_URL
from beholder.summary.aggregate import Summary


def _observations(summary: Summary) -> list[Observation]:
    out = []
    for (namespace, pod, container, table), count in summary.totals().items():
        attributes = {sc.BEHOLDER_SUMMARY_TABLE: table}
        for name, value in (
            (sc.K8S_NAMESPACE_NAME, namespace),
            (sc.K8S_POD_NAME, pod),
            (sc.K8S_CONTAINER_NAME, container),
        ):
            if value:
                attributes[name] = value
        out.append(Observation(count, attributes))
    return out


def register_summary_metrics(provider: MeterProvider, summary: Summary) -> None:
    """`beholder.summary.event.count`: events folded into each container's summary table."""
    meter = provider.get_meter("beholder.summary", __version__, schema_url=SCHEMA_URL)

    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        return _observations(summary)

    meter.create_observable_counter(
        sc.METRIC_SUMMARY_EVENT_COUNT,
        callbacks=[observe],
        unit="{event}",
        description="Events counted in the application-behaviour summary, by container and table.",
    )

"""Pipeline metrics over an in-memory reader, with the sums readable by tests."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from beholder.otel.metrics import PipelineMetrics


class RecordedMetrics:
    """`PipelineMetrics` over an in-memory reader, with a way to read the sums back."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])
        self.metrics = PipelineMetrics(self.provider)

    def points(self, name: str) -> dict[tuple[tuple[str, object], ...], float]:
        data = self.reader.get_metrics_data()
        found: dict[tuple[tuple[str, object], ...], float] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            value = getattr(point, "value", None)
                            found[tuple(sorted(point.attributes.items()))] = (
                                value if value is not None else point.count
                            )
        return found

    def counted(self, name: str) -> dict[tuple[tuple[str, object], ...], float]:
        """The points that moved (every counter series exists at 0 from the start)."""
        return {key: value for key, value in self.points(name).items() if value}

    def lost(self, stage: str) -> float:
        return self.points("beholder.event.lost").get((("beholder.stage", stage),), 0)

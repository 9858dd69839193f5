"""The pipeline metrics follow the registry: declared names, units, instruments, attributes."""

from __future__ import annotations

import re

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from beholder.otel import semconv as sc
from beholder.otel.metrics import PipelineMetrics
from beholder.otel.semconv_check import declared_type
from otel_semconv.samples import record_every_instrument

INSTRUMENTS = {"counter", "updowncounter", "gauge", "histogram"}


def test_registry_metric_names_and_units_follow_otel_naming_rules():
    assert sc.METRICS
    for name, (instrument, unit) in sc.METRICS.items():
        assert re.fullmatch(r"beholder(\.[a-z_]+)+", name) and not name.endswith(("_total", ".total")), name
        assert instrument in INSTRUMENTS
        assert re.fullmatch(r"\{[a-z]+\}|By|s", unit), unit


def test_metric_names_follow_the_naming_guidance():
    """No name is also a namespace; durations, usages and limits are named and typed as such."""
    names = set(sc.METRICS)
    assert [n for n in names if any(other.startswith(f"{n}.") for other in names)] == []
    for name, (instrument, unit) in sc.METRICS.items():
        if unit == "s":
            assert name.endswith(".duration") and instrument == "histogram", name
        if name.endswith((".usage", ".limit")):
            assert instrument == "updowncounter", name
        if instrument == "updowncounter":
            assert name.endswith((".usage", ".limit")), name


def test_every_metric_the_pipeline_exports_is_declared_with_its_unit_and_attributes():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    record_every_instrument(provider, PipelineMetrics(provider))
    exported = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for scope in rm.scope_metrics:
            for metric in scope.metrics:
                keys = {k for point in metric.data.data_points for k in point.attributes}
                exported[metric.name] = (metric.unit, keys)
    assert set(exported) == set(sc.METRICS)
    for name, (unit, keys) in exported.items():
        assert unit == sc.METRICS[name][1], name
        assert all(declared_type(k) is not None for k in keys), (name, keys)

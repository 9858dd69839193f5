"""Pipeline metrics count per batch, reach a collector over OTLP and Prometheus over /metrics."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from beholder.events.model import Action, Alert, Event, Operation
from beholder.formats.kubearmor_in import with_facts
from beholder.otel import semconv as sc
from beholder.otel.metrics import LOSS_STAGES, MetricsRuntime, start_metrics
from conftest import require
from otel_export.agent_helper import exec_event
from otel_export.receiver import RECEIVERS, Collector, config_for
from otel_export.recorded import RecordedMetrics


def event(operation: Operation, ts: int = 1_000_000_000) -> Event:
    return with_facts(Event(ts, operation, "x", 0, 1, 1, 0, 0, "c", 0))


def alert(source: str, action: Action, severity: int) -> Alert:
    return Alert(event(Operation.FILE), source, "rule", "rule", action, severity)


BATCH_EVENTS = [event(Operation.PROCESS)] * 3 + [event(Operation.FILE, ts=500_000_000)] * 2
BATCH_ALERTS = [alert("policy", Action.BLOCK, 5)] * 2 + [alert("profile", Action.AUDIT, 8)]


def test_batch_counts_split_by_attribute(recorded: RecordedMetrics) -> None:
    recorded.metrics.record_batch(BATCH_EVENTS, BATCH_ALERTS, now_ns=2_000_000_000)
    recorded.metrics.record_batch(BATCH_EVENTS[:1], [], now_ns=2_000_000_000)
    assert recorded.counted("beholder.event.count") == {
        (("beholder.operation", "process"),): 4,
        (("beholder.operation", "file"),): 2,
    }
    source, action, severity = "beholder.alert.source", "beholder.policy.action", "beholder.alert.severity"
    assert recorded.counted("beholder.alert.count") == {
        ((severity, 5), (source, "policy"), (action, "block")): 2,
        ((severity, 8), (source, "profile"), (action, "audit")): 1,
    }
    assert recorded.points("beholder.pipeline.duration") == {(): 2}  # one sample per batch


def test_latency_sample_is_the_oldest_event_age(recorded: RecordedMetrics) -> None:
    recorded.metrics.record_batch(BATCH_EVENTS, [], now_ns=2_000_000_000)
    data = recorded.reader.get_metrics_data()
    (point,) = [
        m.data.data_points[0]
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "beholder.pipeline.duration"
    ]
    assert point.sum == pytest.approx(1.5)


def test_losses_and_suppression_are_counted_by_stage(recorded: RecordedMetrics) -> None:
    for stage, n in (
        ("ringbuf", 7),
        ("export_queue", 3),
        ("export_queue", 2),
        ("handover", 4),
        ("export", 0),
    ):
        recorded.metrics.lost(stage, n)
    recorded.metrics.suppressed(11)
    assert recorded.counted("beholder.event.lost") == {
        (("beholder.stage", "ringbuf"),): 7,
        (("beholder.stage", "export_queue"),): 5,
        (("beholder.stage", "handover"),): 4,
    }
    assert recorded.points("beholder.event.suppressed") == {(("beholder.reason", "repeat"),): 11}
    for stage in ("elsewhere", "queue"):  # "queue" named two different queues; it is gone
        with pytest.raises(ValueError, match="unknown loss stage"):
            recorded.metrics.lost(stage, 1)


def test_every_counter_series_exists_at_zero_before_anything_happens(recorded: RecordedMetrics) -> None:
    assert recorded.points("beholder.event.lost") == {(("beholder.stage", s),): 0 for s in LOSS_STAGES}
    assert recorded.points("beholder.event.suppressed") == {(("beholder.reason", "repeat"),): 0}
    assert set(recorded.points("beholder.event.count")) == {
        (("beholder.operation", op.value.lower()),) for op in Operation
    }
    alerts = recorded.points("beholder.alert.count")
    assert len(alerts) == 2 * len(Action) * 10 and set(alerts.values()) == {0}
    assert recorded.points("beholder.export.queue.usage") == {(): 0}


def test_limits_and_usage_are_updowncounters_that_follow_the_spool(recorded: RecordedMetrics) -> None:
    recorded.metrics.spool_limit(1 << 20)
    recorded.metrics.queue_limit(1000)
    for size in (300, 900, 100):
        recorded.metrics.spool_bytes(size)
    assert recorded.points("beholder.export.spool.usage") == {(): 100}
    assert recorded.points("beholder.export.spool.limit") == {(): 1 << 20}
    assert recorded.points("beholder.export.queue.limit") == {(): 1000}


def test_loss_stages_are_the_ones_the_semantic_convention_declares() -> None:
    assert set(LOSS_STAGES) == sc.ENUM_VALUES[sc.BEHOLDER_STAGE]
    assert {"handover", "export_queue"} <= set(LOSS_STAGES)


def sums(collector: Collector) -> dict[str, float]:
    found: dict[str, float] = {}
    for request in collector.metrics:
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.HasField("sum"):
                        found[metric.name] = sum(p.as_int or p.as_double for p in metric.sum.data_points)
                        found[f"{metric.name}:unit"] = metric.unit
    return found


@pytest.mark.parametrize("protocol", list(RECEIVERS))
def test_metrics_reach_an_otlp_collector(protocol: str, collector: Collector) -> None:
    with RECEIVERS[protocol](collector) as receiver:
        config = config_for(protocol, receiver.url, signal="metrics")
        runtime = start_metrics({"service.name": "beholder-test"}, otlp=config, interval_s=3600)
        runtime.metrics.record_batch(BATCH_EVENTS, BATCH_ALERTS)
        runtime.metrics.lost("spool", 4)
        assert runtime.provider.force_flush(10_000)
        runtime.shutdown()
    found = sums(collector)
    assert found["beholder.event.count"] == 5 and found["beholder.event.count:unit"] == "{event}"
    assert found["beholder.alert.count"] == 3 and found["beholder.alert.count:unit"] == "{alert}"
    assert found["beholder.event.lost"] == 4
    resource = {
        kv.key: kv.value.string_value for kv in collector.metrics[0].resource_metrics[0].resource.attributes
    }
    assert resource["service.name"] == "beholder-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def exposed() -> Iterator[MetricsRuntime]:
    runtime = start_metrics({"service.name": "beholder-test"}, prometheus_addr=("127.0.0.1", 0))
    yield runtime
    runtime.shutdown()


def test_metrics_endpoint_uses_prometheus_names(exposed: MetricsRuntime) -> None:
    exposed.metrics.record_batch(BATCH_EVENTS, BATCH_ALERTS)
    url = f"http://127.0.0.1:{exposed.prometheus_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples = {
        (sample.name, sample.labels.get("beholder_operation")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("beholder_event_count_total", "process")] == 3
    assert samples[("beholder_event_count_total", "file")] == 2
    assert ("beholder_pipeline_duration_seconds_count", None) in samples
    assert "{event}" not in text


def query(port: int, expression: str) -> dict[str, float]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
    except OSError:
        return {}
    return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in body["data"]["result"]}


def test_prometheus_server_scrapes_counters_matching_the_batches(
    exposed: MetricsRuntime, tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    require(binary is not None, "Debian package prometheus not installed")
    for n in range(10):
        exposed.metrics.record_batch([exec_event(n)] * (n + 1), BATCH_ALERTS[:1])
    exposed.metrics.lost("ringbuf", 17)
    config = tmp_path / "prometheus.yml"
    target = f"127.0.0.1:{exposed.prometheus_port}"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: beholder\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    server = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    expected = {
        "beholder_event_count_total": 55.0,
        "beholder_alert_count_total": 10.0,
        'beholder_event_lost_total{beholder_stage="ringbuf"}': 17.0,
    }
    try:
        seen: dict[str, float] = {}
        for _ in range(120):  # wait for the first scrapes; the assertion below is on values only
            seen = {expr: sum(query(port, f"sum({expr})").values()) for expr in expected}
            if seen == expected:
                break
            time.sleep(0.5)
        assert seen == expected
        assert query(port, 'up{job="beholder"}') and all(v == 1 for v in query(port, "up").values())
    finally:
        server.terminate()
        server.wait(30)

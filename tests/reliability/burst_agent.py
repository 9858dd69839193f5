"""The real agent with a tiny ring buffer, for the burst test (`run` has no ring-size option).

Run as a subprocess so the kernel excludes only this process tree. Prints `ready`, runs
until SIGTERM, then prints one JSON line: the agent's report, the loss metrics by stage
and the marker execs (`/bin/echo beholder-marker N`) that reached the sinks.
"""

from __future__ import annotations

import argparse
import json
import signal
import uuid

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from beholder.agent import AgentOptions
from beholder.events.model import Alert, Event, LossReport
from beholder.otel import semconv as sc
from beholder.otel.metrics import PipelineMetrics
from beholder.pipeline import Pipeline, Tracing
from beholder.sensors.program import ProgramOptions

# Unique per test process: other runs of this suite on the same host are traced too.
MARKER = f"beholder-marker-{uuid.uuid4().hex[:8]}"


class MarkerSink:
    """Counts events and keeps the marker numbers; no I/O, so the sink is never the bottleneck."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.events = 0
        self.markers: list[int] = []
        self.loss_records: dict[str, int] = {}  # stage -> records lost, summed over the loss reports

    def report_losses(self, reports: list[LossReport]) -> None:
        for r in reports:
            self.loss_records[r.stage] = self.loss_records.get(r.stage, 0) + r.count

    def emit(self, events: list[Event], alerts: list[Alert]) -> None:
        self.events += len(events)
        self.markers += [
            int(e.argv[2])
            for e in events
            if e.syscall == "execve" and len(e.argv) == 3 and e.argv[1] == self.marker
        ]

    @property
    def pending_records(self) -> int:
        return 0

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def lost_by_stage(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    lost: dict[str, int] = {}
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == sc.METRIC_EVENT_LOST:
                    for point in metric.data.data_points:
                        lost[str(point.attributes[sc.BEHOLDER_STAGE])] = int(point.value)
    return lost


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ringbuf-pages", type=int, default=4)
    parser.add_argument("--queue-batches", type=int, default=1024)
    parser.add_argument("--marker", required=True)
    args = parser.parse_args()
    reader = InMemoryMetricReader()
    metrics = PipelineMetrics(MeterProvider(metric_readers=[reader]))
    sink = MarkerSink(args.marker)
    program = ProgramOptions(ringbuf_pages=args.ringbuf_pages, dedup_window_ns=0)
    tracing = Tracing(program, redact=False, agent=AgentOptions(queue_batches=args.queue_batches))
    pipeline = Pipeline(tracing, metrics)
    agent = pipeline.open([sink])
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    print("ready", flush=True)
    agent.run()
    report = {
        **agent.report(),
        "lost_metric": lost_by_stage(reader),
        "markers": sink.markers,
        "loss_records": sink.loss_records,
        "events": sink.events,
    }
    pipeline.close()
    print(json.dumps(report, default=str), flush=True)


if __name__ == "__main__":
    main()

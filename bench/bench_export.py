"""Log records per second, end to end, into an OTLP/gRPC receiver running in another process.

Two paths, same events, same receiver, one run:
  baseline  the OTel SDK: LoggerProvider + BatchLogRecordProcessor + OTLPLogExporter,
            one `Logger.emit` per event (attributes built per event, as an app would);
  beholder  OtlpSink: one encoded ExportLogsServiceRequest per batch, export queue, gRPC.
A path's clock runs from its first emit until the receiver has counted every record.
Prints both rates and their ratio (target: beholder >= 100k/s and >= 6x the baseline).

    .venv/bin/python bench/bench_export.py [--records 300000] [--baseline-records 30000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import struct
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource

from beholder.events.interfaces import HostIdentity
from beholder.events.model import ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats.kubearmor_in import with_facts
from beholder.otel.encode import LogEncoder
from beholder.otel.metrics import PipelineMetrics
from beholder.otel.otlp_sink import build_otlp_sink
from beholder.otel.resource import resource_attributes
from beholder.otel.severity import TELEMETRY_SEVERITY

_COUNT_METHOD = "/bench.Counter/Count"
_BATCH = 1024
_IN_FLIGHT = 64 * _BATCH


# -- receiver process -------------------------------------------------------------------------
def serve() -> None:
    """Count log records; answer the running total on a side method."""
    total = 0
    lock = threading.Lock()

    def export(request: ExportLogsServiceRequest, context: grpc.ServicerContext) -> ExportLogsServiceResponse:
        nonlocal total
        n = sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
        with lock:
            total += n
        return ExportLogsServiceResponse()

    def count(request: bytes, context: grpc.ServicerContext) -> bytes:
        with lock:
            return struct.pack("<Q", total)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2), options=[("grpc.max_receive_message_length", 1 << 30)]
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "opentelemetry.proto.collector.logs.v1.LogsService",
                {
                    "Export": grpc.unary_unary_rpc_method_handler(
                        export,
                        request_deserializer=ExportLogsServiceRequest.FromString,
                        response_serializer=ExportLogsServiceResponse.SerializeToString,
                    )
                },
            ),
            grpc.method_handlers_generic_handler(
                "bench.Counter", {"Count": grpc.unary_unary_rpc_method_handler(count)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.stop(None)


class Receiver:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self._count = self._channel.unary_unary(_COUNT_METHOD)

    def count(self) -> int:
        return struct.unpack("<Q", self._count(b"", timeout=10))[0]

    def wait_for(self, n: int, timeout_s: float = 300.0) -> float:
        """Monotonic time at which the receiver had counted `n` records."""
        deadline = time.monotonic() + timeout_s
        while (got := self.count()) < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"receiver counted {got} of {n} records before timing out")
            time.sleep(0.005)
        return time.monotonic()

    def close(self) -> None:
        self._channel.close()
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


# -- workload ---------------------------------------------------------------------------------
def make_events(n: int) -> list[Event]:
    """Exec and open events from a few dozen containerised processes, as enrichment leaves them."""
    containers = [
        ContainerInfo(f"{i:064x}", "containerd", f"app-{i}", f"registry.local/app:{i}", "", f"uid-{i}",
                      f"app-{i}-pod", "prod", {"app": f"app-{i}"}, "Deployment", f"app-{i}", "default")
        for i in range(8)
    ]  # fmt: skip
    processes = [
        ProcessInfo(
            1000 + i, 1, 10 + i, 1, "python3", "/usr/bin/python3", "python3 -m app", "/bin/sh", "/srv"
        )
        for i in range(32)
    ]
    events = []
    now = time.time_ns()
    for i in range(n):
        proc = processes[i % len(processes)]
        is_open = i % 2
        events.append(
            with_facts(
                Event(
                    timestamp_ns=now + i,
                    operation=Operation.FILE if is_open else Operation.PROCESS,
                    syscall="openat" if is_open else "execve",
                    retval=3 if is_open else 0,
                    host_pid=proc.pid,
                    host_tid=proc.pid,
                    uid=1000,
                    gid=1000,
                    comm=proc.comm,
                    cgroup_id=77,
                    resource=f"/srv/data/file-{i % 500}.json" if is_open else "/usr/bin/python3",
                    argv=() if is_open else ("/usr/bin/python3", "-m", "app"),
                    process=proc,
                    container=containers[i % len(containers)],
                ),
                {"fd": "-100", "flags": "O_RDONLY|O_CLOEXEC"} if is_open else {},
            )
        )
    return events


def sdk_attributes(events: list[Event], resource: dict) -> list[tuple[str, dict]]:
    """What our encoder emits for each event, as (event name, attribute dict) for the SDK path."""
    request = ExportLogsServiceRequest.FromString(LogEncoder().encode(events, [], resource))
    out = []
    for record in request.resource_logs[0].scope_logs[0].log_records:
        attributes = {kv.key: _plain(kv.value) for kv in record.attributes}
        out.append((record.event_name, attributes))
    return out


def _plain(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_plain(v) for v in value.array_value.values)
    return getattr(value, kind) if kind else None


# -- the two paths ----------------------------------------------------------------------------
def run_beholder(receiver: Receiver, events: list[Event]) -> float:
    env = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
    }
    sink = build_otlp_sink(HostIdentity("bench-host"), PipelineMetrics(MeterProvider()), env=env)
    already = receiver.count()
    start = time.monotonic()
    for i in range(0, len(events), _BATCH):
        while sink.pending_records > _IN_FLIGHT:  # a kernel cannot outrun the exporter by more than this
            time.sleep(0.0005)
        sink.emit(events[i : i + _BATCH], [])
    done = receiver.wait_for(already + len(events))
    sink.close()
    return len(events) / (done - start)


def run_sdk(receiver: Receiver, events: list[Event], resource: dict) -> float:
    exporter = OTLPLogExporter(endpoint=f"127.0.0.1:{receiver.port}", insecure=True)
    provider = LoggerProvider(resource=Resource.create(resource))
    provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, max_queue_size=len(events) + 1, max_export_batch_size=512)
    )
    logger = provider.get_logger("beholder")
    shapes = sdk_attributes(events[:64], resource)
    already = receiver.count()
    start = time.monotonic()
    for i, event in enumerate(events):
        name, template = shapes[i % len(shapes)]
        attributes = {**template, "process.pid": event.host_pid}
        logger.emit(
            timestamp=event.timestamp_ns,
            severity_number=TELEMETRY_SEVERITY,
            body=f"{event.syscall} {event.resource}",
            attributes=attributes,
            event_name=name,
        )
    done = receiver.wait_for(already + len(events))
    provider.shutdown()
    return len(events) / (done - start)


def _listing(rates: list[float]) -> str:
    return ", ".join(f"{rate:,.0f}" for rate in rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, default=300_000, help="records through the beholder path")
    parser.add_argument("--baseline-records", type=int, default=30_000, help="records through the SDK path")
    parser.add_argument("--runs", type=int, default=3, help="runs per path; the median is reported")
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    resource = resource_attributes(HostIdentity("bench-host"))
    receiver = Receiver()
    sdk_rates, our_rates = [], []
    try:
        run_beholder(receiver, make_events(20_000))  # warm-up: channel, caches
        for _ in range(args.runs):  # interleaved, so load from elsewhere hits both paths alike
            sdk_rates.append(run_sdk(receiver, make_events(args.baseline_records), resource))
            our_rates.append(run_beholder(receiver, make_events(args.records)))
    finally:
        receiver.close()
    sdk_rate, ours = statistics.median(sdk_rates), statistics.median(our_rates)
    print(
        f"baseline  OTel SDK Logger.emit + BatchLogRecordProcessor: {sdk_rate:>10,.0f} records/s "
        f"(median of {_listing(sdk_rates)})"
    )
    print(
        f"beholder  OtlpSink batch path:                           {ours:>10,.0f} records/s "
        f"(median of {_listing(our_rates)})"
    )
    print(f"ratio     beholder / baseline:                           {ours / sdk_rate:>10.1f}x")
    print(f"targets   >= 100,000 records/s: {'met' if ours >= 100_000 else 'MISSED'}; "
          f">= 6x baseline: {'met' if ours / sdk_rate >= 6 else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()

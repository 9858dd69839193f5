"""Records/s: Beholder's batch OTLP log encoder against the OTel SDK `Logger.emit` path.

Both paths are measured in this run on the same synthetic, enriched events (a mix of file
opens, execs and connects from a few hundred processes in a few containers, each with its
own path or pid). The SDK path gets its attribute dicts prepared outside the timed loop, so
the ratios are conservative. Printed: records/s for our encoder (as the request object the
`encode_logs` contract returns, as serialized protobuf, as an OTLP/JSON line) and for the SDK
(emit into an in-memory exporter, with and without the official OTLP protobuf encoding),
and the ratios.

    .venv/bin/python bench/bench_encode.py [--records 50000] [--batch 512] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
from types import ModuleType

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as sdk_encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from beholder.events.interfaces import HostIdentity
from beholder.events.model import ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats.kubearmor_in import with_facts
from beholder.otel import jsonwire, wire
from beholder.otel.encode import LogEncoder
from beholder.otel.resource import resource_attributes
from beholder.otel.semconv_check import check_attributes


def make_events(n: int) -> list[Event]:
    containers = [
        ContainerInfo(
            container_id=f"{i:064x}",
            runtime="containerd",
            name=f"app-{i}",
            image=f"docker.io/library/app{i}:1.{i}@sha256:{i:064x}",
            pod_name=f"app-{i}-7d4b9c-xk2p{i}",
            pod_uid=f"275ecb36-5aa8-4c2a-9c47-{i:012x}",
            namespace="default",
            labels={"app": f"app-{i}", "pod-template-hash": "7d4b9c"},
            workload_kind="Deployment",
            workload_name=f"app-{i}",
        )
        for i in range(8)
    ]
    processes = [
        ProcessInfo(
            pid=10_000 + i,
            ppid=9_000 + i,
            ns_pid=i % 50 + 1,
            ns_ppid=1,
            comm="worker",
            exe="/usr/bin/worker",
            cmdline=f"/usr/bin/worker --id {i}",
            parent_exe="/bin/sh",
            cwd="/srv",
            container=containers[i % len(containers)],
        )
        for i in range(300)
    ]
    events = []
    for i in range(n):
        p = processes[i % len(processes)]
        common = dict(
            timestamp_ns=1_700_000_000_000_000_000 + i,
            retval=3,
            host_pid=p.pid,
            host_tid=p.pid,
            uid=1000,
            gid=1000,
            comm=p.comm,
            cgroup_id=5000 + i % 8,
            process=p,
            container=p.container,
        )
        kind = i % 10
        if kind < 7:
            ev = with_facts(
                Event(
                    operation=Operation.FILE,
                    syscall="openat",
                    resource=f"/srv/data/file-{i % 5000}.json",
                    **common,
                ),
                {"fd": "-100", "flags": "O_RDONLY|O_CLOEXEC"},
            )
        elif kind < 9:
            ev = with_facts(
                Event(
                    operation=Operation.NETWORK,
                    syscall="connect",
                    resource=f"sa_family=AF_INET sin_port=443 sin_addr=10.0.{i % 256}.{i % 200}",
                    **common,
                ),
                {
                    "fd": "5",
                    "sa_family": "AF_INET",
                    "sin_port": "443",
                    "sin_addr": f"10.0.{i % 256}.{i % 200}",
                },
            )
        else:
            ev = with_facts(
                Event(
                    operation=Operation.PROCESS,
                    syscall="execve",
                    resource="/usr/bin/curl",
                    argv=("/usr/bin/curl", "-s", f"https://example.com/{i}"),
                    **common,
                ),
                {"argv": f"-s https://example.com/{i}"},
            )
        events.append(ev)
    return events


def sdk_attributes(request) -> list[dict]:
    """The same attributes as plain dicts, decoded from our own output (outside the timing)."""
    out = []
    for record in request.resource_logs[0].scope_logs[0].log_records:
        attrs = {}
        for kv in record.attributes:
            v = kv.value
            kind = v.WhichOneof("value")
            attrs[kv.key] = (
                tuple(x.string_value for x in v.array_value.values)
                if kind == "array_value"
                else getattr(v, kind)
            )
        out.append((record.time_unix_nano, record.event_name, record.body.string_value, attrs))
    return out


def run_ours(
    events: list[Event], batch: int, resource: dict, fmt: ModuleType = wire, parse: bool = False
) -> float:
    """Records/s of our encoder; `parse` also builds the ExportLogsServiceRequest object."""
    encoder = LogEncoder(fmt)  # fresh caches: the first batch pays for every process/container
    start = time.perf_counter()
    for i in range(0, len(events), batch):
        encoded = encoder.encode(events[i : i + batch], [], resource)
        if parse:
            ExportLogsServiceRequest.FromString(encoded)
    return len(events) / (time.perf_counter() - start)


def run_sdk(prepared: list, batch: int, resource: dict, encode: bool) -> float:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create(resource))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("beholder", "bench")
    start = time.perf_counter()
    for i in range(0, len(prepared), batch):
        for ts, name, body, attrs in prepared[i : i + batch]:
            logger.emit(
                timestamp=ts,
                severity_number=SeverityNumber.INFO,
                body=body,
                attributes=attrs,
                event_name=name,
            )
        if encode:
            sdk_encode_logs(exporter.get_finished_logs())
        exporter.clear()
    elapsed = time.perf_counter() - start
    provider.shutdown()
    return len(prepared) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    events = make_events(args.records)
    resource = resource_attributes(HostIdentity("bench-host", "bench-node", "bench"))
    request = LogEncoder().encode(events, [], resource)
    parsed = ExportLogsServiceRequest.FromString(request)
    problems = check_attributes(parsed)
    if problems:
        raise SystemExit(f"encoder output breaks the semconv: {problems[0]}")
    prepared = sdk_attributes(parsed)
    attrs = sum(len(p[3]) for p in prepared) / len(prepared)
    print(f"{args.records} records, batch {args.batch}, {attrs:.1f} attributes/record, best of {args.rounds}")
    best = lambda run: max(run() for _ in range(args.rounds))  # noqa: E731
    ours = best(lambda: run_ours(events, args.batch, resource, parse=True))
    ours_bytes = best(lambda: run_ours(events, args.batch, resource))
    ours_json = best(lambda: run_ours(events, args.batch, resource, fmt=jsonwire))
    sdk_emit = best(lambda: run_sdk(prepared, args.batch, resource, encode=False))
    sdk_full = best(lambda: run_sdk(prepared, args.batch, resource, encode=True))
    print(f"beholder encoder -> ExportLogsServiceRequest object: {ours:>10,.0f} records/s")
    print(f"beholder encoder -> serialized protobuf (OTLP sink):  {ours_bytes:>10,.0f} records/s")
    print(f"beholder encoder -> OTLP/JSON line (file sink):       {ours_json:>10,.0f} records/s")
    print(f"OTel SDK Logger.emit -> in-memory exporter:           {sdk_emit:>10,.0f} records/s")
    print(f"OTel SDK Logger.emit + OTLP protobuf encoding:        {sdk_full:>10,.0f} records/s")
    print(f"ratio, request object vs SDK emit only:        {ours / sdk_emit:5.1f}x")
    print(f"ratio, request object vs SDK emit + encoding:  {ours / sdk_full:5.1f}x")
    print(f"ratio, serialized vs SDK emit + encoding:      {ours_bytes / sdk_full:5.1f}x")


if __name__ == "__main__":
    main()

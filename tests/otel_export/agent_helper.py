"""A minimal agent for the restart tests: emits numbered exec events through the OTLP sink.

Run as a subprocess with OTEL_* variables pointing at a test receiver. Event `n` has host
pid `n`, so the receiver can check order and completeness from `process.pid`. Prints
`ready` once every emitted batch is delivered or spooled, then waits for SIGTERM, which
closes the sink (flush within its deadline) and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from opentelemetry.sdk.metrics import MeterProvider

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Event, Operation
from beholder.formats.kubearmor_in import with_facts
from beholder.otel.metrics import PipelineMetrics
from beholder.otel.otlp_sink import build_otlp_sink


def exec_event(n: int) -> Event:
    return with_facts(
        Event(
            timestamp_ns=1_700_000_000_000_000_000 + n,
            operation=Operation.PROCESS,
            syscall="execve",
            retval=0,
            host_pid=n,
            host_tid=n,
            uid=0,
            gid=0,
            comm="true",
            cgroup_id=1,
            resource="/bin/true",
            argv=("/bin/true",),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spool", required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--batches", type=int, default=0)
    parser.add_argument("--per-batch", type=int, default=10)
    parser.add_argument("--no-flush", action="store_true", help="announce readiness before flushing")
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sink = build_otlp_sink(HostIdentity("restart-test-host"), PipelineMetrics(MeterProvider()), args.spool)
    for b in range(args.batches):
        first = args.start + b * args.per_batch
        sink.emit([exec_event(n) for n in range(first, first + args.per_batch)], [])
    if not args.no_flush:
        sink.flush()
    print("ready", flush=True)
    # poll: a signal delivered to another thread would not wake a main thread blocked in wait()
    while not stop.wait(0.1):
        pass
    sink.close()
    sys.exit(0)


if __name__ == "__main__":
    main()

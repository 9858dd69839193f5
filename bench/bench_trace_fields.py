"""What the process identity and trace link cost the OTLP log encoder, and what stamping them costs.

Every record now carries `beholder.process.entity_id`, the process's trace/span ids (LogRecord
fields 9 and 10), `process.linux.cgroup`, `process.interactive` and `process.user.id`. This
measures, in one run on the same synthetic enriched events (`bench_encode.make_events`: file
opens, connects and execs of 300 processes in 8 containers), the encoder's records/s with and
without those fields, protobuf and OTLP/JSON, the rounds interleaved (best of N) so a busy
moment of the machine hits both; and the enrich stage's `ProcessSpans.observe` (ids only, no
span encoded: no trace sink) in records/s. Printed: rates and the ratio with/without.

    .venv/bin/python bench/bench_trace_fields.py [--records 50000] [--batch 512] [--rounds 5]
"""

from __future__ import annotations

import argparse
import time

from bench_encode import make_events, run_ours

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Event
from beholder.otel import jsonwire, wire
from beholder.otel.resource import resource_attributes
from beholder.otel.traces import ProcessSpans


def stamped(events: list[Event]) -> list[Event]:
    """The events with their processes' identity, ids, cgroup, tty and effective uid set, as
    the enrich stage leaves them (the ids derived by `ProcessSpans`, as in production)."""
    ProcessSpans(boot_id="5f3a1c9e-8d0b-4a47-9f5e-2b6c1d7e8a90", export=False).observe(events)
    for ev in events:
        p = ev.process
        assert p is not None and p.span_id, "ProcessSpans did not stamp the process"
        p.cgroup = f"0::/kubepods/pod{p.container.pod_uid if p.container else ''}/cri-containerd"
        p.interactive, p.euid = False, 1000
    return events


def observe_rate(events: list[Event], batch: int) -> float:
    spans = ProcessSpans(boot_id="5f3a1c9e-8d0b-4a47-9f5e-2b6c1d7e8a90", export=False)
    start = time.perf_counter()
    for i in range(0, len(events), batch):
        spans.observe(events[i : i + batch])
    return len(events) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    plain = make_events(args.records)
    linked = stamped(make_events(args.records))
    resource = resource_attributes(HostIdentity("bench-host", "bench-node", "bench"))
    best: dict[str, float] = {}
    for _ in range(args.rounds):  # interleaved: each round measures every case once
        for fmt_name, fmt in (("protobuf", wire), ("OTLP/JSON", jsonwire)):
            for name, events in (("without", plain), ("with", linked)):
                rate = run_ours(events, args.batch, resource, fmt=fmt)
                best[f"{fmt_name} {name}"] = max(best.get(f"{fmt_name} {name}", 0.0), rate)
        best["observe"] = max(best.get("observe", 0.0), observe_rate(make_events(args.records), args.batch))
    print(f"{args.records} records, batch {args.batch}, best of {args.rounds} interleaved rounds")
    for fmt_name in ("protobuf", "OTLP/JSON"):
        without, with_ids = best[f"{fmt_name} without"], best[f"{fmt_name} with"]
        print(
            f"encode {fmt_name:<9}: {without:>10,.0f} records/s without the trace fields, "
            f"{with_ids:>10,.0f} with them: cost {without / with_ids:.2f}x"
        )
    print(f"ProcessSpans.observe (ids only): {best['observe']:>10,.0f} records/s")


if __name__ == "__main__":
    main()

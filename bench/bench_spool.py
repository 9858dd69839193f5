"""The OTLP export path under overload: memory held, encode+enqueue rate, spool write/replay.

Every figure is printed next to a baseline measured in the same run:
  memory   live Event objects per record (what the old queue held, up to 262,144 of them)
           vs encoded OTLP bytes and compressed spool bytes per record; a full queue at the
           default byte bound (tracemalloc) vs the old record bound (extrapolated from the
           measured bytes per live record)
  encode   LogEncoder.encode alone vs OtlpSink.emit -> ExportQueue -> encode thread -> a
           transport that answers at once (what the queue and its threads add)
  spool    the previous format (raw payloads; written as it wrote them, replayed through the
           spool's legacy path) vs the compressed format, replayed inflated (gRPC) and as gzip
           bodies (HTTP with gzip)

    .venv/bin/python bench/bench_spool.py [--records 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import struct
import tempfile
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

from bench_export import make_events
from opentelemetry.sdk.metrics import MeterProvider

from beholder.events.interfaces import HostIdentity
from beholder.losses import LossLedger
from beholder.otel.encode import LogEncoder
from beholder.otel.limits import EXPORT_QUEUE_BYTES
from beholder.otel.metrics import PipelineMetrics
from beholder.otel.otlp_sink import OtlpSink
from beholder.otel.queue import ExportQueue
from beholder.otel.resource import resource_attributes
from beholder.otel.spool import Spool
from beholder.otel.transport import SendResult

_BATCH = 1024
_OLD_BOUND_RECORDS = 262_144


class Answering:
    """A collector that takes everything at once (or, with `gate`, hangs until it opens)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate

    def send(self, payload: bytes, timeout_s: float) -> SendResult:
        if self.gate is not None:
            self.gate.wait()
        return SendResult(ok=True)

    def close(self) -> None:
        if self.gate is not None:
            self.gate.set()


def metrics() -> PipelineMetrics:
    return PipelineMetrics(MeterProvider())


def batches(records: int) -> list[list]:
    events = make_events(records)
    return [events[i : i + _BATCH] for i in range(0, records, _BATCH)]


# -- memory -----------------------------------------------------------------------------------
def live_bytes_per_record(records: int) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    events = make_events(records)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del events
    return held / records


def full_queue_bytes(resource: dict) -> tuple[int, int, int]:
    """(traced bytes, the queue's own estimate, records held) once a hung collector fills it."""
    gate = threading.Event()
    queue = ExportQueue(Answering(gate), metrics())
    sink = OtlpSink(queue, resource)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    refused = 0
    while refused < 20:  # fresh objects per batch, dropped by the caller as the pipeline does
        pending = queue.pending_records
        sink.emit(make_events(_BATCH), [])
        refused = refused + 1 if queue.pending_records == pending else 0
        time.sleep(0.001)  # let the encode thread run, as it would between pipeline batches
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    estimate, records = queue.held_bytes, queue.pending_records
    gate.set()
    queue.close(5)
    return held, estimate, records


# -- encode + enqueue -------------------------------------------------------------------------
def encode_only(chunks: list[list], resource: dict) -> float:
    encoder = LogEncoder()
    start = time.perf_counter()
    for chunk in chunks:
        encoder.encode(chunk, [], resource)
    return sum(map(len, chunks)) / (time.perf_counter() - start)


def through_queue(chunks: list[list], resource: dict) -> tuple[float, float]:
    """(records/s end to end, µs the caller spends per `emit`)."""
    losses = LossLedger()
    queue = ExportQueue(Answering(), metrics(), losses=losses)
    sink = OtlpSink(queue, resource)
    emitting = 0.0
    start = time.perf_counter()
    for chunk in chunks:
        while queue.pending_records > 2 * _BATCH:  # a producer the exporter keeps up with: no drops
            time.sleep(0.0005)
        t = time.perf_counter()
        sink.emit(chunk, [])
        emitting += time.perf_counter() - t
    assert queue.flush(60)
    elapsed = time.perf_counter() - start
    queue.close(5)
    assert not losses.totals(), losses.totals()
    return sum(map(len, chunks)) / elapsed, emitting / len(chunks) * 1e6


# -- spool --------------------------------------------------------------------------------------
def write_raw(directory: Path, payloads: list[bytes]) -> float:
    """The previous format: one framed, uncompressed record per write, no file header."""
    directory.mkdir(mode=0o700)
    fd = os.open(directory / f"{1:016d}.seg", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    start = time.perf_counter()
    for payload in payloads:
        head = struct.pack("<II", len(payload), _BATCH)
        os.write(
            fd, struct.pack("<III", len(payload), _BATCH, zlib.crc32(payload, zlib.crc32(head))) + payload
        )
    elapsed = time.perf_counter() - start
    os.close(fd)
    return elapsed


def write_compressed(directory: Path, payloads: list[bytes]) -> float:
    spool = Spool(directory, max_bytes=1 << 40)
    start = time.perf_counter()
    for payload in payloads:
        spool.append(payload, _BATCH)
    elapsed = time.perf_counter() - start
    spool.close()
    return elapsed


def replay(directory: Path, gzipped: bool = False) -> tuple[float, int]:
    """(seconds to peek and acknowledge every record, bytes it occupied)."""
    spool = Spool(directory, max_bytes=1 << 40)
    size = spool.size_bytes
    start = time.perf_counter()
    while spool.peek(gzipped=gzipped) is not None:
        spool.pop()
    elapsed = time.perf_counter() - start
    spool.close()
    return elapsed, size


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000, help="records per measurement")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is reported")
    args = parser.parse_args()
    logging.getLogger("beholder.otel.spool").setLevel(logging.ERROR)  # the legacy-replay notice, every run
    resource = resource_attributes(HostIdentity("bench-host"))
    chunks = batches(args.records)
    records = sum(map(len, chunks))
    encoder = LogEncoder()
    payloads = [encoder.encode(chunk, [], resource) for chunk in chunks]

    live = live_bytes_per_record(50_000)
    encoded = sum(map(len, payloads)) / records
    held, estimate, held_records = full_queue_bytes(resource)
    old_bound = live * _OLD_BOUND_RECORDS
    row("memory", "live Event objects", live, "B/record")
    row("", "encoded OTLP request", encoded, "B/record", f"{live / encoded:.1f}x smaller")
    row("", "old bound: 262,144 live records", old_bound / 2**20, "MiB", "extrapolated")
    versus = f"{old_bound / held:.0f}x less; {estimate / 2**20:.1f} MiB estimated, {held_records:,} records"
    row("", f"full queue at the {EXPORT_QUEUE_BYTES >> 20} MiB bound", held / 2**20, "MiB traced", versus)

    encode_only(chunks, resource), through_queue(chunks, resource)  # warm-up
    encode_rate = median_of(args.runs, lambda: encode_only(chunks, resource))
    queued = [through_queue(chunks, resource) for _ in range(args.runs)]
    queue_rate = statistics.median(rate for rate, _ in queued)
    row("encode", "LogEncoder.encode alone", encode_rate, "records/s")
    row("", "emit -> queue -> encode thread", queue_rate, "records/s", f"{queue_rate / encode_rate:.2f}x")
    row(
        "",
        "emit, the caller's share",
        statistics.median(us for _, us in queued),
        "µs/batch",
        f"{_BATCH} records",
    )

    with tempfile.TemporaryDirectory(prefix="bench-spool-") as tmp:
        times: dict[str, list[float]] = {"raw_w": [], "gz_w": [], "raw_r": [], "gz_r": [], "pass_r": []}
        for run in range(args.runs):
            raw_dir, gz_dir, copy = Path(tmp, f"raw{run}"), Path(tmp, f"gz{run}"), Path(tmp, f"copy{run}")
            times["raw_w"].append(write_raw(raw_dir, payloads))
            times["gz_w"].append(write_compressed(gz_dir, payloads))
            shutil.copytree(gz_dir, copy)  # the same records again, replayed as gzip bodies
            seconds, raw_size = replay(raw_dir)
            times["raw_r"].append(seconds)
            seconds, gz_size = replay(gz_dir)
            times["gz_r"].append(seconds)
            times["pass_r"].append(replay(copy, gzipped=True)[0])
    rate = {name: records / statistics.median(t) for name, t in times.items()}
    row("spool", "previous format, write", rate["raw_w"], "records/s")
    row("", "compressed, write", rate["gz_w"], "records/s", f"{rate['gz_w'] / rate['raw_w']:.2f}x")
    row("", "previous format, replay", rate["raw_r"], "records/s")
    row("", "compressed, replay inflated", rate["gz_r"], "records/s", f"{rate['gz_r'] / rate['raw_r']:.2f}x")
    row(
        "",
        "compressed, replay as gzip",
        rate["pass_r"],
        "records/s",
        f"{rate['pass_r'] / rate['raw_r']:.2f}x",
    )
    row("", "previous format, on disk", raw_size / records, "B/record")
    holds = (256 << 20) * records // gz_size
    versus = f"{raw_size / gz_size:.1f}x more records per byte; 256 MiB holds {holds:,}"
    row("", "compressed, on disk", gz_size / records, "B/record", versus)


def row(section: str, label: str, value: float, unit: str, versus: str = "baseline") -> None:
    print(f"{section:<8}{label:<36}{value:>12,.1f} {unit:<14}({versus})")


if __name__ == "__main__":
    main()

"""Shared pieces of the reliability suite and `bench/soak.py`: workload, RSS sampler, OTLP books.

The workload runs from the test process and its children (the agent excludes only its own
tree): C loops for exec and open bursts, plus Python threads for loopback TCP connects and
DNS questions, all at a target rate.
"""

from __future__ import annotations

import socket
import statistics
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from beholder.otel import semconv as sc

ROOT = Path(__file__).resolve().parents[2]
LOOPS_SOURCE = ROOT / "bench" / "workloads" / "loops.c"
RSS_LIMIT_MIB = 100


def build_loops(tmp: Path) -> Path:
    binary = tmp / "loops"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(LOOPS_SOURCE)], check=True)
    return binary


def dns_question(name: str) -> bytes:
    header = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    return header + labels + b"\0" + struct.pack("!HH", 1, 1)


@dataclass
class MixedWorkload:
    """Exec, open, connect and DNS at roughly `rate` kernel events per second until stopped."""

    loops: Path
    rate: int
    execs_per_tick: int = 5
    tick_s: float = 0.1
    stop_event: threading.Event = field(default_factory=threading.Event)
    ticks: int = 0
    connects: int = 0
    questions: int = 0

    def run_for(self, seconds: float) -> None:
        self.start()
        time.sleep(seconds)
        self.stop()

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads = [
            threading.Thread(target=self._files_and_execs),
            threading.Thread(target=self._network),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join()
        self._listener.close()

    def _files_and_execs(self) -> None:
        # Each exec of `loops` is itself ~20 events (exec, mmaps of libc, exit); opens make up the rest.
        opens = max(int(self.rate * self.tick_s * 0.8) - self.execs_per_tick * 25, 1)
        while not self.stop_event.is_set():
            start = time.monotonic()
            subprocess.run([str(self.loops), "open-unique", str(opens)], check=True)
            subprocess.run([str(self.loops), "exec", str(self.execs_per_tick)], check=True)
            self.ticks += 1
            self.stop_event.wait(max(self.tick_s - (time.monotonic() - start), 0))

    def _network(self) -> None:
        port = self._listener.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        per_tick = max(int(self.rate * self.tick_s * 0.05), 1)
        while not self.stop_event.is_set():
            start = time.monotonic()
            for i in range(per_tick):
                with socket.create_connection(("127.0.0.1", port)):
                    self.connects += 1
                self._listener.accept()[0].close()
                udp.sendto(dns_question(f"q{i}.reliability.test"), ("127.0.0.1", 53))
                self.questions += 1
            self.stop_event.wait(max(self.tick_s - (time.monotonic() - start), 0))
        udp.close()


class RssSampler:
    """VmRSS of a process every `interval_s`, from /proc, on a thread; every
    `breakdown_every`-th sample also reads smaps (`memory_breakdown`), keeping the largest
    breakdown seen and the last one."""

    def __init__(self, pid: int, interval_s: float = 0.5, breakdown_every: int = 10) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.breakdown_every = breakdown_every
        self.samples_mib: list[float] = []
        self.largest_breakdown: dict[str, float] = {}
        self.last_breakdown: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join()
        return self.samples_mib

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    self.samples_mib.append(int(line.split()[1]) / 1024)
            if len(self.samples_mib) % self.breakdown_every == 1:
                self._breakdown()

    def _breakdown(self) -> None:
        breakdown = memory_breakdown(self.pid)
        if breakdown:
            self.last_breakdown = breakdown
            if breakdown["total"] >= self.largest_breakdown.get("total", 0.0):
                self.largest_breakdown = breakdown


# Where a process's resident pages are, by mapping (first match wins); see `memory_breakdown`.
COMPONENTS = (
    ("ring buffer and BPF maps", ("anon_inode:bpf",)),
    ("libbcc/LLVM", ("libbcc.so", "libLLVM", "libclang")),
    ("grpcio", ("/grpc/",)),
    ("Python heap (anonymous)", ("", "[heap]")),
)
OTHER_COMPONENT = "interpreter and other libraries"


def component(mapping: str) -> str:
    """The `COMPONENTS` name of a mapping's path ("" for anonymous memory)."""
    for name, patterns in COMPONENTS:
        if any(
            mapping == pattern if pattern in ("", "[heap]") else pattern in mapping for pattern in patterns
        ):
            return name
    return OTHER_COMPONENT


def memory_breakdown(pid: int) -> dict[str, float]:
    """Resident MiB per component from /proc/PID/smaps (thread stacks count as heap: they
    are anonymous mappings too), the total last; {} once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return {}
    kib: dict[str, int] = dict.fromkeys([name for name, _ in COMPONENTS] + [OTHER_COMPONENT], 0)
    mapping = ""
    for line in text.splitlines():
        head, _, rest = line.partition(" ")
        if "-" in head and not head.endswith(":"):  # a mapping's header line: address range first
            fields = rest.split(None, 4)
            mapping = fields[4].strip() if len(fields) > 4 else ""
        elif head == "Rss:":
            kib[component(mapping)] += int(rest.split()[0])
    breakdown = {name: round(value / 1024, 1) for name, value in kib.items()}
    breakdown["total"] = round(sum(kib.values()) / 1024, 1)
    return breakdown


@dataclass(frozen=True)
class RssTrend:
    first_third_mib: float
    last_third_mib: float
    max_mib: float

    def growing(self, tolerance: float = 0.10, slack_mib: float = 4.0) -> bool:
        """Robust to spikes: medians of the first and last thirds, with a tolerance."""
        return self.last_third_mib > self.first_third_mib * (1 + tolerance) + slack_mib


def rss_trend(samples: list[float]) -> RssTrend:
    third = max(len(samples) // 3, 1)
    return RssTrend(
        statistics.median(samples[:third]), statistics.median(samples[-third:]), max(samples, default=0.0)
    )


def lost_by_stage(requests: list[ExportMetricsServiceRequest]) -> dict[str, int]:
    """The agent's `beholder.event.lost` counters as last exported (cumulative sums), for the
    stages that lost something (every series is exported from 0)."""
    lost: dict[str, int] = {}
    for request in requests:
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name != sc.METRIC_EVENT_LOST:
                        continue
                    for point in metric.sum.data_points:
                        stage = next(
                            a.value.string_value for a in point.attributes if a.key == sc.BEHOLDER_STAGE
                        )
                        lost[stage] = int(point.as_int)
    return {stage: n for stage, n in lost.items() if n}


def otlp_env(url: str) -> dict[str, str]:
    """Logs and metrics to a loopback gRPC test receiver (final metrics pushed at shutdown)."""
    return {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
    }

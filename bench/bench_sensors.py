"""Sensor benchmarks: ingest rate and workload overhead, side by side with bcc's own tools.

Run as root: `make bench` (or `.venv/bin/python bench/bench_sensors.py`). Every figure is a
ratio against a baseline measured in this same run, because the machines are noisy:

* ingest: distinct events the agent decoded and enriched per second of its own CPU time
  (one Python thread does the work), and the same for `opensnoop-bpfcc`, with the kernel's
  loss counters so "zero unaccounted loss" is checked, not assumed;
* overhead: wall time of an open/close loop and an exec loop with nothing attached, with
  Beholder (default config), and with opensnoop/execsnoop, as slowdown ratios.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from beholder.events.abi import HEADER

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLK = os.sysconf("SC_CLK_TCK")


def build_workload(tmp: Path) -> Path:
    binary = tmp / "loops"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(HERE / "workloads" / "loops.c")], check=True)
    return binary


def uptime() -> str:
    """The machine's load, printed beside figures measured on a shared machine."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


class Tracer:
    """A tracer process (ours or bcc's) started, made ready, measured and stopped."""

    def __init__(self, argv: list[str], ready: Path | None = None, settle_s: float = 0.0) -> None:
        self.argv, self.ready, self.settle_s = argv, ready, settle_s
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Tracer:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while self.ready is not None and not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.argv[0]} did not start: {self.proc.stderr.read().decode()[-500:]}")
            time.sleep(0.1)
        time.sleep(self.settle_s)
        return self

    def alive(self) -> bool:
        assert self.proc is not None
        return self.proc.poll() is None

    def failure(self) -> str:
        """The last line the tracer printed before it died (e.g. kprobe attach refused)."""
        assert self.proc is not None and self.proc.stderr is not None
        lines = [
            line for line in self.proc.stderr.read().decode(errors="replace").splitlines() if line.strip()
        ]
        return lines[-1] if lines else f"exit code {self.proc.returncode}"

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def beholder(tmp: Path, name: str, extra: list[str] | None = None) -> tuple[Tracer, Path]:
    stats = tmp / f"{name}.stats.json"
    ready = tmp / f"{name}.ready"
    argv = [
        sys.executable,
        "-m",
        "beholder.cli",
        "run",
        "--output",
        "json:/dev/null",
        "--stats-file",
        str(stats),
    ]
    return Tracer([*argv, "--ready-file", str(ready), *(extra or [])], ready=ready, settle_s=1.0), stats


def timed(cmd: list[str], repeats: int = 3) -> float:
    """Median wall time of a workload."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def wait_idle(tracer: Tracer, quiet_s: float = 1.0, timeout: float = 120) -> float:
    """Wait until the tracer stops burning CPU (it has drained its backlog); return its CPU time."""
    deadline = time.monotonic() + timeout
    last = tracer.cpu()
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = tracer.cpu()
        if now - last < 0.05 * quiet_s:
            return now
        last = now
    return tracer.cpu()


def decode_rate(loops: Path, n: int) -> None:
    """Real kernel records, captured raw, then decoded and enriched on one core in this process."""
    from beholder.enrich.enricher import Enricher
    from beholder.sensors.program import Program, ProgramOptions
    from beholder.sensors.reader import RingReader

    print(f"\n== decode: {n:,} distinct failing opens captured from the kernel, decoded on one core")
    program = Program(ProgramOptions(sensors=("file",), syscall_counts=False, ringbuf_pages=65536))
    reader = RingReader(program)
    worker = subprocess.Popen([str(loops), "open-unique", str(n)])
    raw: list[bytes] = []
    while True:
        running = worker.poll() is None
        reader.ring.poll(50)
        fresh = reader.take()
        raw += fresh
        if not running and not fresh:
            break
    kernel = program.stats()
    program.close()
    start = time.perf_counter()
    unpacked = [HEADER.unpack_from(r) for r in raw]
    unpack_s = time.perf_counter() - start
    start = time.perf_counter()
    events = reader.decode_batch(raw)
    decode_s = time.perf_counter() - start
    enricher = Enricher()
    enricher.start()
    start = time.perf_counter()
    enricher.enrich(events)
    enrich_s = time.perf_counter() - start
    balanced = kernel["seen"] == kernel["emitted"] + kernel["suppressed"] + kernel["lost"]
    print(
        f"   kernel: seen {kernel['seen']:,} = sent {kernel['emitted']:,} + folded {kernel['suppressed']:,}"
        f" + lost {kernel['lost']:,} ({'balanced' if balanced else 'UNBALANCED'}); received {len(raw):,}"
    )
    print(f"   baseline struct.unpack only: {len(unpacked) / unpack_s:,.0f} records/s")
    print(
        f"   decode into Event batches:   {len(events) / decode_s:,.0f} events/s"
        f"  ({(len(events) / decode_s) / (len(unpacked) / unpack_s):.2f}x of bare unpack)"
    )
    print(f"   decode + enrich:             {len(events) / (decode_s + enrich_s):,.0f} events/s")


def ingest(loops: Path, tmp: Path, n: int) -> None:
    print(f"\n== agent end to end: {n:,} distinct failing opens through `beholder run` (json to /dev/null)")
    tracer, stats_path = beholder(tmp, "ingest", ["--sensors", "file"])
    with tracer:
        before = tracer.cpu()
        start = time.perf_counter()
        subprocess.run([str(loops), "open-unique", str(n)], check=True)
        produce = time.perf_counter() - start
        cpu = wait_idle(tracer) - before
    stats = json.loads(stats_path.read_text())
    kernel, agent = stats["kernel"], stats["agent"]
    rate = agent["decoded"] / cpu if cpu else float("nan")
    balanced = kernel["seen"] == kernel["emitted"] + kernel["suppressed"] + kernel["lost"]
    print(f"   workload produced them in {produce:.2f}s ({n / produce:,.0f} opens/s)")
    print(f"   beholder: {agent['decoded']:,} events in {cpu:.2f} CPU-s = {rate:,.0f} events per CPU-second")
    print(
        f"   kernel: seen {kernel['seen']:,} = sent {kernel['emitted']:,} + folded {kernel['suppressed']:,}"
        f" + lost {kernel['lost']:,} -> {'balanced' if balanced else 'UNBALANCED'}; queue drops "
        f"{agent['queue_dropped_records']:,}"
    )
    snoop = shutil.which("opensnoop-bpfcc")
    if not snoop:
        print("   opensnoop-bpfcc: not installed (bpfcc-tools)")
        return
    with Tracer([snoop], settle_s=8.0) as bcc:
        if not bcc.alive():
            print(f"   opensnoop-bpfcc: cannot run here ({bcc.failure()})")
            return
        before = bcc.cpu()
        subprocess.run([str(loops), "open-unique", str(n)], check=True)
        bcc_cpu = wait_idle(bcc) - before
    bcc_rate = n / bcc_cpu if bcc_cpu else float("nan")
    print(f"   opensnoop-bpfcc: {n:,} opens in {bcc_cpu:.2f} CPU-s = {bcc_rate:,.0f} events per CPU-second")
    print(f"   ratio beholder/opensnoop events per CPU-second: {rate / bcc_rate:.2f}x")


def overhead(loops: Path, tmp: Path, opens: int, execs: int) -> None:
    print(f"\n== overhead: open/close loop ({opens:,}) and fork+exec loop ({execs:,}), median of 3")
    workloads = {
        "open/close": [str(loops), "open-same", str(opens)],
        "exec": [str(loops), "exec", str(execs)],
    }
    base = {name: timed(cmd) for name, cmd in workloads.items()}
    tracer, _ = beholder(tmp, "overhead")
    with tracer:
        ours = {name: timed(cmd) for name, cmd in workloads.items()}
    bcc_tools = {"open/close": shutil.which("opensnoop-bpfcc"), "exec": shutil.which("execsnoop-bpfcc")}
    theirs: dict[str, float] = {}
    refused: dict[str, str] = {}
    for name, tool in bcc_tools.items():
        if tool:
            with Tracer([tool], settle_s=8.0) as bcc:
                if bcc.alive():
                    theirs[name] = timed(workloads[name])
                else:
                    refused[name] = f"{Path(tool).name}: {bcc.failure()}"
    print(f"   {'workload':<12} {'baseline s':>10} {'beholder':>10} {'bcc tool':>10}")
    for name in workloads:
        bcc = f"{theirs[name] / base[name]:.3f}x" if name in theirs else "n/a"
        print(f"   {name:<12} {base[name]:>10.3f} {ours[name] / base[name]:>9.3f}x {bcc:>10}")
    print("   (ratios are slowdown vs baseline: 1.030x = 3% slower)")
    for why in refused.values():
        print(f"   bcc tool could not run here: {why}")


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench_sensors: run as root (BPF)")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        loops = build_workload(tmp)
        decode_rate(loops, int(os.environ.get("BENCH_DECODE_EVENTS", "300000")))
        ingest(loops, tmp, int(os.environ.get("BENCH_INGEST_EVENTS", "300000")))
        overhead(
            loops,
            tmp,
            int(os.environ.get("BENCH_OPENS", "300000")),
            int(os.environ.get("BENCH_EXECS", "1000")),
        )


if __name__ == "__main__":
    main()

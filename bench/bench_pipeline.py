"""End-to-end pipeline benchmark: events per CPU-second of `beholder run`, and where the time goes.

Run as root: `make bench` (or `.venv/bin/python bench/bench_pipeline.py`). The agent runs
with every default sensor, a host policy and the reference Kubescape profile, as its own
process; the workload is distinct failing opens (nothing for the kernel to fold) at a fixed
rate, in a cgroup of its own that the agent is told to trace (`--cgroup-id`): other work
on a shared machine is neither counted nor paid for. Four runs:

1. OTLP/protobuf over gRPC to a loopback receiver in this (another) process: the target
   path. Events per CPU-second of the agent, and the books: kernel seen = sent + folded +
   lost, every record decoded, every event and alert exported or counted lost by stage; and
   the agent's CPU by thread (ring-buffer read; decode, enrich and evaluate; OTLP encode;
   export), from /proc, each thread named by `py-spy dump`.
2. Run 1 with the hot path's pure-Python fallback (`BEHOLDER_PURE_PYTHON=1`): the native
   build's gain end to end, as a ratio.
3. The embedded default output (`make run`: console + KubeArmor JSON lines file, rotated into
   compressed generations), and the previous default (console + OTLP/JSON file): the same
   figure, each one's CPU cost per event as a ratio of run 1's, and bytes per record.
4. Run 1 again under `py-spy` (sampling from outside, the thread holding the GIL): the
   share of samples per pipeline stage, by the innermost Beholder module on each stack,
   and the hottest functions.

With `BENCH_BASELINE_REF=<git ref>` (e.g. the commit before a change), run 1 is also
measured on that commit, exported with `git archive` into a temporary directory and built
the way `make native` builds (mypyc), in the same invocation: the before/after ratio.

The machine is shared and noisy: `uptime` is printed with the figures, and every ratio is
against a run measured in the same invocation.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bench_sensors import Tracer, build_workload, uptime, wait_idle  # noqa: E402
from otel_export.receiver import Collector, GrpcReceiver  # noqa: E402
from reliability.harness import lost_by_stage, otlp_env  # noqa: E402
from reliability.scenarios import Books  # noqa: E402

from beholder.formats.kubearmor_in import ReadReport  # noqa: E402
from beholder.native import PURE_ENV  # noqa: E402
from beholder.otel.spool import Spool  # noqa: E402
from beholder.query.offline import open_recordings, read_batches  # noqa: E402

NODE = "bench-node"
PROFILE = (
    ROOT.parent / "shared" / "reference" / "kubescape" / "profiles" / "log4j-sbobs__ap-chain-backend.yaml"
)
POLICY = f"""apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: bench-audit
spec:
  nodeSelector:
    matchLabels:
      kubernetes.io/hostname: {NODE}
  severity: 3
  process:
    matchPaths:
    - path: /usr/bin/true
  file:
    matchDirectories:
    - dir: /etc/ssh/
  action: Audit
"""
# Innermost Beholder frame on a sampled stack -> pipeline stage. First match wins. The
# native (mypyc) modules are no Python frames: their time shows in the Python caller, so
# those callers come first.
STAGES = (
    ("process (beholder/agent.py", "decode, enrich, evaluate (native, from Agent.process)"),
    ("decode_batch (beholder/sensors/reader.py", "decode (native, from its caller)"),
    ("_LogBatch.", "OTLP encode (native, from its caller)"),
    ("(beholder/otel/file_sink.py", "OTLP/JSON file sink (native encode inside)"),
    ("sensors/reader.py", "ring buffer read"),
    ("sensors/bpfmaps.py", "ring buffer read"),
    ("sensors/decode", "decode"),
    ("events/", "decode"),
    ("enrich/", "enrich"),
    ("policy/", "evaluate (policy)"),
    ("bob/", "evaluate (profile)"),
    ("redact", "redact"),
    ("otel/jsonwire.py", "OTLP/JSON text"),
    ("otel/encode", "OTLP encode"),
    ("otel/wire.py", "OTLP encode"),
    ("otel/queue.py", "export queue"),
    ("otel/grpc_transport.py", "export (gRPC)"),
    ("otel/otlp_sink.py", "export (gRPC)"),
    ("otel/spool.py", "spool"),
    ("otel/metrics.py", "metrics"),
    ("formats/console.py", "console"),
    ("formats/", "other formats"),
    ("agent.py", "agent loop"),
)


@dataclass
class Workload:
    """`loops open-unique N RATE`, run inside the bench's own cgroup."""

    loops: Path
    n: int
    rate: int
    cgroup_id: int
    procs: Path  # the cgroup's cgroup.procs

    def run(self) -> None:
        script = 'echo $$ > "$1" && exec "$2" open-unique "$3" "$4"'
        argv = [str(self.procs), str(self.loops), str(self.n), str(self.rate)]
        subprocess.run(["/bin/sh", "-c", script, "sh", *argv], check=True)


# The agent's threads by name -> what each one does (a name can cover several threads: the logs
# and traces export queues each have an encode and an export thread).
THREADS = {
    "beholder-ringbuf": "ring-buffer read",
    "MainThread": "decode, enrich, evaluate, sinks' emit",
    "beholder-otlp-encode": "OTLP encode",
    "beholder-otlp-export": "OTLP export (gRPC calls)",
    "beholder-file-sink": "OTLP/JSON file sink",
    "beholder-compress": "rotated files' compression",
}


@dataclass
class Run:
    books: Books
    cpu_s: float
    produce_s: float
    file_bytes: int = 0  # the recording's text (compressed generations counted unpacked)
    threads: dict[str, float] = field(default_factory=dict)  # THREADS value (or "other") -> CPU-s

    @property
    def rate(self) -> float:
        """Decoded events per second of the agent's CPU time."""
        return self.books.agent["decoded"] / self.cpu_s if self.cpu_s else float("nan")

    @property
    def exported_rate(self) -> float:
        """Records that reached the output per second of the agent's CPU time."""
        return self.books.exported / self.cpu_s if self.cpu_s else float("nan")


def agent_args(workdir: Path) -> list[str]:
    policy = workdir / "bench-policy.yaml"
    policy.write_text(POLICY)
    return ["--policy", str(policy), "--profile", str(PROFILE), "--host-name", NODE, "--node-name", NODE,
            "--spool-dir", str(workdir / "spool")]  # fmt: skip


@contextmanager
def sampled(pid: int, out: Path) -> Iterator[None]:
    """py-spy samples `pid` from outside while the block runs: the thread holding the GIL
    (waiting threads are not work; C code that releases the GIL is missed). It stops the
    process for each sample: this run's rate is not a figure, only its shares are."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    proc = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--format", "raw", "--threads", "--rate", "250",
         "--gil", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def run_once(
    workdir: Path,
    workload: Workload,
    outputs: list[str],
    profile_to: Path | None = None,
    pure: bool = False,
    code: Path | None = None,
) -> Run:
    """One agent, `n` distinct opens at `rate` per second, the books once it has drained and
    stopped. `code`: the `exporter` directory of another checkout to run instead of this one."""
    workdir.mkdir()
    stats_path, ready = workdir / "stats.json", workdir / "ready"
    argv = [sys.executable, "-m", "beholder.cli", "run", "--stats-file", str(stats_path), "--ready-file",
            str(ready), "--query-socket", "", "--cgroup-id", str(workload.cgroup_id),
            *agent_args(workdir)]  # fmt: skip
    collector = Collector(keep=lambda _record: False)  # count, keep nothing
    with GrpcReceiver(collector) as receiver:
        env = otlp_env(receiver.url) if "otlp" in outputs else {}
        if pure:  # the hot path's pure-Python fallback instead of its native build
            env[PURE_ENV] = "1"
        if code is not None:  # ahead of the editable install's path
            env["PYTHONPATH"] = str(code)
        output_args = [arg for output in outputs for arg in ("--output", output)]
        with mock.patch.dict(os.environ, env), Tracer([*argv, *output_args], ready, settle_s=1.0) as tracer:
            assert tracer.proc is not None
            names = thread_names(tracer.proc.pid)
            threads_before = thread_cpu(tracer.proc.pid)
            before = tracer.cpu()
            with sampled(tracer.proc.pid, profile_to) if profile_to else _nothing():
                start = time.perf_counter()
                workload.run()
                produce_s = time.perf_counter() - start
                cpu = wait_idle(tracer) - before
            threads = by_role(names, threads_before, thread_cpu(tracer.proc.pid))
        stats = json.loads(stats_path.read_text())
        spooled = Spool(workdir / "spool", max_bytes=1 << 40).pending_records
        recording = next((o.partition(":")[2] for o in outputs if o.endswith("jsonl")), "")
        if not recording:
            books = Books(stats, collector.total, lost_by_stage(collector.metrics), spooled)
            return Run(books, cpu, produce_s, threads=threads)
        records, file_bytes, gaps = _file_records(Path(recording))
        # The agent's loss reports are gap notices in the file: count them as written when
        # the gaps the file names add up to every loss the agent counted before the file.
        reported = {stage: n for stage, n in stats["lost"].items() if stage != "output"}
        written = stats["agent"]["loss_reports"] if gaps == reported else 0
        books = Books(stats, records + written, stats["lost"], spooled, loss_records=gaps)
    return Run(books, cpu, produce_s, file_bytes, threads)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each live thread of `pid`, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def thread_names(pid: int) -> dict[int, str]:
    """Thread id -> Python thread name (py-spy dump; Python does not name OS threads)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    try:
        dump = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found = (re.match(r'Thread (\d+) \(\w+\): "(.+)"', line) for line in dump.stdout.splitlines())
    return {int(m[1]): m[2] for m in found if m}


def by_role(names: dict[int, str], before: dict[int, float], after: dict[int, float]) -> dict[str, float]:
    """CPU seconds spent between two `thread_cpu` readings, summed per `THREADS` role."""
    out: Counter[str] = Counter()
    for tid, cpu in after.items():
        out[THREADS.get(names.get(tid, ""), "other (gRPC core, metrics, watchers)")] += cpu - before.get(
            tid, 0.0
        )
    return dict(out)


def baseline_code(ref: str, into: Path) -> Path:
    """`ref` of this repository exported into `into` with its native modules built: the
    `exporter` directory to run it from."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True)
    into.mkdir()
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    build = [sys.executable, "setup.py", "-q", "build_ext", "--inplace", "--force"]
    subprocess.run(build, cwd=into, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return into / "exporter"


@contextmanager
def own_cgroup() -> Iterator[tuple[int, Path]]:
    """A cgroup v2 for the workload: the agent traces only it (`--cgroup-id`), so the other
    work on a shared machine is neither counted nor paid for."""
    root = next(
        r for r in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")) if (r / "cgroup.procs").exists()
    )
    path = root / f"beholder-bench-{os.getpid()}"
    path.mkdir()
    try:
        yield path.stat().st_ino, path / "cgroup.procs"
    finally:
        path.rmdir()


def _file_records(path: Path) -> tuple[int, int, dict[str, int]]:
    """(records, bytes of text, records lost by stage as the gap notices say) in a recording
    and its rotated generations, as `beholder logs --file` reads them."""
    report = ReadReport()
    recordings = open_recordings([path])
    size = sum(r.size for r in recordings)
    for _batch in read_batches(recordings, report):
        pass
    return report.records, size, report.agent_losses


def show(name: str, run: Run, n: int) -> None:  # n: opens the workload made
    k, a = run.books.kernel, run.books.agent
    print(f"   {name}: {a['decoded']:,} events in {run.cpu_s:.2f} agent CPU-s = {run.rate:,.0f} events/CPU-s")
    # An agent that sheds at a queue also skips the work after it: what reached the output counts too.
    print(f"      exported per agent CPU-second: {run.exported_rate:,.0f}")
    print(
        f"      workload: {n:,} opens in {run.produce_s:.2f}s; kernel seen {k['seen']:,}"
        f" = sent {k['emitted']:,} + folded {k['suppressed']:,} + lost {k['lost']:,};"
        f" hand-over dropped {a['queue_dropped_records']:,};"
        f" alerts {a['alerts']:,}; exported {run.books.exported:,}; lost by stage {run.books.lost or '{}'};"
        f" books {'balanced' if run.books.balanced() else 'UNBALANCED'}"
    )
    if run.file_bytes:
        print(f"      recording: {run.file_bytes / max(run.books.exported, 1):,.0f} bytes per record")
    if run.threads:
        per = 1e9 / max(a["decoded"], 1)
        shares = ", ".join(f"{role} {cpu:.2f}s ({cpu * per:,.0f} ns/event)" for role, cpu in
                           sorted(run.threads.items(), key=lambda item: -item[1]))  # fmt: skip
        print(f"      agent CPU by thread: {shares}")


def breakdown(raw: Path) -> list[tuple[str, float]]:
    """Share of samples per stage (py-spy raw lines: `frame;frame;... count`)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        counts[_stage(stack.split(";"))] += int(count)
    total = sum(counts.values()) or 1
    return [(stage, n / total) for stage, n in counts.most_common()]


def hottest(raw: Path, top: int = 15) -> list[tuple[str, float]]:
    """Share of samples per leaf function (self time, all its lines), the hottest `top`."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            leaf = stack.rsplit(";", 1)[-1]
            counts[leaf.rsplit(":", 1)[0] + ")"] += int(count)
    total = sum(counts.values()) or 1
    return [(frame, n / total) for frame, n in counts.most_common(top)]


def _stage(frames: list[str]) -> str:
    if "__create_fn__" in frames[-1]:
        return "dataclass __init__ (Event and fact objects)"
    for frame in reversed(frames):
        if "beholder/" not in frame:
            continue
        for marker, stage in STAGES:
            if marker in frame:
                return stage
        return "other beholder"
    return "outside beholder (interpreter, grpc, threads)"


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench_pipeline: run as root (BPF)")
    n = int(os.environ.get("BENCH_PIPELINE_EVENTS", "200000"))
    rate = int(os.environ.get("BENCH_PIPELINE_RATE", "40000"))
    print(f"== pipeline: {n:,} distinct failing opens at {rate:,}/s; default sensors, policy, profile")
    print(f"   load before: {uptime()}")
    with tempfile.TemporaryDirectory() as tmpdir, own_cgroup() as (cgroup_id, procs):
        tmp = Path(tmpdir)
        load = Workload(build_workload(tmp), n, rate, cgroup_id, procs)
        otlp = run_once(tmp / "otlp", load, ["otlp"])
        show("OTLP/gRPC to a receiver in another process", otlp, n)
        ref = os.environ.get("BENCH_BASELINE_REF")
        if ref:
            code = baseline_code(ref, tmp / "baseline-code")
            before = run_once(tmp / "baseline", load, ["otlp"], code=code)
            show(f"the same at {ref} (baseline, built the same way)", before, n)
            gain = otlp.exported_rate / before.exported_rate
            events = otlp.rate / before.rate
            print(f"   this tree / {ref}: {events:.2f}x events, {gain:.2f}x exported per CPU-second")
        fallback = run_once(tmp / "pure", load, ["otlp"], pure=True)
        show(f"the same, {PURE_ENV}=1 (no native hot path)", fallback, n)
        print(f"   native hot path / pure Python, events per CPU-second: {otlp.rate / fallback.rate:.2f}x")
        default = run_once(tmp / "default", load, ["console:/dev/null", f"kubearmor:{tmp}/events.jsonl"])
        show("embedded default (console + KubeArmor JSON lines file)", default, n)
        print(f"   default output CPU per event / OTLP path's: {otlp.rate / default.rate:.2f}x")
        before = run_once(tmp / "before", load, ["console:/dev/null", f"otlp-file:{tmp}/events.otlp.jsonl"])
        show("previous default (console + OTLP/JSON file)", before, n)
        print(f"   previous default CPU per event / OTLP path's: {otlp.rate / before.rate:.2f}x")
        profile = tmp / "profile.txt"
        run_once(tmp / "profiled", load, ["otlp"], profile_to=profile)
        if profile.exists():
            print("   profile of the OTLP run (py-spy, GIL holder, share of samples):")
            for stage, share in breakdown(profile):
                print(f"      {stage:<46} {share:6.1%}")
            print("   hottest functions (self time):")
            for frame, share in hottest(profile):
                print(f"      {share:6.1%}  {frame}")
        else:
            print("   profile: py-spy is not installed (.venv/bin/pip install py-spy)")
    print(f"   load after: {uptime()}")


if __name__ == "__main__":
    main()

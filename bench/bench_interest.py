"""What kernel interest saves: a workload whose cgroup has visibility `none` and no policy.

Run as root: `flock /tmp/beholder-heavy.lock .venv/bin/python bench/bench_interest.py`.
The workload (bench/workloads/loops.c) runs on the host, so `--host-visibility` sets its
cgroup's visibility; the agent traces every cgroup (no `--cgroup-id` filter, which would
be a cheaper filter of its own). In one run:

* the tight open/close loop (`open-same`), its CPU time in interleaved rounds: nothing, the
  empty-program floor (empty BPF programs on the tracepoints the agent attaches), the
  agent with full host visibility, and with host visibility `none`, each against the same
  round's run without anything; the target is `none` = the floor;
* distinct failing opens (`open-unique`), full visibility vs `none`: the agent's CPU time,
  what its kernel side saw and sent, and workload events per agent CPU-second.

Figures are printed, never asserted; `uptime` says how busy the machine was.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_sensors import beholder, build_workload, uptime, wait_idle
from bench_workloads import empty_program

OPENS = int(os.environ.get("BENCH_OPENS", "300000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
FULL = "process,file,network,capabilities"


def cpu_of(cmd: list[str]) -> float:
    """The workload's own CPU seconds (user + system: the BPF programs run in its system time).
    Less swayed than wall time by what else the shared machine runs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def loop_overhead(loop: list[str], tmp: Path) -> None:
    """The tight loop's CPU time: nothing, floor, agent visible, agent with `none`, in
    interleaved rounds; each configuration's ratio to the same round's run without
    anything, median over the rounds."""
    times: dict[str, list[float]] = {name: [] for name in ("nothing", "floor", "full", "none")}
    for _ in range(ROUNDS):
        times["nothing"].append(cpu_of(loop))
        with empty_program():
            times["floor"].append(cpu_of(loop))
        for name, visibility in (("full", FULL), ("none", "none")):
            tracer, _ = beholder(tmp, f"loop-{name}", ["--host-visibility", visibility, "--query-socket", ""])
            with tracer:
                times[name].append(cpu_of(loop))
    base = times["nothing"]
    ratio = {
        name: statistics.median(t / b for t, b in zip(runs, base, strict=True))
        for name, runs in times.items()
    }
    print(f"   open/close loop x{OPENS}, {ROUNDS} interleaved rounds, the loop's CPU seconds")
    print(f"     nothing attached: {', '.join(f'{t:.3f}' for t in base)}")
    print(f"     empty-program floor  {ratio['floor']:.3f}x")
    for name in ("full", "none"):
        of_floor = ratio[name] / ratio["floor"]
        print(f"     agent, host visibility {name:<5} {ratio[name]:.3f}x = {of_floor:.3f}x of the floor")


def events_per_cpu_second(unique: list[str], tmp: Path) -> None:
    """Distinct opens through the agent, visible and `none`: its CPU and its kernel books."""
    for name, visibility in (("full", FULL), ("none", "none")):
        extra = ["--host-visibility", visibility, "--query-socket", ""]
        tracer, stats_path = beholder(tmp, f"unique-{name}", extra)
        with tracer:
            start = tracer.cpu()
            subprocess.run(unique, check=True)
            cpu = wait_idle(tracer) - start
        stats = json.loads(stats_path.read_text())
        kernel, agent, lost = stats["kernel"], stats["agent"], stats["lost"]
        cpu = max(cpu, 1e-9)
        print(
            f"   {OPENS} distinct opens, host visibility {name:<5}: agent CPU {cpu:.2f}s, kernel saw"
            f" {kernel['seen']:,} sent {kernel['emitted']:,}, agent decoded {agent['decoded']:,}"
            f" (evaluate-only {agent['evaluate_only']:,}, hidden {agent['hidden']:,}), lost {lost}"
        )
        print(
            f"     events decoded per agent CPU-second {agent['decoded'] / cpu:,.0f};"
            f" workload opens per agent CPU-second {OPENS / cpu:,.0f}"
        )


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench_interest: run as root (BPF)")
    print(f"== kernel interest: visibility `none` vs full vs the floor; load: {uptime()}")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        loops = str(build_workload(tmp))
        loop_overhead([loops, "open-same", str(OPENS)], tmp)
        events_per_cpu_second([loops, "open-unique", str(OPENS)], tmp)
    print(f"   load after: {uptime()}")


if __name__ == "__main__":
    main()

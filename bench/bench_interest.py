"""What kernel interest saves: a workload whose cgroup has visibility `none` and no policy.

Run as root: `flock /tmp/beholder-heavy.lock .venv/bin/python bench/bench_interest.py`.
The workload (bench/workloads/loops.c) runs on the host, so `--host-visibility` sets its
cgroup's visibility; the agent traces every cgroup (no `--cgroup-id` filter, which would
be a cheaper filter of its own). In one run, all against the mean of two runs without
anything attached:

* the tight open/close loop (`open-same`): nothing, the empty-program floor (an empty BPF
  program on the same raw_syscalls tracepoints), the agent with full host visibility, and
  the agent with host visibility `none`; the target is `none` = the floor;
* distinct failing opens (`open-unique`), full visibility vs `none`: the agent's CPU time,
  what its kernel side saw and sent, and workload events per agent CPU-second.

Figures are printed, never asserted; `uptime` says how busy the machine was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_sensors import beholder, build_workload, timed, uptime, wait_idle
from bench_workloads import empty_program

OPENS = int(os.environ.get("BENCH_OPENS", "300000"))
FULL = "process,file,network,capabilities"


def loop_overhead(loop: list[str], tmp: Path) -> None:
    """The tight loop's wall time: nothing, floor, agent visible, agent with `none`."""
    before = timed(loop)
    with empty_program():
        floor = timed(loop)
    runs = {}
    for name, visibility in (("full", FULL), ("none", "none")):
        tracer, _ = beholder(tmp, f"loop-{name}", ["--host-visibility", visibility, "--query-socket", ""])
        with tracer:
            runs[name] = timed(loop)
    after = timed(loop)
    base = (before + after) / 2
    print(f"   open/close loop x{OPENS}: nothing {before:.3f}s / {after:.3f}s (base {base:.3f}s)")
    print(f"     empty-program floor  {floor / base:.3f}x")
    for name, seconds in runs.items():
        ratio = f"{seconds / base:.3f}x = {seconds / floor:.3f}x of the floor"
        print(f"     agent, host visibility {name:<5} {ratio}")


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

"""Start to first event of `beholder run`, with the BPF compile cache cold and warm.

Run as root: `make bench` (or `.venv/bin/python bench/bench_startup.py`). The clock starts
when the process is spawned and stops when the first event line reaches its output file;
this script opens a missing file every 20 ms meanwhile so there is always something to
see. Cold: an empty `--bpf-cache-dir` (bcc compiles in the loader child and fills it).
Warm: the same directory again (the agent loads the cached object itself, no compiler).
The warm/cold ratio is the figure; `uptime` says how busy the machine was.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_sensors import uptime

RUNS_WARM = 3


def start_to_first_event(workdir: Path, cache: Path) -> float:
    """Seconds from spawning `beholder run` to its first event on disk."""
    out = workdir / f"events-{time.monotonic_ns()}.jsonl"
    argv = [sys.executable, "-m", "beholder.cli", "run", "--output", f"json:{out}", "--bpf-cache-dir",
            str(cache), "--query-socket", "", "--spool-dir", str(workdir / "spool")]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not (out.exists() and out.stat().st_size):
            if proc.poll() is not None:
                raise RuntimeError(f"beholder run exited: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench_startup: run as root (BPF)")
    stop = threading.Event()

    def poke() -> None:  # something to trace, from outside the agent's own process tree
        n = 0
        while not stop.wait(0.02):
            n += 1
            with contextlib.suppress(OSError):
                open(f"/nonexistent/beholder-startup-{n}")  # noqa: SIM115

    print("== start to first event: `beholder run` (default sensors), BPF compile cache cold vs warm")
    print(f"   load before: {uptime()}")
    threading.Thread(target=poke, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        cache = tmp / "bpf-cache"
        cold = start_to_first_event(tmp, cache)
        warm = [start_to_first_event(tmp, cache) for _ in range(RUNS_WARM)]
    stop.set()
    median = statistics.median(warm)
    print(f"   cold (compiles, fills the cache): {cold:6.2f} s")
    each = ", ".join(f"{w:.2f}" for w in warm)
    print(f"   warm (cached object), median of {RUNS_WARM}: {median:6.2f} s  ({each})")
    print(f"   warm / cold: {median / cold:.3f}x")
    print(f"   load after: {uptime()}")


if __name__ == "__main__":
    main()

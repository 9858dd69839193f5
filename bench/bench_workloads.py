"""Workload overhead of the agent with its default config, side by side with no agent.

Run as root: `make bench` (or `.venv/bin/python bench/bench_workloads.py`). Three workloads
on the host's loopback, each measured without the agent, with `beholder run` (default
sensors and outputs: console + OTLP/JSON file), and once more without it; the ratio is
against the mean of the two runs without it, all in this run:

* PostgreSQL (Debian's postgresql): `pgbench` TPS, 4 clients, select-only and TPC-B-like;
* nginx (Debian's nginx-light) serving a small static file to `wrk`: requests/s;
* the tight open/close loop (bench/workloads/loops.c), also against the *floor*: empty BPF
  programs on the same tracepoints as the agent (one per traced syscall), the price of being
  attached at all; and, for comparison, on the raw_syscalls pair that every syscall passes.

Figures are printed, never asserted; `uptime` says how busy the machine was.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from textwrap import indent

from bench_sensors import build_workload, cpu_seconds, timed, uptime
from kernel_profile import breakdown, run_time_stats, snapshot

from beholder.sensors.bpfmaps import detach_tracepoint
from beholder.sensors.catalog import SENSORS, SYSCALL_TRACEPOINTS
from beholder.sensors.loader import load_program
from beholder.sensors.syscall_hooks import choose_hooks, syscall_roles

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
PG_PORT, NGINX_PORT = 55432, 58080
DURATION_S = int(os.environ.get("BENCH_WORKLOAD_S", "10"))


def agent_tracepoints() -> tuple[str, ...]:
    """The syscall tracepoints `beholder run` attaches with its default sensors."""
    return choose_hooks(syscall_roles(SENSORS), counting=False).tracepoints()


@contextmanager
def agent(tmp: Path) -> Iterator[int]:
    """`beholder run` with its defaults, ready before the block starts; yields its pid."""
    ready = tmp / "agent.ready"
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "beholder.cli", "run", "--ready-file", str(ready), "--query-socket", "",
         "--spool-dir", str(tmp / "spool")],
        cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError("beholder run exited before it was ready")
        time.sleep(0.1)
    time.sleep(1.0)
    try:
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)


@contextmanager
def empty_program(tracepoints: tuple[str, ...] | None = None) -> Iterator[None]:
    """Nothing but an empty program on each of `tracepoints` (by default the ones the agent
    attaches): the price of being attached at all, whatever the programs do."""
    source = "\n".join(
        "TRACEPOINT_PROBE({}, {}) {{ return 0; }}".format(*tp.split("/"))
        for tp in tracepoints or agent_tracepoints()
    )
    loaded = load_program(source, [], [])
    try:
        yield
    finally:
        for fd in loaded.attachments.values():
            detach_tracepoint(fd)


@contextmanager
def postgres(tmp: Path) -> Iterator[Callable[[list[str]], float]]:
    """A throwaway cluster on loopback; yields `tps(pgbench options)`."""
    assert PG_BIN is not None
    data = tmp / "pg"
    data.mkdir()
    shutil.chown(data, "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    run = lambda *cmd: subprocess.run([*as_pg, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    run(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust")
    opts = f"-p {PG_PORT} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    # -l: the server's output goes to a file, not to the pipes this script reads until EOF
    try:
        run(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-o", opts, "-w", "start"
        )
    except (
        subprocess.CalledProcessError
    ):  # say why (a port taken by another run, ...), not just the exit code
        log = data / "server.log"
        sys.exit(f"postgres did not start: {log.read_text()[-2000:] if log.exists() else 'no server log'}")
    try:
        conn = ["-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres"]
        run(str(PG_BIN / "pgbench"), *conn, "-i", "-s", "4", "postgres")

        def tps(options: list[str]) -> float:
            out = run(str(PG_BIN / "pgbench"), *conn, "-c", "4", "-j", "2", "-T", str(DURATION_S), *options,
                      "postgres").stdout  # fmt: skip
            return float(re.search(r"tps = ([\d.]+)", out).group(1))

        yield tps
    finally:
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


@contextmanager
def nginx(tmp: Path) -> Iterator[Callable[[], float]]:
    """nginx on loopback serving one small file; yields `rps()` measured with wrk."""
    root = tmp / "www"
    root.mkdir()
    (root / "index.html").write_text("<html><body>beholder bench</body></html>\n" * 8)
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/nginx.err;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; server {{ listen 127.0.0.1:{NGINX_PORT}; root {root}; }} }}\n"
    )
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:

        def rps() -> float:
            out = subprocess.run(
                ["wrk", "-t", "2", "-c", "32", "-d", f"{DURATION_S}s", f"http://127.0.0.1:{NGINX_PORT}/"],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

        yield rps
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def profiled(pid: int, measure: Callable[[], object]) -> str:
    """One more run with the kernel's BPF run-time statistics on (they cost every program a
    few ns, so never during the timed runs): which of the agent's tracepoints the workload
    paid for, per run and in all."""
    with run_time_stats():
        before, start = snapshot(pid), time.monotonic()
        measure()
        return indent(breakdown(before, snapshot(pid), time.monotonic() - start), "     ")


def side_by_side(name: str, measure: Callable[[], float], tmp: Path) -> None:
    """Without, with, without again: the slowdown against the mean of the two without, and
    the agent's own CPU meanwhile (in % of one CPU: on a machine the workload saturates,
    what the agent burns is taken from the workload)."""
    before = measure()
    with agent(tmp) as pid:
        cpu_start, start = cpu_seconds(pid), time.monotonic()
        with_agent = measure()
        agent_cpu = (cpu_seconds(pid) - cpu_start) / (time.monotonic() - start)
        profile = profiled(pid, measure)
    after = measure()
    base = (before + after) / 2
    slowdown = base / with_agent  # rates: lower with the agent is slower
    print(f"   {name:<34} without {before:>10,.1f} / {after:>10,.1f}   with agent {with_agent:>10,.1f}"
          f"   slowdown {slowdown:.3f}x   agent CPU {agent_cpu:.0%} of one CPU")  # fmt: skip
    print(profile)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("bench_workloads: run as root (BPF)")
    print(f"== workload overhead, default `beholder run` vs none ({DURATION_S}s each); load: {uptime()}")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        os.chmod(tmp, 0o755)  # postgres reaches its data directory through it
        if PG_BIN is None or not shutil.which("wrk") or not shutil.which("nginx"):
            print("   needs postgresql, nginx-light and wrk (Debian packages; `make bench` installs them)")
        else:
            with postgres(tmp) as tps:
                side_by_side("pgbench TPS, select-only", lambda: tps(["-S"]), tmp)
                side_by_side("pgbench TPS, TPC-B-like", lambda: tps([]), tmp)
            with nginx(tmp) as rps:
                side_by_side("nginx + wrk, requests/s", rps, tmp)
        loops = build_workload(tmp)
        loop = [str(loops), "open-same", os.environ.get("BENCH_OPENS", "300000")]
        base = timed(loop)
        with empty_program(SYSCALL_TRACEPOINTS):
            raw_floor = timed(loop)
        with empty_program():
            floor = timed(loop)
        with agent(tmp) as pid:
            ours = timed(loop)
            profile = profiled(pid, lambda: timed(loop, repeats=1))
        print(
            f"   open/close loop: none {base:.3f}s, empty-program floor {floor / base:.3f}x"
            f" ({len(agent_tracepoints())} tracepoints; on the raw_syscalls pair {raw_floor / base:.3f}x),"
            f" agent {ours / base:.3f}x = {ours / floor:.3f}x of the floor"
        )
        print(profile)
    print(f"   load after: {uptime()}")


if __name__ == "__main__":
    main()

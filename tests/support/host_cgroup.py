"""A cgroup v2 of the test's own for host commands, so an agent run with `--cgroup-id` traces
them and nothing of the other helpers' workloads; every process left in it is killed at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support import runc


class HostCgroup:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.id = path.stat().st_ino  # a cgroup v2 id is its directory's inode

    def spawn(self, argv: list[str], **popen: object) -> subprocess.Popen[bytes]:
        """Start `argv` inside the cgroup (the child joins before it execs)."""
        procs = self.path / "cgroup.procs"

        def join() -> None:
            procs.write_text(str(os.getpid()))

        return subprocess.Popen(argv, preexec_fn=join, **popen)  # type: ignore[call-overload]


@contextmanager
def host_cgroup(name: str) -> Iterator[HostCgroup]:
    path = runc.cgroup2_root() / f"beholder-test-{name}-{os.getpid()}"
    path.mkdir()
    try:
        yield HostCgroup(path)
    finally:
        procs = path / "cgroup.procs"
        for pid in procs.read_text().split():
            os.kill(int(pid), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while procs.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.1)
        path.rmdir()

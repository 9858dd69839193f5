"""Run a command and report its peak resident memory, from the kernel's own accounting."""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mib: float
    timed_out: bool


def _cap_address_space(limit_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return apply


def run_measured(args: list[str], timeout_s: float = 120, max_address_space: int = 4 << 30) -> Outcome:
    """`args` to completion; peak RSS from wait4's rusage of that one child (KiB on Linux).

    The child's address space is capped so a runaway parser fails alone instead of
    pushing the whole machine into swap.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            args, stdout=out, stderr=err, preexec_fn=_cap_address_space(max_address_space)
        )
        timer = threading.Timer(timeout_s, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Outcome(
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            usage.ru_maxrss / 1024,
            timed_out=not timer.is_alive() and proc.returncode < 0,
        )

"""Where the agent's kernel side spends the workload's time: BPF run time per tracepoint.

The agent's programs run in the context of the traced processes, so their cost never shows
in the agent's own CPU. The kernel counts each program's runs and run time while someone
holds a BPF_ENABLE_STATS fd (machine-wide, a few ns per run, off again when the fd is
closed); BPF_TASK_FD_QUERY names the tracepoint and program behind each of the agent's
perf-event fds. Benches only: the statistics cost every BPF program on the machine.
"""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SYS_BPF = 321  # x86_64
_ENABLE_STATS, _PROG_GET_FD_BY_ID, _OBJ_GET_INFO_BY_FD, _TASK_FD_QUERY = 32, 13, 15, 20
_STATS_RUN_TIME = 0
_INFO_SIZE = 256
_RUN_TIME_AT = 192  # struct bpf_prog_info: run_time_ns, then run_cnt
_libc = ctypes.CDLL(None, use_errno=True)


def _bpf(cmd: int, attr: bytes) -> tuple[int, bytes]:
    buf = ctypes.create_string_buffer(attr, 128)
    return _libc.syscall(_SYS_BPF, cmd, buf, 128), buf.raw


@dataclass(frozen=True, slots=True)
class Usage:
    runs: int
    ns: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.runs - other.runs, self.ns - other.ns)


@contextmanager
def run_time_stats() -> Iterator[None]:
    """BPF run-time statistics on for the block."""
    fd, _ = _bpf(_ENABLE_STATS, struct.pack("I", _STATS_RUN_TIME))
    if fd < 0:
        raise OSError(ctypes.get_errno(), f"BPF_ENABLE_STATS: {os.strerror(ctypes.get_errno())}")
    try:
        yield
    finally:
        os.close(fd)


def _tracepoint_programs(pid: int) -> dict[str, int]:
    """Tracepoint name -> program id, for every perf-event fd of `pid` that holds one."""
    found: dict[str, int] = {}
    name = ctypes.create_string_buffer(256)
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(entry) != "anon_inode:[perf_event]":
                continue
        except OSError:
            continue
        attr = struct.pack("IIIIQ", pid, int(entry.name), 0, 256, ctypes.addressof(name))
        ret, raw = _bpf(_TASK_FD_QUERY, attr)
        if ret == 0:
            found[name.value.decode()] = struct.unpack_from("I", raw, 24)[0]
    return found


def _usage(prog_id: int) -> Usage | None:
    fd, _ = _bpf(_PROG_GET_FD_BY_ID, struct.pack("I", prog_id))
    if fd < 0:
        return None
    try:
        info = ctypes.create_string_buffer(_INFO_SIZE)
        ret, _ = _bpf(_OBJ_GET_INFO_BY_FD, struct.pack("IIQ", fd, _INFO_SIZE, ctypes.addressof(info)))
    finally:
        os.close(fd)
    if ret < 0:
        return None
    ns, runs = struct.unpack_from("QQ", info.raw, _RUN_TIME_AT)
    return Usage(runs, ns)


def snapshot(pid: int) -> dict[str, Usage]:
    """Tracepoint -> its program's cumulative runs and run time (stats on meanwhile only)."""
    out = {}
    for tracepoint, prog_id in _tracepoint_programs(pid).items():
        usage = _usage(prog_id)
        if usage is not None:
            out[tracepoint] = usage
    return out


def breakdown(before: dict[str, Usage], after: dict[str, Usage], seconds: float, top: int = 5) -> str:
    """The `top` tracepoints by run time between two snapshots, one line each."""
    spent = sorted(((after[tp] - before.get(tp, Usage(0, 0)), tp) for tp in after), key=lambda x: -x[0].ns)
    total = sum(u.ns for u, _ in spent)
    share = total / seconds / 1e7  # ns per second of wall time, as % of one CPU
    lines = [
        f"kernel side: {total / 1e6:,.1f} ms of BPF run time in {seconds:.1f} s ({share:.2f} % of one CPU)"
    ]
    for usage, tp in spent[:top]:
        if usage.runs:
            lines.append(
                f"  {tp:<28} {usage.runs / seconds:>10,.0f} runs/s {usage.ns / usage.runs:>7.1f} ns/run"
                f" {usage.ns / 1e6:>9,.1f} ms"
            )
    return "\n".join(lines)

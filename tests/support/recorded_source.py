"""Recorded kernel records as the agent's `RecordSource`: the agent's batching, hand-over and
loss accounting run on them without root, BPF or a kernel."""

from __future__ import annotations

import threading
import time
from collections import deque

from beholder.events.abi import HEADER, RecordKind
from beholder.events.decoding import SYSCALL_NUMBERS


def exec_record(argv: list[str], pid: int = 4242, cgroup_id: int = 1) -> bytes:
    """An `execve` of argv[0] as the kernel writes it: path, then NUL-separated argv."""
    path = argv[0].encode() + b"\0"
    args = b"".join(a.encode() + b"\0" for a in argv)
    return _pack(RecordKind.EXEC, SYSCALL_NUMBERS["execve"], 0, pid, cgroup_id, path, args)


def open_record(path: str, pid: int = 4242, retval: int = 3, cgroup_id: int = 1) -> bytes:
    """An `openat(AT_FDCWD, path, O_RDONLY)`."""
    return _pack(
        RecordKind.FILE, SYSCALL_NUMBERS["openat"], retval, pid, cgroup_id, path.encode() + b"\0", b""
    )


def _pack(kind: int, nr: int, retval: int, pid: int, cgroup_id: int, s1: bytes, s2: bytes) -> bytes:
    at_fdcwd = 2**64 - 100
    header = HEADER.pack(
        time.monotonic_ns(), cgroup_id, pid, pid, 0, 0, retval, kind, nr, 0, 0, 0, 0,
        b"recorded".ljust(16, b"\0"), at_fdcwd, 0, 0, 0, 0, 0, len(s1), len(s2),
    )  # fmt: skip
    return header + s1 + s2


class RecordedSource:
    """Hands out `chunks` (each what one ring-buffer poll collected), then nothing.

    `counters` and `syscalls` stand for the kernel's maps; `drained` is set once the agent
    has asked for more after the last chunk (everything was handed over). Chunk i waits for
    `gates[i]` when one is given. After `pause` one collect yields every chunk left, as the
    agent's final drain of the ring buffer reads everything the kernel sent."""

    def __init__(
        self,
        chunks: list[list[bytes]],
        counters: dict[str, int] | None = None,
        syscalls: dict[int, dict[int, int]] | None = None,
        gates: dict[int, threading.Event] | None = None,
        callers: dict[int, dict[int, int]] | None = None,
    ) -> None:
        self._chunks = deque(chunks)
        self._handed = 0
        self._gates = gates or {}
        self._pending: list[bytes] = []
        self.kernel = {"seen": 0, "emitted": 0, "suppressed": 0, "lost": 0, **(counters or {})}
        self.syscalls = syscalls or {}
        self.callers = callers or {}
        self.drained = threading.Event()
        self.paused = False
        self.closed = False
        self.watched: list[int] = []
        self.sensors = ["recorded"]
        self.refused = {"lsm": "not in a recording"}

    def wait(self, timeout_ms: int) -> None:
        if not self._chunks:
            self.drained.set()
            time.sleep(timeout_ms / 1000)
            return
        gate = self._gates.get(self._handed)
        if gate is not None:
            gate.wait(timeout=30)
        self._pending += self._chunks.popleft()
        self._handed += 1

    def collect(self) -> None:
        while self.paused and self._chunks:
            self._pending += self._chunks.popleft()

    def pending(self) -> int:
        return len(self._pending)

    def take(self) -> list[bytes]:
        raw, self._pending = self._pending, []
        return raw

    def pause(self) -> None:
        self.paused = True

    def counters(self) -> dict[str, int]:
        return dict(self.kernel)

    def watch_cgroup(self, cgroup_id: int, pid: int) -> bool:
        self.watched.append(cgroup_id)
        return True

    def syscall_counts(self) -> dict[int, dict[int, int]]:
        return self.syscalls

    def syscall_callers(self) -> dict[int, dict[int, int]]:
        return self.callers

    def slow_detach(self) -> str:
        return ""

    def close(self) -> None:
        self.closed = True

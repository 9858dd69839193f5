"""Assemble the enabled sensors into one BPF program and load it with bcc.

One program means one ring buffer, one set of loss counters, one dedup map and one
exclusion map for the agent's own process tree, whatever sensors are on. Syscalls are
dispatched in the kernel by the `syscall_role` table filled here, so enabling a sensor
adds table rows, not tracepoints.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field
from pathlib import Path

from beholder.events.decoding import SYSCALL_NUMBERS
from beholder.sensors.catalog import SENSORS, TRACEPOINT_NAMES, Sensor
from beholder.sensors.kernel import missing_tracepoints, pointer_arg_mask, tracepoint_exists

BPF_DIR = Path(__file__).resolve().parents[3] / "bpf"

# Map indexes, mirrored from bpf/common.h.
CFG_DEDUP_NS, CFG_FILTER_CGROUP, CFG_READY = 0, 1, 3
STAT_NAMES = ("seen", "emitted", "suppressed", "lost", "pending_full")
SYSCALL_COUNT_TRACEPOINT = "raw_syscalls/sys_enter"


class SensorError(RuntimeError):
    """A sensor cannot run here; the message says why in one line."""


@dataclass(slots=True)
class ProgramOptions:
    sensors: tuple[str, ...] = tuple(s.name for s in SENSORS)
    dedup_window_ns: int = 1_000_000_000
    ringbuf_pages: int = 4096
    syscall_counts: bool = False  # per-container syscall counting (bpf/syscall_counts.c)
    cgroup_filter: tuple[int, ...] = ()
    exclude_pids: tuple[int, ...] = field(default_factory=lambda: (os.getpid(),))


def build_source(sensors: list[Sensor], ringbuf_pages: int, syscall_counts: bool) -> tuple[str, list[str]]:
    """The program text and the -D flags that select the dispatcher's cases."""
    parts = [f"#define RINGBUF_PAGES {ringbuf_pages}", (BPF_DIR / "common.h").read_text()]
    parts += [(BPF_DIR / sensor.source).read_text() for sensor in sensors]
    defines = [f"-D{sensor.define}" for sensor in sensors]
    if syscall_counts:
        parts.append((BPF_DIR / "syscall_counts.c").read_text())
        defines.append("-DSYSCALL_COUNTS")
    parts.append((BPF_DIR / "dispatch.c").read_text())
    return "\n".join(parts), defines


def select_sensors(names: tuple[str, ...]) -> tuple[list[Sensor], dict[str, str]]:
    """Sensors that can run, and for the others a one-line reason."""
    wanted = set(names)
    unknown = wanted - {s.name for s in SENSORS}
    if unknown:
        raise SensorError(f"unknown sensor(s): {', '.join(sorted(unknown))}")
    runnable, refused = [], {}
    for sensor in SENSORS:
        if sensor.name not in wanted:
            continue
        missing = missing_tracepoints(sensor)
        if missing:
            refused[sensor.name] = f"tracepoint {missing[0]} not available"
        else:
            runnable.append(sensor)
    return runnable, refused


class Program:
    """The loaded BPF program: ring buffer, config, stats and maps."""

    def __init__(self, options: ProgramOptions) -> None:
        from beholder.sensors.kernel_headers import ensure_bcc_kernel_source

        self.options = options
        self.sensors, self.refused = select_sensors(options.sensors)
        if not self.sensors:
            reasons = "; ".join(f"{k}: {v}" for k, v in self.refused.items()) or "none enabled"
            raise SensorError(f"no sensor can run ({reasons})")
        ensure_bcc_kernel_source()
        try:
            from bcc import BPF
        except ImportError as exc:  # pragma: no cover - depends on the host
            raise SensorError("bcc's Python module is missing: install Debian's python3-bpfcc") from exc
        counting = options.syscall_counts and tracepoint_exists(SYSCALL_COUNT_TRACEPOINT)
        source, defines = build_source(self.sensors, options.ringbuf_pages, counting)
        try:
            self.bpf = BPF(text=source, cflags=["-Wno-macro-redefined", "-Wno-unused-function", *defines])
        except Exception as exc:
            raise SensorError(f"BPF program failed to load: {exc}") from exc
        self._configure()

    def roles(self) -> dict[int, int]:
        """Syscall number -> role for every enabled sensor (the `syscall_role` table)."""
        table: dict[int, int] = {}
        for sensor in self.sensors:
            for name, role in sensor.roles().items():
                nr = SYSCALL_NUMBERS.get(name)
                if nr is not None:
                    table[nr] = role
        return table

    def _configure(self) -> None:
        config = self.bpf["config"]
        config[ctypes.c_int(CFG_DEDUP_NS)] = ctypes.c_uint64(self.options.dedup_window_ns)
        if self.options.cgroup_filter:
            allow = self.bpf["cgroup_allow"]
            for cg in self.options.cgroup_filter:
                allow[ctypes.c_uint64(cg)] = ctypes.c_uint8(1)
            config[ctypes.c_int(CFG_FILTER_CGROUP)] = ctypes.c_uint64(1)
        roles, masks = self.bpf["syscall_role"], self.bpf["ptr_mask"]
        names = {nr: name for name, nr in SYSCALL_NUMBERS.items()}
        for nr, role in self.roles().items():
            roles[ctypes.c_int(nr)] = ctypes.c_uint32(role)
            masks[ctypes.c_int(nr)] = ctypes.c_uint32(
                pointer_arg_mask(TRACEPOINT_NAMES.get(names[nr], names[nr]))
            )
        excluded = self.bpf["excluded"]
        for pid in self.options.exclude_pids:
            excluded[ctypes.c_uint32(pid)] = ctypes.c_uint8(1)
        config[ctypes.c_int(CFG_READY)] = ctypes.c_uint64(1)

    def pause(self) -> None:
        """Stop producing records (probes stay attached but return at once), so that a final
        drain of the ring buffer reads everything the kernel ever sent."""
        self.bpf["config"][ctypes.c_int(CFG_READY)] = ctypes.c_uint64(0)

    def register_pidns(self, cgroup_id: int, pid: int) -> bool:
        """Let the kernel report namespace pids for a container's cgroup (from a live pid)."""
        try:
            st = os.stat(f"/proc/{pid}/ns/pid")
            own = os.stat("/proc/self/ns/pid")
        except OSError:
            return False
        if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
            return False  # runc init has joined the cgroup but not yet its pid namespace
        table = self.bpf["pidns_of_cgroup"]
        table[ctypes.c_uint64(cgroup_id)] = table.Leaf(st.st_dev, st.st_ino)
        return True

    def stats(self) -> dict[str, int]:
        """Kernel-side counters summed over CPUs."""
        table = self.bpf["stats"]
        return {name: int(sum(table[ctypes.c_int(i)])) for i, name in enumerate(STAT_NAMES)}

    def count_syscalls_of(self, cgroup_id: int) -> None:
        """Start counting syscalls per number for this (container) cgroup in the kernel."""
        if not self.options.syscall_counts:
            return
        table = self.bpf["syscall_counts"]
        key = ctypes.c_uint64(cgroup_id)
        if key not in table:
            table[key] = table.Leaf()

    def syscall_counts(self) -> dict[int, dict[int, int]]:
        """cgroup id -> {syscall number: calls} as counted in the kernel (non-zero only)."""
        out: dict[int, dict[int, int]] = {}
        for key, value in self.bpf["syscall_counts"].items():
            out[int(key.value)] = {nr: int(n) for nr, n in enumerate(value.calls) if n}
        return out

    def close(self) -> None:
        self.bpf.cleanup()

"""Assemble the enabled sensors into one BPF program, load it, and own its maps.

One program means one ring buffer, one set of loss counters, one dedup map and one
exclusion map for the agent's own process tree, whatever sensors are on. Syscalls are
dispatched in the kernel by role (`syscall_hooks`: one tracepoint per traced syscall, or
the raw pair and the `syscall_role` table filled here). bcc compiles it in a child process
(`loader`); this process only holds map and attachment fds (`bpfmaps`), so the compiler's
memory is never part of the agent's.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from beholder.events.abi import MAP_LAYOUTS, RING_BUFFER, STAT_NAMES, Cfg, NsId, SyscallCounts
from beholder.events.decoding import SYSCALL_NUMBERS
from beholder.events.enforce_abi import ENFORCE_MAP_LAYOUTS
from beholder.sensors import bpfcache
from beholder.sensors.bpfmaps import BpfMap, RingBuffer, detach_tracepoint
from beholder.sensors.catalog import SENSORS, TRACEPOINT_NAMES, Sensor
from beholder.sensors.kernel import missing_tracepoints, pointer_arg_mask, tracepoint_exists
from beholder.sensors.loader import LoadedProgram, LoadError, load_program
from beholder.sensors.syscall_hooks import SyscallHooks, choose_hooks, syscall_roles

log = logging.getLogger("beholder.sensors")

BPF_DIR = Path(__file__).resolve().parents[3] / "bpf"

SYSCALL_COUNT_TRACEPOINT = "raw_syscalls/sys_enter"
ALL_MAP_LAYOUTS = {**MAP_LAYOUTS, **ENFORCE_MAP_LAYOUTS}
CFLAGS = ("-Wno-macro-redefined", "-Wno-unused-function")


class SensorError(RuntimeError):
    """A sensor cannot run here; the message says why in one line."""


# 4 MiB, mapped twice: 8 MiB of the agent's RSS. At the soak's load (~60k events/s, bursts
# of ~4k opens) halving it from 8 MiB lost nothing and saved 5.6 MiB (docs/reliability.md).
RINGBUF_PAGES = 1024
DETACH_THREADS = 16


@dataclass(slots=True)
class ProgramOptions:
    sensors: tuple[str, ...] = tuple(s.name for s in SENSORS)
    dedup_window_ns: int = 1_000_000_000
    ringbuf_pages: int = RINGBUF_PAGES
    syscall_counts: bool = False  # per-container syscall counting (bpf/syscall_counts.c)
    cgroup_filter: tuple[int, ...] = ()
    exclude_pids: tuple[int, ...] = field(default_factory=lambda: (os.getpid(),))
    bpf_cache_dir: Path | None = bpfcache.CACHE_DIR  # None: compile at every start
    enforce_kill: bool = False  # kill mode (bpf/enforce.c): Block rules SIGKILL at syscall entry
    raw_syscalls: bool = False  # hook raw_syscalls even where per-syscall tracepoints would do


def build_source(
    sensors: list[Sensor],
    ringbuf_pages: int,
    syscall_counts: bool,
    hooks: SyscallHooks,
    enforce_kill: bool = False,
) -> tuple[str, list[str]]:
    """The program text and the -D flags that select the dispatcher's cases and hooks."""
    headers = [(BPF_DIR / name).read_text() for name in ("common.h", "interest.h")]
    parts = [f"#define RINGBUF_PAGES {ringbuf_pages}", *headers]
    defines = [f"-D{sensor.define}" for sensor in sensors]
    if enforce_kill:  # before the sensors: the process sensor calls its exec/fork/exit hooks
        parts.append((BPF_DIR / "enforce.c").read_text())
        defines.append("-DENFORCE_KILL")
    parts += [(BPF_DIR / sensor.source).read_text() for sensor in sensors]
    if syscall_counts:
        parts.append((BPF_DIR / "syscall_counts.c").read_text())
        defines.append("-DSYSCALL_COUNTS")
    parts.append((BPF_DIR / "dispatch.c").read_text())
    if hooks.raw:
        defines.append("-DRAW_SYSCALLS")
    else:
        parts.append(hooks.source())
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
        self.options = options
        self.sensors, self.refused = select_sensors(options.sensors)
        if not self.sensors:
            reasons = "; ".join(f"{k}: {v}" for k, v in self.refused.items()) or "none enabled"
            raise SensorError(f"no sensor can run ({reasons})")
        counting = options.syscall_counts and tracepoint_exists(SYSCALL_COUNT_TRACEPOINT)
        self.hooks = choose_hooks(syscall_roles(self.sensors), counting, options.raw_syscalls)
        if self.hooks.raw and not (counting or options.raw_syscalls):
            log.warning(
                "syscalls hooked through raw_syscalls, slower for every process: %s", self.hooks.raw_reason
            )
        source, defines = build_source(
            self.sensors, options.ringbuf_pages, counting, self.hooks, options.enforce_kill
        )
        try:
            self._loaded = load_program(
                source, [*CFLAGS, *defines], [RING_BUFFER, *ALL_MAP_LAYOUTS], options.bpf_cache_dir
            )
        except LoadError as exc:
            raise SensorError(str(exc)) from exc
        self.maps = self._open_maps(self._loaded)
        self.events_fd = self._loaded.maps[RING_BUFFER].fd
        self._configure()

    @staticmethod
    def _open_maps(loaded: LoadedProgram) -> dict[str, BpfMap]:
        maps: dict[str, BpfMap] = {}
        for name, info in loaded.maps.items():
            if name == RING_BUFFER:
                continue
            key, value, per_cpu = ALL_MAP_LAYOUTS[name]
            if (info.key_size, info.value_size) != (ctypes.sizeof(key), ctypes.sizeof(value)):
                raise SensorError(
                    f"BPF map {name}: compiled key/value sizes {info.key_size}/{info.value_size} "
                    f"differ from the agent's {ctypes.sizeof(key)}/{ctypes.sizeof(value)}"
                )
            maps[name] = BpfMap(name, info.fd, key, value, per_cpu)
        return maps

    def open_ring_buffer(self, on_record: Callable[[int, int, int], int]) -> RingBuffer:
        """The ring buffer, calling `on_record(ctx, address, size)` for every record."""
        return RingBuffer(self.events_fd, on_record)

    def roles(self) -> dict[int, int]:
        """Syscall number -> role for every enabled sensor (the `syscall_role` table)."""
        return {SYSCALL_NUMBERS[name]: role for name, role in syscall_roles(self.sensors).items()}

    def _configure(self) -> None:
        config = self.maps["config"]
        config.set(Cfg.DEDUP_NS, self.options.dedup_window_ns)
        if self.options.cgroup_filter:
            allow = self.maps["cgroup_allow"]
            for cg in self.options.cgroup_filter:
                allow.set(cg, 1)
                # named ahead: count from its first syscall, not from the agent's first sight
                # of it (a `sleep infinity` calls pause() once, microseconds after its exec)
                self.count_syscalls_of(cg)
            config.set(Cfg.FILTER_CGROUP, 1)
        roles, masks = self.maps["syscall_role"], self.maps["ptr_mask"]
        names = {nr: name for name, nr in SYSCALL_NUMBERS.items()}
        for nr, role in self.roles().items():
            roles.set(nr, role)
            masks.set(nr, pointer_arg_mask(TRACEPOINT_NAMES.get(names[nr], names[nr])))
        excluded = self.maps["excluded"]
        for pid in self.options.exclude_pids:
            excluded.set(pid, 1)
        config.set(Cfg.READY, 1)

    def pause(self) -> None:
        """Stop producing records (probes stay attached but return at once), so that a final
        drain of the ring buffer reads everything the kernel ever sent."""
        self.maps["config"].set(Cfg.READY, 0)

    def register_pidns(self, cgroup_id: int, pid: int) -> bool:
        """Let the kernel report namespace pids for a container's cgroup (from a live pid)."""
        try:
            st = os.stat(f"/proc/{pid}/ns/pid")
            own = os.stat("/proc/self/ns/pid")
        except OSError:
            return False
        if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
            return False  # runc init has joined the cgroup but not yet its pid namespace
        self.maps["pidns_of_cgroup"].set(cgroup_id, NsId(st.st_dev, st.st_ino))
        return True

    def stats(self) -> dict[str, int]:
        """Kernel-side counters summed over CPUs."""
        table = self.maps["stats"]
        return {name: sum(int(v.value) for v in table.per_cpu_values(i)) for i, name in enumerate(STAT_NAMES)}

    def count_syscalls_of(self, cgroup_id: int) -> None:
        """Start counting syscalls per number for this (container) cgroup in the kernel."""
        if self.options.syscall_counts:
            self.maps["syscall_counts"].set(cgroup_id, SyscallCounts(), only_new=True)

    def syscall_counts(self) -> dict[int, dict[int, int]]:
        """cgroup id -> {syscall number: calls} as counted in the kernel (non-zero only)."""
        return {
            int(key.value): {nr: int(n) for nr, n in enumerate(value.calls) if n}
            for key, value in self.maps["syscall_counts"].items()
        }

    def syscall_callers(self) -> dict[int, dict[int, int]]:
        """cgroup id -> {syscall number: pid of the process that made its first call}."""
        return {
            int(key.value): {nr: int(value.first_tgid[nr]) for nr, n in enumerate(value.calls) if n}
            for key, value in self.maps["syscall_counts"].items()
        }

    def close(self) -> None:
        """Detach every tracepoint and release the maps. At each syscall tracepoint's last
        detach the kernel waits for RCU grace periods under its event lock, tens of ms each:
        closed from several threads, the waits outside that lock overlap."""
        with ThreadPoolExecutor(max_workers=DETACH_THREADS) as pool:
            list(pool.map(detach_tracepoint, self._loaded.attachments.values()))
        for info in self._loaded.maps.values():
            os.close(info.fd)

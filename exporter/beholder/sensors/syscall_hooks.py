"""How traced syscalls reach the dispatcher (bpf/dispatch.c): their own tracepoints, or
the two raw ones that every syscall of the host passes.

An attached raw_syscalls program runs on every syscall of every process: a database or web
server doing millions of loopback reads, writes and epoll waits pays for it on each one,
although none of them is an event (an empty program there slowed pgbench and nginx by tens
of percent, docs/performance.md). With syscalls:sys_enter_<name>/sys_exit_<name> only the
calls a sensor traces run a program, each knowing its role at compile time. The raw pair
stays for what must see every call (per-container syscall counting for profiles) and for a
kernel that lacks one of the per-syscall tracepoints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from beholder.events.abi import Role
from beholder.events.decoding import SYSCALL_NUMBERS
from beholder.sensors.catalog import SYSCALL_TRACEPOINTS, TRACEPOINT_NAMES, Sensor
from beholder.sensors.kernel import syscall_args, tracepoint_exists, unimplemented_syscalls

ENTER_HEADER = 16  # common fields and __syscall_nr (padded): the arguments start here


def syscall_roles(sensors: Iterable[Sensor]) -> dict[str, int]:
    """Syscall name -> role for `sensors`, for the syscalls this machine's table has."""
    return {
        name: role for sensor in sensors for name, role in sensor.roles().items() if name in SYSCALL_NUMBERS
    }


def completed_at_exit(role: int) -> bool:
    """Roles below the first enter-only role are record kinds, finished at syscall exit."""
    return role < min(r for r in Role if r != Role.NONE)


def syscall_tracepoints(name: str, role: int) -> tuple[str, ...]:
    """The tracepoints (category/event) a per-syscall hook of `name` attaches to."""
    event = TRACEPOINT_NAMES.get(name, name)
    enter = (f"syscalls/sys_enter_{event}",)
    return (*enter, f"syscalls/sys_exit_{event}") if completed_at_exit(role) else enter


@dataclass(frozen=True, slots=True)
class SyscallHooks:
    """`roles` (syscall name -> role) hooked one tracepoint per syscall, or, when `raw_reason`
    says why, through raw_syscalls."""

    roles: Mapping[str, int]
    raw_reason: str = ""
    absent: tuple[str, ...] = ()  # stubs of this kernel (ENOSYS, no tracepoint): not hooked

    @property
    def raw(self) -> bool:
        return bool(self.raw_reason)

    def tracepoints(self) -> tuple[str, ...]:
        """What gets attached (category/event)."""
        if self.raw:
            return SYSCALL_TRACEPOINTS
        return tuple(
            tp for name, role in sorted(self.roles.items()) for tp in syscall_tracepoints(name, role)
        )

    def describe(self) -> str:
        if self.raw:
            return f"raw_syscalls enter/exit, every syscall of the host ({self.raw_reason})"
        count = len(self.tracepoints())
        stubs = f"; not in this kernel: {', '.join(self.absent)}" if self.absent else ""
        return f"{count} per-syscall tracepoints for {len(self.roles)} syscalls{stubs}"

    def source(self) -> str:
        """The probes appended after bpf/dispatch.c (nothing in raw mode: it has its own).

        The kernel refuses to attach a program that reads past a tracepoint's record, and a
        sys_enter_<name> record holds only that syscall's arguments: the probe copies them
        into a zeroed `struct sc_enter` on the stack. A sys_exit record always has `ret`."""
        if self.raw:
            return ""
        lines = []
        for name, role in sorted(self.roles.items()):
            event = TRACEPOINT_NAMES.get(name, name)
            size = ENTER_HEADER + 8 * len(syscall_args(event))
            lines.append(
                f"TRACEPOINT_PROBE(syscalls, sys_enter_{event}) {{ struct sc_enter a = {{}}; "
                f"__builtin_memcpy(&a, args, {size}); return sc_enter(&a, {int(role)}); }}"
            )
            if completed_at_exit(role):
                lines.append(
                    f"TRACEPOINT_PROBE(syscalls, sys_exit_{event}) "
                    f"{{ return sc_exit((struct sc_exit *)args, {int(role)}); }}"
                )
        return "\n".join(lines)


def choose_hooks(roles: Mapping[str, int], counting: bool, asked_raw: bool = False) -> SyscallHooks:
    """Per-syscall tracepoints unless counting needs every call or the kernel lacks the
    tracepoint of a syscall it implements. A syscall the kernel only stubs (init_module
    without module support) has no tracepoint and is left out: every call of it fails."""
    if counting:
        return SyscallHooks(roles, "per-container syscall counting sees every call")
    if asked_raw:
        return SyscallHooks(roles, "--syscall-hooks raw")
    missing: dict[str, str] = {}
    for name, role in sorted(roles.items()):
        lacking = [tp for tp in syscall_tracepoints(name, role) if not tracepoint_exists(tp)]
        if lacking:
            missing[name] = lacking[0]
    absent = unimplemented_syscalls(missing) if missing else set()
    for name, tp in missing.items():
        if name not in absent:
            return SyscallHooks(roles, f"tracepoint {tp} not available")
    hooked = {name: role for name, role in roles.items() if name not in absent}
    return SyscallHooks(hooked, absent=tuple(sorted(absent)))

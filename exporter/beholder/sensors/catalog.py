"""Which kernel hooks each sensor uses: one table for the loader, `probe` and the docs.

Syscalls are traced through their own syscalls:* tracepoints, or the raw_syscalls pair
(`syscall_hooks` chooses; the raw pair is what every kernel with syscall tracing has), and
dispatched in the kernel by role: `syscalls` are parked at enter and completed at exit as records
of the sensor's `kind`; `enter_roles` are handled at enter by a dedicated C function
(exec's argv, clone flags, exit codes, DNS payloads). Other hooks are plain tracepoints.
Kinds and roles come from `events.abi` (the one copy of bpf/common.h).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from beholder.events import Operation
from beholder.events.abi import RecordKind as K
from beholder.events.abi import Role as R
from beholder.events.needs import Needs

SYSCALL_TRACEPOINTS = ("raw_syscalls/sys_enter", "raw_syscalls/sys_exit")


@dataclass(frozen=True, slots=True)
class Sensor:
    name: str
    operation: Operation
    source: str  # file under bpf/
    kind: int  # record kind of the syscalls completed at exit
    syscalls: tuple[str, ...]  # syscall-table names, parked at enter, sent at exit
    enter_roles: tuple[tuple[str, int], ...]  # syscall-table name -> role handled at enter
    tracepoints: tuple[str, ...]  # category/name this sensor needs
    tracepoint_kinds: tuple[int, ...] = ()  # record kinds its plain tracepoints send (no syscall)

    @property
    def define(self) -> str:
        """The C macro that compiles this sensor's part of the dispatcher."""
        return f"SENSOR_{self.name.upper()}"

    def roles(self) -> dict[str, int]:
        """Syscall name -> role, as loaded into the kernel's `syscall_role` table."""
        table = dict.fromkeys(self.syscalls, self.kind)
        table.update(self.enter_roles)
        return table


SENSORS: tuple[Sensor, ...] = (
    Sensor(
        "process",
        Operation.PROCESS,
        "process.c",
        K.EXEC,
        (),
        (
            ("execve", K.EXEC),
            ("execveat", K.EXEC),
            ("clone", R.CLONE),
            ("clone3", R.CLONE),
            ("exit_group", R.EXIT_GROUP),
        ),
        (
            *SYSCALL_TRACEPOINTS,
            "sched/sched_process_exec",
            "sched/sched_process_fork",
            "sched/sched_process_exit",
        ),
        (K.FORK, K.EXIT),
    ),
    Sensor(
        "file",
        Operation.FILE,
        "file.c",
        K.FILE,
        (
            "open",
            "openat",
            "openat2",
            "creat",
            "unlink",
            "unlinkat",
            "rmdir",
            "rename",
            "renameat",
            "renameat2",
            "chmod",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "chown",
            "lchown",
            "fchown",
            "fchownat",
            "symlink",
            "symlinkat",
            "link",
            "linkat",
        ),
        (("chdir", K.CHDIR), ("fchdir", K.CHDIR)),  # keep the process tree's cwd current
        SYSCALL_TRACEPOINTS,
    ),
    Sensor(
        "network",
        Operation.NETWORK,
        "network.c",
        K.NET,
        ("socket", "connect", "bind", "listen", "accept", "accept4"),
        (
            ("write", R.DNS_WRITE),
            ("sendto", R.DNS_SENDTO),
            ("sendmsg", R.DNS_SENDMSG),
            ("sendmmsg", R.DNS_SENDMMSG),
        ),
        (*SYSCALL_TRACEPOINTS, "sock/inet_sock_set_state"),
        (K.TCP_STATE,),
    ),
    Sensor(
        "syscall",
        Operation.SYSCALL,
        "syscalls.c",
        K.SYSCALL,
        (
            "setuid",
            "setgid",
            "setreuid",
            "setregid",
            "setresuid",
            "setresgid",
            "setfsuid",
            "setfsgid",
            "ptrace",
            "mount",
            "umount2",
            "unshare",
            "setns",
            "kill",
            "tkill",
            "tgkill",
            "bpf",
            "init_module",
            "finit_module",
            "memfd_create",
            "io_uring_setup",
            "chroot",
            "pivot_root",
        ),
        (),
        SYSCALL_TRACEPOINTS,
    ),
    Sensor(
        "capability",
        Operation.CAPABILITY,
        "capability.c",
        K.CAP,
        (),
        (),
        ("capability/cap_capable",),
        (K.CAP,),
    ),
)

SENSOR_NAMES = tuple(s.name for s in SENSORS)
# syscall-table name -> its syscalls:sys_enter_* tracepoint name, where they differ
TRACEPOINT_NAMES = {"umount2": "umount"}


def needs_of(operations: Iterable[Operation]) -> Needs:
    """Every syscall and record kind of the sensors of `operations` (what a class covers)."""
    wanted = set(operations)
    chosen = [s for s in SENSORS if s.operation in wanted]
    return Needs(
        syscalls=frozenset(name for s in chosen for name in s.roles()),
        kinds=frozenset(kind for s in chosen for kind in s.tracepoint_kinds),
    )

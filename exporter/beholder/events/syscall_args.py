"""Which arguments of the syscall sensor's calls matter, where the record carries them, and how
they read: one row per syscall, read by the decoder (record → `SyscallArgs`), by the
KubeArmor renderer (`formats.arguments`), by the OTLP encoder (`otel.arg_values`) and by the
readers of recorded text.

A record carries the six raw argument words and up to two strings the C side copied
(`bpf/syscalls.c`). Tracing one more syscall of this sensor is its C case (which strings to
copy), its row here and its name in `sensors/catalog.py`; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass

# Where a value comes from: argument words 0-5, or the record's first/second string.
STRING1, STRING2 = 6, 7
# How a value reads (and renders).
SIGNED = 0  # an int/pid_t argument: the low 32 bits, signed
UNSIGNED = 1  # a word as it is (request numbers, counts)
HEX = 2  # a flags word, printed as 0x… as KubeArmor prints it
TEXT = 3  # a string the C side copied


@dataclass(frozen=True, slots=True)
class Arg:
    """One named argument: its source, its style, and whether it is what the call acts on
    (the event's resource: a mount target, a chroot path)."""

    name: str
    source: int
    style: int = SIGNED
    subject: bool = False


SYSCALL_ARGS: dict[str, tuple[Arg, ...]] = {
    "ptrace": (Arg("request", 0, UNSIGNED), Arg("pid", 1)),
    "kill": (Arg("pid", 0), Arg("sig", 1)),
    "tkill": (Arg("pid", 0), Arg("sig", 1)),
    "tgkill": (Arg("pid", 0), Arg("tid", 1), Arg("sig", 2)),
    "mount": (Arg("source", STRING1, TEXT), Arg("flags", 3, HEX), Arg("target", STRING2, TEXT, True)),
    "umount2": (Arg("path", STRING1, TEXT, True), Arg("flags", 1, HEX)),
    "memfd_create": (Arg("path", STRING1, TEXT, True), Arg("flags", 1, HEX)),
    "chroot": (Arg("path", STRING1, TEXT, True),),
    "pivot_root": (Arg("path", STRING1, TEXT, True), Arg("put_old", STRING2, TEXT)),
    "unshare": (Arg("flags", 0, HEX),),
    "setns": (Arg("flags", 1, HEX),),
    "bpf": (Arg("cmd", 0),),
    "init_module": (Arg("params", STRING1, TEXT),),
    "finit_module": (Arg("params", STRING1, TEXT),),
    "io_uring_setup": (Arg("entries", 0, UNSIGNED),),
}

# set*id: which ids each call sets, in its argument order (`Credentials` field names).
CREDENTIAL_ARGS: dict[str, tuple[str, ...]] = {
    "setuid": ("uid",),
    "setgid": ("gid",),
    "setfsuid": ("fsuid",),
    "setfsgid": ("fsgid",),
    "setreuid": ("uid", "euid"),
    "setregid": ("gid", "egid"),
    "setresuid": ("uid", "euid", "suid"),
    "setresgid": ("gid", "egid", "sgid"),
}


def subject_of(syscall: str) -> str:
    """The name of the argument a call acts on ("" when it names none)."""
    return next((arg.name for arg in SYSCALL_ARGS.get(syscall, ()) if arg.subject), "")

"""Turn raw syscall argument values into the symbolic text users read.

KubeArmor prints `flags=O_RDONLY|O_CLOEXEC`, `domain=AF_UNIX type=SOCK_STREAM|SOCK_NONBLOCK`;
Kubescape profiles list open flags by name. These tables are the single place that
knows the Linux x86_64 ABI values.
"""

from __future__ import annotations

import socket
from functools import lru_cache
from typing import TYPE_CHECKING

from beholder.events.syscall_table import X86_64_SYSCALLS

if TYPE_CHECKING:
    from beholder.events.facts import Endpoint

_OPEN_ACCESS = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}
# Bit flags in the order strace and KubeArmor print them.
_OPEN_BITS = (
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o4010000, "O_SYNC"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o20200000, "O_TMPFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
)

AT_FDCWD = -100
AT_REMOVEDIR = 0x200

ADDRESS_FAMILIES = {
    0: "AF_UNSPEC",
    1: "AF_UNIX",
    2: "AF_INET",
    10: "AF_INET6",
    16: "AF_NETLINK",
    17: "AF_PACKET",
    38: "AF_ALG",
    40: "AF_VSOCK",
    44: "AF_XDP",
}
SOCKET_TYPES = {
    1: "SOCK_STREAM",
    2: "SOCK_DGRAM",
    3: "SOCK_RAW",
    4: "SOCK_RDM",
    5: "SOCK_SEQPACKET",
    10: "SOCK_PACKET",
}
_SOCK_NONBLOCK = 0o4000
_SOCK_CLOEXEC = 0o2000000
IP_PROTOCOLS = {
    0: "0",
    1: "ICMP",
    6: "TCP",
    17: "UDP",
    58: "ICMPv6",
    132: "SCTP",
    136: "UDPLite",
    255: "RAW",
    262: "MPTCP",
}
TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
}
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)  # fmt: skip


@lru_cache(maxsize=4096)
def open_flag_names(flags: int) -> tuple[str, ...]:
    """`("O_RDONLY", "O_CLOEXEC")` for an open(2) flags word; cached, as few words recur and
    every open event asks (BoB's rules match the names, renderers print them joined)."""
    names = [_OPEN_ACCESS.get(flags & 3, f"0x{flags & 3:x}")]
    rest = flags & ~3
    for bit, name in _OPEN_BITS:
        if rest & bit == bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(f"0x{rest:x}")
    return tuple(names)


@lru_cache(maxsize=4096)
def open_flags(flags: int) -> str:
    """`O_RDONLY|O_CLOEXEC` style text for an open(2) flags word."""
    return "|".join(open_flag_names(flags))


@lru_cache(maxsize=256)
def socket_type(value: int) -> str:
    names = [SOCKET_TYPES.get(value & 0xF, str(value & 0xF))]
    if value & _SOCK_NONBLOCK:
        names.append("SOCK_NONBLOCK")
    if value & _SOCK_CLOEXEC:
        names.append("SOCK_CLOEXEC")
    return "|".join(names)


def open_flags_value(text: str) -> int:
    """The flags word of `O_RDONLY|O_CLOEXEC` style text (the inverse of `open_flags`)."""
    value = 0
    for name in text.split("|"):
        if name.startswith("0x"):
            value |= int(name, 16)
        else:
            value |= _OPEN_VALUES.get(name, 0)
    return value


def socket_type_value(text: str) -> int:
    """The type word of `SOCK_STREAM|SOCK_CLOEXEC` style text (the inverse of `socket_type`)."""
    value = 0
    for name in text.split("|"):
        value |= _TYPE_VALUES.get(name, int(name) if name.isdigit() else 0)
    return value


def family_number(name: str) -> int:
    """`AF_INET` → 2; `AF_24` → 24; unknown text → 0 (AF_UNSPEC)."""
    number = _FAMILY_VALUES.get(name)
    if number is None:
        tail = name.removeprefix("AF_")
        number = int(tail) if tail.isdigit() else 0
    return number


def protocol_number(text: str) -> int:
    """`6` or KubeArmor's `TCP` → 6; unknown text → 0."""
    if text.isdigit():
        return int(text)
    return _PROTOCOL_VALUES.get(text.upper(), 0)


def capability_number(name: str) -> int:
    """`NET_RAW` or `CAP_NET_RAW` → 13; `CAP_50` → 50; unknown → -1."""
    bare = name.removeprefix("CAP_")
    if bare.isdigit():
        return int(bare)
    return _CAPABILITY_VALUES.get(bare, -1)


def protocol_name(protocol: int) -> str:
    """socket(2)'s protocol as KubeArmor prints it in `Resource`: ICMP, TCP, UDP… or the number
    (768, ETH_P_ALL of an AF_PACKET socket, stays a number)."""
    return IP_PROTOCOLS.get(protocol, str(protocol))


def family_name(family: int) -> str:
    return ADDRESS_FAMILIES.get(family, f"AF_{family}")


def capability_name(cap: int) -> str:
    return CAPABILITIES[cap] if 0 <= cap < len(CAPABILITIES) else f"CAP_{cap}"


def syscall_name(nr: int) -> str:
    return X86_64_SYSCALLS.get(nr) or f"syscall_{nr}"


SYSCALL_NUMBERS = {name: nr for nr, name in X86_64_SYSCALLS.items()}
_OPEN_VALUES = {name: bit for bit, name in _OPEN_BITS} | {name: v for v, name in _OPEN_ACCESS.items()}
_TYPE_VALUES = {name: v for v, name in SOCKET_TYPES.items()} | {
    "SOCK_NONBLOCK": _SOCK_NONBLOCK,
    "SOCK_CLOEXEC": _SOCK_CLOEXEC,
}
_FAMILY_VALUES = {name: v for v, name in ADDRESS_FAMILIES.items()}
_PROTOCOL_VALUES = {name.upper(): v for v, name in IP_PROTOCOLS.items() if v}
_CAPABILITY_VALUES = {name: i for i, name in enumerate(CAPABILITIES)}


def endpoint_fields(ep: Endpoint | None) -> dict[str, str]:
    """An endpoint as KubeArmor's fields: `sa_family` plus `sin_addr`/`sin_port`,
    `sin6_addr`/`sin6_port`, `sun_path` or `nl_pid`/`nl_groups`, in that order."""
    if ep is None:
        return {}
    out = {"sa_family": family_name(ep.family)}
    if ep.family == socket.AF_INET:
        if ep.port is not None:
            out["sin_port"] = str(ep.port)
            out["sin_addr"] = ep.ip
    elif ep.family == socket.AF_INET6:
        if ep.port is not None:
            out["sin6_port"] = str(ep.port)
            out["sin6_addr"] = ep.ip
    elif ep.family == socket.AF_UNIX:
        out["sun_path"] = ep.path
    elif ep.nl_pid is not None:
        out["nl_pid"], out["nl_groups"] = str(ep.nl_pid), str(ep.nl_groups)
    return out


def address_resource(fields: dict[str, str]) -> str:
    """KubeArmor's network `Resource`: `sa_family=AF_INET sin_port=53 sin_addr=10.0.0.10`."""
    return " ".join(f"{k}={v}" for k, v in fields.items())

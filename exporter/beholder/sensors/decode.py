"""Decode ring-buffer records (layout: bpf/common.h `struct record`) into `Event`s.

Decoding is total: a short, garbled or unknown record becomes a `DecodeError` that the
reader counts, never an exception that stops the reader. Paths are left as the process
passed them; the enrich stage resolves relative ones against the process's cwd.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from collections.abc import Callable

from beholder.events import Event, Operation
from beholder.events.decoding import (
    AT_FDCWD,
    AT_REMOVEDIR,
    TCP_STATES,
    address_resource,
    capability_name,
    decode_sockaddr,
    family_name,
    open_flags,
    socket_type,
    syscall_name,
)
from beholder.events.syscall_table import X86_64_SYSCALLS
from beholder.sensors.dns import parse_question

HEADER = struct.Struct("<QQIIIIqIIIIII16s6QII")
FIXED_SIZE = HEADER.size  # 136, RECORD_FIXED in C

K_EXEC, K_FORK, K_EXIT, K_FILE, K_NET, K_SYSCALL, K_CAP, K_TCP_STATE, K_DNS, K_CHDIR = range(1, 11)


_OPERATIONS = {
    K_EXEC: Operation.PROCESS,
    K_FORK: Operation.PROCESS,
    K_EXIT: Operation.PROCESS,
    K_FILE: Operation.FILE,
    K_CHDIR: Operation.FILE,
    K_NET: Operation.NETWORK,
    K_TCP_STATE: Operation.NETWORK,
    K_DNS: Operation.NETWORK,
    K_SYSCALL: Operation.SYSCALL,
    K_CAP: Operation.CAPABILITY,
}
_AT_FD_CALLS = frozenset(
    {"openat", "openat2", "unlinkat", "fchmodat", "fchmodat2", "fchownat", "renameat", "renameat2", "linkat"}
)
_OPEN_CALLS = frozenset({"open", "openat", "openat2"})
_SELF_FD_CALLS = frozenset({"fchmod", "fchown", "fchdir"})


class DecodeError(ValueError):
    """The record does not match the layout."""


def _boot_offset_ns() -> int:
    """bpf_ktime_get_ns counts from boot (CLOCK_MONOTONIC); events carry wall-clock ns."""
    return time.time_ns() - time.monotonic_ns()


def _text(raw: bytes) -> str:
    """A C string from the kernel: NUL-terminated, any bytes; keep undecodable bytes visibly."""
    end = raw.find(b"\0")
    return (raw[:end] if end >= 0 else raw).decode("utf-8", "backslashreplace")


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


class Decoder:
    """Stateless apart from the boot-time offset; one per reader."""

    def __init__(self) -> None:
        self.boot_offset_ns = _boot_offset_ns()
        self._by_kind: dict[int, Callable[[Event, tuple, bytes, bytes], None]] = {
            K_EXEC: self._exec,
            K_FORK: self._fork,
            K_EXIT: self._exit,
            K_FILE: self._file,
            K_CHDIR: self._file,
            K_NET: self._net,
            K_SYSCALL: self._syscall,
            K_CAP: self._cap,
            K_TCP_STATE: self._tcp_state,
            K_DNS: self._dns,
        }
        self._names: dict[int, str] = dict(X86_64_SYSCALLS)
        self._comms: dict[bytes, str] = {}

    def decode(self, raw: bytes) -> Event:
        if len(raw) < FIXED_SIZE:
            raise DecodeError(f"record of {len(raw)} bytes is shorter than the {FIXED_SIZE}-byte header")
        (ts, cgroup_id, tgid, tid, uid, gid, retval, kind, nr, flags, repeat, ns_tgid, _pad, comm,
         a0, a1, a2, a3, a4, a5, len1, len2) = HEADER.unpack_from(raw)  # fmt: skip
        handler = self._by_kind.get(kind)
        if handler is None:
            raise DecodeError(f"unknown record kind {kind}")
        end1 = FIXED_SIZE + len1
        if end1 + len2 > len(raw):
            raise DecodeError(f"string lengths {len1}+{len2} overrun a {len(raw)}-byte record")
        name = self._names.get(nr) or (syscall_name(nr) if nr else "")
        text = self._comms.get(comm)
        if text is None:
            text = self._remember_comm(comm)
        op = _OPERATIONS[kind]
        event = Event(ts + self.boot_offset_ns, op, name, retval, tgid, tid, uid, gid, text, cgroup_id)
        if repeat:
            event.repeat_count = repeat
        if ns_tgid:
            event.ns_pid = ns_tgid
        if flags:
            event.truncated = True
        handler(event, (a0, a1, a2, a3, a4, a5), raw[FIXED_SIZE:end1], raw[end1 : end1 + len2])
        return event

    def _remember_comm(self, comm: bytes) -> str:
        """comm values repeat endlessly; decode each once (bounded cache)."""
        if len(self._comms) > 4096:
            self._comms.clear()
        text = self._comms[comm] = _text(comm)
        return text

    # --- process -------------------------------------------------------------------
    def _exec(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        ev.resource = _text(s1)
        argv = tuple(part.decode("utf-8", "backslashreplace") for part in s2.split(b"\0")[:-1]) if s2 else ()
        ev.argv = argv
        if _signed32(a[0]) != AT_FDCWD:
            ev.data["fd"] = str(_signed32(a[0]))
        if argv[1:]:
            ev.data["argv"] = " ".join(argv[1:])

    def _fork(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        ev.syscall = "fork"
        ev.data["parent_pid"] = str(a[0])
        ev.data["child_pid"] = str(a[1])
        ev.resource = str(a[1])

    def _exit(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        ev.syscall = "exit"
        if a[1]:  # exit_group(code): the kernel keeps the low byte
            ev.data["exit_code"] = str(a[0] & 0xFF)
        else:  # killed by a signal, or exited without exit_group
            ev.data["exit_code"] = "unknown"

    # --- file ----------------------------------------------------------------------
    def _file(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        name = ev.syscall
        path = _text(s1)
        data = ev.data
        if name in _AT_FD_CALLS:
            data["fd"] = str(_signed32(a[0]))
        if name in _OPEN_CALLS:
            flags = a[1] if name == "open" else a[2]
            data["flags"] = open_flags(flags)
            if flags & 0o100 or flags & 0o20000000:  # O_CREAT or O_TMPFILE carry a mode
                data["mode"] = f"{(a[2] if name == 'open' else a[3]) & 0o7777:04o}"
        elif name == "creat":
            data["flags"] = open_flags(0o1101)  # O_CREAT|O_WRONLY|O_TRUNC
            data["mode"] = f"{a[1] & 0o7777:04o}"
        elif name == "unlinkat":
            data["flags"] = "AT_REMOVEDIR" if a[2] & AT_REMOVEDIR else ""
        elif name in ("chmod", "fchmod"):
            data["mode"] = f"{a[1] & 0o7777:04o}"
        elif name in ("fchmodat", "fchmodat2"):
            data["mode"] = f"{a[2] & 0o7777:04o}"
        elif name in ("chown", "lchown", "fchown"):
            data["uid"], data["gid"] = str(_signed32(a[1])), str(_signed32(a[2]))
        elif name == "fchownat":
            data["uid"], data["gid"] = str(_signed32(a[2])), str(_signed32(a[3]))
        if name in _SELF_FD_CALLS:
            data["fd"] = str(_signed32(a[0]))
        if s2:
            data["newpath"] = _text(s2)
        if name in ("symlink", "symlinkat"):
            # symlink(target, linkpath): the file created is the link; the target is data.
            data["target"] = path
            path = data.pop("newpath", "")
        ev.resource = path

    # --- network -------------------------------------------------------------------
    def _net(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        name = ev.syscall
        if name == "socket":
            domain, kind = family_name(_signed32(a[0])), socket_type(_signed32(a[1]))
            ev.resource = f"domain={domain} type={kind} protocol={_signed32(a[2])}"
            if ev.retval >= 0:
                ev.data["fd"] = str(ev.retval)
            return
        ev.data["fd"] = str(_signed32(a[0]))
        if name == "listen":
            ev.data["backlog"] = str(_signed32(a[1]))
            ev.resource = f"fd={_signed32(a[0])}"
            return
        fields = decode_sockaddr(s1)
        if name in ("accept", "accept4") and ev.retval >= 0:
            ev.data["newfd"] = str(ev.retval)
        ev.resource = address_resource(fields)
        ev.data.update(fields)

    def _tcp_state(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        ev.syscall = "tcp_state"
        family = "AF_INET" if a[4] == 2 else "AF_INET6"
        src = str(ipaddress.ip_address(s1)) if len(s1) in (4, 16) else ""
        dst = str(ipaddress.ip_address(s2)) if len(s2) in (4, 16) else ""
        old = TCP_STATES.get(a[0], str(a[0]))
        new = TCP_STATES.get(a[1], str(a[1]))
        ev.data.update(
            {"sa_family": family, "saddr": src, "sport": str(a[2]), "daddr": dst, "dport": str(a[3]),
             "oldstate": old, "newstate": new}
        )  # fmt: skip
        ev.resource = f"{src}:{a[2]} -> {dst}:{a[3]} {old}->{new}"

    def _dns(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        ev.data["fd"] = str(_signed32(a[0]))
        question = parse_question(s1)
        if question is None:
            ev.data["dns"] = "unparsed"
        else:
            ev.data["qname"], ev.data["qtype"] = question
            ev.resource = question[0]
        server = decode_sockaddr(s2)
        if server:
            ev.data.update(server)

    # --- syscalls and capabilities -------------------------------------------------
    def _syscall(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        name = ev.syscall
        data = ev.data
        if name in ("setuid", "setfsuid"):
            data["userid"] = str(_signed32(a[0]))
        elif name in ("setgid", "setfsgid"):
            data["groupid"] = str(_signed32(a[0]))
        elif name in ("setreuid", "setregid", "setresuid", "setresgid"):
            ids = (a[0], a[1], a[2]) if name.startswith("setres") else (a[0], a[1])
            data["ids"] = ",".join(str(_signed32(i)) for i in ids)
        elif name == "ptrace":
            data["request"], data["pid"] = str(a[0]), str(_signed32(a[1]))
        elif name in ("kill", "tkill"):
            data["pid"], data["sig"] = str(_signed32(a[0])), str(_signed32(a[1]))
        elif name == "tgkill":
            data["pid"], data["tid"], data["sig"] = (
                str(_signed32(a[0])),
                str(_signed32(a[1])),
                str(_signed32(a[2])),
            )
        elif name == "mount":
            data["source"] = _text(s1)
            data["flags"] = hex(a[3])
            ev.resource = _text(s2)
        elif name in ("umount2", "chroot", "memfd_create"):
            ev.resource = _text(s1)
            data["flags"] = hex(a[1]) if name != "chroot" else ""
        elif name in ("unshare", "setns"):
            data["flags"] = hex(a[0] if name == "unshare" else a[1])
        elif name == "bpf":
            data["cmd"] = str(_signed32(a[0]))
        elif name in ("init_module", "finit_module"):
            data["params"] = _text(s1)
        elif name == "io_uring_setup":
            data["entries"] = str(a[0])
        if "pid" in data and not ev.resource:
            ev.resource = data["pid"]

    def _cap(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        ev.syscall = "cap_capable"
        cap = capability_name(_signed32(a[0]))
        ev.data["capability"] = cap
        ev.resource = cap

"""Decode ring-buffer records (layout: bpf/common.h `struct record`) into `Event`s with typed facts.

Decoding is total: a short, garbled or unknown record becomes a `DecodeError` that the
reader counts, never an exception that stops the reader. Paths are left as the process
passed them; the enrich stage resolves relative ones against the process's cwd. Where a
call's facts sit in its record is data, one row per syscall (`events.file_calls`,
`events.net_calls`, `events.syscall_args`), not a branch here.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from collections.abc import Callable
from typing import Final

from beholder.events import Event, Operation, kinds
from beholder.events import facts as f
from beholder.events.abi import (
    F_ARGV_TRUNCATED,
    F_EVAL_ONLY,
    F_KILLED,
    F_TRUNCATED,
    F_UNCLASSIFIED,
    HEADER,
    RECORD_FIXED,
    RecordKind,
)
from beholder.events.decoding import AT_FDCWD, AT_REMOVEDIR, syscall_name
from beholder.events.file_calls import FILE_CALLS, LINK, NEW_PATH, NONE, PATH_ONLY, FileCall
from beholder.events.net_calls import ADDRESS, NET_CALLS, NetCall
from beholder.events.syscall_args import CREDENTIAL_ARGS, SIGNED, STRING1, SYSCALL_ARGS, TEXT
from beholder.events.syscall_table import X86_64_SYSCALLS
from beholder.sensors.dns import parse_question

_OPERATIONS: dict[int, Operation] = {
    RecordKind.EXEC: Operation.PROCESS,
    RecordKind.FORK: Operation.PROCESS,
    RecordKind.EXIT: Operation.PROCESS,
    RecordKind.FILE: Operation.FILE,
    RecordKind.CHDIR: Operation.FILE,
    RecordKind.NET: Operation.NETWORK,
    RecordKind.TCP_STATE: Operation.NETWORK,
    RecordKind.DNS: Operation.NETWORK,
    RecordKind.SYSCALL: Operation.SYSCALL,
    RecordKind.CAP: Operation.CAPABILITY,
}
# Record kinds whose event kind does not depend on the syscall.
_FIXED_KINDS: dict[int, str] = {
    RecordKind.FORK: kinds.PROCESS_FORK,
    RecordKind.EXIT: kinds.PROCESS_EXIT,
    RecordKind.EXEC: kinds.PROCESS_EXEC,
    RecordKind.CHDIR: kinds.FILE_CHDIR,
    RecordKind.TCP_STATE: kinds.NETWORK_TCP_STATE,
    RecordKind.DNS: kinds.NETWORK_DNS,
    RecordKind.CAP: kinds.CAPABILITY_CHECK,
}
_TRUNCATION = F_TRUNCATED | F_ARGV_TRUNCATED
_CARRIES_MODE: Final = 0o100 | 0o20000000  # O_CREAT or O_TMPFILE: open's mode argument counts


class DecodeError(ValueError):
    """The record does not match the layout."""


def _boot_offset_ns() -> int:
    """bpf_ktime_get_ns counts from boot (CLOCK_MONOTONIC); events carry wall-clock ns."""
    return time.time_ns() - time.monotonic_ns()


def _text(raw: bytes) -> str:
    """A C string from the kernel: NUL-terminated, any bytes; keep undecodable bytes visibly."""
    end = raw.find(b"\0")
    return (raw[:end] if end >= 0 else raw).decode("utf-8", "backslashreplace")


def _sockaddr(raw: bytes) -> f.Endpoint | None:
    """A user-space `struct sockaddr_*`; a short or unknown buffer yields what can be read safely."""
    if len(raw) < 2:
        return None
    family = _U16.unpack_from(raw)[0]
    if family == socket.AF_INET:
        if len(raw) < 8:
            return f.Endpoint(family)
        return f.Endpoint(family, socket.inet_ntop(socket.AF_INET, raw[4:8]), _PORT.unpack_from(raw, 2)[0])
    if family == socket.AF_INET6:
        if len(raw) < 24:
            return f.Endpoint(family)
        return f.Endpoint(family, str(ipaddress.IPv6Address(raw[8:24])), _PORT.unpack_from(raw, 2)[0])
    if family == socket.AF_UNIX:
        path = raw[2:]
        if path[:1] == b"\0":  # abstract socket: keep the leading @ like ss(8)
            return f.Endpoint(family, path="@" + _text(path[1:]))
        return f.Endpoint(family, path=_text(path))
    if family == 16 and len(raw) >= 12:  # AF_NETLINK: nl_pid, nl_groups
        pid, groups = _NETLINK.unpack_from(raw, 4)
        return f.Endpoint(family, nl_pid=pid, nl_groups=groups)
    return f.Endpoint(family)


_U16, _PORT, _NETLINK = struct.Struct("<H"), struct.Struct(">H"), struct.Struct("<II")


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


class Decoder:
    """Stateless apart from the boot-time offset and the kernel-interest tallies; one per reader."""

    def __init__(self) -> None:
        self.boot_offset_ns = _boot_offset_ns()
        self._by_kind: dict[int, Callable[[Event, tuple, bytes, bytes], None]] = {
            RecordKind.EXEC: self._exec,
            RecordKind.FORK: self._fork,
            RecordKind.EXIT: self._exit,
            RecordKind.FILE: self._file,
            RecordKind.CHDIR: self._file,
            RecordKind.NET: self._net,
            RecordKind.SYSCALL: self._syscall,
            RecordKind.CAP: self._cap,
            RecordKind.TCP_STATE: self._tcp_state,
            RecordKind.DNS: self._dns,
        }
        self._names: dict[int, str] = dict(X86_64_SYSCALLS)
        # The sensors' rows, as attributes: compiled, a module global costs a dict lookup per use.
        self._file_calls: dict[str, FileCall] = FILE_CALLS
        self._net_calls: dict[str, NetCall] = NET_CALLS
        self._comms: dict[bytes, str] = {}
        self._heads: dict[int, tuple[Callable, Operation, str, str]] = {}
        self.evaluate_only = 0  # records the kernel sent for evaluation only (kernel interest)
        self.unclassified: dict[int, int] = {}  # cgroup id the kernel asks to classify -> a pid in it

    def decode(self, raw: bytes) -> Event:
        if len(raw) < RECORD_FIXED:
            raise DecodeError(f"record of {len(raw)} bytes is shorter than the {RECORD_FIXED}-byte header")
        (ts, cgroup_id, tgid, tid, uid, gid, retval, kind, nr, flags, repeat, ns_tgid, _pad, comm,
         a0, a1, a2, a3, a4, a5, len1, len2) = HEADER.unpack_from(raw)  # fmt: skip
        head = self._heads.get(kind << 32 | nr)
        if head is None:
            head = self._head(kind, nr)
        handler, op, name, event_kind = head
        end1 = RECORD_FIXED + len1
        if end1 + len2 > len(raw):
            raise DecodeError(f"string lengths {len1}+{len2} overrun a {len(raw)}-byte record")
        text = self._comms.get(comm)
        if text is None:
            text = self._remember_comm(comm)
        event = Event(
            ts + self.boot_offset_ns, op, name, retval, tgid, tid, uid, gid, text, cgroup_id, event_kind
        )
        if repeat:
            event.repeat_count = repeat
        if ns_tgid:
            event.ns_pid = ns_tgid
        if flags:
            self._flagged(event, flags)
        handler(event, (a0, a1, a2, a3, a4, a5), raw[RECORD_FIXED:end1], raw[end1 : end1 + len2])
        return event

    def _flagged(self, event: Event, flags: int) -> None:
        event.truncated = bool(flags & _TRUNCATION)
        event.killed = bool(flags & F_KILLED)
        if flags & F_EVAL_ONLY:
            event.evaluate_only = True
            self.evaluate_only += 1
        if flags & F_UNCLASSIFIED:
            self.unclassified[event.cgroup_id] = event.host_pid

    def _head(self, kind: int, nr: int) -> tuple[Callable, Operation, str, str]:
        """(handler, operation, syscall name, event kind) of a (record kind, syscall), once each."""
        handler = self._by_kind.get(kind)
        if handler is None:
            raise DecodeError(f"unknown record kind {kind}")
        name = self._names.get(nr) or (syscall_name(nr) if nr else "")
        op = _OPERATIONS[kind]
        head = (handler, op, name, _FIXED_KINDS.get(kind) or kinds.kind_of(op.value, name))
        if len(self._heads) > 4096:  # garbled records could name any number
            self._heads.clear()
        self._heads[kind << 32 | nr] = head
        return head

    def _remember_comm(self, comm: bytes) -> str:
        """comm values repeat endlessly; decode each once (bounded cache)."""
        if len(self._comms) > 4096:
            self._comms.clear()
        text = self._comms[comm] = _text(comm)
        return text

    # --- process -------------------------------------------------------------------
    def _exec(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        path = ev.resource = _text(s1)
        if s2:
            ev.argv = tuple(part.decode("utf-8", "backslashreplace") for part in s2.split(b"\0")[:-1])
        dirfd = _signed32(a[0])
        ev.facts = f.Exec(path, None if dirfd == AT_FDCWD else dirfd)

    def _fork(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        ev.syscall = "fork"
        ev.facts = f.Fork(a[0], a[1])

    def _exit(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        ev.syscall = "exit"
        # exit_group(code): the kernel keeps the low byte; else killed by a signal, or no exit_group
        ev.facts = f.Exit(a[0] & 0xFF if a[1] else None)

    # --- file ----------------------------------------------------------------------
    def _file(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        call = self._file_calls.get(ev.syscall, PATH_ONLY)
        flags = a[call.flags] if call.flags != NONE else call.fixed_flags
        access = f.FileAccess(
            _text(s1),
            _signed32(a[call.fd]) if call.fd != NONE else None,
            flags if flags != NONE else None,
            a[call.mode] & 0o7777 if call.mode != NONE and (flags == NONE or flags & _CARRIES_MODE) else None,
        )
        if call.owner != NONE:
            access.owner_uid, access.owner_gid = _signed32(a[call.owner]), _signed32(a[call.owner + 1])
        if call.at_flags != NONE:
            access.at_flags = a[call.at_flags]
        if call.remove_dir != NONE:
            access.remove_dir = bool(a[call.remove_dir] & AT_REMOVEDIR)
        if call.second == LINK:  # symlink(target, linkpath): the file created is the link
            access.target, access.path = access.path, _text(s2)
        elif s2 and call.second == NEW_PATH:
            access.new_path = _text(s2)
        ev.facts = access
        ev.resource = access.path

    # --- network -------------------------------------------------------------------
    def _net(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        call = self._net_calls.get(ev.syscall, ADDRESS)
        if call.creates:
            family, kind, protocol = _signed32(a[0]), _signed32(a[1]), _signed32(a[2])
            ev.facts = f.Socket(family, kind, protocol, ev.retval if ev.retval >= 0 else None)
        elif call.backlog != NONE:
            ev.facts = f.SocketCall(_signed32(a[0]), backlog=_signed32(a[call.backlog]))
        else:
            facts = ev.facts = f.SocketCall(_signed32(a[0]), _sockaddr(s1))
            if call.returns_fd and ev.retval >= 0:
                facts.new_fd = ev.retval

    def _tcp_state(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        ev.syscall = "tcp_state"
        family = a[4] if a[4] in (f.AF_INET, f.AF_INET6) else f.AF_INET6
        src = str(ipaddress.ip_address(s1)) if len(s1) in (4, 16) else ""
        dst = str(ipaddress.ip_address(s2)) if len(s2) in (4, 16) else ""
        ev.facts = f.TcpState(f.Endpoint(family, src, a[2]), f.Endpoint(family, dst, a[3]), a[0], a[1])

    def _dns(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        question = parse_question(s1)
        ev.facts = f.DnsQuestion(_signed32(a[0]), None, server=_sockaddr(s2))
        if question is not None:
            ev.facts.name, ev.facts.type = question
            ev.resource = question[0]

    # --- syscalls and capabilities -------------------------------------------------
    def _syscall(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        name = ev.syscall
        ids = CREDENTIAL_ARGS.get(name)
        if ids is not None:
            cred = ev.facts = f.Credentials()
            for i, field in enumerate(ids):
                setattr(cred, field, _signed32(a[i]))
            return
        values: dict[str, int | str] = {}
        for arg in SYSCALL_ARGS.get(name, ()):
            source, style = arg.source, arg.style
            if style == TEXT:
                text = _text(s1 if source == STRING1 else s2)
                if arg.subject:
                    ev.resource = text
                values[arg.name] = text
            else:
                values[arg.name] = _signed32(a[source]) if style == SIGNED else a[source]
        ev.facts = f.SyscallArgs(values)

    def _cap(self, ev: Event, a: tuple, s1: bytes, s2: bytes) -> None:
        ev.syscall = "cap_capable"
        ev.facts = f.Capability(_signed32(a[0]))

"""An OTLP log record's attributes back into the event's typed facts, kind by kind.

The encoder's per-kind mapping (`otel.event_attrs`) read backwards: the attribute names, the
endpoint roles, the file attributes and the TCP state names are the ones it writes, taken
from there, so a change to the mapping is a change to both directions. Attributes hold
numbers as numbers, so no KubeArmor text is parsed on the way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from beholder.events import facts as f
from beholder.events import kinds
from beholder.events.decoding import (
    AT_REMOVEDIR,
    TCP_STATES,
    capability_number,
    family_number,
    open_flags_value,
    socket_type_value,
)
from beholder.events.syscall_args import CREDENTIAL_ARGS, SYSCALL_ARGS, subject_of
from beholder.otel import semconv as sc
from beholder.otel.arg_values import ARG_PREFIX
from beholder.otel.event_attrs import ENDPOINT_PEER, ENDPOINT_ROLE, FILE_ATTRIBUTES, OTEL_TCP_STATES

Attrs = Mapping[str, Any]
# network.connection.state → the kernel's number (SYN_RECV for syn_received, not NEW_SYN_RECV)
_TCP_STATE_NUMBERS = {
    OTEL_TCP_STATES[name]: n for n, name in reversed(TCP_STATES.items()) if name in OTEL_TCP_STATES
}


def _int(attrs: Attrs, key: str) -> int | None:
    value = attrs.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0) if value not in (None, "") else None
    except ValueError:
        return None


def _arg(attrs: Attrs, name: str) -> int | None:
    return _int(attrs, ARG_PREFIX + name)


def _endpoint(attrs: Attrs, kind: str) -> f.Endpoint | None:
    family = attrs.get(sc.BEHOLDER_NETWORK_ADDRESS_FAMILY)
    if family is None:
        return None
    number = family_number(str(family))
    address_attr, port_attr = ENDPOINT_ROLE.get(kind, ENDPOINT_PEER)
    address, port = str(attrs.get(address_attr, "")), _int(attrs, port_attr)
    if number == f.AF_UNIX:
        return f.Endpoint(number, path=address)
    nl_pid = _arg(attrs, "nl_pid")
    if nl_pid is not None:
        return f.Endpoint(number, nl_pid=nl_pid, nl_groups=_arg(attrs, "nl_groups"))
    return f.Endpoint(number, address, port)


def _exec(attrs: Attrs, kind: str, syscall: str) -> f.Facts:
    return f.Exec(str(attrs.get(sc.PROCESS_EXECUTABLE_PATH, "")), _arg(attrs, "fd"))


def _fork(attrs: Attrs, kind: str, syscall: str) -> f.Facts:
    return f.Fork(_int(attrs, sc.PROCESS_PID) or 0, _int(attrs, sc.BEHOLDER_PROCESS_CHILD_PID) or 0)


def _exit(attrs: Attrs, kind: str, syscall: str) -> f.Facts:
    return f.Exit(_int(attrs, sc.PROCESS_EXIT_CODE))


def _file(attrs: Attrs, kind: str, syscall: str) -> f.Facts:
    access = f.FileAccess(str(attrs.get(sc.FILE_PATH, "")), dirfd=_arg(attrs, "fd"))
    mode = attrs.get(FILE_ATTRIBUTES["mode"])
    access.mode = int(str(mode), 8) if mode not in (None, "") and str(mode).isdigit() else None
    access.owner_uid, access.owner_gid = (
        _int(attrs, FILE_ATTRIBUTES["uid"]),
        _int(attrs, FILE_ATTRIBUTES["gid"]),
    )
    access.new_path = str(attrs.get(FILE_ATTRIBUTES["newpath"], ""))
    access.target = str(attrs.get(FILE_ATTRIBUTES["target"], ""))
    flags = attrs.get(sc.BEHOLDER_FILE_OPEN_FLAGS)
    if flags:
        access.flags = open_flags_value(str(flags))
    at_flags = _arg(attrs, "flags")
    if syscall == "unlinkat":
        access.remove_dir = bool((at_flags or 0) & AT_REMOVEDIR)
    elif syscall == "fchownat":
        access.at_flags = at_flags
    return access


def _socket(attrs: Attrs, kind: str, syscall: str) -> f.Facts:
    return f.Socket(
        family_number(str(attrs.get(sc.BEHOLDER_NETWORK_ADDRESS_FAMILY, ""))),
        socket_type_value(str(attrs.get(sc.BEHOLDER_NETWORK_SOCKET_TYPE, ""))),
        _arg(attrs, "protocol") or 0,
        _arg(attrs, "fd"),
    )


def _socket_call(attrs: Attrs, kind: str, syscall: str) -> f.Facts:
    return f.SocketCall(
        _arg(attrs, "fd") or 0,
        _endpoint(attrs, kind),
        new_fd=_arg(attrs, "newfd"),
        backlog=_arg(attrs, "backlog"),
    )


def _dns(attrs: Attrs, kind: str, syscall: str) -> f.Facts:
    name = attrs.get(sc.DNS_QUESTION_NAME)
    return f.DnsQuestion(
        _arg(attrs, "fd") or 0,
        None if name is None else str(name),
        str(attrs.get(sc.BEHOLDER_DNS_QUESTION_TYPE, "")) if name is not None else "",
        _endpoint(attrs, kind),
    )


def _tcp_state(attrs: Attrs, kind: str, syscall: str) -> f.Facts:
    family = family_number(str(attrs.get(sc.BEHOLDER_NETWORK_ADDRESS_FAMILY, "AF_INET")))
    local = f.Endpoint(
        family, str(attrs.get(sc.NETWORK_LOCAL_ADDRESS, "")), _int(attrs, sc.NETWORK_LOCAL_PORT)
    )
    peer = f.Endpoint(family, str(attrs.get(sc.NETWORK_PEER_ADDRESS, "")), _int(attrs, sc.NETWORK_PEER_PORT))
    if sc.NETWORK_PEER_ADDRESS not in attrs:  # LISTEN: the encoder leaves the unspecified peer out
        peer = f.Endpoint(family, "0.0.0.0" if family == f.AF_INET else "::", 0)
    old = _TCP_STATE_NUMBERS.get(str(attrs.get(sc.BEHOLDER_NETWORK_CONNECTION_PREVIOUS_STATE, "")), 0)
    return f.TcpState(
        local, peer, old, _TCP_STATE_NUMBERS.get(str(attrs.get(sc.NETWORK_CONNECTION_STATE, "")), 0)
    )


def _capability(attrs: Attrs, kind: str, syscall: str) -> f.Facts:
    return f.Capability(capability_number(str(attrs.get(sc.BEHOLDER_CAPABILITY_NAME, ""))))


def _syscall(attrs: Attrs, kind: str, syscall: str) -> f.Facts:
    args = {key[len(ARG_PREFIX) :]: value for key, value in attrs.items() if key.startswith(ARG_PREFIX)}
    named = CREDENTIAL_ARGS.get(syscall)
    if named is not None:
        text = str(args.get("ids", args.get("userid", args.get("groupid", ""))))
        cred = f.Credentials()
        for field, value in zip(named, text.split(","), strict=False):
            setattr(cred, field, int(value))
        return cred
    row = {arg.name for arg in SYSCALL_ARGS.get(syscall, ())}  # a recording of a rowless call keeps all
    values: dict[str, int | str] = {
        k: v if isinstance(v, int) else str(v) for k, v in args.items() if not row or k in row
    }
    subject = subject_of(syscall)
    if subject and sc.BEHOLDER_RESOURCE in attrs:
        values[subject] = str(attrs[sc.BEHOLDER_RESOURCE])
    return f.SyscallArgs(values)


_BY_KIND: dict[str, Callable[[Attrs, str, str], f.Facts]] = {
    kinds.PROCESS_EXEC: _exec,
    kinds.PROCESS_FORK: _fork,
    kinds.PROCESS_EXIT: _exit,
    kinds.NETWORK_SOCKET: _socket,
    kinds.NETWORK_CONNECT: _socket_call,
    kinds.NETWORK_BIND: _socket_call,
    kinds.NETWORK_ACCEPT: _socket_call,
    kinds.NETWORK_LISTEN: _socket_call,
    kinds.NETWORK_DNS: _dns,
    kinds.NETWORK_TCP_STATE: _tcp_state,
    kinds.CAPABILITY_CHECK: _capability,
}


def facts_from_attributes(attrs: Attrs, kind: str, syscall: str) -> f.Facts | None:
    """The typed facts an encoded event of this kind carried."""
    build = _BY_KIND.get(kind)
    if build is None:
        if kind.startswith("beholder.file."):
            build = _file
        elif kind.startswith("beholder.syscall."):
            build = _syscall
        else:
            return None
    return build(attrs, kind, syscall)

"""A syscall's remaining arguments as OTLP values, read from the event's facts: one function
per facts class, the encoder's one table of them.

The registry declares `beholder.syscall.arg.fd`, `.flags`, `.pid`… as ints: those come
straight from the facts' numbers. The other arguments are text on the wire (`mode` is
`0644`, open flags are named, as `file.mode` and `beholder.file.open_flags` want), in the
order KubeArmor prints them (`formats.arguments`), so a record's attributes keep their
order. Only text a recording holds (a KubeArmor `Data` value of a call without a row in
`events.syscall_args`) is read as a number here, by `arg_number`.
"""

from __future__ import annotations

from collections.abc import Callable

from beholder.events import facts as f
from beholder.events.decoding import (
    AT_REMOVEDIR,
    TCP_STATES,
    endpoint_fields,
    family_name,
    open_flags,
)
from beholder.events.file_calls import AT_FD_CALLS, SELF_FD_CALLS
from beholder.events.model import Event
from beholder.events.syscall_args import SYSCALL_ARGS, TEXT
from beholder.otel import semconv as sc

ARG_PREFIX = sc.BEHOLDER_SYSCALL_ARG + "."
# Arguments the registry declares as ints: numbers on the wire.
INT_ARGS = frozenset(
    name[len(ARG_PREFIX) :]
    for name, kind in sc.ATTRIBUTE_TYPES.items()
    if name.startswith(ARG_PREFIX) and kind == "int"
)
ArgValues = list[tuple[str, int | str]]


def arg_values(event: Event) -> ArgValues:
    """(argument name, value) pairs of the event's facts: ints for the registry's int arguments."""
    facts = event.facts
    values = _VALUES.get(type(facts))
    return values(event, facts) if values is not None else []


def arg_number(text: str) -> int | None:
    """A recorded numeric argument's value from its `Data` text; None when it is no number."""
    if text == "AT_REMOVEDIR":  # the one flag `Data` spells by name (unlinkat)
        return AT_REMOVEDIR
    try:
        return int(text, 0)
    except ValueError:
        return None


def _exec(ev: Event, x: f.Exec) -> ArgValues:
    out: ArgValues = [] if x.dirfd is None else [("fd", x.dirfd)]
    if ev.argv[1:]:
        out.append(("argv", " ".join(ev.argv[1:])))
    return out


def _fork(ev: Event, x: f.Fork) -> ArgValues:
    return [("parent_pid", str(x.parent_pid)), ("child_pid", str(x.child_pid))]


def _exit(ev: Event, x: f.Exit) -> ArgValues:
    return [("exit_code", "unknown" if x.code is None else str(x.code))]


def _file(ev: Event, x: f.FileAccess) -> ArgValues:
    name = ev.syscall
    out: ArgValues = []
    if name in AT_FD_CALLS and x.dirfd is not None:
        out.append(("fd", x.dirfd))
    if x.flags is not None:
        out.append(("flags", open_flags(x.flags)))
        if x.mode is not None:
            out.append(("mode", f"{x.mode:04o}"))
    elif name == "unlinkat":
        if x.remove_dir:
            out.append(("flags", AT_REMOVEDIR))
    elif x.mode is not None:
        out.append(("mode", f"{x.mode:04o}"))
    elif x.owner_uid is not None:
        out += [("uid", str(x.owner_uid)), ("gid", str(x.owner_gid))]
        if x.at_flags is not None:
            out.append(("flags", x.at_flags))
    if name in SELF_FD_CALLS and x.dirfd is not None:
        out.append(("fd", x.dirfd))
    if x.new_path:
        out.append(("newpath", x.new_path))
    if x.target:
        out.append(("target", x.target))
    return out


def _endpoint(ep: f.Endpoint | None) -> ArgValues:
    return list(endpoint_fields(ep).items())


def _socket(ev: Event, x: f.Socket) -> ArgValues:
    return [] if x.fd is None else [("fd", x.fd)]


def _socket_call(ev: Event, x: f.SocketCall) -> ArgValues:
    out: ArgValues = [("fd", x.fd)]
    if x.backlog is not None:
        out.append(("backlog", x.backlog))
        return out
    if x.new_fd is not None:
        out.append(("newfd", x.new_fd))
    return out + _endpoint(x.endpoint)


def _tcp_state(ev: Event, x: f.TcpState) -> ArgValues:
    return [
        ("sa_family", family_name(x.local.family)),
        ("saddr", x.local.ip),
        ("sport", str(x.local.port)),
        ("daddr", x.peer.ip),
        ("dport", str(x.peer.port)),
        ("oldstate", TCP_STATES.get(x.old_state, str(x.old_state))),
        ("newstate", TCP_STATES.get(x.new_state, str(x.new_state))),
    ]


def _dns(ev: Event, x: f.DnsQuestion) -> ArgValues:
    out: ArgValues = [("fd", x.fd)]
    if x.name is None:
        out.append(("dns", "unparsed"))
    else:
        out += [("qname", x.name), ("qtype", x.type)]
    return out + _endpoint(x.server)


def _credentials(ev: Event, x: f.Credentials) -> ArgValues:
    ids = x.ids()
    if len(ids) != 1:
        return [("ids", ",".join(map(str, ids)))]
    return [("groupid" if x.group else "userid", ids[0])]


def _syscall(ev: Event, x: f.SyscallArgs) -> ArgValues:
    """The row's arguments but the one the call acts on (the resource), in the row's order; a
    call without a row (a recording's) has what it was recorded with."""
    values = x.values
    spec = SYSCALL_ARGS.get(ev.syscall)
    if spec is None:
        return list(values.items())
    out: ArgValues = []
    for arg in spec:
        value = values.get(arg.name)
        if value is not None and not arg.subject:
            out.append((arg.name, value if arg.style != TEXT or isinstance(value, str) else str(value)))
    return out


def _capability(ev: Event, x: f.Capability) -> ArgValues:
    return [("capability", x.name)]


_VALUES: dict[type, Callable] = {
    f.Exec: _exec,
    f.Fork: _fork,
    f.Exit: _exit,
    f.FileAccess: _file,
    f.Socket: _socket,
    f.SocketCall: _socket_call,
    f.TcpState: _tcp_state,
    f.DnsQuestion: _dns,
    f.Credentials: _credentials,
    f.SyscallArgs: _syscall,
    f.Capability: _capability,
}

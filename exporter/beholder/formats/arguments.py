"""A syscall's arguments as KubeArmor prints them (`Data`, `EventData`), rendered from facts.

`flags=O_RDONLY|O_CLOEXEC`, `mode=0644`, `sa_family=AF_INET sin_port=53 sin_addr=…`: the
decoder and the readers of recorded files fill typed facts only, and this module writes their
text, in the order KubeArmor prints them, when an output needs it.
"""

from __future__ import annotations

from collections.abc import Callable

from beholder.events import facts as f
from beholder.events.decoding import (
    TCP_STATES,
    endpoint_fields,
    family_name,
    open_flags,
)
from beholder.events.file_calls import AT_FD_CALLS, SELF_FD_CALLS
from beholder.events.model import Event
from beholder.events.syscall_args import HEX, SYSCALL_ARGS


def arguments(event: Event) -> dict[str, str]:
    """The event's arguments as KubeArmor-style strings."""
    render = _RENDER.get(type(event.facts))
    return render(event, event.facts) if render is not None else {}


def _exec(ev: Event, x: f.Exec) -> dict[str, str]:
    out = {} if x.dirfd is None else {"fd": str(x.dirfd)}
    if ev.argv[1:]:
        out["argv"] = " ".join(ev.argv[1:])
    return out


def _fork(ev: Event, x: f.Fork) -> dict[str, str]:
    return {"parent_pid": str(x.parent_pid), "child_pid": str(x.child_pid)}


def _exit(ev: Event, x: f.Exit) -> dict[str, str]:
    return {"exit_code": "unknown" if x.code is None else str(x.code)}


def _file(ev: Event, x: f.FileAccess) -> dict[str, str]:
    name = ev.syscall
    out: dict[str, str] = {}
    if name in AT_FD_CALLS and x.dirfd is not None:  # a recording may not say
        out["fd"] = str(x.dirfd)
    if x.flags is not None:
        out["flags"] = open_flags(x.flags)
        if x.mode is not None:
            out["mode"] = f"{x.mode:04o}"
    elif name == "unlinkat":
        out["flags"] = "AT_REMOVEDIR" if x.remove_dir else ""
    elif x.mode is not None:
        out["mode"] = f"{x.mode:04o}"
    elif x.owner_uid is not None:
        out["uid"], out["gid"] = str(x.owner_uid), str(x.owner_gid)
        if x.at_flags is not None:
            out["flags"] = str(x.at_flags)
    if name in SELF_FD_CALLS and x.dirfd is not None:
        out["fd"] = str(x.dirfd)
    if x.new_path:
        out["newpath"] = x.new_path
    if x.target:
        out["target"] = x.target
    return out


def _socket(ev: Event, x: f.Socket) -> dict[str, str]:
    return {} if x.fd is None else {"fd": str(x.fd)}


def _socket_call(ev: Event, x: f.SocketCall) -> dict[str, str]:
    out = {"fd": str(x.fd)}
    if x.backlog is not None:
        out["backlog"] = str(x.backlog)
        return out
    if x.new_fd is not None:
        out["newfd"] = str(x.new_fd)
    out.update(endpoint_fields(x.endpoint))
    return out


def _tcp_state(ev: Event, x: f.TcpState) -> dict[str, str]:
    return {
        "sa_family": family_name(x.local.family),
        "saddr": x.local.ip,
        "sport": str(x.local.port),
        "daddr": x.peer.ip,
        "dport": str(x.peer.port),
        "oldstate": TCP_STATES.get(x.old_state, str(x.old_state)),
        "newstate": TCP_STATES.get(x.new_state, str(x.new_state)),
    }


def _dns(ev: Event, x: f.DnsQuestion) -> dict[str, str]:
    out = {"fd": str(x.fd)}
    if x.name is None:
        out["dns"] = "unparsed"
    else:
        out["qname"], out["qtype"] = x.name, x.type
    out.update(endpoint_fields(x.server))
    return out


def _credentials(ev: Event, x: f.Credentials) -> dict[str, str]:
    ids = x.ids()
    if len(ids) != 1:
        return {"ids": ",".join(map(str, ids))}
    return {("groupid" if x.group else "userid"): str(ids[0])}


def _syscall(ev: Event, x: f.SyscallArgs) -> dict[str, str]:
    """Every argument but the one the call acts on (that is the resource), in the row's order;
    a syscall without a row (a recording's) shows what it was recorded with."""
    values = x.values
    spec = SYSCALL_ARGS.get(ev.syscall)
    if spec is None:
        return {key: str(value) for key, value in values.items()}
    out: dict[str, str] = {}
    for arg in spec:
        value = values.get(arg.name)
        if value is not None and not arg.subject:
            out[arg.name] = hex(value) if arg.style == HEX and isinstance(value, int) else str(value)
    if ev.syscall == "chroot":  # KubeArmor prints an empty flags= for chroot
        out["flags"] = ""
    return out


def _capability(ev: Event, x: f.Capability) -> dict[str, str]:
    return {"capability": x.name}


_RENDER: dict[type, Callable] = {
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

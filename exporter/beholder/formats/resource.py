"""What a call acted on, as one line of text: KubeArmor's `Resource` and the OTLP body's tail.

`domain=AF_INET type=SOCK_STREAM protocol=TCP`, `sa_family=AF_INET sin_port=53 sin_addr=…`,
`10.0.0.1:80 -> 10.0.0.2:4242 SYN_SENT->ESTABLISHED`: rendered from the event's facts when an
output needs it. `Event.resource` holds only a path or name the call itself named (the
file, the program, the DNS name, a mount target); for the rest the facts say it.
"""

from __future__ import annotations

from collections.abc import Callable

from beholder.events import facts as f
from beholder.events.decoding import (
    TCP_STATES,
    address_resource,
    endpoint_fields,
    family_name,
    protocol_name,
    socket_type,
)
from beholder.events.model import Event


def resource_text(event: Event) -> str:
    """The event's resource: its path or name, else its facts as KubeArmor prints them."""
    resource = event.resource
    if resource:
        return resource
    render = _RENDER.get(type(event.facts))
    return render(event.facts) if render is not None else ""


def _socket(x: f.Socket) -> str:
    return f"domain={family_name(x.family)} type={socket_type(x.type)} protocol={protocol_name(x.protocol)}"


def _socket_call(x: f.SocketCall) -> str:
    if x.backlog is not None:  # listen names only its fd
        return f"fd={x.fd}"
    return address_resource(endpoint_fields(x.endpoint))


def _tcp_state(x: f.TcpState) -> str:
    old = TCP_STATES.get(x.old_state, str(x.old_state))
    new = TCP_STATES.get(x.new_state, str(x.new_state))
    return f"{x.local.ip}:{x.local.port} -> {x.peer.ip}:{x.peer.port} {old}->{new}"


def _syscall(x: f.SyscallArgs) -> str:
    pid = x.values.get("pid")  # signals and ptrace act on a process
    return "" if pid is None else str(pid)


# Facts whose resource is always rendered: `Event.resource` stays "" for them.
RENDERED_FACTS = (f.Socket, f.SocketCall, f.TcpState, f.Fork, f.Capability)
_RENDER: dict[type, Callable] = {
    f.Socket: _socket,
    f.SocketCall: _socket_call,
    f.TcpState: _tcp_state,
    f.Fork: lambda x: str(x.child_pid),
    f.Capability: lambda x: x.name,
    f.SyscallArgs: _syscall,
}

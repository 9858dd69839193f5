"""What the summary must remember about open sockets to label connections.

A `connect` or `accept` record carries only an fd and an address; whether it is TCP or
UDP comes from the earlier `socket` call, and an accepted connection's local port from the
earlier `bind` on the listening fd. This table keeps (pid, fd) → socket facts, bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from beholder.events.decoding import family_name
from beholder.events.facts import AF_INET6, INET_FAMILIES, SOCK_DGRAM, SOCK_RAW, Socket, SocketCall
from beholder.events.model import Event


@dataclass(slots=True)
class SocketFacts:
    family: int = 0
    type: int = 0  # SOCK_STREAM / SOCK_DGRAM … (0: unknown)
    port: str = ""


def protocol_name(family: int, kind: int) -> str:
    """`TCP`, `TCPv6`, `UDP`, `UDPv6` for IP sockets (karmor's spelling), else the family."""
    if family not in INET_FAMILIES:
        return family_name(family) if family else "unknown"
    suffix = "v6" if family == AF_INET6 else ""
    base = kind & 0xF
    if base == SOCK_DGRAM:
        return "UDP" + suffix
    if base == SOCK_RAW:
        return "RAW" + suffix
    return "TCP" + suffix


class SocketTable:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._facts: OrderedDict[tuple[int, int], SocketFacts] = OrderedDict()

    def get(self, pid: int, fd: int) -> SocketFacts | None:
        return self._facts.get((pid, fd))

    def _slot(self, pid: int, fd: int) -> SocketFacts:
        facts = self._facts.get((pid, fd))
        if facts is None:
            facts = self._facts[(pid, fd)] = SocketFacts()
            if len(self._facts) > self.limit:
                self._facts.popitem(last=False)
        return facts

    def opened(self, event: Event, sock: Socket) -> None:
        """A `socket()` record: remember family and type under the returned fd."""
        if sock.fd is None or event.retval < 0:
            return
        facts = self._slot(event.host_pid, sock.fd)
        facts.family, facts.type, facts.port = sock.family, sock.type, ""

    def bound(self, event: Event, call: SocketCall, family: int, port: str) -> None:
        facts = self._slot(event.host_pid, call.fd)
        facts.family = facts.family or family
        facts.port = port

    def protocol(self, event: Event, call: SocketCall, family: int) -> str:
        given = call.transport  # KubeArmor's kprobe records name it
        if given:
            return given + ("v6" if family == AF_INET6 else "") if given in ("TCP", "UDP") else given
        facts = self.get(event.host_pid, call.fd)
        return protocol_name(family, facts.type if facts else 0)

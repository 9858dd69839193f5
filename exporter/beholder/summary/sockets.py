"""What the summary must remember about open sockets to label connections.

A `connect` or `accept` record carries only an fd and an address; whether it is TCP or
UDP comes from the earlier `socket` call, and an accepted connection's local port from the
earlier `bind` on the listening fd. This table keeps (pid, fd) → socket facts, bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from beholder.events.model import Event

_INET = {"AF_INET": "", "AF_INET6": "v6"}


@dataclass(slots=True)
class SocketFacts:
    family: str = ""
    kind: str = ""  # SOCK_STREAM / SOCK_DGRAM …
    port: str = ""


def protocol_name(family: str, kind: str) -> str:
    """`TCP`, `TCPv6`, `UDP`, `UDPv6` for IP sockets (karmor's spelling), else the family."""
    suffix = _INET.get(family)
    if suffix is None:
        return family or "unknown"
    if kind.startswith("SOCK_DGRAM"):
        return "UDP" + suffix
    if kind.startswith("SOCK_RAW"):
        return "RAW" + suffix
    return "TCP" + suffix


class SocketTable:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._facts: OrderedDict[tuple[int, str], SocketFacts] = OrderedDict()

    def get(self, pid: int, fd: str) -> SocketFacts | None:
        return self._facts.get((pid, fd))

    def _slot(self, pid: int, fd: str) -> SocketFacts:
        facts = self._facts.get((pid, fd))
        if facts is None:
            facts = self._facts[(pid, fd)] = SocketFacts()
            if len(self._facts) > self.limit:
                self._facts.popitem(last=False)
        return facts

    def opened(self, event: Event) -> None:
        """A `socket()` record: remember family and type under the returned fd."""
        fields = dict(part.partition("=")[::2] for part in event.resource.split())
        fd = event.data.get("fd")
        if fd is None or event.retval < 0:
            return
        facts = self._slot(event.host_pid, fd)
        facts.family, facts.kind, facts.port = fields.get("domain", ""), fields.get("type", ""), ""

    def bound(self, event: Event, family: str, port: str) -> None:
        facts = self._slot(event.host_pid, event.data.get("fd", ""))
        facts.family = facts.family or family
        facts.port = port

    def protocol(self, event: Event, family: str) -> str:
        given = event.data.get("protocol", "")  # KubeArmor's kprobe records name it
        if given and not given.isdigit():
            return given + _INET.get(family, "") if given in ("TCP", "UDP") else given
        facts = self.get(event.host_pid, event.data.get("fd", ""))
        return protocol_name(family, facts.kind if facts else "")

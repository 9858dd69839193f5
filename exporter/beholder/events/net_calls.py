"""What each socket call of the network sensor carries: one row per syscall, read by the
decoder (record → `Socket` / `SocketCall`).

A record carries the six raw argument words (word 0 is the socket fd, but for socket(2))
and, for the calls that name an address, the `struct sockaddr` `bpf/network.c` copied as
the first string. Tracing one more socket call is its C case, its row here and its name in
`sensors/catalog.py`; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from beholder.events.file_calls import NONE


@dataclass(frozen=True, slots=True)
class NetCall:
    """`creates`: socket(2), words 0-2 are (family, type, protocol) and it returns the fd.
    `backlog`: the word of listen's backlog (the call names no address). Otherwise the call
    names an address; `returns_fd`: its result is a new connection's fd (accept)."""

    creates: bool = False
    backlog: int = NONE
    returns_fd: bool = False


ADDRESS = NetCall()  # connect, bind, and a call without a row
NET_CALLS: dict[str, NetCall] = {
    "socket": NetCall(creates=True),
    "connect": ADDRESS,
    "bind": ADDRESS,
    "listen": NetCall(backlog=1),
    "accept": NetCall(returns_fd=True),
    "accept4": NetCall(returns_fd=True),
}

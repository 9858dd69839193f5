"""Each event kind's own attributes, from its typed facts: the event → OTLP mapping, once.

`EventAttributes.specific(event)` returns the kind-specific attributes and whether they
carry what `beholder.resource` would repeat. The syscall's remaining arguments, read from the
facts (`arg_values`), go to `beholder.syscall.arg.<key>`, or to the attribute
`FILE_ATTRIBUTES` names; the
OTLP-file reader (`query/otlp_facts.py`) maps attributes back through the same tables.
"""

from __future__ import annotations

from collections.abc import Callable

from beholder.events import kinds
from beholder.events.decoding import TCP_STATES, family_name, socket_type
from beholder.events.facts import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    Capability,
    DnsQuestion,
    Endpoint,
    Exit,
    FileAccess,
    Fork,
    Socket,
    SocketCall,
    TcpState,
)
from beholder.events.model import Event
from beholder.otel import semconv as sc
from beholder.otel.arg_values import arg_values
from beholder.otel.attr_cache import CACHE_LIMIT, NO_KEYS, AttrCache

# Data keys rendered as their own attribute rather than `beholder.syscall.arg.<key>`.
FILE_ATTRIBUTES = {
    "mode": sc.FILE_MODE,
    "uid": sc.FILE_OWNER_ID,
    "gid": sc.FILE_GROUP_ID,
    "newpath": sc.BEHOLDER_FILE_NEW_PATH,
    "target": sc.FILE_SYMBOLIC_LINK_TARGET_PATH,
}
OPEN_ATTRIBUTES = {**FILE_ATTRIBUTES, "flags": sc.BEHOLDER_FILE_OPEN_FLAGS}
# Which address attributes a network event's endpoint fills, by kind (else network.peer.*).
ENDPOINT_ROLE = {
    kinds.NETWORK_CONNECT: (sc.SERVER_ADDRESS, sc.SERVER_PORT),
    kinds.NETWORK_DNS: (sc.SERVER_ADDRESS, sc.SERVER_PORT),
    kinds.NETWORK_BIND: (sc.NETWORK_LOCAL_ADDRESS, sc.NETWORK_LOCAL_PORT),
    kinds.NETWORK_ACCEPT: (sc.CLIENT_ADDRESS, sc.CLIENT_PORT),
}
ENDPOINT_PEER = (sc.NETWORK_PEER_ADDRESS, sc.NETWORK_PEER_PORT)
OTEL_TCP_STATES = {
    "ESTABLISHED": "established",
    "SYN_SENT": "syn_sent",
    "SYN_RECV": "syn_received",
    "NEW_SYN_RECV": "syn_received",
    "FIN_WAIT1": "fin_wait_1",
    "FIN_WAIT2": "fin_wait_2",
    "TIME_WAIT": "time_wait",
    "CLOSE": "closed",
    "CLOSE_WAIT": "close_wait",
    "LAST_ACK": "last_ack",
    "LISTEN": "listen",
    "CLOSING": "closing",
}
_IP_VERSION = {AF_INET: "ipv4", AF_INET6: "ipv6"}
_ADDRESS_KEYS = ("sin_addr", "sin6_addr", "sun_path")
_PORT_KEYS = ("sin_port", "sin6_port")
_PREVIOUS_STATE = sc.BEHOLDER_NETWORK_CONNECTION_PREVIOUS_STATE
_UNSPECIFIED = ("", "0.0.0.0", "::")

Handler = Callable[[Event], tuple[bytes, bool]]


class EventAttributes:
    """The per-kind part of a record's attributes, encoded through one `AttrCache`."""

    def __init__(self, cache: AttrCache) -> None:
        self._c = cache
        self._sockets: dict[tuple[int, int, int], bytes] = {}
        self._open_args: dict[tuple[str, str, int | None, int, int | None], bytes] = {}
        self._handlers: dict[str, Handler] = {
            kinds.PROCESS_EXEC: self._exec,
            kinds.PROCESS_FORK: self._fork,
            kinds.PROCESS_EXIT: self._exit,
            kinds.NETWORK_SOCKET: self._socket,
            kinds.NETWORK_TCP_STATE: self._tcp_state,
            kinds.NETWORK_CONNECT: self._endpoint,
            kinds.NETWORK_BIND: self._endpoint,
            kinds.NETWORK_ACCEPT: self._endpoint,
            kinds.NETWORK_DNS: self._endpoint,
            kinds.NETWORK_LISTEN: self._listen,
            kinds.CAPABILITY_CHECK: self._capability,
        }
        for kind in (
            kinds.FILE_OPEN,
            kinds.FILE_UNLINK,
            kinds.FILE_RENAME,
            kinds.FILE_CHMOD,
            kinds.FILE_CHOWN,
            kinds.FILE_LINK,
            kinds.FILE_CHDIR,
        ):
            self._handlers[kind] = self._file

    def specific(self, ev: Event) -> tuple[bytes, bool]:
        """(attributes of this kind, whether they carry the resource)."""
        handler = self._handlers.get(ev.kind)
        if handler is None:
            return self._c.args(arg_values(ev), NO_KEYS), False
        return handler(ev)

    # --- process ---------------------------------------------------------------------------
    def _exec(self, ev: Event) -> tuple[bytes, bool]:
        c = self._c
        path = ev.resource
        out = c.present(
            ((sc.PROCESS_EXECUTABLE_PATH, path), (sc.PROCESS_EXECUTABLE_NAME, path.rpartition("/")[2]))
        )
        if ev.argv:
            out += c.array(sc.PROCESS_COMMAND_ARGS, ev.argv)
        return out + c.args(arg_values(ev), NO_KEYS, skip=("argv",)), True

    def _fork(self, ev: Event) -> tuple[bytes, bool]:
        # parent_pid repeats process.pid: the forking process is the event's process.
        fork = ev.facts
        if not isinstance(fork, Fork):
            return self._c.args(arg_values(ev), NO_KEYS, ("parent_pid",)), False
        rest = self._c.args(arg_values(ev), NO_KEYS, ("parent_pid", "child_pid"))
        return self._c.i(sc.BEHOLDER_PROCESS_CHILD_PID, fork.child_pid) + rest, True

    def _exit(self, ev: Event) -> tuple[bytes, bool]:
        done = ev.facts
        if isinstance(done, Exit) and done.code is not None:
            rest = self._c.args(arg_values(ev), NO_KEYS, ("exit_code",))
            return self._c.i(sc.PROCESS_EXIT_CODE, done.code) + rest, False
        return self._c.args(arg_values(ev), NO_KEYS), False

    # --- file ------------------------------------------------------------------------------
    def _file(self, ev: Event) -> tuple[bytes, bool]:
        path = ev.resource  # the file's absolute path (FileAccess.path), as enrichment left it
        out = self._c.s(sc.FILE_PATH, path) if path else b""
        access = ev.facts
        if (
            isinstance(access, FileAccess)
            and access.flags is not None
            and not (access.new_path or access.target)
        ):
            # An open's arguments (fd, flags, mode) follow from these alone: most file events
            # skip rendering them as text only to find the encoded set in the cache.
            key = (ev.kind, ev.syscall, access.dirfd, access.flags, access.mode)
            args = self._open_args.get(key)
            if args is None:
                if len(self._open_args) > CACHE_LIMIT:
                    self._open_args.clear()
                args = self._open_args[key] = self._file_args(ev)
            return out + args, True
        return out + self._file_args(ev), True

    def _file_args(self, ev: Event) -> bytes:
        mapped = OPEN_ATTRIBUTES if ev.kind == kinds.FILE_OPEN else FILE_ATTRIBUTES
        return self._c.args(arg_values(ev), mapped)

    # --- network ---------------------------------------------------------------------------
    def _family(self, family: int) -> bytes:
        c = self._c
        out = c.value(sc.BEHOLDER_NETWORK_ADDRESS_FAMILY, family_name(family))
        version = _IP_VERSION.get(family)
        if version:
            out += c.value(sc.NETWORK_TYPE, version)
        elif family == AF_UNIX:
            out += c.value(sc.NETWORK_TRANSPORT, "unix")
        return out

    def _endpoint(self, ev: Event) -> tuple[bytes, bool]:
        """connect/bind/accept and DNS: the address the call named, in the kind's role."""
        c, facts = self._c, ev.facts
        question = facts if isinstance(facts, DnsQuestion) else None
        endpoint: Endpoint | None = facts.endpoint if isinstance(facts, SocketCall) else None
        if question is not None:
            endpoint = question.server
        out = []
        has_port = False
        if endpoint is not None:
            out.append(self._family(endpoint.family))
            address_attr, port_attr = ENDPOINT_ROLE.get(ev.kind, ENDPOINT_PEER)
            if endpoint.address:
                out.append(c.s(address_attr, endpoint.address))
            if endpoint.port is not None:
                has_port = True
                out.append(c.i(port_attr, endpoint.port))
        named = question is not None and question.name is not None
        if question is not None:
            out.append(c.value(sc.NETWORK_PROTOCOL_NAME, "dns"))
        if named:
            out.append(c.s(sc.DNS_QUESTION_NAME, question.name))  # type: ignore[union-attr, arg-type]
            out.append(c.value(sc.BEHOLDER_DNS_QUESTION_TYPE, question.type))  # type: ignore[union-attr]
        skip = ("sa_family", "qname", "qtype", *_ADDRESS_KEYS, *(_PORT_KEYS if has_port else ()))
        out.append(c.args(arg_values(ev), NO_KEYS, skip))
        return b"".join(out), endpoint is not None or named

    def _socket(self, ev: Event) -> tuple[bytes, bool]:
        sock = ev.facts
        if not isinstance(sock, Socket):
            return self._c.args(arg_values(ev), NO_KEYS), False
        key = (sock.family, sock.type, sock.protocol)
        cached = self._sockets.get(key)
        if cached is None:  # few distinct (family, type, protocol) triples: encode each once
            c = self._c
            kind = socket_type(sock.type)
            cached = self._family(sock.family) + c.s(sc.BEHOLDER_NETWORK_SOCKET_TYPE, kind)
            if sock.family in _IP_VERSION and kind.startswith(("SOCK_STREAM", "SOCK_DGRAM")):
                cached += c.s(sc.NETWORK_TRANSPORT, "tcp" if kind.startswith("SOCK_STREAM") else "udp")
            cached += c.i(f"{sc.BEHOLDER_SYSCALL_ARG}.protocol", sock.protocol)
            self._sockets[key] = cached
        return cached + self._c.args(arg_values(ev), NO_KEYS), True

    def _tcp_state(self, ev: Event) -> tuple[bytes, bool]:
        c, state = self._c, ev.facts
        if not isinstance(state, TcpState):
            return c.args(arg_values(ev), NO_KEYS), False
        out = [self._family(state.local.family), c.value(sc.NETWORK_TRANSPORT, "tcp")]
        skip = ["sa_family"]
        for end, addr_key, port_key, addr_attr, port_attr in (
            (state.local, "saddr", "sport", sc.NETWORK_LOCAL_ADDRESS, sc.NETWORK_LOCAL_PORT),
            (state.peer, "daddr", "dport", sc.NETWORK_PEER_ADDRESS, sc.NETWORK_PEER_PORT),
        ):
            if end is state.peer and end.ip in _UNSPECIFIED and not end.port:  # LISTEN has no peer
                skip += [addr_key, port_key]
                continue
            if end.ip:
                out.append(c.s(addr_attr, end.ip))
                skip.append(addr_key)
            if end.port is not None:
                out.append(c.i(port_attr, end.port))
                skip.append(port_key)
        for number, key, attr in ((state.new_state, "newstate", sc.NETWORK_CONNECTION_STATE),
                                  (state.old_state, "oldstate", _PREVIOUS_STATE)):  # fmt: skip
            name = OTEL_TCP_STATES.get(TCP_STATES.get(number, ""))
            if name:
                out.append(c.value(attr, name))
                skip.append(key)
        out.append(c.args(arg_values(ev), NO_KEYS, tuple(skip)))
        return b"".join(out), True

    def _listen(self, ev: Event) -> tuple[bytes, bool]:
        args = arg_values(ev)
        return self._c.args(args, NO_KEYS), any(name == "fd" for name, _ in args)

    # --- capability ------------------------------------------------------------------------
    def _capability(self, ev: Event) -> tuple[bytes, bool]:
        cap = ev.facts
        name = cap.name if isinstance(cap, Capability) else ev.resource
        rest = self._c.args(arg_values(ev), NO_KEYS, ("capability",))
        return self._c.value(sc.BEHOLDER_CAPABILITY_NAME, name) + rest, True

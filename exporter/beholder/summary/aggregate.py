"""Per-container behaviour tables built from event batches (karmor summary, seed 001).

`Summary.add(events, alerts)` runs on the pipeline's processing thread, so it is one pass
of dictionary updates per batch under one lock; `snapshot()` copies the tables out for the
query endpoint. Everything is bounded: containers, rows per table and remembered sockets
each have a limit, and the least recently updated entry is evicted first.

Status of a row: the outcome of the alert raised on that event (Allow/Audit, Block only
when an enforcer refused the call, whatever source the alert came from), else
`Deny` when the call failed with EPERM/EACCES, else `Allow`. An exec that failed for another
reason (a shell trying each `$PATH` entry gets ENOENT) ran nothing and is left out.
"""

from __future__ import annotations

import errno
import threading
from collections import OrderedDict
from dataclasses import dataclass

from beholder.events import kinds
from beholder.events.decoding import family_name
from beholder.events.facts import AF_UNIX, INET_FAMILIES, SOCK_DGRAM, DnsQuestion, Socket, SocketCall
from beholder.events.model import Alert, ContainerInfo, Event, Operation
from beholder.summary.paths import PathFolder
from beholder.summary.peers import Peer, PeerResolver
from beholder.summary.sockets import SocketTable, protocol_name
from beholder.summary.table import RowTable

TABLES = ("process", "file", "ingress", "egress", "bind")
COLUMNS = {
    "process": ("source", "destination", "status"),
    "file": ("source", "destination", "status"),
    "ingress": ("protocol", "command", "peer", "port", "namespace", "labels"),
    "egress": ("protocol", "command", "peer", "port", "namespace", "labels"),
    "bind": ("protocol", "command", "port", "address"),
}
_DENIED = frozenset({-errno.EPERM, -errno.EACCES})
AF_NETLINK = 16
_SUMMARISED_FAMILIES = INET_FAMILIES | {AF_UNIX, AF_NETLINK}
_SEND = frozenset({"sendto", "sendmsg", "sendmmsg"})
HOST_KEY = ("", "", "")


@dataclass(frozen=True, slots=True)
class SummaryLimits:
    containers: int = 1024
    rows: int = 2000  # per table per container
    sockets: int = 65536


class _Workload:
    """The five tables of one container (or of the host)."""

    def __init__(self, container: ContainerInfo | None, limits: SummaryLimits) -> None:
        self.container = container
        self.tables = {name: RowTable(limits.rows) for name in TABLES}
        self.files = PathFolder(self.tables["file"], limits.rows)


class Summary:
    def __init__(
        self,
        cluster: str = "default",
        resolver: PeerResolver | None = None,
        limits: SummaryLimits | None = None,
    ) -> None:
        self.cluster = cluster
        self.resolver = resolver
        self.limits = limits or SummaryLimits()
        self.evicted_containers = 0
        self._workloads: OrderedDict[tuple[str, str, str], _Workload] = OrderedDict()
        self._sockets = SocketTable(self.limits.sockets)
        self._lock = threading.Lock()

    # --- feeding ---------------------------------------------------------------------------
    def add(self, events: list[Event], alerts: list[Alert] | None = None) -> None:
        """Fold a batch in; an alert lends its action to its event, or adds it when absent.

        Alerts find their event by what was observed rather than by identity, so a replayed
        file, where an event and its alert are separate records, counts the event once.
        Process and file events are first counted per row within the batch, so a batch of
        repeats costs one table update per distinct row, not one per event.
        """
        actions = {_observed(a.event): a for a in alerts} if alerts else {}
        pending: dict[tuple, list] = {}
        with self._lock:
            for event in events:
                alert = actions.pop(_observed(event), None) if actions else None
                self._add(event, alert.outcome.value if alert else None, pending)
            for alert in actions.values():  # alerts whose event is not in this batch
                self._add(alert.event, alert.outcome.value, pending)
            for (_, table, source, destination, status), (container, count, last_ns) in pending.items():
                work = self._workload(container)
                if table == "file":
                    work.files.add(source, destination, status, last_ns, count)
                else:
                    work.tables[table].add((source, destination, status), last_ns, count)

    def _workload(self, container: ContainerInfo | None) -> _Workload:
        key = HOST_KEY
        if container is not None:
            key = (container.namespace, container.pod_name, container.name or container.container_id[:12])
        found = self._workloads.get(key)
        if found is None:
            found = self._workloads[key] = _Workload(container, self.limits)
            if len(self._workloads) > self.limits.containers:
                self._workloads.popitem(last=False)
                self.evicted_containers += 1
        else:
            self._workloads.move_to_end(key)
            if container is not None:
                found.container = container
        return found

    def _add(self, event: Event, action: str | None, pending: dict[tuple, list]) -> None:
        op = event.operation
        if op is Operation.FILE and event.resource:
            table, source = "file", _command(event)
        elif event.kind == kinds.PROCESS_EXEC and event.resource:
            table, source = "process", event.process.parent_exe if event.process else ""
        elif op is Operation.NETWORK:
            self._network(event)
            return
        else:
            return
        status = action or ("Deny" if event.retval in _DENIED else "Allow")
        if table == "process" and event.retval < 0 and status == "Allow":
            return  # a failed exec ran nothing
        ctr = event.container
        key = (id(ctr), table, source, event.resource, status)
        row = pending.get(key)
        if row is None:
            pending[key] = [ctr, 1, event.timestamp_ns]
        else:
            row[1] += 1
            row[2] = max(row[2], event.timestamp_ns)

    def _network(self, event: Event) -> None:
        kind, facts = event.kind, event.facts
        if kind == kinds.NETWORK_SOCKET:
            if isinstance(facts, Socket):
                self._sockets.opened(event, facts)
            return
        if isinstance(facts, SocketCall):
            call, endpoint = facts, facts.endpoint
        elif isinstance(facts, DnsQuestion):  # a datagram to a named server (KubeArmor's udp_sendmsg too)
            call, endpoint = SocketCall(facts.fd), facts.server
        else:
            return
        if endpoint is None or endpoint.family not in _SUMMARISED_FAMILIES:
            return
        family = endpoint.family
        address = endpoint.address
        port = str(endpoint.port) if endpoint.port is not None else ""
        if kind == kinds.NETWORK_BIND:
            self._sockets.bound(event, call, family, port)
            key = (self._protocol(event, call, family), _command(event), port, address)
            self._workload(event.container).tables["bind"].add(key, event.timestamp_ns)
            return
        if family == AF_NETLINK:
            return
        if kind == kinds.NETWORK_CONNECT:
            table, proto = "egress", self._protocol(event, call, family)
        elif event.syscall in _SEND and address:
            table, proto = "egress", protocol_name(family, SOCK_DGRAM)
        elif kind == kinds.NETWORK_ACCEPT:
            # The peer's port is ephemeral; show the port the listening socket was bound to.
            known = self._sockets.get(event.host_pid, call.fd)
            if known is not None:  # a dual-stack listener is TCPv6 even for an IPv4 peer
                table, proto, port = "ingress", protocol_name(known.family or family, known.type), known.port
            else:
                table, proto = "ingress", self._protocol(event, call, family)
                port = port if call.transport else ""
        else:
            return
        if address.startswith("::ffff:") and "." in address:  # IPv4-mapped: show it as IPv4
            address = address[7:]
        peer = self.resolver.resolve(address) if self.resolver and family in INET_FAMILIES else None
        shown, namespace, labels = _peer_columns(address, peer)
        key = (proto, _command(event), shown, port, namespace, labels)
        self._workload(event.container).tables[table].add(key, event.timestamp_ns)

    def _protocol(self, event: Event, call: SocketCall, family: int) -> str:
        if family in INET_FAMILIES:
            return self._sockets.protocol(event, call, family)
        return family_name(family)

    # --- reading ---------------------------------------------------------------------------
    def snapshot(self, namespace: str = "", pod: str = "", container: str = "") -> list[dict]:
        """JSON-ready copy of the matching workloads' tables, rows sorted by their columns."""
        with self._lock:
            out = []
            for key, work in self._workloads.items():
                if _wanted(key, work, namespace, pod, container):
                    out.append(self._describe(work, *key))
        out.sort(key=lambda w: (w["namespace"], w["pod"], w["container"]))
        return out

    def _describe(self, work: _Workload, ns: str, pod: str, ctr_name: str) -> dict:
        ctr = work.container
        described: dict = {
            "pod": pod,
            "namespace": ns,
            "cluster": self.cluster,
            "container": ctr_name,
            "container_id": ctr.container_id if ctr else "",
            "labels": ",".join(f"{k}={v}" for k, v in ctr.labels.items()) if ctr else "",
            "evicted_rows": sum(t.evicted for t in work.tables.values()),
        }
        for name, table in work.tables.items():
            columns = COLUMNS[name]
            rows = [
                {**dict(zip(columns, key, strict=True)), "count": row.count, "last_updated_ns": row.last_ns}
                for key, row in table.rows.items()
            ]
            rows.sort(key=lambda r: tuple(str(r[c]) for c in columns))
            described[name] = rows
        return described

    def totals(self) -> dict[tuple[str, str, str, str], int]:
        """(namespace, pod, container, table) → events counted (for the metrics hook)."""
        with self._lock:
            return {
                (*key, name): table.added
                for key, work in self._workloads.items()
                for name, table in work.tables.items()
            }


def _wanted(key: tuple[str, str, str], work: _Workload, namespace: str, pod: str, container: str) -> bool:
    """Filters: empty matches all; a container is named by name, full id or short id."""
    ns, pod_name, ctr_name = key
    ids = {ctr_name}
    if work.container is not None:
        ids |= {work.container.container_id, work.container.container_id[:12]}
    return (
        (not namespace or ns == namespace)
        and (not pod or pod_name == pod)
        and (not container or container in ids)
    )


def _observed(event: Event) -> tuple[int, int, str, str]:
    return (event.timestamp_ns, event.host_pid, event.syscall, event.resource)


def _command(event: Event) -> str:
    proc = event.process
    return (proc.exe if proc else "") or event.comm


def _peer_columns(address: str, peer: Peer | None) -> tuple[str, str, str]:
    if peer is None:
        return address, "", ""
    return peer.display, peer.namespace, peer.label_text

"""The agent's local query endpoint: summary snapshots and a follow stream of recent records.

Local only. The default is a unix socket (`/run/beholder/query.sock`, mode 0600 in a 0700
directory), so only root on the node can ask; optional HTTP binds a loopback address and
refuses any other. Requests are one JSON line:

    {"op": "summary", "namespace": "", "pod": "", "container": ""}  → one JSON line
    {"op": "logs", "filter": {...}, "follow": true, "backlog": 100, "limit": 0} → JSON lines

`on_batch` runs on the pipeline's processing thread and never waits for a client: it folds
the batch into the summary, appends it to a bounded ring of recent records and offers it to
each follower's bounded queue; a follower that falls behind loses batches (counted and told
as a `{"notice": …}` line), one that is gone is dropped when its write fails or times out.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import queue
import socket
import socketserver
import stat
import threading
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Alert, Event
from beholder.query.records import Record, RecordFilter, batch_records, kubearmor_dict
from beholder.summary.aggregate import Summary

DEFAULT_SOCKET = "/run/beholder/query.sock"
MAX_REQUEST_BYTES = 4096
DISCARD_BYTES = 1 << 20
MAX_CLIENTS = 32
SEND_TIMEOUT_S = 5.0


class QueryError(ValueError):
    """A request the server cannot answer; sent back as `{"error": …}`."""


class _Follower:
    """One client's bounded queue of batches; `dropped` counts what did not fit."""

    def __init__(self, size: int) -> None:
        self.batches: queue.Queue[list[Record] | None] = queue.Queue(maxsize=size)
        self.dropped = 0

    def offer(self, records: list[Record]) -> None:
        try:
            self.batches.put_nowait(records)
        except queue.Full:
            self.dropped += len(records)

    def close(self) -> None:
        with contextlib.suppress(queue.Full):  # a stuck client is ended by its send timeout
            self.batches.put_nowait(None)


class QueryServer:
    def __init__(
        self,
        socket_path: str | None,
        host: HostIdentity,
        http_port: int | None = None,
        *,
        http_host: str = "127.0.0.1",
        summary: Summary | None = None,
        ring_size: int = 10_000,
        follower_batches: int = 256,
    ) -> None:
        if http_port is not None and not ipaddress.ip_address(http_host).is_loopback:
            raise ValueError(f"query HTTP must bind a loopback address, not {http_host}")
        self.socket_path = socket_path
        self.host = host
        self.summary = summary or Summary(cluster=host.cluster_label)
        self.http_address = (http_host, http_port) if http_port is not None else None
        self.follower_batches = follower_batches
        self.dropped_for_followers = 0
        self._ring: deque[Record] = deque(maxlen=ring_size)
        self._followers: list[_Follower] = []
        self._lock = threading.Lock()
        self._servers: list[socketserver.BaseServer] = []
        self._clients = threading.BoundedSemaphore(MAX_CLIENTS)
        self._stopping = threading.Event()

    # --- feeding (processing thread) --------------------------------------------------------
    def on_batch(self, events: list[Event], alerts: list[Alert]) -> None:
        if not events and not alerts:
            return
        self.summary.add(events, alerts)
        records = batch_records(events, alerts, self.host)
        with self._lock:
            self._ring.extend(records)
            for follower in self._followers:
                follower.offer(records)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self.socket_path:
            self._servers.append(_unix_server(Path(self.socket_path), self))
        if self.http_address is not None:
            self._servers.append(_HttpServer(self.http_address, self))
        for server in self._servers:
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="beholder-query", daemon=True
            ).start()

    @property
    def http_port(self) -> int | None:
        http = next((s for s in self._servers if isinstance(s, ThreadingHTTPServer)), None)
        return http.server_address[1] if http else None

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            for follower in self._followers:
                follower.close()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)

    # --- answering (client threads) -----------------------------------------------------------
    def answer(self, request: Any, write: Callable[[dict[str, Any]], None]) -> None:
        """Serve one decoded request by calling `write` for each JSON line to send."""
        if not isinstance(request, dict):
            raise QueryError("request: expected a JSON object")
        op = request.get("op")
        if op == "summary":
            keys = ("namespace", "pod", "container")
            wanted = {k: request.get(k) or "" for k in keys}
            if not all(isinstance(v, str) for v in wanted.values()):
                raise QueryError("summary: namespace, pod and container must be strings")
            write({"workloads": self.summary.snapshot(**wanted)})
        elif op == "logs":
            for record in self.follow(request):
                write(record)
        else:
            raise QueryError(f"op: expected 'summary' or 'logs', got {str(op)[:40]!r}")

    def follow(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """KubeArmor JSON of matching records: the backlog, then (if following) new ones."""
        try:
            wanted = RecordFilter.from_dict(request.get("filter", {}))
        except ValueError as exc:
            raise QueryError(str(exc)) from None
        backlog, limit, follow = (
            request.get("backlog", 0),
            request.get("limit", 0),
            request.get("follow", True),
        )
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (backlog, limit)):
            raise QueryError("backlog and limit must be non-negative integers")
        follower = _Follower(self.follower_batches) if follow else None
        with self._lock:
            recent = [r for r in self._ring if wanted.matches(r)][-backlog:] if backlog else []
            if follower is not None:
                self._followers.append(follower)
        sent = 0
        try:
            for record in recent:
                yield kubearmor_dict(record)
                sent += 1
                if sent == limit:
                    return
            while follower is not None and not self._stopping.is_set():
                try:
                    batch = follower.batches.get(timeout=0.5)
                except queue.Empty:
                    continue
                if batch is None:
                    return
                if follower.dropped:
                    yield {"notice": f"{follower.dropped} records dropped: client too slow"}
                    self.dropped_for_followers += follower.dropped
                    follower.dropped = 0
                for record in batch:
                    if wanted.matches(record):
                        yield kubearmor_dict(record)
                        sent += 1
                        if sent == limit:
                            return
        finally:
            if follower is not None:
                with self._lock:
                    self._followers.remove(follower)

    def serve_stream(self, rfile: Any, write: Callable[[dict[str, Any]], None]) -> None:
        """Read one request line from a client stream and answer it; errors become a line."""
        if not self._clients.acquire(blocking=False):
            write({"error": f"too many clients (limit {MAX_CLIENTS})"})
            return
        try:
            line = rfile.readline(MAX_REQUEST_BYTES + 1)
            if len(line) > MAX_REQUEST_BYTES:
                rfile.readline(DISCARD_BYTES)  # read the rest so closing does not reset the answer
                raise QueryError(f"request longer than {MAX_REQUEST_BYTES} bytes")
            try:
                request = json.loads(line or b"{}")
            except ValueError as exc:
                raise QueryError(f"request is not JSON: {exc}") from None
            self.answer(request, write)
        except QueryError as exc:
            write({"error": str(exc)})
        finally:
            self._clients.release()


# --- transports -------------------------------------------------------------------------------


def _line_writer(wfile: Any) -> Callable[[dict[str, Any]], None]:
    def write(doc: dict[str, Any]) -> None:
        wfile.write(json.dumps(doc).encode() + b"\n")
        wfile.flush()

    return write


class _UnixHandler(socketserver.StreamRequestHandler):
    server: _UnixServer
    timeout = SEND_TIMEOUT_S  # a client that stops reading is dropped, never waited on

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the client went away or stopped reading
            self.server.query.serve_stream(self.rfile, _line_writer(self.wfile))


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, path: str, query: QueryServer) -> None:
        self.query = query
        super().__init__(path, _UnixHandler)


def _claim_socket_path(path: Path) -> None:
    """Create the directory 0700 if missing; remove a stale socket, refuse a live one."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody answers: left over from an agent that died
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"{path}: another agent is serving queries there")


def _unix_server(path: Path, query: QueryServer) -> _UnixServer:
    _claim_socket_path(path)
    old = os.umask(0o177)  # the socket is 0600 from the moment it exists
    try:
        server = _UnixServer(str(path), query)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return server


class _HttpHandler(BaseHTTPRequestHandler):
    server: _HttpServer
    timeout = SEND_TIMEOUT_S
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        op = url.path.strip("/")
        if op == "summary":
            request: dict[str, Any] = {"op": "summary", **params}
        elif op == "logs":
            numbers = {k: int(params.pop(k)) for k in ("backlog", "limit") if params.get(k, "").isdigit()}
            follow = params.pop("follow", "1") not in ("0", "false")
            request = {"op": "logs", "filter": params, "follow": follow, **numbers}
        else:
            self.send_error(404, "use /summary or /logs")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        try:
            self.server.query.answer(request, _line_writer(self.wfile))
        except QueryError as exc:
            _line_writer(self.wfile)({"error": str(exc)})
        except (OSError, TimeoutError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: requests are not worth a line on the agent's stderr."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], query: QueryServer) -> None:
        self.query = query
        super().__init__(address, _HttpHandler)

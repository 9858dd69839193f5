"""Talk to a running agent's query socket: one JSON request line, JSON lines back."""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Iterator
from typing import Any

from beholder.query.records import RecordFilter

MAX_LINE_BYTES = 16 << 20


class QueryClientError(RuntimeError):
    """The agent could not be reached or refused the request; the message says which."""


def _connect(socket_path: str, timeout: float | None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
            raise QueryClientError(
                f"no agent is serving queries at {socket_path} "
                "(start `beholder run --query-socket PATH`, or read recordings with --file)"
            ) from None
        if exc.errno == errno.EACCES:
            raise QueryClientError(
                f"{socket_path}: permission denied (the query socket is root-only)"
            ) from None
        raise QueryClientError(f"{socket_path}: {exc.strerror or exc}") from None
    return sock


def request(socket_path: str, body: dict[str, Any], timeout: float | None = 10.0) -> Iterator[dict[str, Any]]:
    """Send `body`, yield each answered line; an `{"error": …}` line raises."""
    sock = _connect(socket_path, timeout)
    try:
        sock.sendall(json.dumps(body).encode() + b"\n")
        stream = sock.makefile("rb")
        while True:
            line = stream.readline(MAX_LINE_BYTES)
            if not line:
                return
            doc = json.loads(line)
            if isinstance(doc, dict) and "error" in doc:
                raise QueryClientError(f"agent: {doc['error']}")
            yield doc
    except TimeoutError:
        raise QueryClientError(f"{socket_path}: the agent did not answer within {timeout:g}s") from None
    except ValueError as exc:
        raise QueryClientError(f"{socket_path}: unreadable answer: {exc}") from None
    finally:
        sock.close()


def fetch_summary(socket_path: str, namespace: str = "", pod: str = "", container: str = "") -> list[dict]:
    body = {"op": "summary", "namespace": namespace, "pod": pod, "container": container}
    for doc in request(socket_path, body):
        return list(doc.get("workloads", []))
    raise QueryClientError(f"{socket_path}: the agent closed the connection without an answer")


def follow_logs(
    socket_path: str, wanted: RecordFilter, *, follow: bool = True, backlog: int = 0, limit: int = 0
) -> Iterator[dict[str, Any]]:
    """KubeArmor JSON records (and `notice` lines) as the agent sends them."""
    body = {"op": "logs", "filter": wanted.to_dict(), "follow": follow, "backlog": backlog, "limit": limit}
    yield from request(socket_path, body, timeout=None if follow else 10.0)

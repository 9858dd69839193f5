"""The query endpoint over real sockets, fed by a synthetic pipeline: answers, filters, never blocks."""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import threading
import urllib.request
from pathlib import Path

import pytest

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action
from beholder.query.client import QueryClientError, fetch_summary, follow_logs, request
from beholder.query.records import RecordFilter
from beholder.query.server import QueryServer
from cli.builders import DB, alert_on, exec_of, open_of

HOST = HostIdentity(host_name="node-1", cluster_name="pandora")


@pytest.fixture
def server(tmp_path: Path):
    query = QueryServer(str(tmp_path / "run" / "query.sock"), HOST, ring_size=100, follower_batches=4)
    query.start()
    yield query
    query.stop()


def _raw(path: str, payload: bytes) -> list[dict]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(payload)
        return [json.loads(line) for line in sock.makefile("rb")]


def test_socket_is_owner_only_in_an_owner_only_directory(server):
    path = Path(server.socket_path)
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_summary_request_returns_the_fed_tables(server):
    ev = exec_of("/bin/cat", parent="/bin/dash", retval=-errno.EPERM)  # blocked by the enforcer
    server.on_batch(
        [ev, open_of("/etc/a"), open_of("/etc/b"), exec_of("/bin/ls", container=DB)], [alert_on(ev)]
    )
    (web,) = fetch_summary(server.socket_path, namespace="dvwa")
    assert (web["pod"], web["cluster"]) == ("web-1", "pandora")
    assert [(r["destination"], r["status"]) for r in web["process"]] == [("/bin/cat", "Block")]
    assert [(r["destination"], r["count"]) for r in web["file"]] == [("/etc/", 2)]


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (RecordFilter(log_filter="all"), ["/bin/cat", "/etc/a", "/bin/ls", "/bin/cat"]),
        (RecordFilter(log_filter="policy"), ["/bin/cat"]),
        (RecordFilter(log_filter="system", operation="file"), ["/etc/a"]),
        (RecordFilter(log_filter="all", namespace="data"), ["/bin/ls"]),
        (RecordFilter(log_filter="all", pod="web-1", container="web"), ["/bin/cat", "/etc/a", "/bin/cat"]),
        (RecordFilter(log_filter="all", container=DB.container_id[:12]), ["/bin/ls"]),
    ],
)
def test_backlog_is_filtered_like_karmor_logs(server, wanted, expected):
    ev = exec_of("/bin/cat", parent="/bin/dash")
    server.on_batch([ev, open_of("/etc/a"), exec_of("/bin/ls", container=DB)], [alert_on(ev, Action.AUDIT)])
    records = list(follow_logs(server.socket_path, wanted, follow=False, backlog=100))
    assert [r["Resource"].split(" ")[0] for r in records] == expected
    assert all(r["ClusterName"] == "pandora" for r in records)


def test_follower_gets_new_records_after_its_backlog_until_its_limit(server):
    server.on_batch([exec_of("/bin/old")], [])
    stream = follow_logs(server.socket_path, RecordFilter(log_filter="system"), backlog=5, limit=3)
    assert next(stream)["Resource"] == "/bin/old"
    feeder = threading.Thread(
        target=lambda: [server.on_batch([exec_of(f"/bin/new{i}")], []) for i in range(3)], daemon=True
    )
    while not server._followers:  # the follower is registered once its backlog was taken
        threading.Event().wait(0.01)
    feeder.start()
    rest = [r["Resource"] for r in stream]
    assert rest == ["/bin/new0", "/bin/new1"]
    feeder.join()


def test_a_client_that_stops_reading_never_blocks_on_batch_and_is_told_what_it_lost(server):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(server.socket_path)
        sock.sendall(json.dumps({"op": "logs", "filter": {"log_filter": "all"}}).encode() + b"\n")
        while not server._followers:
            threading.Event().wait(0.01)
        for i in range(2000):  # the client reads nothing while the pipeline pushes 2000 batches
            server.on_batch([open_of(f"/var/data/{i}" + "x" * 200)], [])
        lines = []
        stream = sock.makefile("rb")
        while not any("notice" in line for line in lines):
            lines.append(json.loads(stream.readline()))
    notice = next(line["notice"] for line in lines if "notice" in line)
    assert "records dropped: client too slow" in notice
    assert int(notice.split()[0]) > 0


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json\n", "request is not JSON"),
        (b"[1]\n", "expected a JSON object"),
        (b'{"op": "rm -rf"}\n', "op: expected"),
        (b'{"op": "summary", "pod": 7}\n', "must be strings"),
        (b'{"op": "logs", "filter": {"log_filter": "x"}}\n', "logFilter"),
        (b'{"op": "logs", "filter": {"operation": "teleport"}}\n', "operation"),
        (b'{"op": "logs", "limit": -1}\n', "non-negative"),
        (b'{"op": "logs", "filter": []}\n', "filter: expected an object"),
        (b"{" + b" " * 10_000 + b"}\n", "request longer than"),
    ],
)
def test_bad_requests_get_one_error_line(server, payload, error):
    (answer,) = _raw(server.socket_path, payload)
    assert error in answer["error"]


def test_client_turns_an_error_line_into_an_exception(server):
    with pytest.raises(QueryClientError, match="agent: op: expected"):
        list(request(server.socket_path, {"op": "nope"}))


def test_missing_agent_is_one_clear_line(tmp_path):
    with pytest.raises(QueryClientError, match="no agent is serving queries at"):
        fetch_summary(str(tmp_path / "absent.sock"))


def test_stale_socket_is_replaced_and_a_live_one_is_refused(tmp_path):
    path = tmp_path / "q.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # bound, never listening: what a killed agent leaves behind
    first = QueryServer(str(path), HOST)
    first.start()
    try:
        second = QueryServer(str(path), HOST)
        with pytest.raises(OSError, match="another agent is serving"):
            second.start()
        assert fetch_summary(str(path)) == []
    finally:
        first.stop()
    assert not path.exists()


def test_a_regular_file_at_the_socket_path_is_refused(tmp_path):
    path = tmp_path / "q.sock"
    path.write_text("mine")
    with pytest.raises(OSError, match="not a socket"):
        QueryServer(str(path), HOST).start()
    assert path.read_text() == "mine"


def test_http_binds_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        QueryServer(None, HOST, http_port=0, http_host="0.0.0.0")


def test_http_serves_summary_and_logs_on_loopback():
    query = QueryServer(None, HOST, http_port=0)
    query.start()
    try:
        query.on_batch([exec_of("/bin/ls"), open_of("/etc/a")], [])
        base = f"http://127.0.0.1:{query.http_port}"
        with urllib.request.urlopen(f"{base}/summary?namespace=dvwa", timeout=10) as answer:
            (web,) = json.loads(answer.read())["workloads"]
        assert web["process"][0]["destination"] == "/bin/ls"
        url = f"{base}/logs?follow=0&backlog=10&log_filter=system&operation=file"
        with urllib.request.urlopen(url, timeout=10) as answer:
            lines = [json.loads(line) for line in answer.read().splitlines()]
        assert [line["Resource"] for line in lines] == ["/etc/a"]
    finally:
        query.stop()


def test_socket_directory_is_created_owner_only(tmp_path):
    nested = tmp_path / "a" / "b"
    query = QueryServer(str(nested / "q.sock"), HOST)
    query.start()
    query.stop()
    assert stat.S_IMODE(os.stat(nested).st_mode) == 0o700


def test_a_client_that_went_away_is_dropped_on_the_next_write(server):
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(server.socket_path)
    sock.sendall(json.dumps({"op": "logs", "filter": {"log_filter": "all"}}).encode() + b"\n")
    while not server._followers:
        threading.Event().wait(0.01)
    sock.close()
    while server._followers:  # each batch is offered; the write to the closed socket ends the follower
        server.on_batch([open_of("/etc/a")], [])
        threading.Event().wait(0.01)
    server.on_batch([open_of("/etc/b")], [])
    assert server._followers == []

"""A real agent serves `beholder summary` and `beholder logs` about a real workload.

The agent runs as `beholder run --query-socket` (a subprocess of this test); the workload is
started by this test process, so the agent does not exclude it as its own tree.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import require
from support.agent_process import BEHOLDER, AgentProcess
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel

NETWORK_WORKLOAD = textwrap.dedent(
    """
    import socket, sys
    port = int(sys.argv[2])
    server = socket.socket(); server.bind(("127.0.0.1", port)); server.listen(1)
    client = socket.create_connection(("127.0.0.1", port)); conn, _ = server.accept()
    unix = socket.socket(socket.AF_UNIX); unix.bind(sys.argv[1])
    netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); netlink.bind((0, 0))
    """
)


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    ok, why = kernel_ready()
    require(ok, why)
    workdir = tmp_path_factory.mktemp("agent")
    sock = workdir / "query.sock"
    proc = AgentProcess(workdir, ["--query-socket", str(sock), "--sensors", "process,file,network"]).start()
    yield proc, str(sock)
    proc.stop()


def _summary(sock: str) -> dict:
    out = subprocess.run([*BEHOLDER, "summary", "--socket", sock, "--json"], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    (host,) = [w for w in json.loads(out.stdout)["workloads"] if not w["pod"] and not w["container"]]
    return host


def _wait_for(sock: str, found, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        host = _summary(sock)
        if found(host) or time.monotonic() > deadline:
            return host
        time.sleep(0.3)


def test_summary_tables_show_the_workload_processes_and_files(agent, tmp_path):
    _proc, sock = agent
    work = tmp_path / "wl"
    (work / "solo").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "c.txt", "solo/only.txt"):
        (work / name).write_text(name)
    subprocess.run(["/bin/sh", "-c", f"cat {work}/a.txt {work}/b.txt {work}/c.txt {work}/solo/only.txt"],
                   check=True, capture_output=True)  # fmt: skip

    def files(host: dict) -> dict[str, dict]:
        return {r["destination"]: r for r in host["file"] if r["source"].endswith("/cat")}

    host = _wait_for(sock, lambda h: f"{work}/solo/only.txt" in files(h) and f"{work}/" in files(h))
    rows = files(host)
    assert rows[f"{work}/"]["count"] >= 3 and rows[f"{work}/"]["status"] == "Allow"
    assert rows[f"{work}/solo/only.txt"]["count"] == 1
    assert not any(dst.startswith(f"{work}/") and dst.endswith(".txt") and "solo" not in dst for dst in rows)
    cats = [
        r
        for r in host["process"]
        if r["destination"].endswith("/cat") and r["source"].endswith(("sh", "dash"))
    ]
    assert cats and all(r["status"] == "Allow" for r in cats)


def test_summary_tables_show_the_workload_binds_and_connections(agent, tmp_path):
    _proc, sock = agent
    unix_path = tmp_path / "wl.sock"
    with socket.socket() as probe:  # a free port for the workload's server to bind by number
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    subprocess.run(
        [sys.executable, "-c", NETWORK_WORKLOAD, str(unix_path), port], check=True, capture_output=True
    )

    def mine(host: dict, table: str) -> list[dict]:
        return [r for r in host[table] if "python" in r["command"]]

    host = _wait_for(sock, lambda h: any(r["port"] == port for r in mine(h, "ingress")))
    binds = {(r["protocol"], r["port"], r["address"]) for r in mine(host, "bind")}
    assert ("TCP", port, "127.0.0.1") in binds
    assert ("AF_UNIX", "", str(unix_path)) in binds
    assert any(proto == "AF_NETLINK" for proto, _, _ in binds)
    egress = {(r["protocol"], r["peer"], r["port"]) for r in mine(host, "egress")}
    assert ("TCP", "127.0.0.1", port) in egress
    ingress = [r for r in mine(host, "ingress") if r["port"] == port]
    assert ingress and ingress[0]["protocol"] == "TCP" and ingress[0]["peer"] in ("127.0.0.1", "")


def test_logs_follows_the_agent_live(agent, tmp_path):
    _proc, sock = agent
    marker = tmp_path / "live-marker"
    marker.write_text("x")
    follower = subprocess.Popen(
        [*BEHOLDER, "logs", "--socket", sock, "--logFilter", "system", "--operation", "file", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    stop = threading.Event()

    def workload() -> None:  # keeps opening the marker until the follower has shown it
        while not stop.wait(0.3):
            subprocess.run(["/bin/cat", str(marker)], check=True, capture_output=True)

    threading.Thread(target=workload, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        seen = None
        while seen is None and time.monotonic() < deadline:
            record = json.loads(follower.stdout.readline())
            assert record["Operation"] == "File"
            if record.get("Resource") == str(marker):
                seen = record
        assert seen is not None and seen["ProcessName"].endswith("/cat") and seen["Type"] == "HostLog"
    finally:
        stop.set()
        follower.terminate()
        follower.wait(timeout=10)

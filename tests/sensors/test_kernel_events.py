"""Real kernel, real agent: each workload below must come back as the decoded event.

Every test triggers the action from the test process (the agent's parent, which the agent
does not exclude) with a unique marker and asserts on the fields the agent wrote.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from support.agent_process import AgentProcess

pytestmark = pytest.mark.kernel
ME = os.getpid()


def _mine(record: dict[str, Any]) -> bool:
    return record["host_pid"] == ME


def test_exec_records_path_argv_parent_and_result(agent: AgentProcess) -> None:
    marker = uuid.uuid4().hex
    subprocess.run(["/bin/true", "--flag", marker], check=True)
    found = agent.wait_for(lambda r: r["syscall"] == "execve" and marker in r["argv"])
    assert found, "no execve event for /bin/true"
    ev = found[0]
    assert ev["operation"] == "Process"
    assert ev["resource"] == "/bin/true"
    assert ev["argv"] == ["/bin/true", "--flag", marker]
    assert ev["data"]["argv"] == f"--flag {marker}"
    assert ev["result"] == "Passed"
    assert ev["comm"] == "true"
    assert ev["process"]["exe"] == "/bin/true"
    assert ev["process"]["cmdline"] == f"/bin/true --flag {marker}"
    assert ev["process"]["ppid"] == ME
    assert ev["container"] is None


def test_failed_exec_reports_errno_text(agent: AgentProcess) -> None:
    missing = f"/nonexistent-{uuid.uuid4().hex}"
    with pytest.raises(FileNotFoundError):
        subprocess.run([missing])
    found = agent.wait_for(lambda r: r["syscall"] == "execve" and r["resource"] == missing)
    assert found
    assert found[0]["retval"] == -2
    assert found[0]["result"] == "No such file or directory"


def test_fork_and_exit_code(agent: AgentProcess) -> None:
    child = os.fork()
    if child == 0:
        os._exit(3)
    os.waitpid(child, 0)
    forks = agent.wait_for(lambda r: r["syscall"] == "fork" and r["data"]["child_pid"] == str(child))
    assert forks and forks[0]["data"]["parent_pid"] == str(ME)
    exits = agent.wait_for(lambda r: r["syscall"] == "exit" and r["host_pid"] == child)
    assert exits and exits[0]["data"]["exit_code"] == "3"


def test_open_rename_unlink_and_failed_open(agent: AgentProcess, tmp_path: Path) -> None:
    first = tmp_path / f"a-{uuid.uuid4().hex}"
    second = tmp_path / f"b-{uuid.uuid4().hex}"
    fd = os.open(first, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.close(fd)
    os.rename(first, second)
    os.unlink(second)
    with pytest.raises(FileNotFoundError):
        os.open(tmp_path / "missing" / "file", os.O_RDONLY)

    opened = agent.wait_for(lambda r: _mine(r) and r["syscall"] == "openat" and r["resource"] == str(first))
    assert opened
    assert opened[0]["data"]["flags"] == "O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC"
    assert opened[0]["data"]["mode"] == "0640"
    assert opened[0]["data"]["fd"] == "-100"
    assert opened[0]["result"] == "Passed"

    renamed = agent.wait_for(
        lambda r: _mine(r) and r["syscall"].startswith("rename") and r["resource"] == str(first)
    )
    assert renamed and renamed[0]["data"]["newpath"] == str(second)
    unlinked = agent.wait_for(
        lambda r: _mine(r) and r["syscall"].startswith("unlink") and r["resource"] == str(second)
    )
    assert unlinked and unlinked[0]["result"] == "Passed"

    failed = agent.wait_for(lambda r: _mine(r) and r["resource"] == str(tmp_path / "missing" / "file"))
    assert failed and failed[0]["result"] == "No such file or directory"


def test_rmdir_names_the_directory_and_a_refusal(agent: AgentProcess, tmp_path: Path) -> None:
    gone, full = tmp_path / f"d-{uuid.uuid4().hex}", tmp_path / f"f-{uuid.uuid4().hex}"
    gone.mkdir()
    (full / "child").mkdir(parents=True)
    os.rmdir(gone)
    with pytest.raises(OSError):
        os.rmdir(full)

    removed = agent.wait_for(lambda r: _mine(r) and r["syscall"] == "rmdir" and r["resource"] == str(gone))
    assert removed and removed[0]["result"] == "Passed"
    refused = agent.wait_for(lambda r: _mine(r) and r["syscall"] == "rmdir" and r["resource"] == str(full))
    assert refused and refused[0]["result"] == "Directory not empty"


def test_relative_path_is_resolved_against_cwd(agent: AgentProcess, tmp_path: Path) -> None:
    name = f"rel-{uuid.uuid4().hex}"
    subprocess.run(["/bin/touch", name], cwd=tmp_path, check=True)
    found = agent.wait_for(lambda r: r["operation"] == "File" and r["resource"].endswith(name))
    assert found
    assert found[0]["resource"] == str(tmp_path / name)


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_tcp_connect_bind_listen_accept_on_loopback(agent: AgentProcess) -> None:
    port = _free_port(socket.SOCK_STREAM)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", port))
    server.listen(4)
    client = socket.create_connection(("127.0.0.1", port))
    conn, peer = server.accept()
    conn.close()
    client.close()
    server.close()
    sport = str(port)

    binds = agent.wait_for(
        lambda r: _mine(r) and r["syscall"] == "bind" and r["data"].get("sin_port") == sport
    )
    assert binds and binds[0]["resource"] == f"sa_family=AF_INET sin_port={port} sin_addr=127.0.0.1"
    listens = agent.wait_for(lambda r: _mine(r) and r["syscall"] == "listen")
    assert listens and listens[-1]["data"]["backlog"] == "4"
    connects = agent.wait_for(
        lambda r: _mine(r) and r["syscall"] == "connect" and r["data"].get("sin_port") == sport
    )
    assert connects and connects[0]["data"]["sin_addr"] == "127.0.0.1"
    accepts = agent.wait_for(
        lambda r: (
            _mine(r) and r["syscall"] in ("accept", "accept4") and r["data"].get("sin_port") == str(peer[1])
        )
    )
    assert accepts and accepts[0]["data"]["sin_addr"] == "127.0.0.1"
    states = agent.wait_for(
        lambda r: (
            r["syscall"] == "tcp_state"
            and r["data"]["dport"] == sport
            and r["data"]["newstate"] == "SYN_SENT"
        )
    )
    assert states and states[0]["data"]["saddr"] == "127.0.0.1"


def test_udp_unix_and_netlink_sockets(agent: AgentProcess, tmp_path: Path) -> None:
    port = _free_port(socket.SOCK_DGRAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    udp.close()
    path = str(tmp_path / "s.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(path)
    unix.close()
    netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    netlink.close()
    assert agent.wait_for(
        lambda r: _mine(r) and r["syscall"] == "bind" and r["data"].get("sin_port") == str(port)
    )
    unix_binds = agent.wait_for(
        lambda r: _mine(r) and r["syscall"] == "bind" and r["data"].get("sun_path") == path
    )
    assert unix_binds and unix_binds[0]["resource"] == f"sa_family=AF_UNIX sun_path={path}"
    sockets = agent.wait_for(
        lambda r: _mine(r) and r["syscall"] == "socket" and "AF_NETLINK" in r["resource"]
    )
    assert sockets and sockets[0]["resource"] == "domain=AF_NETLINK type=SOCK_RAW|SOCK_CLOEXEC protocol=0"


def _dns_query(name: str) -> bytes:
    header = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return header + labels + b"\0" + struct.pack(">HH", 28, 1)


def test_dns_question_over_udp_port_53(agent: AgentProcess) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        server.bind(("127.0.0.1", 53))
    except OSError:
        server.bind(("127.0.0.2", 53))
    address = server.getsockname()
    unconnected = f"q{uuid.uuid4().hex[:12]}.example.test"
    connected = f"c{uuid.uuid4().hex[:12]}.example.test"
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.sendto(_dns_query(unconnected), address)
    client.close()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.connect(address)
    client.send(_dns_query(connected))
    client.close()
    server.close()
    for name in (unconnected, connected):
        found = agent.wait_for(lambda r, n=name: r["syscall"].startswith("send") and r["resource"] == n + ".")
        assert found, f"no DNS event for {name}"
        assert found[0]["data"]["qtype"] == "AAAA"
        assert found[0]["operation"] == "Network"
    # sendto names the server: its address is decoded, not whatever followed the payload
    sent = agent.wait_for(lambda r: r["syscall"] == "sendto" and r["resource"] == unconnected + ".")[0]
    assert (sent["data"]["sa_family"], sent["data"]["sin_addr"], sent["data"]["sin_port"]) == (
        "AF_INET",
        address[0],
        "53",
    )


def test_setuid_in_child_and_capability_check(agent: AgentProcess) -> None:
    child = os.fork()
    if child == 0:
        try:
            os.setuid(65534)
            os.setuid(0)
        except PermissionError:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.WEXITSTATUS(status) == 0
    ok = agent.wait_for(
        lambda r: r["host_pid"] == child and r["syscall"] == "setuid" and r["result"] == "Passed"
    )
    assert ok and ok[0]["data"]["userid"] == "65534" and ok[0]["operation"] == "Syscall"
    denied = agent.wait_for(lambda r: r["host_pid"] == child and r["syscall"] == "setuid" and r["retval"] < 0)
    assert denied and denied[0]["result"] == "Operation not permitted"
    caps = agent.wait_for(lambda r: r["host_pid"] == child and r["data"].get("capability") == "SETUID")
    assert caps and caps[0]["operation"] == "Capabilities"


def test_huge_argv_is_bounded_and_marked_truncated(agent: AgentProcess) -> None:
    marker = uuid.uuid4().hex
    args = ["/bin/true", marker, *(["x" * 100] * 500)]
    subprocess.run(args, check=True)
    found = agent.wait_for(lambda r: r["syscall"] == "execve" and marker in r["argv"])
    assert found
    assert found[0]["truncated"] is True
    assert len(found[0]["argv"]) < len(args)
    assert found[0]["argv"][:2] == ["/bin/true", marker]


def test_exact_repeats_are_folded_and_counted(agent: AgentProcess, tmp_path: Path) -> None:
    path = tmp_path / f"repeat-{uuid.uuid4().hex}"
    path.write_text("x")
    for _ in range(50):
        os.close(os.open(path, os.O_RDONLY))
    opens = agent.wait_for(
        lambda r: _mine(r) and r["resource"] == str(path) and r["data"].get("flags") == "O_RDONLY|O_CLOEXEC"
    )
    assert len(opens) < 50
    subprocess.run(["sleep", "1.2"], check=True)
    os.close(os.open(path, os.O_RDONLY))
    later = agent.wait_for(lambda r: _mine(r) and r["resource"] == str(path) and r["repeat_count"] > 0)
    assert later and later[0]["repeat_count"] + len(opens) >= 50


def test_agent_never_reports_itself(agent: AgentProcess) -> None:
    agent.read_new()
    assert agent.records, "the agent produced no events at all"
    assert not [r for r in agent.records if r["host_pid"] == agent.pid]


def test_dns_question_written_on_a_connected_socket(agent: AgentProcess) -> None:
    """busybox nslookup sends its question with write() on a socket connected to port 53."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        server.bind(("127.0.0.1", 53))
    except OSError:
        server.bind(("127.0.0.2", 53))
    name = f"w{uuid.uuid4().hex[:12]}.example.test"
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.connect(server.getsockname())
    os.write(client.fileno(), _dns_query(name))
    client.close()
    server.close()
    found = agent.wait_for(lambda r: r["syscall"] == "write" and r["resource"] == name + ".")
    assert found and found[0]["data"]["qtype"] == "AAAA" and found[0]["operation"] == "Network"


def test_pivot_root_names_both_roots(agent: AgentProcess) -> None:
    """The sensor added by its C case, its argument row and its catalogue name alone: the new
    root is the resource, put_old an argument, in every output."""
    marker = uuid.uuid4().hex
    new_root, put_old = f"/nonexistent-{marker}", f"/nonexistent-{marker}/old"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(155, new_root.encode(), put_old.encode()) == -1  # 155: pivot_root on x86_64
    found = agent.wait_for(lambda r: _mine(r) and r["syscall"] == "pivot_root" and r["resource"] == new_root)
    assert found and found[0]["operation"] == "Syscall"
    assert (found[0]["data"], found[0]["result"]) == ({"put_old": put_old}, "No such file or directory")
    lines = agent.wait_for(lambda r: r.get("Resource") == new_root and r["HostPID"] == ME, output="kubearmor")
    assert lines and (lines[0]["Operation"], lines[0]["Data"]) == (
        "Syscall",
        f"syscall=SYS_PIVOT_ROOT put_old={put_old}",
    )

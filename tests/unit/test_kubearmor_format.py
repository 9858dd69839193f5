"""Our KubeArmor JSON has exactly the seed's field names, order and value types."""

from __future__ import annotations

import json
import re
from pathlib import Path

from beholder.events import Action, Alert, ContainerInfo, Event, Operation, ProcessInfo
from beholder.events.facts import DnsQuestion
from beholder.events.interfaces import HostIdentity
from beholder.formats.kubearmor import to_kubearmor
from beholder.formats.kubearmor_in import parse_record, with_facts

HOST = HostIdentity(host_name="aks-agentpool-16128849-vmss000000", cluster_name="default")


def seed_blocks(seeds_dir: Path, name: str) -> list[dict]:
    """The JSON examples of a seed document, parsed (only the well-formed ones)."""
    text = (seeds_dir / name).read_text()
    out = []
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        block = re.sub(r"(?m)^\d+: ", "", block)  # part of the seed carries line numbers
        block = block if block.lstrip().startswith("{") else "{" + block
        try:
            out.append(json.loads(block))
        except json.JSONDecodeError:
            continue
    return out


def vault_exec() -> Event:
    ctr = ContainerInfo(
        "775fb27125ee8d9e2f34d6731fbf3bf677a1038f79fe8134856337612007d9ae",
        name="vault",
        image="docker.io/hashicorp/vault:1.13.1@sha256:b888abc3fc0529550d4a6c87884419e86b8cb736fe556e3e717a6bc50888b3b8",
        pod_name="vault-0",
        namespace="default",
        labels={
            "app.kubernetes.io/instance": "vault",
            "app.kubernetes.io/name": "vault",
            "component": "server",
            "helm.sh/chart": "vault-0.24.1",
            "statefulset.kubernetes.io/pod-name": "vault-0",
        },
    )
    proc = ProcessInfo(
        pid=2514068, ppid=2514065, ns_pid=3552620, ns_ppid=2514065, exe="/bin/sh", parent_exe="/usr/bin/runc"
    )
    return with_facts(
        Event(
            timestamp_ns=1_686_491_023_289_380_000,
            operation=Operation.PROCESS,
            syscall="execve",
            retval=0,
            host_pid=2514068,
            host_tid=2514068,
            uid=100,
            gid=1000,
            comm="sh",
            cgroup_id=1,
            resource="/bin/sh",
            argv=("/bin/sh", "-ec", "vault", "status", "-tls-skip-verify"),
            process=proc,
            container=ctr,
        )
    )


def test_container_process_log_matches_seed_fields(seeds_dir: Path) -> None:
    seed = next(
        b for b in seed_blocks(seeds_dir, "002_803932e2227546a1.txt") if b.get("PodName") == "vault-0"
    )
    ours = to_kubearmor(vault_exec(), HOST)
    for key in seed:
        assert key in ours, f"missing KubeArmor field {key}"
        assert type(ours[key]) is type(seed[key]), key
    for key in (
        "ClusterName",
        "HostName",
        "NamespaceName",
        "PodName",
        "Labels",
        "ContainerID",
        "ContainerName",
        "ContainerImage",
        "ParentProcessName",
        "ProcessName",
        "HostPPID",
        "HostPID",
        "PID",
        "UID",
        "Type",
        "Source",
        "Operation",
        "Resource",
        "Data",
        "EventData",
        "Result",
    ):
        assert ours[key] == seed[key], key
    seed_order = [k for k in seed if k in ours]
    assert [k for k in ours if k in seed] == seed_order


def test_host_alert_has_seed_shape(seeds_dir: Path) -> None:
    seed = next(
        b for b in seed_blocks(seeds_dir, "002_803932e2227546a1.txt") if b.get("PolicyName") == "sleep-deny"
    )
    proc = ProcessInfo(
        pid=1787227, ppid=1979, exe="/bin/sleep", parent_exe="/bin/bash", cmdline="/bin/sleep 10"
    )
    ev = Event(
        timestamp_ns=1_692_813_948_301_798_000,
        operation=Operation.PROCESS,
        syscall="execve",
        retval=-13,
        host_pid=1787227,
        host_tid=1787227,
        uid=0,
        gid=0,
        comm="sleep",
        cgroup_id=1,
        resource="/usr/bin/sleep",
        argv=("sleep", "10"),
        process=proc,
    )
    ev = with_facts(ev)
    alert = Alert(ev, "policy", "sleep-deny", "sleep-deny", Action.BLOCK, 5, enforcer="BPFLSM")
    ours = to_kubearmor(ev, HostIdentity("gke-my-first-cluster-1-default-pool-9144db50-81gb"), alert)
    for key in seed:
        assert key in ours, key
    for key in (
        "Timestamp",
        "UpdatedTime",
        "HostName",
        "PolicyName",
        "Severity",
        "Type",
        "Source",
        "Operation",
        "Resource",
        "Data",
        "Enforcer",
        "Action",
        "Result",
        "ProcessName",
        "ParentProcessName",
    ):
        assert ours[key] == seed[key], key
    assert "ContainerID" not in ours and "PodName" not in ours


def test_alert_tags_are_joined_and_listed() -> None:
    alert = Alert(vault_exec(), "policy", "p", "p", Action.AUDIT, 8, tags=("NIST", "MITRE"), message="m")
    ours = to_kubearmor(alert.event, HOST, alert)
    assert ours["Tags"] == "NIST,MITRE" and ours["ATags"] == ["NIST", "MITRE"]
    assert ours["Severity"] == "8" and ours["Type"] == "MatchedPolicy" and ours["Action"] == "Audit"


def test_cwd_ends_with_a_slash_as_in_seed_004(seeds_dir: Path) -> None:
    """Seed 004 shows `"Cwd":"/root/"` and `"Cwd":"/"`: KubeArmor appends the slash."""
    seen = re.findall(r'"Cwd":\s*"([^"]*)"', (seeds_dir / "004_f3183488164a15c8.txt").read_text())
    assert set(seen) == {"/root/", "/"}
    for cwd, expected in (("/root", "/root/"), ("/", "/"), ("/srv/app/", "/srv/app/")):
        ev = vault_exec()
        assert ev.process is not None
        ev.process.cwd = cwd
        assert to_kubearmor(ev, HOST)["Cwd"] == expected


def test_capability_resource_is_named_with_cap_prefix() -> None:
    from beholder.events import facts

    ev = Event(1, Operation.CAPABILITY, "cap_capable", 0, 5, 5, 0, 0, "arping", 7)
    ev.facts = facts.Capability(13)
    assert to_kubearmor(ev, HOST)["Resource"] == "CAP_NET_RAW"


def test_a_capability_past_the_known_list_is_named_once_and_reads_back_as_its_number() -> None:
    from beholder.events import facts
    from beholder.events.decoding import capability_number

    ev = Event(1, Operation.CAPABILITY, "cap_capable", 0, 5, 5, 0, 0, "probe", 7)
    ev.facts = facts.Capability(50)
    resource = to_kubearmor(ev, HOST)["Resource"]
    assert resource == "CAP_50"
    assert capability_number(resource) == 50


def _call(op: Operation, syscall: str, resource: str, **data: str) -> Event:
    return with_facts(Event(1, op, syscall, 0, 5, 5, 0, 0, "x", 7, resource=resource), data)


def test_data_holds_what_kubearmor_writes_per_syscall(seeds_dir: Path) -> None:
    """KubeArmor's monitor: socket has no arguments, unlinkat only flags (seed 002 shows
    `flags=` empty), listen its fd, fchownat userid/group/mode; seen in the seeds where they are."""
    cases = {
        "syscall=SYS_SOCKET": _call(Operation.NETWORK, "socket", "domain=AF_INET", fd="3"),
        "syscall=SYS_UNLINKAT flags=": _call(Operation.FILE, "unlinkat", "/tmp/x", fd="-100", flags=""),
        "syscall=SYS_LISTEN fd=3": _call(Operation.NETWORK, "listen", "", fd="3", backlog="128"),
        "syscall=SYS_FCHOWNAT userid=1000 group=1000 mode=0": _call(
            Operation.FILE, "fchownat", "/tmp/x", fd="-100", uid="1000", gid="1000", flags="0"
        ),
        "syscall=SYS_CONNECT fd=10": _call(Operation.NETWORK, "connect", "sa_family=AF_INET", fd="10"),
    }
    seeds = (seeds_dir / "002_803932e2227546a1.txt").read_text() + (
        seeds_dir / "004_f3183488164a15c8.txt"
    ).read_text()
    for expected, ev in cases.items():
        assert to_kubearmor(ev, HOST)["Data"] == expected
    in_seeds = {d for d in cases if f'"Data": "{d}"' in seeds or f'"Data":"{d}"' in seeds}
    assert in_seeds == {"syscall=SYS_SOCKET", "syscall=SYS_UNLINKAT flags=", "syscall=SYS_CONNECT fd=10"}


def test_an_fd_exec_has_no_leading_space() -> None:
    ev = _call(Operation.PROCESS, "execveat", "")
    ev.argv = ("app", "--serve")
    assert to_kubearmor(ev, HOST)["Resource"] == "--serve"


def test_listen_and_dns_strings_are_kubearmors_monitor_ones() -> None:
    """logUpdate.go: a listen's Resource is empty, so absent (its fd is in Data); a DNS question is its
    udp_sendmsg probe's record: Resource `sa_family=… sin_port=53`, Data
    `kfunc=UDP_SENDMSG,domain=…,daddr=…,qtype=A|AAAA|` (other types empty)."""
    listen = to_kubearmor(_call(Operation.NETWORK, "listen", "", fd="3", backlog="128"), HOST)
    assert ("Resource" not in listen, listen["Data"]) == (True, "syscall=SYS_LISTEN fd=3")
    for qtype, shown in (("A", "A"), ("AAAA", "AAAA"), ("MX", "")):
        ev = _call(Operation.NETWORK, "sendto", "example.com", fd="4", qname="example.com", qtype=qtype,
                   sa_family="AF_INET", sin_port="53", sin_addr="10.96.0.10")  # fmt: skip
        record = to_kubearmor(ev, HOST)
        assert record["Resource"] == "sa_family=AF_INET sin_port=53"
        assert record["Data"] == f"kfunc=UDP_SENDMSG,domain=example.com,daddr=10.96.0.10,qtype={shown}"


def test_kubearmors_dns_record_reads_back_as_a_dns_question() -> None:
    data = "kfunc=UDP_SENDMSG,domain=example.com,daddr=10.96.0.10,qtype=AAAA"
    doc = {"Operation": "Network", "Resource": "sa_family=AF_INET sin_port=53", "Data": data, "HostPID": 9}
    question = parse_record(doc).facts
    assert isinstance(question, DnsQuestion)
    assert (question.name, question.type) == ("example.com", "AAAA")
    assert question.server is not None and (question.server.ip, question.server.port) == ("10.96.0.10", 53)


def test_a_containers_pid_1_names_its_runtime_parent_by_host_pid_as_the_seed_does(seeds_dir: Path) -> None:
    """Seed 002's File and Network logs come from PID 1 of their containers: the parent is the
    runtime outside the namespace, so PPID is its host pid (equal to HostPPID) and
    ParentProcessName is the runtime's binary."""
    pid1 = [b for b in seed_blocks(seeds_dir, "002_803932e2227546a1.txt") if b.get("PID") == 1]
    assert len(pid1) == 2
    for seed in pid1:
        proc = ProcessInfo(pid=seed["HostPID"], ppid=seed["HostPPID"], ns_pid=1, ns_ppid=0,
                           exe=seed["ProcessName"], parent_exe=seed["ParentProcessName"])  # fmt: skip
        ev = _call(Operation.FILE, "openat", "/etc/hostname", fd="-100", flags="O_RDONLY")
        ev.process, ev.container = proc, ContainerInfo(container_id=seed["ContainerID"])
        record = to_kubearmor(ev, HOST)
        assert (record["PID"], record["PPID"], record["HostPPID"]) == (1, seed["PPID"], seed["HostPPID"])
        assert record["ParentProcessName"] == seed["ParentProcessName"]
    child = ProcessInfo(pid=50, ppid=40, ns_pid=7, ns_ppid=1)  # a parent inside: its namespace pid
    ev = _call(Operation.FILE, "openat", "/etc/hostname", fd="-100", flags="O_RDONLY")
    ev.process, ev.container = child, ContainerInfo(container_id="c" * 64)
    assert to_kubearmor(ev, HOST)["PPID"] == 1
    ev.process = ProcessInfo(pid=50, ppid=40, ns_pid=0, ns_ppid=0)  # namespace pids not known yet
    assert to_kubearmor(ev, HOST)["PPID"] == 0


def test_a_shell_started_by_runc_exec_names_runc_by_host_pid_as_seed_000_does(seeds_dir: Path) -> None:
    """Seed 000's `kubectl exec` shell is PID 832 of its container; its parent, runc, is outside
    the namespace (namespace parent 0), so PPID is runc's host pid, equal to HostPPID, and runc
    is its ParentProcessName and Source."""
    text = (seeds_dir / "000_6ec8f1a93d15e2aa.txt").read_text()
    seed = json.JSONDecoder().raw_decode(text[text.index("{", text.index("```json")) :])[0]
    assert (seed["PID"], seed["PPID"]) == (832, seed["HostPPID"])
    proc = ProcessInfo(pid=seed["HostPID"], ppid=seed["HostPPID"], ns_pid=832, ns_ppid=0,
                       exe=seed["ProcessName"], parent_exe=seed["ParentProcessName"])  # fmt: skip
    ev = _call(Operation.PROCESS, "execve", "/bin/sh")
    ev.argv = tuple(seed["Resource"].split(" ", 2))  # /bin/sh, -c, the command
    ev.process, ev.container = proc, ContainerInfo(container_id=seed["ContainerID"])
    record = to_kubearmor(ev, HOST)
    assert {k: record[k] for k in ("PID", "PPID", "HostPPID", "ParentProcessName", "Source", "Resource")} == {
        k: seed[k] for k in ("PID", "PPID", "HostPPID", "ParentProcessName", "Source", "Resource")
    }

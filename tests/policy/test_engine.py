"""Engine behaviour beyond single reference policies: precedence, enforcement, postures,
selectors, syscalls and reloads."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from beholder.events.facts import Exec
from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action, ContainerInfo
from beholder.formats.kubearmor_in import with_facts
from beholder.policy import PolicyEngine, Posture

from .conftest import container, owner_of


def ksp(
    name: str, body: str, namespace: str = "multiubuntu", selector: str = "{matchLabels: {app: web}}"
) -> str:
    return (
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\n"
        f"metadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  selector: {selector}\n{body}"
    )


WEB = container("web", app="web")
EACCES = -13


def kubearmor_view(alert) -> tuple[str, str, str, str]:
    return alert.rule_id, alert.extra["kubearmor.action"], alert.enforcer, alert.result


ENFORCEMENT = {
    "no LSM: block reported as audit": (False, 3, ("p", "Audit (Block)", "eBPF Monitor", "Passed")),
    "LSM refused the call": (True, EACCES, ("p", "Block", "BPFLSM", "Permission denied")),
    "LSM on but call passed: no claim": (True, 3, ("p", "Audit (Block)", "eBPF Monitor", "Passed")),
    "no LSM, refused by someone else": (
        False,
        EACCES,
        ("p", "Audit (Block)", "eBPF Monitor", "Permission denied"),
    ),
}


@pytest.mark.parametrize("case", ENFORCEMENT.values(), ids=ENFORCEMENT.keys())
def test_block_is_claimed_only_when_the_lsm_refused_the_call(case, ev, engine_from) -> None:
    lsm, retval, expected = case
    engine = engine_from(
        ksp("p", "  file: {matchPaths: [{path: /etc/shadow}]}\n  action: Block\n"), lsm_enforcing=lsm
    )
    (alert,) = engine.evaluate([ev.open("/etc/shadow", ctr=WEB, retval=retval)])
    assert kubearmor_view(alert) == expected
    assert alert.action is Action.BLOCK


def test_missing_action_means_block_and_missing_severity_means_one(ev, engine_from) -> None:
    engine = engine_from(ksp("p", "  process: {matchPaths: [{path: /usr/bin/apt}]}\n"))
    (alert,) = engine.evaluate([ev.exec("/usr/bin/apt", ctr=WEB)])
    assert (alert.action, alert.severity, alert.extra["kubearmor.action"]) == (
        Action.BLOCK,
        1,
        "Audit (Block)",
    )


PRECEDENCE = """  severity: 2
  tags: [SPEC]
  message: spec message
  action: Audit
  file:
    severity: 5
    tags: [SECTION]
    action: Block
    matchPaths:
    - path: /etc/rule
      severity: 9
      tags: [RULE, X]
      message: rule message
      action: Audit
    - path: /etc/section
  process:
    matchPaths:
    - path: /bin/spec
"""


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (("open", "/etc/rule"), (9, ("RULE", "X"), "rule message", "Audit")),
        (("open", "/etc/section"), (5, ("SECTION",), "spec message", "Audit (Block)")),
        (("exec", "/bin/spec"), (2, ("SPEC",), "spec message", "Audit")),
    ],
    ids=["rule wins", "section beats spec", "spec applies"],
)
def test_rule_overrides_section_overrides_spec(event, expected, ev, engine_from) -> None:
    engine = engine_from(ksp("p", PRECEDENCE))
    kind, path = event
    (alert,) = engine.evaluate([getattr(ev, kind)(path, ctr=WEB)])
    assert (alert.severity, alert.tags, alert.message, alert.extra["kubearmor.action"]) == expected


SPECIFIC = """  file:
    matchDirectories:
    - {dir: /etc/, recursive: true, action: Block}
    matchPaths:
    - {path: /etc/hosts, action: Allow}
    - {path: /etc/shadow, action: Allow, fromSource: [{path: /usr/sbin/sshd}]}
    - {path: /etc/passwd, action: Audit}
    - {path: /etc/group, action: Allow}
    - {path: /etc/group, action: Block}
"""


@pytest.mark.parametrize(
    ("path", "exe", "expected"),
    [
        ("/etc/hosts", "/bin/cat", None),  # exact Allow beats directory Block
        ("/etc/shadow", "/usr/sbin/sshd", None),  # fromSource Allow beats directory Block
        ("/etc/shadow", "/bin/cat", ("p", "Audit (Block)")),
        ("/etc/passwd", "/bin/cat", ("p", "Audit")),  # exact Audit beats directory Block
        ("/etc/group", "/bin/cat", ("p", "Audit (Block)")),  # equal specificity: Block wins
        ("/etc/ssh/sshd_config", "/bin/cat", ("p", "Audit (Block)")),
        ("/var/log/syslog", "/bin/cat", ("DefaultPosture", "Audit")),  # allow-list mode
    ],
)
def test_more_specific_rules_beat_directory_rules(path, exe, expected, ev, engine_from) -> None:
    engine = engine_from(ksp("p", SPECIFIC))
    alerts = engine.evaluate([ev.open(path, exe, ctr=WEB)])
    assert [(a.rule_id, a.extra["kubearmor.action"]) for a in alerts] == ([expected] if expected else [])


ALLOW_LS = "  process: {matchPaths: [{path: /bin/ls}]}\n  action: Allow\n"


@pytest.mark.parametrize(
    ("default", "annotations", "expected"),
    [
        (Posture(), {}, "Audit"),
        (Posture(file="block"), {}, "Audit (Block)"),
        (Posture(), {"kubearmor-file-posture": "block"}, "Audit (Block)"),
        (Posture(file="block"), {"kubearmor-file-posture": "audit"}, "Audit"),
        (Posture(), {"kubearmor-file-posture": "allow"}, None),
        (Posture(), {"kubearmor-network-posture": "block"}, "Audit"),
        (Posture(), {"kubearmor-file-posture": "nonsense"}, "Audit"),
    ],
)
def test_default_posture_per_namespace(default, annotations, expected, ev, engine_from) -> None:
    engine = engine_from(ksp("p", ALLOW_LS), default_posture=default)
    engine.set_namespace_posture("multiubuntu", annotations)
    alerts = engine.evaluate([ev.exec("/bin/ls", ctr=WEB), ev.open("/etc/passwd", "/bin/ls", ctr=WEB)])
    # process and file share one posture class: a process allow-list covers file access too
    assert [(a.rule_id, a.extra["kubearmor.action"], a.severity) for a in alerts] == (
        [("DefaultPosture", expected, 0)] if expected else []
    )


def test_classes_without_allow_rules_have_no_posture_alerts(ev, engine_from) -> None:
    engine = engine_from(ksp("p", ALLOW_LS))
    events = [ev.socket("SOCK_STREAM", 6, "/bin/ls", WEB), ev.capability("NET_RAW", "/bin/ls", WEB)]
    assert engine.evaluate(events) == []


NETWORK = "  network: {matchProtocols: [{protocol: 'tcp,udp'}]}\n  action: Audit\n"


@pytest.mark.parametrize(
    ("event", "hit"),
    [
        (("SOCK_STREAM|SOCK_CLOEXEC", 0), True),
        (("SOCK_DGRAM", 17), True),
        (("SOCK_RAW", 1), False),
        (("SOCK_STREAM", "TCP"), True),  # KubeArmor's spelling in Resource
        (("SOCK_DGRAM", "UDP"), True),
        (("SOCK_RAW", "ICMP"), False),
    ],
)
def test_comma_listed_protocols_each_match(event, hit, ev, engine_from) -> None:
    engine = engine_from(ksp("p", NETWORK))
    assert len(engine.evaluate([ev.socket(*event, "/usr/bin/curl", WEB)])) == int(hit)


def test_network_events_without_a_protocol_are_not_judged(ev, engine_from) -> None:
    from dataclasses import replace

    engine = engine_from(ksp("p", "  network: {matchProtocols: [{protocol: all}]}\n  action: Allow\n"))
    socket = ev.socket("SOCK_STREAM", 0, "/bin/nc", WEB)
    connect = with_facts(
        replace(socket, syscall="connect", resource="sa_family=AF_INET", kind="", facts=None), {"fd": "3"}
    )
    assert engine.evaluate([connect]) == []


@pytest.mark.parametrize("protocol", ["tcp", "udp", "raw", "icmp"])
@pytest.mark.parametrize(
    ("kind", "number"), [("SOCK_STREAM", 0), ("SOCK_DGRAM", 0), ("SOCK_RAW", 0), ("SOCK_SEQPACKET", 0)]
)
def test_inet_protocols_never_match_unix_or_netlink_sockets(protocol, kind, number, ev, engine_from) -> None:
    """tcp/udp/icmp/raw are inet/inet6 protocols: nscd's AF_UNIX stream socket is not tcp."""
    engine = engine_from(
        ksp("p", f"  network: {{matchProtocols: [{{protocol: {protocol}}}]}}\n  action: Audit\n")
    )
    for family in ("AF_UNIX", "AF_NETLINK"):
        assert engine.evaluate([ev.socket(kind, number, "/usr/bin/curl", WEB, family)]) == []
    inet = {"tcp": "SOCK_STREAM", "udp": "SOCK_DGRAM"}.get(protocol)
    if inet == kind:  # the same socket in AF_INET6 does match
        assert len(engine.evaluate([ev.socket(kind, number, "/usr/bin/curl", WEB, "AF_INET6")])) == 1


SYSCALLS = """  action: Block
  syscalls:
    severity: 3
    matchSyscalls:
    - syscall: [setuid, setgid]
      fromSource: [{dir: /usr/sbin/}]
    - syscall: [ptrace]
      fromSource: [{dir: /opt/, recursive: true}]
    matchPaths:
    - {path: /tmp/, recursive: true, syscall: [unlink]}
    - {path: /etc/, syscall: [unlinkat]}
"""


@pytest.mark.parametrize(
    ("syscall", "exe", "resource", "hit"),
    [
        ("setuid", "/usr/sbin/sshd", "", True),
        ("setgid", "/usr/sbin/sshd", "", True),
        ("setuid", "/usr/sbin/x/sshd", "", False),  # non-recursive source dir
        ("setuid", "/bin/su", "", False),
        ("ptrace", "/opt/tools/bin/gdb", "", True),  # recursive source dir
        ("unlink", "/bin/rm", "/tmp/a/b", True),
        ("unlinkat", "/bin/rm", "/etc/x", True),
        ("unlinkat", "/bin/rm", "/etc/x/y", False),
        ("mkdir", "/bin/mkdir", "/tmp/a", False),
    ],
)
def test_syscall_rules_always_audit(syscall, exe, resource, hit, ev, engine_from) -> None:
    engine = engine_from(ksp("p", SYSCALLS))
    alerts = engine.evaluate([ev.syscall(syscall, exe, resource, WEB)])
    assert [(a.extra["kubearmor.action"], a.action, a.severity) for a in alerts] == (
        [("Audit", Action.AUDIT, 3)] if hit else []
    )


HOST_ZONE = """apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata: {name: zone-a}
spec:
  nodeSelector: {matchLabels: {topology.kubernetes.io/zone: a}}
  process: {matchPaths: [{path: /usr/bin/nc}]}
  action: Audit
"""


@pytest.mark.parametrize(("labels", "hit"), [({"topology.kubernetes.io/zone": "a"}, True), ({}, False)])
def test_host_policies_select_on_extra_node_labels(labels, hit, ev, engine_from) -> None:
    engine = engine_from(HOST_ZONE, extra_node_labels=labels)
    alerts = engine.evaluate([ev.exec("/usr/bin/nc")])
    assert [(a.rule_id, a.policy_type) for a in alerts] == ([("zone-a", "MatchedHostPolicy")] if hit else [])


def test_a_new_container_object_is_selected_afresh(ev, engine_from) -> None:
    engine = engine_from(ksp("p", "  process: {matchPaths: [{path: /bin/sh}]}\n  action: Audit\n"))
    before = container("web", app="db")
    after = ContainerInfo(before.container_id, name="web", namespace="multiubuntu", labels={"app": "web"})
    assert engine.evaluate([ev.exec("/bin/sh", ctr=before)]) == []
    assert len(engine.evaluate([ev.exec("/bin/sh", ctr=after)])) == 1


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_reload_keeps_the_last_good_version_of_a_broken_file_or_policy(tmp_path: Path, ev) -> None:
    audit = "  process: {matchPaths: [{path: /bin/sh}]}\n  action: Audit\n"
    one = _write(tmp_path / "one.yaml", ksp("one", audit))
    two = _write(tmp_path / "two.yaml", ksp("two", audit.replace("/bin/sh", "/bin/ls")))
    engine, errors = PolicyEngine.load([tmp_path], HostIdentity("node"), owner_of=owner_of)
    assert errors == []

    one.write_text("not: [valid yaml")  # unparsable: the whole file keeps its old policies
    two.write_text(ksp("two", audit.replace("Audit", "Deny")))  # invalid policy: keeps its old version
    _write(tmp_path / "three.yaml", ksp("three", audit.replace("/bin/sh", "/bin/dd")))
    errors = engine.reload([tmp_path])
    assert len(errors) == 2
    hits = engine.evaluate([ev.exec(p, ctr=WEB) for p in ("/bin/sh", "/bin/ls", "/bin/dd")])
    assert [a.rule_id for a in hits] == ["one", "two", "three"]

    (tmp_path / "three.yaml").unlink()
    assert len(engine.reload([tmp_path])) == 2
    assert engine.evaluate([ev.exec("/bin/dd", ctr=WEB)]) == []  # a removed file's policies go


def test_reload_never_leaves_a_moment_without_policies(tmp_path: Path, ev) -> None:
    path = _write(
        tmp_path / "p.yaml", ksp("p", "  process: {matchPaths: [{path: /bin/sh}]}\n  action: Audit\n")
    )
    engine, _ = PolicyEngine.load([path], HostIdentity("node"))
    batch = [ev.exec("/bin/sh", ctr=container("web", app="web"))]
    misses = []
    stop = threading.Event()

    def evaluate_forever() -> None:
        while not stop.is_set():
            if len(engine.evaluate(batch)) != 1:
                misses.append(1)

    worker = threading.Thread(target=evaluate_forever)
    worker.start()
    for _ in range(200):
        engine.reload([path])
    stop.set()
    worker.join()
    assert misses == []


def _object(name: str, path: str, action: str = "Audit") -> dict:
    return {
        "apiVersion": "security.kubearmor.com/v1",
        "kind": "KubeArmorPolicy",
        "metadata": {"name": name, "namespace": "multiubuntu", "resourceVersion": "42", "uid": "u-1"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "process": {"matchPaths": [{"path": path}]},
            "action": action,
        },
    }


def test_api_server_policies_and_file_policies_update_independently(tmp_path: Path, ev) -> None:
    path = _write(
        tmp_path / "p.yaml", ksp("from-file", "  process: {matchPaths: [{path: /bin/sh}]}\n  action: Audit\n")
    )
    engine, _ = PolicyEngine.load([path], HostIdentity("node"))
    assert engine.apply_cluster_policies([_object("from-api", "/bin/ls")]) == []
    execs = [ev.exec(p, ctr=WEB) for p in ("/bin/sh", "/bin/ls", "/bin/dd")]
    assert [a.rule_id for a in engine.evaluate(execs)] == ["from-file", "from-api"]

    errors = engine.apply_cluster_policies([_object("from-api", "/bin/dd", action="Deny")])
    assert len(errors) == 1 and "KubeArmorPolicy 'multiubuntu/from-api': spec.action: 'Deny'" in errors[0]
    assert [a.rule_id for a in engine.evaluate(execs)] == ["from-file", "from-api"]  # last good version

    assert engine.reload([path]) == []
    assert [a.rule_id for a in engine.evaluate(execs)] == ["from-file", "from-api"]
    assert engine.apply_cluster_policies([]) == []
    assert [a.rule_id for a in engine.evaluate(execs)] == ["from-file"]


@pytest.mark.parametrize(
    ("lsm", "kill", "words"),
    [
        (True, False, "deny in the kernel"),
        (False, False, "nothing is blocked"),
        (False, True, "SIGKILL the caller"),
    ],
)
def test_engine_says_at_start_whether_blocks_are_real(lsm: bool, kill: bool, words: str) -> None:
    assert words in PolicyEngine(HostIdentity("node"), lsm_enforcing=lsm).enforcement_status(kill)


def test_exec_from_source_is_the_calling_binary(ev, engine_from) -> None:
    """`bash -c date`: bash execs date itself, so the source is bash whatever the parent is."""
    engine = engine_from(
        ksp(
            "p",
            "  process:\n    matchPaths: [{path: /usr/bin/date, fromSource: [{path: /usr/bin/bash}]}]\n"
            "  action: Block\n",
        )
    )
    date = ev.exec("/usr/bin/date", parent="/usr/bin/python3", ctr=WEB)
    assert engine.evaluate([date]) == []
    date.facts = Exec("/usr/bin/date", caller="/usr/bin/bash")
    (alert,) = engine.evaluate([date])
    assert alert.rule_id == "p"


@pytest.mark.parametrize("protocol", ["ICMP", "1"])
def test_an_icmp_socket_answers_to_protocol_icmp(protocol, ev, engine_from) -> None:
    engine = engine_from(ksp("p", "  network: {matchProtocols: [{protocol: icmp}]}\n  action: Audit\n"))
    (alert,) = engine.evaluate([ev.socket("SOCK_RAW", protocol, "/bin/ping", WEB)])
    assert alert.rule_id == "p"


def test_a_packet_socket_is_raw(ev, engine_from) -> None:
    """arping's AF_PACKET SOCK_RAW socket answers to `raw`, as KubeArmor's net-raw scenarios expect."""
    engine = engine_from(ksp("p", "  network: {matchProtocols: [{protocol: raw}]}\n  action: Audit\n"))
    (alert,) = engine.evaluate([ev.socket("SOCK_RAW", 768, "/usr/sbin/arping", WEB, "AF_PACKET")])
    assert alert.rule_id == "p"


def test_capability_net_raw_is_judged_on_the_raw_socket(ev, engine_from) -> None:
    """As KubeArmor reports it: Operation Network, the SOCK_RAW socket, not the capability check."""
    engine = engine_from(
        ksp("p", "  capabilities: {matchCapabilities: [{capability: net_raw}]}\n  action: Block\n")
    )
    (alert,) = engine.evaluate([ev.socket("SOCK_RAW", 768, "/usr/sbin/arping", WEB, "AF_PACKET")])
    assert (alert.rule_id, alert.event.operation.value) == ("p", "Network")
    assert engine.evaluate([ev.capability("NET_RAW", "/usr/sbin/arping", WEB)]) == []
    assert engine.evaluate([ev.socket("SOCK_STREAM", 0, "/usr/bin/curl", WEB)]) == []


def test_a_syscall_rule_on_unlink_is_raised_as_a_syscall(ev, engine_from) -> None:
    """unlinkat is a file event here; KubeArmor reports its matchSyscalls rule as Operation Syscall."""
    from beholder.events.interfaces import HostIdentity
    from beholder.formats.kubearmor import to_kubearmor

    engine = engine_from(ksp("p", SYSCALLS))
    unlink = ev.open("/etc/x", "/bin/rm", ctr=WEB)
    unlink.syscall, unlink.facts.dirfd = "unlinkat", -100
    (alert,) = engine.evaluate([unlink])
    record = to_kubearmor(alert.event, HostIdentity("h"), alert)
    assert (record["PolicyName"], record["Operation"], record["Resource"]) == ("p", "Syscall", "/etc/x")
    assert (
        to_kubearmor(unlink, HostIdentity("h"))["Operation"] == "File"
    )  # the event itself stays a file event

"""Each rule of the catalogue fires on what it should and stays quiet otherwise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from beholder.bob.cooldown import Cooldown, CooldownSettings
from beholder.bob.engine import ProfileEngine
from beholder.bob.profile import load_text
from beholder.bob.rules import ALL_SPECS, BEHOLDER_RULES, CATALOGUE
from beholder.enrich.mounts import ContainerMounts
from beholder.events.model import ContainerInfo, Event
from bob import builders as b
from conftest import REFERENCE, require

RULES_YAML = REFERENCE / "kubescape" / "rules" / "node-agent-default-rules.yaml"


def upstream_rules() -> dict[str, dict]:
    require(RULES_YAML.is_file(), f"{RULES_YAML} missing")
    text = "\n".join(line for line in RULES_YAML.read_text().splitlines() if "{{" not in line)
    return {r["id"]: r for r in yaml.safe_load(text)["spec"]["rules"]}


def test_catalogue_matches_kubescape_default_rules_field_by_field() -> None:
    upstream = upstream_rules()
    wanted = [f"R{n:04d}" for n in (*range(1, 12), 40, *range(1000, 1013), 1015, 1030) if n != 1003]
    assert {s.id for s in ALL_SPECS} - BEHOLDER_RULES == set(wanted)
    for spec in ALL_SPECS:
        if spec.id in BEHOLDER_RULES:
            continue
        u = upstream[spec.id]
        ours = (spec.name, spec.severity, spec.enabled, spec.tactic, spec.technique, list(spec.tags))
        theirs = (u["name"], u["severity"], u["enabled"], u["mitreTactic"], u["mitreTechnique"], u["tags"])
        assert ours == theirs, spec.id
        assert spec.profile_dependency == u["profileDependency"], spec.id
        assert spec.support_policy == u["supportPolicy"], spec.id


def test_every_rule_reads_at_least_one_event_kind() -> None:
    assert all(rule.kinds for rule in CATALOGUE)


PROFILE = """apiVersion: spdx.softwarecomposition.kubescape.io/v1beta1
kind: ContainerProfile
metadata:
  name: web
  namespace: shop
  annotations: {kubescape.io/status: completed, kubescape.io/completion: complete}
spec:
  execs:
  - {path: /usr/sbin/nginx, args: [nginx, -g, ⋯]}
  - {path: /bin/busybox, args: [/docker-entrypoint.sh, ⋯⋯]}
  - {path: /usr/bin/kubectl, args: []}
  opens:
  - {path: /etc/nginx/*, flags: [O_RDONLY]}
  - {path: /proc/⋯/stat, flags: [O_RDONLY]}
  - {path: /var/log/nginx/access.log, flags: [O_WRONLY]}
  syscalls: [read, write, openat, execve, bpf]
  capabilities: [CAP_NET_BIND_SERVICE, SETUID]
  egress:
  - identifier: api
    ipAddresses: [10.96.0.0/12]
    dnsNames: ['*.example.com.', 'api.github.com.']
    ports: [{name: TCP-443, port: 443, protocol: TCP}]
  rulePolicies:
    R0001: {processAllowed: [ping]}
    R0008: {containerAllowed: true}
    R1010: {processAllowed: [ln]}
  matchLabels: {app: web}
"""

WEB = ContainerInfo("c1", name="nginx", namespace="shop", labels={"app": "web"})
NGINX = b.process("/usr/sbin/nginx")


def engine(**options: object) -> ProfileEngine:
    enabled = {s.id for s in ALL_SPECS}  # every rule, including the ones off by default
    return ProfileEngine(load_text(PROFILE), enabled=enabled, api_servers=["10.96.0.1"], **options)


def fired(events: list[Event], **options: object) -> list[str]:
    return [a.rule_id for a in engine(**options).evaluate(events)]


CASES: list[tuple[str, Callable[[ContainerInfo], list[Event]], list[str]]] = [
    # R0001 / R0040: exec paths and args against the profile
    (
        "known exec with matching args",
        lambda c: [b.exec_event(c, "/usr/sbin/nginx", ("nginx", "-g", "daemon off;"))],
        [],
    ),
    ("unknown exec", lambda c: [b.exec_event(c, "/bin/ls", ("ls",), exe="/bin/ls")], ["R0001"]),
    (
        "busybox applet resolves to a known exe",
        lambda c: [
            b.exec_event(c, "/docker-entrypoint.sh", ("/docker-entrypoint.sh", "nginx"), exe="/bin/busybox")
        ],
        [],
    ),
    (
        "known exec with other args",
        lambda c: [b.exec_event(c, "/usr/sbin/nginx", ("nginx", "-s", "reload", "now"))],
        ["R0040"],
    ),
    ("failed exec is not an exec", lambda c: [b.exec_event(c, "/bin/ls", ("ls",), retval=-2)], []),
    (
        "rulePolicies do not silence R0001 (not a supportPolicy rule)",
        lambda c: [b.exec_event(c, "/bin/ping", ("ping", "1.1.1.1"))],
        ["R0001"],
    ),
    # R0002 (off by default): watched prefixes only, service account and /tmp excluded
    ("profiled open under a trailing star", lambda c: [b.open_event(c, "/etc/nginx/conf.d/x.conf")], []),
    ("unprofiled open under /etc", lambda c: [b.open_event(c, "/etc/hosts")], ["R0002"]),
    ("unprofiled open outside watched prefixes", lambda c: [b.open_event(c, "/usr/lib/libc.so")], []),
    (
        "open the kernel refused is an attempt",
        lambda c: [b.open_event(c, "/etc/hosts", retval=-13)],
        ["R0002"],
    ),
    ("open of nothing is not", lambda c: [b.open_event(c, "/etc/hosts", retval=-2)], []),
    (
        "/proc/self/environ is watched",
        lambda c: [b.open_event(c, "/proc/self/environ")],
        ["R0002", "R0008"],
    ),
    # R0004 capabilities with and without the CAP_ prefix in the profile
    (
        "profiled capability",
        lambda c: [b.capability_event(c, "NET_BIND_SERVICE"), b.capability_event(c, "SETUID")],
        [],
    ),
    ("unprofiled capability", lambda c: [b.capability_event(c, "SYS_ADMIN")], ["R0004"]),
    # R0005 DNS
    ("profiled domain", lambda c: [b.dns_event(c, "api.github.com"), b.dns_event(c, "cdn.example.com")], []),
    ("cluster-local domain", lambda c: [b.dns_event(c, "redis.shop.svc.cluster.local")], []),
    ("unknown domain", lambda c: [b.dns_event(c, "evil.example.org")], ["R0005"]),
    ("two labels under a one-label wildcard", lambda c: [b.dns_event(c, "a.b.example.com")], ["R0005"]),
    ("an empty label is no label of *.example.com.", lambda c: [b.dns_event(c, ".example.com.")], ["R0005"]),
    (
        "the resolver's search list tries name.cluster.local. first: one alert per lookup",
        lambda c: [b.dns_event(c, "evil.example.org.cluster.local"), b.dns_event(c, "evil.example.org")],
        ["R0005"],
    ),
    # R0006 service account token
    (
        "token read",
        lambda c: [
            b.open_event(c, "/run/secrets/kubernetes.io/serviceaccount/..2025_07_07_21_05_56.676258237/token")
        ],
        ["R0006"],
    ),
    (
        "eks token read",
        lambda c: [b.open_event(c, "/var/run/secrets/eks.amazonaws.com/serviceaccount/token")],
        ["R0002", "R0006"],
    ),
    (
        "ca.crt is not the token",
        lambda c: [b.open_event(c, "/run/secrets/kubernetes.io/serviceaccount/ca.crt")],
        [],
    ),
    # R0007 kubernetes client
    ("kubectl in profile", lambda c: [b.exec_event(c, "/usr/bin/kubectl", ("kubectl", "get", "pods"))], []),
    ("kubectl not in profile", lambda c: [b.exec_event(c, "/tmp/kubectl", ("kubectl",))], ["R0001", "R0007"]),
    ("api server address in egress", lambda c: [b.connect_event(c, "10.96.0.1", 443)], []),
    # R0008 environ: its containerAllowed policy is ignored, R0008 is not a supportPolicy rule
    (
        "environ read despite a containerAllowed policy",
        lambda c: [b.open_event(c, "/proc/1/environ")],
        ["R0008"],
    ),
    # R0009 bpf program load
    ("bpf prog load in a profile that lists bpf", lambda c: [b.syscall_event(c, "bpf", cmd="5")], []),
    # R0010 sensitive files
    ("shadow read", lambda c: [b.open_event(c, "/etc/shadow")], ["R0002", "R0010"]),
    (
        "shadow read refused by the kernel",
        lambda c: [b.open_event(c, "/etc/shadow", retval=-13)],
        ["R0002", "R0010"],
    ),
    # R0011 egress (off by default)
    ("public egress not in profile", lambda c: [b.connect_event(c, "1.1.1.1", 80)], ["R0011"]),
    ("private egress", lambda c: [b.connect_event(c, "10.1.2.3", 80)], []),
    ("egress still connecting", lambda c: [b.connect_event(c, "1.1.1.1", 80, retval=-115)], ["R0011"]),
    (
        "egress the remote refused still left",
        lambda c: [b.connect_event(c, "1.1.1.1", 80, retval=-111)],
        ["R0011"],
    ),
    ("egress on a bad socket", lambda c: [b.connect_event(c, "1.1.1.1", 80, retval=-9)], []),
    # BH-METADATA cloud metadata
    ("instance metadata", lambda c: [b.connect_event(c, "169.254.169.254", 80)], ["BH-METADATA"]),
    (
        "AWS IPv6 metadata (private to R0011)",
        lambda c: [b.connect_event(c, "fd00:ec2::254", 80)],
        ["BH-METADATA"],
    ),
    # R1000 malicious source
    ("exec from /dev/shm", lambda c: [b.exec_event(c, "/dev/shm/x", ("/dev/shm/x",))], ["R0001", "R1000"]),
    (
        "exec refused by a noexec /dev/shm",  # the caller's image stays: judged by the event's file
        lambda c: [b.exec_event(c, "/dev/shm/x", ("/dev/shm/x",), exe="/bin/sh", retval=-13)],
        ["R0001", "R1000"],
    ),
    (
        "exec of nothing ($PATH walk)",
        lambda c: [b.exec_event(c, "/usr/local/bin/ls", ("ls",), retval=-2)],
        [],
    ),
    (
        "exec with cwd /dev/shm",
        lambda c: [b.exec_event(c, "/usr/sbin/nginx", ("nginx", "-g", "x"), cwd="/dev/shm")],
        ["R1000"],
    ),
    ("exec from /dev/shmem is not /dev/shm", lambda c: [b.exec_event(c, "/dev/shmem/x", ("x",))], ["R0001"]),
    # R1002 kernel modules, any outcome
    ("init_module", lambda c: [b.syscall_event(c, "init_module", retval=-1, params="x=1")], ["R1002"]),
    ("finit_module", lambda c: [b.syscall_event(c, "finit_module")], ["R1002"]),
    # R1005 fileless
    (
        "exec of a memfd through /proc/self/fd",
        lambda c: [b.exec_event(c, "/proc/self/fd/3", ("x",), exe="/memfd:x (deleted)")],
        ["R0001", "R1005"],
    ),
    (
        "exec through /proc/self/fd of a file on disk is judged by that file",
        lambda c: [b.exec_event(c, "/proc/self/fd/3", ("x",), exe="/usr/sbin/nginx")],
        ["R0040"],
    ),
    (
        "exec of /proc/PID/fd/N",
        lambda c: [b.exec_event(c, "/proc/77/fd/4", ("x",), exe="/proc/77/fd/4")],
        ["R0001", "R1005"],
    ),
    # R1006 unshare
    ("unshare outside runc", lambda c: [b.syscall_event(c, "unshare", flags="0x10000000")], ["R1006"]),
    (
        "unshare by a child of runc (node-agent judges it)",
        lambda c: [b.syscall_event(c, "unshare", b.process("/bin/sh", parent_exe="/usr/bin/runc"))],
        ["R1006"],
    ),
    (
        "runc's own init is the runtime, never judged",
        lambda c: [replace(b.syscall_event(c, "unshare"), comm="runc:[1:CHILD]")],
        [],
    ),
    (
        "runc init started as /proc/self/exe is the runtime too",
        lambda c: [replace(b.exec_event(c, "/proc/self/exe", ("runc", "init")), comm="exe")],
        [],
    ),
    # R1007 randomx, R1008 mining domains, R1009 mining ports
    ("randomx signal", lambda c: [b.syscall_event(c, "randomx", b.process("/tmp/xmrig"))], ["R1007"]),
    ("mining pool lookup", lambda c: [b.dns_event(c, "xmr.pool.minergate.com")], ["R0005", "R1008"]),
    ("stratum port", lambda c: [b.connect_event(c, "10.9.9.9", 3333)], ["R1009"]),
    # R1010 / R1012 links over sensitive files
    (
        "symlink to shadow by a process the R1010 policy allows",
        lambda c: [b.symlink_event(c, "/etc/shadow", "/tmp/s")],
        [],
    ),
    (
        "symlink to shadow by another process",
        lambda c: [b.symlink_event(c, "/etc/shadow", "/tmp/s", b.process("/usr/bin/python3"))],
        ["R1010"],
    ),
    ("symlink to a harmless file", lambda c: [b.symlink_event(c, "/etc/hosts", "/tmp/s")], []),
    (
        "hardlink to sudoers, even when refused",
        lambda c: [b.link_event(c, "/etc/sudoers", "/tmp/h", retval=-1)],
        ["R1012"],
    ),
    # R1011 ld.so.preload writes (off by default)
    (
        "ld.so.preload written",
        lambda c: [b.open_event(c, "/etc/ld.so.preload", "O_WRONLY|O_APPEND")],
        ["R0002", "R1011"],
    ),
    ("ld.so.preload read", lambda c: [b.open_event(c, "/etc/ld.so.preload", "O_RDONLY")], ["R0002"]),
    # R1015 ptrace writes, R1030 io_uring
    ("ptrace POKETEXT", lambda c: [b.syscall_event(c, "ptrace", request="4", pid="1")], ["R1015"]),
    ("ptrace ATTACH only", lambda c: [b.syscall_event(c, "ptrace", request="16", pid="1")], []),
    ("io_uring setup", lambda c: [b.syscall_event(c, "io_uring_setup", entries="8")], ["R1030"]),
]


@pytest.mark.parametrize(("events", "expected"), [(e, x) for _, e, x in CASES], ids=[n for n, _, _ in CASES])
def test_rule_fires_exactly_when_behaviour_leaves_the_profile(
    events: Callable[[ContainerInfo], list[Event]], expected: list[str]
) -> None:
    assert sorted(fired(events(WEB))) == sorted(expected)


def test_signature_rules_need_no_profile_and_anomaly_rules_need_one() -> None:
    stranger = ContainerInfo("c2", name="other", namespace="elsewhere")
    events = [
        b.exec_event(stranger, "/dev/shm/x", ("x",)),
        b.open_event(stranger, "/etc/shadow"),
        b.dns_event(stranger, "evil.example.org"),
        b.capability_event(stranger, "SYS_ADMIN"),
    ]
    assert sorted(fired(events)) == ["R1000", "R0010"][::-1]


def test_r1004_fires_for_exec_from_a_mount_the_provider_reports() -> None:
    events = [b.exec_event(WEB, "/data/payload", ("payload",))]
    data = ContainerMounts(mount_points=("/data",))
    assert sorted(fired(events, mounts=lambda c, pid: data)) == ["R0001", "R1004"]
    assert fired(events) == ["R0001"]
    # node-agent compares plain string prefixes: a mount /data also covers /data2
    sibling = [b.exec_event(WEB, "/data2/payload", ("payload",))]
    assert sorted(fired(sibling, mounts=lambda c, pid: data)) == ["R0001", "R1004"]


def test_capabilities_compare_with_or_without_cap_on_both_sides() -> None:
    behaviour = engine().behaviour_for(WEB)
    assert behaviour is not None
    assert behaviour.was_capability_used("CAP_SETUID") and behaviour.was_capability_used("setuid")


def test_bind_takes_an_id_prefix_and_names_a_binding_to_no_profile() -> None:
    c = ContainerInfo("3f2a9c" + "0" * 58, name="")
    eng = ProfileEngine(load_text(PROFILE), bindings={"3f2a9c": "web", "abc": "web", "nginx-x": "nope"})
    assert eng.behaviour_for(c) is not None  # an id prefix binds
    assert ProfileEngine(load_text(PROFILE), bindings={"3f2": "web"}).behaviour_for(c) is None  # too short
    assert eng.binding_problems() == ["--bind nginx-x=nope: no profile named 'nope' is loaded"]


def test_r1001_fires_for_an_exe_or_parent_in_the_overlay_upper_layer(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "x").write_text("#!/bin/sh\n")
    upper = ContainerMounts(upperdir=str(tmp_path))
    drifted = b.exec_event(WEB, "/tmp/x", ("x",))
    assert fired([drifted]) == ["R0001"]  # no mounts known: silent
    assert sorted(fired([drifted], mounts=lambda c, pid: upper)) == ["R0001", "R1001"]
    child = b.exec_event(WEB, "/usr/local/bin/y", ("y",), parent_exe="/tmp/x")
    assert sorted(fired([child], mounts=lambda c, pid: upper)) == ["R0001", "R1001"]  # pupperlayer
    profiled = b.exec_event(WEB, "/usr/sbin/nginx", ("nginx", "-g", "x"), parent_exe="/tmp/x")
    assert fired([profiled], mounts=lambda c, pid: upper) == []
    image = b.exec_event(WEB, "/usr/local/bin/y", ("y",))
    assert fired([image], mounts=lambda c, pid: upper) == ["R0001"]


def test_r0009_needs_a_successful_prog_load_outside_the_profile() -> None:
    no_bpf = PROFILE.replace("execve, bpf]", "execve]")
    eng = ProfileEngine(load_text(no_bpf))
    assert [a.rule_id for a in eng.evaluate([b.syscall_event(WEB, "bpf", cmd="5")])] == ["R0009"]
    assert (
        eng.evaluate([b.syscall_event(WEB, "bpf", cmd="5", retval=-1), b.syscall_event(WEB, "bpf", cmd="0")])
        == []
    )


def test_default_off_rules_stay_off_unless_enabled() -> None:
    event = b.open_event(WEB, "/etc/hosts")  # R0002 is off upstream; R0011 and R0040 are on now
    assert ProfileEngine(load_text(PROFILE)).evaluate([event]) == []
    assert [a.rule_id for a in ProfileEngine(load_text(PROFILE), enabled={"R0002"}).evaluate([event])] == [
        "R0002"
    ]


def test_repeated_anomaly_alerts_once_per_container() -> None:
    eng = engine()
    loop = [b.exec_event(WEB, "/bin/ls", ("ls",)) for _ in range(5)]
    assert [a.rule_id for a in eng.evaluate(loop)] == ["R0001"]
    other = ContainerInfo("c3", name="nginx", namespace="shop", labels={"app": "web"})
    assert [a.rule_id for a in eng.evaluate([b.exec_event(other, "/bin/ls", ("ls",))])] == ["R0001"]


def test_cooldown_reopens_after_its_window_and_counts_alerts_per_key() -> None:
    now = [0.0]
    cool = Cooldown(CooldownSettings(duration_s=60, after=2), clock=lambda: now[0])
    key = ("c1", "R0001", "ls_/bin/ls")
    assert [cool.allow(key) for _ in range(3)] == [True, True, False]
    assert cool.allow(("c2", "R0001", "ls_/bin/ls"))  # another container: its own key
    now[0] = 61.0
    assert [cool.allow(key) for _ in range(3)] == [True, True, False]


def test_cooldown_off_lets_every_attempt_alert() -> None:
    eng = engine(cooldown=CooldownSettings(duration_s=0))
    loop = [b.exec_event(WEB, "/bin/ls", ("ls",)) for _ in range(3)]
    assert [a.rule_id for a in eng.evaluate(loop)] == ["R0001"] * 3


def test_unexpected_syscalls_come_from_the_per_cgroup_set() -> None:
    eng = engine()
    first = eng.observe_syscalls(WEB, {"read", "write", "ptrace", "mount"})
    assert sorted(a.event.syscall for a in first) == ["mount", "ptrace"]
    assert {a.rule_id for a in first} == {"R0003"}
    assert eng.observe_syscalls(WEB, {"read", "ptrace"}) == []  # already reported
    assert first[0].event.timestamp_ns > 0  # when the kernel's set first showed it


def test_a_refused_attempt_says_so_in_its_alert() -> None:
    (alert,) = [
        a for a in engine().evaluate([b.open_event(WEB, "/etc/shadow", retval=-13)]) if a.rule_id == "R0010"
    ]
    assert alert.message.endswith("(refused: EACCES)")


def test_a_name_is_judged_once_even_with_the_cooldown_off() -> None:
    eng = engine(cooldown=CooldownSettings(duration_s=0))
    assert [a.event.syscall for a in eng.observe_syscalls(WEB, {"read", "mount"})] == ["mount"]
    assert [a.event.syscall for a in eng.observe_syscalls(WEB, {"read", "mount", "ptrace"})] == ["ptrace"]


def test_profile_without_syscalls_expects_none_as_node_agent() -> None:
    eng = ProfileEngine(
        load_text(PROFILE.replace("syscalls: [read, write, openat, execve, bpf]", "syscalls: null"))
    )
    assert [a.event.syscall for a in eng.observe_syscalls(WEB, {"ptrace"})] == ["ptrace"]


def test_alert_carries_rule_profile_and_mitre_facts() -> None:
    (alert,) = engine().evaluate([b.exec_event(WEB, "/bin/ls", ("ls",))])
    assert (alert.source, alert.rule_id, alert.rule_name, alert.severity) == (
        "profile",
        "R0001",
        "Unexpected process launched",
        1,
    )
    assert {"TA0002", "T1059", "anomaly"} <= set(alert.tags)
    assert alert.extra["profile.name"] == "web"
    assert alert.extra["profile.status"] == "completed" and alert.extra["profile.completion"] == "complete"
    assert alert.message.startswith("Unexpected process launched: ls with PID")


# --- binding ------------------------------------------------------------------------------
AP = """apiVersion: spdx.softwarecomposition.kubescape.io/v1beta1
kind: ApplicationProfile
metadata:
  name: {name}
  namespace: shop
  labels: {{kubescape.io/workload-kind: Deployment, kubescape.io/workload-name: {workload}}}
spec:
  containers:
  - name: app
    imageID: registry/app@sha256:{digest}
    execs: [{{path: /bin/{name}}}]
"""


def two_profiles() -> list:
    return load_text(AP.format(name="alpha", workload="front", digest="a" * 64)) + load_text(
        AP.format(name="beta", workload="back", digest="b" * 64)
    )


BINDINGS = [
    (
        "user-defined-profile label",
        ContainerInfo(
            "x", name="app", namespace="shop", labels={"kubescape.io/user-defined-profile": "beta"}
        ),
        {},
        "beta",
    ),
    (
        "workload",
        ContainerInfo("x", name="app", namespace="shop", workload_kind="Deployment", workload_name="front"),
        {},
        "alpha",
    ),
    (
        "image digest",
        ContainerInfo("x", name="app", image_id="docker-pullable://registry/app@sha256:" + "b" * 64),
        {},
        "beta",
    ),
    (
        "explicit mapping wins",
        ContainerInfo("x", name="app", namespace="shop", workload_name="front"),
        {"x": "beta"},
        "beta",
    ),
    (
        "explicit mapping crosses namespaces",
        ContainerInfo("x", name="app", namespace="prod"),
        {"app": "alpha"},
        "alpha",
    ),
    (
        "other namespace does not bind by label",
        ContainerInfo(
            "x", name="app", namespace="prod", labels={"kubescape.io/user-defined-profile": "beta"}
        ),
        {},
        None,
    ),
    ("nothing matches", ContainerInfo("x", name="app", namespace="shop"), {}, None),
]


@pytest.mark.parametrize(
    ("c", "mapping", "expected"), [x[1:] for x in BINDINGS], ids=[x[0] for x in BINDINGS]
)
def test_profiles_bind_by_label_workload_image_or_mapping(
    c: ContainerInfo, mapping: dict[str, str], expected: str | None
) -> None:
    behaviour = ProfileEngine(two_profiles(), bindings=mapping).behaviour_for(c)
    assert (behaviour.profile_name if behaviour else None) == expected


def test_network_neighborhood_joins_the_application_profile() -> None:
    nn = """apiVersion: spdx.softwarecomposition.kubescape.io/v1beta1
kind: NetworkNeighborhood
metadata: {name: alpha-net, namespace: shop}
spec:
  containers:
  - name: app
    egress: [{identifier: gh, dnsNames: [github.com.], ipAddress: 140.82.112.3}]
"""
    c = ContainerInfo(
        "x",
        name="app",
        namespace="shop",
        labels={
            "kubescape.io/user-defined-profile": "alpha",
            "kubescape.io/user-defined-network": "alpha-net",
        },
    )
    eng = ProfileEngine(two_profiles() + load_text(nn), enabled={"R0001", "R0005", "R0011"})
    events = [
        b.dns_event(c, "github.com"),
        b.connect_event(c, "140.82.112.3", 443),
        b.exec_event(c, "/bin/alpha"),
    ]
    assert eng.evaluate(events) == []
    assert [a.rule_id for a in eng.evaluate([b.dns_event(c, "gitlab.com")])] == ["R0005"]
    assert eng.behaviour_for(c).network_name == "alpha-net"


def test_an_application_profile_bound_alone_has_an_empty_egress() -> None:
    c = ContainerInfo(
        "x", name="app", namespace="shop", labels={"kubescape.io/user-defined-profile": "alpha"}
    )
    eng = ProfileEngine(two_profiles(), enabled={"R0005"})  # as node-agent's ContainerProfile
    assert [a.rule_id for a in eng.evaluate([b.dns_event(c, "gitlab.com")])] == ["R0005"]


def test_rule_policies_silence_a_supportpolicy_rule_for_named_processes_only() -> None:
    eng = engine()
    ln = b.link_event(WEB, "/etc/shadow", "/tmp/a")
    python = b.link_event(WEB, "/etc/shadow", "/tmp/b", b.process("/usr/bin/python3"))
    assert [a.rule_id for a in eng.evaluate([ln, python])] == ["R1012", "R1012"]  # no R1012 policy
    quiet = b.symlink_event(WEB, "/etc/shadow", "/tmp/c")
    loud = b.symlink_event(WEB, "/etc/shadow", "/tmp/d", b.process("/usr/bin/python3"))
    assert [a.rule_id for a in eng.evaluate([quiet, loud])] == ["R1010"]


def test_a_container_binds_once_its_pod_labels_arrive() -> None:
    eng = engine()
    late = ContainerInfo("late", name="nginx", namespace="shop")
    assert eng.evaluate([b.exec_event(late, "/bin/ls", ("ls",))]) == []  # no profile bound yet
    late.labels.update({"app": "web"})  # the pod watcher fills the shared ContainerInfo later
    assert [a.rule_id for a in eng.evaluate([b.exec_event(late, "/bin/cat", ("cat",))])] == ["R0001"]


def test_replicas_of_a_workload_share_one_compiled_profile() -> None:
    eng = engine()
    replicas = [
        ContainerInfo(f"r{i}", name="nginx", namespace="shop", labels={"app": "web"}) for i in range(3)
    ]
    compiled = {id(eng.behaviour_for(c)) for c in replicas}
    assert len(compiled) == 1 and eng.behaviour_for(replicas[0]) is not None


def test_re_executing_oneself_is_the_callers_binary() -> None:
    applet = b.exec_event(WEB, "/proc/self/exe", ("cat", "/etc/hostname"), parent_exe="/bin/toybox")
    assert fired([applet]) == ["R0001"]  # /bin/toybox is not in the profile
    known = b.exec_event(WEB, "/proc/self/exe", ("nginx", "-g", "x"), parent_exe="/usr/sbin/nginx")
    assert fired([known]) == []


def test_r1030_follows_the_profile_io_uring_setup_and_its_container_policy() -> None:
    setup = [b.syscall_event(WEB, "io_uring_setup", entries="8")]
    with_uring = PROFILE.replace("execve, bpf]", "execve, bpf, io_uring_setup]")
    assert fired(setup) == ["R1030"]
    assert [a.rule_id for a in ProfileEngine(load_text(with_uring)).evaluate(setup)] == []
    allowed = PROFILE.replace("R1010: {processAllowed: [ln]}", "R1030: {containerAllowed: true}")
    assert [a.rule_id for a in ProfileEngine(load_text(allowed)).evaluate(setup)] == []


def test_r1008_names_any_case_with_or_without_the_trailing_dot() -> None:
    for name in ("XMR.Pool.Minergate.com", "xmr.pool.minergate.com.", "POOL.SUPPORTXMR.COM."):
        assert "R1008" in fired([b.dns_event(WEB, name)]), name
    assert "R1008" not in fired([b.dns_event(WEB, "minergate.com.example.org")])


def test_r0006_and_r0008_fold_on_the_command_name_as_node_agent() -> None:
    token = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    cat, python = b.process("/bin/cat"), b.process("/usr/bin/python3")
    events = [
        b.open_event(WEB, token, proc=cat),
        b.open_event(WEB, token.replace("kubernetes.io", "eks.amazonaws.com"), proc=cat),  # folded
        b.open_event(WEB, token, proc=python),  # another command alerts again
        b.open_event(WEB, "/proc/1/environ", proc=cat),
        b.open_event(WEB, "/proc/2/environ", proc=cat),  # folded
        b.open_event(WEB, "/proc/1/environ", proc=python),
    ]
    alerts = engine().evaluate(events)
    pairs = [(a.rule_id, a.event.comm) for a in alerts if a.rule_id in ("R0006", "R0008")]
    assert pairs == [("R0006", "cat"), ("R0006", "python3"), ("R0008", "cat"), ("R0008", "python3")]


def test_r0001_judges_the_exe_before_argv0_as_node_agent() -> None:
    spoof = b.exec_event(WEB, "/usr/bin/sleep", ("/usr/sbin/nginx", "-g", "x"), exe="/usr/bin/sleep")
    (alert,) = engine().evaluate([spoof])  # `exec -a /usr/sbin/nginx sleep`: argv[0] lies
    assert alert.rule_id == "R0001" and alert.extra["exec_path"] == "/usr/bin/sleep"
    fd_exec = replace(b.exec_event(WEB, "", ("/usr/bin/kubectl", "get", "pods")), process=None)
    assert engine().evaluate([fd_exec]) == []  # no exe known: argv[0], then comm


@pytest.mark.parametrize(
    "path",
    ["/etc/shadow", "/etc/sudoers", "/etc/ssh/sshd_config", "/host-etc/shadow", "/host/etc/sudoers.d/x"],
)
def test_sensitive_files_follow_node_agent_list_and_a_mounted_host_etc(path: str) -> None:
    opened = [a.rule_id for a in ProfileEngine(load_text(PROFILE)).evaluate([b.open_event(WEB, path)])]
    linked = b.symlink_event(WEB, path, "/tmp/s", b.process("/usr/bin/python3"))
    assert opened == ["R0010"] and fired([linked]) == ["R1010"]


def test_other_etc_files_are_not_sensitive() -> None:
    assert fired([b.symlink_event(WEB, "/host-etc/hosts", "/tmp/s", b.process("/usr/bin/python3"))]) == []


def test_bin_and_usr_bin_spell_one_exec_on_merged_usr_images() -> None:
    usr = PROFILE.replace("{path: /usr/sbin/nginx,", "{path: /sbin/nginx,").replace(
        "{path: /bin/busybox,", "{path: /usr/bin/busybox,"
    )
    eng = ProfileEngine(load_text(usr))
    events = [
        b.exec_event(WEB, "/usr/sbin/nginx", ("nginx", "-g", "daemon off;")),  # profile: /sbin/nginx
        b.exec_event(WEB, "/bin/busybox", ("/docker-entrypoint.sh", "nginx")),  # profile: /usr/bin/busybox
    ]
    assert eng.evaluate(events) == []
    assert [a.rule_id for a in eng.evaluate([b.exec_event(WEB, "/usr/sbin/nginx", ("nginx", "-s"))])] == [
        "R0040"
    ]
    assert [a.rule_id for a in eng.evaluate([b.exec_event(WEB, "/usr/local/bin/nginx", ("nginx",))])] == [
        "R0001"
    ]


def test_the_pods_command_and_lifecycle_hooks_are_expected_execs() -> None:
    pod = replace(
        WEB,
        container_id="c-pod",
        declared_execs=(
            ("/usr/local/bin/docker-entrypoint.sh", "nginx", "-g", "daemon off;"),
            ("/bin/sh", "-c", "nginx -s quit"),
        ),
    )
    start = b.exec_event(pod, "/usr/local/bin/docker-entrypoint.sh", pod.declared_execs[0])
    hook = b.exec_event(pod, "/bin/sh", pod.declared_execs[1])
    assert fired([start, hook]) == []  # R0001 and R0040 both know the pod spec
    other = b.exec_event(pod, "/bin/sh", ("/bin/sh", "-c", "curl evil"))
    assert fired([other]) == ["R0040"]  # a declared binary with other arguments
    assert fired([b.exec_event(WEB, "/bin/sh", ("/bin/sh", "-c", "nginx -s quit"))]) == ["R0001"]


def test_a_binding_that_matched_no_container_is_said() -> None:
    c = ContainerInfo("3f2a9c" + "0" * 58, name="nginx-1")
    eng = ProfileEngine(load_text(PROFILE), bindings={"3f2a9c": "web", "ngnix-1": "web"})
    eng.evaluate([b.exec_event(c, "/usr/sbin/nginx", ("nginx", "-g", "x"))])
    assert eng.unmatched_bindings() == [
        "--bind ngnix-1=web: matched no container (by id or id prefix, name, pod or workload)"
    ]


def test_r0003_names_the_process_that_first_made_the_call() -> None:
    gdb = b.process("/usr/bin/gdb", pid=4242)
    (alert,) = engine().observe_syscalls(
        WEB, {"read", "ptrace"}, {"ptrace": gdb, "read": b.process("/bin/cat")}
    )
    assert (alert.event.host_pid, alert.event.comm, alert.event.process) == (4242, "gdb", gdb)
    (unknown,) = engine().observe_syscalls(WEB, {"mount"}, {})  # a recording holds no first caller
    assert unknown.event.host_pid == 0 and unknown.event.process is None

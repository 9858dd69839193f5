"""Learning, generalising, merging, diffing and seccomp comparison of profiles."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from beholder.bob import seccomp
from beholder.bob.diff import diff
from beholder.bob.engine import ProfileEngine
from beholder.bob.generalize import generalize, volatile
from beholder.bob.learn import ProfileLearner
from beholder.bob.merge import merge
from beholder.bob.profile import load_file, load_text, parse_document, to_document
from beholder.bob.rules import default_enabled
from beholder.cli.main import cli
from beholder.events.interfaces import HostIdentity
from beholder.events.model import ContainerInfo, Event
from beholder.formats.kubearmor import to_kubearmor
from beholder.formats.native import event_dict
from beholder.otel.file_sink import OtlpJsonFileSink
from bob import builders
from bob import builders as b
from bob.shell import Image, ShellModel
from conftest import REFERENCE, require

SECCOMP = REFERENCE / "seccomp"
D = "⋯"

SEGMENTS = [
    ("1234", True),
    ("0f8b2c4e-3c1a-4f7e-9a55-2b6d3e9c1a77", True),  # pod uid
    ("2b3c4de694b3e5668c920cea48db530892eda11c4984552a7457b7f5af701d9c", True),  # container id
    ("..2025_07_07_21_05_56.676258237", True),  # rotated ConfigMap/Secret dir
    ("passwd", False),
    ("x86_64-linux-gnu", False),
    ("deadbeef", False),  # short hex words are names
    ("libc.so.6", False),
]


@pytest.mark.parametrize(("segment", "expected"), SEGMENTS)
def test_volatile_segments_are_numbers_uuids_hex_ids_and_rotated_dirs(segment: str, expected: bool) -> None:
    assert volatile(segment) is expected


def test_generalize_replaces_volatile_parts_and_collapses_big_directories() -> None:
    paths = [f"/proc/{pid}/stat" for pid in (1, 7, 42)] + [f"/usr/share/zoneinfo/z{i}" for i in range(60)]
    paths += ["/run/secrets/kubernetes.io/serviceaccount/..2025_07_07_21_05_56.676258237/token"]
    paths += ["/var/lib/kubelet/pods/0f8b2c4e-3c1a-4f7e-9a55-2b6d3e9c1a77/volumes/1/x", "/etc/passwd"]
    patterns = set(generalize(paths, threshold=50).values())
    assert patterns == {
        f"/proc/{D}/stat",
        f"/usr/share/zoneinfo/{D}",
        f"/run/secrets/kubernetes.io/serviceaccount/{D}/token",
        "/var/lib/kubelet/pods/*/x".replace("/*/", f"/{D}/volumes/{D}/"),
        "/etc/passwd",
    }


def test_adjacent_dynamic_segments_become_a_star_and_threshold_is_configurable() -> None:
    assert generalize(["/a/1/2/b"])["/a/1/2/b"] == "/a/*/b"
    few = [f"/opt/app/f{i}" for i in range(4)]
    assert set(generalize(few, threshold=3).values()) == {f"/opt/app/{D}"}
    assert set(generalize(few, threshold=4).values()) == set(few)


# --- the seed's scenario: a ping loop learned, replayed, attacked ---------------------
WEBAPP = ContainerInfo(
    "2b3c4de694b3",
    name="ping-app",
    namespace="webapp",
    workload_kind="Deployment",
    workload_name="webapp",
    image_id="ghcr.io/k8sstormcenter/webapp@sha256:" + "e3" * 32,
)
IMAGE = Image(busybox=False, shell_exe="/bin/dash", cwd="/var/www/html")
BENIGN_SYSCALLS = {
    "read",
    "write",
    "openat",
    "execve",
    "socket",
    "sendto",
    "recvfrom",
    "exit_group",
    "accept4",
}


def benign_loop(rounds: int = 3) -> list[Event]:
    shell = ShellModel(WEBAPP, IMAGE)
    apache = builders.process("/usr/sbin/apache2", parent_exe="/usr/bin/containerd-shim", cwd="/var/www/html")
    events: list[Event] = []
    for _ in range(rounds):
        events.append(builders.open_event(WEBAPP, "/var/www/html/ping.php", "O_RDONLY|O_CLOEXEC", apache))
        events += shell.run(["sh", "-c", "ping -c 4 172.16.0.2"], parent_exe="/usr/sbin/apache2")
        events.append(builders.capability_event(WEBAPP, "NET_RAW"))
        events.append(builders.open_event(WEBAPP, "/etc/ld.so.cache", "O_RDONLY|O_CLOEXEC"))
    return events


def learned_engine(enabled: set[str]) -> ProfileEngine:
    learner = ProfileLearner("webapp")
    learner.observe(benign_loop())
    learner.observe_syscalls(WEBAPP, BENIGN_SYSCALLS)
    documents = [to_document(learner.application_profile()), to_document(learner.network_neighborhood())]
    profiles = [
        parse_document(yaml.safe_load(yaml.safe_dump(d, allow_unicode=True)), "learned") for d in documents
    ]
    return ProfileEngine(profiles, bindings={WEBAPP.container_id: "webapp"}, enabled=enabled)


def test_learned_profile_is_a_valid_application_profile() -> None:
    learner = ProfileLearner("webapp")
    learner.observe(benign_loop())
    doc = to_document(learner.application_profile())
    assert (
        doc["kind"] == "ApplicationProfile"
        and doc["metadata"]["labels"]["kubescape.io/workload-name"] == "webapp"
    )
    (c,) = doc["spec"]["containers"]
    assert {"path": "/bin/dash", "args": ["sh", "-c", "ping -c 4 172.16.0.2"]} in c[
        "execs"
    ]  # the kernel's exe
    assert c["imageID"] == WEBAPP.image_id and c["capabilities"] == ["NET_RAW"]
    assert {"path": "/var/www/html/ping.php", "flags": ["O_CLOEXEC", "O_RDONLY"]} in c["opens"]


def test_replaying_the_benign_loop_raises_nothing() -> None:
    engine = learned_engine(default_enabled() | {"R0002", "R0011"})
    assert engine.evaluate(benign_loop(rounds=5)) == []
    assert engine.observe_syscalls(WEBAPP, BENIGN_SYSCALLS) == []


def test_the_seed_attacks_raise_exactly_the_seed_rule_ids() -> None:
    engine = learned_engine(default_enabled() | {"R0002"})  # the seed's node-agent ran R0002
    shell = ShellModel(WEBAPP, IMAGE)
    attacks = [
        ["ls"],
        ["cat", "/run/secrets/kubernetes.io/serviceaccount/token"],
        ["cat", "/proc/self/mounts"],
        ["curl", "google.com"],
    ]
    alerts = [a for argv in attacks for a in engine.evaluate(shell.run(argv, parent_exe="/bin/dash"))]
    alerts += engine.observe_syscalls(WEBAPP, BENIGN_SYSCALLS | {"getdents64", "sendmmsg", "socketpair"})
    assert {a.rule_id for a in alerts} == {"R0001", "R0002", "R0003", "R0005", "R0006"}
    messages = {a.rule_id: a.message for a in alerts}
    assert "/var/www/html" in messages["R0002"] and "google.com." in messages["R0005"]


# --- merge and diff ---------------------------------------------------------------------
RUN = """apiVersion: spdx.softwarecomposition.kubescape.io/v1beta1
kind: ApplicationProfile
metadata: {{name: web}}
spec:
  containers:
  - name: app
    execs: [{{path: /bin/{exe}, args: [{exe}]}}]
    opens: [{{path: /tmp/{n}, flags: [O_RDONLY]}}, {{path: /etc/hosts, flags: [{flag}]}}]
    syscalls: [read, {syscall}]
    capabilities: [{cap}]
    rulePolicies: {{R0001: {{processAllowed: [{exe}]}}}}
"""


def run_profile(n: int, exe: str, syscall: str, cap: str, flag: str = "O_RDONLY"):
    (p,) = load_text(RUN.format(n=n, exe=exe, syscall=syscall, cap=cap, flag=flag))
    return p


def test_merge_is_the_superset_of_every_run() -> None:
    merged = merge(
        [run_profile(1, "ls", "write", "CHOWN"), run_profile(2, "cat", "mmap", "SETUID", "O_CLOEXEC")]
    )
    (c,) = merged.containers
    assert {e.path for e in c.execs} == {"/bin/ls", "/bin/cat"}
    assert c.syscalls == {"read", "write", "mmap"} and c.capabilities == {"CHOWN", "SETUID"}
    assert {o.path: o.flags for o in c.opens}["/etc/hosts"] == ("O_CLOEXEC", "O_RDONLY")
    assert c.rule_policies["R0001"].process_allowed == {"ls", "cat"}


def test_merge_collapses_directories_that_grow_across_runs() -> None:
    runs = [run_profile(i, "ls", "write", "CHOWN") for i in range(60)]
    (c,) = merge(runs, threshold=50).containers
    assert f"/tmp/{D}" in {o.path for o in c.opens}


def test_diff_lists_what_each_side_allows_alone() -> None:
    changes = diff(run_profile(1, "ls", "write", "CHOWN"), run_profile(1, "cat", "write", "SETUID"))
    by_category = {ch.category: (ch.added, ch.removed) for ch in changes}
    assert by_category == {
        "execs": (("/bin/cat cat",), ("/bin/ls ls",)),
        "capabilities": (("SETUID",), ("CHOWN",)),
    }
    assert diff(run_profile(1, "ls", "write", "CHOWN"), run_profile(1, "ls", "write", "CHOWN")) == []


# --- seccomp ------------------------------------------------------------------------------
def test_runtime_default_lists_load_from_both_reference_formats() -> None:
    require(SECCOMP.is_dir(), f"{SECCOMP} missing")
    containerd = seccomp.load_runtime_default(SECCOMP / "containerd-default.yaml")
    moby = seccomp.load_runtime_default(SECCOMP / "moby-default.json")
    assert len(containerd) == 363  # as bobctl lists it
    assert {"read", "clone", "io_uring_setup"} <= moby or {"read", "clone"} <= moby
    assert "mount" not in moby and "bpf" not in moby  # need CAP_SYS_ADMIN / CAP_BPF
    with_admin = seccomp.load_runtime_default(
        SECCOMP / "moby-default.json", caps=seccomp.DEFAULT_CAPS | {"SYS_ADMIN"}
    )
    assert "mount" in with_admin


def test_compare_gives_the_seed_table_columns() -> None:
    require(SECCOMP.is_dir(), f"{SECCOMP} missing")
    default = seccomp.load_runtime_default(SECCOMP / "containerd-default.yaml")
    result = seccomp.compare({"read", "write", "bpf", "ptrace"}, default)
    assert result.profile_total == 4 and result.default_total == 363
    assert result.only_in_profile == tuple(sorted({"read", "write", "bpf", "ptrace"} - default))
    assert len(result.only_in_default) == 363 - (4 - len(result.only_in_profile))


def test_exported_seccomp_allows_exactly_the_learned_syscalls() -> None:
    doc = seccomp.export({"read", "write"})
    assert doc["defaultAction"] == "SCMP_ACT_ERRNO"
    assert doc["syscalls"] == [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]


def test_bad_seccomp_file_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"syscalls": [{"names": 3}]}')
    with pytest.raises(Exception, match=r"bad.json: syscalls\[0\].names: expected a list"):
        seccomp.load_runtime_default(bad)


# --- the CLI ----------------------------------------------------------------------------
def write_events(path: Path, events: list[Event], fmt: str) -> None:
    """Record events as `beholder run` writes them in each output format."""
    if fmt == "otlp":
        sink = OtlpJsonFileSink(path, {"service.name": "beholder"})
        sink.emit(events, [])
        sink.close()
        return
    host = HostIdentity(host_name="node")
    lines = [to_kubearmor(e, host) if fmt == "kubearmor" else event_dict(e) for e in events]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")


@pytest.mark.parametrize("fmt", ["native", "kubearmor", "otlp"])
def test_cli_learns_from_recorded_events_and_evaluates_them(tmp_path: Path, fmt: str) -> None:
    events_file, profile_file = tmp_path / "events.jsonl", tmp_path / "web.yaml"
    write_events(events_file, benign_loop(), fmt)
    runner = CliRunner()
    learn = runner.invoke(
        cli, ["profile", "learn", "webapp", "--from", str(events_file), "-o", str(profile_file)]
    )
    assert learn.exit_code == 0, learn.output
    (profile,) = load_file(profile_file)
    paths = {e.path for e in profile.containers[0].execs}
    assert "/usr/bin/ping" in paths and paths & {"/bin/dash", "/bin/sh"}  # OTLP keeps the path, not the exe
    attack = tmp_path / "attack.jsonl"
    write_events(attack, ShellModel(WEBAPP, IMAGE).run(["ls"]), fmt)
    out = runner.invoke(
        cli,
        [
            "profile",
            "evaluate",
            str(profile_file),
            "--from",
            str(attack),
            "--format",
            "kubescape",
            "--bind",
            f"{WEBAPP.container_id}=webapp",
        ],
    )
    assert out.exit_code == 0, out.output
    alerts = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [a["RuleID"] for a in alerts] == ["R0001"]
    (argv0,) = alerts[0]["BaseRuntimeMetadata"]["arguments"][
        "args"
    ]  # KubeArmor JSON keeps the path as argv[0]
    assert argv0 == ("/usr/bin/ls" if fmt == "kubearmor" else "ls")


def test_cli_rule_switches_and_cooldown(tmp_path: Path) -> None:
    events_file, profile_file, attack = tmp_path / "events.jsonl", tmp_path / "web.yaml", tmp_path / "a.jsonl"
    write_events(events_file, benign_loop(), "native")
    runner = CliRunner()
    learned = runner.invoke(
        cli, ["profile", "learn", "webapp", "--from", str(events_file), "-o", str(profile_file)]
    )
    assert learned.exit_code == 0, learned.output
    write_events(attack, ShellModel(WEBAPP, IMAGE).run(["ls"]) * 2, "native")
    base = ["profile", "evaluate", str(profile_file), "--from", str(attack), "--format", "json",
            "--bind", f"{WEBAPP.container_id}=webapp"]  # fmt: skip

    def rules(*extra: str) -> list[str]:
        out = runner.invoke(cli, [*base, *extra])
        assert out.exit_code == 0, out.output
        return [json.loads(line)["rule_id"] for line in out.stdout.splitlines() if line.startswith("{")]

    assert rules() == ["R0001"]  # node-agent's cooldown: one alert per key
    assert rules("--rule-cooldown", "0") == ["R0001", "R0001"]  # security testing: every attempt
    assert rules("--disable", "R0001") == []
    bad = runner.invoke(cli, [*base, "--enable", "R9999"])
    assert bad.exit_code == 2 and "unknown rule R9999" in bad.output


def test_cli_merge_diff_compare_export(tmp_path: Path) -> None:
    require(SECCOMP.is_dir(), f"{SECCOMP} missing")
    a, b, merged = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "bob.yaml"
    a.write_text(RUN.format(n=1, exe="ls", syscall="write", cap="CHOWN", flag="O_RDONLY"))
    b.write_text(RUN.format(n=2, exe="cat", syscall="bpf", cap="CHOWN", flag="O_RDONLY"))
    runner = CliRunner()
    assert runner.invoke(cli, ["profile", "merge", str(a), str(b), "-o", str(merged)]).exit_code == 0
    assert {e.path for e in load_file(merged)[0].containers[0].execs} == {"/bin/ls", "/bin/cat"}
    d = runner.invoke(cli, ["profile", "diff", str(a), str(b)])
    assert (
        d.exit_code == 1 and "+ app execs: /bin/cat cat" in d.output and "- app syscalls: write" in d.output
    )
    cmp = runner.invoke(
        cli, ["profile", "compare", str(merged), "--seccomp", str(SECCOMP / "moby-default.json"), "--list"]
    )
    assert cmp.exit_code == 0 and "in BoB, not in RuntimeDefault: bpf" in cmp.output
    exp = runner.invoke(cli, ["profile", "export", str(merged), "--seccomp"])
    assert json.loads(exp.output)["syscalls"][0]["names"] == ["bpf", "read", "write"]


def test_cli_reports_a_bad_profile_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pod\n")
    result = CliRunner().invoke(cli, ["profile", "export", str(bad), "--seccomp"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {bad}: kind: 'Pod' is not one of ApplicationProfile, ContainerProfile, NetworkNeighborhood"
    ]


def test_the_runtimes_own_init_is_never_learned() -> None:
    c = ContainerInfo("c1", name="app")
    setup = replace(b.exec_event(c, "/usr/bin/runc", ("runc", "init")), comm="runc:[2:INIT]")
    learner = ProfileLearner("app")
    learner.observe([setup, b.exec_event(c, "/usr/bin/app", ("app",))])
    assert [e.path for e in learner.application_profile().containers[0].execs] == ["/usr/bin/app"]


def test_a_profile_learned_without_the_kernels_syscalls_is_partial_and_not_exported(tmp_path: Path) -> None:
    events_file, profile_file = tmp_path / "events.jsonl", tmp_path / "web.yaml"
    write_events(events_file, benign_loop(), "native")
    runner = CliRunner()
    learned = runner.invoke(
        cli, ["profile", "learn", "webapp", "--from", str(events_file), "-o", str(profile_file)]
    )
    assert learned.exit_code == 0, learned.output
    (profile,) = load_file(profile_file)
    assert profile.completion == "partial"
    out = runner.invoke(cli, ["profile", "export", str(profile_file), "--seccomp"])
    assert out.exit_code == 1 and "webapp is incomplete" in out.output


ENDPOINTS = """apiVersion: spdx.softwarecomposition.kubescape.io/v1beta1
kind: ContainerProfile
metadata: {name: api}
spec:
  execs: [{path: /usr/bin/api}]
  endpoints: [{endpoint: ":8080/health", methods: [GET]}]
  ingress: [{identifier: lb, type: internal, ipAddresses: [10.0.0.1]}]
"""


def test_profile_check_and_evaluate_say_endpoints_and_ingress_match_nothing(tmp_path: Path) -> None:
    profile, events = tmp_path / "api.yaml", tmp_path / "events.jsonl"
    profile.write_text(ENDPOINTS)
    write_events(events, benign_loop(), "beholder")
    runner = CliRunner()
    check = runner.invoke(cli, ["profile", "check", str(profile)])
    assert check.exit_code == 0, check.output
    assert "ContainerProfile api: 1 execs, 0 opens" in check.stdout
    assert "1 endpoints (HTTP) load and match nothing" in check.stderr
    assert "1 ingress entries load and match nothing" in check.stderr
    evaluate = runner.invoke(
        cli, ["profile", "evaluate", str(profile), "--from", str(events), "--bind", "no-such-pod=api"]
    )
    assert "endpoints (HTTP) load and match nothing" in evaluate.stderr
    assert "warning: --bind no-such-pod=api: matched no container" in evaluate.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(ENDPOINTS.replace("execs:", "exec:"))
    failed = runner.invoke(cli, ["profile", "check", str(bad)])
    assert failed.exit_code == 1 and "spec.exec: unknown field" in failed.stderr


def test_evaluate_feeds_r1004_the_mounts_given_for_a_recorded_container(tmp_path: Path) -> None:
    profile, events = tmp_path / "api.yaml", tmp_path / "events.jsonl"
    profile.write_text(ENDPOINTS)
    c = builders.container("api", container_id="9d" * 32)
    write_events(events, [builders.exec_event(c, "/data/payload", ("payload",))], "native")
    base = [
        "profile",
        "evaluate",
        str(profile),
        "--from",
        str(events),
        "--bind",
        "9d9d=api",
        "--format",
        "json",
    ]
    rules = [
        {json.loads(line)["rule_id"] for line in CliRunner().invoke(cli, args).stdout.splitlines()}
        for args in (base, [*base, "--mount", "9d9d=/data"])
    ]
    assert rules == [{"R0001"}, {"R0001", "R1004"}]
    bad = CliRunner().invoke(cli, [*base, "--mount", "data"])
    assert bad.exit_code == 2 and "is not CONTAINER=/PATH" in bad.stderr


def test_evaluate_names_r0003_first_callers_from_the_stats_file(tmp_path: Path) -> None:
    profile, events, stats = tmp_path / "api.yaml", tmp_path / "events.jsonl", tmp_path / "stats.json"
    profile.write_text(ENDPOINTS.replace("execs: [{path: /usr/bin/api}]", "execs: [{path: /usr/bin/gdb}]"))
    c = builders.container("api", container_id="9e" * 32)
    gdb = builders.exec_event(c, "/usr/bin/gdb", ("gdb",))
    write_events(events, [gdb], "native")
    table = {
        "syscalls": {c.container_id: {"ptrace": 2}},
        "syscall_callers": {c.container_id: {"ptrace": gdb.host_pid}},
    }
    stats.write_text(json.dumps(table))
    args = ["profile", "evaluate", str(profile), "--from", str(events), "--syscalls", str(stats)]
    result = CliRunner().invoke(cli, [*args, "--bind", "9e9e=api", "--format", "kubescape"])
    (alert,) = [a for a in map(json.loads, result.stdout.splitlines()) if a["RuleID"] == "R0003"]
    tree = alert["RuntimeProcessDetails"]["processTree"]
    assert (tree["pid"], tree["comm"]) == (gdb.host_pid, "gdb")  # the recorded process that made it

"""The seed's scenario on the real kernel with real runc containers.

A busybox container runs a benign loop under `beholder run`; its profile is learned from
what the agent recorded (events plus the kernel's per-container syscall counts). A second
container running the same loop raises nothing against that profile; a third runs the
loop while the seed's attacks are `runc exec`ed into it (`ls`, `cat` of the service-account
token, `cat /proc/self/mounts`, a DNS question for an unknown domain) and raises exactly
the seed's rule ids.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from beholder.bob.engine import ProfileEngine
from beholder.bob.profile import load_file
from beholder.bob.recorded import read_events
from beholder.bob.rules import default_enabled
from beholder.cli.main import cli
from beholder.events.model import Alert, ContainerInfo
from conftest import require
from support import runc
from support.agent_process import AgentProcess
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel

TOKEN = "run/secrets/kubernetes.io/serviceaccount/token"
BENIGN = "i=0; while [ $i -lt {n} ]; do cat /etc/hostname >/dev/null; sleep 0.2; i=$((i+1)); done"
ATTACKS = [
    ["ls"],
    ["cat", f"/{TOKEN}"],
    ["cat", "/proc/self/mounts"],
    ["nslookup", "evil-c2.example.com", "127.0.0.1"],
]
SEED_RULES = {"R0001", "R0002", "R0003", "R0005", "R0006"}
# node-agent now runs R0040 by default: the attacked loop's own command (25 rounds) has an
# argument the learned runs (8 rounds) never had, a true finding the 2023 seed predates
NOW_DEFAULT = {"R0040"}
LEARN_RUNS = 3  # the seed's advice: learn a superset BoB across runs


def bundle(root: Path, rounds: int) -> runc.Container:
    """A busybox web-app lookalike: working directory /var/www/html, a mounted SA token."""
    ctr = runc.make_bundle(root, ["/bin/sh", "-c", BENIGN.format(n=rounds)])
    (root / "rootfs" / "var" / "www" / "html").mkdir(parents=True)
    token = root / "rootfs" / TOKEN
    token.parent.mkdir(parents=True)
    token.write_text("eyJhbGciOi.fake.token")
    config = json.loads((root / "config.json").read_text())
    config["process"]["cwd"] = "/var/www/html"
    (root / "config.json").write_text(json.dumps(config))
    return ctr


def run_with_attacks(ctr: runc.Container) -> None:
    """Start the loop, `runc exec` each attack into it while it runs, then wait for it."""
    loop = subprocess.Popen(
        ["runc", "run", "--bundle", str(ctr.bundle), ctr.name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while b'"running"' not in subprocess.run(["runc", "state", ctr.name], capture_output=True).stdout:
            assert time.monotonic() < deadline, "container did not start"
            time.sleep(0.1)
        time.sleep(0.5)  # let the agent learn the container before the first attack
        for argv in ATTACKS:
            subprocess.run(["runc", "exec", ctr.name, *argv], capture_output=True, timeout=30, check=False)
        loop.wait(timeout=60)
    finally:
        subprocess.run(["runc", "delete", "--force", ctr.name], capture_output=True, check=False)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    workdir = tmp_path_factory.mktemp("bob-e2e")
    learn = [bundle(workdir / f"learn{i}", 8) for i in range(LEARN_RUNS)]
    replay, attacked = bundle(workdir / "replay", 8), bundle(workdir / "attacked", 25)
    agent = AgentProcess(workdir).start()
    try:
        for ctr in (*learn, replay):
            result = runc.run(ctr)
            assert result.returncode == 0, result.stderr.decode()
        run_with_attacks(attacked)
        agent.wait_for(lambda r: r["syscall"] == "execve" and "nslookup" in r["argv"], timeout=20)
        time.sleep(1.0)  # the last batch reaches the file
    finally:
        stats = agent.stop()
    yield {
        "events": agent.events_path,
        "stats": agent.stats_path,
        "stats_doc": stats,
        "learn": learn,
        "replay": replay,
        "attacked": attacked,
        "workdir": workdir,
    }


def learned_profile(recorded: dict) -> Path:
    """Learn each benign run with `profile learn`, then `profile merge` them into the BoB."""
    workdir = recorded["workdir"]
    out = workdir / "seed.yaml"
    if out.exists():
        return out
    runner = CliRunner()
    runs: list[str] = []
    for i, ctr in enumerate(recorded["learn"]):
        ap, nn = workdir / f"run{i}.yaml", workdir / f"run{i}-nn.yaml"
        args = [
            "profile",
            "learn",
            "seed",
            "--from",
            str(recorded["events"]),
            "--container",
            ctr.container_id,
            "--syscalls",
            str(recorded["stats"]),
            "-o",
            str(ap),
            "--network-output",
            str(nn),
        ]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        runs.append(str(ap))
    nns = [str(workdir / f"run{i}-nn.yaml") for i in range(len(runs))]
    for target, parts in ((out, runs), (workdir / "seed-nn.yaml", nns)):
        result = runner.invoke(cli, ["profile", "merge", *parts, "-o", str(target)])
        assert result.exit_code == 0, result.output
    return out


def alerts_for(recorded: dict, ctr: runc.Container, enabled: set[str]) -> list[Alert]:
    out = learned_profile(recorded)
    profiles = load_file(out) + load_file(out.with_name("seed-nn.yaml"))
    engine = ProfileEngine(profiles, bindings={ctr.container_id: "seed"}, enabled=enabled)
    alerts = []
    container: ContainerInfo | None = None
    for batch in read_events(recorded["events"]):
        mine = [e for e in batch if e.container is not None and e.container.container_id == ctr.container_id]
        container = container or next((e.container for e in mine), None)
        alerts += engine.evaluate(mine)
    assert container is not None, "no events attributed to the container"
    syscalls = recorded["stats_doc"]["syscalls"].get(ctr.container_id, {})
    alerts += engine.observe_syscalls(container, set(syscalls))
    return [a for a in alerts if not (a.rule_id == "R0004" and runc_machinery(a))]


def runc_machinery(alert: Alert) -> bool:
    """True for a capability check made by runc's own init (`runc run` or `runc exec`) inside
    the container.

    runc's init joins the container's cgroup, then sets up ids and the network and drops
    capabilities (SETUID, SETGID, NET_ADMIN, SETPCAP…) before it execs the workload; whether
    the agent has attributed that cgroup by then is a race, so a learned profile may or may not
    hold these checks and a replay may or may not show them. They are runc's, not the workload's.
    """
    return alert.event.comm.startswith("runc:")  # the caller's name at the time of the call


def test_learned_profile_holds_the_benign_loop(recorded: dict) -> None:
    (profile,) = load_file(learned_profile(recorded))
    (c,) = profile.containers
    # busybox's shell runs its applets by re-executing itself through /proc/self/exe
    assert "/bin/sh" in {e.path for e in c.execs}
    assert {("cat", "/etc/hostname"), ("sleep", "0.2")} <= {e.args for e in c.execs}
    assert "/etc/hostname" in {o.path for o in c.opens}
    assert {"execve", "openat"} <= c.syscalls


def test_replaying_the_benign_loop_in_a_new_container_raises_nothing(recorded: dict) -> None:
    alerts = alerts_for(recorded, recorded["replay"], default_enabled())
    assert [(a.rule_id, a.message) for a in alerts] == []


def test_the_seed_attacks_raise_the_seed_rule_ids(recorded: dict) -> None:
    alerts = alerts_for(recorded, recorded["attacked"], default_enabled() | {"R0002"})
    by_rule: dict[str, list[str]] = {}
    for a in alerts:
        by_rule.setdefault(a.rule_id, []).append(a.message)
    # R0003 needs a syscall the benign runs never made; the seed's came from apache's side
    # effects, here it depends on what runc and busybox happen to call, so it may or may not fire.
    assert {"R0001", "R0002", "R0005", "R0006"} <= set(by_rule) <= SEED_RULES | NOW_DEFAULT, by_rule
    assert any("evil-c2.example.com" in m for m in by_rule["R0005"])
    assert any("/var/www/html" in m for m in by_rule["R0002"])
    assert any(f"/{TOKEN}" in m for m in by_rule["R0006"])


def test_live_learning_records_a_container_until_the_duration_ends(tmp_path: Path) -> None:
    ok, why = kernel_ready()
    require(ok, why)
    ctr = bundle(tmp_path / "live", 4)
    out, ready = tmp_path / "live.yaml", tmp_path / "ready"
    learn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beholder.cli",
            "profile",
            "learn",
            "live",
            "--duration",
            "8",
            "--container",
            ctr.container_id,
            "--ready-file",
            str(ready),
            "-o",
            str(out),
        ],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert learn.poll() is None, learn.stderr.read().decode() if learn.stderr else ""
        assert time.monotonic() < deadline, "learning never started"
        time.sleep(0.1)
    time.sleep(1.0)  # the ready file is touched as the agent thread starts; let it attach
    assert runc.run(ctr).returncode == 0
    assert learn.wait(timeout=120) == 0, learn.stderr.read().decode() if learn.stderr else ""
    (profile,) = load_file(out)
    (c,) = profile.containers
    assert "/bin/sh" in {e.path for e in c.execs}
    assert "/etc/hostname" in {o.path for o in c.opens}
    assert {"execve", "openat"} <= c.syscalls


def test_live_learning_until_a_command_finishes_sees_the_command_it_started(tmp_path: Path) -> None:
    ok, why = kernel_ready()
    require(ok, why)
    ctr = bundle(tmp_path / "cmd", 3)
    out = tmp_path / "cmd.yaml"
    argv = [
        sys.executable,
        "-m",
        "beholder.cli",
        "profile",
        "learn",
        "cmd",
        "--container",
        ctr.container_id,
        "-o",
        str(out),
        "--",
        "runc",
        "run",
        "--bundle",
        str(ctr.bundle),
        ctr.name,
    ]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=180, check=False)
    finally:
        subprocess.run(["runc", "delete", "--force", ctr.name], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    (profile,) = load_file(out)
    (c,) = profile.containers
    assert "/bin/sh" in {e.path for e in c.execs}
    assert "/etc/hostname" in {o.path for o in c.opens}

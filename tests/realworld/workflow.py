"""A user's Bill-of-Behaviour workflow on a real pod, driven through the `beholder` CLI.

1. learn: for each of N rounds, a fresh pod runs the functional suite while one live
   `beholder profile learn` per container records it; interrupted at the end of the
   round, each writes its ApplicationProfile and NetworkNeighborhood;
2. merge: `beholder profile merge` of the rounds, per container;
3. detect: one `beholder run` with the merged profiles bound (`--bind`) and the rule
   cooldown off (every attempt alerts, as the suites intend); for each repeat a fresh pod
   replays the functional suite, then every attack in order.

Alerts are read from the agent's node-agent JSON and attributed to a step by event time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realworld import netns
from realworld.pods import API_SERVER, PodSpec, Running, image_layers, new_container, running, wait_listening
from realworld.suites import Outcome, load, run_steps
from support.runc import Container, precreate_cgroup

BEHOLDER = [sys.executable, "-m", "beholder.cli"]
SETTLE_S = 6.0  # longer than the agent's syscall check interval (AgentOptions.syscall_check_s)
EXTERNAL_NAMES = {  # stand-in internet: names the attacks connect to, on the namespace's lo only
    "pastebin.com.": "5.5.5.1",
    "check.torproject.org.": "5.5.5.2",
    "example.com.": "5.5.5.3",
    "one.one.one.one.": "1.1.1.1",
}
EXTERNAL_TCP = [(a, p) for a in ("1.1.1.1", "8.8.8.8", "8.8.4.4", "9.9.9.9") for p in (53, 80, 443)] + [
    ("169.254.169.254", 80),
    (API_SERVER, 443),
    *[(a, p) for a in ("5.5.5.1", "5.5.5.2", "5.5.5.3") for p in (80, 443)],
]


def profile_name(pod: PodSpec, container: str) -> str:
    return f"{pod.namespace}-{container}"


@dataclass
class Beholder:
    """A `beholder` command running as a child process, stopped by a signal."""

    proc: subprocess.Popen[bytes]
    stderr: Path

    @classmethod
    def start(cls, args: list[str], workdir: Path, tag: str, env: dict[str, str] | None = None) -> Beholder:
        ready = workdir / f"{tag}.ready"
        stderr = workdir / f"{tag}.stderr"
        proc = subprocess.Popen(
            [*BEHOLDER, *args, "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL,
            stderr=stderr.open("wb"),
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 180
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"beholder {args[0]} did not start: {stderr.read_text()[-2000:]}")
            time.sleep(0.1)
        return cls(proc, stderr)

    def stop(self, sig: int) -> None:
        self.proc.send_signal(sig)
        if self.proc.wait(timeout=120) != 0:
            raise RuntimeError(f"beholder exited {self.proc.returncode}: {self.stderr.read_text()[-2000:]}")


@contextmanager
def pod_running(
    pod: PodSpec, layers: list[Path], server: Container, client: Container, workdir: Path
) -> Iterator[Running]:
    """A fresh pod (server ready, client started) in its own isolated network; yields the client."""
    names = {**EXTERNAL_NAMES, f"{pod.service}.{pod.namespace}.svc.cluster.local.": pod.service_ip,
             "kubernetes.default.svc.cluster.local.": API_SERVER}  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    with (
        netns.isolated_network(workdir, names, EXTERNAL_TCP) as network,
        running(pod, pod.server, server, layers, network),
    ):
        wait_listening(network, pod.service_ip, pod.port)
        with running(pod, pod.client, client, layers, network) as ready_client:
            yield ready_client


def _containers(pod: PodSpec, workdir: Path) -> tuple[Container, Container]:
    return new_container(pod.server, workdir / "server"), new_container(pod.client, workdir / "client")


def learn(pod: PodSpec, workdir: Path, rounds: int) -> tuple[Path, list[list[Outcome]]]:
    """Learn `rounds` functional runs live (at the same time, each its own pod) and merge
    them: the directory of merged profiles to bind."""
    layers = image_layers(pod, workdir)
    functional = load(pod.namespace, "functional-tests")

    def one_round(rdir: Path) -> tuple[dict[str, tuple[Path, Path]], list[Outcome]]:
        rdir.mkdir(parents=True)
        server, client = _containers(pod, rdir)
        learners, files = [], {}
        try:
            for spec, ctr in ((pod.server, server), (pod.client, client)):
                name = profile_name(pod, spec.name)
                files[name] = (rdir / f"{name}.yaml", rdir / f"{name}-nn.yaml")
                # only this container, its cgroup made ahead of runc: counted from its first syscall
                args = ["profile", "learn", name, "--container", ctr.container_id, "--duration", "3600",
                        "--cgroup-id", str(precreate_cgroup(ctr)),
                        "-o", str(files[name][0]), "--network-output", str(files[name][1])]  # fmt: skip
                learners.append(Beholder.start(args, rdir, f"learn-{spec.name}"))
            with pod_running(pod, layers, server, client, rdir) as ready_client:
                outcomes = run_steps(ready_client, functional)
        finally:
            for learner in learners:
                learner.stop(signal.SIGINT)
        return files, outcomes

    with ThreadPoolExecutor(rounds) as pool:
        results = list(pool.map(one_round, [workdir / f"learn{i}" for i in range(rounds)]))
    merged = workdir / "profiles"
    merged.mkdir()
    for name in results[0][0]:
        for kind, suffix in ((0, ""), (1, "-nn")):
            parts = [str(files[name][kind]) for files, _ in results]
            out = merged / f"{name}{suffix}.yaml"
            done = subprocess.run(
                [*BEHOLDER, "profile", "merge", *parts, "-o", str(out)], capture_output=True, text=True
            )
            if done.returncode != 0:
                raise RuntimeError(f"profile merge {out.name}: {done.stderr}")
    return merged, [outcomes for _, outcomes in results]


@dataclass
class Repeat:
    """One detection repeat: a fresh pod's functional replay, then its attacks."""

    server: Container
    client: Container
    functional: list[Outcome] = field(default_factory=list)
    attacks: list[Outcome] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)  # of this pod's two containers

    def raised(self, outcome: Outcome) -> set[tuple[str, str]]:
        """(rule id, command) of the client's alerts whose event happened during the step."""
        return {
            (a["RuleID"], command)
            for a in self.alerts
            if a["event"]["runtime"]["containerId"] == self.client.container_id
            and outcome.start_ns <= a["event"]["timestamp"] <= outcome.end_ns
            for command in alert_commands(a)
        }

    def benign_alerts(self) -> list[dict[str, Any]]:
        """Alerts of either container before the first attack: start-up and the functional
        replay (R0003, read from the kernel every few seconds, has settled by then)."""
        first_attack = self.attacks[0].start_ns
        return [a for a in self.alerts if a["event"]["timestamp"] < first_attack]


def detect(pod: PodSpec, workdir: Path, profiles: Path, repeats: int) -> list[Repeat]:
    """Bind the merged profiles with `beholder run` and, in `repeats` fresh pods at the same
    time, replay the functional suite and then every attack in order."""
    layers = image_layers(pod, workdir)
    functional, attacks = load(pod.namespace, "functional-tests"), load(pod.namespace, "attacks")
    runs = [Repeat(*_containers(pod, workdir / f"repeat{i}")) for i in range(repeats)]
    alerts_file = workdir / "alerts.jsonl"
    args = ["run", "--profile", str(profiles), "--rule-cooldown", "0", "--output", f"kubescape:{alerts_file}",
            "--query-socket", ""]  # fmt: skip
    for r in runs:
        for spec, ctr in ((pod.server, r.server), (pod.client, r.client)):
            # trace only these containers (the machine is shared); their cgroups exist ahead of runc
            args += ["--bind", f"{ctr.container_id}={profile_name(pod, spec.name)}"]
            args += ["--cgroup-id", str(precreate_cgroup(ctr))]
    agent = Beholder.start(args, workdir, "run", env={"KUBERNETES_SERVICE_HOST": API_SERVER})

    def one_repeat(i: int) -> None:
        r = runs[i]
        with pod_running(pod, layers, r.server, r.client, workdir / f"repeat{i}") as ready_client:
            r.functional = run_steps(ready_client, functional)
            time.sleep(SETTLE_S)  # R0003 reads the kernel's syscall sets every 5 s: before any attack
            r.attacks = run_steps(ready_client, attacks)
        steps = [{"step": o.step.name, "start_ns": o.start_ns, "end_ns": o.end_ns, "rc": o.returncode}
                 for o in (*r.functional, *r.attacks)]  # fmt: skip
        ids = {"server": r.server.container_id, "client": r.client.container_id}
        (workdir / f"repeat{i}" / "steps.json").write_text(json.dumps({**ids, "steps": steps}, indent=1))

    try:
        with ThreadPoolExecutor(repeats) as pool:
            list(pool.map(one_repeat, range(repeats)))
        time.sleep(2.0)  # the last batch reaches the agent's sinks before it drains
    finally:
        agent.stop(signal.SIGTERM)
    everything = [json.loads(line) for line in alerts_file.read_text().splitlines() if line.strip()]
    for r in runs:
        ids = {r.server.container_id, r.client.container_id}
        r.alerts = [a for a in everything if a["event"]["runtime"]["containerId"] in ids]
    return runs


def alert_commands(alert: dict[str, Any]) -> set[str]:
    """The names a suite's `command` may mean: the alerting process's name (its node in
    node-agent's process tree) and, for an exec, the name of the program it executed
    (which differs when the kernel refused the exec: the caller keeps its own name)."""
    names = set()
    exec_path = alert["BaseRuntimeMetadata"]["arguments"].get("exec", "")
    if exec_path:
        names.add(exec_path.rsplit("/", 1)[-1])
    pid = alert["BaseRuntimeMetadata"]["infectedPID"]
    nodes = [alert["RuntimeProcessDetails"]["processTree"]]
    while nodes:
        node = nodes.pop()
        if node.get("pid") == pid:
            names.add(str(node.get("comm", "")))
        nodes += node.get("childrenMap", {}).values()
    return names

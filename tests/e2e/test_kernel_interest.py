"""Visibility in the kernel: a real runc container in a pod served by the fake API, and the
agent's own kernel counters and interest map read live (`support.agent_maps`).

The container opens /etc/hostname 3,000 times (a shell `read` loop: no exec, no fork) each
time the test opens a gate, then writes a done-file. The agent traces only its cgroup
(`--cgroup-id`), so the kernel's `seen` counter counts only its events: with visibility
`none` and no policy the loop's opens are never built into a record (the kernel only
sees the gate's few evaluate-only calls); visible, every open is seen; with a file policy
its alerts arrive while no telemetry leaves. The profile engine's profile-free rules run
(it is always on in a cluster): R0010 reads opens under its sensitive paths only, so the
kernel drops the loop's opens after reading their path, and an /etc/shadow read still
raises R0010 while nothing is exported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import require
from support import runc
from support.agent_maps import AgentMaps
from support.agent_process import AgentProcess
from support.kernel import kernel_ready
from support.wait import wait_until
from tests.k8s.fakeapi import NODE, FakeKubeApi, make_pod
from tests.k8s.objects import ksp, namespace

pytestmark = pytest.mark.kernel

OPENS = 3000
LOOP = (
    "n=0; while true; do if [ -e /gate/go$n ]; then i=0; "
    f"while [ $i -lt {OPENS} ]; do read x < /etc/hostname; i=$((i+1)); done; "
    ": > /gate/done$n; n=$((n+1)); fi; sleep 0.05; done"
)
WEB = {"app.kubernetes.io/name": "web"}


class Workload:
    """The agent, its fake API, the container and the gates of its open loop."""

    def __init__(self, agent: AgentProcess, api: FakeKubeApi, ctr: runc.Container, cgroup_id: int) -> None:
        self.agent, self.api, self.ctr, self.cgroup_id = agent, api, ctr, cgroup_id
        self.gate = ctr.bundle / "rootfs" / "gate"
        self.rounds = 0
        self.maps = AgentMaps(agent.pid)

    def loop(self) -> dict[str, int]:
        """Run one round of the open loop; the kernel counters' change over it."""
        before = self.maps.stats()
        done = self.gate / f"done{self.rounds}"
        (self.gate / f"go{self.rounds}").touch()
        self.rounds += 1
        assert wait_until(done.exists, 60), f"round {self.rounds} never finished"
        after = self.maps.stats()
        return {name: after[name] - before[name] for name in after}

    def wait_interest(self, check: Any) -> None:
        """Until the kernel's interest row for the container satisfies `check`."""
        assert wait_until(lambda: _holds(self, check), 30), "the kernel's interest row never changed"

    def telemetry(self, after_ns: int = 0) -> list[dict[str, Any]]:
        self.agent.read_new("json")
        return [r for r in self.agent.by_output["json"] if "alert" not in r and self._mine(r, after_ns)]

    def alerts(self, rule: str, after_ns: int = 0) -> list[dict[str, Any]]:
        self.agent.read_new("json")
        return [
            r
            for r in self.agent.by_output["json"]
            if "alert" in r and r["alert"]["rule_id"] == rule and self._mine(r, after_ns)
        ]

    def _mine(self, record: dict[str, Any], after_ns: int) -> bool:
        container = record.get("container") or {}
        return container.get("container_id") == self.ctr.container_id and record["timestamp_ns"] > after_ns


def _holds(workload: Workload, check: Any) -> bool:
    row = workload.maps.interest_of(workload.cgroup_id)
    return row is not None and bool(check(row))


def _opens_shown(row: Any) -> bool:
    return bool(row.telemetry[OPENAT >> 6] >> (OPENAT & 63) & 1)


OPENAT = 257  # x86_64


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workload]:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    tmp = tmp_path_factory.mktemp("interest")
    ctr = runc.make_bundle(tmp / "bundle", ["/bin/sh", "-c", LOOP])
    (ctr.bundle / "rootfs" / "gate").mkdir()
    (ctr.bundle / "rootfs" / "etc" / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    cgroup_id = runc.precreate_cgroup(ctr)
    with FakeKubeApi([make_pod(ctr.container_id, ctr.pod_uid)], "100") as api:
        api.apply(namespace("shop", kubearmor_visibility="none"))
        agent = AgentProcess(
            tmp,
            ["--k8s-api-url", api.url, "--node-name", NODE, "--cgroup-id", str(cgroup_id),
             "--spool-dir", str(tmp / "spool"), "--no-alert-throttling"],
            outputs=("json",),
        ).start()  # fmt: skip
        proc = runc.start(ctr)
        work = Workload(agent, api, ctr, cgroup_id)
        try:
            yield work
        finally:
            work.maps.close()
            runc.stop(ctr, proc)
            agent.stop()


def test_none_without_policy_keeps_the_opens_in_the_kernel(workload: Workload) -> None:
    workload.wait_interest(lambda row: row.active and not _opens_shown(row))
    delta = workload.loop()
    assert delta["seen"] < OPENS // 10, f"{OPENS} opens made {delta} in the kernel"
    assert delta["lost"] == 0


def test_a_profile_free_rule_still_sees_its_sensitive_path_in_a_none_container(workload: Workload) -> None:
    marker = max((r["timestamp_ns"] for r in workload.telemetry()), default=0)
    ran = runc.exec_in(workload.ctr, ["/bin/cat", "/etc/shadow"], timeout=30)
    assert ran.returncode == 0, ran.stderr
    assert wait_until(lambda: bool(workload.alerts("R0010", after_ns=marker)), 30), "R0010 never raised"
    assert workload.telemetry(after_ns=marker) == [], "nothing of the container is exported"


def test_live_flip_to_visible_sends_every_open(workload: Workload) -> None:
    workload.api.apply(namespace("shop", kubearmor_visibility="process,file,network,capabilities"))
    workload.wait_interest(_opens_shown)
    delta = workload.loop()
    assert delta["seen"] >= OPENS, f"visible: {delta}"
    shown = [r for r in workload.telemetry() if r.get("resource") == "/etc/hostname"]
    assert shown, "a visible container's opens are exported"


def test_policy_alerts_arrive_while_none_exports_no_telemetry(workload: Workload) -> None:
    workload.api.apply(namespace("shop", kubearmor_visibility="none"))
    spec = {"selector": {"matchLabels": WEB}, "file": {"matchPaths": [{"path": "/etc/hostname"}]}}
    workload.api.apply(ksp("audit-hostname", "shop", spec | {"action": "Audit", "severity": 5}))
    workload.wait_interest(
        lambda row: not _opens_shown(row) and row.evaluate[OPENAT >> 6] >> (OPENAT & 63) & 1
    )
    marker = max((r["timestamp_ns"] for r in workload.telemetry()), default=0)
    delta = workload.loop()
    assert delta["seen"] >= OPENS, "the policy's opens are still sent, for evaluation"
    assert workload.alerts("audit-hostname", after_ns=marker), "its alerts arrive"
    exported = [r for r in workload.telemetry(after_ns=marker) if r.get("resource") == "/etc/hostname"]
    assert exported == [], "none of the loop's opens is exported"


def test_the_agent_counts_evaluate_only_events(workload: Workload) -> None:
    stats = workload.agent.stop()
    assert stats["agent"]["evaluate_only"] > 0
    assert stats["interest"]["cgroups"] >= 1 and stats["interest"]["slots_full"] == 0

"""Alert throttling for real: a container that execs `/bin/cat` 40 times in a burst under an
Audit policy gets `maxAlertPerSec` alerts, then one AlertThreshold record (KubeArmor JSON
and OTLP), and every dropped alert is counted."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import require
from support import runc
from support.agent_process import AgentProcess
from support.kernel import kernel_ready
from tests.k8s.fakeapi import NODE, FakeKubeApi, make_pod
from tests.k8s.objects import ksp

pytestmark = pytest.mark.kernel

BURST = "i=0; while [ $i -lt 40 ]; do /bin/cat /etc/hostname; i=$((i+1)); done; /bin/sleep 1"
POLICY = ksp(
    "audit-cat",
    "shop",
    {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
        "process": {"matchPaths": [{"path": "/bin/cat"}]},
        "action": "Audit",
    },
)


def test_a_burst_is_throttled_with_one_alert_threshold_record(tmp_path) -> None:
    ok, why = kernel_ready()
    require(ok, why)
    require(runc.BUSYBOX.exists(), "busybox-static not installed")
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    ctr = runc.make_bundle(tmp_path / "bundle", ["/bin/sh", "-c", BURST])
    cgroup_id = runc.precreate_cgroup(ctr)
    with FakeKubeApi([make_pod(ctr.container_id, ctr.pod_uid)], "100") as api:
        agent = AgentProcess(
            tmp_path,
            ["--policy", str(tmp_path / "policy.yaml"), "--k8s-api-url", api.url, "--node-name", NODE,
             "--cgroup-id", str(cgroup_id), "--max-alert-per-sec", "5",
             "--spool-dir", str(tmp_path / "spool")],
            outputs=("kubearmor", "otlp-file"),
        ).start()  # fmt: skip
        result = runc.run(ctr)
        assert result.returncode == 0, result.stderr.decode()
        agent.wait_for(lambda r: r.get("Operation") == "AlertThreshold", output="kubearmor")
        stats = agent.stop()
    mine = [r for r in agent.by_output["kubearmor"] if r.get("ContainerID") == ctr.container_id]
    notices = [r for r in mine if r.get("Type") == "SystemEvent"]
    alerts = [r for r in mine if r.get("PolicyName") == "audit-cat"]
    assert len(notices) == 1, notices
    notice = notices[0]
    assert (notice["Operation"], notice["MaxAlertsPerSec"], notice["DroppingAlertsInterval"]) == (
        "AlertThreshold",
        5,
        30,
    )
    assert notice["PodName"] == "web-7d9c6b5f8d-e2e01" and notice["Result"] == "Passed"
    assert 5 <= len(alerts) < 40, "at least maxAlertPerSec alerts pass before throttling starts"
    assert stats["agent"]["throttled"] == 40 - len(alerts), "every one of the 40 execs alerted or was counted"
    otlp = agent.paths["otlp-file"].read_text()
    records = [rec for line in otlp.splitlines() for rec in _log_records(json.loads(line))]
    named = [r for r in records if _attr(r, "security_rule.name") == "AlertThreshold"]
    assert len(named) == 1 and _attr(named[0], "beholder.policy.type") == "SystemEvent"


def _log_records(request: dict) -> list[dict]:
    return [
        record
        for resource in request.get("resourceLogs", [])
        for scope in resource.get("scopeLogs", [])
        for record in scope.get("logRecords", [])
    ]


def _attr(record: dict, key: str) -> str:
    for kv in record.get("attributes", []):
        if kv["key"] == key:
            return next(iter(kv["value"].values()))
    return ""

"""`--format kubescape`: our alert JSON against the node-agent alerts in the BoB seed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from beholder.bob.engine import ProfileEngine
from beholder.bob.profile import load_text
from beholder.events.interfaces import HostIdentity
from beholder.events.model import ContainerInfo, Event, Operation, ProcessInfo
from beholder.formats import kubescape
from beholder.formats.kubearmor_in import with_facts
from beholder.otel.encode import encode_logs
from beholder.otel.security_rule import rule_uuid
from conftest import SEEDS, require

SEED = SEEDS / "003_7e17178c836950c1.txt"
# Fields the seed's node-agent computed from things we do not observe (file hashes and sizes).
NOT_OBSERVED = {"size", "md5Hash", "sha1Hash"}
PROFILE = """apiVersion: spdx.softwarecomposition.kubescape.io/v1beta1
kind: ContainerProfile
metadata: {name: replicaset-webapp-mywebapp-67965968bb}
spec:
  execs: [{path: /bin/dash, args: [/bin/sh, -c, ⋯]}]
  opens: [{path: /etc/ld.so.cache, flags: [O_RDONLY]}]
  syscalls: [read, write]
  egress: []
"""


def seed_alerts() -> list[dict[str, Any]]:
    require(SEED.is_file(), f"{SEED} missing")
    lines = [
        line for line in SEED.read_text(encoding="utf-8").splitlines() if line.startswith('{"BaseRuntime')
    ]
    # The seed file went through a Mac Roman round trip: `␟` reads as `‚êü`; undo it.
    return [json.loads(line.replace("‚êü", "␟")) for line in lines]


def container_of(seed: dict[str, Any]) -> ContainerInfo:
    k8s = seed["RuntimeK8sDetails"]
    return ContainerInfo(
        container_id=k8s["containerID"],
        runtime=seed["event"]["runtime"]["runtimeName"],
        name=k8s["containerName"],
        image=k8s.get("image", ""),
        image_id=k8s.get("image", "").split("@")[0] + "@" + k8s["imageDigest"]
        if "imageDigest" in k8s
        else "",
        pod_name=k8s["podName"],
        namespace=k8s["namespace"],
        labels=seed["event"]["k8s"]["podLabels"],
        workload_kind=k8s["workloadKind"],
        workload_name=k8s["workloadName"],
    )


def processes_of(seed: dict[str, Any]) -> tuple[ProcessInfo, ProcessInfo | None]:
    """(the alerting process, its parent) from the seed's processTree."""

    def info(node: dict[str, Any], parent_exe: str) -> ProcessInfo:
        return ProcessInfo(
            pid=node["pid"],
            ppid=node["ppid"],
            comm=node["comm"],
            exe=node.get("path", ""),
            cmdline=node["cmdline"],
            parent_exe=parent_exe,
            cwd=node.get("cwd", ""),
            uid=node["uid"],
            gid=node["gid"],
        )

    root = seed["RuntimeProcessDetails"]["processTree"]
    children = list(root.get("childrenMap", {}).values())
    if not children:
        return info(root, "/usr/bin/" + root["pcomm"]), None
    parent = info(root, "/usr/sbin/" + root["pcomm"])
    return info(children[0], parent.exe), parent


def event_of(seed: dict[str, Any]) -> tuple[Event, ProcessInfo | None]:
    proc, parent = processes_of(seed)
    base, rule = seed["BaseRuntimeMetadata"], seed["RuleID"]
    args = base["arguments"]
    common = dict(
        timestamp_ns=seed["event"]["timestamp"],
        retval=0,
        host_pid=base["infectedPID"],
        host_tid=base["infectedPID"],
        uid=proc.uid,
        gid=proc.gid,
        comm=proc.comm,
        cgroup_id=1,
        process=proc,
        container=container_of(seed),
    )
    data: dict[str, str] = {}
    if rule == "R0001":
        ev = Event(
            operation=Operation.PROCESS,
            syscall="execve",
            resource=args["exec"],
            argv=tuple(args["args"]),
            **common,
        )
    elif rule in ("R0002", "R0006"):
        ev = Event(
            operation=Operation.FILE,
            syscall="openat",
            resource=args["path"],
            **common,
        )
        data = {"fd": "-100", "flags": "|".join(args["flags"])}
    elif rule == "R0005":
        ev = Event(
            operation=Operation.NETWORK,
            syscall="sendmmsg",
            resource=args["domain"],
            **common,
        )
        data = {
            "qname": args["domain"],
            "qtype": "A",
            "sin_addr": args["addresses"][0],
            "sin_port": str(args["port"]),
        }
    else:
        ev = Event(operation=Operation.SYSCALL, syscall=args["syscall"], **common)
    return with_facts(ev, data), parent


def render(seed: dict[str, Any]) -> dict[str, Any]:
    ev, parent = event_of(seed)
    engine = ProfileEngine(
        load_text(PROFILE),
        bindings={ev.container.container_id: "replicaset-webapp-mywebapp-67965968bb"},
        enabled={"R0001", "R0002", "R0003", "R0005", "R0006"},
    )
    if seed["RuleID"] == "R0003":
        alerts = engine.observe_syscalls(ev.container, {ev.syscall})
        alerts[0].event = ev  # the pipeline attaches the process it attributes the count to
    else:
        alerts = [a for a in engine.evaluate([ev]) if a.rule_id == seed["RuleID"]]
    assert len(alerts) == 1
    host = HostIdentity(host_name="cplane-01", cluster_name=seed["RuntimeK8sDetails"]["clusterName"])
    lookup = {parent.pid: parent} if parent else {}
    return json.loads(kubescape.dumps(alerts[0], host, lookup.get))


def token_r0002(seed: dict[str, Any]) -> bool:
    """The seed's older node-agent raised R0002 for token reads; today's catalogue excludes them."""
    return (
        seed["RuleID"] == "R0002" and "/serviceaccount/" in seed["BaseRuntimeMetadata"]["arguments"]["path"]
    )


SEED_ALERTS = [s for s in seed_alerts() if not token_r0002(s)] if SEED.is_file() else []


def test_token_reads_are_r0006_not_r0002_in_the_current_catalogue() -> None:
    (seed,) = [s for s in seed_alerts() if token_r0002(s)]
    ev, _ = event_of(seed)
    engine = ProfileEngine(
        load_text(PROFILE),
        bindings={ev.container.container_id: "replicaset-webapp-mywebapp-67965968bb"},
        enabled={"R0002", "R0006"},
    )
    assert [a.rule_id for a in engine.evaluate([ev])] == ["R0006"]


def test_the_seed_has_alerts_for_the_profile_rules() -> None:
    assert {s["RuleID"] for s in seed_alerts()} == {"R0001", "R0002", "R0003", "R0005", "R0006"}


@pytest.mark.parametrize("seed", SEED_ALERTS, ids=[f"{s['RuleID']}-{i}" for i, s in enumerate(SEED_ALERTS)])
def test_alert_json_has_the_seed_shape_field_by_field(seed: dict[str, Any]) -> None:
    ours = render(seed)
    assert set(ours) == set(seed)
    assert ours["RuleID"] == seed["RuleID"]
    assert (ours["CloudMetadata"], ours["level"]) == (None, "error")
    assert ours["msg"] == ours["BaseRuntimeMetadata"]["alertName"]
    assert ours["time"] == seed["time"]

    base, sbase = ours["BaseRuntimeMetadata"], seed["BaseRuntimeMetadata"]
    assert set(sbase) - NOT_OBSERVED <= set(base) <= set(sbase) | {"uniqueID", "profileMetadata"}
    assert base["timestamp"] == sbase["timestamp"]
    assert base["infectedPID"] == sbase["infectedPID"]
    assert base["trace"] == {}
    if seed["RuleID"] == "R0005":
        assert {k: base["arguments"][k] for k in ("domain", "addresses", "port", "protocol")} == sbase[
            "arguments"
        ]
    else:
        assert base["arguments"] == sbase["arguments"]
    assert len(base["uniqueID"]) == 32
    if "profileMetadata" in sbase:
        meta, smeta = base["profileMetadata"], sbase["profileMetadata"]
        assert set(meta) == set(smeta)
        assert (meta["name"], meta["status"], meta["completion"], meta["type"]) == (
            smeta["name"],
            smeta["status"],
            smeta["completion"],
            smeta["type"],
        )

    k8s, sk8s = ours["RuntimeK8sDetails"], seed["RuntimeK8sDetails"]
    assert set(sk8s) <= set(k8s)
    for key in sk8s:
        assert k8s[key] == sk8s[key], key

    tree, stree = ours["RuntimeProcessDetails"]["processTree"], seed["RuntimeProcessDetails"]["processTree"]
    assert ours["RuntimeProcessDetails"]["containerID"] == seed["RuntimeProcessDetails"]["containerID"]
    same = ("pid", "cmdline", "comm", "ppid", "pcomm", "uid", "gid", "cwd", "path", "startTime")
    assert {k: tree.get(k) for k in same} == {k: stree.get(k) for k in same}
    assert set(tree.get("childrenMap", {})) == set(stree.get("childrenMap", {}))
    for key, child in stree.get("childrenMap", {}).items():
        assert {k: tree["childrenMap"][key].get(k) for k in same} == {k: child.get(k) for k in same}

    event, sevent = ours["event"], seed["event"]
    assert (
        set(event) == set(sevent) and event["timestamp"] == sevent["timestamp"] and event["type"] == "normal"
    )
    assert {k: v for k, v in event["runtime"].items() if k in sevent["runtime"]} == sevent["runtime"]
    assert set(sevent["k8s"]) <= set(event["k8s"])
    for key in sevent["k8s"]:
        if key != "node":
            assert event["k8s"][key] == sevent["k8s"][key], key


def test_profile_alert_is_an_otel_log_record_with_security_rule_attributes() -> None:
    seed = next(s for s in seed_alerts() if s["RuleID"] == "R0001")
    ev, _ = event_of(seed)
    engine = ProfileEngine(
        load_text(PROFILE), bindings={ev.container.container_id: "replicaset-webapp-mywebapp-67965968bb"}
    )
    (alert,) = engine.evaluate([ev])
    request = encode_logs([], [alert], {"service.name": "beholder"})
    (record,) = request.resource_logs[0].scope_logs[0].log_records
    attrs = {kv.key: kv.value for kv in record.attributes}
    assert attrs["beholder.rule.id"].string_value == "R0001"
    assert attrs["security_rule.uuid"].string_value == rule_uuid("profile", "R0001")
    assert attrs["security_rule.name"].string_value == "Unexpected process launched"
    assert attrs["beholder.alert.source"].string_value == "profile"
    assert attrs["security_rule.ruleset.name"].string_value == "replicaset-webapp-mywebapp-67965968bb"
    assert attrs["beholder.alert.extra.profile.name"].string_value == "replicaset-webapp-mywebapp-67965968bb"
    assert attrs["beholder.alert.extra.profile.status"].string_value == "completed"
    assert attrs["beholder.alert.extra.mitre.technique"].string_value == "T1059"
    assert record.body.string_value.startswith("Unexpected process launched")

"""Owner references → the workload users name (Deployment, CronJob, StatefulSet, DaemonSet…)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.enrich.k8s.workload import workload_of
from tests.k8s.fakeapi import load_fixture


def _owned(kind: str, name: str, labels: dict[str, str] | None = None, controller: bool = True) -> dict:
    return {
        "labels": labels or {},
        "ownerReferences": [{"kind": kind, "name": name, "controller": controller}],
    }


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        (_owned("ReplicaSet", "web-7d9c6b5f8d", {"pod-template-hash": "7d9c6b5f8d"}), ("Deployment", "web")),
        (
            _owned("ReplicaSet", "my-api-v2-5f6d7c8b9a", {"pod-template-hash": "5f6d7c8b9a"}),
            ("Deployment", "my-api-v2"),
        ),
        (_owned("ReplicaSet", "hand-made"), ("ReplicaSet", "hand-made")),
        (_owned("ReplicaSet", "web-abc", {"pod-template-hash": "xyz"}), ("ReplicaSet", "web-abc")),
        (_owned("Job", "backup-29412360"), ("CronJob", "backup")),
        (_owned("Job", "nightly-report-29412360"), ("CronJob", "nightly-report")),
        (_owned("Job", "migrate-db"), ("Job", "migrate-db")),
        (_owned("Job", "backup-2024"), ("Job", "backup-2024")),
        (_owned("Job", "batch-99999999"), ("Job", "batch-99999999")),
        (_owned("StatefulSet", "redis"), ("StatefulSet", "redis")),
        (_owned("DaemonSet", "fluentd"), ("DaemonSet", "fluentd")),
        (_owned("Node", "node-a"), ("Node", "node-a")),
        ({"labels": {"run": "x"}}, ("", "")),
        ({"ownerReferences": "garbage"}, ("", "")),
        ({"ownerReferences": [{"kind": 3, "name": None}]}, ("", "")),
    ],
)
def test_workload_follows_owner_naming_conventions(meta: dict, expected: tuple[str, str]) -> None:
    assert workload_of(meta) == expected


def test_controller_owner_wins_over_other_owners() -> None:
    meta = {
        "ownerReferences": [
            {"kind": "ConfigMap", "name": "extra", "controller": False},
            {"kind": "StatefulSet", "name": "redis", "controller": True},
        ]
    }
    assert workload_of(meta) == ("StatefulSet", "redis")


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        ("web-7d9c6b5f8d-x2lqp", ("Deployment", "web")),
        ("redis-0", ("StatefulSet", "redis")),
        ("fluentd-k8x7q", ("DaemonSet", "fluentd")),
        ("backup-29412360-7xk2p", ("CronJob", "backup")),
        ("debug-shell", ("", "")),
    ],
)
def test_fixture_pods_resolve_to_their_workloads(pod: str, expected: tuple[str, str]) -> None:
    items = load_fixture("podlist.json")["items"]
    meta = next(p["metadata"] for p in items if p["metadata"]["name"] == pod)
    assert workload_of(meta) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(max_size=20), st.sampled_from(["ReplicaSet", "Job", "Pod"]))
def test_any_owner_name_yields_a_kind_and_a_name(name: str, template_hash: str, kind: str) -> None:
    found_kind, found_name = workload_of(_owned(kind, name, {"pod-template-hash": template_hash}))
    assert found_kind in (kind, "Deployment", "CronJob")
    assert name.startswith(found_name)

"""Kill mode's pod scopes: a known pod's rules under its pod cgroup's id once kubelet makes it."""

from __future__ import annotations

from pathlib import Path

from beholder.enrich.k8s.cache import PodCache
from beholder.policy.compile import RuleSet
from beholder.policy.kernel_rules import KillSync
from beholder.policy.pod_scopes import PodScopes, pod_cgroup_dirs

from .test_engine import ksp

UID = "0f3c2a9e-1b2c-4d5e-8f90-123456789abc"
BLOCK = "  process: {matchPaths: [{path: /entry.sh}]}\n  action: Block\n"


def pod(uid: str = UID, app: str = "web", namespace: str = "multiubuntu") -> dict:
    return {
        "metadata": {"uid": uid, "name": f"{app}-1", "namespace": namespace, "labels": {"app": app}},
        "spec": {"containers": [{"name": app, "image": "busybox"}]},
        "status": {"phase": "Pending"},
    }


def scopes_for(engine, cache: PodCache, root: Path) -> tuple[PodScopes, dict[int, RuleSet]]:
    loaded: dict[int, RuleSet] = {}
    sync = KillSync(lambda scope, rules: None, [].append)

    def ensure(scope: int, rules: RuleSet) -> None:
        sync.ensure(scope, rules)
        loaded[scope] = rules

    def drop(scope: int) -> None:
        sync.drop(scope)
        loaded.pop(scope, None)

    return PodScopes(cache, engine.pod_rules, lambda: engine.generation, ensure, drop, (str(root),)), loaded


def test_kubelet_layouts_are_looked_for() -> None:
    dirs = pod_cgroup_dirs("/sys/fs/cgroup", UID)
    assert f"/sys/fs/cgroup/kubepods/besteffort/pod{UID}" in dirs
    assert f"/sys/fs/cgroup/kubepods/pod{UID}" in dirs  # guaranteed QoS
    slice_uid = UID.replace("-", "_")
    assert (
        f"/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{slice_uid}.slice"
        in dirs
    )


def test_a_pod_scope_is_loaded_once_its_cgroup_appears_and_dropped_with_the_pod(
    engine_from, tmp_path
) -> None:
    engine = engine_from(ksp("p", BLOCK))
    cache = PodCache()
    scopes, loaded = scopes_for(engine, cache, tmp_path)
    cache.upsert(pod())
    scopes.sync()
    assert loaded == {} and scopes.waiting()  # kubelet has not made the cgroup yet
    cgroup = tmp_path / "kubepods" / "besteffort" / f"pod{UID}"
    cgroup.mkdir(parents=True)
    scopes.sync()
    scope = cgroup.stat().st_ino
    assert list(loaded) == [scope] and loaded[scope].size and not scopes.waiting()
    cache.replace([])  # the pod is gone from the API
    scopes.sync()
    assert loaded == {}


def test_an_unselected_pod_gets_no_rules_and_policy_changes_follow(engine_from, tmp_path) -> None:
    engine = engine_from(ksp("p", BLOCK))
    cache = PodCache()
    scopes, loaded = scopes_for(engine, cache, tmp_path)
    cache.upsert(pod(app="db"))
    (tmp_path / "kubepods" / f"pod{UID}").mkdir(parents=True)
    scopes.sync()
    assert not any(rules.size for rules in loaded.values())
    engine.apply_cluster_policies([_policy_for("db")])
    scopes.sync()
    assert [rules.size for rules in loaded.values()] == [1]


def test_no_pod_scope_while_a_policy_selects_by_container_name(engine_from, tmp_path) -> None:
    """Containers of one pod may then get different rules: only their own scopes are loaded."""
    named = ksp("n", BLOCK, selector="{matchLabels: {app: web, kubearmor.io/container.name: web}}")
    engine = engine_from(named)
    cache = PodCache()
    scopes, loaded = scopes_for(engine, cache, tmp_path)
    cache.upsert(pod())
    (tmp_path / "kubepods" / f"pod{UID}").mkdir(parents=True)
    scopes.sync()
    assert loaded == {}


def _policy_for(app: str) -> dict:
    return {
        "apiVersion": "security.kubearmor.com/v1",
        "kind": "KubeArmorPolicy",
        "metadata": {"name": f"c-{app}", "namespace": "multiubuntu"},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "process": {"matchPaths": [{"path": "/entry.sh"}]},
            "action": "Block",
        },
    }

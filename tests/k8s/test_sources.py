"""Live sources against the fake API server: CRDs, namespaces and profiles swap in live."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from beholder.enrich.k8s.backoff import Backoff
from beholder.enrich.k8s.config import resolve_api_source
from beholder.events.interfaces import HostIdentity
from beholder.events.model import Operation
from beholder.policy.evaluate import Posture
from beholder.sources.live import Cluster, LiveSources, Settings
from tests.k8s.fakeapi import KSP, FakeKubeApi, eventually
from tests.k8s.objects import application_profile, audit_exec, ksp, namespace
from tests.policy.conftest import Events, container

EV = Events()
WEB = container("web", "shop", app="web")
Start = Callable[..., tuple[LiveSources, list[str]]]


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi([], "100") as server:
        yield server


@pytest.fixture
def start(api: FakeKubeApi) -> Iterator[Start]:
    """LiveSources on `api` (fast backoff); returns it and the lines it said."""
    started: list[LiveSources] = []

    def build(settings: Settings | None = None, **options: object) -> tuple[LiveSources, list[str]]:
        from kubernetes import client

        source = resolve_api_source(None, api.url)
        assert source is not None
        watch = {"backoff": lambda: Backoff(0.02, 0.2), "request_timeout_s": 2.0}
        cluster = Cluster(client.ApiClient(source.configuration), source.description, watch)
        said: list[str] = []
        sources = LiveSources(
            HostIdentity("node-a"), settings or Settings(), said.append, cluster=cluster, **options
        )
        sources.start()
        started.append(sources)
        eventually(lambda: sources.cluster is not None and sources.cluster.listed(), "first lists")
        return sources, said

    yield build
    for sources in started:
        sources.stop()


def _rules(sources: LiveSources, *paths: str) -> list[str]:
    """Policies alerting on exec of each path (default: /bin/cat) in the web container."""
    assert sources.policies is not None
    execs = [EV.exec(path, ctr=WEB) for path in paths or ("/bin/cat",)]
    return [a.rule_id for a in sources.policies.evaluate(execs)]


def test_policy_applied_changed_and_deleted_takes_effect(api: FakeKubeApi, start: Start) -> None:
    sources, _ = start()
    assert _rules(sources) == []
    api.apply(ksp("audit-cat", "shop", audit_exec("/bin/cat", {"app": "web"})))
    eventually(lambda: _rules(sources) == ["audit-cat"], "added policy alerts")
    api.apply(ksp("audit-cat", "shop", audit_exec("/bin/ls", {"app": "web"})))
    eventually(lambda: _rules(sources) == [], "changed policy no longer matches cat")
    api.apply(ksp("audit-cat", "shop", audit_exec("/bin/cat", {"app": "web"})))
    eventually(lambda: _rules(sources) == ["audit-cat"], "changed back")
    api.remove("KubeArmorPolicy", "audit-cat", "shop")
    eventually(lambda: _rules(sources) == [], "deleted policy gone")


def test_invalid_object_is_one_line_and_keeps_its_previous_version_and_the_others(
    api: FakeKubeApi, start: Start
) -> None:
    sources, said = start()
    api.apply(ksp("audit-cat", "shop", audit_exec("/bin/cat", {"app": "web"})))
    api.apply(ksp("other", "shop", audit_exec("/bin/ls", {"app": "web"})))
    eventually(lambda: _rules(sources, "/bin/cat", "/bin/ls") == ["audit-cat", "other"], "both active")
    api.apply(ksp("audit-cat", "shop", audit_exec("/bin/cat", {"app": "web"}, action="Deny")))
    api.apply(ksp("new-bad", "shop", audit_exec("cat", {"app": "web"})))
    eventually(lambda: len([s for s in said if "rejected" in s]) == 2, "two rejection lines")
    rejected = sorted(s for s in said if "rejected" in s)
    assert "KubeArmorPolicy 'shop/audit-cat': spec.action" in rejected[0]
    assert "KubeArmorPolicy 'shop/new-bad': spec.process.matchPaths[0].path" in rejected[1]
    assert _rules(sources, "/bin/cat", "/bin/ls") == ["audit-cat", "other"]  # last good audit-cat
    api.apply(ksp("other", "shop", audit_exec("/bin/ls", {"app": "web"}) | {"severity": 4}))
    eventually(lambda: sources.updates >= 5, "later change applied")
    assert len([s for s in said if "rejected" in s]) == 2, "a bad object is said once while it stays bad"


def test_host_and_cluster_policies_are_watched_too(api: FakeKubeApi, start: Start) -> None:
    sources, _ = start()
    host_spec = {"nodeSelector": {"matchLabels": {"kubernetes.io/hostname": "node-a"}}}
    host_spec |= {"process": {"matchPaths": [{"path": "/bin/cat"}]}, "action": "Audit"}
    api.apply(ksp("host-cat", "", host_spec, kind="KubeArmorHostPolicy"))
    cluster_spec = {
        "selector": {"matchExpressions": [{"key": "namespace", "operator": "In", "values": ["shop"]}]}
    }
    cluster_spec |= {"process": {"matchPaths": [{"path": "/bin/cat"}]}, "action": "Audit"}
    api.apply(ksp("shop-cat", "", cluster_spec, kind="KubeArmorClusterPolicy"))
    assert sources.policies is not None
    host_alerts = lambda: [a.rule_id for a in sources.policies.evaluate([EV.exec("/bin/cat")])]  # noqa: E731
    eventually(lambda: host_alerts() == ["host-cat"], "host policy applies to host events")
    eventually(lambda: _rules(sources) == ["shop-cat"], "cluster policy applies to the namespace")
    origins = {(p["kind"], p["origin"]) for p in sources.report()["policies"]}
    assert origins == {("KubeArmorHostPolicy", "cluster"), ("KubeArmorClusterPolicy", "cluster")}


def test_namespace_posture_and_visibility_annotations_apply_when_they_change(
    api: FakeKubeApi, start: Start
) -> None:
    sources, said = start(Settings(posture=Posture(file="audit")))
    assert sources.policies is not None
    api.apply(namespace("shop"))
    eventually(lambda: "shop" in sources.policies.namespace_annotations, "namespace seen")
    assert sources.policies.posture_of("shop").file == "audit"
    api.apply(namespace("shop", kubearmor_file_posture="block", kubearmor_visibility="process,network"))
    eventually(lambda: sources.policies.posture_of("shop").file == "block", "posture flipped")
    visible = sources.visibility.of("shop")
    assert Operation.PROCESS in visible and Operation.FILE not in visible
    api.apply(namespace("shop", kubearmor_visibility="process,bogus"))
    eventually(lambda: any("kubearmor-visibility" in s and "bogus" in s for s in said), "bad annotation said")
    assert sources.visibility.of("shop") == sources.visibility.containers  # ignored: the default applies
    api.remove("Namespace", "shop")
    eventually(lambda: "shop" not in sources.policies.namespace_annotations, "namespace gone")
    assert sources.report()["visibility"]["default"] == "process,file,network,capabilities"


def test_profile_applied_to_the_api_binds_to_the_labelled_container(api: FakeKubeApi, start: Start) -> None:
    sources, _ = start()
    assert sources.profiles is not None
    labelled = container("web", "shop", **{"kubescape.io/user-defined-profile": "web-profile"})
    api.apply(application_profile("web-profile", "shop", "web", ["/bin/sh"]))
    eventually(lambda: len(sources.report()["profiles"]) == 1, "profile listed")
    sources.profiles.evaluate([EV.exec("/bin/sh", ctr=labelled)])  # installs the snapshot between batches
    behaviour = sources.profiles.behaviour_for(labelled)
    assert behaviour is not None and behaviour.profile_name == "web-profile"
    api.remove("ApplicationProfile", "web-profile", "shop")
    eventually(lambda: not sources.report()["profiles"], "profile removed")
    sources.profiles.evaluate([])
    assert sources.profiles.behaviour_for(labelled) is None


def test_a_kind_the_cluster_does_not_serve_is_one_warning_and_the_others_still_work(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="beholder.k8s")
    with FakeKubeApi([], "7", served=(KSP, "/api/v1/namespaces")) as partial:
        from kubernetes import client

        source = resolve_api_source(None, partial.url)
        assert source is not None
        watch = {"backoff": lambda: Backoff(0.02, 0.05), "request_timeout_s": 2.0}
        cluster = Cluster(client.ApiClient(source.configuration), source.description, watch)
        sources = LiveSources(HostIdentity("node-a"), Settings(), lambda _: None, cluster=cluster)
        sources.start()
        try:
            partial.apply(ksp("audit-cat", "shop", audit_exec("/bin/cat", {"app": "web"})))
            eventually(lambda: _rules(sources) == ["audit-cat"], "served kind works")
            assert sources.cluster is not None
            stats = sources.cluster.stats
            eventually(lambda: stats()["ApplicationProfile"]["errors"] >= 3, "missing kind retried")
        finally:
            sources.stop()
    warnings = [r.message for r in caplog.records if "applicationprofiles watch failed" in r.getMessage()]
    assert len(warnings) == 1


def test_forbidden_resource_warning_names_the_rbac_rights_needed(
    api: FakeKubeApi, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="beholder.k8s")
    api.fail_next(1, status=403)
    start()
    lines = [r.getMessage() for r in caplog.records if "403" in r.getMessage()]
    assert len(lines) == 1 and "RBAC: the agent needs list and watch on" in lines[0]


def test_files_reload_on_a_configmap_symlink_swap_and_on_request(tmp_path: Path) -> None:
    volume = tmp_path / "policies"
    volume.mkdir()
    first, second = volume / "..2026_12_02_12_00_00.1", volume / "..2026_12_02_12_05_00.2"
    for directory, path in ((first, "/bin/cat"), (second, "/bin/ls")):
        directory.mkdir()
        (directory / "web.yaml").write_text(_yaml(ksp("web", "shop", audit_exec(path, {"app": "web"}))))
    (volume / "..data").symlink_to(first.name)
    (volume / "web.yaml").symlink_to("..data/web.yaml")  # how kubelet lays out a ConfigMap volume
    said: list[str] = []
    sources = LiveSources(HostIdentity("node-a"), Settings(), said.append, policy_paths=[volume])
    sources.start()
    try:
        assert _rules(sources) == ["web"]
        (volume / "..data_tmp").symlink_to(second.name)
        (volume / "..data_tmp").rename(volume / "..data")  # the atomic swap kubelet does
        eventually(lambda: _rules(sources) == [], "swapped ConfigMap reloaded")
        assert any("files changed" in s for s in said)
        sources.request_reload()
        eventually(lambda: any("SIGHUP" in s for s in said), "reload on request")
    finally:
        sources.stop()


def _yaml(obj: dict) -> str:
    import yaml

    return yaml.safe_dump(obj)

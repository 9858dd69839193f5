"""PodCache: lookups by container id or pod UID, grace after deletion, LRU bound, short waits."""

from __future__ import annotations

import copy
import threading

import pytest

from beholder.enrich.k8s.cache import PodCache
from beholder.events.model import ContainerInfo
from tests.k8s.fakeapi import load_events, load_fixture, make_pod

NGINX = "c842e7e9efb61e3cc052505d39c50d0e0ae82d6b04405ac03322df3549cdf6e0"
WEB_UID = "5b2c1d7e-3f4a-4e8b-9c1d-2a3b4c5d6e7f"
API_UID = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
API_FIRST = "84e693276868f8699a9400ea321b5e385967b64dc195292d2ebb9c50cace6ff7"
API_RESTARTED = "0b6cb510932ecfd9cb2e41909d6825cf2f154aa25cb18910bf0b06b2a50f9810"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> PodCache:
    cache = PodCache(grace_s=60.0, clock=clock)
    cache.replace(load_fixture("podlist.json")["items"])
    return cache


def _event(index: int) -> dict:
    return load_events()[index]["object"]


@pytest.mark.parametrize(
    ("container_id", "pod_uid", "pod_name", "container"),
    [
        (NGINX, "", "web-7d9c6b5f8d-x2lqp", "nginx"),
        (f"containerd://{NGINX}", "", "web-7d9c6b5f8d-x2lqp", "nginx"),
        (NGINX.upper(), "", "web-7d9c6b5f8d-x2lqp", "nginx"),
        (
            "752850bd9a0fbc7faf55ac000f8f3932b93308f7fc08656d38962994bfa1b370",
            "",
            "web-7d9c6b5f8d-x2lqp",
            "init-config",
        ),
        (
            "e7be0f2da59625a3be93e6cf6fff5e288d09dfeace611e1b46dcd0ae31dc4293",
            "",
            "web-7d9c6b5f8d-x2lqp",
            "debugger-k7w2q",
        ),
        ("34fb46c847bb9df96e5205a39d382f648a6e8dce1e014cd85b4ca6a88d88ed03", "", "redis-0", "redis"),
        ("0860f2616ab58a9c6152f5109d2f37cc9f210b7c80850b80348a45bc487fbee0", "", "fluentd-k8x7q", "fluentd"),
        ("f" * 64, WEB_UID, "web-7d9c6b5f8d-x2lqp", ""),
        ("", WEB_UID.upper().replace("-", "_"), "web-7d9c6b5f8d-x2lqp", ""),
        ("", "a1f0c3d2-7b6e-4c59-8a47-3e2d1c0b9a88", "redis-0", "redis"),
    ],
)
def test_lookup_finds_container_or_falls_back_to_pod(
    cache: PodCache, container_id: str, pod_uid: str, pod_name: str, container: str
) -> None:
    found = cache.lookup(container_id, pod_uid)
    assert found is not None
    assert (found.pod_name, found.name) == (pod_name, container)


@pytest.mark.parametrize(("container_id", "pod_uid"), [("f" * 64, ""), ("", ""), ("", "no-such-uid")])
def test_lookup_of_unknown_container_is_none(cache: PodCache, container_id: str, pod_uid: str) -> None:
    assert cache.lookup(container_id, pod_uid) is None


def test_deleted_pod_still_enriches_during_grace_then_is_forgotten(cache: PodCache, clock: Clock) -> None:
    web = load_fixture("podlist.json")["items"][0]
    cache.delete(web)
    clock.now += 59
    assert cache.lookup(NGINX) is not None
    assert cache.lookup("", WEB_UID) is not None
    clock.now += 2
    assert cache.lookup(NGINX) is None
    assert cache.lookup("", WEB_UID) is None
    cache.expire()
    assert cache.size() == (5, 5)


def test_restarted_container_keeps_old_id_for_grace(cache: PodCache, clock: Clock) -> None:
    cache.upsert(_event(2))
    cache.upsert(_event(3))
    assert cache.lookup(API_RESTARTED).name == "api"
    assert cache.lookup(API_FIRST).name == "api"
    clock.now += 61
    assert cache.lookup(API_FIRST) is None
    assert cache.lookup(API_RESTARTED) is not None


def test_relist_retires_pods_that_vanished(cache: PodCache, clock: Clock) -> None:
    items = load_fixture("podlist.json")["items"]
    cache.replace(items[1:])
    assert cache.lookup(NGINX) is not None
    clock.now += 61
    assert cache.lookup(NGINX) is None
    assert cache.lookup("34fb46c847bb9df96e5205a39d382f648a6e8dce1e014cd85b4ca6a88d88ed03") is not None


def test_pod_listed_again_after_delete_is_live_again(cache: PodCache, clock: Clock) -> None:
    web = load_fixture("podlist.json")["items"][0]
    cache.delete(web)
    cache.upsert(web)
    clock.now += 61
    assert cache.lookup(NGINX) is not None


def test_objects_without_uid_are_skipped_and_counted(clock: Clock) -> None:
    cache = PodCache(clock=clock)
    broken = copy.deepcopy(load_fixture("podlist.json")["items"][1])
    del broken["metadata"]["uid"]
    assert cache.replace([broken, {"kind": "Pod"}, load_fixture("podlist.json")["items"][2]]) == 2
    assert cache.upsert(broken) is False
    assert cache.size() == (1, 1)


def test_cache_is_bounded_evicting_least_recently_used(clock: Clock) -> None:
    cache = PodCache(max_pods=3, clock=clock)
    pods = [make_pod(f"{i:064x}", f"uid-{i}", name=f"p{i}") for i in range(5)]
    for pod in pods[:3]:
        cache.upsert(pod)
    assert cache.lookup(f"{0:064x}") is not None  # p0 is now the most recently used
    for pod in pods[3:]:
        cache.upsert(pod)
    pods_held, _ = cache.size()
    assert pods_held == 3
    assert cache.lookup("", "uid-0") is not None
    assert cache.lookup("", "uid-1") is None
    assert cache.lookup(f"{1:064x}") is None
    assert cache.lookup("", "uid-4") is not None


def test_wait_for_returns_container_once_the_starting_pod_reports_it(cache: PodCache) -> None:
    cache.upsert(_event(0))  # Pending: no container id yet
    assert cache.lookup(API_FIRST) is None
    release = threading.Timer(0.05, cache.upsert, args=(_event(2),))
    release.start()
    found = cache.wait_for(API_FIRST, API_UID, timeout_s=30.0)
    release.join()
    assert found is not None
    assert (found.container_id, found.image_id[:11]) == (API_FIRST, "sha256:1f2e")


def test_wait_for_falls_back_to_the_pod_when_the_id_never_shows(cache: PodCache) -> None:
    cache.upsert(_event(0))
    found = cache.wait_for(API_FIRST, API_UID, timeout_s=0.01)
    assert found is not None
    assert (found.container_id, found.pod_name, found.name) == ("", "api-5f6d7c8b9a-q3z8n", "api")
    assert cache.wait_for("e" * 64, "", timeout_s=0.01) is None


def test_apply_to_fills_container_info_and_keeps_cgroup_facts(cache: PodCache) -> None:
    info = ContainerInfo(container_id=NGINX, runtime="containerd")
    cache.apply_to(info, cache.lookup(NGINX))
    assert info == ContainerInfo(
        container_id=NGINX,
        runtime="containerd",
        name="nginx",
        image="docker.io/library/nginx:1.27",
        image_id="sha256:ca7c7de1c77e91ca3ec53fa3e2cfa38603bf80affc443145def036b80bcc32cd",
        pod_uid=WEB_UID,
        pod_name="web-7d9c6b5f8d-x2lqp",
        namespace="shop",
        labels={"app.kubernetes.io/name": "web", "tier": "frontend", "pod-template-hash": "7d9c6b5f8d"},
        workload_kind="Deployment",
        workload_name="web",
        service_account="web",
    )


def test_apply_to_gives_each_container_its_own_labels(cache: PodCache) -> None:
    first, second = ContainerInfo(container_id="a"), ContainerInfo(container_id="b")
    cache.apply_to(first, cache.lookup(NGINX))
    cache.apply_to(second, cache.lookup(NGINX))
    first.labels["tier"] = "changed"
    assert second.labels["tier"] == "frontend"


def test_attach_fills_a_known_container_at_once(cache: PodCache) -> None:
    info = ContainerInfo(container_id=NGINX)
    assert cache.attach(info) is True
    assert (info.pod_name, info.name) == ("web-7d9c6b5f8d-x2lqp", "nginx")


def test_attached_container_is_filled_when_its_pod_arrives(cache: PodCache) -> None:
    info = ContainerInfo(container_id=API_FIRST, runtime="containerd", pod_uid=API_UID.replace("-", "_"))
    assert cache.attach(info) is False
    assert info.pod_name == ""
    cache.upsert(_event(0))  # pod known, container id not yet: pod fields only
    assert (info.pod_name, info.namespace, info.workload_name) == ("api-5f6d7c8b9a-q3z8n", "shop", "api")
    assert info.image_id == ""
    cache.upsert(_event(2))  # kubelet reports the container
    assert info.image_id.startswith("sha256:1f2e")
    cache.upsert(_event(3))
    assert cache.attach(ContainerInfo(container_id=API_RESTARTED)) is True


def test_waiting_containers_are_bounded(clock: Clock) -> None:
    cache = PodCache(max_pods=1, clock=clock)  # room for 8 containers, so 8 waiting ones
    infos = [ContainerInfo(container_id=f"{i:064x}") for i in range(10)]
    for info in infos:
        cache.attach(info)
    for i in (0, 9):
        cache.upsert(make_pod(f"{i:064x}", f"uid-{i}", name=f"p{i}"))
    assert (infos[0].pod_name, infos[9].pod_name) == ("", "p9")


def test_attach_gives_the_container_the_execs_its_pod_spec_declares(cache: PodCache) -> None:
    info = ContainerInfo(container_id="0b8e9e995d8d77f1e4770f0f79665aee6f3f70247b3735422daba73df4c3096f")
    assert cache.attach(info) is True
    assert info.declared_execs == (("sleep", "3600"),)  # debug-shell's command: an expected exec

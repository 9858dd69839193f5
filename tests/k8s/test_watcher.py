"""The pod watcher against a fake API server: list, watch, 410, outages, resync, stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from beholder.enrich.k8s.cache import PodCache
from beholder.enrich.k8s.watcher import PodWatcher
from beholder.events.model import ContainerInfo
from tests.k8s.fakeapi import NODE, FakeKubeApi, eventually, load_events, make_pod

NGINX = "c842e7e9efb61e3cc052505d39c50d0e0ae82d6b04405ac03322df3549cdf6e0"
OTHER_NODE = "d9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa"
API_UID = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"
API_FIRST = "84e693276868f8699a9400ea321b5e385967b64dc195292d2ebb9c50cace6ff7"
API_RESTARTED = "0b6cb510932ecfd9cb2e41909d6825cf2f154aa25cb18910bf0b06b2a50f9810"
EVENTS = load_events()
ADDED, BOOKMARK, STARTED, RESTARTED, DELETED = EVENTS

Start = Callable[..., PodWatcher]


def _watching(api: FakeKubeApi, count: int = 1) -> Callable[[], bool]:
    return lambda: sum(q.get("watch") == "true" for q in api.requests) >= count


def test_initial_list_holds_this_nodes_pods_only(api: FakeKubeApi, start_watcher: Start) -> None:
    watcher = start_watcher()
    eventually(lambda: watcher.stats().lists == 1, "first list")
    assert watcher.cache.lookup(NGINX).pod_name == "web-7d9c6b5f8d-x2lqp"
    assert watcher.cache.lookup(OTHER_NODE) is None
    assert api.requests[0]["fieldSelector"] == f"spec.nodeName={NODE}"
    stats = watcher.stats()
    assert (stats.connected, stats.pods, stats.containers) == (True, 5, 8)


def test_watch_resumes_from_the_lists_resource_version(api: FakeKubeApi, start_watcher: Start) -> None:
    start_watcher()
    eventually(_watching(api), "watch opened")
    watch = next(q for q in api.requests if q.get("watch") == "true")
    assert (watch["resourceVersion"], watch["fieldSelector"]) == ("4812", f"spec.nodeName={NODE}")


def test_added_modified_deleted_events_update_the_cache(api: FakeKubeApi, start_watcher: Start) -> None:
    watcher = start_watcher(cache=PodCache(grace_s=0.0))
    eventually(_watching(api), "watch opened")
    steps = [
        (ADDED, lambda c: c.lookup("", API_UID) is not None and c.lookup(API_FIRST) is None),
        (BOOKMARK, lambda c: True),
        (STARTED, lambda c: c.lookup(API_FIRST) is not None),
        (RESTARTED, lambda c: c.lookup(API_RESTARTED) is not None),
        (DELETED, lambda c: c.lookup(API_RESTARTED) is None and c.lookup("", API_UID) is None),
    ]
    for event, holds in steps:
        api.push(event)
        eventually(lambda holds=holds: holds(watcher.cache), f"{event['type']} applied")
    eventually(lambda: watcher.stats().events == 4, "four pod events counted, bookmark not")


def test_first_exec_of_a_starting_pod_is_enriched_by_waiting(api: FakeKubeApi, start_watcher: Start) -> None:
    watcher = start_watcher()
    eventually(_watching(api), "watch opened")
    api.push(ADDED)
    eventually(lambda: watcher.cache.lookup("", API_UID) is not None, "pending pod seen")
    runtime_reports = threading.Timer(0.05, api.push, args=(STARTED,))
    runtime_reports.start()
    found = watcher.cache.wait_for(API_FIRST, API_UID, timeout_s=15.0)
    runtime_reports.join()
    assert found is not None
    assert (found.container_id, found.workload_kind, found.workload_name) == (API_FIRST, "Deployment", "api")


def test_watch_error_410_after_outage_relists_and_catches_up(api: FakeKubeApi, start_watcher: Start) -> None:
    watcher = start_watcher()
    eventually(_watching(api), "watch opened")
    api.down()
    api.push(ADDED)
    api.push(STARTED)
    api.compact()
    eventually(lambda: watcher.stats().errors >= 1 and not watcher.stats().connected, "outage noticed")
    assert watcher.cache.lookup(NGINX) is not None  # what we knew keeps enriching
    api.up()
    eventually(lambda: watcher.stats().gone == 1, "410 ERROR event seen")
    eventually(lambda: watcher.cache.lookup(API_FIRST) is not None, "relist caught up")
    stats = watcher.stats()
    assert (stats.connected, stats.lists) == (True, 2)


def test_http_410_relists(api: FakeKubeApi, start_watcher: Start) -> None:
    watcher = start_watcher()
    eventually(_watching(api), "watch opened")
    api.fail_next(1, 410)
    api.end_watches()
    eventually(lambda: watcher.stats().lists == 2, "relist after 410")
    assert (watcher.stats().gone, watcher.stats().errors) == (1, 0)


@pytest.mark.parametrize("status", [500, 503, 403, 429])
def test_failed_requests_are_counted_retried_and_recovered(
    api: FakeKubeApi, start_watcher: Start, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="beholder.k8s")
    api.fail_next(3, status)
    watcher = start_watcher()
    eventually(lambda: watcher.stats().lists == 1, "list after failures")
    assert watcher.stats().errors == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"HTTP {status}" in warnings[0]
    assert ("RBAC" in warnings[0]) == (status == 403)


def test_connection_refused_then_api_comes_up(api: FakeKubeApi, start_watcher: Start) -> None:
    api.down()
    watcher = start_watcher()
    eventually(lambda: watcher.stats().errors >= 2, "refused connections counted")
    assert watcher.cache.lookup(NGINX) is None
    assert "Connect" in watcher.stats().last_error or "refused" in watcher.stats().last_error
    api.up()
    eventually(lambda: watcher.cache.lookup(NGINX) is not None, "enrichment resumed")
    assert watcher.stats().last_error == ""


def test_container_seen_during_an_outage_is_enriched_on_reconnect(
    api: FakeKubeApi, start_watcher: Start
) -> None:
    api.down()
    watcher = start_watcher()
    eventually(lambda: watcher.stats().errors >= 1, "outage noticed")
    info = ContainerInfo(container_id=NGINX, runtime="containerd")
    assert watcher.cache.attach(info) is False
    api.up()
    eventually(lambda: info.pod_name == "web-7d9c6b5f8d-x2lqp", "pod fields filled on reconnect")
    assert (info.namespace, info.workload_kind, info.service_account) == ("shop", "Deployment", "web")


def test_hanging_api_times_out_and_is_retried(
    api: FakeKubeApi, start_watcher: Start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="beholder.k8s")
    api.fail_next(1, status=0)
    watcher = start_watcher(request_timeout_s=0.3)
    eventually(lambda: watcher.stats().lists == 1, "list after a timed-out request")
    assert watcher.stats().errors == 1
    assert "timed out" in caplog.records[0].getMessage()


def test_garbage_in_the_watch_stream_is_counted_and_the_watch_resumes(
    api: FakeKubeApi, start_watcher: Start
) -> None:
    watcher = start_watcher()
    eventually(_watching(api), "watch opened")
    api.push_raw(b"{this is not json")
    eventually(lambda: watcher.stats().errors == 1, "garbage counted")
    api.push(STARTED)
    eventually(lambda: watcher.cache.lookup(API_FIRST) is not None, "next event applied")


def test_non_410_watch_error_event_is_an_error(api: FakeKubeApi, start_watcher: Start) -> None:
    watcher = start_watcher()
    eventually(_watching(api), "watch opened")
    api.push_raw(b'{"type":"ERROR","object":{"kind":"Status","code":500,"reason":"InternalError"}}')
    eventually(lambda: watcher.stats().errors == 1, "error event counted")
    assert watcher.stats().gone == 0


def test_periodic_resync_relists(api: FakeKubeApi, start_watcher: Start) -> None:
    watcher = start_watcher(resync_s=0.5)
    eventually(lambda: watcher.stats().resyncs >= 1, "resync")
    assert watcher.stats().lists >= 2


def test_long_lists_are_read_page_by_page() -> None:
    with FakeKubeApi.from_fixture(page_size=2) as paged:
        watcher = PodWatcher.from_environment(NODE, None, paged.url)
        watcher.start()
        try:
            eventually(lambda: watcher.stats().lists == 1, "paged list")
            assert watcher.stats().pods == 5
            assert [q.get("continue") for q in paged.requests[:3]] == [None, "2", "4"]
        finally:
            watcher.stop()


def test_stop_cuts_an_open_watch(api: FakeKubeApi, start_watcher: Start) -> None:
    watcher = start_watcher(watch_timeout_s=3600, resync_s=3600)
    eventually(_watching(api), "watch opened")
    watcher.stop(timeout_s=30.0)
    assert not watcher.running


@pytest.mark.parametrize("runtime", ["containerd", "cri-o", "docker"])
def test_an_injected_container_id_is_claimed_by_its_pod(runtime: str) -> None:
    container_id, pod_uid = "ab12" * 16, "7f3e9c1a-0b2d-4e5f-8a6b-9c0d1e2f3a4b"
    with FakeKubeApi([make_pod(container_id, pod_uid, runtime=runtime)], "1") as server:
        watcher = PodWatcher.from_environment(NODE, None, server.url)
        watcher.start()
        try:
            eventually(lambda: watcher.stats().lists == 1, "list")
            by_cgroup_uid = pod_uid.replace("-", "_")  # systemd slice spelling
            found = watcher.cache.lookup(container_id, by_cgroup_uid)
        finally:
            watcher.stop()
    assert found is not None
    assert (found.runtime, found.container_id, found.pod_uid) == (runtime, container_id, pod_uid)
    assert (found.namespace, found.name, found.workload_name) == ("shop", "nginx", "web")

"""Fixtures for the pod-watcher tests: the fake API server and a watcher pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from beholder.enrich.k8s.backoff import Backoff
from beholder.enrich.k8s.watcher import PodWatcher
from tests.k8s.fakeapi import NODE, FakeKubeApi


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    with FakeKubeApi.from_fixture() as server:
        yield server


@pytest.fixture
def start_watcher(api: FakeKubeApi) -> Iterator[Callable[..., PodWatcher]]:
    """Start a watcher on `api` (fast backoff, short timeouts); stopped after the test."""
    started: list[PodWatcher] = []

    def start(**options: object) -> PodWatcher:
        options = {"backoff": Backoff(base_s=0.02, cap_s=0.2), "request_timeout_s": 2.0} | options
        watcher = PodWatcher.from_environment(NODE, None, api.url, **options)
        watcher.start()
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        watcher.stop()

"""Keep the PodCache in step with this node's pods: list, then watch, forever, off the hot path.

One daemon thread (a `ListWatch`) lists pods with `fieldSelector=spec.nodeName=<node>`,
watches from the list's resourceVersion and applies ADDED/MODIFIED/DELETED to the cache;
410 → relist, periodic resync, backoff and one warning per outage are the loop's. The
pipeline only ever reads the cache, so a down or slow API server costs enrichment, never
throughput.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from beholder.enrich.k8s.backoff import Backoff
from beholder.enrich.k8s.cache import PodCache
from beholder.enrich.k8s.config import KubernetesConfigError, resolve_api_source, resolve_node_name
from beholder.enrich.k8s.listwatch import ListWatch, Outage

if TYPE_CHECKING:  # the client costs ~38 MiB of RSS: imported only once Kubernetes is asked for
    from kubernetes import client

log = logging.getLogger("beholder.k8s")


@dataclass(frozen=True, slots=True)
class WatcherStats:
    """Health counters for logs, `/metrics` and the self-monitoring event."""

    enabled: bool
    connected: bool
    lists: int  # completed full lists: first one, resyncs and relists after 410
    resyncs: int  # periodic relists
    gone: int  # 410 Gone answers, HTTP or watch ERROR event
    errors: int  # failed requests and unreadable answers
    events: int  # watch events applied to the cache
    skipped: int  # pod objects without a UID
    pods: int
    containers: int
    last_error: str


class PodWatcher:
    """Owns the watch thread; `cache` is what the pipeline reads."""

    def __init__(
        self,
        api: client.CoreV1Api | None,
        node_name: str,
        cache: PodCache | None = None,
        *,
        source: str = "",
        resync_s: float = 600.0,
        watch_timeout_s: int = 240,
        request_timeout_s: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.cache = cache or PodCache()
        self.node_name = node_name
        self.source = source
        self._api = api
        self._selector = f"spec.nodeName={node_name}"
        self.outage = Outage()  # shared with the agent's other watches of this API server
        self._loop = ListWatch(
            "pods",
            self._list_pods,
            self.cache,
            source=source,
            resync_s=resync_s,
            watch_timeout_s=watch_timeout_s,
            request_timeout_s=request_timeout_s,
            backoff=backoff,
            after_round=self.cache.expire,
            outage=self.outage,
        )

    @classmethod
    def from_environment(
        cls, node_name: str | None, kubeconfig: str | None, api_url: str | None, **options: Any
    ) -> PodWatcher:
        """A watcher for whatever Kubernetes the flags and environment point at.

        Not asked for: a disabled watcher, silently. Asked for but unusable: a disabled
        watcher and one warning line naming the file or setting.
        """
        node = resolve_node_name(node_name)
        try:
            source = resolve_api_source(kubeconfig, api_url)
        except KubernetesConfigError as exc:
            log.warning("kubernetes enrichment off: %s", exc)
            watcher = cls(None, node, **options)
            watcher._loop.last_error = str(exc)
            return watcher
        if source is None:
            return cls(None, node, **options)
        from kubernetes import client

        api = client.CoreV1Api(client.ApiClient(source.configuration))
        return cls(api, node, source=source.description, **options)

    @property
    def enabled(self) -> bool:
        return self._api is not None

    @property
    def api_client(self) -> client.ApiClient | None:
        """The configured client, for the agent's other watches of the same cluster."""
        return self._api.api_client if self._api is not None else None

    @property
    def running(self) -> bool:
        return self._loop.running

    def start(self) -> None:
        """Start the watch thread; a disabled watcher does nothing."""
        if self._api is not None:
            self._loop.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread, cutting an open watch instead of waiting for it to time out."""
        self._loop.stop(timeout_s)

    def stats(self) -> WatcherStats:
        pods, containers = self.cache.size()
        loop = self._loop
        return WatcherStats(
            enabled=self.enabled,
            connected=loop.connected,
            lists=loop.lists,
            resyncs=loop.resyncs,
            gone=loop.gone,
            errors=loop.errors,
            events=loop.events,
            skipped=loop.skipped,
            pods=pods,
            containers=containers,
            last_error=loop.last_error,
        )

    def _list_pods(self, **params: Any) -> Any:
        """One raw list or watch request for this node's pods."""
        assert self._api is not None  # the thread only runs for an enabled watcher
        return self._api.list_pod_for_all_namespaces(field_selector=self._selector, **params)

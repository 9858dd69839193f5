"""Keep the PodCache in step with this node's pods: list, then watch, forever, off the hot path.

One daemon thread runs the informer loop kube clients use: list pods with
`fieldSelector=spec.nodeName=<node>`, remember the list's resourceVersion, watch from it,
and apply ADDED/MODIFIED/DELETED to the cache. A `410 Gone` (as an HTTP status or as a
watch ERROR event) means our resourceVersion was compacted away: list again. A periodic
relist (resync) heals anything a watch could have missed. Any other failure (connection
refused, timeouts, 5xx, 403, garbage) is counted, logged once per outage, and retried with
jittered exponential backoff. The pipeline only ever reads the cache, so a down or slow
API server costs enrichment, never throughput.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from urllib3.exceptions import MaxRetryError

from beholder.enrich.k8s.backoff import Backoff
from beholder.enrich.k8s.cache import PodCache
from beholder.enrich.k8s.config import KubernetesConfigError, resolve_api_source, resolve_node_name

if TYPE_CHECKING:  # the client costs ~38 MiB of RSS: imported only once Kubernetes is asked for
    from kubernetes import client

log = logging.getLogger("beholder.k8s")

_GONE = 410
_PAGE = 500
_STOP_POLL_S = 0.05
_QUIET_WATCH_S = 1.0


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


class _Gone(Exception):
    """The resourceVersion we hold is too old; only a fresh list helps."""


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
        self._resync_s = resync_s
        self._watch_timeout_s = watch_timeout_s
        self._request_timeout_s = request_timeout_s
        self._backoff = backoff or Backoff()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._resp: Any = None  # the open watch response, closed by stop()
        self._connected = False
        self._lists = self._resyncs = self._gone = self._errors = self._events = self._skipped = 0
        self._last_error = ""

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
            watcher._last_error = str(exc)
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
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the watch thread; a disabled watcher does nothing."""
        if self._api is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="beholder-k8s-pods", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread, cutting an open watch instead of waiting for it to time out."""
        self._stopping.set()
        thread = self._thread
        deadline = time.monotonic() + timeout_s
        while thread is not None and thread.is_alive() and time.monotonic() < deadline:
            _shutdown(self._resp)
            thread.join(_STOP_POLL_S)

    def stats(self) -> WatcherStats:
        pods, containers = self.cache.size()
        return WatcherStats(
            enabled=self.enabled,
            connected=self._connected,
            lists=self._lists,
            resyncs=self._resyncs,
            gone=self._gone,
            errors=self._errors,
            events=self._events,
            skipped=self._skipped,
            pods=pods,
            containers=containers,
            last_error=self._last_error,
        )

    # -- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        log.info("kubernetes: watching pods of node %s via %s", self.node_name, self.source)
        version = ""
        resync_at = 0.0
        while not self._stopping.is_set():
            try:
                if not version or time.monotonic() >= resync_at:
                    resyncing = bool(version)
                    version = self._relist()
                    self._resyncs += resyncing
                    resync_at = time.monotonic() + self._resync_s
                started = time.monotonic()
                version, applied = self._watch(version, resync_at)
                if applied or time.monotonic() - started >= _QUIET_WATCH_S:
                    self._backoff.reset()
                else:  # the server (or a proxy) closed an empty watch at once: do not spin
                    self._stopping.wait(self._backoff.next_delay())
            except _Gone:
                self._gone += 1
                version = ""
                log.info("kubernetes: resourceVersion expired (410 Gone), listing pods again")
                self._stopping.wait(self._backoff.next_delay())  # jittered: relists must not stampede
            except Exception as exc:  # every failure is counted and retried; the thread never dies
                if self._stopping.is_set():
                    break
                self._failed(exc)
                self._stopping.wait(self._backoff.next_delay())
            self.cache.expire()

    def _relist(self) -> str:
        pods: list[Mapping[str, Any]] = []
        token: str | None = None
        while True:
            body = _json_object(
                self._list_pods(limit=_PAGE, _continue=token, _request_timeout=self._request_timeout_s).data
            )
            items = body.get("items")
            pods.extend(items if isinstance(items, list) else [])
            meta = body.get("metadata")
            meta = meta if isinstance(meta, Mapping) else {}
            token = meta.get("continue") or None
            if token is None:
                break
        self._skipped += self.cache.replace(pods)
        self._lists += 1
        self._backoff.reset()
        self._up()
        return str(meta.get("resourceVersion") or "")

    def _watch(self, version: str, resync_at: float) -> tuple[str, int]:
        """Stream events until the server ends the watch or the resync is due.

        Returns the last resourceVersion seen and how many events were applied.
        """
        timeout = max(1, min(self._watch_timeout_s, round(resync_at - time.monotonic())))
        resp = self._list_pods(
            resource_version=version,
            watch=True,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout,
            _request_timeout=(self._request_timeout_s, timeout + self._request_timeout_s),
        )
        self._resp = resp
        self._up()
        from kubernetes.watch.watch import iter_resp_lines

        applied = 0
        try:
            for line in iter_resp_lines(resp):
                if self._stopping.is_set():
                    break
                if line:
                    version = self._apply(_json_object(line), version)
                    applied += 1
        finally:
            self._resp = None
            resp.close()  # never hand a half-read stream back to the pool
            resp.release_conn()
        return version, applied

    def _apply(self, event: Mapping[str, Any], version: str) -> str:
        kind = event.get("type")
        obj = event.get("object")
        obj = obj if isinstance(obj, Mapping) else {}
        if kind == "ERROR":
            code = obj.get("code")
            if code == _GONE:
                raise _Gone()
            raise ValueError(f"watch ERROR event: {code} {obj.get('reason', '')}: {obj.get('message', '')}")
        if kind in ("ADDED", "MODIFIED"):
            self._skipped += not self.cache.upsert(obj)
        elif kind == "DELETED":
            self._skipped += not self.cache.delete(obj)
        elif kind != "BOOKMARK":
            raise ValueError(f"watch event of unknown type {kind!r}")
        self._events += kind != "BOOKMARK"
        meta = obj.get("metadata")
        new_version = meta.get("resourceVersion") if isinstance(meta, Mapping) else None
        return new_version if isinstance(new_version, str) and new_version else version

    def _list_pods(self, **params: Any) -> Any:
        """One raw (undecoded) list or watch request for this node's pods; HTTP 410 → _Gone."""
        assert self._api is not None  # the thread only runs for an enabled watcher
        from kubernetes.client.exceptions import ApiException

        try:
            return self._api.list_pod_for_all_namespaces(
                field_selector=self._selector, _preload_content=False, **params
            )
        except ApiException as exc:
            if exc.status == _GONE:
                raise _Gone() from exc
            raise

    def _up(self) -> None:
        if not self._connected:
            log.info("kubernetes: connected to %s, %d pods cached", self.source, self.cache.size()[0])
        self._connected = True
        self._last_error = ""

    def _failed(self, exc: Exception) -> None:
        self._errors += 1
        message = _describe(exc)
        if self._connected or not self._last_error:
            log.warning("kubernetes: pod watch failed, retrying with backoff: %s", message)
        self._connected = False
        self._last_error = message


def _json_object(raw: str | bytes) -> Mapping[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _describe(exc: Exception) -> str:
    from kubernetes.client.exceptions import ApiException  # loaded: only an enabled watcher fails

    if isinstance(exc, ApiException):
        hint = " (RBAC: the agent needs get/list/watch on pods)" if exc.status == 403 else ""
        return f"HTTP {exc.status} {exc.reason}{hint}"
    if isinstance(exc, MaxRetryError) and exc.reason is not None:  # urllib3 wraps the real cause
        exc = exc.reason
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


def _shutdown(resp: Any) -> None:
    """Wake a thread blocked reading a watch response (best effort: it may just have ended)."""
    sock = getattr(getattr(resp, "connection", None), "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)

"""The informer loop kube clients use, for any one resource: list, then watch, forever.

List (paged), remember the list's resourceVersion, watch from it (bookmarks on), and hand
ADDED/MODIFIED/DELETED to a `Store`. A `410 Gone` (HTTP status or watch ERROR event) means
our resourceVersion was compacted away: list again. A periodic relist (resync) heals
anything a watch could have missed. Every other failure (connection refused, timeouts,
5xx, 403, garbage) is counted, logged once per outage (with an RBAC hint on 403) and
retried with jittered exponential backoff. The thread never dies and never touches the
pipeline: the store is all the rest of the agent sees.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from beholder.enrich.k8s.backoff import Backoff

log = logging.getLogger("beholder.k8s")

_GONE = 410
PAGE = 500
_STOP_POLL_S = 0.05
_QUIET_WATCH_S = 1.0

Request = Callable[..., Any]  # one raw (`_preload_content=False`) list or watch call


class Store(Protocol):
    """Where a list+watch loop puts what it learns; booleans say whether the object was kept."""

    def replace(self, items: Iterable[Mapping[str, Any]]) -> int: ...  # returns objects skipped

    def upsert(self, obj: Mapping[str, Any]) -> bool: ...

    def delete(self, obj: Mapping[str, Any]) -> bool: ...


class Outage:
    """Shared by every loop talking to one API server: an unreachable server is one warning.

    HTTP answers (403 on one resource, 404 for a CRD that is not installed) stay per loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down = False

    def begins(self) -> bool:
        """True for the first loop to report that the server cannot be reached."""
        with self._lock:
            first, self._down = not self._down, True
            return first

    def ends(self) -> None:
        self._down = False


class _Gone(Exception):
    """The resourceVersion we hold is too old; only a fresh list helps."""


class ListWatch:
    """One resource's list+watch thread feeding one store; counters for `stats`."""

    def __init__(
        self,
        what: str,
        request: Request,
        store: Store,
        *,
        source: str = "",
        resync_s: float = 600.0,
        watch_timeout_s: int = 240,
        request_timeout_s: float = 10.0,
        backoff: Backoff | None = None,
        after_round: Callable[[], None] | None = None,
        outage: Outage | None = None,
    ) -> None:
        self.what = what
        self.source = source
        self.store = store
        self._request = request
        self._resync_s = resync_s
        self._watch_timeout_s = watch_timeout_s
        self._request_timeout_s = request_timeout_s
        self._backoff = backoff or Backoff()
        self._after_round = after_round
        self._outage = outage or Outage()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._resp: Any = None  # the open watch response, closed by stop()
        self.connected = False
        self.lists = self.resyncs = self.gone = self.errors = self.events = self.skipped = 0
        self.last_error = ""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is None:
            name = f"beholder-k8s-{self.what}"
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread, cutting an open watch instead of waiting for it to time out."""
        self._stopping.set()
        thread = self._thread
        deadline = time.monotonic() + timeout_s
        while thread is not None and thread.is_alive() and time.monotonic() < deadline:
            _shutdown(self._resp)
            thread.join(_STOP_POLL_S)

    # -- the loop ------------------------------------------------------------------------

    def _run(self) -> None:
        log.info("kubernetes: watching %s via %s", self.what, self.source)
        version = ""
        resync_at = 0.0
        while not self._stopping.is_set():
            try:
                if not version or time.monotonic() >= resync_at:
                    resyncing = bool(version)
                    version = self._relist()
                    self.resyncs += resyncing
                    resync_at = time.monotonic() + self._resync_s
                started = time.monotonic()
                version, applied = self._watch(version, resync_at)
                if applied or time.monotonic() - started >= _QUIET_WATCH_S:
                    self._backoff.reset()
                else:  # the server (or a proxy) closed an empty watch at once: do not spin
                    self._stopping.wait(self._backoff.next_delay())
            except _Gone:
                self.gone += 1
                version = ""
                log.info("kubernetes: resourceVersion expired (410 Gone), listing %s again", self.what)
                self._stopping.wait(self._backoff.next_delay())  # jittered: relists must not stampede
            except Exception as exc:  # every failure is counted and retried; the thread never dies
                if self._stopping.is_set():
                    break
                self._failed(exc)
                self._stopping.wait(self._backoff.next_delay())
            if self._after_round is not None:
                self._after_round()

    def _relist(self) -> str:
        items: list[Mapping[str, Any]] = []
        token: str | None = None
        while True:
            body = json_object(
                self._call(limit=PAGE, _continue=token, _request_timeout=self._request_timeout_s).data
            )
            page = body.get("items")
            items.extend(page if isinstance(page, list) else [])
            meta = body.get("metadata")
            meta = meta if isinstance(meta, Mapping) else {}
            token = meta.get("continue") or None
            if token is None:
                break
        self.skipped += self.store.replace(items)
        self.lists += 1
        self._backoff.reset()
        self._up(len(items))
        return str(meta.get("resourceVersion") or "")

    def _watch(self, version: str, resync_at: float) -> tuple[str, int]:
        """Stream events until the server ends the watch or the resync is due.

        Returns the last resourceVersion seen and how many events were applied.
        """
        timeout = max(1, min(self._watch_timeout_s, round(resync_at - time.monotonic())))
        resp = self._call(
            resource_version=version,
            watch=True,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout,
            _request_timeout=(self._request_timeout_s, timeout + self._request_timeout_s),
        )
        self._resp = resp
        self._up(None)
        from kubernetes.watch.watch import iter_resp_lines

        applied = 0
        try:
            for line in iter_resp_lines(resp):
                if self._stopping.is_set():
                    break
                if line:
                    version = self._apply(json_object(line), version)
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
            self.skipped += not self.store.upsert(obj)
        elif kind == "DELETED":
            self.skipped += not self.store.delete(obj)
        elif kind != "BOOKMARK":
            raise ValueError(f"watch event of unknown type {kind!r}")
        self.events += kind != "BOOKMARK"
        meta = obj.get("metadata")
        new_version = meta.get("resourceVersion") if isinstance(meta, Mapping) else None
        return new_version if isinstance(new_version, str) and new_version else version

    def _call(self, **params: Any) -> Any:
        """One raw list or watch request; HTTP 410 → _Gone."""
        from kubernetes.client.exceptions import ApiException

        try:
            return self._request(_preload_content=False, **params)
        except ApiException as exc:
            if exc.status == _GONE:
                raise _Gone() from exc
            raise

    def _up(self, listed: int | None) -> None:
        if not self.connected:
            count = f", {listed} listed" if listed is not None else ""
            log.info("kubernetes: connected to %s for %s%s", self.source, self.what, count)
            self._outage.ends()
        self.connected = True
        self.last_error = ""

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        from kubernetes.client.exceptions import ApiException

        message = describe(exc, self.what)
        first = self.connected or not self.last_error
        if first and (isinstance(exc, ApiException) or self._outage.begins()):
            log.warning("kubernetes: %s watch failed, retrying with backoff: %s", self.what, message)
        self.connected = False
        self.last_error = message


def json_object(raw: str | bytes) -> Mapping[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def describe(exc: Exception, what: str) -> str:
    """One line for a failed request; a 403 names the RBAC rights the agent lacks."""
    # Loaded here: only an enabled watcher fails, and urllib3 (with ssl) costs an agent
    # without Kubernetes a few MiB of RSS for nothing.
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import MaxRetryError

    if isinstance(exc, ApiException):
        hint = f" (RBAC: the agent needs list and watch on {what})" if exc.status == 403 else ""
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

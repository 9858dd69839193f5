"""A stand-in kube-apiserver for the agent's watchers, serving real-shaped JSON.

It answers the two requests every watcher makes, for pods (`/api/v1/pods`, the fixtures
in fixtures/), namespaces, the three KubeArmor policy CRDs and the three Kubescape profile
kinds, the way the real server does: a (paged) list with the list's resourceVersion (pods
filtered by `fieldSelector=spec.nodeName=…`), and a watch (`watch=true&resourceVersion=N`)
streaming newline-delimited events newer than N and holding the connection open until
`timeoutSeconds`. One resourceVersion counter runs across all resources, as etcd's does.
Tests `apply`/`remove` objects like kubectl (ADDED/MODIFIED/DELETED), push raw events,
compact history (an old resourceVersion then gets a `410` ERROR event), inject HTTP
failures or a hanging request, and take the whole server down and up again on the same
port (connection refused, then recovery).

`make_pod(container_id, pod_uid)` re-identifies the fixture's Deployment pod so a test that
runs a real container can make the API claim it.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NODE = "node-a"
PODS = "/api/v1/pods"
NAMESPACES = "/api/v1/namespaces"
KSP = "/apis/security.kubearmor.com/v1/kubearmorpolicies"
HSP = "/apis/security.kubearmor.com/v1/kubearmorhostpolicies"
CSP = "/apis/security.kubearmor.com/v1/kubearmorclusterpolicies"
APPLICATION_PROFILES = "/apis/spdx.softwarecomposition.kubescape.io/v1beta1/applicationprofiles"
CONTAINER_PROFILES = "/apis/spdx.softwarecomposition.kubescape.io/v1beta1/containerprofiles"
NETWORK_NEIGHBORHOODS = "/apis/spdx.softwarecomposition.kubescape.io/v1beta1/networkneighborhoods"
# path -> (apiVersion, kind) of the items the path lists
RESOURCES = {
    PODS: ("v1", "Pod"),
    NAMESPACES: ("v1", "Namespace"),
    KSP: ("security.kubearmor.com/v1", "KubeArmorPolicy"),
    HSP: ("security.kubearmor.com/v1", "KubeArmorHostPolicy"),
    CSP: ("security.kubearmor.com/v1", "KubeArmorClusterPolicy"),
    APPLICATION_PROFILES: ("spdx.softwarecomposition.kubescape.io/v1beta1", "ApplicationProfile"),
    CONTAINER_PROFILES: ("spdx.softwarecomposition.kubescape.io/v1beta1", "ContainerProfile"),
    NETWORK_NEIGHBORHOODS: ("spdx.softwarecomposition.kubescape.io/v1beta1", "NetworkNeighborhood"),
}
PATH_OF_KIND = {kind: path for path, (_, kind) in RESOURCES.items()}


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def load_events(name: str = "watch.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def eventually(condition: Callable[[], bool], what: str, within_s: float = 15.0) -> None:
    """Wait for something another thread will make true; fail naming it if it never does."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def make_pod(
    container_id: str,
    pod_uid: str,
    *,
    name: str = "web-7d9c6b5f8d-e2e01",
    node: str = NODE,
    runtime: str = "containerd",
) -> dict[str, Any]:
    """The fixture's Deployment pod (shop/web) claiming `container_id` as its nginx container."""
    pod = copy.deepcopy(load_fixture("podlist.json")["items"][0])
    pod["metadata"].update(name=name, uid=pod_uid)
    pod["spec"]["nodeName"] = node
    pod["status"]["containerStatuses"][0]["containerID"] = f"{runtime}://{container_id}"
    return pod


def _key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return meta.get("uid") or f"{meta.get('namespace', '')}/{meta['name']}"


class FakeKubeApi:
    """A cluster's objects, their change history, and scripted faults, behind an HTTP server."""

    def __init__(
        self,
        pods: list[dict[str, Any]],
        resource_version: str,
        page_size: int = 500,
        served: tuple[str, ...] = tuple(RESOURCES),
    ) -> None:
        self.requests: list[dict[str, str]] = []
        self.paths: list[str] = []  # the path of each request, in order
        self._objects: dict[str, dict[str, dict[str, Any]]] = {path: {} for path in served}
        self._objects[PODS] = {p["metadata"]["uid"]: p for p in pods}
        self._rv = int(resource_version)
        self._oldest = self._rv  # watches from before this get 410
        self._history: list[tuple[int, bytes, str, str]] = []  # (resourceVersion, line, node, path)
        self._faults: deque[int] = deque()  # HTTP status per upcoming request; 0 = hang
        self._page_size = page_size
        self._cond = threading.Condition()
        self._generation = 0  # bumped to end every open watch
        self._server: ThreadingHTTPServer | None = None
        self._port = 0

    @classmethod
    def from_fixture(cls, name: str = "podlist.json", page_size: int = 500) -> FakeKubeApi:
        body = load_fixture(name)
        return cls(body["items"], body["metadata"]["resourceVersion"], page_size)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # -- lifecycle ----------------------------------------------------------------------------

    def up(self) -> None:
        """Listen (again, on the same port after `down`)."""
        server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-kube-api", daemon=True
        ).start()

    def down(self) -> None:
        """Stop listening and cut open watches: clients now get connection refused."""
        self.end_watches()
        with self._cond:
            self._faults.clear()
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeKubeApi:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- what the cluster does ------------------------------------------------------------------

    def push(self, event: dict[str, Any], path: str = PODS) -> None:
        """Apply one watch event to the objects at `path` and stream it to open watches."""
        obj = event["object"]
        rv = int(obj["metadata"]["resourceVersion"])
        with self._cond:
            if event["type"] in ("ADDED", "MODIFIED"):
                self._objects[path][_key(obj)] = obj
            elif event["type"] == "DELETED":
                self._objects[path].pop(_key(obj), None)
            self._rv = max(self._rv, rv)
            node = obj.get("spec", {}).get("nodeName", "") if path == PODS else ""
            self._history.append((rv, json.dumps(event).encode() + b"\n", node, path))
            self._cond.notify_all()

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """`kubectl apply`: create or update the object (by its kind) and stream ADDED/MODIFIED.

        The stored object gets what the server adds: a uid, the next resourceVersion, a
        generation, a creationTimestamp and kubectl's last-applied annotation.
        """
        path = PATH_OF_KIND[obj["kind"]]
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        with self._cond:
            old = next((o for o in self._objects[path].values() if _same(o, meta)), None)
            self._rv += 1
            rv = self._rv
        applied = json.dumps({k: v for k, v in obj.items() if k != "status"}, sort_keys=True)
        meta.setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = applied
        old_meta = old["metadata"] if old else {}
        meta.update(
            uid=old_meta.get("uid") or str(uuid.uuid4()),
            resourceVersion=str(rv),
            generation=old_meta.get("generation", 0) + 1,
            creationTimestamp=old_meta.get("creationTimestamp") or "2026-12-02T12:00:00Z",
        )
        self.push({"type": "MODIFIED" if old else "ADDED", "object": obj}, path)
        return obj

    def remove(self, kind: str, name: str, namespace: str = "") -> None:
        """`kubectl delete`: stream DELETED with the object's last state and a new resourceVersion."""
        path = PATH_OF_KIND[kind]
        meta = {"name": name, "namespace": namespace}
        with self._cond:
            old = next(o for o in self._objects[path].values() if _same(o, meta))
            self._rv += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self._rv)
        self.push({"type": "DELETED", "object": gone}, path)

    def push_raw(self, line: bytes, path: str = PODS) -> None:
        """Stream an arbitrary line (garbage) to open watches."""
        with self._cond:
            self._history.append((self._rv, line + b"\n", "", path))
            self._cond.notify_all()

    def compact(self) -> None:
        """Compact history as etcd does: a new watch from an older resourceVersion gets 410."""
        with self._cond:
            self._oldest = self._rv

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` requests with an HTTP error (status 0: hang until `down`)."""
        with self._cond:
            self._faults.extend([status] * count)

    def end_watches(self) -> None:
        """Close every open watch stream, as the server does when timeoutSeconds runs out."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    # -- HTTP -------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # watches stream in chunks, as the real server's do

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if url.path not in api._objects:
                    self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                    return
                api.requests.append(query)
                api.paths.append(url.path)
                fault = api._next_fault()
                if fault == 0:
                    api._hang()
                elif fault is not None:
                    name = "status-410.json" if fault == 410 else "status-500.json"
                    self._send(fault, load_fixture(name) | {"code": fault})
                elif query.get("watch") in ("true", "1"):
                    self._watch(query, url.path)
                else:
                    self._send(200, api._list(query, url.path))

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _watch(self, query: dict[str, str], path: str) -> None:
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for line in api._stream(query, path):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:  # the client hung up: nothing left to tell it
                    return

        return Handler

    def _next_fault(self) -> int | None:
        with self._cond:
            return self._faults.popleft() if self._faults else None

    def _hang(self) -> None:
        with self._cond:
            generation = self._generation
            self._cond.wait_for(lambda: self._generation != generation)

    def _list(self, query: dict[str, str], path: str) -> dict[str, Any]:
        node = _node_of(query) if path == PODS else ""
        with self._cond:
            items = [p for p in self._objects[path].values() if not node or p["spec"].get("nodeName") == node]
            rv = self._rv
        if path == NAMESPACES:  # the real server leaves kind/apiVersion out of core list items
            items = [{k: v for k, v in i.items() if k not in ("kind", "apiVersion")} for i in items]
        start = int(query.get("continue") or 0)
        limit = min(int(query.get("limit") or len(items) or 1), self._page_size)
        meta: dict[str, str] = {"resourceVersion": str(rv)}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
        api_version, kind = RESOURCES[path]
        page = items[start : start + limit]
        return {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta, "items": page}

    def _stream(self, query: dict[str, str], path: str = PODS) -> Any:
        """Yield the watch's lines: history newer than resourceVersion, then live ones."""
        node = _node_of(query)
        since = int(query.get("resourceVersion") or 0)
        timeout = float(query.get("timeoutSeconds") or 30)
        with self._cond:
            generation = self._generation
            if since < self._oldest:
                gone = {"type": "ERROR", "object": load_fixture("status-410.json")}
                yield json.dumps(gone).encode() + b"\n"
                return
            cursor = next((i for i, (rv, *_) in enumerate(self._history) if rv > since), len(self._history))
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda seen=cursor: seen < len(self._history) or self._generation != generation, timeout
                )
                if self._generation != generation or cursor >= len(self._history):
                    return  # ended by the test, or timeoutSeconds passed
                pending = self._history[cursor:]
                cursor = len(self._history)
            for _, line, line_node, line_path in pending:
                if line_path == path and (not node or not line_node or line_node == node):
                    yield line


def _same(obj: dict[str, Any], meta: dict[str, Any]) -> bool:
    have = obj["metadata"]
    return have["name"] == meta["name"] and have.get("namespace", "") == meta.get("namespace", "")


def _node_of(query: dict[str, str]) -> str:
    key, _, value = query.get("fieldSelector", "").partition("=")
    return value if key == "spec.nodeName" else ""

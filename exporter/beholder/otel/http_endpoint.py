"""The agent's one HTTP port: Prometheus `/metrics`, `/healthz` and `/readyz`.

prometheus_client's own server answers every path with metrics, which would make a
kubelet probe report ready before tracing starts; this server answers each path for what
it is and 404s the rest.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from beholder.health import Health


def _handler(registry: CollectorRegistry, health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # scrapes are not news
            return

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok = health.live()
                self._send(200 if ok else 503, b"ok\n" if ok else b"processing loop stalled\n")
            elif path == "/readyz":
                ok = health.ready and health.live()
                self._send(200 if ok else 503, b"ready\n" if ok else b"not tracing yet\n")
            else:
                self._send(404, b"not found: try /metrics, /healthz, /readyz\n")

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve(
    address: tuple[str, int], registry: CollectorRegistry, health: Health
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(address, _handler(registry, health))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="beholder-http", daemon=True)
    thread.start()
    return server, thread

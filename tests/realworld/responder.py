"""The stand-in for a cluster's DNS and the internet inside an isolated network namespace.

Run as `python responder.py CONFIG.json` within the namespace (`ip netns exec`). It
answers DNS over UDP and TCP on the cluster resolver's address (A records from the
config, NXDOMAIN for the rest, an empty answer for other types of a known name) and
accepts TCP on every other (address, port) the config lists, so a workload's connects
succeed as they would against real servers. It only ever binds addresses on the
namespace's loopback: nothing it does can leave the machine.

Config: {"resolver": "10.43.0.10", "names": {"pg-rw.postgres.svc.cluster.local.": "10.43.20.10"},
         "tcp": [["1.1.1.1", 443], ...], "ready": "/path/touched-when-listening"}
"""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import sys
import threading
from pathlib import Path

A, IN = 1, 1
NXDOMAIN = 3


def question(query: bytes) -> tuple[str, int, int] | None:
    """(lower-case name with the trailing dot, qtype, end offset of the question)."""
    pos, labels = 12, []
    while pos < len(query):
        length = query[pos]
        pos += 1
        if length == 0:
            if pos + 4 > len(query):
                return None
            return ".".join(labels).lower() + ".", struct.unpack_from(">H", query, pos)[0], pos + 4
        if length & 0xC0:
            return None
        labels.append(query[pos : pos + length].decode("ascii", "replace"))
        pos += length
    return None


def answer(query: bytes, names: dict[str, str]) -> bytes | None:
    parsed = question(query) if len(query) >= 12 else None
    if parsed is None:
        return None
    name, qtype, end = parsed
    address = names.get(name)
    flags = 0x8180 if address else 0x8180 | NXDOMAIN  # response, recursion desired+available
    records = b""
    if address and qtype == A:
        records = b"\xc0\x0c" + struct.pack(">HHIH", A, IN, 30, 4) + socket.inet_aton(address)
    header = struct.pack(">HHHHHH", struct.unpack_from(">H", query)[0], flags, 1, 1 if records else 0, 0, 0)
    return header + query[12:end] + records


def serve(config: dict) -> None:
    names = {k.lower(): v for k, v in config["names"].items()}
    resolver = config["resolver"]

    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            reply = answer(data, names)
            if reply:
                sock.sendto(reply, self.client_address)

    class Tcp(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(5)
            try:
                if self.server.server_address == (resolver, 53):
                    (length,) = struct.unpack(">H", self.rfile.read(2))
                    reply = answer(self.rfile.read(length), names)
                    if reply:
                        self.wfile.write(struct.pack(">H", len(reply)) + reply)
                else:
                    self.rfile.read1(65536)  # accept what the client sends, then hang up
            except (OSError, struct.error):
                pass

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    servers: list[socketserver.BaseServer] = [socketserver.ThreadingUDPServer((resolver, 53), Udp)]
    for address, port in [(resolver, 53), *map(tuple, config["tcp"])]:
        servers.append(socketserver.ThreadingTCPServer((address, port), Tcp))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    Path(config["ready"]).touch()
    threading.Event().wait()


if __name__ == "__main__":
    serve(json.loads(Path(sys.argv[1]).read_text()))

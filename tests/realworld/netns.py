"""An isolated network namespace with only a loopback device, shaped like a cluster.

The cluster's service addresses and every external address a suite names are added to
`lo`, and a responder (responder.py) plays the cluster DNS and the internet on them, so
workloads resolve names and complete connects exactly as the suites expect while no
packet can reach a real network: the namespace has no other interface and no route.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

RESPONDER = Path(__file__).with_name("responder.py")
RESOLVER = "10.43.0.10"
SEARCH = "svc.cluster.local cluster.local"


@dataclass(frozen=True)
class Network:
    name: str
    path: Path  # for the OCI config's network namespace entry

    def resolv_conf(self, namespace: str) -> str:
        """What kubelet writes for a pod in `namespace` (ClusterFirst DNS policy)."""
        return f"search {namespace}.{SEARCH}\nnameserver {RESOLVER}\noptions ndots:5\n"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextmanager
def isolated_network(
    workdir: Path, names: Mapping[str, str], tcp: Sequence[tuple[str, int]]
) -> Iterator[Network]:
    """A namespace whose `lo` holds the resolver, every name's address and every TCP
    endpoint's address, with the responder serving them; removed on exit."""
    name = f"beholder-rw-{uuid.uuid4().hex[:8]}"
    _ip("netns", "add", name)
    responder: subprocess.Popen[bytes] | None = None
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        for address in sorted({RESOLVER, *names.values(), *(a for a, _ in tcp)}):
            _ip("-n", name, "addr", "add", f"{address}/32", "dev", "lo")
        ready = workdir / "responder.ready"
        config = workdir / "responder.json"
        config.write_text(
            json.dumps({"resolver": RESOLVER, "names": dict(names), "tcp": list(tcp), "ready": str(ready)})
        )
        log = (workdir / "responder.log").open("wb")
        responder = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, str(RESPONDER), str(config)], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 30
        while not ready.exists():
            if responder.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"responder did not start: {(workdir / 'responder.log').read_text()[-2000:]}"
                )
            time.sleep(0.05)
        yield Network(name, Path("/var/run/netns") / name)
    finally:
        if responder is not None:
            responder.kill()
            responder.wait()
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)

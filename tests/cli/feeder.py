"""A stand-in agent for terminal tests: a real QueryServer fed synthetic batches forever.

Run as `python feeder.py SOCKET`; prints `ready` once the socket answers, then feeds a
batch (an open, an exec with an escape sequence in its path, an alert) every 0.2 s until
killed. Synthetic, so the tmux test does not need the kernel.
"""

from __future__ import annotations

import errno
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from beholder.events.interfaces import HostIdentity
from beholder.events.model import Action
from beholder.query.server import QueryServer
from cli.builders import T0, alert_on, exec_of, open_of

HOSTILE_EXEC = "/tmp/\x1b[2J\x1b[31mowned"


def main() -> None:
    server = QueryServer(sys.argv[1], HostIdentity(host_name="node-1", cluster_name="pandora"))
    server.start()
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        ts = T0 + n * 1_000_000
        evil = exec_of(HOSTILE_EXEC, parent="/bin/sh", ts=ts, retval=-errno.EPERM)  # blocked
        server.on_batch([open_of(f"/srv/app/page{n}.html", ts=ts), evil], [alert_on(evil, Action.BLOCK)])
        time.sleep(0.2)


if __name__ == "__main__":
    main()

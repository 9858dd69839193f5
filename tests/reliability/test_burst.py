"""A burst far above capacity: every loss is counted at its stage, then the agent recovers by itself."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reliability.burst_agent import MARKER
from reliability.scenarios import SHUTDOWN_SLACK, unread_at_exit

pytestmark = pytest.mark.kernel
HELPER = Path(__file__).with_name("burst_agent.py")
BURST_OPENS = 400_000
MARKERS = 20


def test_burst_losses_are_counted_per_stage_and_the_agent_recovers(kernel: None, loops: Path) -> None:
    agent = subprocess.Popen(
        [sys.executable, str(HELPER), "--ringbuf-pages", "2", "--marker", MARKER],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert agent.stdout is not None
    assert agent.stdout.readline().strip() == "ready"
    try:
        subprocess.run([str(loops), "open-unique", str(BURST_OPENS)], check=True)
        time.sleep(1)  # the burst is over; what follows must get through untouched
        for n in range(MARKERS):
            subprocess.run(["/bin/echo", MARKER, str(n)], stdout=subprocess.DEVNULL, check=True)
            time.sleep(0.05)
        time.sleep(1)
    finally:
        agent.send_signal(signal.SIGTERM)
    report = json.loads(agent.stdout.readline())
    assert agent.wait(60) == 0
    kernel, user = report["kernel"], report["agent"]
    print(
        json.dumps(
            {
                "kernel": kernel,
                "queue_dropped": user["queue_dropped_records"],
                "metric": report["lost_metric"],
            }
        )
    )

    assert kernel["lost"] > 0, "a 8 KiB ring buffer cannot hold this burst"
    assert kernel["seen"] == kernel["emitted"] + kernel["suppressed"] + kernel["lost"]
    assert 0 <= unread_at_exit(report) <= SHUTDOWN_SLACK
    assert report["lost_metric"].get("ringbuf") == kernel["lost"]
    assert report["lost_metric"].get("handover", 0) == user["queue_dropped_records"]
    # the same losses as log records (`beholder.agent.loss`), summed over the reports
    assert report["loss_records"] == {k: v for k, v in report["lost_metric"].items() if v}
    assert report["markers"] == list(range(MARKERS)), "after the burst every event arrives again"

"""The collector goes away under load and comes back: nothing lost, nothing reordered."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability.scenarios import run_outage

pytestmark = pytest.mark.kernel


def test_collector_down_then_up_loses_nothing_and_keeps_order(kernel: None, tmp_path: Path) -> None:
    run = run_outage(tmp_path, rate=1_000, down_s=8, up_s=4)
    assert run.books.balanced(), run.books.summary()
    assert run.books.lost == {} and run.books.spooled == 0, run.books.summary()
    assert run.markers_received == list(range(run.markers_sent))

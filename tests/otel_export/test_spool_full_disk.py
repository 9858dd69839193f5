"""A spool on a full disk: every refused record counted, the error logged once (bug 5: a
line per batch, and losses the closing line never showed)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from beholder.losses import LossLedger
from beholder.otel.spool import Spool
from support.tmpfs import small_tmpfs


def test_a_full_disk_refuses_and_counts_every_record_with_one_error_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with small_tmpfs(tmp_path) as small:
        losses = LossLedger()
        spool = Spool(small / "spool", max_bytes=1 << 30, on_lost=lambda n: losses.lost("spool", n))
        kept = sum(spool.append(os.urandom(4096), 10) for _ in range(100))  # incompressible
        spool.close()
    assert 0 < kept < 100
    assert losses.totals() == {"spool": (100 - kept) * 10}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "cannot write" in r.getMessage()]
    assert len(errors) == 1 and "No space left on device" in errors[0].getMessage()

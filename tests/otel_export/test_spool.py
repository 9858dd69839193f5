"""The disk spool keeps order across restarts, survives torn writes and respects its bound."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beholder.otel.spool import Spool, SpoolLockedError


def drain(spool: Spool) -> list[bytes]:
    out = []
    while (head := spool.peek()) is not None:
        out.append(head[0])
        spool.pop()
    return out


def payloads(n: int, size: int = 100) -> list[bytes]:
    return [f"{i:08d}".encode() * (size // 8) for i in range(n)]


def test_records_replay_in_append_order_across_segments(spool_dir: Path) -> None:
    spool = Spool(spool_dir, max_bytes=1 << 20, segment_bytes=1000)
    for p in payloads(50):
        assert spool.append(p, 2)
    assert spool.pending_records == 100
    assert len(list(spool_dir.glob("*.seg"))) > 1
    assert drain(spool) == payloads(50)
    assert spool.pending_records == 0 and spool.size_bytes == 0


def test_restart_resumes_after_the_last_acknowledged_record(spool_dir: Path) -> None:
    spool = Spool(spool_dir, max_bytes=1 << 20, segment_bytes=1000)
    for p in payloads(30):
        spool.append(p, 1)
    for _ in range(12):
        spool.pop()
    spool.close()
    reopened = Spool(spool_dir, max_bytes=1 << 20, segment_bytes=1000)
    assert reopened.pending_records == 18
    reopened.append(b"after-restart", 1)
    assert drain(reopened) == [*payloads(30)[12:], b"after-restart"]


def test_files_are_private(spool_dir: Path) -> None:
    os.umask(0o022)
    spool = Spool(spool_dir, max_bytes=1 << 20)
    spool.append(b"x", 1)
    spool.pop()
    assert stat.S_IMODE(spool_dir.stat().st_mode) == 0o700
    for path in spool_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_appends_beyond_the_bound_are_refused_and_counted(spool_dir: Path) -> None:
    lost: list[int] = []
    spool = Spool(spool_dir, max_bytes=1000, on_lost=lost.append)
    accepted = [spool.append(p, 5) for p in payloads(20)]
    assert accepted[:8] == [True] * 8 and not any(accepted[9:])
    assert sum(lost) == 5 * accepted.count(False) == spool.stats.dropped_records
    assert spool.size_bytes <= 1000
    assert drain(spool) == payloads(20)[: accepted.count(True)]


def test_acknowledged_space_is_reusable(spool_dir: Path) -> None:
    spool = Spool(spool_dir, max_bytes=1000, segment_bytes=300)
    for p in payloads(100):
        assert spool.append(p, 1)
        assert spool.peek() == (p, 1)
        spool.pop()
    assert len(list(spool_dir.glob("*.seg"))) <= 1


TORN = [
    ("half_a_header", lambda data, last: data[: last + 5]),
    ("header_without_payload", lambda data, last: data[: last + 12]),
    ("payload_cut_short", lambda data, last: data[:-7]),
    ("payload_bit_flip", lambda data, last: data[:-3] + bytes([data[-3] ^ 0x40]) + data[-2:]),
    ("garbage_length", lambda data, last: data[:last] + b"\xff\xff\xff\x7f" + data[last + 4 :]),
]


def test_torn_tail_after_a_kill_is_counted_and_the_rest_replays(spool_dir: Path) -> None:
    for name, tear in TORN:
        directory = spool_dir / name
        spool = Spool(directory, max_bytes=1 << 20)
        for p in payloads(5):
            spool.append(p, 3)
        spool.close()
        (segment,) = directory.glob("*.seg")
        data = segment.read_bytes()
        last = len(data) - (12 + len(payloads(5)[-1]))
        segment.write_bytes(tear(data, last))
        lost: list[int] = []
        reopened = Spool(directory, max_bytes=1 << 20, on_lost=lost.append)
        assert reopened.stats.corrupt_tails == 1, name
        assert reopened.pending_records == 12, name
        reopened.append(b"new", 1)
        assert drain(reopened) == [*payloads(4), b"new"], name


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(min_value=0, max_value=2000),
    flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 255)), max_size=3),
)
def test_any_damaged_segment_yields_a_prefix_of_what_was_written(
    tmp_path: Path, cut: int, flips: list[tuple[int, int]]
) -> None:
    directory = tmp_path / f"fuzz-{cut}-{len(flips)}-{os.urandom(4).hex()}"
    spool = Spool(directory, max_bytes=1 << 20)
    written = payloads(12, size=120)
    for p in written:
        spool.append(p, 1)
    spool.close()
    (segment,) = directory.glob("*.seg")
    data = bytearray(segment.read_bytes()[:cut])
    for position, mask in flips:
        if position < len(data):
            data[position] ^= mask
    segment.write_bytes(bytes(data))
    reopened = Spool(directory, max_bytes=1 << 20)
    replayed = drain(reopened)
    assert replayed == written[: len(replayed)]
    assert reopened.stats.corrupt_tails <= 1


def test_a_second_owner_is_refused_until_the_first_closes(spool_dir: Path) -> None:
    first = Spool(spool_dir, max_bytes=1 << 20)
    with pytest.raises(SpoolLockedError, match=str(spool_dir)):
        Spool(spool_dir, max_bytes=1 << 20)
    first.close()
    Spool(spool_dir, max_bytes=1 << 20).close()


def test_a_segment_that_cannot_be_written_is_refused_and_counted(spool_dir: Path) -> None:
    (spool_dir / "0000000000000001.seg").mkdir(parents=True)  # where the first segment would go
    lost: list[int] = []
    spool = Spool(spool_dir, max_bytes=1 << 20, on_lost=lost.append)
    assert not spool.append(b"payload", 4)
    assert lost == [4] and spool.pending_records == 0

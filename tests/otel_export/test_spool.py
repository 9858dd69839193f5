"""The disk spool keeps order across restarts, survives torn writes and respects its bound."""

from __future__ import annotations

import gzip
import os
import stat
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beholder.otel.spool import Spool, SpoolLockedError
from otel_export.records import numbered_request


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
    written = [os.urandom(100) for _ in range(20)]  # incompressible: each takes its full size
    accepted = [spool.append(p, 5) for p in written]
    assert 0 < accepted.count(True) < len(written)
    assert accepted == sorted(accepted, reverse=True), "once full, every later append is refused"
    assert sum(lost) == 5 * accepted.count(False) == spool.stats.dropped_records
    assert spool.size_bytes <= 1000
    assert drain(spool) == written[: accepted.count(True)]


def test_acknowledged_space_is_reusable(spool_dir: Path) -> None:
    spool = Spool(spool_dir, max_bytes=1000, segment_bytes=300)
    for p in payloads(100):
        assert spool.append(p, 1)
        assert spool.peek() == (p, 1)
        spool.pop()
    assert len(list(spool_dir.glob("*.seg"))) <= 1


def record_offsets(segment: bytes) -> list[int]:
    """Where each record of a current-format segment starts (after the 8-byte file header)."""
    offsets, offset = [], 8
    while offset < len(segment):
        offsets.append(offset)
        offset += 12 + struct.unpack_from("<I", segment, offset)[0]
    return offsets


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
        last = record_offsets(data)[-1]
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


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(written=st.lists(st.tuples(st.binary(max_size=3000), st.integers(1, 1000)), min_size=1, max_size=20))
def test_compressed_records_round_trip_in_both_forms(
    tmp_path: Path, written: list[tuple[bytes, int]]
) -> None:
    directory = tmp_path / f"rt-{os.urandom(4).hex()}"
    spool = Spool(directory, max_bytes=1 << 20, segment_bytes=2000)
    for payload, records in written:
        assert spool.append(payload, records)
    assert spool.peek(gzipped=True) is not None
    assert gzip.decompress(spool.peek(gzipped=True)[0]) == written[0][0]
    spool.close()
    reopened = Spool(directory, max_bytes=1 << 20)
    replayed = []
    while (head := reopened.peek()) is not None:
        replayed.append(head)
        reopened.pop()
    assert replayed == written


def test_otlp_requests_take_a_fraction_of_their_size_on_disk(spool_dir: Path) -> None:
    requests = [numbered_request(i * 200, 200).SerializeToString() for i in range(20)]
    spool = Spool(spool_dir, max_bytes=1 << 20)
    for request in requests:
        spool.append(request, 200)
    assert spool.size_bytes * 3 < sum(len(r) for r in requests)
    assert drain(spool) == requests


def write_version_1_segment(directory: Path, seq: int, written: list[bytes]) -> None:
    """A segment as the previous version wrote it: no file header, payloads uncompressed."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    blob = b""
    for payload in written:
        length_and_count = struct.pack("<II", len(payload), 1)
        crc = zlib.crc32(payload, zlib.crc32(length_and_count))
        blob += struct.pack("<III", len(payload), 1, crc) + payload
    (directory / f"{seq:016d}.seg").write_bytes(blob)


def test_a_spool_from_the_previous_version_is_replayed_first(
    spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = payloads(6)
    write_version_1_segment(spool_dir, 1, old[:4])
    write_version_1_segment(spool_dir, 2, old[4:])
    (spool_dir / "cursor").write_text(f"1 {12 + len(old[0])}\n")  # the first record was acknowledged
    spool = Spool(spool_dir, max_bytes=1 << 20)
    assert spool.pending_records == 5
    assert [r.message for r in caplog.records if "earlier version" in r.message] == [
        f"spool {spool_dir}: replaying 5 records an earlier version stored uncompressed"
    ]
    assert spool.peek(gzipped=True) is not None
    assert gzip.decompress(spool.peek(gzipped=True)[0]) == old[1]
    spool.append(b"new", 1)
    assert drain(spool) == [*old[1:], b"new"]


def test_a_segment_of_an_unknown_version_is_left_alone_with_one_line(
    spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool_dir.mkdir(mode=0o700)
    future = spool_dir / f"{1:016d}.seg"
    future.write_bytes(b"BHSPOOL\x09" + os.urandom(64))
    spool = Spool(spool_dir, max_bytes=1 << 20)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == [
        f"spool {spool_dir}: {future.name} has format version 9 (this agent reads 1-2); "
        "left in place, not replayed"
    ]
    assert spool.pending_records == 0
    spool.append(b"new", 1)
    assert drain(spool) == [b"new"]
    spool.close()
    assert future.exists()
    assert Spool(spool_dir, max_bytes=1 << 20).pending_records == 0

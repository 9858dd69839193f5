"""A recording's rotated generations: named, compressed and read back oldest first."""

from __future__ import annotations

import gzip
from pathlib import Path

from beholder.output.rotation import generations
from beholder.output.target import OutputTarget
from beholder.query.offline import open_recordings


def test_generations_are_listed_oldest_first_and_a_generation_being_packed_once(tmp_path: Path) -> None:
    live = tmp_path / "events.jsonl"
    suffixes = ("", ".1.gz", ".2", ".2.gz", ".10.gz", ".lock", ".1.gz.partial", "x.3")
    for suffix in suffixes:
        (tmp_path / f"events.jsonl{suffix}").write_bytes(b"")
    names = [p.name for p in generations(live)]
    assert names == ["events.jsonl.10.gz", "events.jsonl.2", "events.jsonl.1.gz", "events.jsonl"]


def test_rotation_compresses_and_the_reader_returns_every_line_in_order(tmp_path: Path) -> None:
    live = tmp_path / "events.jsonl"
    target = OutputTarget(live)
    for n in range(5):
        target.write_all(f"line {n}\n".encode())
        target.rotate(backups=3)  # the oldest generation (line 0) falls off the end
    target.write_all(b"line 5\n")
    target.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "events.jsonl", "events.jsonl.1.gz", "events.jsonl.2.gz", "events.jsonl.3.gz"
    ]  # fmt: skip
    assert gzip.decompress((tmp_path / "events.jsonl.3.gz").read_bytes()) == b"line 2\n"
    recordings = open_recordings([str(live)])
    assert [r.size for r in recordings] == [7, 7, 7, 7]
    assert [line for r in recordings for line in r.stream] == [f"line {n}\n" for n in range(2, 6)]

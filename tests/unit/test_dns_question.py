"""DNS questions parse from hostile payloads without ever raising."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.sensors.dns import parse_question


def query(name: str, qtype: int = 1, flags: int = 0x0100) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    return struct.pack(">HHHHHH", 7, flags, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", qtype, 1)


CASES = {
    "A query": (query("example.com"), ("example.com.", "A")),
    "AAAA query": (query("a.b.example.org", 28), ("a.b.example.org.", "AAAA")),
    "TCP framing": (struct.pack(">H", len(query("x.io"))) + query("x.io"), ("x.io.", "A")),
    "response is not a question": (query("example.com", flags=0x8180), None),
    "compression pointer refused": (query("example.com")[:12] + b"\xc0\x0c\0\1\0\1", None),
    "truncated name": (query("example.com")[:16], None),
}


@pytest.mark.parametrize("payload,expected", CASES.values(), ids=CASES.keys())
def test_question_is_parsed(payload: bytes, expected: tuple[str, str] | None) -> None:
    assert parse_question(payload) == expected


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_any_payload_gives_a_question_or_none(payload: bytes) -> None:
    found = parse_question(payload)
    assert found is None or (found[0].endswith(".") and len(found[0]) <= 255)

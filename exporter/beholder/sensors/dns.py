"""Parse the question of a DNS query payload (RFC 1035 section 4.1).

The payload comes from user memory through the kernel, so it is hostile input: every
length is bounded, compression pointers are refused in questions, and anything odd
returns None rather than raising.
"""

from __future__ import annotations

import struct

QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
          64: "SVCB", 65: "HTTPS", 255: "ANY"}  # fmt: skip
_HEADER = struct.Struct(">HHHHHH")
MAX_NAME = 253


def _question_at(payload: bytes, offset: int) -> tuple[str, str] | None:
    if len(payload) < offset + _HEADER.size:
        return None
    _id, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(payload, offset)
    if flags & 0x8000 or qdcount == 0:  # a response, or no question
        return None
    pos = offset + _HEADER.size
    labels: list[str] = []
    total = 0
    while True:
        if pos >= len(payload):
            return None
        length = payload[pos]
        pos += 1
        if length == 0:
            break
        if length & 0xC0 or pos + length > len(payload):
            return None
        total += length + 1
        if total > MAX_NAME + 1:
            return None
        labels.append(payload[pos : pos + length].decode("ascii", "backslashreplace"))
        pos += length
    if pos + 4 > len(payload):
        return None
    qtype = struct.unpack_from(">H", payload, pos)[0]
    return ".".join(labels) + ".", QTYPES.get(qtype, str(qtype))


def parse_question(payload: bytes) -> tuple[str, str] | None:
    """(`name.`, `A`) for a query; tries the TCP framing (2-byte length prefix) too."""
    framed = len(payload) > 2 and struct.unpack_from(">H", payload)[0] == len(payload) - 2
    return (framed and _question_at(payload, 2)) or _question_at(payload, 0)

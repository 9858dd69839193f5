"""Synthetic ring-buffer records for every syscall the sensors decode, and what each renders.

`rendered(raw)` is the decoder's facts plus both renderings (KubeArmor fields, the OTLP
record as OTLP/JSON): `test_decode_golden.py` compares them with the output recorded before
the decoder and the encoder were made table-driven, so a refactor keeps every byte.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

from beholder.events.abi import HEADER
from beholder.events.abi import RecordKind as K
from beholder.events.abi import Role as R
from beholder.events.decoding import SYSCALL_NUMBERS
from beholder.events.interfaces import HostIdentity
from beholder.formats.kubearmor import per_event_fields
from beholder.otel import jsonwire
from beholder.otel.encode import LogEncoder
from beholder.sensors.catalog import SENSORS
from beholder.sensors.decode import Decoder

_NEG = 2**64  # a negative argument as the kernel hands it over: a full 64-bit word
# Argument vectors that exercise each call's words: AT_FDCWD, a real fd, open flags with and
# without O_CREAT, modes, ids (-1 too), AT_REMOVEDIR / AT_SYMLINK_NOFOLLOW, mount flags.
ARGS = (
    (_NEG - 100, 0o101 | 0o2000000, 0o1101, 0o644, 0x200, 1000),
    (5, 0o2000000, 0o100, 0o4755, 0x100, _NEG - 1),
    (3, 2, 0x200 | 0o20000000, 0o600, 0, 0),
    (_NEG - 1, 1000, _NEG - 1, 0o777, 0x8000 | 0x1000, 2),
)
PATHS = ((b"etc/passwd\0", b"/tmp/new\0"), (b"/var/log/x\0", b""), (b"", b""))


def _sockaddr_in(port: int, ip: bytes) -> bytes:
    return struct.pack("<H", 2) + struct.pack(">H", port) + ip + bytes(8)


def _sockaddr_in6(port: int) -> bytes:
    return struct.pack("<H", 10) + struct.pack(">H", port) + bytes(4) + bytes(15) + b"\1" + bytes(4)


ADDRESSES = (
    _sockaddr_in(53, bytes([10, 0, 0, 10])),
    _sockaddr_in6(443),
    struct.pack("<H", 1) + b"/run/nscd/socket\0",
    struct.pack("<H", 1) + b"\0abstract",
    struct.pack("<H", 16) + bytes(2) + struct.pack("<II", 1234, 1),
    struct.pack("<H", 2) + b"\0",  # short
    struct.pack("<H", 38) + bytes(12),  # AF_ALG
    b"",
)
_QUERY = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\7example\3com\0" + struct.pack(">HH", 1, 1)
DNS_PAYLOADS = (_QUERY, struct.pack(">H", len(_QUERY)) + _QUERY, b"\0garbage")
_DNS_ROLES = {R.DNS_WRITE, R.DNS_SENDTO, R.DNS_SENDMSG, R.DNS_SENDMMSG}
HOST = HostIdentity("node-1", "node-1", "prod")


def record(kind: int, nr: int, retval: int, args: tuple[int, ...], s1: bytes = b"", s2: bytes = b"") -> bytes:
    head = HEADER.pack(
        1_000, 42, 100, 101, 1000, 1000, retval, kind, nr, 0, 0, 7, 0, b"comm\0".ljust(16, b"\0"),
        *args, len(s1), len(s2),
    )  # fmt: skip
    return head + s1 + s2


def records() -> Iterator[tuple[str, bytes]]:
    """(label, raw record) for every syscall of every sensor with a syscall-dependent decode."""
    for sensor in SENSORS:
        for name, role in sensor.roles().items():
            nr = SYSCALL_NUMBERS[name]
            if role in _DNS_ROLES:
                for i, payload in enumerate(DNS_PAYLOADS):
                    for j, addr in enumerate(ADDRESSES):
                        yield f"{name}/dns{i}/{j}", record(K.DNS, nr, 29, (4, 0, 0, 0, 0, 0), payload, addr)
            elif role == K.NET:
                for i, args in enumerate(ARGS):
                    for j, addr in enumerate(ADDRESSES):
                        yield f"{name}/{i}/{j}", record(K.NET, nr, 7 - 10 * (i % 2), args, addr)
            elif role in (K.FILE, K.CHDIR, K.SYSCALL, K.EXEC):
                for i, args in enumerate(ARGS):
                    for j, (s1, s2) in enumerate(PATHS):
                        yield f"{name}/{i}/{j}", record(role, nr, 0 - 13 * (i % 2), args, s1, s2)
    for i, (old, new) in enumerate(((2, 1), (10, 10), (1, 7), (99, 12))):
        ips = (bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) if i % 2 == 0 else (bytes(16), bytes(15) + b"\1")
        yield f"tcp_state/{i}", record(K.TCP_STATE, 0, 0, (old, new, 80, 4242, 2 + 8 * (i % 2), 0), *ips)
    for cap in (0, 21, 40, 63):
        yield f"cap/{cap}", record(K.CAP, 0, 0, (cap, 0, 0, 0, 0, 0))
    yield "fork", record(K.FORK, 0, 0, (100, 200, 0, 0, 0, 0))
    for code, exited in ((3, 1), (0, 0)):
        yield f"exit/{code}/{exited}", record(K.EXIT, 0, 0, (code, exited, 0, 0, 0, 0))


def rendered(raw: bytes) -> dict:
    """The decoded event's facts, its KubeArmor fields and its OTLP record attributes."""
    decoder = Decoder()
    decoder.boot_offset_ns = 0
    ev = decoder.decode(raw)
    operation, resource, data, structured, result = per_event_fields(ev)
    request = json.loads(LogEncoder(jsonwire).encode([ev], [], {"service.name": "beholder"}))
    otlp = request["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    otlp.pop("observedTimeUnixNano")
    return {
        "kind": ev.kind,
        "facts": repr(ev.facts),
        "kubearmor": [operation, resource, data, structured, result],
        "otlp": otlp,
    }

"""The ring-buffer decoder is total: valid records decode field by field, anything else is a
DecodeError, never another exception (fuzzed)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.events import Operation
from beholder.events.decoding import SYSCALL_NUMBERS
from beholder.sensors.decode import FIXED_SIZE, HEADER, K_CAP, K_EXEC, K_FILE, K_NET, DecodeError, Decoder


def record(
    kind: int, nr: int, retval: int, args: tuple[int, ...], s1: bytes = b"", s2: bytes = b"", flags: int = 0
):
    head = HEADER.pack(
        1_000, 42, 100, 101, 0, 0, retval, kind, nr, flags, 0, 7, 0, b"comm\0".ljust(16, b"\0"),
        *args, len(s1), len(s2),
    )  # fmt: skip
    return head + s1 + s2


def test_header_matches_the_c_layout() -> None:
    assert FIXED_SIZE == 136


def test_exec_record() -> None:
    raw = record(
        K_EXEC, SYSCALL_NUMBERS["execve"], 0, (2**64 - 100, 0, 0, 0, 0, 0), b"/bin/ls\0", b"ls\0-l\0/tmp\0"
    )
    ev = Decoder().decode(raw)
    assert (ev.operation, ev.syscall, ev.resource) == (Operation.PROCESS, "execve", "/bin/ls")
    assert ev.argv == ("ls", "-l", "/tmp") and ev.data == {"argv": "-l /tmp"}
    assert (ev.host_pid, ev.host_tid, ev.cgroup_id, ev.ns_pid, ev.comm) == (100, 101, 42, 7, "comm")


def test_openat_record_decodes_flags_mode_and_errno() -> None:
    raw = record(
        K_FILE, SYSCALL_NUMBERS["openat"], -13, (2**64 - 100, 0, 0o101 | 0o2000000, 0o600, 0, 0), b"/x\0"
    )
    ev = Decoder().decode(raw)
    assert ev.data == {"fd": "-100", "flags": "O_WRONLY|O_CREAT|O_CLOEXEC", "mode": "0600"}
    assert ev.result == "Permission denied"


def test_connect_record_decodes_sockaddr() -> None:
    addr = struct.pack("<H", 2) + struct.pack(">H", 53) + bytes([10, 0, 0, 10]) + bytes(8)
    ev = Decoder().decode(record(K_NET, SYSCALL_NUMBERS["connect"], 0, (10, 0, 16, 0, 0, 0), addr))
    assert ev.resource == "sa_family=AF_INET sin_port=53 sin_addr=10.0.0.10"
    assert ev.data["fd"] == "10"


def test_capability_record() -> None:
    ev = Decoder().decode(record(K_CAP, 0, -1, (13, 0, 0, 0, 0, 0)))
    assert (ev.operation, ev.resource, ev.result) == (
        Operation.CAPABILITY,
        "NET_RAW",
        "Operation not permitted",
    )


MALFORMED = {
    "empty": b"",
    "shorter than the header": b"\0" * 10,
    "unknown kind": record(99, 0, 0, (0,) * 6),
    "string length overruns the record": record(K_FILE, 257, 0, (0,) * 6, b"abc")[:-1],
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_records_raise_decode_error(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        Decoder().decode(raw)


@settings(max_examples=500, deadline=None)
@given(
    kind=st.integers(0, 12),
    nr=st.integers(0, 600),
    retval=st.integers(-(2**63), 2**63 - 1),
    args=st.tuples(*[st.integers(0, 2**64 - 1)] * 6),
    s1=st.binary(max_size=300),
    s2=st.binary(max_size=300),
    cut=st.integers(0, 700),
)
def test_decoder_never_raises_anything_but_decode_error(kind, nr, retval, args, s1, s2, cut) -> None:
    raw = record(kind, nr, retval, args, s1, s2)[: FIXED_SIZE + cut]
    try:
        ev = Decoder().decode(raw)
    except DecodeError:
        return
    assert isinstance(ev.resource, str) and all(isinstance(v, str) for v in ev.data.values())

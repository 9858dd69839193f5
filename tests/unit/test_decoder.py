"""The ring-buffer decoder is total: valid records decode field by field, anything else is a
DecodeError, never another exception (fuzzed)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.events import Operation, facts, kinds
from beholder.events.abi import HEADER, RECORD_FIXED
from beholder.events.abi import RecordKind as K
from beholder.events.decoding import SYSCALL_NUMBERS
from beholder.formats.arguments import arguments
from beholder.formats.kubearmor import data_text
from beholder.formats.resource import resource_text
from beholder.sensors.decode import DecodeError, Decoder


def record(
    kind: int, nr: int, retval: int, args: tuple[int, ...], s1: bytes = b"", s2: bytes = b"", flags: int = 0
):
    head = HEADER.pack(
        1_000, 42, 100, 101, 0, 0, retval, kind, nr, flags, 0, 7, 0, b"comm\0".ljust(16, b"\0"),
        *args, len(s1), len(s2),
    )  # fmt: skip
    return head + s1 + s2


def test_header_matches_the_c_layout() -> None:
    assert RECORD_FIXED == 136


def test_exec_record() -> None:
    raw = record(
        K.EXEC, SYSCALL_NUMBERS["execve"], 0, (2**64 - 100, 0, 0, 0, 0, 0), b"/bin/ls\0", b"ls\0-l\0/tmp\0"
    )
    ev = Decoder().decode(raw)
    assert (ev.operation, ev.syscall, ev.resource) == (Operation.PROCESS, "execve", "/bin/ls")
    assert ev.argv == ("ls", "-l", "/tmp") and arguments(ev) == {"argv": "-l /tmp"}
    assert (ev.host_pid, ev.host_tid, ev.cgroup_id, ev.ns_pid, ev.comm) == (100, 101, 42, 7, "comm")


def test_openat_record_decodes_flags_mode_and_errno() -> None:
    raw = record(
        K.FILE, SYSCALL_NUMBERS["openat"], -13, (2**64 - 100, 0, 0o101 | 0o2000000, 0o600, 0, 0), b"/x\0"
    )
    ev = Decoder().decode(raw)
    assert arguments(ev) == {"fd": "-100", "flags": "O_WRONLY|O_CREAT|O_CLOEXEC", "mode": "0600"}
    assert ev.result == "Permission denied"


def test_connect_record_decodes_sockaddr() -> None:
    addr = struct.pack("<H", 2) + struct.pack(">H", 53) + bytes([10, 0, 0, 10]) + bytes(8)
    ev = Decoder().decode(record(K.NET, SYSCALL_NUMBERS["connect"], 0, (10, 0, 16, 0, 0, 0), addr))
    assert ev.resource == "" and resource_text(ev) == "sa_family=AF_INET sin_port=53 sin_addr=10.0.0.10"
    assert arguments(ev)["fd"] == "10"


def test_capability_record() -> None:
    ev = Decoder().decode(record(K.CAP, 0, -1, (13, 0, 0, 0, 0, 0)))
    assert (ev.operation, resource_text(ev), ev.result) == (
        Operation.CAPABILITY,
        "NET_RAW",
        "Operation not permitted",
    )


def _dns_payload(name: str) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)


FACTS = {
    "exec": (
        record(K.EXEC, SYSCALL_NUMBERS["execve"], 0, (2**64 - 100,) + (0,) * 5, b"/bin/ls\0", b"ls\0"),
        kinds.PROCESS_EXEC,
        facts.Exec("/bin/ls", None),
    ),
    "fork": (record(K.FORK, 0, 0, (10, 11, 0, 0, 0, 0)), kinds.PROCESS_FORK, facts.Fork(10, 11)),
    "exit_group": (record(K.EXIT, 0, 0, (0x103, 1, 0, 0, 0, 0)), kinds.PROCESS_EXIT, facts.Exit(3)),
    "exit by signal": (record(K.EXIT, 0, 0, (0, 0, 0, 0, 0, 0)), kinds.PROCESS_EXIT, facts.Exit(None)),
    "openat": (
        record(K.FILE, SYSCALL_NUMBERS["openat"], 3, (2**64 - 100, 0, 0o101, 0o640, 0, 0), b"x\0"),
        kinds.FILE_OPEN,
        facts.FileAccess("x", dirfd=-100, flags=0o101, mode=0o640),
    ),
    "fchownat": (
        record(K.FILE, SYSCALL_NUMBERS["fchownat"], 0, (5, 0, 1000, 2**32 - 1, 0, 0), b"/y\0"),
        kinds.FILE_CHOWN,
        facts.FileAccess("/y", dirfd=5, owner_uid=1000, owner_gid=-1, at_flags=0),
    ),
    "symlink": (
        record(K.FILE, SYSCALL_NUMBERS["symlink"], 0, (0,) * 6, b"/etc/passwd\0", b"/tmp/l\0"),
        kinds.FILE_LINK,
        facts.FileAccess("/tmp/l", target="/etc/passwd"),
    ),
    "socket": (
        record(K.NET, SYSCALL_NUMBERS["socket"], 4, (2, 1 | 0o2000000, 6, 0, 0, 0)),
        kinds.NETWORK_SOCKET,
        facts.Socket(2, 1 | 0o2000000, 6, 4),
    ),
    "connect": (
        record(K.NET, SYSCALL_NUMBERS["connect"], 0, (3, 0, 16, 0, 0, 0), struct.pack("<H", 1) + b"/run/s\0"),
        kinds.NETWORK_CONNECT,
        facts.SocketCall(3, facts.Endpoint(1, path="/run/s")),
    ),
    "dns sendto with server": (
        record(
            K.DNS,
            SYSCALL_NUMBERS["sendto"],
            0,
            (7, 0, 0, 0, 0, 0),
            _dns_payload("a.example"),
            struct.pack("<H", 2) + struct.pack(">H", 53) + bytes([10, 0, 0, 53]) + bytes(8),
        ),
        kinds.NETWORK_DNS,
        facts.DnsQuestion(7, "a.example.", "A", facts.Endpoint(2, "10.0.0.53", 53)),
    ),
    "setresuid": (
        record(K.SYSCALL, SYSCALL_NUMBERS["setresuid"], 0, (0, 2**32 - 1, 5, 0, 0, 0)),
        kinds.SYSCALL_CREDENTIALS,
        facts.Credentials(uid=0, euid=-1, suid=5),
    ),
    "kill": (
        record(K.SYSCALL, SYSCALL_NUMBERS["kill"], 0, (99, 9, 0, 0, 0, 0)),
        kinds.SYSCALL_SIGNAL,
        facts.SyscallArgs({"pid": 99, "sig": 9}),
    ),
    "capability": (record(K.CAP, 0, 0, (21, 0, 0, 0, 0, 0)), kinds.CAPABILITY_CHECK, facts.Capability(21)),
}


@pytest.mark.parametrize("case", FACTS)
def test_decoder_sets_kind_and_typed_facts(case: str) -> None:
    raw, kind, expected = FACTS[case]
    ev = Decoder().decode(raw)
    assert (ev.kind, ev.facts) == (kind, expected)


def test_fchownat_flags_reach_kubearmor_data_as_mode() -> None:
    """KubeArmor prints fchownat's AT_* flags as `mode`; the decoder keeps them as a fact."""
    raw = record(K.FILE, SYSCALL_NUMBERS["fchownat"], 0, (2**64 - 100, 0, 1000, 1000, 0x100, 0), b"/tmp/x\0")
    ev = Decoder().decode(raw)
    assert ev.facts == facts.FileAccess("/tmp/x", dirfd=-100, owner_uid=1000, owner_gid=1000, at_flags=0x100)
    assert data_text(ev, arguments(ev)) == "syscall=SYS_FCHOWNAT userid=1000 group=1000 mode=256"


def test_dns_server_address_follows_the_payload() -> None:
    """The server sockaddr of sendto/sendmsg is the second blob, right after the DNS payload."""
    payload = _dns_payload("b.example")
    server = struct.pack("<H", 10) + struct.pack(">H", 53) + bytes(4) + bytes(15) + b"\1" + bytes(4)
    ev = Decoder().decode(record(K.DNS, SYSCALL_NUMBERS["sendmsg"], 0, (3,) + (0,) * 5, payload, server))
    assert ev.facts.server == facts.Endpoint(10, "::1", 53)
    assert (arguments(ev)["sa_family"], arguments(ev)["sin6_addr"], arguments(ev)["sin6_port"]) == (
        "AF_INET6",
        "::1",
        "53",
    )


MALFORMED = {
    "empty": b"",
    "shorter than the header": b"\0" * 10,
    "unknown kind": record(99, 0, 0, (0,) * 6),
    "string length overruns the record": record(K.FILE, 257, 0, (0,) * 6, b"abc")[:-1],
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
    raw = record(kind, nr, retval, args, s1, s2)[: RECORD_FIXED + cut]
    try:
        ev = Decoder().decode(raw)
    except DecodeError:
        return
    assert isinstance(ev.resource, str) and all(isinstance(v, str) for v in arguments(ev).values())


@pytest.mark.parametrize(
    ("family", "kind", "protocol", "resource"),
    [
        (2, 3, 1, "domain=AF_INET type=SOCK_RAW protocol=ICMP"),
        (2, 1, 6, "domain=AF_INET type=SOCK_STREAM protocol=TCP"),
        (10, 2, 17, "domain=AF_INET6 type=SOCK_DGRAM protocol=UDP"),
        (10, 3, 58, "domain=AF_INET6 type=SOCK_RAW protocol=ICMPv6"),
        (17, 3, 768, "domain=AF_PACKET type=SOCK_RAW protocol=768"),  # ETH_P_ALL stays a number
        (2, 2, 0, "domain=AF_INET type=SOCK_DGRAM protocol=0"),
    ],
)
def test_socket_resource_names_the_protocol_as_kubearmor(family, kind, protocol, resource) -> None:
    """The decoder fills the socket's numbers only; formats/ renders KubeArmor's text from them."""
    ev = Decoder().decode(record(K.NET, SYSCALL_NUMBERS["socket"], 3, (family, kind, protocol, 0, 0, 0)))
    assert ev.resource == "" and resource_text(ev) == resource


def test_every_traced_syscall_of_the_syscall_sensor_has_its_argument_row() -> None:
    """A syscall the catalogue traces is decoded by its row in events.syscall_args (no row: no facts)."""
    from beholder.events.syscall_args import CREDENTIAL_ARGS, SYSCALL_ARGS
    from beholder.sensors.catalog import SENSORS

    (sensor,) = [s for s in SENSORS if s.name == "syscall"]
    assert set(sensor.syscalls) == set(SYSCALL_ARGS) | set(CREDENTIAL_ARGS)


@pytest.mark.parametrize(
    ("syscall", "args", "credentials", "data"),
    [
        ("setuid", (0,), facts.Credentials(uid=0), "userid=0"),
        # KubeArmor's monitor writes a setgid's id as userid= too (seed 002's Blocked SETGID)
        ("setgid", (5,), facts.Credentials(gid=5), "userid=5"),
        ("setreuid", (0, 2**32 - 1), facts.Credentials(uid=0, euid=-1), "ids=0,-1"),
        ("setresgid", (5, 6, 7), facts.Credentials(gid=5, egid=6, sgid=7), "ids=5,6,7"),
        ("setfsuid", (1000,), facts.Credentials(fsuid=1000), "userid=1000"),
    ],
)
def test_credentials_are_named_ids_and_render_as_kubearmor(syscall, args, credentials, data) -> None:
    raw = record(K.SYSCALL, SYSCALL_NUMBERS[syscall], 0, (*args, *(0,) * (6 - len(args))))
    ev = Decoder().decode(raw)
    assert ev.facts == credentials
    assert data_text(ev, arguments(ev)) == f"syscall=SYS_{syscall.upper()} {data}"

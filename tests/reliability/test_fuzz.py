"""Hostile input to every parser: a clean error or a valid result, never a crash or a hang.

`BEHOLDER_FUZZ_EXAMPLES` sets the examples per target (300 in `make test`, 10,000 in
`make soak`).
"""

from __future__ import annotations

import struct

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beholder.bob.profile import Profile, ProfileError
from beholder.bob.profile import load_text as load_profile
from beholder.events.abi import HEADER, RECORD_FIXED
from beholder.events.model import Alert, Event
from beholder.formats.kubearmor_in import ReadReport, read_records
from beholder.policy.loader import load_text as load_policy
from beholder.sensors.decode import DecodeError, Decoder
from reliability.budget import FUZZ_EXAMPLES

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
POLICY_KEYS = [
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "selector",
    "process",
    "file",
    "network",
    "capabilities",
    "syscalls",
    "action",
    "matchPaths",
    "matchDirectories",
    "path",
    "dir",
]
PROFILE_KEYS = [
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "containers",
    "execs",
    "opens",
    "syscalls",
    "capabilities",
    "endpoints",
    "name",
    "path",
    "args",
    "flags",
    "items",
]


def shaped(keys: list[str], kind: str) -> st.SearchStrategy[object]:
    """Documents that look like the real thing, so fuzzing reaches past the first type check."""
    leaf = scalars | st.sampled_from(keys)
    tree = st.recursive(
        leaf,
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(keys), c, max_size=5),
        max_leaves=25,
    )
    return st.fixed_dictionaries({"kind": st.just(kind), "spec": tree}, optional={"metadata": tree})


def check_policy(text: str) -> None:
    result = load_policy(text, "fuzz.yaml")
    for line in result.errors + result.skipped:
        assert line.startswith("fuzz.yaml") and "\n" not in line


def check_profile(text: str) -> None:
    try:
        profiles = load_profile(text, "fuzz.yaml")
    except ProfileError as exc:
        assert str(exc).startswith("fuzz.yaml") and "\n" not in str(exc)
        return
    assert all(isinstance(p, Profile) for p in profiles)


@FUZZ
@given(st.text(max_size=400))
def test_policy_loader_survives_arbitrary_text(text: str) -> None:
    check_policy(text)


@FUZZ
@given(documents | shaped(POLICY_KEYS, "KubeArmorPolicy") | shaped(POLICY_KEYS, "KubeArmorHostPolicy"))
def test_policy_loader_survives_arbitrary_documents(doc: object) -> None:
    check_policy(yaml.safe_dump(doc))


@FUZZ
@given(st.text(max_size=400))
def test_profile_loader_survives_arbitrary_text(text: str) -> None:
    check_profile(text)


@FUZZ
@given(documents | shaped(PROFILE_KEYS, "ApplicationProfile") | shaped(PROFILE_KEYS, "ContainerProfile"))
def test_profile_loader_survives_arbitrary_documents(doc: object) -> None:
    check_profile(yaml.safe_dump(doc))


KUBEARMOR_KEYS = [
    "Timestamp",
    "UpdatedTime",
    "HostName",
    "Operation",
    "Resource",
    "Data",
    "Result",
    "Type",
    "PolicyName",
    "Severity",
    "HostPID",
    "PID",
    "PPID",
    "UID",
    "Labels",
    "Action",
    "Source",
]
kubearmor_values = (
    st.none()
    | st.integers()
    | st.text(max_size=30)
    | st.sampled_from(
        ["Process", "File", "Network", "Syscall", "Capabilities", "MatchedPolicy", "Passed", "Block"]
    )
)


@FUZZ
@given(
    st.lists(
        st.text(max_size=120)
        | st.dictionaries(st.sampled_from(KUBEARMOR_KEYS), kubearmor_values, max_size=12).map(
            lambda d: yaml.safe_dump(d, default_flow_style=True, width=1 << 20).replace("'", '"')
        ),
        max_size=8,
    )
)
def test_kubearmor_reader_survives_arbitrary_lines(lines: list[str]) -> None:
    report = ReadReport()
    records = list(read_records(lines, "fuzz.json", report))
    assert report.records == len(records)
    assert all(isinstance(r, Event | Alert) for r, _ in records)


decoder = Decoder()
header = st.tuples(
    st.integers(0, 2**64 - 1),  # ts
    st.integers(0, 2**64 - 1),  # cgroup
    *[st.integers(0, 2**32 - 1)] * 4,  # tgid tid uid gid
    st.integers(-(2**63), 2**63 - 1),  # retval
    st.integers(0, 12),  # kind
    st.integers(0, 600),  # syscall nr
    *[st.integers(0, 2**32 - 1)] * 4,  # flags repeat ns_tgid pad
    st.binary(min_size=16, max_size=16),  # comm
    *[st.integers(0, 2**64 - 1)] * 6,  # args
)


def check_decode(raw: bytes) -> None:
    try:
        event = decoder.decode(raw)
    except DecodeError:
        return
    assert isinstance(event, Event)


@FUZZ
@given(st.binary(max_size=600))
def test_decoder_survives_arbitrary_bytes(raw: bytes) -> None:
    check_decode(raw)


@FUZZ
@given(header, st.binary(max_size=300), st.binary(max_size=300), st.booleans())
def test_decoder_survives_well_framed_records_with_hostile_fields(
    fields: tuple, s1: bytes, s2: bytes, honest_lengths: bool
) -> None:
    lengths = (len(s1), len(s2)) if honest_lengths else (len(s2), len(s1) + 7)
    raw = HEADER.pack(*fields, *lengths) + s1 + s2
    assert len(raw) >= RECORD_FIXED
    check_decode(raw)


def test_header_layout_matches_the_strategy() -> None:
    assert HEADER.size == RECORD_FIXED == struct.calcsize("<QQIIIIqIIIIII16s6QII")

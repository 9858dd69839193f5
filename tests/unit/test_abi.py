"""The Python copy of the kernel ABI (events/abi.py) matches bpf/common.h and bpf/interest.h exactly."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import pytest

from beholder.events import abi

BPF = Path(__file__).resolve().parents[2] / "bpf"
COMMON_H = (BPF / "common.h").read_text() + (BPF / "interest.h").read_text()  # as the loader joins them
C_SIZES = {"u8": 1, "u32": 4, "s64": 8, "u64": 8}
STRUCT_CODES = {"u32": "I", "s64": "q", "u64": "Q"}


def c_enum(name: str) -> dict[str, int]:
    body = re.search(rf"enum {name}\s*\{{(.*?)\}};", COMMON_H, re.S)
    assert body, f"enum {name} not found in bpf/common.h"
    return {k: int(v) for k, v in re.findall(r"(\w+)\s*=\s*(\d+)", body.group(1))}


def c_define(name: str) -> int:
    found = re.search(rf"#define {name}\s+(\d+)", COMMON_H)
    assert found, f"#define {name} not found in bpf/common.h"
    return int(found.group(1))


def c_struct_fields(name: str) -> list[tuple[str, str, int]]:
    """(type, field, array length) of each member of `struct name`."""
    body = re.search(rf"struct {name}\s*\{{(.*?)\}};", COMMON_H, re.S)
    assert body, f"struct {name} not found in bpf/common.h"
    fields = []
    for ctype, field, count in re.findall(r"(\w+)\s+(\w+)(?:\[(\w+)\])?;", body.group(1)):
        if ctype == "char" and count and not count.isdigit():
            continue  # a variable-size buffer (`buf[BUF_SIZE]`): not part of the fixed layout
        length = (int(count) if count.isdigit() else c_define(count)) if count else 0
        fields.append((ctype, field, length))
    return fields


def c_size(ctype: str) -> int:
    if ctype in C_SIZES:
        return C_SIZES[ctype]
    return sum(C_SIZES[t] * (n or 1) for t, _, n in c_struct_fields(ctype.removeprefix("struct ")))


@pytest.mark.parametrize(
    ("c_name", "prefix", "py_enum"),
    [
        ("kind", "K_", abi.RecordKind),
        ("role", "R_", abi.Role),
        ("stat", "ST_", abi.Stat),
        ("cfg", "CFG_", abi.Cfg),
    ],
)
def test_enum_matches_common_h(c_name: str, prefix: str, py_enum: type) -> None:
    in_c = {k.removeprefix(prefix): v for k, v in c_enum(c_name).items() if not k.endswith("_MAX")}
    assert in_c == {m.name: m.value for m in py_enum}


def test_array_bounds_match_common_h() -> None:
    assert c_enum("stat")["ST_MAX"] == abi.STAT_MAX == len(abi.STAT_NAMES)
    assert c_enum("cfg")["CFG_MAX"] == abi.CFG_MAX
    assert c_define("SYSCALL_SLOTS") == abi.SYSCALL_SLOTS
    assert (c_define("F_TRUNCATED"), c_define("F_ARGV_TRUNCATED")) == (abi.F_TRUNCATED, abi.F_ARGV_TRUNCATED)
    assert (c_define("F_EVAL_ONLY"), c_define("F_UNCLASSIFIED")) == (abi.F_EVAL_ONLY, abi.F_UNCLASSIFIED)
    assert (c_define("INTEREST_SLOTS"), c_define("INTEREST_WORDS")) == (
        abi.INTEREST_SLOTS,
        abi.INTEREST_WORDS,
    )
    assert (c_define("PREFIXES"), c_define("PREFIX_WORDS")) == (abi.PREFIXES, abi.PREFIX_WORDS)


def test_record_header_matches_struct_hdr_and_record() -> None:
    codes = ["<"]
    for ctype, _field, length in c_struct_fields("hdr"):
        codes.append(f"{length}s" if ctype == "char" else STRUCT_CODES[ctype])
    for ctype, _field, length in c_struct_fields("record"):
        if ctype in STRUCT_CODES:  # args[6], len1, len2; `struct hdr h` and `buf` are not fixed fields
            codes.append(f"{length}{STRUCT_CODES[ctype]}" if length else STRUCT_CODES[ctype])
    assert "".join(codes) == abi.HEADER.format


def c_maps() -> dict[str, tuple[str, str, bool]]:
    """name -> (key type, value type, per CPU) of every map user space may open."""
    maps = {}
    for macro, name, value in re.findall(r"BPF_(PERCPU_ARRAY|ARRAY)\((\w+),\s*([\w ]+?),", COMMON_H):
        maps[name] = ("u32", value, macro == "PERCPU_ARRAY")
    for name, key, value in re.findall(r"BPF_HASH\((\w+),\s*([\w ]+?),\s*([\w ]+?),", COMMON_H):
        maps[name] = (key, value, False)
    lru = r'BPF_TABLE\("lru_hash",\s*([\w ]+?),\s*([\w ]+?),\s*(\w+),'
    for key, value, name in re.findall(lru, COMMON_H):
        maps[name] = (key, value, False)
    return maps


def test_map_layouts_match_common_h() -> None:
    in_c = c_maps()
    for name, (key, value, per_cpu) in abi.MAP_LAYOUTS.items():
        assert name in in_c, f"map {name} is not declared in bpf/common.h"
        c_key, c_value, c_per_cpu = in_c[name]
        assert (ctypes.sizeof(key), ctypes.sizeof(value), per_cpu) == (
            c_size(c_key),
            c_size(c_value),
            c_per_cpu,
        ), name
    assert re.search(rf"BPF_RINGBUF_OUTPUT\({abi.RING_BUFFER},", COMMON_H)


def test_drift_is_detected() -> None:
    """The parser really reads the header: a changed kind number no longer matches."""
    global COMMON_H
    original = COMMON_H
    COMMON_H = original.replace("K_CAP = 7", "K_CAP = 11")
    try:
        in_c = {k.removeprefix("K_"): v for k, v in c_enum("kind").items()}
        assert in_c != {m.name: m.value for m in abi.RecordKind}
    finally:
        COMMON_H = original

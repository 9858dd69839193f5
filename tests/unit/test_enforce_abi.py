"""The Python copy of kill mode's kernel ABI (events/enforce_abi.py) matches bpf/enforce.c."""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

from beholder.events import enforce_abi as abi

SOURCE = (Path(__file__).resolve().parents[2] / "bpf" / "enforce.c").read_text()
ENFORCE_C = re.sub(r"/\*.*?\*/", "", SOURCE, flags=re.S)  # comments may hold `word word;`
C_SIZES = {"u8": 1, "u32": 4, "u64": 8}


def c_struct_size(name: str) -> int:
    body = re.search(rf"struct {name}\s*\{{(.*?)\}};", ENFORCE_C, re.S)
    assert body, f"struct {name} not found in bpf/enforce.c"
    total = 0
    for ctype, _field, count in re.findall(r"(\w+)\s+(\w+)(?:\[(\w+)\])?;", body.group(1)):
        n = int(re.search(rf"#define {count}\s+(\d+)", ENFORCE_C).group(1)) if count else 1
        total += (1 if ctype == "char" else C_SIZES[ctype]) * n
    return total


def c_type_size(ctype: str) -> int:
    ctype = ctype.strip()
    if ctype.startswith("struct ns_id"):
        return 16
    return c_struct_size(ctype.removeprefix("struct ")) if ctype.startswith("struct") else C_SIZES[ctype]


def test_constants_match_enforce_c() -> None:
    assert int(re.search(r"#define ENF_PATH (\d+)", ENFORCE_C).group(1)) == abi.ENF_PATH
    assert "ENF_EXEC = 1, ENF_FILE = 2" in ENFORCE_C and (abi.CLASS_EXEC, abi.CLASS_FILE) == (1, 2)
    assert "ENF_DIR = 1, ENF_RECURSIVE = 2, ENF_READONLY = 4" in ENFORCE_C
    assert (abi.DIR, abi.RECURSIVE, abi.READ_ONLY) == (1, 2, 4)
    assert "ENF_ST_KILLED = 0, ENF_ST_UNREADABLE = 1, ENF_ST_MAX = 2" in ENFORCE_C
    assert abi.ENF_STAT_NAMES == ("killed", "unreadable")
    assert c_struct_size("enf_key") - 4 - abi.ENF_PATH == abi.KEY_HEAD  # after prefixlen, before path
    assert c_struct_size("enf_key") - 4 <= 256  # the kernel's LPM data limit


def test_map_layouts_match_enforce_c() -> None:
    declared = {}
    for name, key, value in re.findall(r"BPF_HASH\((\w+),\s*([\w ]+?),\s*([\w ]+?),", ENFORCE_C):
        declared[name] = (key, value, False)
    for macro, name, value in re.findall(r"BPF_(PERCPU_ARRAY|ARRAY)\((\w+),\s*([\w ]+?),", ENFORCE_C):
        declared[name] = ("u32", value, macro == "PERCPU_ARRAY")
    lpm = r'BPF_F_TABLE\("lpm_trie",\s*([\w ]+?),\s*([\w ]+?),\s*(\w+),'
    for key, value, name in re.findall(lpm, ENFORCE_C):
        declared[name] = (key, value, False)
    assert set(declared) - {"enforce_scratch"} == set(abi.ENFORCE_MAP_LAYOUTS)
    for name, (key, value, per_cpu) in abi.ENFORCE_MAP_LAYOUTS.items():
        c_key, c_value, c_per_cpu = declared[name]
        assert (ctypes.sizeof(key), ctypes.sizeof(value), per_cpu) == (
            c_type_size(c_key), c_type_size(c_value), c_per_cpu,
        ), name  # fmt: skip

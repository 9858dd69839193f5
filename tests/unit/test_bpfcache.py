"""The compile cache's key, store and relocation, without a kernel."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from beholder.sensors import bpfcache
from beholder.sensors.bpfcache import CacheStale, CompiledObject, MapSpec, ProgSpec, relocate


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def ld_map_fd(dst: int, fd: int, src: int = 1) -> bytes:
    """LD_IMM64 of a map fd: two slots, the second with opcode 0."""
    return insn(0x18, dst, src, 0, fd) + insn(0, 0, 0, 0, 0)


def header_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "headers"
    (tree / "include/generated").mkdir(parents=True)
    (tree / ".beholder-merged").write_text("common\narch\n")
    (tree / "include/generated/autoconf.h").write_text("#define CONFIG_X 1\n")
    return tree


def test_every_map_fd_load_points_at_the_new_map_and_nothing_else_changes() -> None:
    program = (
        ld_map_fd(1, 5)
        + insn(0xB7, 2, 0, 0, 5)  # mov r2, 5: an immediate that merely equals an old fd
        + ld_map_fd(1, 9, src=2)  # BPF_PSEUDO_MAP_VALUE also names its map by fd
        + insn(0x18, 3, 0, 0, 5)  # a plain 64-bit constant, not a map
        + insn(0, 0, 0, 0, 0)
        + insn(0x95)  # exit
    )
    out = relocate(program, {5: 42, 9: 43})
    slots = [struct.unpack_from("<BBhi", out, i) for i in range(0, len(out), 8)]
    assert slots[0] == (0x18, 0x11, 0, 42)
    assert slots[2][3] == 5
    assert slots[3] == (0x18, 0x21, 0, 43)
    assert slots[5][3] == 5
    assert out[48:] == program[48:]


def test_an_fd_no_recorded_map_owns_makes_the_cache_stale() -> None:
    with pytest.raises(CacheStale, match="loads fd 7"):
        relocate(ld_map_fd(1, 7) + insn(0x95), {5: 42})


def test_the_key_changes_with_source_cflags_and_header_tree(tmp_path: Path) -> None:
    tree = header_tree(tmp_path)
    base = bpfcache.cache_key("int x;", ["-DA"], tree)
    assert base == bpfcache.cache_key("int x;", ["-DA"], tree)
    assert base != bpfcache.cache_key("int y;", ["-DA"], tree)
    assert base != bpfcache.cache_key("int x;", ["-DB"], tree)
    (tree / "include/generated/autoconf.h").write_text("#define CONFIG_X 2 /* a rebuilt header package */\n")
    assert base != bpfcache.cache_key("int x;", ["-DA"], tree)


def sample() -> CompiledObject:
    return CompiledObject(
        "GPL",
        393664,
        (MapSpec("events", 3, 27, 0, 0, 4096 * 8, 0), MapSpec("exec_pending", 4, 1, 4, 64, 1024, 1)),
        (ProgSpec("tracepoint__sched__sched_process_exec", "sched:sched_process_exec", ld_map_fd(1, 3)),),
    )


def test_what_is_written_reads_back_the_same(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    bpfcache.write(directory, "k", sample())
    assert bpfcache.read(directory, "k") == sample()
    assert os.stat(directory).st_mode & 0o777 == 0o700
    assert os.stat(directory / "k.json").st_mode & 0o777 == 0o600
    assert [p.name for p in directory.iterdir()] == ["k.json"]  # no temporary file left behind


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: os.chmod(d / "k.json", 0o666), id="file writable by others"),
        pytest.param(lambda d: os.chmod(d, 0o777), id="directory writable by others"),
        pytest.param(lambda d: (d / "k.json").write_text("{not json"), id="not json"),
        pytest.param(lambda d: (d / "k.json").write_text('{"format": 0}'), id="older format"),
        pytest.param(lambda d: (d / "k.json").unlink(), id="absent"),
    ],
)
def test_a_cache_that_cannot_be_trusted_or_read_is_a_miss(tmp_path: Path, damage) -> None:
    directory = tmp_path / "cache"
    bpfcache.write(directory, "k", sample())
    damage(directory)
    assert bpfcache.read(directory, "k") is None


def test_only_the_most_recently_used_entries_are_kept(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    for i in range(bpfcache.KEEP + 3):
        bpfcache.write(directory, f"k{i}", sample())
        os.utime(directory / f"k{i}.json", ns=(i * 10**9, i * 10**9))
    assert bpfcache.read(directory, "k0") is None  # pruned by the writes after it
    assert bpfcache.read(directory, "k3") == sample()  # read: now the most recent
    bpfcache.write(directory, "new", sample())
    kept = {p.stem for p in directory.glob("*.json")}
    assert len(kept) == bpfcache.KEEP and {"k3", "new"} <= kept and "k4" not in kept

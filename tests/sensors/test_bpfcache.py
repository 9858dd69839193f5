"""The compile cache on the real kernel: a cold load fills it, a warm load runs the same
program without spawning the compiler child, and a cache that does not load any more falls
back to compiling."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from beholder.sensors import bpfcache, loader
from beholder.sensors.bpfmaps import BpfMap, RingBuffer, detach_tracepoint
from beholder.sensors.loader import LoadedProgram, load_program
from conftest import require
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel

SOURCE = r"""
BPF_RINGBUF_OUTPUT(out, 8);
BPF_ARRAY(armed, u64, 1);
BPF_HASH(calls, u32, u64, 64);          /* never asked for by the test: only the program holds it */

TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    int zero = 0;
    u64 *on = armed.lookup(&zero);
    if (!on || *on != 0xcac4e)
        return 0;
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 one = 1, *n = calls.lookup(&pid);
    if (n)
        *n += 1;
    else
        calls.update(&pid, &one);
    u64 record = ((u64)pid << 32) | (n ? *n : 1);
    out.ringbuf_output(&record, sizeof(record), 0);
    return 0;
}
"""
WANTED = ["out", "armed"]


@pytest.fixture
def kernel() -> None:
    ok, why = kernel_ready()
    require(ok, why)


@pytest.fixture
def spawns(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Records every compiler child the loader starts (and still starts it)."""
    seen: list[list[str]] = []
    real = loader._spawn

    def counting(args: list[str], request: dict[str, object]):
        seen.append(args)
        return real(args, request)

    monkeypatch.setattr(loader, "_spawn", counting)
    return seen


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "bpf-cache"


def release(program: LoadedProgram) -> None:
    """Detach and close everything (once: a second call finds nothing left)."""
    for fd in program.attachments.values():
        detach_tracepoint(fd)
    for info in program.maps.values():
        os.close(info.fd)
    program.attachments.clear()
    program.maps.clear()


def counts_from(program: LoadedProgram, calls: int) -> list[int]:
    """Arm the program, make `calls` getppid calls, return this process's per-call counts
    as the kernel reported them."""
    got: list[int] = []

    def on_record(_ctx: int, data: int, size: int) -> int:
        got.append(int.from_bytes(ctypes.string_at(data, size), "little"))
        return 0

    BpfMap("armed", program.maps["armed"].fd, ctypes.c_uint32, ctypes.c_uint64).set(0, 0xCAC4E)
    ring = RingBuffer(program.maps["out"].fd, on_record)
    try:
        for _ in range(calls):
            os.getppid()
        ring.poll(1000)
        ring.consume()
    finally:
        ring.close()
    return [record & 0xFFFFFFFF for record in got if record >> 32 == os.getpid()]


@pytest.fixture
def cold(kernel: None, cache_dir: Path, spawns: list[list[str]]) -> Iterator[LoadedProgram]:
    program = load_program(SOURCE, [], WANTED, cache_dir)
    yield program
    release(program)


def test_a_cold_load_compiles_once_and_fills_the_cache(
    cold: LoadedProgram, cache_dir: Path, spawns: list[list[str]]
) -> None:
    assert spawns == [["load"]]
    (entry,) = cache_dir.glob("*.json")
    cached = bpfcache.CompiledObject.from_json(entry.read_text())
    assert {m.name for m in cached.maps} == {"out", "armed", "calls"}
    assert [p.tracepoint for p in cached.programs] == ["syscalls:sys_enter_getppid"]


def test_a_warm_load_runs_the_same_program_without_the_compiler(
    cold: LoadedProgram, cache_dir: Path, spawns: list[list[str]]
) -> None:
    release(cold)  # only the cache remains
    warm = load_program(SOURCE, [], WANTED, cache_dir)
    try:
        assert spawns == [["load"]]  # the cold one only
        assert set(warm.maps) == set(WANTED)  # `calls` lives on, held by the program alone
        assert warm.maps["armed"] == loader.MapInfo(warm.maps["armed"].fd, 4, 8)
        assert list(warm.attachments) == ["syscalls:sys_enter_getppid"]
        assert counts_from(warm, 5) == [1, 2, 3, 4, 5]  # a fresh `calls` map, counting in the kernel
    finally:
        release(warm)


def test_a_cache_that_no_longer_loads_falls_back_to_compiling(
    cold: LoadedProgram, cache_dir: Path, spawns: list[list[str]]
) -> None:
    (entry,) = cache_dir.glob("*.json")
    cached = bpfcache.CompiledObject.from_json(entry.read_text())
    prog = cached.programs[0]
    broken = bpfcache.CompiledObject(
        cached.license,
        cached.kern_version,
        cached.maps,
        (bpfcache.ProgSpec(prog.name, prog.tracepoint, prog.insns[:-8]),),  # no exit: the verifier refuses
    )
    bpfcache.write(cache_dir, entry.stem, broken)
    program = load_program(SOURCE, [], WANTED, cache_dir)
    try:
        assert spawns == [["load"], ["load"]]
        assert counts_from(program, 3) == [1, 2, 3]
        assert bpfcache.read(cache_dir, entry.stem) == cached  # the compile wrote a good one back
    finally:
        release(program)


def test_no_cache_dir_compiles_every_time(kernel: None, spawns: list[list[str]]) -> None:
    for _ in range(2):
        release(load_program(SOURCE, [], WANTED, None))
    assert spawns == [["load"], ["load"]]

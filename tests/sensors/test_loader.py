"""The BPF program is compiled in a child; the agent keeps only map and attachment fds.

Real kernel: a small program with the map kinds the agent uses is loaded through the
child, then exercised from this process after the child has exited.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import pytest

from beholder.sensors.bpfmaps import BpfMap, RingBuffer, detach_tracepoint
from beholder.sensors.loader import LoadedProgram, LoadError, MapInfo, load_program
from beholder.sensors.program import Program, SensorError
from conftest import require
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel

SOURCE = r"""
BPF_RINGBUF_OUTPUT(out, 8);
BPF_ARRAY(settings, u64, 4);
BPF_PERCPU_ARRAY(hits, u64, 1);
BPF_HASH(seen_pids, u32, u64, 1024);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid)
{
    int zero = 0;
    u64 *armed = settings.lookup(&zero);
    if (!armed || *armed != 7)
        return 0;
    u64 *n = hits.lookup(&zero);
    if (n)
        *n += 1;
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    u64 one = 1;
    seen_pids.update(&pid, &one);
    out.ringbuf_output(&pid, sizeof(pid), 0);
    return 0;
}
"""


@pytest.fixture(scope="module")
def loaded() -> LoadedProgram:
    ok, why = kernel_ready()
    require(ok, why)
    return load_program(SOURCE, [], ["out", "settings", "hits", "seen_pids", "absent"])


def test_the_child_hands_over_maps_and_attachments(loaded: LoadedProgram) -> None:
    assert set(loaded.maps) == {"out", "settings", "hits", "seen_pids"}  # a missing map is skipped
    assert loaded.maps["settings"] == MapInfo(loaded.maps["settings"].fd, 4, 8)
    assert loaded.maps["hits"].value_size == 8  # one CPU's value, not the per-CPU array
    assert list(loaded.attachments) == ["syscalls:sys_enter_getppid"]


def test_the_program_runs_after_the_child_exited(loaded: LoadedProgram) -> None:
    settings = BpfMap("settings", loaded.maps["settings"].fd, ctypes.c_uint32, ctypes.c_uint64)
    hits = BpfMap("hits", loaded.maps["hits"].fd, ctypes.c_uint32, ctypes.c_uint64, per_cpu=True)
    pids = BpfMap("seen_pids", loaded.maps["seen_pids"].fd, ctypes.c_uint32, ctypes.c_uint64)
    records: list[int] = []

    def on_record(_ctx: int, data: int, size: int) -> int:
        records.append(int.from_bytes(ctypes.string_at(data, size), "little"))
        return 0

    ring = RingBuffer(loaded.maps["out"].fd, on_record)
    try:
        settings.set(0, 7)
        assert settings.get(0).value == 7
        for _ in range(5):
            os.getppid()
        ring.poll(1000)
        ring.consume()
        assert records.count(os.getpid()) >= 5
        assert sum(v.value for v in hits.per_cpu_values(0)) >= 5
        assert os.getpid() in {k.value for k, _v in pids.items()}
        assert pids.get(0xFFFFFFFF) is None
    finally:
        ring.close()


def test_closing_the_attachment_detaches_the_program(loaded: LoadedProgram) -> None:
    hits = BpfMap("hits", loaded.maps["hits"].fd, ctypes.c_uint32, ctypes.c_uint64, per_cpu=True)
    settings = BpfMap("settings", loaded.maps["settings"].fd, ctypes.c_uint32, ctypes.c_uint64)
    settings.set(0, 7)
    detach_tracepoint(loaded.attachments["syscalls:sys_enter_getppid"])
    before = sum(v.value for v in hits.per_cpu_values(0))
    for _ in range(5):
        os.getppid()
    assert sum(v.value for v in hits.per_cpu_values(0)) == before


def test_a_compile_error_is_one_line() -> None:
    ok, why = kernel_ready()
    require(ok, why)
    with pytest.raises(LoadError) as err:
        load_program("this is not C;", [], [])
    assert "\n" not in str(err.value) and str(err.value)


def test_a_layout_drift_between_c_and_python_is_refused() -> None:
    drift = LoadedProgram({"config": MapInfo(fd=-1, key_size=4, value_size=4)}, {})
    with pytest.raises(SensorError, match="BPF map config: compiled key/value sizes 4/4 differ"):
        Program._open_maps(drift)


def test_the_agent_process_never_maps_the_compiler() -> None:
    """Load every sensor as `beholder run` does and look at this process's own mappings."""
    ok, why = kernel_ready()
    require(ok, why)
    script = (
        "import json, sys\n"
        "from beholder.sensors.program import Program, ProgramOptions\n"
        "from beholder.sensors.reader import RingReader\n"
        "program = Program(ProgramOptions(syscall_counts=True))\n"
        "reader = RingReader(program)\n"
        "reader.poll(100)\n"
        "maps = open('/proc/self/maps').read()\n"
        "rss = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS'))\n"
        "print(json.dumps({'llvm': 'libLLVM' in maps or 'libclang' in maps, 'bcc': 'bcc' in sys.modules,"
        " 'rss_kib': rss, 'sensors': [s.name for s in program.sensors]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["sensors"] == ["process", "file", "network", "syscall", "capability"]
    assert report["llvm"] is False and report["bcc"] is False
    # interpreter + decoder + the ring buffer's pages once touched; the compiler alone was ~160 MiB
    assert report["rss_kib"] < 80 * 1024, report

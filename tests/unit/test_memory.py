"""Memory tuning for the agent: glibc malloc (never over the operator's MALLOC_* choice) and the GC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from beholder.memory import SETTINGS, Trimmer

SCRIPT = "import json; from beholder.memory import tune_malloc; print(json.dumps(tune_malloc()))"


def applied(extra_env: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | extra_env
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not os.path.exists("/lib/x86_64-linux-gnu/libc.so.6"), reason="glibc only")
def test_both_settings_apply_unless_the_operator_set_one() -> None:
    assert applied({}) == list(SETTINGS)
    assert applied({"MALLOC_ARENA_MAX": "8"}) == ["MALLOC_MMAP_THRESHOLD_"]
    assert applied({"MALLOC_ARENA_MAX": "8", "MALLOC_MMAP_THRESHOLD_": "65536"}) == []


GC_SCRIPT = """
import gc, json, sys
sys.path.insert(0, "tests")
from unit.test_decoder import record
from beholder.events.abi import RecordKind
from beholder.events.decoding import SYSCALL_NUMBERS
from beholder.memory import tune_gc
from beholder.sensors.reader import BatchDecoder
if sys.argv[1] == "tuned":
    tune_gc()
openat = SYSCALL_NUMBERS["openat"]
raw = [record(RecordKind.FILE, openat, -2, (0,) * 6, b"/tmp/f%d\\0" % i) for i in range(4096)]
decoder = BatchDecoder()
gc.collect()
runs = []
gc.callbacks.append(lambda phase, info: runs.append(info["generation"]) if phase == "start" else None)
for _ in range(5):
    events = decoder.decode_batch(raw)
    del events
print(json.dumps(runs))
"""


def collections_while_decoding(mode: str) -> list[int]:
    """The GC generations collected while five batches of 4,096 records are decoded and freed."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", GC_SCRIPT, mode], capture_output=True, text=True, check=True, cwd=root
    )
    return json.loads(out.stdout)


def test_tuned_gc_leaves_batches_of_events_to_reference_counting() -> None:
    """With CPython's defaults every batch costs collections; tuned, a batch's events are
    freed by reference counting and the collector does not run at all."""
    assert len(collections_while_decoding("default")) >= 5
    assert collections_while_decoding("tuned") == []


def test_the_trimmer_runs_once_per_interval() -> None:
    calls: list[int] = []
    trimmer = Trimmer(interval_s=1.0)
    trimmer._trim = calls.append  # glibc's malloc_trim, observed
    assert [trimmer(t) for t in (10.0, 10.5, 10.99, 11.0, 11.2)] == [True, False, False, True, False]
    assert calls == [0, 0]


@pytest.mark.skipif(not os.path.exists("/lib/x86_64-linux-gnu/libc.so.6"), reason="glibc only")
def test_trimming_gives_freed_heap_pages_back() -> None:
    """Chunks freed below the heap's top stay resident until trimmed (the agent's case: a
    batch's allocations freed while newer ones sit above them)."""
    script = """
import ctypes, json
from beholder.memory import Trimmer
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
malloc, free = ctypes.CDLL(None).malloc, ctypes.CDLL(None).free
malloc.restype = ctypes.c_void_p
free.argtypes = [ctypes.c_void_p]
chunks = [malloc(64 << 10) for _ in range(800)]  # 50 MiB under the 128 KiB mmap threshold
for chunk in chunks:
    ctypes.memset(chunk, 1, 64 << 10)
keep = malloc(64 << 10)  # above them: the heap's top cannot shrink past it
for chunk in chunks:
    free(chunk)
before = rss()
Trimmer()(0.0)
print(json.dumps([before, rss()]))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | {"MALLOC_TOP_PAD_": "0"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    before, after = json.loads(out.stdout)
    assert before - after > 40 << 10  # KiB: most of the 50 MiB freed

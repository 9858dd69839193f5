"""Memory tuning for the agent: glibc malloc (never over the operator's MALLOC_* choice) and the GC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from beholder.memory import SETTINGS

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

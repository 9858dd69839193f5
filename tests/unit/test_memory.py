"""glibc malloc tuning for the agent: applied by default, never over the operator's MALLOC_* choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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

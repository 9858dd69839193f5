"""Shared test facts: where the project and the read-only reference data live."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
SEEDS = SHARED / "seeds"
IN_CI = os.environ.get("CI") == "true"
# The agents the tests start hook the raw_syscalls pair: stopping an agent that hooked each
# syscall on its own tracepoint (the default) takes ~5 s, the kernel waiting for RCU once per
# detached tracepoint, and the suite starts hundreds. The default is exercised where it is
# the subject: tests/sensors (in-process), tests/e2e/test_syscall_hooks.py, the kill-mode tests.
os.environ.setdefault("BEHOLDER_RUN_SYSCALL_HOOKS", "raw")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/support importable as `support`


def require(condition: bool, reason: str) -> None:
    """Skip on a developer machine that lacks a feature; under CI=true that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    require(REFERENCE.is_dir(), f"{REFERENCE} missing")
    return REFERENCE


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    require(SEEDS.is_dir(), f"{SEEDS} missing")
    return SEEDS

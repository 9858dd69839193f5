"""A small tmpfs mounted for one test: how a full filesystem looks to the agent."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import require


@contextmanager
def small_tmpfs(parent: Path, size: str = "64k") -> Iterator[Path]:
    """Mount a `size` tmpfs at parent/small for the block; needs root (skip, or fail under CI=true)."""
    require(os.geteuid() == 0, "mounting a tmpfs needs root")
    small = parent / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(small)], check=True)
    try:
        yield small
    finally:
        subprocess.run(["umount", "--lazy", str(small)], check=True)

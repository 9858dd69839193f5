"""`profile learn NAME -- CMD` without --container learns CMD alone, in a cgroup of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from beholder.bob.profile import load_file
from conftest import require
from support.kernel import kernel_ready

pytestmark = pytest.mark.kernel


def test_learning_a_command_records_that_command_and_nothing_else(tmp_path: Path) -> None:
    ok, why = kernel_ready()
    require(ok, why)
    out = tmp_path / "solo.yaml"
    script = "cat /etc/hostname >/dev/null; ls / >/dev/null"
    argv = [sys.executable, "-m", "beholder.cli", "profile", "learn", "solo", "-o", str(out), "--"]
    result = subprocess.run([*argv, "/bin/sh", "-c", script], capture_output=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    (profile,) = load_file(out)
    (c,) = profile.containers
    names = {Path(e.path).name for e in c.execs}
    assert {"sh", "cat", "ls"} <= names <= {"sh", "dash", "bash", "cat", "ls"}, names
    assert "/etc/hostname" in {o.path for o in c.opens}
    assert {"execve", "openat"} <= c.syscalls  # counted in the kernel for its cgroup alone


def test_without_a_cgroup_v2_hierarchy_the_command_is_refused_in_one_line(tmp_path: Path) -> None:
    from beholder.bob.command_cgroup import CgroupError, CommandCgroup

    with pytest.raises(CgroupError, match="no cgroup v2 hierarchy is mounted"):
        CommandCgroup(roots=(str(tmp_path),))

"""A cgroup of its own for the command `profile learn NAME -- CMD` profiles.

Without one, a command run on the host is no container and the learner would take every
other container's behaviour for it. Its cgroup v2 directory is named like a container's
(`beholder-learn/<64-hex id>`), so the agent attributes its events, and the kernel counts
its syscalls, as one container of that id; the kernel traces that cgroup alone
(`--cgroup-id`). The command is moved in before it execs, so nothing it does escapes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from beholder.enrich.containers import CGROUP2_ROOTS

PARENT = "beholder-learn"


class CgroupError(RuntimeError):
    """No cgroup could be made for the command (one line: why)."""


class CommandCgroup:
    """The command's cgroup: `add` its process before it execs, `remove` once it is done."""

    def __init__(self, roots: tuple[str, ...] = CGROUP2_ROOTS) -> None:
        root = next((Path(r) for r in roots if Path(r, "cgroup.procs").exists()), None)
        if root is None:
            raise CgroupError("no cgroup v2 hierarchy is mounted")
        self.container_id = secrets.token_hex(32)
        self.path = root / PARENT / self.container_id
        try:
            self.path.mkdir(parents=True)
        except OSError as exc:
            raise CgroupError(f"cannot create {self.path}: {exc.strerror or exc}") from None
        self.cgroup_id = self.path.stat().st_ino

    def add(self, pid: int) -> None:
        try:
            (self.path / "cgroup.procs").write_text(f"{pid}\n")
        except OSError as exc:
            self.remove()
            raise CgroupError(f"cannot move pid {pid} into {self.path}: {exc.strerror or exc}") from None

    def remove(self) -> None:
        """Remove the directory (and the shared parent when it empties); a process the
        command left running keeps it, which is harmless."""
        for directory in (self.path, self.path.parent):
            try:
                os.rmdir(directory)
            except OSError:
                return

"""Which privileges this process has, so `run` can refuse in one line instead of a traceback.

Loading tracepoint programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, which implies
both); the agent also reads other users' /proc entries and the root-only tracefs. The
DaemonSet runs as uid 0 with exactly the capabilities listed in `NEEDED`.
"""

from __future__ import annotations

import os
from pathlib import Path

from beholder.events.decoding import CAPABILITIES

NEEDED = ("BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE", "DAC_READ_SEARCH")
_IMPLIED_BY_SYS_ADMIN = ("BPF", "PERFMON")


def effective_capabilities(status: Path = Path("/proc/self/status")) -> set[str]:
    """Names (without CAP_) of the effective capabilities, from /proc's CapEff mask."""
    for line in status.read_text().splitlines():
        if line.startswith("CapEff:"):
            mask = int(line.split()[1], 16)
            return {name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1}
    return set()


def missing_for_run(euid: int | None = None, caps: set[str] | None = None) -> str | None:
    """None when the agent can run; else one line saying which privileges it needs."""
    euid = os.geteuid() if euid is None else euid
    caps = effective_capabilities() if caps is None else caps
    held = caps | (set(_IMPLIED_BY_SYS_ADMIN) if "SYS_ADMIN" in caps else set())
    missing = [f"CAP_{name}" for name in NEEDED if name not in held]
    if euid == 0 and not any(m in ("CAP_BPF", "CAP_PERFMON") for m in missing):
        return None
    if euid != 0 and not missing:
        return None
    need = ", ".join(f"CAP_{n}" for n in NEEDED)
    return f"beholder run needs root (or {need}); running as uid {euid}, missing {', '.join(missing)}"

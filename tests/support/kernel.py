"""Whether this machine can run the real-kernel tests."""

from __future__ import annotations

import os
from pathlib import Path


def kernel_ready() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "needs root"
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return False, "kernel has no BTF"
    try:
        import bcc  # noqa: F401
    except ImportError:
        return False, "bcc's Python module is missing (python3-bpfcc)"
    return True, ""

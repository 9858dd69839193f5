"""The soak's memory breakdown adds up to the process's RSS and sorts mappings by component."""

from __future__ import annotations

import os
from pathlib import Path

from reliability.harness import OTHER_COMPONENT, component, memory_breakdown


def test_components_of_mappings() -> None:
    assert component("anon_inode:bpf-map") == "ring buffer and BPF maps"
    assert component("/usr/lib/x86_64-linux-gnu/libbcc.so.0.26.0") == "libbcc/LLVM"
    assert component("/venv/site-packages/grpc/_cython/cygrpc.cpython-311-x86_64-linux-gnu.so") == "grpcio"
    assert component("") == component("[heap]") == "Python heap (anonymous)"
    assert component("/usr/bin/python3.11") == component("[stack]") == OTHER_COMPONENT


def test_the_breakdown_adds_up_to_rss() -> None:
    breakdown = memory_breakdown(os.getpid())
    status = Path("/proc/self/status").read_text()
    rss_mib = int(status.split("VmRSS:")[1].split()[0]) / 1024
    parts = sum(v for k, v in breakdown.items() if k != "total")
    assert abs(parts - breakdown["total"]) < 0.5
    assert abs(breakdown["total"] - rss_mib) < 2  # the two reads are a moment apart
    assert breakdown["Python heap (anonymous)"] > 1

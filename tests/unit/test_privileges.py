"""`run` refuses without the privileges it needs; `probe` says "unknown" where it could not look."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from beholder.privileges import NEEDED, effective_capabilities, missing_for_run
from beholder.sensors import kernel
from support.agent_process import BEHOLDER

ALL = set(NEEDED)


@pytest.mark.parametrize(
    ("euid", "caps", "missing"),
    [
        (0, ALL, None),
        (0, {"SYS_ADMIN", "SYS_RESOURCE"}, None),  # SYS_ADMIN covers BPF and PERFMON
        (0, ALL - {"SYS_PTRACE"}, None),  # uid 0: only the BPF pair is a must
        (0, ALL - {"BPF"}, "missing CAP_BPF"),
        (1000, ALL, None),
        (1000, set(), "running as uid 1000, missing CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE"),
        (1000, ALL - {"DAC_READ_SEARCH"}, "missing CAP_DAC_READ_SEARCH"),
    ],
    ids=[
        "root",
        "root_sys_admin",
        "root_without_ptrace",
        "root_without_bpf",
        "caps_only",
        "user",
        "user_most",
    ],
)
def test_run_privilege_check(euid: int, caps: set[str], missing: str | None) -> None:
    why = missing_for_run(euid, caps)
    if missing is None:
        assert why is None
    else:
        assert why is not None and why.startswith("beholder run needs root (or CAP_BPF, CAP_PERFMON")
        assert missing in why


def test_effective_capabilities_read_from_the_capeff_mask(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000000c000200000\n")
    assert effective_capabilities(status) == {"SYS_ADMIN", "PERFMON", "BPF"}


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *BEHOLDER, *args], capture_output=True, text=True, timeout=120
    )


def test_probe_as_a_user_reports_root_no_and_unknowns() -> None:
    proc = _as_nobody("probe", "--json")
    assert proc.returncode == 0, proc.stderr
    features = json.loads(proc.stdout)["features"]
    assert features["root"]["available"] is False
    assert features["tracefs"] == {"available": None, "detail": "tracefs is not readable without root"}
    assert features["bpf-lsm"]["available"] is None and features["kprobe"]["available"] is None
    text = _as_nobody("probe").stdout
    assert "  tracefs                  unknown  tracefs is not readable without root" in text


def test_run_as_a_user_says_which_privileges_it_needs_in_one_line() -> None:
    proc = _as_nobody("run", "--duration", "1")
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("Error: beholder run needs root (or CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE")


def test_bpf_lsm_is_tried_without_securityfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable LSM list leaves the list unknown; the attach itself still answers."""
    monkeypatch.setattr(kernel, "LSM_PATH", tmp_path / "security" / "lsm")
    monkeypatch.setattr(kernel, "_attach_check", lambda kind: kernel.Feature(kind, False, "refused"))
    monkeypatch.setattr(kernel.os, "geteuid", lambda: 0)
    features = {f.name: f for f in kernel.probe_features(try_attach=True)}
    assert features["lsm-list"].available is None and features["bpf-lsm"].available is False
    assert (
        features["bpf-lsm"].detail.startswith("refused (")
        and "securityfs not mounted" in features["bpf-lsm"].detail
    )

"""YAML bombs, 100 MB files and deeply nested documents: one clear line, fast, bounded memory.

Each loader runs as its own CLI subprocess so its peak RSS is the kernel's figure for
that process alone; the bound is the same command's peak on a tiny valid file plus a
fixed allowance, so the check does not depend on the machine's Python build.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reliability.peak import Outcome, run_measured

BEHOLDER = [sys.executable, "-m", "beholder.cli"]
ALLOWANCE_MIB = 48  # what a rejected input may cost above the loader's baseline
HUGE = 100 << 20

VALID_POLICY = """apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata: {name: ok}
spec:
  nodeSelector: {matchLabels: {kubernetes.io/hostname: node-1}}
  process: {matchPaths: [{path: /bin/true}]}
  action: Audit
"""
VALID_PROFILE = """apiVersion: spdx.softwarecomposition.kubescape.io/v1beta1
kind: ApplicationProfile
metadata: {name: ok, namespace: default}
spec:
  containers: [{name: c, execs: [{path: /bin/true}]}]
"""
VALID_KUBEARMOR = '{"Timestamp": 1, "HostName": "h", "Operation": "Process", "Resource": "/bin/true"}\n'


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def write_huge(path: Path, line: bytes) -> None:
    with path.open("wb") as fh:
        chunk = line * (8 << 20 // len(line) or 1)
        while fh.tell() < HUGE:
            fh.write(chunk)


def huge_yaml(path: Path) -> None:
    write_huge(path, b"- /bin/true\n")


def huge_json_line(path: Path) -> None:
    with path.open("wb") as fh:
        fh.write(b'{"Resource": "')
        block = b"x" * (8 << 20)
        while fh.tell() < HUGE:
            fh.write(block)
        fh.write(b'"}\n')


def huge_json_records(path: Path) -> None:
    write_huge(path, VALID_KUBEARMOR.encode())


COMMANDS: dict[str, list[str]] = {
    "policy": [*BEHOLDER, "policy", "check", "-q"],
    "profile": [*BEHOLDER, "profile", "diff"],
    "kubearmor": [*BEHOLDER, "logs", "--logFilter", "all", "--limit", "1", "--json", "--file"],
}
VALID = {"policy": VALID_POLICY, "profile": VALID_PROFILE, "kubearmor": VALID_KUBEARMOR}


def run_loader(loader: str, path: Path) -> Outcome:
    args = [*COMMANDS[loader], str(path)]
    if loader == "profile":
        args.append(str(path))
    return run_measured(args, timeout_s=120)


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    root = tmp_path_factory.mktemp("valid")
    peaks = {}
    for loader, text in VALID.items():
        path = root / f"valid-{loader}.{'json' if loader == 'kubearmor' else 'yaml'}"
        path.write_text(text)
        outcome = run_loader(loader, path)
        assert outcome.returncode == 0, outcome.stderr
        peaks[loader] = outcome.peak_rss_mib
    return peaks


Writer = Callable[[Path], None]
CASES: list[tuple[str, str, Writer]] = [
    ("policy", "yaml-bomb", lambda p: p.write_text(billion_laughs())),
    ("policy", "100MB", huge_yaml),
    ("policy", "nested", lambda p: p.write_text("[" * 200_000 + "]" * 200_000)),
    ("profile", "yaml-bomb", lambda p: p.write_text(billion_laughs())),
    ("profile", "100MB", huge_yaml),
    ("profile", "nested", lambda p: p.write_text("{a: " * 100_000 + "1" + "}" * 100_000)),
    ("kubearmor", "100MB-one-line", huge_json_line),
    ("kubearmor", "100MB-of-records", huge_json_records),
    ("kubearmor", "nested", lambda p: p.write_text('{"a":' * 200_000 + "1" + "}" * 200_000 + "\n")),
]


_ids = [f"{loader}-{shape}" for loader, shape, _ in CASES]


@pytest.mark.parametrize(("loader", "shape", "write"), CASES, ids=_ids)
def test_hostile_file_is_rejected_with_one_line_and_bounded_memory(
    tmp_path: Path, baselines: dict[str, float], loader: str, shape: str, write: Writer
) -> None:
    path = tmp_path / f"hostile-{shape}.{'json' if loader == 'kubearmor' else 'yaml'}"
    write(path)
    outcome = run_loader(loader, path)
    print(f"{loader} {shape}: peak {outcome.peak_rss_mib:.0f} MiB (baseline {baselines[loader]:.0f} MiB)")
    assert not outcome.timed_out
    assert "Traceback" not in outcome.stderr
    if shape != "100MB-of-records":  # a huge file of good records is simply read
        assert str(path) in outcome.stderr + outcome.stdout
    assert outcome.peak_rss_mib <= baselines[loader] + ALLOWANCE_MIB, (
        f"{loader} {shape}: peak {outcome.peak_rss_mib:.0f} MiB, baseline {baselines[loader]:.0f} MiB"
    )

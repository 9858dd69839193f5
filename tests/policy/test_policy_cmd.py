"""`beholder policy check`: explains valid policies, fails on invalid ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from beholder.cli.main import cli

VALID = """apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {name: web-allow, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  process:
    matchPaths:
    - {path: /usr/bin/python3, fromSource: [{path: /bin/sh}]}
  file:
    matchDirectories:
    - {dir: /srv/, recursive: true, readOnly: true}
  action: Allow
"""
RAW_APPARMOR = """apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {name: raw}
spec: {apparmor: "deny /etc/** rw,"}
"""
INVALID = VALID.replace("name: web-allow", "name: broken").replace("dir: /srv/", "dir: srv/")
NETWORK = """apiVersion: security.kubearmor.com/v1
kind: KubeArmorNetworkPolicy
metadata: {name: net}
spec: {selector: {matchLabels: {app: web}}}
"""


def _run(tmp_path: Path, *flags: str, **files: str) -> tuple[int, str, str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    result = CliRunner().invoke(cli, ["policy", "check", *flags, str(tmp_path)])
    return result.exit_code, result.stdout, result.stderr


def test_valid_policy_is_explained_rule_by_rule(tmp_path: Path) -> None:
    code, out, err = _run(tmp_path, valid=VALID)
    assert code == 0
    assert "KubeArmorPolicy web-allow: applies to containers with namespace shop, app=web" in out
    assert "allow-list for File, Process: anything else hits the default posture" in out
    assert "Allow: exec of /usr/bin/python3 from /bin/sh, severity 1 [spec.process.matchPaths[0]]" in out
    assert "Allow: access to files in /srv/ and below (read-only)" in out
    assert err.endswith("1 valid, 0 invalid\n")


@pytest.mark.parametrize(
    ("files", "code", "expected"),
    [
        (
            {"bad": INVALID},
            1,
            "error: {dir}/bad.yaml: KubeArmorPolicy 'shop/broken': spec.file.matchDirectories[0].dir",
        ),
        ({"raw": RAW_APPARMOR}, 0, "note: {dir}/raw.yaml: KubeArmorPolicy 'raw': spec.apparmor"),
        ({"good": VALID, "bad": INVALID}, 1, "1 valid, 1 invalid"),
        ({"empty": ""}, 1, "error: {dir}/empty.yaml: no KubeArmor policy in this file"),
        ({"comments": "# nothing yet\n---\n"}, 1, "error: {dir}/comments.yaml: no KubeArmor policy"),
        (
            {"net": NETWORK},
            1,
            "error: {dir}/net.yaml: KubeArmorNetworkPolicy 'net': kind KubeArmorNetworkPolicy is not",
        ),
    ],
    ids=[
        "invalid fails",
        "unevaluated parts are notes",
        "one bad file does not hide the good",
        "empty file fails",
        "comments only fails",
        "unevaluated kind fails",
    ],
)
def test_exit_code_reflects_invalid_policies(tmp_path: Path, files, code, expected) -> None:
    got_code, _, err = _run(tmp_path, **files)
    assert got_code == code
    assert expected.format(dir=tmp_path) in err


def test_allow_unevaluated_passes_an_unevaluated_kind_with_a_note(tmp_path: Path) -> None:
    code, _, err = _run(tmp_path, "--allow-unevaluated", net=NETWORK, good=VALID)
    assert code == 0
    assert f"note: {tmp_path}/net.yaml: KubeArmorNetworkPolicy 'net'" in err
    assert err.endswith("1 valid, 0 invalid\n")


def test_every_problem_is_listed_on_its_own_line(tmp_path: Path) -> None:
    broken = INVALID.replace("action: Allow", "action: Deny").replace("app: web", "app: [web]")
    code, _, err = _run(tmp_path, bad=broken)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 1 and len(errors) == 3
    prefix = f"error: {tmp_path}/bad.yaml: KubeArmorPolicy 'shop/broken': spec."
    assert all(line.startswith(prefix) for line in errors)
    assert "more)" not in err and err.endswith("0 valid, 1 invalid\n")


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["policy", "check", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "no such file or directory" in result.stderr

"""Paths and command lines chosen by a workload can never drive the user's terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from beholder.events.model import Action
from cli.builders import alert_on, exec_of, open_of
from cli.recordings import kubearmor_file

HOSTILE = [
    ("/tmp/\x1b[2J\x1b[31mclear-and-red", "\\e[2J\\e[31mclear-and-red", "\x1b[2J"),
    ("/tmp/c1-\x9b31mcsi", "\\x9b31mcsi", "\x9b"),
    ("/tmp/fake\rroot-prompt", "fake\\rroot-prompt", "\r"),
    ("/tmp/title\x1b]0;pwned\x07", "\\e]0;pwned\\x07", "\x1b]0;"),
    ("/tmp/[bold red]markup[/]", "[bold red]markup[/]", None),
    ("/tmp/rtl-\u202etxt.exe", "\\u202etxt.exe", "\u202e"),
]


@pytest.fixture(scope="module")
def hostile_recording(tmp_path_factory):
    # One directory each, so the summary shows every path whole instead of folding them.
    events = [
        open_of(path.replace("/tmp/", f"/tmp/d{i}/"), exe="/bin/sh\x1b[8m")
        for i, (path, _, _) in enumerate(HOSTILE)
    ]
    exe = exec_of("/tmp/\x1b[2Jevil", parent="/bin/\x1b]0;x\x07sh")
    return kubearmor_file(
        tmp_path_factory.mktemp("rec") / "hostile.json", [*events, exe], [alert_on(exe, Action.AUDIT)]
    )


def _beholder(*args: str, color: bool) -> str:
    env = (
        {**os.environ, "FORCE_COLOR": "1"}
        if color
        else {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    )
    command = [sys.executable, "-m", "beholder.cli", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("command", [("logs", "--logFilter", "all"), ("summary",)])
def test_control_characters_are_shown_escaped(hostile_recording, command, color):
    out = _beholder(*command, "--file", str(hostile_recording), color=color)
    for _path, shown, raw in HOSTILE:
        if command[0] == "logs" or "[bold" not in shown:
            assert shown in out
        if raw is not None:
            assert raw not in out
    assert "\\e[8m" in out and "\x1b[8m" not in out
    if not color:
        assert "\x1b" not in out


def test_json_output_escapes_control_characters(hostile_recording):
    out = _beholder("logs", "--logFilter", "all", "--json", "--file", str(hostile_recording), color=False)
    assert "\x1b" not in out and "\r" not in out.replace("\n", "")
    resources = [json.loads(line)["Resource"] for line in out.splitlines()]
    assert resources[0] == HOSTILE[0][0].replace("/tmp/", "/tmp/d0/")

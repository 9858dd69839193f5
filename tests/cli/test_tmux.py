"""`beholder logs` and `summary` rendered in a real terminal (tmux), read back with capture-pane."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cli.builders import T0, open_of
from cli.recordings import kubearmor_file
from conftest import require

FEEDER = Path(__file__).with_name("feeder.py")


class Tmux:
    """A private tmux server with one 200x50 pane."""

    def __init__(self, name: str) -> None:
        self.base = ["tmux", "-L", name, "-f", "/dev/null"]

    def run(self, command: str) -> None:
        env = {"TERM": "xterm-256color", "COLORTERM": "truecolor"}
        setenv = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        subprocess.run(
            [*self.base, "new-session", "-d", *setenv, "-x", "200", "-y", "50", command], check=True
        )

    def screen(self, escapes: bool = False) -> str:
        args = ["capture-pane", "-p", "-J", *(["-e"] if escapes else [])]
        return subprocess.run([*self.base, *args], capture_output=True, text=True, check=True).stdout

    def wait_for(self, done: Callable[[str], bool], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if done(screen) or time.monotonic() > deadline:
                return screen
            time.sleep(0.2)

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


@pytest.fixture
def agent(tmp_path):
    sock = tmp_path / "q.sock"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    feeder = subprocess.Popen(
        [sys.executable, str(FEEDER), str(sock)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert feeder.stdout.readline().strip() == "ready"
    yield sock
    feeder.kill()
    feeder.wait(timeout=10)


@pytest.fixture
def tmux(tmp_path):
    require(shutil.which("tmux") is not None, "tmux is not installed")
    term = Tmux(f"beholder-test-{os.getpid()}-{tmp_path.name}")
    yield term
    term.kill()


def _pages(screen: str) -> list[int]:
    return [int(n) for n in re.findall(r"/srv/app/page(\d+)\.html", screen)]


def _beholder(*args: str) -> str:
    return " ".join([sys.executable, "-m", "beholder.cli", *args])


def test_live_logs_render_in_a_terminal_with_escapes_shown_not_obeyed(agent, tmux):
    tmux.run(_beholder("logs", "--socket", str(agent), "--logFilter", "all"))
    screen = tmux.wait_for(lambda text: len(_pages(text)) >= 3)
    pages = _pages(screen)
    assert len(pages) >= 2 and pages == sorted(pages)  # records keep arriving, the screen is never cleared
    alerts = [line for line in screen.splitlines() if " ALERT " in line]
    assert alerts and all(
        "/tmp/\\e[2J\\e[31mowned" in line and "[block-cat Block]" in line for line in alerts
    )
    assert "dvwa/web-1/web" in screen
    coloured = tmux.screen(escapes=True)
    assert "\x1b[" in coloured  # rich coloured the live view on a TTY


def test_summary_renders_rounded_tables_in_a_terminal(agent, tmux):
    tmux.run(_beholder("summary", "--socket", str(agent)) + "; echo summary-done; sleep 60")
    screen = tmux.wait_for(lambda text: "summary-done" in text)  # the whole table, not its first line
    assert "Pod Name" in screen and "web-1" in screen and "Cluster Name" in screen
    assert "╭" in screen and "SRC PROCESS" in screen and "/srv/app/" in screen
    assert "Block" in screen and "\\e[2J" in screen


def test_replaying_a_large_recording_shows_a_progress_bar(tmp_path, tmux):
    big = kubearmor_file(
        tmp_path / "big.json", [open_of(f"/srv/d{i % 300}/f{i}", ts=T0 + i) for i in range(20_000)]
    )
    require(big.stat().st_size >= 8 << 20, "recording smaller than the progress threshold")
    tmux.run(_beholder("summary", "--file", str(big)) + " > /dev/null; echo finished; sleep 60")
    screen = tmux.wait_for(lambda text: "replaying" in text or "finished" in text, timeout=60)
    assert "replaying" in screen and " MB" in screen
    assert "finished" in tmux.wait_for(lambda text: "finished" in text, timeout=120)

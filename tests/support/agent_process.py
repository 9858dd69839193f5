"""Run `beholder run` as a real subprocess and read what it writes.

The agent excludes its own process tree in the kernel, so workloads must come from the
test process (the agent's parent) or its other children, never from the agent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

BEHOLDER = [sys.executable, "-m", "beholder.cli"]


class AgentProcess:
    def __init__(
        self,
        workdir: Path,
        extra_args: list[str] | None = None,
        outputs: tuple[str, ...] = ("json",),
        env: dict[str, str] | None = None,
    ) -> None:
        """`env` is added to this process's environment for the agent (e.g. OTEL_* settings)."""
        self.workdir = workdir
        self.env = {**os.environ, **env} if env else None
        self.paths = {name: workdir / f"events.{name}.jsonl" for name in outputs}
        self.events_path = self.paths[outputs[0]]
        self.stats_path = workdir / "stats.json"
        self.ready_path = workdir / "ready"
        self.stderr_path = workdir / "agent.stderr"
        output_args = [arg for name, path in self.paths.items() for arg in ("--output", f"{name}:{path}")]
        self.args = [
            *BEHOLDER,
            "run",
            *output_args,
            "--stats-file",
            str(self.stats_path),
            "--ready-file",
            str(self.ready_path),
            *(extra_args or []),
        ]
        if "--query-socket" not in self.args:  # agents of other tests (or a real one) may hold the default
            self.args += ["--query-socket", ""]
        self.proc: subprocess.Popen[bytes] | None = None
        self._open: dict[str, BinaryIO] = {}  # output -> the file read so far
        self._partial: dict[str, bytes] = dict.fromkeys(self.paths, b"")
        self.by_output: dict[str, list[dict[str, Any]]] = {name: [] for name in self.paths}
        self.records = self.by_output[outputs[0]]

    def start(self, timeout: float = 120) -> AgentProcess:
        stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=stderr, env=self.env)
        deadline = time.monotonic() + timeout
        while not self.ready_path.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited early: {self.stderr_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent not ready: {self.stderr_path.read_text()[-2000:]}")
            time.sleep(0.1)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def read_new(self, output: str | None = None) -> list[dict[str, Any]]:
        """Parse the complete lines written since the last read of that output.

        The file stays open: when the agent rotates it (a recording past 64 MiB on a busy
        host), the rest of the old file is read through the open descriptor, then the new one.
        """
        name = output or next(iter(self.paths))
        chunk = self._partial[name]
        while True:
            stream = self._open.get(name)
            if stream is None:
                try:
                    stream = self._open[name] = self.paths[name].open("rb")
                except FileNotFoundError:
                    break
            chunk += stream.read()
            try:
                rotated = os.stat(self.paths[name]).st_ino != os.fstat(stream.fileno()).st_ino
            except FileNotFoundError:
                rotated = False  # between the rename and the new file: read it next time
            if not rotated:
                break
            stream.close()
            del self._open[name]
        complete = chunk.rfind(b"\n") + 1
        self._partial[name] = chunk[complete:]
        fresh = [json.loads(line) for line in chunk[:complete].splitlines() if line.strip()]
        self.by_output[name].extend(fresh)
        return fresh

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15, output: str | None = None
    ) -> list[dict[str, Any]]:
        """All records of an output that satisfy `predicate`, waiting until at least one does."""
        name = output or next(iter(self.paths))
        deadline = time.monotonic() + timeout
        while True:
            self.read_new(name)
            found = [r for r in self.by_output[name] if predicate(r)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def stop(self, timeout: float = 30) -> dict[str, Any]:
        assert self.proc is not None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        for name in self.paths:
            self.read_new(name)
            if name in self._open:
                self._open.pop(name).close()
        return json.loads(self.stats_path.read_text()) if self.stats_path.exists() else {}

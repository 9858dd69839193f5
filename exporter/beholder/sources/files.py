"""Notice when policy or profile files change, and when SIGHUP asks for a reload.

Polling a signature (resolved path, inode, size, mtime of every visible file under the
given paths) every half second needs no inotify binding and sees what inotify on the
file itself would miss: a ConfigMap volume updates by swapping its `..data` symlink to a
new timestamped directory, which changes every file's resolved path at once. The reload
callback runs on this thread, never in a signal handler: SIGHUP only sets an event.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger("beholder.sources")

POLL_S = 0.5
Signature = frozenset[tuple[str, str, int, int, int]]


def signature(paths: Iterable[Path]) -> Signature:
    """What identifies the current content of these files and directories."""
    out: set[tuple[str, str, int, int, int]] = set()
    for root in paths:
        files = [root] if not root.is_dir() else sorted(_visible_files(root))
        for path in files:
            try:
                real = os.path.realpath(path)
                st = os.stat(real)
            except OSError:
                out.add((str(path), "", 0, 0, 0))  # missing counts too: its return is a change
                continue
            out.add((str(path), real, st.st_ino, st.st_size, st.st_mtime_ns))
    return frozenset(out)


def _visible_files(root: Path) -> Iterable[Path]:
    """Files below root, skipping hidden entries (a ConfigMap's `..data`, `..2024_…` copies)."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        yield from (Path(dirpath, f) for f in filenames if not f.startswith("."))


class FileWatcher:
    """Calls `reload(reason)` when the files change or `request()` is called (SIGHUP)."""

    def __init__(self, paths: list[Path], reload: Callable[[str], None], poll_s: float = POLL_S) -> None:
        self.paths = paths
        self.reloads = 0
        self._reload = reload
        self._poll_s = poll_s
        self._asked = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen = signature(paths)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="beholder-files", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._asked.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def request(self) -> None:
        """Reload now (async-signal-safe: only sets an event)."""
        self._asked.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            asked = self._asked.wait(self._poll_s)
            if self._stopping.is_set():
                break
            self._asked.clear()
            current = signature(self.paths)
            if asked or current != self._seen:
                self._seen = current
                self.reloads += 1
                try:
                    self._reload("SIGHUP" if asked else "files changed")
                except Exception:  # a reload bug must not end the watching
                    log.exception("reload failed")

"""Rotated generations of a recorded file: `path` (live), then `path.1.gz` … `path.<n>.gz`.

The policy of Tetragon's export file (size-rotated, gzip-compressed backups) and of
logrotate's `compress`: the live file stays plain JSON lines for `tail -f` and `jq`, and each
rotated generation is compressed in the background (zlib level 1, which shrinks these JSON
lines 25-35x at several hundred MB/s and releases the GIL while it works). So a small disk
budget keeps minutes of a busy host rather than seconds: the default keeps the live
64 MiB and ten compressed generations, several minutes at 5,000 events/s. `beholder logs
--file` and `summary --file` read every generation, oldest first (`generations`).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import threading
from pathlib import Path

log = logging.getLogger("beholder.output")

MAX_BYTES = 64 << 20  # the live file's size before it is rotated
GENERATIONS = 10  # rotated (compressed) generations kept besides the live file
KEPT = f"up to {MAX_BYTES >> 20} MiB live and {GENERATIONS} compressed generations"
GZIP_MAGIC = b"\x1f\x8b"


def generations(path: Path) -> list[Path]:
    """`path`'s recording, oldest first: its rotated generations (`path.N.gz`, or `path.N`
    while it is being compressed: the two hold the same lines, one is read), then `path`."""
    pattern = re.compile(re.escape(path.name) + r"\.(\d+)(\.gz)?")
    found: dict[int, Path] = {}
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return [path]
    for sibling in siblings:
        match = pattern.fullmatch(sibling.name)
        if match:
            number = int(match.group(1))
            if number not in found or not match.group(2):  # the plain one is complete
                found[number] = sibling
    return [found[n] for n in sorted(found, reverse=True)] + [path]


def shift(path: Path, backups: int) -> None:
    """`path.N[.gz]` -> `path.N+1[.gz]` up to `backups` (the oldest is replaced), then `path`
    -> `path.1`; with no backups `path` is removed."""
    if not backups:
        path.unlink(missing_ok=True)
        return
    for number in range(backups - 1, 0, -1):
        for suffix in ("", ".gz"):
            older = path.with_name(f"{path.name}.{number}{suffix}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{number + 1}{suffix}"))
    newest = path.with_name(f"{path.name}.1")
    path.replace(newest)
    path.with_name(f"{newest.name}.gz").unlink(missing_ok=True)  # a stale one would be read instead


class Compressor:
    """Compresses one rotated generation at a time on its own thread; `wait` before the names
    move again. A generation that cannot be compressed stays plain (and readable)."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self, plain: Path) -> None:
        self.wait()
        self._thread = threading.Thread(
            target=self._compress, args=(plain,), name="beholder-compress", daemon=True
        )
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @staticmethod
    def _compress(plain: Path) -> None:
        packed = plain.with_name(plain.name + ".gz")
        partial = plain.with_name(plain.name + ".gz.partial")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with (
                plain.open("rb") as src,
                os.fdopen(fd, "wb") as raw,
                gzip.GzipFile(filename=plain.name, mode="wb", compresslevel=1, fileobj=raw) as dst,
            ):
                shutil.copyfileobj(src, dst, 1 << 20)
            partial.replace(packed)
            plain.unlink()
        except OSError as exc:
            partial.unlink(missing_ok=True)
            log.warning("%s: left uncompressed: %s", plain, exc.strerror or exc)

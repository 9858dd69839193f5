"""Open an output path without harming what is already there.

A path that is (or will be) a regular file is the agent's to manage: created 0600 (an
existing one narrowed to 0600, it may have been created wider), appended to, rotated.
Anything else is someone else's node and is written as it is, never chmodded, renamed or
truncated: a character device (`/dev/null`), a FIFO, a unix socket (connected), and any
symlink such as `/dev/stdout`, whatever it points at.
"""

from __future__ import annotations

import io
import os
import socket
import stat
from pathlib import Path

from beholder.output.rotation import Compressor, shift


class OutputTarget:
    """An unbuffered binary stream to `path` (callers write whole batches); `managed` says
    whether the agent may chmod and rotate it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.managed = False
        self._socket: socket.socket | None = None
        self._compressor = Compressor()
        self.stream = self._open()

    def _open(self) -> io.RawIOBase:
        try:
            node = os.lstat(self.path)
        except FileNotFoundError:
            node = None
        if node is not None and stat.S_ISSOCK(node.st_mode):
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._socket.connect(str(self.path))
            return self._socket.makefile("wb", buffering=0)  # type: ignore[return-value]
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOCTTY
        fd = os.open(self.path, flags if node is not None else flags | os.O_CREAT, 0o600)
        self.managed = stat.S_ISREG(os.fstat(fd).st_mode) and (node is None or stat.S_ISREG(node.st_mode))
        if self.managed:
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "wb", buffering=0)  # type: ignore[return-value]

    @property
    def size(self) -> int:
        """Bytes in the file (0 for anything that is not a managed file)."""
        return os.fstat(self.stream.fileno()).st_size if self.managed else 0

    def write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # an unbuffered file or socket may take a large batch in pieces
            view = view[self.stream.write(view) or 0 :]

    def rotate(self, backups: int) -> None:
        """`path` -> `path.1` (compressed in the background to `path.1.gz`) -> … ->
        `path.<backups>.gz`, then a fresh `path`; managed files only (`output.rotation`)."""
        if not self.managed:
            return
        self.close()  # (and waits for the last generation's compression: the names move now)
        shift(self.path, backups)
        if backups:
            self._compressor.start(self.path.with_name(f"{self.path.name}.1"))
        self.stream = self._open()

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            if self._socket is not None:
                self._socket.close()
            self._compressor.wait()


def write_whole(path: str | os.PathLike[str], text: str) -> None:
    """Replace a regular file's content with `text` (a report such as `--stats-file`); any
    other node (device, FIFO, socket, `/dev/stdout`) just gets `text` written to it."""
    target = OutputTarget(path)
    try:
        if target.managed:
            target.stream.truncate(0)
        target.write_all(text.encode())
    finally:
        target.close()

"""A cgroup v2 id's path, found from the id itself.

A cgroup v2 id is the kernfs node id of the cgroup's directory, and kernfs accepts that id
as a file handle: `open_by_handle_at(<cgroup2 mount>, {type FILEID_KERNFS, id})` opens the
directory whose inode is the id, and its /proc/self/fd link names the path. One syscall,
no live process needed: a container whose processes have all exited (or that exec'd and
left before we looked) is still named by the cgroup its events carry. Needs
CAP_DAC_READ_SEARCH (root, or the DaemonSet's capabilities); without it `available` is
False and callers fall back to /proc/<pid>/cgroup.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

_FILEID_KERNFS = 0xFE


class _Handle(ctypes.Structure):
    _fields_ = [
        ("handle_bytes", ctypes.c_uint),
        ("handle_type", ctypes.c_int),
        ("f_handle", ctypes.c_ubyte * 8),
    ]


class CgroupPaths:
    """Maps cgroup ids to paths relative to the cgroup2 root (`/kubepods/…`)."""

    def __init__(self, roots: tuple[str, ...]) -> None:
        self.root = next((r for r in roots if os.path.exists(os.path.join(r, "cgroup.procs"))), "")
        self.error = "" if self.root else "no cgroup v2 hierarchy mounted"
        self._mount_fd = -1
        self._call = None
        if self.root:
            try:
                self._call = ctypes.CDLL(None, use_errno=True).open_by_handle_at
                self._mount_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except (AttributeError, OSError) as exc:
                self.error = f"open_by_handle_at unavailable: {exc}"

    @property
    def available(self) -> bool:
        return self._mount_fd >= 0 and not self.error

    def path(self, cgroup_id: int) -> str | None:
        """The cgroup's path, or None when it no longer exists (or cannot be looked up)."""
        if not self.available or self._call is None:
            return None
        handle = _Handle(8, _FILEID_KERNFS, (ctypes.c_ubyte * 8)(*struct.pack("<Q", cgroup_id)))
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
        fd = self._call(self._mount_fd, ctypes.byref(handle), flags)
        if fd < 0:
            code = ctypes.get_errno()
            if code in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                self.error = f"open_by_handle_at: {os.strerror(code)}"  # off for good: use /proc
            return None
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return None
        finally:
            os.close(fd)
        relative = target[len(self.root) :] if target.startswith(self.root) else target
        return relative or "/"

    def close(self) -> None:
        if self._mount_fd >= 0:
            os.close(self._mount_fd)
            self._mount_fd = -1


def cgroup_exists(cgroup_id: int, roots: tuple[str, ...]) -> bool:
    """A cgroup v2 directory has this id: by handle when the kernel allows, else by walking
    the hierarchy for the directory whose inode it is (ids are inode numbers)."""
    paths = CgroupPaths(roots)
    try:
        if paths.available:
            return paths.path(cgroup_id) is not None
    finally:
        paths.close()
    if not paths.root:
        return False
    return any(os.stat(top).st_ino == cgroup_id for top, _, _ in os.walk(paths.root))

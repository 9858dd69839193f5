"""Where each file call's facts sit in its record: one row per syscall of the file sensor, read
by the decoder (record → `FileAccess`) and by the renderers (which fd an `fd` argument is).

A record carries the six raw argument words and the path strings `bpf/file.c` copied: the
first is the path the call names, the second (rename, link) its new path. Tracing one more
file call is its C case (which strings to copy), its row here and its name in
`sensors/catalog.py`; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

NONE: Final = -1  # no such argument
# What a record's second string is.
NEW_PATH: Final = 0  # the destination (rename, link)
LINK: Final = 1  # the link created (symlink): the first string is then its target
IGNORED: Final = 2  # nothing the call names (open)


@dataclass(frozen=True, slots=True)
class FileCall:
    """Argument word numbers of one call's facts (`NONE` where it has none).

    `fd` is a directory fd the path is relative to (the *at() calls) or, with `own_fd`, the
    file's own descriptor (fchmod). `flags` is an open flags word (`fixed_flags` when the
    call implies one, as creat does); `mode` counts only when there are no flags or they
    create a file. `owner` is the uid word, the gid follows it.
    """

    fd: int = NONE
    own_fd: bool = False
    flags: int = NONE
    fixed_flags: int = NONE
    mode: int = NONE
    owner: int = NONE
    at_flags: int = NONE  # AT_* flags kept as they are (fchownat)
    remove_dir: int = NONE  # the word whose AT_REMOVEDIR bit says a directory goes (unlinkat)
    second: int = NEW_PATH


_PATH = FileCall()
_AT = FileCall(fd=0)
_OWN = FileCall(fd=0, own_fd=True)
_OPENAT = FileCall(fd=0, flags=2, mode=3, second=IGNORED)

FILE_CALLS: dict[str, FileCall] = {
    "open": FileCall(flags=1, mode=2, second=IGNORED),
    "openat": _OPENAT,
    "openat2": _OPENAT,  # bpf/file.c copies open_how's flags and mode to words 2 and 3
    "creat": FileCall(fixed_flags=0o1101, mode=1),  # O_CREAT|O_WRONLY|O_TRUNC
    "unlink": _PATH,
    "unlinkat": FileCall(fd=0, remove_dir=2),
    "rmdir": _PATH,
    "rename": _PATH,
    "renameat": _AT,
    "renameat2": _AT,
    "chmod": FileCall(mode=1),
    "fchmod": FileCall(fd=0, own_fd=True, mode=1),
    "fchmodat": FileCall(fd=0, mode=2),
    "fchmodat2": FileCall(fd=0, mode=2),
    "chown": FileCall(owner=1),
    "lchown": FileCall(owner=1),
    "fchown": FileCall(fd=0, own_fd=True, owner=1),
    "fchownat": FileCall(fd=0, owner=2, at_flags=4),
    "symlink": FileCall(second=LINK),
    "symlinkat": FileCall(second=LINK),
    "link": _PATH,
    "linkat": _AT,
    "chdir": _PATH,
    "fchdir": _OWN,
}
PATH_ONLY = _PATH  # a call without a row: the path it names

# Calls whose `fd` argument is a directory fd (KubeArmor prints it first) or the file's own (last).
AT_FD_CALLS = frozenset(name for name, call in FILE_CALLS.items() if call.fd != NONE and not call.own_fd)
SELF_FD_CALLS = frozenset(name for name, call in FILE_CALLS.items() if call.own_fd)

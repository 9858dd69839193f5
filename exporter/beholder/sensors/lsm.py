"""The BPF-LSM enforcer's programs (bpf/lsm.c): their source, and whether this kernel takes them.

They share kill mode's maps and matching (bpf/enforce.c) and answer -EPERM, as KubeArmor's
BPF-LSM enforcer does. Attaching them needs `bpf` among the active LSMs; `verify` loads
each through the kernel's verifier without attaching it, which is what a test can check
on any kernel that allows loading them.
"""

from __future__ import annotations

from beholder.sensors.loader import verify_lsm
from beholder.sensors.program import BPF_DIR, CFLAGS

HOOKS = ("bprm_check_security", "file_open", "socket_create")


# linux/fs.h declares `struct stat`; common.h's `enum stat` is renamed for this module only
_HEAD = "#include <linux/fs.h>\n#include <linux/binfmts.h>\n#define stat beholder_stat"


def lsm_source() -> str:
    """common.h + enforce.c (maps and matching) + lsm.c (the hooks)."""
    parts = [_HEAD, *((BPF_DIR / name).read_text() for name in ("common.h", "enforce.c", "lsm.c"))]
    return "\n".join(parts)


def verify() -> dict[str, str]:
    """Hook -> "verified", or the kernel's one-line refusal (nothing is attached)."""
    results = verify_lsm(lsm_source(), [*CFLAGS, "-DENFORCE_LSM"], [f"lsm__{hook}" for hook in HOOKS])
    return {name.removeprefix("lsm__"): why for name, why in results.items()}

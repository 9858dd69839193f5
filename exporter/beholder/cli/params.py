"""Click parameter types shared by commands."""

from __future__ import annotations

import click

from beholder.enrich.cgroup_path import cgroup_exists
from beholder.enrich.containers import CGROUP2_ROOTS

_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


class ByteSize(click.ParamType):
    """A byte count: `1048576`, `512KiB`, `64MiB`, `1GiB` (K/M/G with or without `iB`/`B`, binary)."""

    name = "bytes"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower().removesuffix("ib").removesuffix("b")
        scale = _UNITS.get(text[-1:], 1)
        number = text[:-1] if scale > 1 else text
        if not number.isdigit() or int(number) == 0:
            self.fail(f"{value!r} is not a positive size like 268435456, 512MiB or 1GiB", param, ctx)
        return int(number) * scale


def mib(n: int) -> str:
    """How a default byte count reads in --help."""
    return f"{n >> 20}MiB"


class CgroupId(click.ParamType):
    """A cgroup v2 id (`stat -c %i <cgroup dir>`) that names an existing cgroup: tracing a
    cgroup that does not exist would trace nothing, silently."""

    name = "cgroup-id"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        if not text.isdigit() or int(text) == 0:
            self.fail(f"{value!r} is not a cgroup id (the inode number of a cgroup v2 directory)", param, ctx)
        if not cgroup_exists(int(text), CGROUP2_ROOTS):
            self.fail(
                f"{text} names no cgroup: no directory under {' or '.join(CGROUP2_ROOTS)} has it", param, ctx
            )
        return int(text)

"""Click parameter types shared by commands."""

from __future__ import annotations

import click

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

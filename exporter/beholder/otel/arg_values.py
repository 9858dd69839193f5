"""Numeric syscall arguments between KubeArmor's `Data` text and OTLP ints.

The registry declares `beholder.syscall.arg.fd`, `.backlog`, `.flags`… as ints, while the
rendered arguments (`formats.arguments`) are KubeArmor's text: `-100`, `0x8000` for mount
flags, `AT_REMOVEDIR` for unlinkat. The encoder turns the text into the number here, and the
OTLP-file reader turns the number back into the text KubeArmor output expects.
"""

from __future__ import annotations

from beholder.events.decoding import AT_REMOVEDIR
from beholder.formats.arguments import HEX_FLAG_CALLS
from beholder.otel import semconv as sc

ARG_PREFIX = sc.BEHOLDER_SYSCALL_ARG + "."
# Arguments the registry declares as ints: numbers on the wire.
INT_ARGS = frozenset(
    name[len(ARG_PREFIX) :]
    for name, kind in sc.ATTRIBUTE_TYPES.items()
    if name.startswith(ARG_PREFIX) and kind == "int"
)


def arg_number(text: str) -> int | None:
    """A numeric argument's value from its `Data` text; None when the text is no number."""
    if text == "AT_REMOVEDIR":  # the one flag `Data` spells by name (unlinkat)
        return AT_REMOVEDIR
    try:
        return int(text, 0)
    except ValueError:
        return None


def arg_text(syscall: str, key: str, value: object) -> str:
    """An argument's `Data` text from its OTLP value (the inverse of `arg_number`)."""
    if key != "flags" or not isinstance(value, int):
        return str(value)
    if syscall == "unlinkat":
        return "AT_REMOVEDIR" if value & AT_REMOVEDIR else ""
    return hex(value) if syscall in HEX_FLAG_CALLS else str(value)

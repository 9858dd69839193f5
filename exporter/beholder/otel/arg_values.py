"""Numeric syscall arguments between KubeArmor's `Data` text and OTLP ints.

The registry declares `beholder.syscall.arg.fd`, `.backlog`, `.flags`… as ints, while the
rendered arguments (`formats.arguments`) are KubeArmor's text: `-100`, `0x8000` for mount
flags, `AT_REMOVEDIR` for unlinkat. The encoder turns the text into the number here; the
OTLP-file reader (`query.otlp_facts`) reads the numbers straight into facts.
"""

from __future__ import annotations

from beholder.events.decoding import AT_REMOVEDIR
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

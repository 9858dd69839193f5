"""Make untrusted text safe to show in a terminal.

File names and command lines are chosen by whoever runs the workload, attackers included.
Control characters (C0, DEL, C1 such as CSI) are shown as escapes so an escape sequence in
a path can never move the cursor, recolour the screen or rewrite what the user sees.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}
    return named.get(char, f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def safe(text: str) -> str:
    """`text` with every terminal-interpreted character replaced by a visible escape."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text

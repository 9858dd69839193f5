"""Terminal safety: escape sequences in paths are shown, never interpreted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beholder.formats.safe_text import safe

CASES = {
    "plain": ("/usr/bin/ls", "/usr/bin/ls"),
    "csi escape": ("/tmp/\x1b[2Jpwned", "/tmp/\\e[2Jpwned"),
    "newline": ("a\nb", "a\\nb"),
    "c1 csi": ("x\x9b31m", "x\\x9b31m"),
    "bidi override": ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
    "utf-8 kept": ("/tmp/naïve", "/tmp/naïve"),
}


@pytest.mark.parametrize("raw,shown", CASES.values(), ids=CASES.keys())
def test_control_characters_are_escaped(raw: str, shown: str) -> None:
    assert safe(raw) == shown


@given(st.text())
def test_output_has_no_control_characters(text: str) -> None:
    out = safe(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)

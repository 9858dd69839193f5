"""The README's "Why Beholder" table cites tests; every cited test file or directory exists."""

from __future__ import annotations

import re

from conftest import ROOT


def test_every_test_the_why_table_cites_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Why Beholder", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| coming")]
    assert len(rows) >= 5
    for row in rows:
        cited = re.findall(r"`(tests/[^`]+)`", row.rsplit("|", 2)[1])
        assert cited, f"a row without a test: {row}"
        missing = [path for path in cited if not (ROOT / path).exists()]
        assert not missing, f"cited but missing: {missing}"

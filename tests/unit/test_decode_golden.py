"""Every syscall the sensors decode renders byte for byte as it did when the decoder and the
OTLP encoder were made table-driven (facts, KubeArmor fields, OTLP attributes and their order).

A syscall added since has no recorded output and is checked by the other tests only.
Rewrite the recording, after a deliberate output change, with
`BEHOLDER_RECORD_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_decode_golden.py`.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from unit.decode_corpus import records, rendered

GOLDEN = Path(__file__).parent / "data" / "decode_golden.jsonl.gz"  # one {label: output} a line
CORPUS = dict(records())


def _recorded() -> dict[str, dict]:
    if os.environ.get("BEHOLDER_RECORD_GOLDEN") == "1":
        lines = (json.dumps({label: rendered(raw)}) for label, raw in CORPUS.items())
        GOLDEN.write_bytes(gzip.compress("\n".join(lines).encode(), mtime=0))
    lines = gzip.decompress(GOLDEN.read_bytes()).splitlines()
    return {label: output for line in lines for label, output in json.loads(line).items()}


RECORDED = _recorded()


@pytest.mark.parametrize("label", sorted(RECORDED))
def test_output_is_what_it_was(label: str) -> None:
    assert label in CORPUS, "a recorded case left the corpus: the catalogue lost a syscall?"
    assert rendered(CORPUS[label]) == RECORDED[label]


def test_the_recording_covers_most_of_the_corpus() -> None:
    assert len(set(CORPUS) & set(RECORDED)) > 0.9 * len(CORPUS)

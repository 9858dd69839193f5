"""Records/s decoding each sensor's syscalls: the corpus of `tests/unit/decode_corpus.py`
(every syscall the catalogue traces, over argument and address variants), per sensor.

Measures whichever build imports (mypyc after `make native`; `BEHOLDER_PURE_PYTHON=1` for
the sources). Compare two trees by running it in each, under the heavy lock, back to back.

    .venv/bin/python bench/bench_decode.py [--rounds 5] [--repeat 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from unit.decode_corpus import records

from beholder import native
from beholder.events.abi import HEADER
from beholder.events.abi import RecordKind as K
from beholder.sensors import decode as decode_module

_GROUPS = {"file": (K.FILE, K.CHDIR), "network": (K.NET, K.DNS, K.TCP_STATE), "syscall": (K.SYSCALL,)}
_KIND = 7  # the record kind's position in `HEADER`


def rate(raw: list[bytes], rounds: int) -> float:
    """Best records/s of `rounds` passes over `raw`."""
    decode = decode_module.Decoder().decode
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for r in raw:
            decode(r)
        best = max(best, len(raw) / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=200)
    opts = parser.parse_args()
    corpus = [raw for _, raw in records()]
    build = "mypyc" if native.compiled(decode_module) else "python"
    print(f"== decode, records/s (best of {opts.rounds}, {build}); load {os.getloadavg()[0]:.2f}")
    for name, group in _GROUPS.items():
        raw = [r for r in corpus if HEADER.unpack_from(r)[_KIND] in group] * opts.repeat
        print(f"   {name:8} {len(raw):>8,} records  {rate(raw, opts.rounds):>12,.0f}/s")


if __name__ == "__main__":
    main()

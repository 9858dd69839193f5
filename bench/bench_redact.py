"""Cost of redacting one exec's argv: typical argv against the kernel's 8 KiB of adversarial argv.

Each shape is redacted by `Redactor.redact_argv` (the finders of `beholder.redact_scan`) and
by `Redactor.reference_sub` (the one alternation of every pattern, which defines the result),
and both are printed as a ratio to a baseline measured here on the same text: one plain `re`
search for a character that never occurs, i.e. a single C pass over the bytes. Best of
`--rounds` timings, so other load on the machine inflates the figures less.

    .venv/bin/python bench/bench_redact.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import random
import re
import string
import time
from collections.abc import Callable

from beholder.redact import Redactor

KERNEL_ARGV_BYTES = 8192
_B64 = string.ascii_letters + string.digits + "+/"


def _fill(piece: Callable[[int], str]) -> tuple[str, ...]:
    """Arguments made by `piece(i)` until the joined argv reaches the kernel's 8 KiB."""
    args: list[str] = []
    while sum(len(a) + 1 for a in args) < KERNEL_ARGV_BYTES:
        args.append(piece(len(args)))
    joined = "\0".join(args)[:KERNEL_ARGV_BYTES]
    return tuple(joined.split("\0"))


def shapes() -> dict[str, tuple[str, ...]]:
    rnd = random.Random(7)
    return {
        "typical: pip install": ("/usr/bin/python3", "-m", "pip", "install", "--user", "requests==2.31.0"),
        "typical: psql with a password": ("psql", "-h", "db", "-U", "app", "--password=hunter2", "shop"),
        "8 KiB plain words": _fill(lambda i: f"word{i}"),
        "8 KiB one base64 run": ("x", "".join(rnd.choice(_B64) for _ in range(KERNEL_ARGV_BYTES - 2))),
        "8 KiB 39-char base64 args": _fill(lambda _: "".join(rnd.choice(_B64) for _ in range(39))),
        "8 KiB 40-char hex digests": _fill(
            lambda _: "".join(rnd.choice("0123456789abcdef") for _ in range(40))
        ),
        "8 KiB of '='": ("x", "=" * (KERNEL_ARGV_BYTES - 2)),
        "8 KiB of a=b": _fill(lambda _: "a=b"),
        "8 KiB of token= (no value)": _fill(lambda _: "token="),
        "8 KiB of -p flags after mysql": ("mysql", *_fill(lambda _: "-p")[1:]),
        "8 KiB of mysql words": _fill(lambda _: "mysql"),
        "8 KiB of --password flags": _fill(lambda _: "--password"),
        "8 KiB of 40-char --flags": _fill(lambda _: "--" + "a" * 40),
        "8 KiB of scheme://": _fill(lambda _: "a" * 30 + "://"),
        "8 KiB of sk- prefixes": _fill(lambda _: "sk-"),
        "8 KiB of real secrets (--password=sN)": _fill(lambda i: f"--password=s{i}"),
    }


def best_us(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    redactor = Redactor()
    never = re.compile("\x01")
    print(
        f"{'argv':40} {'chars':>6} {'baseline µs':>12} {'redact µs':>10} {'× base':>8} "
        f"{'alternation µs':>15} {'× base':>8}"
    )
    for name, argv in shapes().items():
        joined = "\0".join(argv)
        base = best_us(lambda: never.search(joined), args.rounds)  # noqa: B023 - timed right here
        fast = best_us(lambda: redactor.redact_argv(argv), args.rounds)  # noqa: B023
        ref = best_us(lambda: redactor.reference_sub(joined), max(3, args.rounds // 10))  # noqa: B023
        print(
            f"{name:40} {len(joined):6} {base:12.1f} {fast:10.0f} {fast / base:8.0f} "
            f"{ref:15.0f} {ref / base:8.0f}"
        )


if __name__ == "__main__":
    main()

"""Reconnect delays grow exponentially up to a cap, jittered, and start over after success."""

from __future__ import annotations

import random

import pytest

from beholder.enrich.k8s.backoff import Backoff


class Highest(random.Random):
    """Always picks the top of the jitter range, exposing the ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize(
    ("base", "cap", "ceilings"),
    [
        (0.5, 30.0, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]),
        (1.0, 3.0, [1.0, 2.0, 3.0, 3.0]),
    ],
)
def test_delay_ceiling_doubles_up_to_the_cap(base: float, cap: float, ceilings: list[float]) -> None:
    backoff = Backoff(base, cap, Highest())
    assert [backoff.next_delay() for _ in ceilings] == ceilings


def test_reset_starts_over() -> None:
    backoff = Backoff(0.5, 30.0, Highest())
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_jitter_spreads_delays_within_the_ceiling() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(7))
    delays = []
    for _ in range(200):
        backoff.reset()
        for _ in range(3):
            delay = backoff.next_delay()
        delays.append(delay)
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100


def test_many_failures_never_overflow() -> None:
    backoff = Backoff(0.5, 30.0, Highest())
    for _ in range(2000):
        delay = backoff.next_delay()
    assert delay == 30.0

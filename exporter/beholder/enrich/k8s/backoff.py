"""Exponential backoff with full jitter for reconnecting to the API server.

Every agent on every node loses the API server at the same moment (control-plane upgrade,
network blip); full jitter spreads their reconnects instead of stampeding it.
"""

from __future__ import annotations

import random


class Backoff:
    """Delay n is uniform in [0, min(cap, base * 2**n)]; `reset` after a success."""

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None) -> None:
        self._base_s = base_s
        self._cap_s = cap_s
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self._cap_s, self._base_s * 2 ** min(self._attempt, 32))
        self._attempt += 1
        return self._rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        self._attempt = 0

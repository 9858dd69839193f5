"""Alert cooldown as Kubescape node-agent applies it.

node-agent keys an alert by the rule's `uniqueId` expression, the container and the rule;
once a key has alerted `after` times it stays quiet until `duration` has passed since its
first alert in the window, then the window starts again. Its defaults are one hour after
one alert. A duration of zero turns the cooldown off, which is what security testing
wants: every attempt alerts. The table is bounded (oldest keys go first), so a flood of
distinct keys costs memory once, not forever.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_DURATION_S = 3600.0
DEFAULT_AFTER = 1
DEFAULT_MAX_KEYS = 10000

Key = tuple[str, str, str]  # container id, rule id, uniqueId value


@dataclass(frozen=True)
class CooldownSettings:
    duration_s: float = DEFAULT_DURATION_S
    after: int = DEFAULT_AFTER
    max_keys: int = DEFAULT_MAX_KEYS

    @property
    def bypassed(self) -> bool:
        return self.duration_s <= 0


class Cooldown:
    """`allow(key)` says whether an alert with this key may go out now."""

    def __init__(self, settings: CooldownSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._windows: OrderedDict[Key, tuple[float, int]] = OrderedDict()  # key -> (start, count)

    def allow(self, key: Key) -> bool:
        s = self.settings
        if s.bypassed:
            return True
        now = self._clock()
        start, count = self._windows.pop(key, (now, 0))
        if now - start >= s.duration_s:
            start, count = now, 0
        self._windows[key] = (start, count + 1)
        if len(self._windows) > s.max_keys:
            self._windows.popitem(last=False)
        return count < s.after

"""Liveness and readiness as the agent itself sees them, for /healthz and /readyz.

Live means the processing loop has turned recently (a wedged loop stops beating); ready
means tracing has begun and the agent is not shutting down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Health:
    stale_after_s: float = 30.0
    ready: bool = False
    _beat: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self._beat = time.monotonic()

    def live(self) -> bool:
        return time.monotonic() - self._beat < self.stale_after_s

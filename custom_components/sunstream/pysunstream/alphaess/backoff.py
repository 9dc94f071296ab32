"""Reconnect spacing: exponential, capped, with jitter, reset on success.

Pure: the caller passes the clock reading and a random source, so tests
drive it without sleeping. Jitter keeps several Sunstream instances (or a
restart storm) from hammering a one-client unit in lock-step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import random


@dataclass(slots=True)
class Backoff:
    """Decides whether a reconnect may be tried at monotonic time ``now``.

    After the n-th consecutive failure the next attempt waits
    ``min(cap, initial × factor**(n-1))`` scaled by a random factor in
    ``[1 − jitter, 1]`` (never above the cap).
    """

    initial: float = 1.0
    cap: float = 60.0
    factor: float = 2.0
    jitter: float = 0.2
    rand: Callable[[], float] = field(default=random.random)
    failures: int = 0
    not_before: float = 0.0

    def ready(self, now: float) -> bool:
        """Whether an attempt is allowed now."""
        return now >= self.not_before

    def delay(self) -> float:
        """The wait after the current number of failures (0 when none)."""
        if self.failures == 0:
            return 0.0
        base = min(self.cap, self.initial * self.factor ** (self.failures - 1))
        return base * (1 - self.jitter * self.rand())

    def failed(self, now: float) -> float:
        """Record a failure at ``now``; return the wait before the next attempt."""
        self.failures += 1
        wait = self.delay()
        self.not_before = now + wait
        return wait

    def succeeded(self) -> None:
        """Record a success: the next failure starts from ``initial`` again."""
        self.failures = 0
        self.not_before = 0.0

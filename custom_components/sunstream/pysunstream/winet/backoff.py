"""Exponential back-off with jitter for reconnecting to a gateway.

A WiNet dongle serves one user at a time and reboots under load (research
§1.5); the Node clients reconnect after a fixed delay forever, which keeps
a struggling dongle busy. Here each failed attempt doubles the delay up to a
cap, jitter spreads reconnects of several clients apart, and one success
resets the sequence.
"""

from __future__ import annotations

from collections.abc import Callable
import random


class Backoff:
    """Delays for successive failed attempts: ``base × factor^n``, capped.

    The delay is drawn uniformly from ``[d × (1 − jitter), d]`` ("equal
    jitter" toward shorter waits, never above the cap). ``rand`` returns a
    float in ``[0, 1)`` and is injectable for deterministic tests.
    """

    def __init__(
        self,
        *,
        base: float = 5.0,
        factor: float = 2.0,
        cap: float = 300.0,
        jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if base < 0 or factor < 1 or cap < base or not 0 <= jitter <= 1:
            raise ValueError("invalid back-off parameters")
        self.base = base
        self.factor = factor
        self.cap = cap
        self.jitter = jitter
        self._rand = rand
        self.failures = 0

    def peek(self) -> float:
        """The undithered delay the next failure would get."""
        return min(self.cap, self.base * self.factor ** min(self.failures, 64))

    def next_delay(self) -> float:
        """Record a failure and return how long to wait before retrying."""
        ceiling = self.peek()
        self.failures += 1
        return ceiling * (1 - self.jitter * self._rand())

    def reset(self) -> None:
        """Start over after a success."""
        self.failures = 0

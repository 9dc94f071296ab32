"""Exponential back-off with jitter, for reconnecting to an upstream.

Jitter matters when many clients lose the same server at once (an HA
restart): without it they would all knock again at the same instant.
"""

from __future__ import annotations

from collections.abc import Callable
import random


class Backoff:
    """Delays of ``first``, ``2·first``, ``4·first`` … up to ``cap``, each ±``jitter``."""

    def __init__(
        self,
        first: float = 1.0,
        cap: float = 30.0,
        *,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """Start at the first delay."""
        self.first = first
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self._rng = rng
        self._failures = 0

    def next(self) -> float:
        """The delay before the next attempt; each call lengthens the following one."""
        base = min(self.cap, self.first * self.factor**self._failures)
        self._failures = min(self._failures + 1, 64)
        spread = 1.0 - self.jitter + 2.0 * self.jitter * self._rng()
        return min(self.cap, base * spread)

    def reset(self) -> None:
        """Back to the first delay (after a success)."""
        self._failures = 0

"""Reconnect spacing shared by every networked source: exponential, capped, jittered.

Both kinds of hardware Sunstream talks to serve one client at a time and
struggle under load: a WiNet dongle reboots when polled too fast, an
AlphaESS unit hands its only Modbus slot to whoever asks first
(docs/protocols/winet.md#session,
docs/protocols/alphaess.md#one-client-at-a-time). Existing clients retry
after a fixed delay forever (docs/protocols/winet.md#other-clients), which
keeps a struggling device busy. Here each failed attempt doubles the wait up
to a cap, jitter spreads several clients (or a restart storm) apart, and one
success starts over.

The class is arithmetic only: it does not sleep and reads no clock. Each
client turns the delay into a "not before" time on its own clock (the event
loop's, or an injected one in tests), so one policy serves both without
either depending on how the other keeps time.
"""

from __future__ import annotations

from collections.abc import Callable
import random

#: Exponents beyond this cannot change a capped delay and would only risk
#: an overflow after a very long outage.
_MAX_EXPONENT = 64


class Backoff:
    """Delays for successive failed attempts: ``base × factor^n``, capped.

    The n-th consecutive failure (n from 0) waits a delay drawn uniformly
    from ``[d × (1 − jitter), d]`` where ``d = min(cap, base × factor^n)``:
    jitter only ever shortens the wait, so the cap holds. ``rand`` returns
    a float in ``[0, 1)`` and is injectable for deterministic tests.

    The defaults suit a device that needs minutes to recover (a WiNet
    dongle); a client with a quicker device passes its own ``base`` and
    ``cap``.
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
        """The ceiling of the delay the next failure would get (no jitter applied)."""
        return min(self.cap, self.base * self.factor ** min(self.failures, _MAX_EXPONENT))

    def next_delay(self) -> float:
        """Record a failure and return how long to wait before retrying."""
        ceiling = self.peek()
        self.failures += 1
        return ceiling * (1 - self.jitter * self._rand())

    def reset(self) -> None:
        """Start over after a success: the next failure waits ``base`` again."""
        self.failures = 0

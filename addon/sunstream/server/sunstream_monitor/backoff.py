"""Reconnect spacing for the app's upstreams: exponential, capped, jittered.

The same API and the same arithmetic as the integration's
``custom_components/sunstream/pysunstream/backoff.py`` (keyword-only
``base``/``factor``/``cap``/``jitter``/``rand``; :meth:`Backoff.peek`,
:meth:`Backoff.next_delay`, :meth:`Backoff.reset`, ``failures``), so one
reading serves both. It is a copy, not an import: the app is installed as
its own package (``addon/sunstream/server/pyproject.toml``) into an image
without the integration, and it cannot depend on Home Assistant's
``custom_components``. ``tests/pysunstream/test_backoff.py`` keeps the two
in step.

Jitter matters when many clients lose the same server at once (a Home
Assistant or broker restart): without it they would all knock again at the
same instant. It only ever shortens a wait, so the cap holds.

The class is arithmetic only: it does not sleep and reads no clock.
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
    from ``[d × (1 − jitter), d]`` where ``d = min(cap, base × factor^n)``.
    ``rand`` returns a float in ``[0, 1)`` and is injectable for
    deterministic tests.
    """

    def __init__(
        self,
        *,
        base: float = 1.0,
        factor: float = 2.0,
        cap: float = 30.0,
        jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """Start at ``base``; :class:`ValueError` for parameters that cannot back off."""
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

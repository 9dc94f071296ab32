"""Count failed poll cycles; too many in a row means the session is stale.

A socket can stay open while the dongle has stopped answering usefully (a
known client "stops reading after days",
docs/protocols/winet.md#other-clients). Individual failures are retried
where the protocol says so; this counter catches the rest: after ``limit``
consecutive failed cycles the client drops the session and starts over with
a full reconnect.
"""

from __future__ import annotations

DEFAULT_LIMIT = 5


class Watchdog:
    """Trips after ``limit`` consecutive failures; a success re-arms it."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.failures = 0

    def success(self) -> None:
        """A cycle completed."""
        self.failures = 0

    def failure(self) -> bool:
        """A cycle failed; ``True`` when it is time for a full reconnect.

        The counter restarts after tripping, so the next trip needs another
        ``limit`` failures.
        """
        self.failures += 1
        if self.failures >= self.limit:
            self.failures = 0
            return True
        return False

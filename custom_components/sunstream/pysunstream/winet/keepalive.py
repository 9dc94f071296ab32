"""When to ping an idle WiNet session, free of I/O and of any clock.

The dongle drops sessions it considers idle (how soon is not recorded),
and a dropped session costs a reconnect *and* a new login, which on
single-user firmware logs the web UI out. Peers keep the session busy in two
ways (docs/protocols/winet.md#session): the web UI sends the JSON ``ping``
service, another client a bare text frame every 8 s. Sunstream sends the web
UI's ``ping`` (the dongle answers it; a bare ``ping`` text gets no
documented answer) once the link has been quiet for
:data:`DEFAULT_INTERVAL`, so at the default 10 s poll interval traffic never
pauses longer than that client's proven 8 s, and a longer poll interval does
not leave the session idle.

Like :class:`~.watchdog.Watchdog` and the back-off, this is a small record
fed with timestamps (the event loop's ``time()``) by the I/O layer; it
decides nothing but *when*.
"""

from __future__ import annotations

DEFAULT_INTERVAL = 8.0
"""Seconds of silence before a ping (the period a working client uses)."""


class KeepAlive:
    """Tracks the last traffic on a socket; ``interval`` ``None`` disables it."""

    def __init__(self, interval: float | None = DEFAULT_INTERVAL) -> None:
        if interval is not None and not interval > 0:
            raise ValueError("interval must be positive (or None to disable)")
        self.interval = interval
        self.last_traffic: float | None = None
        self.pings = 0

    def traffic(self, now: float) -> None:
        """A frame was sent or received at ``now``: the link is not idle."""
        self.last_traffic = now

    def delay(self, now: float) -> float | None:
        """Seconds until a ping is due (0 if overdue); ``None`` if never.

        Nothing is due before the first traffic (no session yet) or when
        disabled.
        """
        if self.interval is None or self.last_traffic is None:
            return None
        return max(0.0, self.last_traffic + self.interval - now)

    def due(self, now: float) -> bool:
        """Whether the link has been quiet for a whole interval at ``now``."""
        delay = self.delay(now)
        return delay is not None and delay == 0.0

    def pinged(self, now: float) -> None:
        """A ping was sent at ``now`` (it is traffic too)."""
        self.pings += 1
        self.traffic(now)

    def reset(self) -> None:
        """The socket is gone: nothing to keep alive until the next one."""
        self.last_traffic = None

"""Connection counters for diagnostics and diagnostic sensors.

Counted by the client, never reset while it lives, so a soak test or a user
can see how often the link broke and why without reading logs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class ConnectionMetrics:
    """Counters of one client.

    * ``attempts``: sessions started (socket + connect + login + devicelist);
    * ``successes`` / ``failures``: attempts that did / did not get there;
    * ``reconnections``: attempts after a session had been established once;
    * ``messages_sent`` / ``messages_received``: WebSocket frames;
    * ``timeouts``: requests without a reply in time;
    * ``token_expiries``: ``106`` replies;
    * ``unexpected_messages``: frames set aside (garbage, strays, notices);
    * ``watchdog_trips``: full reconnects after consecutive failed cycles;
    * ``pings``: keep-alive pings sent on an idle session;
    * ``writes``: ``param`` writes (battery commands) sent;
    * ``last_error``: the reason of the latest failure, ``None`` before any.
    """

    attempts: int = 0
    successes: int = 0
    failures: int = 0
    reconnections: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    timeouts: int = 0
    token_expiries: int = 0
    unexpected_messages: int = 0
    watchdog_trips: int = 0
    pings: int = 0
    writes: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, int | str | None]:
        """JSON-ready copy."""
        return asdict(self)

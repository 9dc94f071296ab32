"""When the app runs full garbage collections: after many clients have left.

A ``/ws/monitoring`` client and its lean socket refer to each other
(``Client.ws`` and ``LeanSocket.client``), so a closed one is freed by the
cycle collector, not when its last reference goes; and the allocator hands
freed memory back to the system as full collections run. A quiet app
allocates little and so rarely runs a full collection: after a crowd of
dashboards leaves, its memory stays resident (docs/reliability.md, "Memory
that comes back": three full collections 5–10 s apart took a soak-shaped
run from 98.7 to 67.8 MiB). This policy, pure and clock-free, says when
connections have dropped far enough below their peak for a short series of
collections to be worth their few milliseconds; :class:`~.clients.Clients`
runs the series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Fewer departures than this never start a series (ordinary churn).
MIN_DROP: Final = 100
#: Nor a drop smaller than this share of the peak.
SHARE: Final = 0.25
#: Seconds after the last qualifying departure before the first collection,
#: so a crowd leaving over a few seconds gets one series, not one each.
LULL: Final = 5.0
#: Collections in a series, and the seconds between them.
ROUNDS: Final = 3
SPACING: Final = 10.0


@dataclass
class ExodusWatch:
    """Connections seen since the last series; whether a drop calls for one."""

    peak: int = 0

    def seen(self, connected: int) -> bool:
        """Note ``connected`` (after a client left); ``True`` when a series should start."""
        self.peak = max(self.peak, connected)
        if self.peak - connected >= max(MIN_DROP, SHARE * self.peak):
            self.peak = connected
            return True
        return False

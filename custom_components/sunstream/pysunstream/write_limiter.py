"""How often one stored device value may be written: a few times a minute at most.

Settings live in the device's flash (see :mod:`.controls`); a slider dragged
across its range or an automation stuck in a loop must not wear it out. The
limit is per write group (:meth:`~.controls.SettingsSpec.write_group`):
settings that share a register or parameter share one budget, any other
setting has its own (a window's start, end and enable flag are one
setting), and each of several devices that keep their own settings has its
own budgets (the integration keys a group by the battery it belongs to).
It is the same for every source and counts only writes that reached the
device. Pure: the caller passes the clock in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MAX_WRITES = 3
PERIOD = timedelta(minutes=1)


@dataclass(slots=True, kw_only=True)
class WriteLimiter:
    """At most ``max_writes`` writes of one group within any ``period``."""

    max_writes: int = MAX_WRITES
    period: timedelta = PERIOD
    _writes: dict[Hashable, deque[datetime]] = field(default_factory=dict)

    def _recent(self, group: Hashable, now: datetime) -> deque[datetime]:
        writes = self._writes.setdefault(group, deque())
        while writes and now - writes[0] >= self.period:
            writes.popleft()
        return writes

    def wait(self, group: Hashable, now: datetime) -> timedelta:
        """How long until ``group`` may be written again; zero if it may now."""
        writes = self._recent(group, now)
        if len(writes) < self.max_writes:
            return timedelta(0)
        return writes[0] + self.period - now

    def record(self, group: Hashable, now: datetime) -> None:
        """Count a write of ``group`` that reached the device at ``now``."""
        self._recent(group, now).append(now)

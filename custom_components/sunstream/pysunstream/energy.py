"""Energy from power: trapezoidal integration over real elapsed time.

A meter only sees samples, so between two samples power is taken as a
straight line (the trapezoid rule); the error against the true integral of a
smooth profile is second order in the poll interval. A sample gap longer
than ``max_gap`` (Home Assistant was stopped, the machine slept) is not
bridged: inventing hours of energy from two samples is worse than a gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from .periods import PeriodCounter

DEFAULT_MAX_GAP = timedelta(minutes=15)


def _local_midnight_after(t0: datetime, t1: datetime) -> datetime | None:
    """The first local midnight in ``(t0, t1]``, if any."""
    if t1.date() == t0.date():
        return None
    return datetime.combine(t1.date(), time(0), tzinfo=t1.tzinfo)


@dataclass(slots=True)
class EnergyMeter:
    """Integrates several named power channels (W) into kWh counters."""

    channels: tuple[str, ...]
    max_gap: timedelta = DEFAULT_MAX_GAP
    counters: dict[str, PeriodCounter] = field(default_factory=dict)
    last_at: datetime | None = None
    last_power: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.channels:
            self.counters.setdefault(name, PeriodCounter())

    def sample(self, at: datetime, power: Mapping[str, float]) -> dict[str, float]:
        """Add a sample; return the kWh booked per channel since the last one."""
        booked = dict.fromkeys(self.channels, 0.0)
        previous, self.last_at = self.last_at, at
        last_power, self.last_power = (
            self.last_power,
            {name: max(0.0, float(power.get(name, 0.0))) for name in self.channels},
        )
        # Real elapsed time: two datetimes sharing a tzinfo subtract on the
        # wall clock, which is an hour off across a daylight-saving change.
        span = at.timestamp() - previous.timestamp() if previous is not None else 0.0
        if previous is None or not 0 < span <= self.max_gap.total_seconds():
            for counter in self.counters.values():
                counter.roll(at)
            return booked
        boundary = _local_midnight_after(previous, at)
        for name in self.channels:
            p0 = last_power.get(name, 0.0)
            p1 = self.last_power[name]
            counter = self.counters[name]
            if boundary is None:
                kwh = (p0 + p1) / 2 * span / 3_600_000
                counter.add(kwh, at)
                booked[name] = kwh
                continue
            # Split the trapezoid at midnight so each day gets its own share.
            before = boundary.timestamp() - previous.timestamp()
            p_mid = p0 + (p1 - p0) * before / span
            kwh_before = (p0 + p_mid) / 2 * before / 3_600_000
            kwh_after = (p_mid + p1) / 2 * (span - before) / 3_600_000
            counter.add(kwh_before, boundary - timedelta(microseconds=1))
            counter.add(kwh_after, at)
            booked[name] = kwh_before + kwh_after
        return booked

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, so totals survive a restart."""
        return {
            "counters": {k: v.as_dict() for k, v in self.counters.items()},
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "last_power": dict(self.last_power),
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Load what :meth:`as_dict` saved; unknown channels are ignored."""
        for name, saved in data.get("counters", {}).items():
            if name in self.counters:
                self.counters[name] = PeriodCounter.from_dict(saved)
        last_at = data.get("last_at")
        self.last_at = datetime.fromisoformat(last_at) if last_at else None
        self.last_power = {
            k: float(v) for k, v in data.get("last_power", {}).items() if k in self.channels
        }

"""Counters that keep today's, this month's and the lifetime total.

Periods follow the wall clock of the datetimes fed in, so the caller decides
the time zone (the integration passes Home Assistant's). A day's total resets
at local midnight, a month's at local midnight of the 1st. Amounts that
straddle midnight are split by the caller (see :mod:`.energy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(slots=True)
class PeriodCounter:
    """A non-decreasing quantity with day and month views."""

    today: float = 0.0
    month: float = 0.0
    total: float = 0.0
    day: date | None = None

    def roll(self, at: datetime) -> None:
        """Start a new day (and month) if ``at`` lies past the current one."""
        current = at.date()
        if self.day is None:
            self.day = current
            return
        if current <= self.day:
            return
        if (current.year, current.month) != (self.day.year, self.day.month):
            self.month = 0.0
        self.today = 0.0
        self.day = current

    def add(self, amount: float, at: datetime) -> None:
        """Book ``amount`` (ignored unless positive) on the period of ``at``."""
        self.roll(at)
        if amount <= 0:
            return
        self.today += amount
        self.month += amount
        self.total += amount

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "today": self.today,
            "month": self.month,
            "total": self.total,
            "day": self.day.isoformat() if self.day else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PeriodCounter:
        """Inverse of :meth:`as_dict`."""
        day = data.get("day")
        return cls(
            today=float(data.get("today", 0.0)),
            month=float(data.get("month", 0.0)),
            total=float(data.get("total", 0.0)),
            day=date.fromisoformat(day) if day else None,
        )

"""Today's energies and stored energy, for sources that do not report them.

Optimizers (Predbat, EMHASS) and the Energy dashboard want today's PV,
house, grid and battery energies besides the lifetime totals, and the
energy a battery holds. A source fills what its device reports;
:class:`DailyTotals` completes the rest, the same way for every source:

* a daily energy the device lacks is its lifetime counter minus the
  counter's value at the start of the local day, never lower than it
  was earlier that day. The start is the last
  value seen on the previous day (polls are seconds apart, so that is
  midnight to within one poll); when nothing was seen yesterday (first
  day, or Home Assistant was off across midnight) it is the first value
  seen today, so that day's figure starts late rather than inventing
  energy;
* house consumption the device does not count is the energy balance
  PV + import + battery discharge − export − battery charge (inverter
  losses included in "house"), for today (from today's energies) and for
  the lifetime (unknown where it comes out negative);
* stored energy is state of charge × capacity.

Days follow the wall clock of the snapshot's ``taken_at`` (the integration
passes Home Assistant's time zone), like :mod:`.periods`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from .model import Metric, Snapshot, Value, as_number

#: Lifetime counter → its daily counterpart.
DAILY_OF: Mapping[Metric, Metric] = {
    Metric.PV_ENERGY_TOTAL: Metric.PV_ENERGY_TODAY,
    Metric.LOAD_ENERGY_TOTAL: Metric.LOAD_ENERGY_TODAY,
    Metric.GRID_IMPORT_ENERGY: Metric.GRID_IMPORT_ENERGY_TODAY,
    Metric.GRID_EXPORT_ENERGY: Metric.GRID_EXPORT_ENERGY_TODAY,
    Metric.BATTERY_CHARGE_ENERGY: Metric.BATTERY_CHARGE_ENERGY_TODAY,
    Metric.BATTERY_DISCHARGE_ENERGY: Metric.BATTERY_DISCHARGE_ENERGY_TODAY,
}

# (load, pv, import, discharge, export, charge) for the lifetime and for today.
_BALANCES = (
    (
        Metric.LOAD_ENERGY_TOTAL,
        Metric.PV_ENERGY_TOTAL,
        Metric.GRID_IMPORT_ENERGY,
        Metric.BATTERY_DISCHARGE_ENERGY,
        Metric.GRID_EXPORT_ENERGY,
        Metric.BATTERY_CHARGE_ENERGY,
    ),
    (
        Metric.LOAD_ENERGY_TODAY,
        Metric.PV_ENERGY_TODAY,
        Metric.GRID_IMPORT_ENERGY_TODAY,
        Metric.BATTERY_DISCHARGE_ENERGY_TODAY,
        Metric.GRID_EXPORT_ENERGY_TODAY,
        Metric.BATTERY_CHARGE_ENERGY_TODAY,
    ),
)
DECIMALS = 3


def _balance(metrics: MutableMapping[Metric, Value]) -> None:
    """House consumption from the energy balance, where the source has none.

    Counters that began at different times (a meter replaced, AC-coupled PV
    the unit does not count) can make a lifetime balance negative: it is
    then unknown, not zero. Today's balance starts every component at the
    same midnight, so it stands.
    """
    has_battery = Metric.BATTERY_SOC in metrics
    for load, pv, grid_in, discharge, grid_out, charge in _BALANCES:
        terms = {pv: 1, grid_in: 1, grid_out: -1}
        if has_battery:
            terms |= {discharge: 1, charge: -1}
        if load in metrics or not all(metric in metrics for metric in terms):
            continue
        numbers = [as_number(metrics[metric]) for metric in terms]
        if any(number is None for number in numbers):
            metrics[load] = None
            continue
        total = sum(
            (number or 0.0) * sign for number, sign in zip(numbers, terms.values(), strict=True)
        )
        metrics[load] = round(total, DECIMALS) if total >= 0 else None


def stored_energy(metrics: Mapping[Metric, Value]) -> float | None:
    """KWh in the battery: state of charge × capacity; ``None`` if either is unknown."""
    soc = as_number(metrics.get(Metric.BATTERY_SOC))
    capacity = as_number(metrics.get(Metric.BATTERY_CAPACITY))
    if soc is None or capacity is None:
        return None
    return round(soc / 100 * capacity, DECIMALS)


@dataclass(slots=True)
class DailyTotals:
    """Where each lifetime counter stood when the local day began."""

    day: date | None = None
    start: dict[Metric, float] = field(default_factory=dict)
    last: dict[Metric, float] = field(default_factory=dict)
    # The highest each derived daily energy has shown today: the components
    # of a balance update at different moments, and a daily counter that
    # dips would be read as a new day by the Energy dashboard.
    peak: dict[Metric, float] = field(default_factory=dict)

    def complete(self, snapshot: Snapshot) -> Snapshot:
        """``snapshot`` with today's energies, house consumption and stored energy."""
        metrics = dict(snapshot.metrics)
        own = {daily for daily in DAILY_OF.values() if daily in metrics}
        today = snapshot.taken_at.date()
        if today != self.day:
            # The last values seen yesterday are where today began.
            yesterday = self.day is not None and self.day == today - timedelta(days=1)
            self.start = dict(self.last) if yesterday else {}
            self.peak = {}
            self.day = today
        for total, daily in DAILY_OF.items():
            if total not in metrics or daily in metrics:
                continue
            value = as_number(metrics[total])
            if value is None:
                metrics[daily] = None
                continue
            start = self.start.setdefault(total, value)
            last = self.last.get(total, value)
            if value < last:
                # The counter went back (reset, replaced): today goes on from where it was.
                start = self.start[total] = value - max(0.0, last - start)
            self.last[total] = value
            metrics[daily] = round(value - start, DECIMALS)
        _balance(metrics)
        for daily in DAILY_OF.values():
            value = as_number(metrics.get(daily))
            if daily in own or value is None:
                continue
            metrics[daily] = self.peak[daily] = max(value, self.peak.get(daily, 0.0))
        if Metric.BATTERY_CAPACITY in metrics and Metric.BATTERY_SOC in metrics:
            metrics[Metric.BATTERY_STORED_ENERGY] = stored_energy(metrics)
        return replace(snapshot, metrics=metrics)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, so a restart keeps the day's start."""
        return {
            "day": self.day.isoformat() if self.day else None,
            "start": {metric.value: value for metric, value in self.start.items()},
            "last": {metric.value: value for metric, value in self.last.items()},
            "peak": {metric.value: value for metric, value in self.peak.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DailyTotals:
        """Inverse of :meth:`as_dict`; unknown metrics are ignored."""
        known = {metric.value for metric in Metric}
        day = data.get("day")
        return cls(
            day=date.fromisoformat(day) if day else None,
            start={Metric(k): float(v) for k, v in data.get("start", {}).items() if k in known},
            last={Metric(k): float(v) for k, v in data.get("last", {}).items() if k in known},
            peak={Metric(k): float(v) for k, v in data.get("peak", {}).items() if k in known},
        )

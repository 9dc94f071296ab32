"""The MonitoringData document: one system's live values as dashboards read them.

Pure functions of what Home Assistant reports (entity states, its currency
and time zone, recorder statistics): no I/O here, so the document is the same
whichever feed gathered the states, and tests can state exactly what a given
set of states must produce.

Conventions (the seed 000 contract, docs/protocols/app-seeds.md#seed-000):

* powers in kW, energies in kWh, mass in kg, temperature in °C — converted
  from the unit each entity states (a user may display a power in kW or a
  temperature in °F); a missing unit means the integration's own unit;
* a value that is unknown, unavailable, missing, not a number or in a unit
  we cannot convert is ``None`` (JSON ``null``), never a string;
* grid power: + import / − export; battery power: + discharge / − charge
  (the integration already uses Home Assistant's Energy conventions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
import math
from typing import Any, Final

from .hub import Document, SystemInfo

# Entity keys the document reads: the integration names entities
# f"{system_id}_{key}" (unique id). Only these are followed.
CONNECTIVITY: Final = "connectivity"
PV_ENERGY_TOTAL: Final = "pv_energy_total"
BATTERY_KEYS: Final = frozenset(
    {
        "battery_power",
        "battery_soc",
        "battery_charge_energy",
        "battery_discharge_energy",
        "battery_mode",
    }
)
KEYS: Final = frozenset(
    {
        CONNECTIVITY,
        "pv_power",
        "pv_energy_today",
        "pv_energy_month",
        PV_ENERGY_TOTAL,
        "load_power",
        "grid_power",
        "grid_import_energy",
        "grid_export_energy",
        "inverter_temperature",
        "status",
        "savings_today",
        "savings_month",
        "savings_total",
        "co2_offset",
        "trees_equivalent",
        *BATTERY_KEYS,
    }
)

# Config entry state in which Home Assistant keeps retrying a system that did
# not answer at set-up: its entities are unavailable, but the cause is the link.
ENTRY_SETUP_RETRY: Final = "setup_retry"

CHART_HOURS: Final = 24
ENERGY_DECIMALS: Final = 3  # Wh, the integration's own resolution

_NOT_A_VALUE: Final = frozenset({"unknown", "unavailable", ""})

# unit -> (multiply, divide) into the document's unit. Multiplying by 1 and
# dividing by 1000 keeps 1234 W exactly 1.234 kW (no 1.2340000000000002).
_POWER: Final = {"W": (1.0, 1000.0), "kW": (1.0, 1.0), "MW": (1000.0, 1.0), "GW": (1e6, 1.0)}
_ENERGY: Final = {
    "Wh": (1.0, 1000.0),
    "kWh": (1.0, 1.0),
    "MWh": (1000.0, 1.0),
    "GWh": (1e6, 1.0),
    "J": (1.0, 3.6e6),
    "kJ": (1.0, 3600.0),
    "MJ": (1.0, 3.6),
    "GJ": (1000.0, 3.6),
}
_MASS: Final = {
    "kg": (1.0, 1.0),
    "g": (1.0, 1000.0),
    "mg": (1.0, 1e6),
    "t": (1000.0, 1.0),
    "lb": (0.45359237, 1.0),
    "oz": (0.028349523125, 1.0),
    "st": (6.35029318, 1.0),
}
_PERCENT: Final = {"%": (1.0, 1.0)}


@dataclass(frozen=True, slots=True)
class EntityState:
    """One entity's state as Home Assistant reports it (``subscribe_entities``)."""

    state: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    last_changed: float | None = None  # Unix time, seconds
    last_updated: float | None = None

    @property
    def known(self) -> bool:
        """Whether the state carries a value at all."""
        return self.state not in _NOT_A_VALUE


@dataclass(frozen=True, slots=True)
class ChartData:
    """PV energy per hour over the last 24 hours, oldest first."""

    labels: tuple[str, ...]
    values: tuple[float, ...]
    # Start (UTC) of each hour shown; not part of the document.
    starts: tuple[datetime, ...] = ()

    def as_dict(self) -> dict[str, list[Any]]:
        """JSON-ready view."""
        return {"labels": list(self.labels), "values": list(self.values)}

    def through_now(self, today_kwh: float | None, now: datetime, zone: tzinfo) -> ChartData:
        """The chart with the current, unfinished hour holding what today's total says.

        Recorder statistics lag the live sensors: an hour's row exists only
        once the hour has ended, 5-minute rows every five minutes, and a new
        system has none at all — "Today 0.1 kWh" over a chart of zeros.
        Whatever today's generation holds beyond the hours of today the chart
        already shows has happened by now, so the current hour gets it (never
        less than its statistics say). The chart's hours of today then add up
        to today's generation, within rounding.
        """
        if today_kwh is None or not self.starts:
            return self
        current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        if self.starts[-1] != current:
            return self  # charts from an hour ago: the next refresh brings this hour
        midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        earlier = sum(
            value
            for start, value in zip(self.starts[:-1], self.values[:-1], strict=True)
            if start >= midnight
        )
        last = round(max(self.values[-1], today_kwh - earlier), ENERGY_DECIMALS)
        if last == self.values[-1]:
            return self
        return replace(self, values=(*self.values[:-1], last))


# -- values -------------------------------------------------------------------


def _number(state: EntityState | None) -> float | None:
    if state is None or not state.known:
        return None
    try:
        value = float(state.state)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _converted(
    state: EntityState | None, units: Mapping[str, tuple[float, float]], native: str
) -> float | None:
    """The state's number in the document's unit; ``None`` if it can't be told."""
    value = _number(state)
    if value is None or state is None:
        return None
    unit = state.attributes.get("unit_of_measurement") or native
    factors = units.get(unit)
    if factors is None:
        return None
    multiply, divide = factors
    return value * multiply / divide


def _celsius(state: EntityState | None) -> float | None:
    value = _number(state)
    if value is None or state is None:
        return None
    match state.attributes.get("unit_of_measurement") or "°C":
        case "°C":
            return value
        case "°F":
            return (value - 32.0) * 5.0 / 9.0
        case "K":
            return value - 273.15
        case _:
            return None


def _plain(state: EntityState | None) -> float | None:
    """A number whatever its unit: money (in HA's currency) or a count."""
    return _number(state)


def _text(state: EntityState | None) -> str | None:
    return state.state if state is not None and state.known else None


def system_status(connectivity: EntityState | None, entry_state: str | None) -> str:
    """``online``, ``offline`` or ``maintenance``, from the connectivity sensor.

    The integration's connectivity sensor is the one entity that stays
    available while its system runs: "on" is online, "off" is offline. Any
    other state — unavailable (the entity was restored after its config
    entry was unloaded, disabled, is reloading or failed to set up) or no
    state at all (never set up in this run, or disabled) — means the system
    is not running in Home Assistant for an administrative reason:
    ``maintenance``. The one exception is a config entry in ``setup_retry``:
    the system did not answer when Home Assistant started and HA keeps
    retrying it, which is a link failure, so ``offline``.
    """
    if connectivity is not None and connectivity.state == "on":
        return "online"
    if connectivity is not None and connectivity.state == "off":
        return "offline"
    if entry_state == ENTRY_SETUP_RETRY:
        return "offline"
    return "maintenance"


def iso_utc(timestamp: float) -> str:
    """``2026-11-23T14:00:00.123Z``: what JavaScript's ``Date.toISOString()`` gives."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def last_updated(states: Iterable[EntityState | None], now: datetime) -> str:
    """When the newest of the system's values last changed in Home Assistant.

    Taken from the states, not the clock, so a rebuild with nothing new
    yields an identical document (and the hub sends nothing).
    """
    times = [
        stamp
        for state in states
        if state is not None
        for stamp in (state.last_updated, state.last_changed)
        if stamp is not None
    ]
    return iso_utc(max(times) if times else now.timestamp())


# -- chart ----------------------------------------------------------------------


def chart_window(now: datetime) -> list[datetime]:
    """Start (UTC) of each of the 24 hours shown, oldest first, ending with now's hour.

    Home Assistant's hourly statistics are aligned on UTC hours; stepping in
    UTC keeps DST changes right (a repeated local hour shows twice).
    """
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=CHART_HOURS - 1 - i) for i in range(CHART_HOURS)]


def hourly_chart(
    now: datetime,
    zone: tzinfo,
    hourly: Iterable[Mapping[str, Any]] = (),
    five_minute: Iterable[Mapping[str, Any]] = (),
) -> ChartData:
    """The chart from recorder statistics rows (``start`` in ms, ``change`` in kWh).

    ``hourly`` are the ``period: hour`` rows of the window; the current hour
    has none until it ends, so its value is the sum of the ``period: 5minute``
    rows since it began. Hours without statistics count zero.
    """
    window = chart_window(now)
    index = {int(start.timestamp() * 1000): i for i, start in enumerate(window)}
    values = [0.0] * CHART_HOURS
    seen: set[int] = set()
    for row in hourly:
        i = index.get(_start_ms(row))
        if i is not None:
            values[i] += _change(row)
            seen.add(i)
    last = CHART_HOURS - 1
    if last not in seen:
        current_start = int(window[last].timestamp() * 1000)
        values[last] = sum(_change(row) for row in five_minute if _start_ms(row) >= current_start)
    labels = tuple(start.astimezone(zone).strftime("%H:%M") for start in window)
    return ChartData(
        labels=labels,
        values=tuple(round(v, ENERGY_DECIMALS) for v in values),
        starts=tuple(window),
    )


def _start_ms(row: Mapping[str, Any]) -> int:
    start = row.get("start")
    return int(start) if isinstance(start, int | float) else -1


def _change(row: Mapping[str, Any]) -> float:
    change = row.get("change")
    if isinstance(change, int | float) and math.isfinite(change):
        return float(change)
    return 0.0


# -- the document ---------------------------------------------------------------


def build_document(
    info: SystemInfo,
    states: Mapping[str, EntityState | None],
    *,
    has_battery: bool,
    currency: str | None,
    chart: ChartData,
    zone: tzinfo = UTC,
    entry_state: str | None = None,
    now: datetime | None = None,
) -> Document:
    """The MonitoringData document of one system.

    ``states`` maps the integration's entity keys (``pv_power``,
    ``connectivity`` …) to their current state; a key that is absent has no
    state. ``has_battery`` says whether the system has battery entities at
    all: without, ``battery`` is ``null`` rather than a block of nulls.
    ``entry_state`` is the config entry's state, asked only when the
    connectivity sensor has no on/off state (see :func:`system_status`).
    ``zone`` is Home Assistant's time zone, where "today" begins; the
    chart's current hour is brought up to today's generation
    (:meth:`ChartData.through_now`).
    """
    now = now or datetime.now(UTC)

    def get(key: str) -> EntityState | None:
        return states.get(key)

    def power(key: str) -> float | None:
        return _converted(get(key), _POWER, "W")

    def energy(key: str) -> float | None:
        return _converted(get(key), _ENERGY, "kWh")

    today = energy("pv_energy_today")
    battery: dict[str, Any] | None = None
    if has_battery:
        battery = {
            "soc_percent": _converted(get("battery_soc"), _PERCENT, "%"),
            "power_kw": power("battery_power"),
            "charge_energy_kwh": energy("battery_charge_energy"),
            "discharge_energy_kwh": energy("battery_discharge_energy"),
            "mode": _text(get("battery_mode")),
        }
    return {
        "system_id": info.system_id,
        "name": info.name,
        "source": info.source,
        "status": system_status(get(CONNECTIVITY), entry_state),
        "current_generation_kw": power("pv_power"),
        "today_generation_kwh": today,
        "monthly_generation_kwh": energy("pv_energy_month"),
        "total_generation_kwh": energy(PV_ENERGY_TOTAL),
        "today_savings": _plain(get("savings_today")),
        "monthly_savings": _plain(get("savings_month")),
        "total_savings": _plain(get("savings_total")),
        "currency": currency,
        "co2_offset_kg": _converted(get("co2_offset"), _MASS, "kg"),
        "trees_planted_equivalent": _plain(get("trees_equivalent")),
        "battery": battery,
        "grid": {
            "power_kw": power("grid_power"),
            "import_energy_kwh": energy("grid_import_energy"),
            "export_energy_kwh": energy("grid_export_energy"),
        },
        "load": {"power_kw": power("load_power")},
        "inverter": {
            "temperature_c": _celsius(get("inverter_temperature")),
            "status": _text(get("status")),
        },
        "chart_data": chart.through_now(today, now, zone).as_dict(),
        "last_updated": last_updated(states.values(), now),
    }

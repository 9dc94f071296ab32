"""The source-neutral data model every Sunstream source maps into.

Sign conventions follow Home Assistant's Energy dashboard so a sensor can be
picked there without an "inverted" switch:

* grid power: positive = import from the grid, negative = export to it;
* battery power: positive = discharge (battery feeds the house), negative =
  charge.

Energies are kWh, powers W, temperatures °C, state of charge %. A
``*_today`` energy restarts at local midnight; the un-suffixed ones are
lifetime totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NewType


class Metric(StrEnum):
    """Canonical metrics; every source fills those it can measure."""

    PV_POWER = "pv_power"
    PV_ENERGY_TODAY = "pv_energy_today"
    PV_ENERGY_MONTH = "pv_energy_month"
    PV_ENERGY_TOTAL = "pv_energy_total"
    LOAD_POWER = "load_power"
    LOAD_ENERGY_TODAY = "load_energy_today"
    LOAD_ENERGY_TOTAL = "load_energy_total"
    GRID_POWER = "grid_power"
    GRID_IMPORT_ENERGY_TODAY = "grid_import_energy_today"
    GRID_IMPORT_ENERGY = "grid_import_energy"
    GRID_EXPORT_ENERGY_TODAY = "grid_export_energy_today"
    GRID_EXPORT_ENERGY = "grid_export_energy"
    BATTERY_POWER = "battery_power"
    BATTERY_SOC = "battery_soc"
    BATTERY_CAPACITY = "battery_capacity"
    BATTERY_STORED_ENERGY = "battery_stored_energy"
    BATTERY_CHARGE_ENERGY_TODAY = "battery_charge_energy_today"
    BATTERY_CHARGE_ENERGY = "battery_charge_energy"
    BATTERY_DISCHARGE_ENERGY_TODAY = "battery_discharge_energy_today"
    BATTERY_DISCHARGE_ENERGY = "battery_discharge_energy"
    INVERTER_TEMPERATURE = "inverter_temperature"
    STATUS = "status"
    BATTERY_MODE = "battery_mode"


class InverterStatus(StrEnum):
    """What the inverter is doing, in terms every source can map to."""

    STANDBY = "standby"
    PRODUCING = "producing"
    FAULT = "fault"
    OFFLINE = "offline"


class BatteryMode(StrEnum):
    """Who decides the battery's power right now."""

    SELF_CONSUMPTION = "self_consumption"
    FORCED_CHARGE = "forced_charge"
    FORCED_DISCHARGE = "forced_discharge"
    IDLE = "idle"


type Value = float | str | None


def as_number(value: Value) -> float | None:
    """A value as a number; ``None`` for text (a status) and unknowns."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def with_direction_of(magnitude: Value, power: Value) -> float | None:
    """``magnitude`` (a battery current the device sends unsigned) signed as ``power`` is.

    Batteries report their current as a magnitude on some sources; signed
    like the battery power (+ discharge, − charge) it reads like it. While
    the power is unknown or 0 the magnitude stays as sent.
    """
    amount, direction = as_number(magnitude), as_number(power)
    if amount is None or not direction:
        return amount
    return abs(amount) if direction > 0 else -abs(amount)


class DeviceKind(StrEnum):
    """What part of a system a device is."""

    GATEWAY = "gateway"
    INVERTER = "inverter"
    BATTERY = "battery"
    METER = "meter"
    BUS = "bus"
    CONVERTER = "converter"
    SOLAR_UNIT = "solar_unit"
    WIND_UNIT = "wind_unit"
    CHARGER = "charger"


PartKey = NewType("PartKey", str)
"""The ``key`` of a part (:attr:`DeviceIdentity.key`) naming it as a target,
e.g. the battery a command is for; mypy keeps it apart from other text."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceIdentity:
    """Who a device is; ``key`` is stable for the life of the device."""

    key: str
    kind: DeviceKind
    manufacturer: str
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    hardware: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceReading:
    """One device behind a gateway: who it is, whether it answers, its values.

    ``values`` holds every value the device sent, under the device's own
    names (e.g. WiNet ``I18N_*`` keys), already parsed; canonical metrics are
    mapped from them into the snapshot. ``metrics`` and ``extras`` are the
    part's own canonical values, as :class:`Snapshot` has them for the whole
    system, for parts that get sensors of their own (one of several
    inverters behind a gateway, an EV charger); empty for the others.
    """

    identity: DeviceIdentity
    online: bool = True
    values: Mapping[str, Value] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[Metric, Value] = field(default_factory=dict)
    extras: Mapping[str, Value] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent reading of a whole system.

    ``metrics`` holds canonical values keyed by :class:`Metric`; ``extras``
    holds source-specific values (MPPT strings, phases, …) keyed by a stable
    name. A value of ``None`` means the source answered but did not know it.
    ``identity`` names the system (a gateway, a unit) and ``devices`` the
    parts behind it, for sources that have them.
    """

    taken_at: datetime
    metrics: Mapping[Metric, Value]
    extras: Mapping[str, Value] = field(default_factory=dict)
    identity: DeviceIdentity | None = None
    devices: tuple[DeviceReading, ...] = ()

    def get(self, metric: Metric) -> Value:
        """Return a canonical value, ``None`` when the source lacks it."""
        return self.metrics.get(metric)

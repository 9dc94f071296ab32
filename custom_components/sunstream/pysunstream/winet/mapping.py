"""From WiNet data points to Sunstream's data model.

Each device's values are kept under the device's own ``I18N_*`` keys
(misspellings included: ``I18N_COMMON_PV_DAYILY_ENERGY_GENERATION``,
``I18N_COMMON_BATTARY_HEALTH``, ``I18N_COMMONUA``) with canonical units, so
nothing is lost; the canonical :class:`~..model.Metric` values of the
snapshot are derived from a known subset
(docs/protocols/winet.md#data-services). A metric appears in the snapshot
only if some device sends its key, and is ``None`` while the device says
``"--"``.

Sign conventions are the model's: grid power is import − export, battery
power is discharge − charge (WiNet reports each direction as a separate
non-negative value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
import re

from ..model import (
    DeviceIdentity,
    DeviceKind,
    DeviceReading,
    InverterStatus,
    Metric,
    Snapshot,
    Value,
)
from .device_types import DeviceInfo
from .messages import DataPoint, DirectItem
from .values import convert, normalise_unit, parse_value

MANUFACTURER = "Sungrow"

# -- keys (spelled as the devices send them) ---------------------------------

PV_POWER = "I18N_COMMON_TOTAL_DCPOWER"
PV_TODAY = ("I18N_COMMON_PV_DAYILY_ENERGY_GENERATION", "I18N_COMMON_DAILY_POWER_YIELD")
PV_TOTAL = ("I18N_COMMON_PV_TOTAL_ENERGY_GENERATION", "I18N_COMMON_TOTAL_YIELD")
LOAD_POWER = "I18N_COMMON_LOAD_TOTAL_ACTIVE_POWER"
GRID_IMPORT_POWER = "I18N_CONFIG_KEY_4060"
GRID_EXPORT_POWER = "I18N_COMMON_FEED_NETWORK_TOTAL_ACTIVE_POWER"
GRID_IMPORT_TOTAL = "I18N_COMMON_TOTAL_ELECTRIC_GRID_GET_POWER"
GRID_EXPORT_TOTAL = "I18N_COMMON_TOTAL_FEED_NETWORK_VOLUME"
BATTERY_CHARGE_POWER = "I18N_CONFIG_KEY_3907"
BATTERY_DISCHARGE_POWER = "I18N_CONFIG_KEY_3921"
BATTERY_SOC = ("I18N_COMMON_BATTERY_SOC", "I18N_COMMON_REMAIN_BATTERY_POWER")
BATTERY_CHARGE_TOTAL = ("I18N_COMMON_TOTAL_BATTERY_CHARGE",)
BATTERY_DISCHARGE_TOTAL = (
    "I18N_COMMON_TOTAL_BATTRY_DISCHARGE",
    "I18N_COMMON_TOTAL_BATTERY_DISCHARGE",
    "I18N_COMMON_TOTAL_BATTERY_DISCHARGE_BMS",
)
TEMPERATURE = "I18N_COMMON_AIR_TEM_INSIDE_MACHINE"
STATUS_KEYS = ("I18N_COMMON_RUNNING_STATE", "I18N_COMMON_DEVICE_STATUS")
GRID_FREQUENCY = "I18N_COMMON_GRID_FREQUENCY"
GRID_VOLTAGE = "I18N_COMMONUA"

_RUNNING = frozenset(
    {
        "I18N_COMMON_DISPATCH_RUN",
        "I18N_COMMON_ON_GRID_OPERATION",
        "I18N_COMMON_ENERGY_DISPATCH_OPERATION",
        "I18N_COMMON_STATUS_RUN",
        "I18N_COMMON_FORCE_MODE_OPERATION",
    }
)
_STANDBY = frozenset(
    {
        "I18N_COMMON_STANDBY",
        "I18N_COMMON_INITIAL_STANDBY",
        "I18N_COMMON_STOP",
        "I18N_COMMON_NORMAL_STOP",
        "I18N_COMMON_SHUTDOWN",
    }
)
_MPPT = re.compile(r"^mppt\s*(\d+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DeviceData:
    """What one poll cycle read from one device.

    ``failed`` names the services that did not answer usefully this cycle,
    so a caller can tell "device says unknown" from "we could not ask".
    """

    device: DeviceInfo
    points: tuple[DataPoint, ...] = ()
    direct: tuple[DirectItem, ...] = ()
    failed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PollData:
    """Everything one poll cycle read, device by device, in list order."""

    devices: tuple[DeviceData, ...]


def device_identity(device: DeviceInfo) -> DeviceIdentity:
    """The model identity of one device behind the gateway."""
    return DeviceIdentity(
        key=f"winet_{device.key}",
        kind=device.kind,
        manufacturer=MANUFACTURER,
        model=device.model or None,
        serial=device.serial or None,
    )


def device_values(data: DeviceData) -> tuple[dict[str, Value], dict[str, str]]:
    """Parse a device's points and DC inputs into values and units.

    A key sent twice in one cycle (``real`` and ``real_battery`` overlap on
    some models) keeps the first known value. DC inputs become
    ``<name>.voltage``, ``<name>.current`` and a derived ``<name>.power`` in
    W, as every other client computes it.
    """
    values: dict[str, Value] = {}
    units: dict[str, str] = {}
    for point in data.points:
        value = parse_value(point.value)
        if point.name in values and (value is None or values[point.name] is not None):
            continue
        values[point.name] = value
        units[point.name] = normalise_unit(point.unit, point.name)
    for item in data.direct:
        voltage = convert(parse_value(item.voltage), normalise_unit(item.voltage_unit), "V")
        current = convert(parse_value(item.current), normalise_unit(item.current_unit), "A")
        values[f"{item.name}.voltage"] = voltage
        units[f"{item.name}.voltage"] = "V"
        values[f"{item.name}.current"] = current
        units[f"{item.name}.current"] = "A"
        power = None if voltage is None or current is None else round(voltage * current, 2)
        values[f"{item.name}.power"] = power
        units[f"{item.name}.power"] = "W"
    return values, units


def device_reading(data: DeviceData) -> DeviceReading:
    """One :class:`DeviceReading`, online as the device list reports it."""
    values, units = device_values(data)
    return DeviceReading(
        identity=device_identity(data.device),
        online=data.device.online,
        values=values,
        units=units,
    )


class _Lookup:
    """Canonical lookups over the readings of one kind of device."""

    def __init__(self, readings: Iterable[DeviceReading]) -> None:
        self.readings = tuple(readings)

    def present(self, keys: tuple[str, ...]) -> bool:
        return any(key in reading.values for reading in self.readings for key in keys)

    def first(self, keys: tuple[str, ...], target: str) -> float | None:
        """The first known value among ``keys`` (in preference order)."""
        for reading in self.readings:
            for key in keys:
                if key in reading.values:
                    value = convert(reading.values[key], reading.units.get(key, ""), target)
                    if value is not None:
                        return value
        return None

    def total(self, keys: tuple[str, ...], target: str) -> float | None:
        """Sum over devices of each device's first known value among ``keys``."""
        found = [_Lookup((reading,)).first(keys, target) for reading in self.readings]
        known = [value for value in found if value is not None]
        return round(sum(known), 6) if known else None


def _status(readings: tuple[DeviceReading, ...]) -> str | None:
    for reading in readings:
        if not reading.online:
            return InverterStatus.OFFLINE.value
        for key in STATUS_KEYS:
            value = reading.values.get(key)
            if not isinstance(value, str):
                continue
            if value in _RUNNING:
                return InverterStatus.PRODUCING.value
            if value in _STANDBY:
                return InverterStatus.STANDBY.value
            if "FAULT" in value or "ERROR" in value:
                return InverterStatus.FAULT.value
    return None


def _difference(plus: float | None, minus: float | None) -> float | None:
    if plus is None or minus is None:
        return None
    return round(plus - minus, 6)


def system_metrics(readings: tuple[DeviceReading, ...]) -> dict[Metric, Value]:
    """Canonical metrics of a whole system from its device readings.

    Production and battery figures are summed over inverters (several
    inverters can share one dongle); grid and load come from the first
    inverter that reports them, because every inverter on a site sees the
    same meter. Battery figures come from the inverters' ``real_battery``
    data, and from battery devices only when no inverter reports them, so a
    battery is never counted twice.
    """
    inverters = _Lookup(r for r in readings if r.identity.kind is DeviceKind.INVERTER)
    batteries = _Lookup(r for r in readings if r.identity.kind is DeviceKind.BATTERY)
    metrics: dict[Metric, Value] = {}

    def add(metric: Metric, keys: tuple[str, ...], value: Value) -> None:
        if inverters.present(keys) or batteries.present(keys):
            metrics[metric] = value

    add(Metric.PV_POWER, (PV_POWER,), inverters.total((PV_POWER,), "W"))
    add(Metric.PV_ENERGY_TODAY, PV_TODAY, inverters.total(PV_TODAY, "kWh"))
    add(Metric.PV_ENERGY_TOTAL, PV_TOTAL, inverters.total(PV_TOTAL, "kWh"))
    add(Metric.LOAD_POWER, (LOAD_POWER,), inverters.first((LOAD_POWER,), "W"))
    grid_keys = (GRID_IMPORT_POWER, GRID_EXPORT_POWER)
    if inverters.present((GRID_IMPORT_POWER,)) and inverters.present((GRID_EXPORT_POWER,)):
        metrics[Metric.GRID_POWER] = _difference(
            inverters.first(grid_keys[:1], "W"), inverters.first(grid_keys[1:], "W")
        )
    add(
        Metric.GRID_IMPORT_ENERGY,
        (GRID_IMPORT_TOTAL,),
        inverters.first((GRID_IMPORT_TOTAL,), "kWh"),
    )
    add(
        Metric.GRID_EXPORT_ENERGY,
        (GRID_EXPORT_TOTAL,),
        inverters.first((GRID_EXPORT_TOTAL,), "kWh"),
    )
    add(Metric.INVERTER_TEMPERATURE, (TEMPERATURE,), inverters.first((TEMPERATURE,), "°C"))
    if inverters.readings and any(
        key in r.values for r in inverters.readings for key in STATUS_KEYS
    ):
        metrics[Metric.STATUS] = _status(inverters.readings)

    battery_power_keys = (BATTERY_CHARGE_POWER, BATTERY_DISCHARGE_POWER)
    if inverters.present(battery_power_keys):
        metrics[Metric.BATTERY_POWER] = _difference(
            inverters.total((BATTERY_DISCHARGE_POWER,), "W"),
            inverters.total((BATTERY_CHARGE_POWER,), "W"),
        )
    for metric, keys, unit in (
        (Metric.BATTERY_SOC, BATTERY_SOC, "%"),
        (Metric.BATTERY_CHARGE_ENERGY, BATTERY_CHARGE_TOTAL, "kWh"),
        (Metric.BATTERY_DISCHARGE_ENERGY, BATTERY_DISCHARGE_TOTAL, "kWh"),
    ):
        source = inverters if inverters.present(keys) else batteries
        if not source.present(keys):
            continue
        # State of charge is not additive; energies are.
        metrics[metric] = source.first(keys, unit) if unit == "%" else source.total(keys, unit)
    return metrics


def system_extras(readings: tuple[DeviceReading, ...]) -> dict[str, Value]:
    """Source-specific values of the first inverter, under stable names.

    ``pv<n>_voltage`` / ``_current`` / ``_power`` per MPPT (strings are not
    summed: they are a breakdown of the MPPTs, docs/protocols/winet.md#data-services),
    ``mppt_total_power``, ``grid_frequency`` and ``grid_voltage`` (phase A).
    """
    extras: dict[str, Value] = {}
    inverter = next((r for r in readings if r.identity.kind is DeviceKind.INVERTER), None)
    if inverter is None:
        return extras
    lookup = _Lookup((inverter,))
    if GRID_FREQUENCY in inverter.values:
        extras["grid_frequency"] = lookup.first((GRID_FREQUENCY,), "Hz")
    if GRID_VOLTAGE in inverter.values:
        extras["grid_voltage"] = lookup.first((GRID_VOLTAGE,), "V")
    total: float | None = None
    seen = False
    for key, value in inverter.values.items():
        base, _, field = key.rpartition(".")
        match = _MPPT.match(base)
        if match is None or field not in {"voltage", "current", "power"}:
            continue
        extras[f"pv{int(match[1])}_{field}"] = value
        if field == "power":
            seen = True
            if isinstance(value, float):
                total = (total or 0.0) + value
    if seen:
        extras["mppt_total_power"] = None if total is None else round(total, 2)
    return extras


def build_snapshot(
    now: datetime,
    gateway: DeviceIdentity,
    poll: PollData,
    *,
    extras: Mapping[str, Value] | None = None,
) -> Snapshot:
    """The snapshot of one poll cycle; ``gateway`` becomes its identity.

    ``extras`` adds caller values (e.g. connection metrics) to the snapshot's.
    PV power falls back to the MPPT total for models without a DC-power key.
    """
    readings = tuple(device_reading(data) for data in poll.devices)
    metrics = system_metrics(readings)
    system = system_extras(readings)
    if Metric.PV_POWER not in metrics and "mppt_total_power" in system:
        metrics[Metric.PV_POWER] = system["mppt_total_power"]
    return Snapshot(
        taken_at=now,
        metrics=metrics,
        extras={**system, **(extras or {})},
        identity=gateway,
        devices=readings,
    )

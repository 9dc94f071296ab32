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

Parts get values of their own (:attr:`~..model.DeviceReading.metrics`)
where the system's sums would hide them: each inverter when the gateway
lists several, each hybrid inverter's battery (a part ``<inverter
key>_battery``) when it lists several hybrids, and every EV charger. With
one inverter its values are the system's and nothing is repeated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
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
    as_number,
    with_direction_of,
)
from .device_types import DeviceInfo
from .dispatch import battery_capacity_kwh
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
GRID_IMPORT_TODAY = "I18N_COMMON_ENERGY_GET_FROM_GRID_DAILY"
GRID_EXPORT_TODAY = "I18N_COMMON_DAILY_FEED_NETWORK_VOLUME"
BATTERY_CHARGE_TODAY = ("I18N_COMMON_DAILY_BATTERY_CHARGE",)
BATTERY_DISCHARGE_TODAY = ("I18N_COMMON_DAILY_BATTERY_DISCHARGE",)
TEMPERATURE = "I18N_COMMON_AIR_TEM_INSIDE_MACHINE"
# The battery's health and voltage, in the inverter's ``real_battery`` and on
# the SBR stack's own ``real`` (docs/protocols/winet.md#data-services).
BATTERY_HEALTH = "I18N_COMMON_BATTARY_HEALTH"
BATTERY_VOLTAGE = "I18N_COMMON_BATTERY_VOLTAGE"
BATTERY_TEMPERATURE = "I18N_COMMON_BATTERY_TEMPERATURE"
# Sent without a sign (4.0 A while discharging 1.068 kW, docs/protocols/winet.md#data-services):
# the charge and discharge powers beside it give the direction.
BATTERY_CURRENT = "I18N_COMMON_BATTERY_CURRENT"
RUNNING_STATE = "I18N_COMMON_RUNNING_STATE"
STATUS_KEYS = (RUNNING_STATE, "I18N_COMMON_DEVICE_STATUS")
GRID_FREQUENCY = "I18N_COMMON_GRID_FREQUENCY"
GRID_VOLTAGE = "I18N_COMMONUA"
# Phase A/B/C as the inverter measures them (docs/protocols/winet.md#data-services):
# no underscore in the A voltage, an odd name for the A current.
PHASE_VOLTAGES = ("I18N_COMMONUA", "I18N_COMMON_UB", "I18N_COMMON_UC")
PHASE_CURRENTS = ("I18N_COMMON_FRAGMENT_RUN_TYPE1", "I18N_COMMON_IB", "I18N_COMMON_IC")
# The grid meter's own per phase, "Meter Phase-A Voltage" … (optmybat's SH5.0RS
# capture, docs/protocols/winet.md#data-services): the grid's side of the site.
METER_VOLTAGES = ("I18N_CONFIG_KEY_1003332", "I18N_CONFIG_KEY_1003334", "I18N_CONFIG_KEY_1003336")
# The backup (EPS) output, in total and per phase (docs/protocols/winet.md#data-services).
BACKUP_POWER = "I18N_COMMON_TOTAL_BACKUP_POWER_WLECIVPM"
BACKUP_PHASE_POWERS = (
    "I18N_COMMON_PHASE_A_BACKUP_POWER_BRBJDGVB",
    "I18N_COMMON_PHASE_B_BACKUP_POWER_OCDHLMZB",
    "I18N_COMMON_PHASE_C_BACKUP_POWER_HAMBBGNL",
)
# The inverter's AC output as a whole, its DC bus and its PV array's insulation resistance
# (docs/protocols/winet.md#data-services):
# name, key, unit (the power factor is a bare fraction).
INVERTER_VALUES = (
    ("reactive_power", "I18N_COMMON_TOTAL_REACTIVE_POWER", "var"),
    ("apparent_power", "I18N_COMMON_TOTAL_APPARENT_POWER", "VA"),
    ("power_factor", "I18N_COMMON_TOTAL_POWER_FACTOR", ""),
    ("dc_bus_voltage", "I18N_COMMON_BUS_VOLTAGE", "V"),
    ("insulation_resistance", "I18N_COMMON_SQUARE_ARRAY_INSULATION_IMPEDANCE", "kΩ"),
)
METER_CURRENTS = ("I18N_CONFIG_KEY_1003331", "I18N_CONFIG_KEY_1003333", "I18N_CONFIG_KEY_1003335")
# "Reactive Power Uploaded by Meter" (var, klaren sungrow SH10RT): the grid meter's.
METER_REACTIVE_POWER = "I18N_COMMON_REACTIVE_POWER_UPLOADED_BY_ME_KISYMRKR"
# An EV charger (dev_type 46) is polled with ``real`` only. One public
# capture shows part of its reply (docs/protocols/winet.md#ev-chargers, an
# AC007E-01): the energy it delivered in its life (Wh; two underscores and a
# random suffix, as captured) and each phase's charging voltage and current.
# The captured part has no power, no day's energy and no state.
CHARGER_ENERGY = ("I18N_COMMON__TOTAL_DELIVERED_ENERGY_BMUDODSV",)
CHARGER_PHASES = (
    (
        "I18N_COMMON_PHASE_A_CHARGING_VOLTAGE_JYAXKVKA",
        "I18N_COMMON_PHASE_A_CHARGING_CURRENT_KMPZTBUO",
    ),
    (
        "I18N_COMMON_PHASE_B_CHARGING_VOLTAGE_QMUJVJCG",
        "I18N_COMMON_PHASE_B_CHARGING_CURRENT_SAHGKWBA",
    ),
    (
        "I18N_COMMON_PHASE_C_CHARGING_VOLTAGE_HYSJHJXA",
        "I18N_COMMON_PHASE_C_CHARGING_CURRENT_PESAFOPL",
    ),
)

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
_I18N_PREFIX = re.compile(r"^I18N_(?:COMMON|CONFIG_KEY)_")

#: What one of several inverters shows of its own (the rest is the site's).
INVERTER_METRICS = frozenset(
    {
        Metric.PV_POWER,
        Metric.PV_ENERGY_TODAY,
        Metric.PV_ENERGY_TOTAL,
        Metric.INVERTER_TEMPERATURE,
        Metric.STATUS,
    }
)
#: What the battery of one of several hybrid inverters shows.
BATTERY_METRICS = frozenset(
    {
        Metric.BATTERY_POWER,
        Metric.BATTERY_SOC,
        Metric.BATTERY_CHARGE_ENERGY,
        Metric.BATTERY_CHARGE_ENERGY_TODAY,
        Metric.BATTERY_DISCHARGE_ENERGY,
        Metric.BATTERY_DISCHARGE_ENERGY_TODAY,
    }
)


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
        key=device.part_key,
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

    def mean(self, keys: tuple[str, ...], target: str) -> float | None:
        """Mean over devices of each device's first known value among ``keys``."""
        found = [_Lookup((reading,)).first(keys, target) for reading in self.readings]
        known = [value for value in found if value is not None]
        return round(sum(known) / len(known), 6) if known else None

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
    for metric, key in (
        (Metric.GRID_IMPORT_ENERGY_TODAY, GRID_IMPORT_TODAY),
        (Metric.GRID_EXPORT_ENERGY_TODAY, GRID_EXPORT_TODAY),
    ):
        add(metric, (key,), inverters.first((key,), "kWh"))
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
        (Metric.BATTERY_CHARGE_ENERGY_TODAY, BATTERY_CHARGE_TODAY, "kWh"),
        (Metric.BATTERY_DISCHARGE_ENERGY_TODAY, BATTERY_DISCHARGE_TODAY, "kWh"),
    ):
        source = inverters if inverters.present(keys) else batteries
        if not source.present(keys):
            continue
        # State of charge is not additive (several batteries: their mean, as
        # their sizes are unknown); energies are.
        metrics[metric] = source.mean(keys, unit) if unit == "%" else source.total(keys, unit)
    capacities = [battery_capacity_kwh(r.identity.model or "") for r in batteries.readings]
    if capacities and all(capacities):
        # Only SBR stacks name their capacity (SBR096 → 9.6 kWh); a battery
        # of unknown size leaves the sum unknown rather than too small.
        metrics[Metric.BATTERY_CAPACITY] = round(sum(c for c in capacities if c), 3)
    return metrics


def system_extras(
    readings: tuple[DeviceReading, ...], *, first_inverter: bool = True
) -> dict[str, Value]:
    """Source-specific values of the site and its first inverter, under stable names.

    ``pv<n>_voltage`` / ``_current`` / ``_power`` per MPPT (strings are not
    summed: they are a breakdown of the MPPTs, docs/protocols/winet.md#data-services),
    ``mppt_total_power``, ``grid_frequency``, ``grid_voltage`` (phase A) and
    ``grid_voltage_<a|b|c>`` / ``grid_current_<a|b|c>`` per phase, the grid
    meter's ``meter_voltage_<a|b|c>`` / ``meter_current_<a|b|c>`` and
    ``grid_reactive_power`` (from the first inverter that reports them: every
    inverter sees the same meter),
    ``backup_power`` and ``backup_power_<a|b|c>`` (summed over inverters),
    the battery's ``battery_soh``, ``battery_voltage``, ``battery_temperature`` and
    ``battery_current`` (:func:`battery_extras`), and the inverter's own
    (:func:`inverter_values`). With ``first_inverter`` false the MPPTs and the
    inverter's own values are left out (they belong to each inverter).
    """
    extras = {**battery_extras(readings), **_site_extras(readings)}
    inverter = next((r for r in readings if r.identity.kind is DeviceKind.INVERTER), None)
    if inverter is None:
        return extras
    lookup = _Lookup((inverter,))
    if GRID_FREQUENCY in inverter.values:
        extras["grid_frequency"] = lookup.first((GRID_FREQUENCY,), "Hz")
    if GRID_VOLTAGE in inverter.values:
        extras["grid_voltage"] = lookup.first((GRID_VOLTAGE,), "V")
    for phase, voltage, current in zip("abc", PHASE_VOLTAGES, PHASE_CURRENTS, strict=True):
        if voltage in inverter.values:
            extras[f"grid_voltage_{phase}"] = lookup.first((voltage,), "V")
        if current in inverter.values:
            extras[f"grid_current_{phase}"] = lookup.first((current,), "A")
    if first_inverter:
        extras.update(_strings(inverter))
        extras.update(inverter_values(inverter))
    return extras


def inverter_values(inverter: DeviceReading) -> dict[str, Value]:
    """The inverter's own values of :data:`INVERTER_VALUES`, in the units that table names."""
    lookup = _Lookup((inverter,))
    return {
        name: lookup.first((key,), unit) if unit else as_number(inverter.values[key])
        for name, key, unit in INVERTER_VALUES
        if key in inverter.values
    }


def _site_extras(readings: tuple[DeviceReading, ...]) -> dict[str, Value]:
    """The grid meter's phases and reactive power (the first inverter's); the backup output.

    The backup output is summed over all inverters: each has its own.
    """
    inverters = _Lookup(r for r in readings if r.identity.kind is DeviceKind.INVERTER)
    extras: dict[str, Value] = {}
    for phase, voltage, current in zip("abc", METER_VOLTAGES, METER_CURRENTS, strict=True):
        if inverters.present((voltage,)):
            extras[f"meter_voltage_{phase}"] = inverters.first((voltage,), "V")
        if inverters.present((current,)):
            extras[f"meter_current_{phase}"] = inverters.first((current,), "A")
    if inverters.present((METER_REACTIVE_POWER,)):
        extras["grid_reactive_power"] = inverters.first((METER_REACTIVE_POWER,), "var")
    for name, key in (
        ("backup_power", BACKUP_POWER),
        *zip(
            ("backup_power_a", "backup_power_b", "backup_power_c"), BACKUP_PHASE_POWERS, strict=True
        ),
    ):
        if inverters.present((key,)):
            extras[name] = inverters.total((key,), "W")
    return extras


def battery_extras(readings: tuple[DeviceReading, ...]) -> dict[str, Value]:
    """The battery's state of health (%) and voltage (V), when the system has one battery.

    From the hybrid inverter's ``real_battery``, else the battery stack's own
    ``real``. With several hybrid inverters (or stacks) none: a health or a
    voltage does not add up; each hybrid's battery part shows its own.
    """
    hybrids = [
        r for r in readings if r.identity.kind is DeviceKind.INVERTER and BATTERY_HEALTH in r.values
    ]
    stacks = [r for r in readings if r.identity.kind is DeviceKind.BATTERY]
    sources = hybrids or stacks
    if len(sources) != 1:
        return {}
    # A stack's own reading has no battery powers: the inverters' sign its current.
    return _battery_values(sources[0], signed_by=readings)


def _battery_values(
    reading: DeviceReading, signed_by: tuple[DeviceReading, ...] | None = None
) -> dict[str, Value]:
    lookup = _Lookup((reading,))
    powers = _Lookup(signed_by) if signed_by is not None else lookup
    extras: dict[str, Value] = {
        name: lookup.first((key,), unit)
        for name, key, unit in (
            ("battery_soh", BATTERY_HEALTH, "%"),
            ("battery_voltage", BATTERY_VOLTAGE, "V"),
            ("battery_temperature", BATTERY_TEMPERATURE, "°C"),
        )
        if key in reading.values
    }
    if BATTERY_CURRENT in reading.values:
        # Sent as a magnitude: the hybrid's charge and discharge powers sign it.
        power = _difference(
            powers.first((BATTERY_DISCHARGE_POWER,), "W"),
            powers.first((BATTERY_CHARGE_POWER,), "W"),
        )
        current = lookup.first((BATTERY_CURRENT,), "A")
        if power is not None or current == 0:
            # Unsigned it would read as discharging (+) while charging: better none.
            extras["battery_current"] = with_direction_of(current, power)
    return extras


def _strings(inverter: DeviceReading) -> dict[str, Value]:
    """``pv<n>_*`` per MPPT and their ``mppt_total_power``."""
    extras: dict[str, Value] = {}
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


def _state_name(value: Value) -> str | None:
    """A state the gateway sends as an I18N key, as a stable lowercase name."""
    if not isinstance(value, str):
        return None
    return _I18N_PREFIX.sub("", value).lower() or None


def _inverter_part(reading: DeviceReading) -> DeviceReading:
    """One of several inverters, with its own PV, temperature, state and strings."""
    own = system_metrics((reading,))
    extras: dict[str, Value] = {**_strings(reading), **inverter_values(reading)}
    if Metric.PV_POWER not in own and "mppt_total_power" in extras:
        own[Metric.PV_POWER] = extras["mppt_total_power"]
    if RUNNING_STATE in reading.values:
        extras["running_state"] = _state_name(reading.values[RUNNING_STATE])
    return replace(
        reading,
        metrics={m: v for m, v in own.items() if m in INVERTER_METRICS},
        extras=extras,
    )


def _battery_part(device: DeviceInfo, reading: DeviceReading) -> DeviceReading:
    """The battery of one of several hybrid inverters, from the inverter's data."""
    own = system_metrics((reading,))
    metrics = {m: v for m, v in own.items() if m in BATTERY_METRICS}
    inverter = reading.identity
    return DeviceReading(
        identity=DeviceIdentity(
            key=device.battery_key,
            kind=DeviceKind.BATTERY,
            manufacturer=MANUFACTURER,
            # No device of its own: named after the inverter that carries it.
            model=inverter.model,
            serial=inverter.serial,
        ),
        online=reading.online,
        metrics=metrics,
        extras=_battery_values(reading),
    )


def _charger_power(lookup: _Lookup) -> float | None:
    """The charging power from each phase's voltage and current, W.

    The charger reports no power among its captured values; voltage × current
    is its apparent power, which for an EV charger (power factor close to 1)
    is its power. ``None`` unless every phase it lists reads as a number.
    """
    phases = [(v, i) for v, i in CHARGER_PHASES if lookup.present((v, i))]
    if not phases:
        return None
    watts = 0.0
    for voltage_key, current_key in phases:
        voltage, current = lookup.first((voltage_key,), "V"), lookup.first((current_key,), "A")
        if voltage is None or current is None:
            return None
        watts += voltage * current
    return round(watts, 1)


def _charger_part(reading: DeviceReading) -> DeviceReading:
    """An EV charger: power (W), lifetime energy (kWh), each phase's V and A, status."""
    lookup = _Lookup((reading,))
    extras: dict[str, Value] = {}
    if any(lookup.present(phase) for phase in CHARGER_PHASES):
        extras["charger_power"] = _charger_power(lookup)
    for phase, (voltage, current) in zip("abc", CHARGER_PHASES, strict=True):
        if voltage in reading.values:
            extras[f"charger_voltage_{phase}"] = lookup.first((voltage,), "V")
        if current in reading.values:
            extras[f"charger_current_{phase}"] = lookup.first((current,), "A")
    if lookup.present(CHARGER_ENERGY):
        extras["charger_energy_total"] = lookup.first(CHARGER_ENERGY, "kWh")
    # Not in the captured part of its reply: read as every other Sungrow
    # device reports its state, shown only if the charger does the same.
    for key in STATUS_KEYS:
        if key in reading.values:
            extras["charger_status"] = _state_name(reading.values[key])
            break
    return replace(reading, extras=extras)


def part_readings(poll: PollData, readings: tuple[DeviceReading, ...]) -> tuple[DeviceReading, ...]:
    """Every device's reading, with part values where parts need their own.

    Several inverters: each gets its own values; several hybrids: each also
    gets a battery part right after it. Chargers always have their own.
    """
    inverters = sum(1 for r in readings if r.identity.kind is DeviceKind.INVERTER)
    hybrids = sum(1 for data in poll.devices if data.device.hybrid)
    parts: list[DeviceReading] = []
    for data, reading in zip(poll.devices, readings, strict=True):
        kind = reading.identity.kind
        if kind is DeviceKind.CHARGER:
            parts.append(_charger_part(reading))
        elif kind is DeviceKind.INVERTER and inverters > 1:
            parts.append(_inverter_part(reading))
        else:
            parts.append(reading)
        if data.device.hybrid and hybrids > 1:
            parts.append(_battery_part(data.device, reading))
    return tuple(parts)


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
    raw = tuple(device_reading(data) for data in poll.devices)
    metrics = system_metrics(raw)
    inverters = sum(1 for r in raw if r.identity.kind is DeviceKind.INVERTER)
    system = system_extras(raw, first_inverter=inverters <= 1)
    parts = part_readings(poll, raw)
    if Metric.PV_POWER not in metrics:
        # Models without a DC-power key: the MPPTs' total, summed over inverters.
        if inverters > 1:
            own = [
                as_number(r.metrics[Metric.PV_POWER]) for r in parts if Metric.PV_POWER in r.metrics
            ]
            if own:
                known = [value for value in own if value is not None]
                metrics[Metric.PV_POWER] = round(sum(known), 2) if known else None
        elif "mppt_total_power" in system:
            metrics[Metric.PV_POWER] = system["mppt_total_power"]
    return Snapshot(
        taken_at=now,
        metrics=metrics,
        extras={**system, **(extras or {})},
        identity=gateway,
        devices=parts,
    )

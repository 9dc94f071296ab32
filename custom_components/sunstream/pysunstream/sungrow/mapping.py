"""Decoded Sungrow values → the canonical :class:`~..model.Snapshot`.

Pure. The register map carries the canonical metric of each row; this
module adds what needs more than one register
(docs/protocols/sungrow-modbus.md#signs):

* battery power: the magnitude at 13021 with the direction of the running
  state at 13000 (charging → negative, discharging → positive); where the
  running state is not reported (0 while the battery moves, as through a
  WiNet-S on some models) the direction comes from the power balance
  load − PV − grid;
* load power on a string inverter: its AC output plus the grid meter
  (+ import), as a hybrid reports at 13007 itself;
* status from the system state at 12999 (hybrid) or the PV power (string,
  whose work-state registers Sunstream does not read);
* battery mode from the EMS registers read back (13049, 13050);
* each MPPT's power from its voltage and current (the map has no power row);
* the grid voltage the alerts read: phase A (5018), and each phase's voltage
  and current (5018.., 13030..) under the names the other sources use;
* the battery current, a magnitude at 13020, signed as the battery power.

Every decoded value that is not a canonical metric goes to ``extras``;
battery-part values also fill the battery's :class:`~..model.DeviceReading`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..modbus.registers import Cadence, Part
from ..model import (
    BatteryMode,
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
from .models import Profile
from .registers import (
    BY_KEY,
    COMMAND_CHARGE,
    COMMAND_DISCHARGE,
    COMMAND_STOP,
    EMS_FORCED,
    EMS_MODES,
    EMS_SELF_CONSUMPTION,
    MPPTS,
    RUNNING_CHARGING,
    RUNNING_DISCHARGING,
)
from .schedule import OFFSETS as SCHEDULE_WORDS

MANUFACTURER = "Sungrow"

#: Unit of every value key (registers and computed), for the HA side.
UNITS: Mapping[str, str] = {
    **{key: reg.unit for key, reg in BY_KEY.items() if reg.unit},
}

_STATUS: Mapping[str, InverterStatus] = {
    "running": InverterStatus.PRODUCING,
    "forced": InverterStatus.PRODUCING,
    "off_grid": InverterStatus.PRODUCING,
    "external_ems": InverterStatus.PRODUCING,
    "fault": InverterStatus.FAULT,
}

#: Raw words that only make sense decoded (the schedule's as window settings).
_HIDDEN = frozenset(
    {
        "running_state",
        "battery_power_magnitude",
        "ems_mode",
        "ems_command",
        *SCHEDULE_WORDS,
        # Shown under the names every source gives its phases (grid_voltage_a …).
        *(f"phase_{phase}_{quantity}" for phase in "abc" for quantity in ("voltage", "current")),
    }
)


def status_of(system_state: Value) -> InverterStatus:
    """Inverter status from the 12999 system-state name (stop/standby/startup → standby)."""
    if not isinstance(system_state, str):
        return InverterStatus.OFFLINE
    return _STATUS.get(system_state, InverterStatus.STANDBY)


def battery_power(values: Mapping[str, Value]) -> float | None:
    """Signed battery power (+ discharge, − charge) from magnitude and running state."""
    magnitude = as_number(values.get("battery_power_magnitude"))
    if magnitude is None:
        return None
    bits = int(as_number(values.get("running_state")) or 0)
    if bits & RUNNING_CHARGING:
        return -magnitude
    if bits & RUNNING_DISCHARGING:
        return magnitude
    if magnitude == 0:
        return 0.0
    load, pv, grid = (as_number(values.get(k)) for k in ("load_power", "pv_power", "grid_power"))
    if load is None or pv is None or grid is None:
        return None
    return magnitude if load - pv - grid > 0 else -magnitude


def battery_mode(values: Mapping[str, Value]) -> BatteryMode | None:
    """Who drives the battery, from the EMS mode and command read back."""
    mode = as_number(values.get("ems_mode"))
    command = as_number(values.get("ems_command"))
    if mode is None:
        return None
    if int(mode) == EMS_SELF_CONSUMPTION:
        return BatteryMode.SELF_CONSUMPTION
    if int(mode) != EMS_FORCED or command is None:
        return None
    return {
        COMMAND_CHARGE: BatteryMode.FORCED_CHARGE,
        COMMAND_DISCHARGE: BatteryMode.FORCED_DISCHARGE,
        COMMAND_STOP: BatteryMode.IDLE,
    }.get(int(command))


def ems_mode_name(values: Mapping[str, Value]) -> str | None:
    """The EMS mode read back, by name (13049)."""
    mode = as_number(values.get("ems_mode"))
    if mode is None:
        return None
    return EMS_MODES.get(int(mode), f"unknown_{int(mode)}")


def serial_of(values: Mapping[str, Value]) -> str | None:
    """The inverter serial from input 4989."""
    serial = values.get("serial")
    return serial if isinstance(serial, str) and serial else None


def system_identity(values: Mapping[str, Value], profile: Profile) -> DeviceIdentity:
    """The inverter as a device; the model comes from the device type code."""
    serial = serial_of(values)
    firmware = values.get("arm_version")
    return DeviceIdentity(
        key=serial or "sungrow",
        kind=DeviceKind.INVERTER,
        manufacturer=MANUFACTURER,
        model=profile.model.name if profile.model.code else None,
        serial=serial,
        firmware=firmware if isinstance(firmware, str) and firmware else None,
    )


def battery_reading(values: Mapping[str, Value], system_key: str) -> DeviceReading:
    """The battery as a sub-device, with every battery-part value."""
    part: dict[str, Value] = {
        key: value
        for key, value in values.items()
        if key in BY_KEY and BY_KEY[key].part is Part.BATTERY and key not in _HIDDEN
    }
    part["battery_power"] = battery_power(values)
    return DeviceReading(
        identity=DeviceIdentity(
            key=f"{system_key}_battery", kind=DeviceKind.BATTERY, manufacturer=MANUFACTURER
        ),
        values=part,
        units={key: UNITS.get(key, "W") for key in part if key in UNITS or key == "battery_power"},
    )


def build_snapshot(
    now: datetime, values: Mapping[str, Value], profile: Profile, identity: DeviceIdentity
) -> Snapshot:
    """Map one poll's decoded values into a snapshot."""
    rows = [
        reg for cadence in (Cadence.REALTIME, Cadence.SLOW) for reg in profile.registers(cadence)
    ]
    metrics: dict[Metric, Value] = {
        # A row the inverter does not answer (exception 2) is no metric at
        # all, so it gets no entity (an SG without meter counters).
        reg.metric: values.get(reg.key)
        for reg in rows
        if reg.metric is not None and reg.key in values
    }
    devices: tuple[DeviceReading, ...] = ()
    if profile.hybrid:
        metrics[Metric.BATTERY_POWER] = battery_power(values)
        metrics[Metric.STATUS] = status_of(values.get("system_state")).value
        mode = battery_mode(values)
        metrics[Metric.BATTERY_MODE] = mode.value if mode else None
        devices = (battery_reading(values, identity.key),)
    else:
        pv = as_number(values.get("pv_power"))
        ac = as_number(values.get("inverter_power"))
        grid = as_number(values.get("grid_power"))
        metrics[Metric.LOAD_POWER] = None if ac is None or grid is None else ac + grid
        metrics[Metric.STATUS] = (
            InverterStatus.OFFLINE
            if pv is None
            else InverterStatus.PRODUCING
            if pv > 0
            else InverterStatus.STANDBY
        ).value
    extras: dict[str, Value] = {
        reg.key: values.get(reg.key)
        for reg in rows
        if reg.metric is None and reg.key not in _HIDDEN
    }
    # Phase A output voltage, as the WiNet source gives its grid voltage (the
    # grid_voltage alert reads it).
    extras["grid_voltage"] = values.get("phase_a_voltage")
    for phase in "abc":
        for quantity in ("voltage", "current"):
            if f"phase_{phase}_{quantity}" in values:
                extras[f"grid_{quantity}_{phase}"] = values[f"phase_{phase}_{quantity}"]
    for n in range(1, MPPTS + 1):
        volts, amps = (
            as_number(values.get(f"pv{n}_voltage")),
            as_number(values.get(f"pv{n}_current")),
        )
        extras[f"pv{n}_power"] = None if volts is None or amps is None else round(volts * amps)
    if profile.hybrid:
        extras["ems_mode"] = ems_mode_name(values)
        # 13020 is a magnitude: the battery power's direction signs it.
        extras["battery_current"] = with_direction_of(
            values.get("battery_current"), metrics[Metric.BATTERY_POWER]
        )
    return Snapshot(
        taken_at=now, metrics=metrics, extras=extras, identity=identity, devices=devices
    )

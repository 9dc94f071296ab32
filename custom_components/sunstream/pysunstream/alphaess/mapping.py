"""Decoded AlphaESS values → the canonical :class:`~..model.Snapshot`.

Pure. The register map already carries the canonical metric of each row;
this module adds what needs more than one register (docs/protocols/alphaess.md#signs):

* PV power = the six DC strings + the AC PV meter;
* load power = PV + grid + battery (valid with the
  model's signs: grid + import, battery + discharge);
* status from the inverter work mode (Note5);
* battery mode from the dispatch block read back.

Every decoded value that is not a canonical metric goes to ``extras``
(voltages, SOH, per-string values, faults, settings); battery-part values
also fill the battery's :class:`~..model.DeviceReading`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..model import (
    DeviceIdentity,
    DeviceKind,
    DeviceReading,
    InverterStatus,
    Metric,
    Snapshot,
    Value,
    as_number,
)
from .dispatch import DispatchState
from .registers import BY_KEY, PV_STRINGS, REGISTERS, WINDOW_REGISTERS, Cadence, Part

MANUFACTURER = "AlphaESS"

#: Unit of every value key (registers and computed), for the HA side.
UNITS: Mapping[str, str] = {
    **{reg.key: reg.unit for reg in REGISTERS if reg.unit},
    "pv_dc_power": "W",
    "dispatch_power": "W",
    "dispatch_target_soc": "%",
}

_STATUS: Mapping[str, InverterStatus] = {
    "wait": InverterStatus.STANDBY,
    "online": InverterStatus.PRODUCING,
    "ups": InverterStatus.PRODUCING,
    "bypass": InverterStatus.STANDBY,
    "fault": InverterStatus.FAULT,
    "dc": InverterStatus.PRODUCING,
}

#: Raw words that only make sense decoded (see :mod:`.dispatch`, and
#: :mod:`.settings` for the window times).
_HIDDEN = frozenset(
    {
        "dispatch_start",
        "dispatch_active_power",
        "dispatch_reactive_power",
        "dispatch_soc",
        *(reg.key for regs in WINDOW_REGISTERS.values() for reg in regs.times),
    }
)


def status_of(work_mode: Value) -> InverterStatus:
    """Inverter status from the 0x0440 work-mode name (self-test/update → standby)."""
    if not isinstance(work_mode, str):
        return InverterStatus.OFFLINE
    return _STATUS.get(work_mode, InverterStatus.STANDBY)


def _sum(values: Mapping[str, Value], keys: list[str]) -> float | None:
    nums = [as_number(values.get(key)) for key in keys]
    if any(n is None for n in nums):
        return None
    return float(sum(n for n in nums if n is not None))


def firmware_string(values: Mapping[str, Value]) -> str | None:
    """EMS version as ``V1.0.23R1``: high.middle.low and the suffix."""
    parts = [as_number(values.get(f"ems_version_{p}")) for p in ("high", "middle", "low")]
    if any(p is None for p in parts):
        return None
    suffix = values.get("ems_version_suffix")
    text = "V" + ".".join(str(int(p or 0)) for p in parts)
    return text + (suffix if isinstance(suffix, str) else "")


def firmware_tuple(values: Mapping[str, Value]) -> tuple[int, int, int] | None:
    """EMS version as a comparable triple, for :func:`.quirks.resolve_profile`."""
    parts = [as_number(values.get(f"ems_version_{p}")) for p in ("high", "middle", "low")]
    if any(p is None for p in parts):
        return None
    high, middle, low = (int(p or 0) for p in parts)
    return (high, middle, low)


def serial_of(values: Mapping[str, Value]) -> str | None:
    """The system serial: the EMS serial ("AL…"/"AE…"), else the inverter's."""
    for key in ("ems_serial", "inverter_serial"):
        value = values.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def system_identity(values: Mapping[str, Value], model: str | None) -> DeviceIdentity:
    """The unit (EMS + inverter) as a device."""
    serial = serial_of(values)
    return DeviceIdentity(
        key=serial or "alphaess",
        kind=DeviceKind.INVERTER,
        manufacturer=MANUFACTURER,
        model=model,
        serial=serial,
        firmware=firmware_string(values),
    )


def battery_reading(values: Mapping[str, Value], system_key: str) -> DeviceReading:
    """The battery as a sub-device, with every battery-part value."""
    version = as_number(values.get("battery_bmu_version"))
    battery_type = values.get("battery_type")
    part = {
        reg.key: values[reg.key]
        for reg in REGISTERS
        if reg.part is Part.BATTERY and reg.key in values
    }
    return DeviceReading(
        identity=DeviceIdentity(
            key=f"{system_key}_battery",
            kind=DeviceKind.BATTERY,
            manufacturer=MANUFACTURER,
            model=battery_type if isinstance(battery_type, str) else None,
            firmware=f"V{int(version) // 100}.{int(version) % 100:02d}" if version else None,
        ),
        values=part,
        units={key: UNITS[key] for key in part if key in UNITS},
    )


def build_snapshot(
    now: datetime,
    values: Mapping[str, Value],
    dispatch: DispatchState | None,
    identity: DeviceIdentity,
) -> Snapshot:
    """Map one poll's decoded values into a snapshot."""
    metrics: dict[Metric, Value] = {
        reg.metric: values.get(reg.key) for reg in REGISTERS if reg.metric is not None
    }
    pv_dc = _sum(values, [f"pv{n}_power" for n in range(1, PV_STRINGS + 1)])
    pv_ac = as_number(values.get("pv_meter_power"))
    pv = None if pv_dc is None or pv_ac is None else pv_dc + pv_ac
    metrics[Metric.PV_POWER] = pv
    grid = as_number(values.get("grid_power"))
    battery = as_number(values.get("battery_power"))
    metrics[Metric.LOAD_POWER] = (
        None if pv is None or grid is None or battery is None else pv + grid + battery
    )
    metrics[Metric.STATUS] = status_of(values.get("inverter_work_mode")).value
    metrics[Metric.BATTERY_MODE] = dispatch.battery_mode.value if dispatch else None

    extras: dict[str, Value] = {
        key: value
        for key, value in values.items()
        if key in BY_KEY
        and BY_KEY[key].metric is None
        and BY_KEY[key].cadence is not Cadence.IDENTITY
        and key not in _HIDDEN
    }
    extras["pv_dc_power"] = pv_dc
    if dispatch is not None:
        extras["dispatch_power"] = dispatch.power_w
        extras["dispatch_target_soc"] = dispatch.soc if dispatch.active else None
    return Snapshot(
        taken_at=now,
        metrics=metrics,
        extras=extras,
        identity=identity,
        devices=(battery_reading(values, identity.key),),
    )

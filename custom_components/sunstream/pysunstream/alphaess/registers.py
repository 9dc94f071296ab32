"""The AlphaESS register map, as data.

Every register Sunstream reads is one :class:`Register` row: where it is,
how its words decode, the scale the official documents give
(docs/protocols/alphaess.md#register-map), its unit, its sign relative to the
canonical model and the canonical :class:`~..model.Metric` it feeds, if any.
Nothing here does I/O; the block planner groups these rows into requests
and the decoder turns register dumps into values.

Why data and not code: existing clients disagree on scales per model and
firmware. Keeping the documented values here and the deviations in
:mod:`.quirks` makes each disagreement one visible line instead of a
branch in a parser.

Sign conventions already match the canonical model, so every ``sign`` is
``+1``: 0x0021 grid power is "+ import, − export" and 0x0126 battery power
is "− charge, + discharge" (docs/protocols/alphaess.md#signs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..controls import Setting
from ..modbus.registers import Cadence, Part, Register, RegType, row as _r
from ..model import Metric

__all__ = ["BY_KEY", "REGISTERS", "Cadence", "Part", "RegType", "Register", "registers_for"]


U16, S16, U32, S32, ASCII = RegType.U16, RegType.S16, RegType.U32, RegType.S32, RegType.ASCII
KWH, W, V, A, HZ, C, PCT = "kWh", "W", "V", "A", "Hz", "°C", "%"
_BAT = Part.BATTERY
_SLOW = Cadence.SLOW
_ID = Cadence.IDENTITY

#: What 0x0440 "inverter work mode" means (docs/protocols/alphaess.md#enumerations).
WORK_MODES: Mapping[int, str] = {
    0: "wait",
    1: "online",
    2: "ups",
    3: "bypass",
    4: "fault",
    5: "dc",
    6: "self_test",
    7: "check",
    8: "update_master",
    9: "update_slave",
    10: "update_arm",
}

#: Battery type codes at 0x011A (docs/protocols/alphaess.md#enumerations).
BATTERY_TYPES: Mapping[int, str] = {
    2: "M4860",
    3: "M48100",
    13: "48112-P",
    16: "Smile5-BAT",
    24: "M4856-P",
    27: "Smile-BAT-10.3P",
    30: "Smile-BAT-10.1P",
    33: "Smile-BAT-5.8P",
    34: "Smile-BAT5-JP",
    35: "Smile-BAT-13.7P",
}

#: System mode codes at 0x0805 (docs/protocols/alphaess.md#enumerations).
SYSTEM_MODES: Mapping[int, str] = {1: "ac", 2: "dc", 3: "hybrid"}


def _grid() -> list[Register]:
    rows = [
        _r("grid_export_energy", 0x0010, U32, 0.01, KWH, metric=Metric.GRID_EXPORT_ENERGY),
        _r("grid_import_energy", 0x0012, U32, 0.01, KWH, metric=Metric.GRID_IMPORT_ENERGY),
    ]
    for i, phase in enumerate("abc"):
        rows.append(_r(f"grid_voltage_{phase}", 0x0014 + i, U16, 1, V))
        rows.append(_r(f"grid_current_{phase}", 0x0017 + i, S16, 0.1, A))
        rows.append(_r(f"grid_power_{phase}", 0x001B + 2 * i, S32, 1, W))
    rows += [
        _r("grid_frequency", 0x001A, U16, 0.01, HZ),
        _r("grid_power", 0x0021, S32, 1, W, metric=Metric.GRID_POWER),
        _r("grid_reactive_power", 0x0029, S32, 1, "var"),
        _r("grid_apparent_power", 0x0031, S32, 1, "VA"),
        _r("grid_power_factor", 0x0036, S16, 0.01),
    ]
    return rows


def _pv_meter() -> list[Register]:
    # AC-coupled PV seen by the PV meter; added to the DC strings
    # (docs/protocols/alphaess.md#signs).
    return [
        _r("pv_meter_energy", 0x0090, U32, 0.01, KWH),
        _r("pv_meter_power", 0x00A1, S32, 1, W),
    ]


def _battery() -> list[Register]:
    return [
        _r("battery_voltage", 0x0100, U16, 0.1, V, part=_BAT),
        _r("battery_current", 0x0101, S16, 0.1, A, part=_BAT),
        _r("battery_soc", 0x0102, U16, 0.1, PCT, metric=Metric.BATTERY_SOC, part=_BAT),
        _r("battery_status", 0x0103, U16, part=_BAT),
        _r("battery_relay_status", 0x0104, U16, part=_BAT),
        _r("battery_min_cell_voltage", 0x0107, U16, 0.001, V, part=_BAT),
        _r("battery_max_cell_voltage", 0x010A, U16, 0.001, V, part=_BAT),
        _r("battery_min_cell_temperature", 0x010D, S16, 0.1, C, part=_BAT),
        _r("battery_max_cell_temperature", 0x0110, S16, 0.1, C, part=_BAT),
        _r("battery_max_charge_current", 0x0111, U16, 0.1, A, part=_BAT),
        _r("battery_max_discharge_current", 0x0112, U16, 0.1, A, part=_BAT),
        _r("battery_bmu_version", 0x0115, U16, part=_BAT),
        _r("battery_modules", 0x0118, U16, part=_BAT),
        _r(
            "battery_capacity",
            0x0119,
            U16,
            0.1,
            KWH,
            metric=Metric.BATTERY_CAPACITY,
            part=_BAT,
        ),
        _r("battery_type", 0x011A, U16, options=BATTERY_TYPES, part=_BAT),
        _r("battery_soh", 0x011B, U16, 0.1, PCT, part=_BAT),
        _r("battery_fault", 0x011E, U32, part=_BAT),
        _r(
            "battery_charge_energy",
            0x0120,
            U32,
            0.1,
            KWH,
            metric=Metric.BATTERY_CHARGE_ENERGY,
            part=_BAT,
        ),
        _r(
            "battery_discharge_energy",
            0x0122,
            U32,
            0.1,
            KWH,
            metric=Metric.BATTERY_DISCHARGE_ENERGY,
            part=_BAT,
        ),
        _r("battery_grid_charge_energy", 0x0124, U32, 0.1, KWH, part=_BAT),
        _r("battery_power", 0x0126, S16, 1, W, metric=Metric.BATTERY_POWER, part=_BAT),
        _r("battery_remaining_time", 0x0127, U16, 1, "min", part=_BAT),
        _r("battery_max_charge_power", 0x012C, U16, 1, W, part=_BAT),
        _r("battery_max_discharge_power", 0x012D, U16, 1, W, part=_BAT),
    ]


def _inverter() -> list[Register]:
    rows: list[Register] = []
    for i in range(3):
        rows.append(_r(f"inverter_voltage_l{i + 1}", 0x0400 + i, U16, 0.1, V))
        rows.append(_r(f"inverter_current_l{i + 1}", 0x0403 + i, S16, 0.1, A))
        rows.append(_r(f"inverter_power_l{i + 1}", 0x0406 + 2 * i, S32, 1, W))
    rows += [
        _r("inverter_power", 0x040C, S32, 1, W),
        _r("backup_power", 0x041A, U32, 1, W),
        _r("inverter_frequency", 0x041C, U16, 0.01, HZ),
        _r("inverter_temperature", 0x0435, U16, 0.1, C, metric=Metric.INVERTER_TEMPERATURE),
        _r("inverter_fault_1", 0x043A, U32),
        _r("inverter_fault_2", 0x043C, U32),
        _r("inverter_pv_energy", 0x043E, U32, 0.1, KWH),
        _r("inverter_work_mode", 0x0440, U16, options=WORK_MODES),
    ]
    return rows


PV_STRINGS = 6


def _pv_strings() -> list[Register]:
    rows: list[Register] = []
    for n in range(1, PV_STRINGS + 1):
        base = 0x041D + 4 * (n - 1)
        rows.append(_r(f"pv{n}_voltage", base, U16, 0.1, V))
        rows.append(_r(f"pv{n}_current", base + 1, U16, 0.1, A))
        rows.append(_r(f"pv{n}_power", base + 2, U32, 1, W))
    return rows


def _dispatch() -> list[Register]:
    # Read back every poll: it tells who drives the battery (also after a
    # restart: the unit keeps the last dispatch, docs/protocols/alphaess.md#dispatch).
    # Raw words; the meaning (offset 32000, 0.4 %/bit) lives in .dispatch.
    return [
        _r("dispatch_start", 0x0880, U16),
        _r("dispatch_active_power", 0x0881, U32),
        _r("dispatch_reactive_power", 0x0883, U32),
        _r("dispatch_mode", 0x0885, U16),
        _r("dispatch_soc", 0x0886, U16),
        _r("dispatch_time", 0x0887, U32, 1, "s"),
    ]


def _windows() -> list[Register]:
    # Time-of-use windows: hours at 0x0851..0x0859, minutes of the hour at
    # 0x085A..0x0861 (docs/protocols/alphaess.md#settings). Raw numbers;
    # :mod:`.settings` turns them into windows.
    rows: list[Register] = []
    for kind, hours, minutes in (("discharge", 0x0851, 0x085A), ("charge", 0x0856, 0x085E)):
        for n in (1, 2):
            for i, edge in enumerate(("start", "end")):
                offset = 2 * (n - 1) + i
                name = f"{kind}_window_{n}_{edge}"
                rows.append(_r(f"{name}_hour", hours + offset, U16, 1, "h", cadence=_SLOW))
                rows.append(_r(f"{name}_minute", minutes + offset, U16, 1, "min", cadence=_SLOW))
    return rows


def _slow() -> list[Register]:
    return [
        # % of the installed PV power the unit may feed in (the German 70 %
        # rule is such a limit); 100 = no limit.
        _r("max_feed_in", 0x0800, U16, 1, PCT, cadence=_SLOW),
        _r("pv_capacity", 0x0801, U32, 1, W, cadence=_SLOW),
        _r("pv_capacity_grid_inverter", 0x0803, U32, 1, W, cadence=_SLOW),
        _r("system_mode", 0x0805, U16, options=SYSTEM_MODES, cadence=_SLOW),
        # Bit 0: charge windows on, bit 1: discharge windows on.
        _r("time_period_control", 0x084F, U16, cadence=_SLOW),
        # Doc says 0.1/bit; units report an integer percent (docs/protocols/alphaess.md#signs),
        # except the SMILE-T10 (see .quirks).
        _r("discharge_cutoff_soc", 0x0850, U16, 1, PCT, cadence=_SLOW),
        _r("charge_cutoff_soc", 0x0855, U16, 1, PCT, cadence=_SLOW),
        *_windows(),
        _r("pv_inverter_energy", 0x08D0, U32, 0.1, KWH, cadence=_SLOW),
        _r("system_pv_energy", 0x08D2, U32, 0.1, KWH, metric=Metric.PV_ENERGY_TOTAL, cadence=_SLOW),
        _r("system_fault", 0x08D4, U32, cadence=_SLOW),
    ]


def _identity() -> list[Register]:
    return [
        _r("inverter_master_version", 0x0640, ASCII, length=5, cadence=_ID),
        _r("inverter_slave_version", 0x0645, ASCII, length=5, cadence=_ID),
        _r("inverter_serial", 0x064A, ASCII, length=10, cadence=_ID),
        _r("inverter_arm_version", 0x0654, ASCII, length=5, cadence=_ID),
        _r("ems_serial", 0x0743, ASCII, length=8, cadence=_ID),
        _r("ems_version_high", 0x074B, U16, cadence=_ID),
        _r("ems_version_middle", 0x074C, U16, cadence=_ID),
        _r("ems_version_low", 0x074D, U16, cadence=_ID),
        _r("protocol_version", 0x074E, U16, cadence=_ID),
        _r("ems_version_suffix", 0x074F, ASCII, length=3, cadence=_ID),
    ]


#: Every register Sunstream reads, sorted by address.
REGISTERS: tuple[Register, ...] = tuple(
    sorted(
        [
            *_grid(),
            *_pv_meter(),
            *_battery(),
            *_inverter(),
            *_pv_strings(),
            *_dispatch(),
            *_slow(),
            *_identity(),
        ],
        key=lambda reg: reg.address,
    )
)

BY_KEY: Mapping[str, Register] = {reg.key: reg for reg in REGISTERS}


def registers_for(*cadences: Cadence) -> tuple[Register, ...]:
    """The rows read at the given cadences, in address order."""
    return tuple(reg for reg in REGISTERS if reg.cadence in cadences)


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowRegisters:
    """Where one time-of-use window lives, and its bit in 0x084F.

    The unit has one enable bit per kind, not per window: both charge
    windows share bit 0, both discharge windows bit 1 (``partner`` is the
    window sharing the bit).
    """

    start_hour: Register
    end_hour: Register
    start_minute: Register
    end_minute: Register
    bit: int
    partner: Setting

    @property
    def times(self) -> tuple[Register, ...]:
        """The four time registers."""
        return (self.start_hour, self.start_minute, self.end_hour, self.end_minute)


#: 0x084F: which kinds of window the unit runs.
TIME_PERIOD_CONTROL: Register = BY_KEY["time_period_control"]
CHARGE_WINDOWS_BIT = 1
DISCHARGE_WINDOWS_BIT = 2


def _window(kind: str, n: int, bit: int, partner: Setting) -> WindowRegisters:
    name = f"{kind}_window_{n}"
    return WindowRegisters(
        start_hour=BY_KEY[f"{name}_start_hour"],
        end_hour=BY_KEY[f"{name}_end_hour"],
        start_minute=BY_KEY[f"{name}_start_minute"],
        end_minute=BY_KEY[f"{name}_end_minute"],
        bit=bit,
        partner=partner,
    )


#: Each window setting's registers.
WINDOW_REGISTERS: Mapping[Setting, WindowRegisters] = {
    Setting.CHARGE_WINDOW_1: _window("charge", 1, CHARGE_WINDOWS_BIT, Setting.CHARGE_WINDOW_2),
    Setting.CHARGE_WINDOW_2: _window("charge", 2, CHARGE_WINDOWS_BIT, Setting.CHARGE_WINDOW_1),
    Setting.DISCHARGE_WINDOW_1: _window(
        "discharge", 1, DISCHARGE_WINDOWS_BIT, Setting.DISCHARGE_WINDOW_2
    ),
    Setting.DISCHARGE_WINDOW_2: _window(
        "discharge", 2, DISCHARGE_WINDOWS_BIT, Setting.DISCHARGE_WINDOW_1
    ),
}

#: Each numeric setting's register. There is no export-limit switch:
#: 0x0800 at 100 % is "no limit", so :attr:`Setting.EXPORT_LIMIT_ENABLED`
#: has no register.
NUMBER_REGISTERS: Mapping[Setting, Register] = {
    Setting.RESERVE_SOC: BY_KEY["discharge_cutoff_soc"],
    Setting.CHARGE_LIMIT_SOC: BY_KEY["charge_cutoff_soc"],
    Setting.EXPORT_LIMIT: BY_KEY["max_feed_in"],
}

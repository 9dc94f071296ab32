"""The Sungrow register map for residential hybrid (SH) and string (SG) inverters, as data.

Addresses are the ones on the wire (the Modbus PDU address). Sungrow's
documents number registers from 1, so a row's address is the documented
register number minus one: the device type code the document lists at 5000
is read at 4999 (docs/protocols/sungrow-modbus.md#addressing). Input
registers are read with FC04, holding registers with FC03.

32-bit values put the **low word first** (``Profile.low_word_first``,
docs/protocols/sungrow-modbus.md#words-and-types).

Signs: 13009 "export power" is + export, − import, the opposite of the
canonical grid power, so its row has ``sign=-1``; 13021 battery power is a
magnitude whose direction is in the running-state bits at 13000, so the
canonical battery power is derived in :mod:`.mapping`
(docs/protocols/sungrow-modbus.md#signs).

Which rows an inverter answers depends on its family: :data:`COMMON` rows
on both, :data:`HYBRID` rows on SH models, :data:`STRING` rows on SG models
(:mod:`.models` decides the family from the device type code).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..modbus.registers import Cadence, Part, Register, RegType, Table, row as _r
from ..model import Metric

U16, S16, U32, S32, ASCII = RegType.U16, RegType.S16, RegType.U32, RegType.S32, RegType.ASCII
KWH, W, V, A, HZ, C, PCT = "kWh", "W", "V", "A", "Hz", "°C", "%"
_IN, _HOLD = Table.INPUT, Table.HOLDING
_BAT = Part.BATTERY
_SLOW = Cadence.SLOW
_ID = Cadence.IDENTITY

#: Input 12999 "system state" (docs/protocols/sungrow-modbus.md#enumerations).
SYSTEM_STATES: Mapping[int, str] = {
    0x0002: "stop",
    0x0008: "standby",
    0x0010: "initial_standby",
    0x0020: "startup",
    0x0040: "running",
    0x0100: "fault",
    0x0400: "maintain",
    0x0800: "forced",
    0x1000: "off_grid",
    0x2501: "restarting",
    0x4000: "external_ems",
}

#: Input 5001 "output type" (docs/protocols/sungrow-modbus.md#enumerations).
OUTPUT_TYPES: Mapping[int, str] = {0: "single_phase", 1: "3p4l", 2: "3p3l"}

#: Bits of input 13000 "running state" (docs/protocols/sungrow-modbus.md#signs).
RUNNING_PV = 0x01
RUNNING_CHARGING = 0x02
RUNNING_DISCHARGING = 0x04
RUNNING_EXPORTING = 0x10
RUNNING_IMPORTING = 0x20

#: Holding 13049 "EMS mode selection" values (docs/protocols/sungrow-modbus.md#ems).
EMS_SELF_CONSUMPTION = 0
EMS_FORCED = 2
EMS_MODES: Mapping[int, str] = {
    EMS_SELF_CONSUMPTION: "self_consumption",
    EMS_FORCED: "forced",
    3: "external_ems",
    4: "vpp",
    8: "microgrid",
}

#: Holding 13050 "charge/discharge command" values (docs/protocols/sungrow-modbus.md#ems).
COMMAND_CHARGE = 0xAA
COMMAND_DISCHARGE = 0xBB
COMMAND_STOP = 0xCC

#: Holding 13086 "export power limitation" values (docs/protocols/sungrow-modbus.md#settings).
EXPORT_LIMIT_ON = 0xAA
EXPORT_LIMIT_OFF = 0x55

EMS_ADDRESS = 13049
EMS_COUNT = 3

#: Holding 33207.. "forced charging": the switch (0xAA on, 0x55 off), its
#: valid days (0 weekdays, 1 every day), then per window start hour, start
#: minute, end hour (0-24), end minute and target SOC (%). The words are
#: decoded and planned in :mod:`.schedule`
#: (docs/protocols/sungrow-modbus.md#forced-charging-windows).
SCHEDULE_ADDRESS = 33207
SCHEDULE_COUNT = 12

MPPTS = 2


def _identity() -> list[Register]:
    return [
        _r("arm_version", 4953, ASCII, length=15, cadence=_ID, table=_IN),
        _r("serial", 4989, ASCII, length=10, cadence=_ID, table=_IN),
        _r("device_type_code", 4999, U16, cadence=_ID, table=_IN),
        _r("nominal_power", 5000, U16, 100, W, cadence=_ID, table=_IN),
        _r("output_type", 5001, U16, options=OUTPUT_TYPES, cadence=_ID, table=_IN),
    ]


def _inverter() -> list[Register]:
    rows = [
        _r("daily_output_energy", 5002, U16, 0.1, KWH, table=_IN),
        _r(
            "inverter_temperature",
            5007,
            S16,
            0.1,
            C,
            metric=Metric.INVERTER_TEMPERATURE,
            table=_IN,
        ),
        _r("pv_power", 5016, U32, 1, W, metric=Metric.PV_POWER, table=_IN),
        _r("reactive_power", 5032, S32, 1, "var", table=_IN),
        _r("power_factor", 5034, S16, 0.001, table=_IN),
        _r("grid_frequency", 5035, U16, 0.1, HZ, table=_IN),
    ]
    for n in range(1, MPPTS + 1):
        base = 5010 + 2 * (n - 1)
        rows.append(_r(f"pv{n}_voltage", base, U16, 0.1, V, table=_IN))
        rows.append(_r(f"pv{n}_current", base + 1, U16, 0.1, A, table=_IN))
    for i, phase in enumerate("abc"):
        rows.append(_r(f"phase_{phase}_voltage", 5018 + i, U16, 0.1, V, table=_IN))
    return rows


def _hybrid() -> list[Register]:
    rows = [
        _r("total_output_energy", 5003, U32, 0.1, KWH, cadence=_SLOW, table=_IN),
        _r("system_state", 12999, U16, options=SYSTEM_STATES, table=_IN),
        _r("running_state", 13000, U16, table=_IN),
        _r("daily_pv_energy", 13001, U16, 0.1, KWH, metric=Metric.PV_ENERGY_TODAY, table=_IN),
        _r("total_pv_energy", 13002, U32, 0.1, KWH, metric=Metric.PV_ENERGY_TOTAL, table=_IN),
        _r("total_pv_export_energy", 13005, U32, 0.1, KWH, table=_IN),
        _r("load_power", 13007, S32, 1, W, metric=Metric.LOAD_POWER, table=_IN),
        _r("grid_power", 13009, S32, 1, W, metric=Metric.GRID_POWER, sign=-1, table=_IN),
        _r("total_battery_charge_from_pv", 13012, U32, 0.1, KWH, table=_IN, part=_BAT),
        _r("total_direct_consumption", 13017, U32, 0.1, KWH, table=_IN),
        _r("battery_voltage", 13019, U16, 0.1, V, table=_IN, part=_BAT),
        _r("battery_current", 13020, U16, 0.1, A, table=_IN, part=_BAT),
        _r("battery_power_magnitude", 13021, U16, 1, W, table=_IN, part=_BAT),
        _r("battery_soc", 13022, U16, 0.1, PCT, metric=Metric.BATTERY_SOC, table=_IN, part=_BAT),
        _r("battery_soh", 13023, U16, 0.1, PCT, table=_IN, part=_BAT),
        _r("battery_temperature", 13024, S16, 0.1, C, table=_IN, part=_BAT),
        _r(
            "battery_discharge_energy",
            13026,
            U32,
            0.1,
            KWH,
            metric=Metric.BATTERY_DISCHARGE_ENERGY,
            table=_IN,
            part=_BAT,
        ),
        _r("inverter_power", 13033, S32, 1, W, table=_IN),
        _r("grid_import_energy", 13036, U32, 0.1, KWH, metric=Metric.GRID_IMPORT_ENERGY, table=_IN),
        _r(
            "battery_charge_energy",
            13040,
            U32,
            0.1,
            KWH,
            metric=Metric.BATTERY_CHARGE_ENERGY,
            table=_IN,
            part=_BAT,
        ),
        _r("grid_export_energy", 13045, U32, 0.1, KWH, metric=Metric.GRID_EXPORT_ENERGY, table=_IN),
        # EMS block, read back every poll: it says who drives the battery.
        _r("ems_mode", 13049, U16, table=_HOLD),
        _r("ems_command", 13050, U16, table=_HOLD),
        _r("ems_power", 13051, U16, 1, W, table=_HOLD),
        # Settings (flash): read slowly, written only when they change.
        _r("max_soc", 13057, U16, 0.1, PCT, cadence=_SLOW, table=_HOLD, part=_BAT),
        _r("min_soc", 13058, U16, 0.1, PCT, cadence=_SLOW, table=_HOLD, part=_BAT),
        _r("export_limit", 13073, U16, 1, W, cadence=_SLOW, table=_HOLD),
        _r("export_limit_mode", 13086, U16, cadence=_SLOW, table=_HOLD),
        _r("backup_reserve_soc", 13099, U16, 1, PCT, cadence=_SLOW, table=_HOLD, part=_BAT),
        _r("battery_max_charge_power", 33046, U16, 10, W, cadence=_SLOW, table=_HOLD, part=_BAT),
        _r("battery_max_discharge_power", 33047, U16, 10, W, cadence=_SLOW, table=_HOLD, part=_BAT),
        _r(
            "battery_capacity",
            33048,
            U16,
            0.01,
            KWH,
            metric=Metric.BATTERY_CAPACITY,
            cadence=_SLOW,
            table=_HOLD,
            part=_BAT,
        ),
    ]
    for i, phase in enumerate("abc"):
        rows.append(_r(f"phase_{phase}_current", 13030 + i, S16, 0.1, A, table=_IN))
    return rows


def _string() -> list[Register]:
    return [
        _r("inverter_power", 5030, S32, 1, W, table=_IN),
        _r("grid_power", 5082, S32, 1, W, metric=Metric.GRID_POWER, table=_IN),
        # The meter's lifetime counters (SG with a Sungrow meter; an SG that
        # lacks them answers exception 2 and has no grid energy entities).
        _r("grid_export_energy", 5094, U32, 0.1, KWH, metric=Metric.GRID_EXPORT_ENERGY, table=_IN),
        _r("grid_import_energy", 5098, U32, 0.1, KWH, metric=Metric.GRID_IMPORT_ENERGY, table=_IN),
        _r("total_pv_energy", 5143, U32, 0.1, KWH, metric=Metric.PV_ENERGY_TOTAL, table=_IN),
    ]


def _schedule() -> list[Register]:
    """The forced-charging schedule words, read slowly like every setting (flash)."""
    keys = ["forced_charge", "forced_charge_days"]
    for n in (1, 2):
        keys += [f"forced_charge_{n}_{part}" for part in ("start_h", "start_m", "end_h", "end_m")]
        keys.append(f"forced_charge_{n}_target_soc")
    return [
        _r(key, SCHEDULE_ADDRESS + offset, U16, cadence=_SLOW, table=_HOLD)
        for offset, key in enumerate(keys)
    ]


def _sorted(rows: list[Register]) -> tuple[Register, ...]:
    return tuple(sorted(rows, key=lambda reg: (reg.table, reg.address)))


#: Rows every residential Sungrow inverter answers.
COMMON: tuple[Register, ...] = _sorted([*_identity(), *_inverter()])
#: Rows only hybrid (SH) inverters answer: the 13000 block, EMS and battery.
HYBRID: tuple[Register, ...] = _sorted([*_hybrid(), *_schedule()])
#: Rows only string (SG) inverters answer.
STRING: tuple[Register, ...] = _sorted(_string())

#: Every row by key; ``grid_power`` and friends differ per family, so this
#: holds the hybrid row where both have one (use a profile's rows to read).
BY_KEY: Mapping[str, Register] = {reg.key: reg for reg in (*STRING, *COMMON, *HYBRID)}

#: Address ranges the documents describe, per table (both ends inclusive).
#: A block may bridge a gap only inside one of them.
DOCUMENTED_RANGES: Mapping[Table, tuple[tuple[int, int], ...]] = {
    Table.INPUT: (
        (4949, 5049),  # protocol, versions, serial, device type, energies, MPPTs, phases
        (5082, 5103),  # SG meter: power, phases, load, export/import/consumption totals
        (5143, 5144),  # SG total yield
        (12999, 13049),  # hybrid running block
    ),
    Table.HOLDING: (
        (12999, 13099),  # start/stop, EMS, SOC limits, export limit, backup reserve
        (33046, 33048),  # battery power limits and capacity
        (SCHEDULE_ADDRESS, SCHEDULE_ADDRESS + SCHEDULE_COUNT - 1),  # forced-charging windows
    ),
}

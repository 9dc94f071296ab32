"""A fake Sungrow inverter: a real pymodbus Modbus TCP server on loopback.

It answers the library's register map (``pysunstream/sungrow/registers.py``)
the way docs/protocols/sungrow-modbus.md describes a real inverter:

* unit 1; input registers (FC04) and holding registers (FC03, FC06, FC16)
  in separate tables; register numbers of the documents minus one on the
  wire; 32-bit values low word first;
* a hybrid (SH, the default SH10RT) answers the 5000 block, the 13000
  block, the EMS and settings holding registers and 33046..33048; a string
  inverter (SG) the 5000 block, its meter at 5082..5103 (power and the
  lifetime export/import counters at 5094/5098) and its yield at 5143;
  everything else is exception 2;
* a running model: PV, house load, battery and grid evolve with time
  (``speed`` times faster than real time); the battery keeps the min/max SOC
  of 13058/13057, follows a forced charge or discharge written to the EMS
  registers (13049..13051) until told otherwise (the inverter has no
  duration; the power in W, or in % of the rating on the models the
  library's quirk rows say take %), charges from the grid inside an enabled
  forced-charging window (33207..33218, :attr:`clock`) up to its target SOC,
  and export is curtailed to 13073 while 13086 is on;
* written holding registers are honoured and read back; a value outside a
  documented range is refused with exception 3 (an assumption: the
  documents give the ranges, not the answer).

The WiNet-S dongle (``connection="winet"``) adds its quirks
(docs/protocols/sungrow-modbus.md#winet-s): a read of more than
:attr:`max_count` (38) registers gets exception 4, a request sooner than
:attr:`min_spacing` (0.1 s) after the previous one is not answered (both
assumptions about *how* it fails), and the grid frequency reads ten times
larger, a string inverter's meter power at 5082 the opposite sign; with
:attr:`no_running_state` the 13000 running state reads 0, as reported
through a WiNet-S on some models.

Fault knobs (see :mod:`.modbus_device` for the shared ones: one client,
:attr:`silent`, :attr:`delay`, :meth:`drop_link`, :meth:`set_link_down`):
:attr:`illegal` (exception 2 on chosen ``(table, address)``),
:attr:`exception` (one exception code for every request),
:attr:`ignore_ems` (EMS writes acknowledged, not applied),
:attr:`refuse_writes` (every write answered with exception 4),
:attr:`refused_registers` (writes to these holding addresses answered with
exception 4, the others applied: a command refused half-way),
:attr:`clamped` (a word written above its cap stored as the cap: a command
taken in part), :attr:`silent_after` (once a write to one of these
addresses is answered, :attr:`silent`: the link lost before the read-back).
:attr:`writes` counts the writes per holding address.

Run standalone::

    python -m sunstream_fakes.sungrow_fake --port 5021 --connection winet
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, time
import math

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.simulator import DataType, SimData

from custom_components.sunstream.pysunstream.modbus.decode import (
    decode_raw,
    encode_ascii,
    encode_raw,
)
from custom_components.sunstream.pysunstream.modbus.registers import Register, RegType, Table
from custom_components.sunstream.pysunstream.sungrow import schedule
from custom_components.sunstream.pysunstream.sungrow.models import (
    Connection,
    Family,
    PowerUnit,
    model_of,
    resolve_profile,
)
from custom_components.sunstream.pysunstream.sungrow.registers import (
    BY_KEY,
    COMMAND_CHARGE,
    COMMAND_DISCHARGE,
    COMMAND_STOP,
    COMMON,
    DOCUMENTED_RANGES,
    EMS_ADDRESS,
    EMS_COUNT,
    EMS_FORCED,
    EMS_MODES,
    EXPORT_LIMIT_OFF,
    EXPORT_LIMIT_ON,
    HYBRID,
    SCHEDULE_ADDRESS,
    STRING,
)

from .modbus_device import FakeModbusDevice, Request, command_line, serve

UNIT = 1
SH10RT = 0x0E03
SERIAL = "A2230000001"
WINET_MAX_COUNT = 38
WINET_MIN_SPACING = 0.1

#: Documented write ranges of holding registers, raw (docs/protocols/sungrow-modbus.md#settings).
WRITE_RANGES: Mapping[int, frozenset[int] | range] = {
    13049: frozenset(EMS_MODES),
    13050: frozenset({COMMAND_CHARGE, COMMAND_DISCHARGE, COMMAND_STOP}),
    13051: range(0, 10_001),
    13057: range(500, 1001),
    13058: range(0, 501),
    13073: range(0, 10_001),
    13086: frozenset({EXPORT_LIMIT_ON, EXPORT_LIMIT_OFF}),
    13099: range(0, 101),
    SCHEDULE_ADDRESS: frozenset({schedule.ENABLE, schedule.DISABLE}),
    SCHEDULE_ADDRESS + 1: frozenset({0, schedule.EVERY_DAY}),
    **{
        SCHEDULE_ADDRESS + schedule.OFFSETS[key]: range(0, 25) if key.endswith("_h") else range(60)
        for keys in schedule.WINDOW_KEYS.values()
        for key in keys
    },
    **{
        SCHEDULE_ADDRESS + schedule.OFFSETS[f"forced_charge_{n}_target_soc"]: range(101)
        for n in (1, 2)
    },
}


class FakeSungrow(FakeModbusDevice):
    """A running Sungrow inverter on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        device_type_code: int = SH10RT,
        connection: str = "lan",
        speed: float = 1.0,
        serial: str = SERIAL,
        one_client: bool = True,
        refuse_style: str = "close",
    ) -> None:
        super().__init__(
            unit=UNIT,
            host=host,
            port=port,
            one_client=one_client,
            refuse_style=refuse_style,
            speed=speed,
        )
        self.model = model_of(device_type_code)
        self.connection = connection
        #: W, or % of the rated power, at 13051 (the library's model row).
        self.ems_power_unit = resolve_profile(self.model, Connection(connection)).ems_power_unit
        percent = self.ems_power_unit is PowerUnit.PERCENT
        self.write_ranges = {**WRITE_RANGES, 13051: range(101)} if percent else dict(WRITE_RANGES)
        self.max_count = WINET_MAX_COUNT if connection == "winet" else 125
        self.min_spacing = WINET_MIN_SPACING if connection == "winet" else 0.0
        self.illegal: set[tuple[Table, int]] = set()
        #: Answer every request with this exception code; ``None``: answer normally.
        self.exception: ExcCodes | None = None
        #: Acknowledge EMS writes without applying them (a command taken, not carried out).
        self.ignore_ems = False
        #: Answer every write with exception 4 (the inverter refuses settings).
        self.refuse_writes = False
        #: Answer a write to any of these holding addresses with exception 4.
        self.refused_registers: set[int] = set()
        #: Store a word written above its cap here as the cap (an inverter that clamps).
        self.clamped: dict[int, int] = {}
        #: Once a write to one of these holding addresses is answered, answer nothing.
        self.silent_after: set[int] = set()
        self.writes: Counter[int] = Counter()
        self.daylight = True
        #: Report 0 at 13000 whatever the battery does.
        self.no_running_state = False
        #: The inverter's wall clock, for its forced-charging windows.
        self.clock: Callable[[], time] = lambda: datetime.now().time()
        self.tables: dict[Table, dict[int, int]] = {Table.INPUT: {}, Table.HOLDING: {}}
        hybrid = self.model.family is Family.HYBRID
        for table, spans in DOCUMENTED_RANGES.items():
            for lo, hi in spans:
                if not hybrid and (lo >= 12999):
                    continue
                for address in range(lo, hi + 1):
                    self.tables[table][address] = 0
        self._rows = {r.key: r for r in (*COMMON, *(HYBRID if hybrid else STRING))}
        self._seed(device_type_code, serial)

    def _seed(self, code: int, serial: str) -> None:
        self.set("serial", serial)
        self.set("arm_version", "ARM_FAKE_V11_V01_B")
        self.set("device_type_code", code)
        self.set("nominal_power", 100)  # × 100 W
        self.set("output_type", 1 if self.model.phases == 3 else 0)
        self.set("grid_frequency", 5000 if self.connection == "winet" else 500)
        self.set("inverter_temperature", 356)
        self.set("reactive_power", -120)  # var: a little absorbed
        self.set("power_factor", 998)  # × 0.001
        for n in (1, 2):
            self.set(f"pv{n}_voltage", 5400 - 2000 * (n - 1))
        for phase in "abc":
            self.set(f"phase_{phase}_voltage", 2310)
        if self.model.family is Family.HYBRID:
            self.set("system_state", 0x0040)
            self.set("battery_soc", 500)
            self.set("battery_soh", 1000)
            self.set("battery_voltage", 4000)
            self.set("battery_temperature", 251)
            self.set("battery_capacity", 960)  # × 0.01 kWh
            self.set("battery_max_charge_power", 500)  # × 10 W
            self.set("battery_max_discharge_power", 500)
            self.set("max_soc", 1000)
            self.set("min_soc", 100)
            self.set("backup_reserve_soc", 10)
            self.set("export_limit", 10_000)
            self.set("export_limit_mode", EXPORT_LIMIT_OFF)
            self.set("ems_mode", 0)
            self.set("ems_command", COMMAND_STOP)
            self.set("total_pv_energy", 123_456)
            self.set("grid_import_energy", 45_678)
            self.set("grid_export_energy", 67_890)
            self.set("battery_charge_energy", 12_345)
            self.set("battery_discharge_energy", 11_111)
            self.set("total_output_energy", 150_000)
            # Forced charging off; window 1 01:00-05:00, window 2 empty; targets 100 %.
            self.set("forced_charge", schedule.DISABLE)
            self.set("forced_charge_days", schedule.EVERY_DAY)
            for key, word in zip(
                next(iter(schedule.WINDOW_KEYS.values())), (1, 0, 5, 0), strict=True
            ):
                self.set(key, word)
            for n in (1, 2):
                self.set(f"forced_charge_{n}_target_soc", 100)
        else:
            self.set("total_pv_energy", 98_765)
            self.set("grid_import_energy", 20_000)
            self.set("grid_export_energy", 30_000)

    # --- register access -------------------------------------------------

    def row(self, key: str) -> Register:
        """The row for ``key`` on this model (the families differ on ``grid_power``)."""
        return self._rows.get(key) or BY_KEY[key]

    def set(self, key: str, raw: int | str) -> None:
        """Store a raw value for a register of the map."""
        reg = self.row(key)
        words = (
            encode_ascii(str(raw), reg.length)
            if reg.type is RegType.ASCII
            else encode_raw(reg.type, int(raw), low_word_first=True)
        )
        for offset, word in enumerate(words):
            self.tables[reg.table][reg.address + offset] = word

    def get(self, key: str) -> int:
        """A numeric register's raw value (signed where the type is)."""
        reg = self.row(key)
        words = [self.tables[reg.table][a] for a in range(reg.address, reg.end + 1)]
        return int(decode_raw(reg.type, words, low_word_first=True))

    # --- life ------------------------------------------------------------

    def step(self, now: float | None = None) -> None:
        """Advance the PV/house/battery model to ``now`` (monotonic seconds)."""
        now, seconds = self.elapsed(now)
        if seconds <= 0:
            return
        phase = now / 60
        pv = (3000 + 1000 * math.sin(phase)) if self.daylight else 0.0
        load = 700 + 200 * math.sin(phase * 1.7)
        hours = seconds / 3600
        if self.model.family is Family.STRING:
            self._step_string(pv, load, hours)
            return
        battery = self._battery(load - pv)
        grid = load - pv - battery
        if self.get("export_limit_mode") == EXPORT_LIMIT_ON and -grid > self.get("export_limit"):
            pv -= -grid - self.get("export_limit")
            grid = -float(self.get("export_limit"))
        self._set_pv(pv)
        state = (
            (0x01 if pv > 0 else 0)
            | (0x02 if battery < 0 else 0)
            | (0x04 if battery > 0 else 0)
            | (0x10 if grid < 0 else 0)
            | (0x20 if grid > 0 else 0)
        )
        self.set("running_state", 0 if self.no_running_state else state)
        self.set("battery_power_magnitude", round(abs(battery)))
        # 13020: a magnitude, 0.1 A, at the battery's 0.1 V voltage.
        self.set("battery_current", round(abs(battery) / max(1, self.get("battery_voltage")) * 100))
        self.set("load_power", round(load))
        self.set("grid_power", round(-grid))  # 13009: + export
        self.set("inverter_power", round(pv + battery))
        self.set("system_state", 0x0800 if self.get("ems_mode") == EMS_FORCED else 0x0040)
        floor, ceiling = self.get("min_soc") / 10, self.get("max_soc") / 10
        self.charge(battery, hours, self.get("battery_capacity") / 100, floor, ceiling)
        self.count_energy("total_pv_energy", pv * hours / 1000, 0.1)
        self.count_energy("grid_import_energy", max(0.0, grid) * hours / 1000, 0.1)
        self.count_energy("grid_export_energy", max(0.0, -grid) * hours / 1000, 0.1)
        self.count_energy("battery_charge_energy", max(0.0, -battery) * hours / 1000, 0.1)
        self.count_energy("battery_discharge_energy", max(0.0, battery) * hours / 1000, 0.1)
        self.count_energy("total_output_energy", max(0.0, pv + battery) * hours / 1000, 0.1)

    def _step_string(self, pv: float, load: float, hours: float) -> None:
        self._set_pv(pv)
        self.set("inverter_power", round(pv))
        meter = round(load - pv)  # 5082 meter: + import, inverted through a WiNet-S
        self.set("grid_power", -meter if self.connection == "winet" else meter)
        self.count_energy("total_pv_energy", pv * hours / 1000, 0.1)
        self.count_energy("grid_import_energy", max(0, meter) * hours / 1000, 0.1)
        self.count_energy("grid_export_energy", max(0, -meter) * hours / 1000, 0.1)

    def _set_pv(self, pv: float) -> None:
        self.set("pv_power", round(max(0.0, pv)))
        for n, share in ((1, 0.6), (2, 0.4)):
            volts = self.get(f"pv{n}_voltage") / 10
            self.set(f"pv{n}_current", round(max(0.0, pv) * share / volts * 10))

    def _battery(self, deficit: float) -> float:
        """Battery power (+ discharge): the forced setpoint, else cover the deficit."""
        max_charge = self.get("battery_max_charge_power") * 10.0
        max_discharge = self.get("battery_max_discharge_power") * 10.0
        floor, ceiling = self.get("min_soc") / 10, self.get("max_soc") / 10
        soc = self.soc
        if self.get("ems_mode") == EMS_FORCED:
            command, power = self.get("ems_command"), self.ems_power_w
            if command == COMMAND_CHARGE and soc < ceiling:
                return -min(power, max_charge)
            if command == COMMAND_DISCHARGE and soc > floor:
                return min(power, max_discharge)
            return 0.0
        if self._forced_window_target() > soc:
            return -max_charge  # a forced-charging window: from PV and the grid
        if (deficit > 0 and soc <= floor) or (deficit < 0 and soc >= ceiling):
            return 0.0
        return max(-max_charge, min(max_discharge, deficit))

    @property
    def ems_power_w(self) -> float:
        """The forced power 13051 asks for, in W."""
        word = float(self.get("ems_power"))
        if self.ems_power_unit is PowerUnit.PERCENT:
            return word * self.get("nominal_power")  # % of the rating (raw × 100 W)
        return word

    def _forced_window_target(self) -> float:
        """The target SOC of the forced-charging window running now; 0 outside (window 1 first)."""
        if self.get("forced_charge") != schedule.ENABLE:
            return 0.0
        now = self.clock()
        minutes = now.hour * 60 + now.minute
        for n, keys in enumerate(schedule.WINDOW_KEYS.values(), start=1):
            sh, sm, eh, em = (self.get(key) for key in keys)
            if sh * 60 + sm <= minutes < eh * 60 + em:
                return float(self.get(f"forced_charge_{n}_target_soc"))
        return 0.0

    # --- the pymodbus side -------------------------------------------------

    def simdata(self) -> tuple[list[SimData], ...]:
        """Separate holding and input tables, one block per documented range."""

        def blocks(table: Table) -> list[SimData]:
            return [
                SimData(lo, count=hi - lo + 1, values=0, datatype=DataType.REGISTERS)
                for lo, hi in DOCUMENTED_RANGES[table]
            ]

        # pymodbus wants every table non-empty; the inverter has no coils.
        bits = [SimData(0, values=False, datatype=DataType.BITS)]
        return (bits, bits, blocks(Table.HOLDING), blocks(Table.INPUT))

    def ignores(self, pdu: ModbusPDU, request: Request, previous: Request | None) -> bool:
        """A WiNet-S leaves a request that comes too soon after the previous one unanswered."""
        return previous is not None and request.at - previous.at < self.min_spacing

    async def action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Answer one request from the model's tables."""
        table = Table.INPUT if function_code == 4 else Table.HOLDING
        words = self.tables[table]
        span = range(address, address + count)
        if self.exception is not None:
            return self.exception
        if values is None and count > self.max_count:
            return ExcCodes.DEVICE_FAILURE
        if any((table, a) in self.illegal or a not in words for a in span):
            return ExcCodes.ILLEGAL_ADDRESS
        if values is not None:
            result = self._write(address, [int(v) for v in values])
            if result is not None:
                return result
        else:
            self.step()
        offset = address - start_address
        registers[offset : offset + count] = [words[a] for a in span]
        return None

    def _write(self, address: int, values: list[int]) -> ExcCodes | None:
        span = range(address, address + len(values))
        if self.refuse_writes or any(a in self.refused_registers for a in span):
            return ExcCodes.DEVICE_FAILURE
        for offset, word in enumerate(values):
            allowed = self.write_ranges.get(address + offset)
            if allowed is None or word not in allowed:
                return ExcCodes.ILLEGAL_VALUE
        self.step()
        ems = range(EMS_ADDRESS, EMS_ADDRESS + EMS_COUNT)
        for offset, word in enumerate(values):
            self.writes[address + offset] += 1
            if self.ignore_ems and address + offset in ems:
                continue
            cap = self.clamped.get(address + offset)
            self.tables[Table.HOLDING][address + offset] = word if cap is None else min(word, cap)
        # Checked on the next request: this write is still answered.
        self.silent = self.silent or any(a in self.silent_after for a in span)
        return None


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = command_line(__doc__, 5021)
    parser.add_argument("--device-type-code", type=lambda v: int(v, 0), default=SH10RT)
    parser.add_argument("--connection", choices=("lan", "winet"), default="lan")
    args = parser.parse_args(argv)
    fake = FakeSungrow(
        host=args.host,
        port=args.port,
        device_type_code=args.device_type_code,
        connection=args.connection,
        speed=args.speed,
    )
    serve(fake, f"fake Sungrow {fake.model.name} ({args.connection})")


if __name__ == "__main__":
    main()

"""A fake AlphaESS unit: a real pymodbus Modbus TCP server on loopback.

Seeded from a captured-data fixture (``alphaess_data/<model>.json``, raw
words named by the library's register map), it behaves like the unit
docs/protocols/alphaess.md describes:

* unit 85, holding registers only, big-endian words, high word first;
* the documented ranges answer, everything else is exception 2;
* one TCP client at a time: a second one is closed at once (``"close"``)
  or accepted and never answered (``"silent"``), see :attr:`refuse_style`;
* model write quirks: the standard unit answers FC16 on one register with
  exception 2; the SMILE-B3 never answers FC06 (docs/protocols/alphaess.md#function-codes);
* the dispatch block is writable and honoured: the battery follows the
  setpoint until the SOC target or the time is reached, then the block
  returns to idle (an assumption: the documents do not say what it reads
  after expiry);
* the settings in flash (0x0800, 0x084F..0x0861) are writable and
  honoured: the battery never discharges below the reserve (0x0850); with
  charge windows on (0x084F bit 0) it charges from the grid inside them up
  to the charge cut-off (0x0855); with discharge windows on (bit 1) it
  discharges only inside them; PV is curtailed so the export stays within
  0x0800 % of the installed PV power (0x0801 + 0x0803). The SMILE-T10
  stores the cut-off SOCs at 0.1 %/bit. Values a register cannot hold (hour
  24, minute 60, more than 100 %) are answered with exception 3. Writes to
  0x0800 while a dispatch runs are acknowledged and ignored
  (docs/protocols/alphaess.md#settings). These readings of the documents are the fake's; no document
  spells out the schedule's behaviour;
* PV, load, battery, grid and the lifetime counters evolve with time
  (``speed`` times faster than real time); windows follow
  :attr:`FakeAlphaEss.time_of_day`, or the local clock.

Fault knobs, all changeable at run time: :attr:`silent` (no answers),
:attr:`delay` (slow answers), :attr:`illegal` (exception 2 on chosen
addresses), :attr:`exception` (one exception code for every request),
:attr:`ignore_dispatch` (dispatch writes acknowledged, not applied),
:meth:`drop_link` (TCP reset of the current client), :meth:`set_link_down`
(stop listening: connects are refused), :attr:`refuse_style` (how a second
client is turned away), :attr:`refuse_writes` (an exception code for
writes to chosen addresses), :attr:`ignore_writes` (writes acknowledged,
not applied). Every request is logged in :attr:`requests` and every
register written is counted in :attr:`writes`, so tests can count them.

Run standalone::

    python -m sunstream_fakes.alphaess_fake --port 5020
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time as clock_time
import json
import math
from pathlib import Path
import time
from typing import Any, cast

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.simulator import DataType, SimData

from custom_components.sunstream.pysunstream.alphaess.dispatch import (
    DISPATCH_ADDRESS,
    IDLE_WORDS,
    POWER_OFFSET,
)
from custom_components.sunstream.pysunstream.alphaess.quirks import (
    SMILE_B3,
    SMILE_HI10,
    resolve_profile,
)
from custom_components.sunstream.pysunstream.alphaess.registers import (
    BY_KEY,
    CHARGE_WINDOWS_BIT,
    DISCHARGE_WINDOWS_BIT,
    PV_STRINGS,
    TIME_PERIOD_CONTROL,
    WINDOW_REGISTERS,
    Register,
    WindowRegisters,
)
from custom_components.sunstream.pysunstream.controls import Setting
from custom_components.sunstream.pysunstream.modbus.decode import encode_ascii, encode_raw
from custom_components.sunstream.pysunstream.modbus.registers import RegType

from .modbus_device import FakeModbusDevice, Request, command_line, serve

DATA = Path(__file__).parent / "alphaess_data"
UNIT = 85

_CHARGE = (Setting.CHARGE_WINDOW_1, Setting.CHARGE_WINDOW_2)
_DISCHARGE = (Setting.DISCHARGE_WINDOW_1, Setting.DISCHARGE_WINDOW_2)

#: The largest raw word each settings register holds (exception 3 above).
_SETTING_MAX: dict[str, int] = {
    "max_feed_in": 100,
    "time_period_control": 3,
    **{reg.key: 23 for w in WINDOW_REGISTERS.values() for reg in (w.start_hour, w.end_hour)},
    **{reg.key: 59 for w in WINDOW_REGISTERS.values() for reg in (w.start_minute, w.end_minute)},
}


def load_fixture(model: str) -> dict[str, Any]:
    """The register contents for ``model`` (``standard``, ``smile-b3``, ``smile-t10``…).

    A fixture may name another it ``extends``: its registers are laid over
    that one's.
    """
    name = model.replace("-", "_")
    path = DATA / f"{name}.json"
    if not path.exists():
        path = DATA / "standard.json"
    fixture = cast(dict[str, Any], json.loads(path.read_text()))
    base = fixture.pop("extends", None)
    if base is not None:
        parent = load_fixture(base)
        fixture["registers"] = {**parent["registers"], **fixture["registers"]}
    return fixture


class FakeAlphaEss(FakeModbusDevice):
    """A running AlphaESS unit on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = "standard",
        speed: float = 1.0,
        one_client: bool = True,
        refuse_style: str = "close",
        fixture: str | None = None,
    ) -> None:
        super().__init__(
            unit=UNIT,
            host=host,
            port=port,
            one_client=one_client,
            refuse_style=refuse_style,
            speed=speed,
        )
        self.model = model
        self.illegal: set[int] = set()
        #: Answer every request with this exception: 6 (device busy), or 11,
        #: which the Modbus spec has a TCP-to-RTU gateway answer when the
        #: device behind it is silent (no AlphaESS capture shows either,
        #: docs/protocols/alphaess.md#failures-seen-in-the-field). ``None``: answer normally.
        self.exception: ExcCodes | None = None
        #: Acknowledge writes to the dispatch block without applying them:
        #: a command the unit took but did not carry out, as reported for a
        #: G3-S5 (docs/protocols/alphaess.md#write-sequences).
        self.ignore_dispatch = False
        #: Answer writes touching these addresses with this exception code
        #: (a unit refusing a setting).
        self.refuse_writes: dict[int, ExcCodes] = {}
        #: Acknowledge writes to these addresses without applying them.
        self.ignore_writes: set[int] = set()
        #: Times each address was written (a write of n words counts each).
        self.writes: Counter[int] = Counter()
        #: The time of day the schedule runs on; ``None``: the local clock.
        self.time_of_day: clock_time | None = None
        self.profile = resolve_profile(model)
        if model == SMILE_HI10:
            # The Hi10 lacks 0x0453 (docs/protocols/alphaess.md#smile-hi10): exception 2.
            self.illegal |= {0x0453, 0x0454}
        self.words: dict[int, int] = {}
        data = load_fixture(fixture or model)
        for lo, hi in self.profile.readable:
            for address in range(lo, hi + 1):
                self.words[address] = 0
        for key, raw in data["registers"].items():
            self.set(key, raw)
        self._dispatch_until: float | None = None

    # --- register access -------------------------------------------------

    def set(self, key: str, raw: int | str) -> None:
        """Store a raw value for a register of the map."""
        reg = BY_KEY[key]
        words = (
            encode_ascii(str(raw), reg.length)
            if reg.type is RegType.ASCII
            else encode_raw(reg.type, int(raw))
        )
        for offset, word in enumerate(words):
            self.words[reg.address + offset] = word

    def get(self, key: str) -> int:
        """A numeric register's raw value (signed where the type is)."""
        reg = BY_KEY[key]
        words = [self.words[a] for a in range(reg.address, reg.end + 1)]
        raw = words[0] if reg.length == 1 else (words[0] << 16) | words[1]
        if reg.type is RegType.S16 and raw >= 0x8000:
            raw -= 0x1_0000
        if reg.type is RegType.S32 and raw >= 0x8000_0000:
            raw -= 0x1_0000_0000
        return raw

    def writes_to(self, key: str) -> int:
        """How often the register ``key`` was written."""
        reg = BY_KEY[key]
        return max(self.writes[a] for a in range(reg.address, reg.end + 1))

    def setting_soc(self, key: str) -> float:
        """A cut-off SOC register in percent, at this model's scale."""
        return self.get(key) * self.profile.scale(key, BY_KEY[key].scale)

    @property
    def export_limit_w(self) -> float:
        """Most the unit may feed in: 0x0800 % of the installed PV power."""
        installed = self.get("pv_capacity") + self.get("pv_capacity_grid_inverter")
        return self.get("max_feed_in") / 100 * installed

    def _window_open(self, windows: tuple[Setting, ...], bit: int) -> bool:
        """Whether ``bit`` is on and the time of day lies in one of ``windows``."""
        if not self.get(TIME_PERIOD_CONTROL.key) & bit:
            return False
        now = datetime.now().time() if self.time_of_day is None else self.time_of_day
        minute = now.hour * 60 + now.minute
        for setting in windows:
            regs = WINDOW_REGISTERS[setting]
            start, end = (
                self._minutes(regs.start_hour, regs.start_minute),
                self._minutes(regs.end_hour, regs.end_minute),
            )
            if start <= minute < end:
                return True
        return False

    def _minutes(self, hour: Register, minute: Register) -> int:
        return self.get(hour.key) * 60 + self.get(minute.key)

    def window(self, setting: Setting) -> tuple[clock_time, clock_time]:
        """A window's start and end as the unit holds them."""
        regs: WindowRegisters = WINDOW_REGISTERS[setting]
        return (
            clock_time(self.get(regs.start_hour.key), self.get(regs.start_minute.key)),
            clock_time(self.get(regs.end_hour.key), self.get(regs.end_minute.key)),
        )

    def dispatch_words(self) -> tuple[int, ...]:
        """The nine words at 0x0880 now."""
        return tuple(self.words[DISPATCH_ADDRESS + i] for i in range(9))

    # --- life ------------------------------------------------------------

    def step(self, now: float | None = None) -> None:
        """Advance the battery/PV/house model to ``now`` (monotonic seconds)."""
        now, seconds = self.elapsed(now)
        if seconds <= 0:
            return
        if self._dispatch_until is not None and now >= self._dispatch_until:
            self._dispatch_until = None
            for offset, word in enumerate(IDLE_WORDS):
                self.words[DISPATCH_ADDRESS + offset] = word
        phase = now / 60
        # Every string with a voltage produces; the first two as they always
        # did, the others (six-string units) a little less each.
        wired = [n for n in range(1, PV_STRINGS + 1) if self.get(f"pv{n}_voltage") > 0]
        pv_strings = {
            n: (1200 + 300 * math.sin(phase), 800 + 200 * math.cos(phase))[n - 1]
            if n <= 2
            else 600 + 100 * math.sin(phase + n)
            for n in wired
        }
        pv = sum(pv_strings.values()) + self.get("pv_meter_power")
        load = 650 + 150 * math.sin(phase * 1.7)
        battery = self._battery_power(load - pv)
        grid = load - pv - battery
        excess = -grid - self.export_limit_w
        dc = sum(pv_strings.values())
        if excess > 0 and dc > 0:
            # Curtail the DC strings (the AC-coupled inverter is not ours to limit).
            factor = max(0.0, 1 - excess / dc)
            pv_strings = {n: p * factor for n, p in pv_strings.items()}
            pv = sum(pv_strings.values()) + self.get("pv_meter_power")
            grid = load - pv - battery
        for n, power in pv_strings.items():
            self.set(f"pv{n}_power", round(power))
            self.set(f"pv{n}_current", round(power / max(1, self.get(f"pv{n}_voltage") / 10) * 10))
        self.set("battery_power", round(battery))
        # 0x0101, 0.1 A at the 0.1 V voltage; + discharge like the power.
        self.set("battery_current", round(battery / max(1, self.get("battery_voltage")) * 100))
        self.set("grid_power", round(grid))
        # The meter's phases share the grid power (a single-phase unit: all on A).
        phases = [p for p in "abc" if self.get(f"grid_voltage_{p}") > 0] or ["a"]
        for p in phases:
            self.set(f"grid_power_{p}", round(grid / len(phases)))
        self.set("inverter_power", round((pv + battery) / self._power_scale()))
        self.set("inverter_power_l1", round((pv + battery) / self._power_scale()))
        hours = seconds / 3600
        floor, ceiling = self.setting_soc("discharge_cutoff_soc"), 100.0
        if self._grid_charging():
            ceiling = self.setting_soc("charge_cutoff_soc")
        if self.get("dispatch_start") == 1:
            target = self.get("dispatch_soc") * 0.4
            floor, ceiling = (target, 100.0) if battery > 0 else (0.0, target)
        self.charge(battery, hours, self.get("battery_capacity") / 10, floor, ceiling)
        self.count_energy("battery_charge_energy", max(0.0, -battery) * hours / 1000, 0.1)
        self.count_energy("battery_discharge_energy", max(0.0, battery) * hours / 1000, 0.1)
        self.count_energy("grid_import_energy", max(0.0, grid) * hours / 1000, 0.01)
        self.count_energy("grid_export_energy", max(0.0, -grid) * hours / 1000, 0.01)
        self.count_energy(
            "system_pv_energy", pv * hours / 1000, self.profile.scale("system_pv_energy", 0.1)
        )
        self.count_energy("inverter_pv_energy", sum(pv_strings.values()) * hours / 1000, 0.1)

    def _power_scale(self) -> float:
        return self.profile.scale("inverter_power", 1.0)

    def _battery_power(self, deficit: float) -> float:
        """Battery power (+ discharge): dispatch setpoint if active, else cover the deficit."""
        max_charge = float(self.get("battery_max_charge_power"))
        max_discharge = float(self.get("battery_max_discharge_power"))
        soc = self.soc
        if self.get("dispatch_start") == 1 and self.get("dispatch_mode") == 2:
            power = float(self.get("dispatch_active_power") - POWER_OFFSET)
            target = self.get("dispatch_soc") * 0.4
            if (power < 0 and soc >= target) or (power > 0 and soc <= target):
                return 0.0
            return max(-max_charge, min(max_discharge, power))
        if self._grid_charging():
            return -max_charge
        if deficit > 0 and soc <= self.setting_soc("discharge_cutoff_soc"):
            return 0.0
        discharge_windows = self.get(TIME_PERIOD_CONTROL.key) & DISCHARGE_WINDOWS_BIT
        if (
            deficit > 0
            and discharge_windows
            and not self._window_open(_DISCHARGE, DISCHARGE_WINDOWS_BIT)
        ):
            return 0.0  # discharge windows on: the battery discharges only inside them
        if deficit < 0 and soc >= 100:
            return 0.0
        return max(-max_charge, min(max_discharge, deficit))

    def _grid_charging(self) -> bool:
        """Inside a charge window with charge windows on, below the charge cut-off."""
        return self._window_open(_CHARGE, CHARGE_WINDOWS_BIT) and self.soc < self.setting_soc(
            "charge_cutoff_soc"
        )

    # --- the pymodbus side -------------------------------------------------

    def ignores(self, pdu: ModbusPDU, request: Request, previous: Request | None) -> bool:
        """A SMILE-B3 never answers FC06 (docs/protocols/alphaess.md#smile-b3)."""
        return pdu.function_code == 6 and self.model == SMILE_B3

    async def action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Answer one request from the unit's registers (holding only)."""
        span = range(address, address + count)
        if self.exception is not None:
            return self.exception
        if any(a in self.illegal or a not in self.words for a in span):
            return ExcCodes.ILLEGAL_ADDRESS
        if function_code == 16 and count == 1 and self.model != SMILE_B3:
            return ExcCodes.ILLEGAL_ADDRESS  # many units refuse FC16 on one register
        if values is not None:
            refused = [self.refuse_writes[a] for a in span if a in self.refuse_writes]
            if refused:
                return refused[0]
            words = [int(v) for v in values]
            if not self._fits(address, words):
                return ExcCodes.ILLEGAL_VALUE
            self.writes.update(span)
            self._write_block(address, words)
        else:
            self.step()
        offset = address - start_address
        registers[offset : offset + count] = [self.words[a] for a in span]
        return None

    def _fits(self, address: int, words: list[int]) -> bool:
        """Whether every settings register written gets a value it can hold."""
        limits = {BY_KEY[key].address: top for key, top in _SETTING_MAX.items()}
        for key in ("discharge_cutoff_soc", "charge_cutoff_soc"):
            limits[BY_KEY[key].address] = round(100 / self.profile.scale(key, 1.0))
        return all(
            word <= limits[address + offset]
            for offset, word in enumerate(words)
            if address + offset in limits
        )

    def _write_block(self, address: int, values: list[int]) -> None:
        dispatch = range(DISPATCH_ADDRESS, DISPATCH_ADDRESS + 9)
        if self.ignore_dispatch and address in dispatch:
            return
        feed_in = BY_KEY["max_feed_in"].address
        for offset, word in enumerate(values):
            target = address + offset
            if target in self.ignore_writes:
                continue
            if target == feed_in and self.get("dispatch_start") == 1:
                continue  # 0x0800 is ignored while a dispatch runs (see the docstring)
            self.words[target] = word
        if address in dispatch:
            self.step()
            seconds = (self.words[0x0887] << 16) | self.words[0x0888]
            active = self.words[DISPATCH_ADDRESS] == 1 and seconds > 0
            self._dispatch_until = time.monotonic() + seconds / self.speed if active else None

    def simdata(self) -> list[SimData]:
        """One shared block per readable range (holding registers only)."""
        blocks = []
        for lo, hi in self.profile.readable:
            blocks.append(SimData(lo, count=hi - lo + 1, values=0, datatype=DataType.REGISTERS))
        return blocks


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = command_line(__doc__, 5020)
    parser.add_argument("--model", default="standard")
    args = parser.parse_args(argv)
    fake = FakeAlphaEss(host=args.host, port=args.port, model=args.model, speed=args.speed)
    serve(fake, f"fake AlphaESS ({args.model})")


if __name__ == "__main__":
    main()

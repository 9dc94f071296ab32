"""The simulated system: PV array, house, battery, grid connection.

Generation and load are pure functions of time (see :mod:`.curves`), so
two runs with the same seed and clock agree sample for sample. The battery
and the energy meters carry state, which :meth:`SimulatedSystem.as_dict`
exports for the caller to persist: totals survive restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..dispatch import BatteryLimits, Command, CommandKind, validate_command
from ..energy import EnergyMeter
from ..model import BatteryMode, InverterStatus, Metric, Snapshot, Value
from .battery import FLOOR_SOC, RESERVE_SOC, Battery
from .curves import ambient_temperature, house_load, pv_power
from .noise import value_noise
from .rehearsal import FaultKind, SimulatedLink

PRODUCING_THRESHOLD_W = 10.0
STRING_SHARE = (0.6, 0.4)  # two MPPT strings of unequal size

CHANNELS = (
    "pv",
    "load",
    "grid_import",
    "grid_export",
    "battery_charge",
    "battery_discharge",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorConfig:
    """What the user chose for the simulated system."""

    pv_peak_kw: float = 5.5
    battery_kwh: float = 10.0
    seed: str = "sunstream"
    location: tuple[float, float] | None = None


class SimulatedSystem(SimulatedLink):
    """A house with PV and an optional battery, stepped at each poll."""

    source_type = "simulated"
    # A house has one inverter: it going offline is the system going quiet.
    fault_kinds = frozenset({FaultKind.INVERTER_OFFLINE})

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.battery = Battery(capacity_kwh=config.battery_kwh)
        self.meter = EnergyMeter(channels=CHANNELS)
        self.command: Command | None = None
        self.outage_until = None
        self._last_step: datetime | None = None

    @property
    def pv_peak_w(self) -> float:
        """Peak power of the PV array, in W."""
        return self.config.pv_peak_kw * 1000

    @property
    def has_battery(self) -> bool:
        """Whether the system was configured with a battery."""
        return self.config.battery_kwh > 0

    @property
    def battery_limits(self) -> BatteryLimits | None:
        """Limits dispatch commands are checked against."""
        return self.battery.limits if self.has_battery else None

    # -- commands ---------------------------------------------------------

    def dispatch(self, command: Command) -> None:
        """Accept a charge / discharge / stop, or raise ``CommandRejected``."""
        validate_command(command, self.battery_limits)
        self.command = None if command.kind is CommandKind.STOP else command

    def simulate_fault(self, kind: FaultKind, now: datetime, duration: timedelta) -> None:
        """Inject ``kind`` (one of :attr:`fault_kinds`) from ``now`` for ``duration``."""
        if kind not in self.fault_kinds:
            raise ValueError(f"a simulated house cannot rehearse {kind}")
        self.start_outage(now, duration)

    # -- stepping ---------------------------------------------------------

    def battery_mode(self, now: datetime) -> BatteryMode:
        """Who decides the battery's power at ``now``."""
        if not self.has_battery:
            return BatteryMode.IDLE
        if self.command is not None and self.command.active(now):
            if self.command.kind is CommandKind.CHARGE:
                return BatteryMode.FORCED_CHARGE
            return BatteryMode.FORCED_DISCHARGE
        return BatteryMode.SELF_CONSUMPTION

    def _battery_setpoint(self, now: datetime, pv: float, load: float) -> float:
        command = self.command
        if command is not None and not command.active(now):
            self.command = command = None
        if command is None:
            return self.battery.request(load - pv, RESERVE_SOC, 100.0)
        floor = max(FLOOR_SOC, command.target_soc)
        reached = (
            self.battery.soc >= command.target_soc
            if command.kind is CommandKind.CHARGE
            else self.battery.soc <= floor
        )
        if reached:
            # Done early: back to normal operation, as a real unit does.
            self.command = None
            return self.battery.request(load - pv, RESERVE_SOC, 100.0)
        if command.kind is CommandKind.CHARGE:
            return self.battery.request(-command.power_w, FLOOR_SOC, command.target_soc)
        return self.battery.request(command.power_w, floor, 100.0)

    def step(self, now: datetime) -> Snapshot:
        """Advance the simulation to ``now`` (time-zone aware) and read it."""
        if self._last_step is not None:
            elapsed = now.timestamp() - self._last_step.timestamp()
            if 0 < elapsed <= self.meter.max_gap.total_seconds():
                self.battery.advance(elapsed)
        self._last_step = now

        pv = pv_power(now, self.config.location, self.config.pv_peak_kw * 1000, self.config.seed)
        load = house_load(now, self.config.seed)
        battery = self._battery_setpoint(now, pv, load) if self.has_battery else 0.0
        grid = load - pv - battery
        self.meter.sample(
            now,
            {
                "pv": pv,
                "load": load,
                "grid_import": max(grid, 0.0),
                "grid_export": max(-grid, 0.0),
                "battery_charge": max(-battery, 0.0),
                "battery_discharge": max(battery, 0.0),
            },
        )
        return self._snapshot(now, pv, load, grid, battery)

    def poll(self, now: datetime) -> Snapshot:
        """Step and read, as a real source answers a poll.

        The simulation keeps running through an outage (the sun does not
        stop), but nobody hears about it until the link is back.
        """
        snapshot = self.step(now)
        self.answer(now)
        return snapshot

    def _snapshot(
        self, now: datetime, pv: float, load: float, grid: float, battery: float
    ) -> Snapshot:
        counters = self.meter.counters
        status = InverterStatus.PRODUCING if pv > PRODUCING_THRESHOLD_W else InverterStatus.STANDBY
        metrics: dict[Metric, Value] = {
            Metric.PV_POWER: round(pv, 1),
            Metric.PV_ENERGY_TODAY: counters["pv"].today,
            Metric.PV_ENERGY_MONTH: counters["pv"].month,
            Metric.PV_ENERGY_TOTAL: counters["pv"].total,
            Metric.LOAD_POWER: round(load, 1),
            Metric.LOAD_ENERGY_TOTAL: counters["load"].total,
            Metric.GRID_POWER: round(grid, 1),
            Metric.GRID_IMPORT_ENERGY: counters["grid_import"].total,
            Metric.GRID_EXPORT_ENERGY: counters["grid_export"].total,
            Metric.INVERTER_TEMPERATURE: round(
                ambient_temperature(now) + 20 * pv / (self.config.pv_peak_kw * 1000 or 1), 1
            ),
            Metric.STATUS: status.value,
        }
        if self.has_battery:
            metrics |= {
                Metric.BATTERY_POWER: round(battery, 1),
                Metric.BATTERY_SOC: round(self.battery.soc, 1),
                Metric.BATTERY_CHARGE_ENERGY: counters["battery_charge"].total,
                Metric.BATTERY_DISCHARGE_ENERGY: counters["battery_discharge"].total,
                Metric.BATTERY_MODE: self.battery_mode(now).value,
            }
        seconds = now.timestamp()
        extras: dict[str, Value] = {
            "grid_voltage": round(
                230 + 6 * (value_noise(self.config.seed, "grid-v", seconds, 60) - 0.5), 1
            ),
            "grid_frequency": round(
                50 + 0.1 * (value_noise(self.config.seed, "grid-f", seconds, 30) - 0.5), 3
            ),
        }
        for number, share in enumerate(STRING_SHARE, start=1):
            string_power = pv * share
            voltage = 0.0 if string_power <= 0 else 320 + 60 * min(1.0, string_power / 1000)
            extras[f"pv{number}_power"] = round(string_power, 1)
            extras[f"pv{number}_voltage"] = round(voltage, 1)
        return Snapshot(taken_at=now, metrics=metrics, extras=extras)

    # -- persistence ------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """State to persist between runs."""
        return {
            "soc": self.battery.soc,
            "battery_power": self.battery.power,
            "meter": self.meter.as_dict(),
            "command": self.command.as_dict() if self.command else None,
            "outage_until": self.outage_until.isoformat() if self.outage_until else None,
            "last_step": self._last_step.isoformat() if self._last_step else None,
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from what :meth:`as_dict` saved."""
        self.battery.soc = float(data.get("soc", self.battery.soc))
        self.battery.power = float(data.get("battery_power", 0.0))
        self.meter.restore(data.get("meter", {}))
        command = data.get("command")
        self.command = Command.from_dict(command) if command else None
        outage_until = data.get("outage_until")
        self.outage_until = datetime.fromisoformat(outage_until) if outage_until else None
        last_step = data.get("last_step")
        self._last_step = datetime.fromisoformat(last_step) if last_step else None

    # -- the Source protocol ----------------------------------------------

    async def async_poll(self, now: datetime) -> Snapshot:
        """See :meth:`poll`."""
        return self.poll(now)

    async def async_dispatch(self, command: Command) -> None:
        """See :meth:`dispatch`."""
        self.dispatch(command)

    async def async_close(self) -> None:
        """Nothing to release."""

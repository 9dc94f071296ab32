"""The simulated system: PV array, house, battery, grid connection.

Generation and load are pure functions of time (see :mod:`.curves`), so
two runs with the same seed and clock agree sample for sample. The battery
and the energy meters carry state, which :meth:`SimulatedSystem.as_dict`
exports for the caller to persist: totals survive restarts.

The system keeps every setting of :mod:`..controls` as a device keeps them
in flash (they persist with the rest of its state) and honours them on its
own clock, the wall-clock time of the ``now`` each step is given:

* **reserve SOC**: self-consumption and discharge windows never discharge
  below it (a forced discharge goes down to its own target, never below
  :data:`.battery.FLOOR_SOC`);
* **charge windows**: inside an enabled one the battery charges at full
  power, from PV and grid, up to the **charge limit SOC**;
* **discharge windows**: inside an enabled one the battery discharges at full
  power, the surplus going to the grid, down to the reserve;
* **export limit**: when enabled, PV is curtailed (then battery discharge)
  so the grid never takes more than the limit; the ``curtailed_power``
  extra shows the PV power given up.

A forced command (:meth:`SimulatedSystem.dispatch`) outranks the windows;
windows run under self-consumption, which is the battery mode reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from ..controls import (
    WINDOWS,
    DeviceSettings,
    NumberRange,
    Setting,
    SettingChange,
    SettingsSpec,
    Window,
)
from ..daily import stored_energy
from ..dispatch import BatteryLimits, Command, CommandKind, validate_command
from ..energy import EnergyMeter
from ..model import BatteryMode, InverterStatus, Metric, Snapshot, Value
from ..setting_rules import applied, reported_value, validate_change, window_holds
from .battery import FLOOR_SOC, RESERVE_SOC, Battery
from .curves import ambient_temperature, house_load, pv_power
from .noise import value_noise
from .rehearsal import FaultKind, SimulatedLink

PRODUCING_THRESHOLD_W = 10.0
STRING_SHARE = (0.6, 0.4)  # two MPPT strings of unequal size

CHARGE_WINDOWS = (Setting.CHARGE_WINDOW_1, Setting.CHARGE_WINDOW_2)
DISCHARGE_WINDOWS = (Setting.DISCHARGE_WINDOW_1, Setting.DISCHARGE_WINDOW_2)
MIDNIGHT = time(0, 0)
EXPORT_LIMIT_STEP_W = 10.0

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
        self.settings = self.default_settings()
        self._spec: tuple[SimulatorConfig | None, SettingsSpec] = (None, SettingsSpec())

    def default_settings(self) -> DeviceSettings:
        """What a new system keeps: no export limit, no windows, the usual reserve."""
        windows = {
            setting: Window(start=MIDNIGHT, end=MIDNIGHT, enabled=False) for setting in WINDOWS
        }
        return DeviceSettings(
            reserve_soc=RESERVE_SOC if self.has_battery else None,
            charge_limit_soc=100.0 if self.has_battery else None,
            export_limit_enabled=False,
            export_limit=self.pv_peak_w,
            windows=windows if self.has_battery else {},
        )

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

    # -- settings (the Configurable protocol) ---------------------------------

    @property
    def settings_spec(self) -> SettingsSpec:
        """Everything; reserve, charge limit and windows only with a battery.

        The same object while the configuration is: every settings entity
        asks at every poll, and compares it with what it saw before.
        """
        if self._spec[0] is not self.config:
            self._spec = (self.config, self._settings_spec())
        return self._spec[1]

    def _settings_spec(self) -> SettingsSpec:
        export = NumberRange(
            minimum=0.0, maximum=self.pv_peak_w, step=EXPORT_LIMIT_STEP_W, unit="W"
        )
        if not self.has_battery:
            return SettingsSpec(ranges={Setting.EXPORT_LIMIT: export}, export_limit_switch=True)
        soc = NumberRange(minimum=FLOOR_SOC, maximum=100.0, step=1.0, unit="%")
        return SettingsSpec(
            ranges={
                Setting.RESERVE_SOC: soc,
                Setting.CHARGE_LIMIT_SOC: soc,
                Setting.EXPORT_LIMIT: export,
            },
            windows=frozenset(WINDOWS),
            export_limit_switch=True,
            # A charge and a discharge window at once would contradict each other.
            windows_may_overlap=False,
        )

    def reported_settings(self) -> DeviceSettings:
        """The settings the simulated device holds."""
        return self.settings

    def write_setting(self, change: SettingChange) -> None:
        """Take ``change`` if valid (see :mod:`..setting_rules`); unchanged is a no-op."""
        validate_change(self.settings_spec, self.settings, change)
        if reported_value(self.settings, change.setting) != change.value:
            self.settings = applied(self.settings, change)

    async def async_write_setting(self, change: SettingChange) -> None:
        """See :meth:`write_setting`."""
        self.write_setting(change)

    def _in_window(self, windows: tuple[Setting, ...], now: datetime) -> bool:
        moment = now.time()
        return any(window_holds(self.settings.windows.get(w), moment) for w in windows)

    def _export_limit(self) -> float | None:
        settings = self.settings
        return settings.export_limit if settings.export_limit_enabled else None

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
            return self._scheduled_setpoint(now, pv, load)
        floor = max(FLOOR_SOC, command.target_soc)
        reached = (
            self.battery.soc >= command.target_soc
            if command.kind is CommandKind.CHARGE
            else self.battery.soc <= floor
        )
        if reached:
            # Done early: back to normal operation, as a real unit does.
            self.command = None
            return self._scheduled_setpoint(now, pv, load)
        if command.kind is CommandKind.CHARGE:
            return self.battery.request(-command.power_w, FLOOR_SOC, command.target_soc)
        return self.battery.request(command.power_w, floor, 100.0)

    def _scheduled_setpoint(self, now: datetime, pv: float, load: float) -> float:
        """Normal operation: the device's own windows, else self-consumption."""
        settings = self.settings
        reserve = RESERVE_SOC if settings.reserve_soc is None else settings.reserve_soc
        charge_limit = 100.0 if settings.charge_limit_soc is None else settings.charge_limit_soc
        full = self.battery.limits.max_charge_w
        if self._in_window(CHARGE_WINDOWS, now) and self.battery.soc < charge_limit:
            return self.battery.request(-full, FLOOR_SOC, charge_limit)
        if self._in_window(DISCHARGE_WINDOWS, now):
            return self.battery.request(full, reserve, 100.0)
        return self.battery.request(load - pv, reserve, 100.0)

    def _curtail(self, pv: float, load: float, battery: float) -> tuple[float, float]:
        """PV and battery power within the export limit (PV gives way first)."""
        limit = self._export_limit()
        excess = pv + battery - load - limit if limit is not None else 0.0
        if excess <= 0:
            return pv, battery
        cut = min(excess, pv)
        if excess > cut and battery > 0:
            battery = self.battery.request(max(0.0, battery - (excess - cut)), FLOOR_SOC, 100.0)
        return pv - cut, battery

    def step(self, now: datetime) -> Snapshot:
        """Advance the simulation to ``now`` (time-zone aware) and read it."""
        if self._last_step is not None:
            elapsed = now.timestamp() - self._last_step.timestamp()
            if 0 < elapsed <= self.meter.max_gap.total_seconds():
                self.battery.advance(elapsed)
        self._last_step = now

        available = pv_power(
            now, self.config.location, self.config.pv_peak_kw * 1000, self.config.seed
        )
        load = house_load(now, self.config.seed)
        battery = self._battery_setpoint(now, available, load) if self.has_battery else 0.0
        pv, battery = self._curtail(available, load, battery)
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
        return self._snapshot(now, pv, load, grid, battery, curtailed=available - pv)

    def poll(self, now: datetime) -> Snapshot:
        """Step and read, as a real source answers a poll.

        The simulation keeps running through an outage (the sun does not
        stop), but nobody hears about it until the link is back.
        """
        snapshot = self.step(now)
        self.answer(now)
        return snapshot

    def _snapshot(
        self,
        now: datetime,
        pv: float,
        load: float,
        grid: float,
        battery: float,
        *,
        curtailed: float,
    ) -> Snapshot:
        counters = self.meter.counters
        status = InverterStatus.PRODUCING if pv > PRODUCING_THRESHOLD_W else InverterStatus.STANDBY
        metrics: dict[Metric, Value] = {
            Metric.PV_POWER: round(pv, 1),
            Metric.PV_ENERGY_TODAY: counters["pv"].today,
            Metric.PV_ENERGY_MONTH: counters["pv"].month,
            Metric.PV_ENERGY_TOTAL: counters["pv"].total,
            Metric.LOAD_POWER: round(load, 1),
            Metric.LOAD_ENERGY_TODAY: counters["load"].today,
            Metric.LOAD_ENERGY_TOTAL: counters["load"].total,
            Metric.GRID_POWER: round(grid, 1),
            Metric.GRID_IMPORT_ENERGY_TODAY: counters["grid_import"].today,
            Metric.GRID_IMPORT_ENERGY: counters["grid_import"].total,
            Metric.GRID_EXPORT_ENERGY_TODAY: counters["grid_export"].today,
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
                Metric.BATTERY_CAPACITY: self.battery.capacity_kwh,
                Metric.BATTERY_CHARGE_ENERGY_TODAY: counters["battery_charge"].today,
                Metric.BATTERY_CHARGE_ENERGY: counters["battery_charge"].total,
                Metric.BATTERY_DISCHARGE_ENERGY_TODAY: counters["battery_discharge"].today,
                Metric.BATTERY_DISCHARGE_ENERGY: counters["battery_discharge"].total,
                Metric.BATTERY_MODE: self.battery_mode(now).value,
            }
            metrics[Metric.BATTERY_STORED_ENERGY] = stored_energy(metrics)
        seconds = now.timestamp()
        extras: dict[str, Value] = {
            "grid_voltage": round(
                230 + 6 * (value_noise(self.config.seed, "grid-v", seconds, 60) - 0.5), 1
            ),
            "grid_frequency": round(
                50 + 0.1 * (value_noise(self.config.seed, "grid-f", seconds, 30) - 0.5), 3
            ),
            "curtailed_power": round(curtailed, 1),
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
            "settings": _settings_as_dict(self.settings),
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
        if (settings := data.get("settings")) is not None:
            self.settings = _settings_from_dict(settings, self.default_settings())

    # -- the Source protocol ----------------------------------------------

    async def async_poll(self, now: datetime) -> Snapshot:
        """See :meth:`poll`."""
        return self.poll(now)

    async def async_dispatch(self, command: Command) -> None:
        """See :meth:`dispatch`."""
        self.dispatch(command)

    async def async_close(self) -> None:
        """Nothing to release."""


def _settings_as_dict(settings: DeviceSettings) -> dict[str, Any]:
    return {
        "reserve_soc": settings.reserve_soc,
        "charge_limit_soc": settings.charge_limit_soc,
        "export_limit_enabled": settings.export_limit_enabled,
        "export_limit": settings.export_limit,
        "windows": {
            setting.value: {
                "start": window.start.isoformat(),
                "end": window.end.isoformat(),
                "enabled": window.enabled,
            }
            for setting, window in settings.windows.items()
        },
    }


def _settings_from_dict(data: dict[str, Any], default: DeviceSettings) -> DeviceSettings:
    """Inverse of :func:`_settings_as_dict`; what is missing keeps ``default``.

    ``default`` is for the system as configured now: after a reconfiguration
    without battery, the battery's settings stay unreported; with a smaller
    PV array, the export limit is at most the new peak power.
    """

    def kept(key: str, fallback: float | None) -> float | None:
        if fallback is None:
            return None
        value = data.get(key)
        return fallback if value is None else float(value)

    windows = dict(default.windows)
    for key, window in data.get("windows", {}).items():
        if Setting(key) in windows:
            windows[Setting(key)] = Window(
                start=time.fromisoformat(window["start"]),
                end=time.fromisoformat(window["end"]),
                enabled=bool(window["enabled"]),
            )
    export_limit = kept("export_limit", default.export_limit)
    return DeviceSettings(
        reserve_soc=kept("reserve_soc", default.reserve_soc),
        charge_limit_soc=kept("charge_limit_soc", default.charge_limit_soc),
        export_limit_enabled=bool(data.get("export_limit_enabled", default.export_limit_enabled)),
        export_limit=None
        if export_limit is None or default.export_limit is None
        else min(export_limit, default.export_limit),
        windows=windows,
    )

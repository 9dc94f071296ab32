"""A simulated microgrid: five buses, three converters, solar and wind.

The profile of seed 002 (docs/protocols/app-seeds.md#seed-002), made physically consistent:

* the network is solved as an AC power flow every second, so the slack bus
  (the grid connection) takes exactly generation − load − losses;
* each converter's AC output follows its DC side (the units feeding it)
  through its efficiency; its d/q currents follow from P, Q and the bus
  voltage; it heats with its losses through a thermal time constant;
* frequency drifts with the power the grid has to supply (droop), through a
  first-order lag;
* solar units follow the sun at the user's home and seeded clouds; wind
  units follow a turbine power curve with cut-in, rated and cut-out speeds.

Layout (bus numbers from 1)::

    1 SLACK (grid) ── 2 PV  (solar A via TWO_LEVEL converter, solar B via BUCK
    │                        stage onto the same DC link)
    ├─ 3 PQ (load A) ── 4 PQ (wind A + B via NPC converter) ── 5 PQ (load B)

Everything is a pure function of the seed, the clock and the faults in
force, stepped at 0.5 s; units are sampled every 2 s, buses every 1 s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
from typing import Any

from ..dispatch import Command
from ..energy import EnergyMeter
from ..errors import CommandRejected, SourceUnavailable
from ..model import (
    DeviceIdentity,
    DeviceKind,
    DeviceReading,
    InverterStatus,
    Metric,
    Snapshot,
    Value,
)
from .curves import ambient_temperature, cloud_transmittance, daylight_fraction
from .noise import value_noise
from .powerflow import BusResult, BusSpec, BusType, Line, admittance, solve
from .rehearsal import FaultKind, SimulatedLink

STEP = 0.5  # s, the converters' rate
BUS_EVERY = 2  # steps: 1 s
UNIT_EVERY = 4  # steps: 2 s
MAX_CATCH_UP = timedelta(minutes=1)
NOMINAL_FREQUENCY = 50.0
PHASE_VOLTAGE = 230.0
STC_IRRADIANCE = 1000.0
CHANNELS = ("pv", "wind", "load", "grid_import", "grid_export")


@dataclass(frozen=True, slots=True, kw_only=True)
class MicrogridConfig:
    """Sizes of the simulated microgrid."""

    seed: str = "microgrid"
    location: tuple[float, float] | None = None
    base_kva: float = 100.0
    solar_kwp: tuple[float, float] = (25.0, 25.0)
    wind_kw: tuple[float, float] = (25.0, 25.0)
    loads_kw: tuple[float, float] = (35.0, 25.0)


@dataclass(slots=True, kw_only=True)
class Converter:
    """A power converter between units and a bus."""

    key: str
    topology: str
    rated_kw: float
    efficiency: float
    dc_nominal_v: float
    thd_floor: float  # TDD in % at rated load
    thermal_resistance: float = 30.0  # °C per kW of losses
    time_constant: float = 120.0  # s
    temperature: float = 25.0
    p_kw: float = 0.0
    q_kvar: float = 0.0
    dc_kw: float = 0.0
    online: bool = True

    def follow(self, dc_kw: float, q_kvar: float) -> None:
        """Output what the DC side provides, less losses (nothing if tripped)."""
        self.dc_kw = dc_kw if self.online else 0.0
        self.p_kw = self.dc_kw * self.efficiency
        self.q_kvar = q_kvar if self.online else 0.0

    def heat(self, ambient: float, seconds: float, extra_heat: float) -> None:
        """First-order thermal step towards ambient + R_th × losses."""
        losses = self.dc_kw - self.p_kw
        target = ambient + self.thermal_resistance * losses + extra_heat
        self.temperature += (target - self.temperature) * (
            1 - math.exp(-seconds / self.time_constant)
        )

    def thd(self) -> float:
        """Current distortion as IEEE 519 measures it (TDD), in % of rated current.

        Harmonic current shrinks less than the fundamental at light load, so
        the distortion relative to *rated* current falls only slowly with load.
        """
        load = min(1.0, abs(self.p_kw) / self.rated_kw) if self.online else 0.0
        return self.thd_floor * (0.4 + 0.6 * load) if load > 0.02 else 0.0

    def dc_voltage(self) -> float:
        """The DC link sags a little under load."""
        return self.dc_nominal_v * (1 - 0.02 * min(1.0, self.dc_kw / self.rated_kw))

    def dq_currents(self, bus_voltage_pu: float) -> tuple[float, float]:
        """(i_d, i_q) in A, amplitude-invariant, d axis on the bus voltage."""
        v_d = bus_voltage_pu * PHASE_VOLTAGE * math.sqrt(2)
        if v_d <= 0:
            return 0.0, 0.0
        return self.p_kw * 1000 / (1.5 * v_d), -self.q_kvar * 1000 / (1.5 * v_d)


def wind_power(speed: float, rated_kw: float) -> float:
    """Turbine power curve: 0 below 3 m/s, cubic to rated at 12, 0 above 25."""
    cut_in, rated_speed, cut_out = 3.0, 12.0, 25.0
    if speed < cut_in or speed >= cut_out:
        return 0.0
    if speed >= rated_speed:
        return rated_kw
    return rated_kw * (speed**3 - cut_in**3) / (rated_speed**3 - cut_in**3)


@dataclass(slots=True)
class _Units:
    irradiance: tuple[float, float] = (0.0, 0.0)
    panel_temperature: tuple[float, float] = (25.0, 25.0)
    solar_efficiency: tuple[float, float] = (0.0, 0.0)
    solar_kw: tuple[float, float] = (0.0, 0.0)
    wind_speed: tuple[float, float] = (0.0, 0.0)
    wind_kw: tuple[float, float] = (0.0, 0.0)


@dataclass(slots=True)
class _Faults:
    until: dict[FaultKind, datetime] = field(default_factory=dict)

    def active(self, kind: FaultKind, now: datetime) -> bool:
        end = self.until.get(kind)
        return end is not None and now < end


class MicrogridSystem(SimulatedLink):
    """The microgrid as a Sunstream source."""

    source_type = "simulated"
    fault_kinds = frozenset(FaultKind)
    has_battery = False
    battery_limits = None

    def __init__(self, config: MicrogridConfig) -> None:
        """Start at rest: converters at ambient, frequency nominal."""
        self.config = config
        self.running = True
        self.meter = EnergyMeter(channels=CHANNELS)
        self.faults = _Faults()
        self.frequency = NOMINAL_FREQUENCY
        self.converters = (
            Converter(
                key="converter_1",
                topology="TWO_LEVEL",
                rated_kw=50.0,
                efficiency=0.975,
                dc_nominal_v=700.0,
                thd_floor=3.0,
            ),
            Converter(
                key="converter_2",
                topology="NPC",
                rated_kw=50.0,
                efficiency=0.98,
                dc_nominal_v=800.0,
                thd_floor=1.8,
            ),
            Converter(
                key="converter_3",
                topology="BUCK",
                rated_kw=25.0,
                efficiency=0.985,
                dc_nominal_v=700.0,
                thd_floor=1.2,
            ),
        )
        self.units = _Units()
        self.buses: list[BusResult] = [BusResult(1.0, 0.0, 0.0, 0.0)] * 5
        self._lines = [
            Line(a=0, b=1, impedance=complex(0.010, 0.030)),
            Line(a=0, b=2, impedance=complex(0.015, 0.040)),
            Line(a=2, b=3, impedance=complex(0.020, 0.050)),
            Line(a=3, b=4, impedance=complex(0.020, 0.050)),
            Line(a=1, b=2, impedance=complex(0.025, 0.060)),
        ]
        self._y = admittance(5, self._lines)
        self._loads = (0.0, 0.0)
        self._last: datetime | None = None
        self._steps = 0
        self.outage_until = None

    @property
    def pv_peak_w(self) -> float:
        """Peak power of the solar units together, in W (what the PV power can reach)."""
        return sum(self.config.solar_kwp) * 1000

    # -- controls -----------------------------------------------------------

    def start(self) -> None:
        """Run the simulation (the seed's start control, docs/protocols/app-seeds.md#seed-002)."""
        self.running = True

    def stop(self) -> None:
        """Freeze the simulation: readings repeat until started again."""
        self.running = False
        self._last = None

    def simulate_fault(self, kind: FaultKind, now: datetime, duration: timedelta) -> None:
        """Inject ``kind`` from ``now`` for ``duration``."""
        self.faults.until[kind] = now + duration

    def clear_faults(self) -> None:
        """End every fault at once."""
        self.faults.until.clear()

    # -- simulation -----------------------------------------------------------

    def _sample_units(self, now: datetime) -> None:
        seed, seconds = self.config.seed, now.timestamp()
        clear = daylight_fraction(now, self.config.location)
        irradiance = []
        # Neighbouring arrays share the sky: a difference between them is
        # shading or a fault, which is what the string-mismatch alert is for.
        sky = STC_IRRADIANCE * max(0.0, clear) * cloud_transmittance(seed, seconds)
        for index in range(2):
            g = sky
            if index == 1 and self.faults.active(FaultKind.PV_STRING_SHADING, now):
                g *= 0.35
            irradiance.append(g)
        ambient = ambient_temperature(now)
        temps = tuple(ambient + 25 * g / 800 for g in irradiance)  # NOCT 45 °C
        eff = tuple(
            0.20 * (1 - 0.004 * (t - 25)) if g > 0 else 0.0
            for g, t in zip(irradiance, temps, strict=True)
        )
        solar = tuple(
            kwp * g / STC_IRRADIANCE * (e / 0.20)
            for kwp, g, e in zip(self.config.solar_kwp, irradiance, eff, strict=True)
        )
        mean_wind = 6 + 4 * value_noise(seed, "wind-mean", seconds, 3600)
        speeds = [
            max(0.0, mean_wind * (0.8 + 0.5 * value_noise(seed, f"gust-{i}", seconds, 8)))
            for i in range(2)
        ]
        if self.faults.active(FaultKind.WIND_CUT_OUT, now):
            speeds = [27.0, 26.5]
        wind = [wind_power(s, r) for s, r in zip(speeds, self.config.wind_kw, strict=True)]
        self.units = _Units(
            irradiance=(irradiance[0], irradiance[1]),
            panel_temperature=(temps[0], temps[1]),
            solar_efficiency=(eff[0], eff[1]),
            solar_kw=(solar[0], solar[1]),
            wind_speed=(speeds[0], speeds[1]),
            wind_kw=(wind[0], wind[1]),
        )
        hour = now.hour + now.minute / 60
        daily = (
            0.55
            + 0.45 * math.exp(-(((hour - 19) / 3) ** 2))
            + 0.2 * math.exp(-(((hour - 8) / 2) ** 2))
        )
        self._loads = tuple(  # type: ignore[assignment]
            peak * daily * (0.85 + 0.3 * value_noise(seed, f"load-{i}", seconds, 120))
            for i, peak in enumerate(self.config.loads_kw)
        )

    def _solve_buses(self, now: datetime) -> None:
        base = self.config.base_kva
        c1, c2, _ = self.converters
        sag = self.faults.active(FaultKind.BUS_VOLTAGE_SAG, now)
        specs = [
            BusSpec(kind=BusType.SLACK, voltage=0.85 if sag else 1.0),
            BusSpec(kind=BusType.PV, p=c1.p_kw / base, voltage=0.85 if sag else 1.01),
            BusSpec(kind=BusType.PQ, p=-self._loads[0] / base, q=-0.3 * self._loads[0] / base),
            BusSpec(kind=BusType.PQ, p=c2.p_kw / base, q=c2.q_kvar / base),
            BusSpec(kind=BusType.PQ, p=-self._loads[1] / base, q=-0.25 * self._loads[1] / base),
        ]
        self.buses = solve(specs, self._y)

    def _step(self, now: datetime, seconds: float) -> None:
        c1, c2, c3 = self.converters
        if self._steps % UNIT_EVERY == 0:
            self._sample_units(now)
        c1.online = not self.faults.active(FaultKind.INVERTER_OFFLINE, now)
        c3.follow(self.units.solar_kw[1], 0.0)
        c1.follow(self.units.solar_kw[0] + c3.p_kw, 0.0)
        c2.follow(sum(self.units.wind_kw), 0.0)
        if self._steps % BUS_EVERY == 0:
            self._solve_buses(now)
        ambient = ambient_temperature(now)
        hot = self.faults.active(FaultKind.CONVERTER_OVER_TEMPERATURE, now)
        for converter in self.converters:
            converter.heat(ambient, seconds, 70.0 if hot and converter is c1 else 0.0)
        # Grid stiffness: 0.2 Hz per per-unit of imported power, 5 s lag.
        slack_pu = self.buses[0].p
        target = (
            NOMINAL_FREQUENCY
            - 0.2 * slack_pu
            + 0.02 * (value_noise(self.config.seed, "f", now.timestamp(), 5) - 0.5)
        )
        self.frequency += (target - self.frequency) * (1 - math.exp(-seconds / 5))
        self._steps += 1

    def step(self, now: datetime) -> Snapshot:
        """Advance to ``now`` in 0.5 s steps (at most a minute of catch-up)."""
        if self.running:
            start = self._last or now - timedelta(seconds=STEP)
            start = max(start, now - MAX_CATCH_UP)
            t = start + timedelta(seconds=STEP)
            while t <= now:
                self._step(t, STEP)
                t += timedelta(seconds=STEP)
            self._last = t - timedelta(seconds=STEP)
            # A trip takes effect at once, not at the next half-second step.
            c1, _, c3 = self.converters
            if c1.online == self.faults.active(FaultKind.INVERTER_OFFLINE, now):
                c1.online = not c1.online
                c1.follow(self.units.solar_kw[0] + c3.p_kw, 0.0)
            power = self._powers()
            self.meter.sample(now, power)
        return self._snapshot(now)

    def _powers(self) -> dict[str, float]:
        grid_kw = self.buses[0].p * self.config.base_kva
        return {
            "pv": self.converters[0].p_kw * 1000,
            "wind": self.converters[1].p_kw * 1000,
            "load": sum(self._loads) * 1000,
            "grid_import": max(grid_kw, 0.0) * 1000,
            "grid_export": max(-grid_kw, 0.0) * 1000,
        }

    # -- readings -------------------------------------------------------------

    def _snapshot(self, now: datetime) -> Snapshot:
        power = self._powers()
        counters = self.meter.counters
        hottest = max(c.temperature for c in self.converters)
        status = (
            InverterStatus.PRODUCING if power["pv"] + power["wind"] > 50 else InverterStatus.STANDBY
        )
        if not self.converters[0].online:
            status = InverterStatus.FAULT
        metrics: dict[Metric, Value] = {
            Metric.PV_POWER: round(power["pv"], 1),
            Metric.PV_ENERGY_TODAY: counters["pv"].today,
            Metric.PV_ENERGY_MONTH: counters["pv"].month,
            Metric.PV_ENERGY_TOTAL: counters["pv"].total,
            Metric.LOAD_POWER: round(power["load"], 1),
            Metric.LOAD_ENERGY_TOTAL: counters["load"].total,
            Metric.GRID_POWER: round(power["grid_import"] - power["grid_export"], 1),
            Metric.GRID_IMPORT_ENERGY: counters["grid_import"].total,
            Metric.GRID_EXPORT_ENERGY: counters["grid_export"].total,
            Metric.INVERTER_TEMPERATURE: round(hottest, 1),
            Metric.STATUS: status.value,
        }
        extras: dict[str, Value] = {
            "grid_voltage": round(self.buses[0].voltage * PHASE_VOLTAGE, 1),
            "grid_frequency": round(self.frequency, 3),
            "wind_power": round(power["wind"], 1),
            "wind_speed": round(max(self.units.wind_speed), 2),
            "wind_energy_total": counters["wind"].total,
            "simulation": "running" if self.running else "stopped",
            "pv1_power": round(self.units.solar_kw[0] * 1000, 1),
            "pv2_power": round(self.units.solar_kw[1] * 1000, 1),
        }
        for converter in self.converters:
            extras[f"converter_temperature_{converter.key}"] = round(converter.temperature, 1)
            extras[f"converter_thd_{converter.key}"] = round(converter.thd(), 2)
        return Snapshot(
            taken_at=now,
            metrics=metrics,
            extras=extras,
            devices=self._devices(),
        )

    def _devices(self) -> tuple[DeviceReading, ...]:
        base, units = self.config.base_kva, self.units
        kinds = ("slack", "pv", "pq", "pq", "pq")
        # A bus's model is its type; its number is in the key.
        readings = [
            _part(
                f"bus_{number}",
                DeviceKind.BUS,
                kind.upper(),
                {
                    "bus_voltage": round(bus.voltage * PHASE_VOLTAGE, 2),
                    "bus_angle": round(math.degrees(bus.angle), 3),
                    "bus_frequency": round(self.frequency, 3),
                    "bus_active_power": round(bus.p * base, 3),
                    "bus_reactive_power": round(bus.q * base, 3),
                },
            )
            for number, (bus, kind) in enumerate(zip(self.buses, kinds, strict=True), start=1)
        ]
        connected_bus = {"converter_1": 1, "converter_2": 3, "converter_3": 1}
        for converter in self.converters:
            i_d, i_q = converter.dq_currents(self.buses[connected_bus[converter.key]].voltage)
            values: dict[str, Value] = {
                "current_d": round(i_d, 2),
                "current_q": round(i_q, 2),
                "dc_link_voltage": round(converter.dc_voltage(), 1),
                "active_power": round(converter.p_kw, 3),
                "reactive_power": round(converter.q_kvar, 3),
                "thd": round(converter.thd(), 2),
                "temperature": round(converter.temperature, 1),
            }
            readings.append(
                _part(
                    converter.key,
                    DeviceKind.CONVERTER,
                    converter.topology,
                    values,
                    online=converter.online,
                )
            )
        for index, (kwp, kw) in enumerate(
            zip(self.config.solar_kwp, self.config.wind_kw, strict=True)
        ):
            solar = {
                "irradiance": round(units.irradiance[index], 1),
                "panel_temperature": round(units.panel_temperature[index], 1),
                "efficiency": round(units.solar_efficiency[index] * 100, 2),
                "unit_power": round(units.solar_kw[index], 3),
            }
            wind = {
                "wind_speed": round(units.wind_speed[index], 2),
                "unit_power": round(units.wind_kw[index], 3),
            }
            readings.append(
                _part(f"solar_{index + 1}", DeviceKind.SOLAR_UNIT, f"{kwp:g} kWp array", solar)
            )
            readings.append(
                _part(f"wind_{index + 1}", DeviceKind.WIND_UNIT, f"{kw:g} kW turbine", wind)
            )
        return tuple(readings)

    # -- the Source protocol --------------------------------------------------

    async def async_poll(self, now: datetime) -> Snapshot:
        """Step and read; a tripped converter is a part offline, not the system."""
        snapshot = self.step(now)
        self.answer(now)
        return snapshot

    async def async_dispatch(self, command: Command) -> None:
        """The microgrid has no battery to command."""
        raise CommandRejected("no_battery")

    async def async_close(self) -> None:
        """Nothing to release."""

    def as_dict(self) -> dict[str, Any]:
        """State to persist between runs: the energy counters."""
        return {"meter": self.meter.as_dict(), "running": self.running}

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from :meth:`as_dict`."""
        self.meter.restore(data.get("meter", {}))
        self.running = bool(data.get("running", True))


def _part(
    key: str, kind: DeviceKind, model: str, values: Mapping[str, Value], *, online: bool = True
) -> DeviceReading:
    """A reading of one of the microgrid's parts."""
    return DeviceReading(
        identity=DeviceIdentity(key=key, kind=kind, manufacturer="Sunstream", model=model),
        online=online,
        values=values,
    )


__all__ = ["FaultKind", "MicrogridConfig", "MicrogridSystem", "SourceUnavailable", "wind_power"]

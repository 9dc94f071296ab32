"""The microgrid profile: physically consistent, reproducible, faults that bite."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunstream.pysunstream.alerts import AlertEngine, Reading
from custom_components.sunstream.pysunstream.errors import CommandRejected
from custom_components.sunstream.pysunstream.model import DeviceKind, Metric
from custom_components.sunstream.pysunstream.simulator.microgrid import (
    FaultKind,
    MicrogridConfig,
    MicrogridSystem,
    wind_power,
)
from custom_components.sunstream.pysunstream.simulator.powerflow import (
    BusSpec,
    BusType,
    Line,
    PowerFlowDiverged,
    admittance,
    solve,
)

TZ = ZoneInfo("America/Sao_Paulo")
NOON = datetime(2026, 12, 1, 12, 0, tzinfo=TZ)
SAO_PAULO = (-23.55, -46.63)


def _run(system: MicrogridSystem, start: datetime, seconds: float, step: float = 1.0):
    snapshot = None
    t = start
    while t <= start + timedelta(seconds=seconds):
        snapshot = system.step(t)
        t += timedelta(seconds=step)
    assert snapshot is not None
    return snapshot


def _grid() -> MicrogridSystem:
    return MicrogridSystem(MicrogridConfig(seed="test", location=SAO_PAULO))


def test_two_bus_flow_matches_the_closed_form() -> None:
    """Load 0.5 + j0.2 pu behind z = 0.02 + j0.06: losses are |I|² R."""
    y = admittance(2, [Line(a=0, b=1, impedance=complex(0.02, 0.06))])
    slack, load = solve([BusSpec(kind=BusType.SLACK), BusSpec(kind=BusType.PQ, p=-0.5, q=-0.2)], y)
    current = abs(complex(0.5, -0.2) / (load.voltage))  # |S*/V*|
    assert slack.p - 0.5 == pytest.approx(current**2 * 0.02, rel=1e-6)
    assert load.p == pytest.approx(-0.5, abs=1e-8)
    assert 0.9 < load.voltage < 1.0


def test_overloaded_network_reports_divergence() -> None:
    y = admittance(2, [Line(a=0, b=1, impedance=complex(0.2, 0.6))])
    with pytest.raises(PowerFlowDiverged):
        solve([BusSpec(kind=BusType.SLACK), BusSpec(kind=BusType.PQ, p=-5.0, q=-3.0)], y)


def test_power_balances_at_the_slack_bus() -> None:
    system = _grid()
    _run(system, NOON, 10)
    base = system.config.base_kva
    injections = sum(bus.p for bus in system.buses) * base
    losses = injections  # generation − load − grid import = network losses ≥ 0
    assert losses >= 0
    assert losses < 0.05 * (sum(system._loads) + 1)
    generation = system.converters[0].p_kw + system.converters[1].p_kw
    slack = system.buses[0].p * base
    assert slack == pytest.approx(sum(system._loads) - generation + losses, abs=1e-3)


def test_converter_output_follows_its_dc_side() -> None:
    system = _grid()
    _run(system, NOON, 10)
    c1, c2, c3 = system.converters
    assert c3.p_kw == pytest.approx(system.units.solar_kw[1] * c3.efficiency)
    assert c1.p_kw == pytest.approx((system.units.solar_kw[0] + c3.p_kw) * c1.efficiency)
    assert c2.p_kw == pytest.approx(sum(system.units.wind_kw) * c2.efficiency)
    i_d, i_q = c1.dq_currents(system.buses[1].voltage)
    assert i_d > 0
    assert i_q == 0.0


def test_frequency_falls_when_the_grid_must_supply_more() -> None:
    light = _grid()
    heavy = MicrogridSystem(
        MicrogridConfig(seed="test", location=SAO_PAULO, loads_kw=(120.0, 100.0))
    )
    f_light = _run(light, NOON, 60).extras["grid_frequency"]
    f_heavy = _run(heavy, NOON, 60).extras["grid_frequency"]
    assert isinstance(f_light, float)
    assert isinstance(f_heavy, float)
    assert f_heavy < f_light


@pytest.mark.parametrize(
    ("speed", "expected"),
    [
        (2.0, 0.0),
        (3.0, 0.0),
        (7.5, 25 * (7.5**3 - 27) / (12**3 - 27)),
        (12.0, 25.0),
        (24.9, 25.0),
        (25.0, 0.0),
    ],
)
def test_wind_power_curve(speed: float, expected: float) -> None:
    assert wind_power(speed, 25.0) == pytest.approx(expected)


def test_night_has_no_solar_but_may_have_wind() -> None:
    system = _grid()
    snapshot = _run(system, NOON.replace(hour=2), 10)
    assert snapshot.get(Metric.PV_POWER) == 0.0
    assert system.units.irradiance == (0.0, 0.0)


def test_reproducible_for_the_same_seed_and_clock() -> None:
    a = _run(_grid(), NOON, 20)
    b = _run(_grid(), NOON, 20)
    assert a.metrics == b.metrics
    assert a.extras == b.extras


def test_parts_are_reported_as_devices() -> None:
    snapshot = _run(_grid(), NOON, 4)
    kinds = [reading.identity.kind for reading in snapshot.devices]
    assert kinds.count(DeviceKind.BUS) == 5
    assert kinds.count(DeviceKind.CONVERTER) == 3
    assert kinds.count(DeviceKind.SOLAR_UNIT) == 2
    assert kinds.count(DeviceKind.WIND_UNIT) == 2
    topologies = {
        r.identity.model for r in snapshot.devices if r.identity.kind is DeviceKind.CONVERTER
    }
    assert topologies == {"TWO_LEVEL", "NPC", "BUCK"}


def test_wind_cut_out_stops_the_turbines() -> None:
    system = _grid()
    system.simulate_fault(FaultKind.WIND_CUT_OUT, NOON, timedelta(minutes=1))
    snapshot = _run(system, NOON, 10)
    assert snapshot.extras["wind_power"] == 0.0
    assert all(speed > 25 for speed in system.units.wind_speed)
    after = _run(system, NOON + timedelta(minutes=2), 4)
    assert all(speed < 25 for speed in system.units.wind_speed)
    assert after.extras["wind_power"] is not None


def test_inverter_offline_trips_the_converter() -> None:
    system = _grid()
    system.simulate_fault(FaultKind.INVERTER_OFFLINE, NOON, timedelta(minutes=1))
    snapshot = _run(system, NOON, 5)
    c1 = next(r for r in snapshot.devices if r.identity.key == "converter_1")
    assert not c1.online
    assert snapshot.get(Metric.PV_POWER) == 0.0
    assert snapshot.get(Metric.STATUS) == "fault"


def _alerts_over(system: MicrogridSystem, start: datetime, seconds: int) -> set[str]:
    engine = AlertEngine()
    raised: set[str] = set()
    for second in range(seconds):
        now = start + timedelta(seconds=second)
        snapshot = system.step(now)
        values = {m.value: v for m, v in snapshot.metrics.items() if isinstance(v, float)}
        values |= {k: v for k, v in snapshot.extras.items() if isinstance(v, float)}
        status = snapshot.get(Metric.STATUS)
        reading = Reading(values=values, status=status if isinstance(status, str) else None)
        raised |= {t.rule for t in engine.evaluate(reading, now) if t.state == "raised"}
    return raised


def test_faults_raise_the_matching_alerts() -> None:
    """Each rehearsal fault trips the alert a user would automate on."""
    cases = {
        FaultKind.BUS_VOLTAGE_SAG: "grid_voltage",
        FaultKind.CONVERTER_OVER_TEMPERATURE: "converter_over_temperature",
        FaultKind.PV_STRING_SHADING: "pv_string_mismatch",
        FaultKind.INVERTER_OFFLINE: "inverter_fault",
        FaultKind.WIND_CUT_OUT: "wind_cut_out",
    }
    for fault, rule in cases.items():
        system = _grid()
        system.simulate_fault(fault, NOON, timedelta(minutes=20))
        assert rule in _alerts_over(system, NOON, 15 * 60), fault
    assert _alerts_over(_grid(), NOON, 15 * 60) == set()


def test_stopped_simulation_repeats_and_resumes() -> None:
    system = _grid()
    first = _run(system, NOON, 4)
    system.stop()
    frozen = system.step(NOON + timedelta(minutes=5))
    assert frozen.extras["simulation"] == "stopped"
    assert frozen.get(Metric.PV_ENERGY_TOTAL) == first.get(Metric.PV_ENERGY_TOTAL)
    system.start()
    assert system.step(NOON + timedelta(minutes=5, seconds=1)).extras["simulation"] == "running"


async def test_no_battery_to_dispatch() -> None:
    from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind

    with pytest.raises(CommandRejected) as err:
        await _grid().async_dispatch(Command(kind=CommandKind.STOP, issued_at=NOON))
    assert err.value.key == "no_battery"


def test_state_round_trips() -> None:
    system = _grid()
    _run(system, NOON, 30)
    saved = system.as_dict()
    again = _grid()
    again.restore(saved)
    assert again.meter.as_dict() == system.meter.as_dict()


def test_physical_invariants_over_a_simulated_day() -> None:
    """Every 10 minutes for 24 h (each poll simulates its last minute at 0.5 s)."""
    system = _grid()
    base = system.config.base_kva
    previous_total = 0.0
    start = NOON.replace(hour=0)
    for minute in range(0, 24 * 60, 10):
        now = start + timedelta(minutes=minute)
        snapshot = system.step(now)
        injections = sum(bus.p for bus in system.buses) * base
        assert 0 <= injections < 0.05 * (sum(system._loads) + 1), now  # losses
        assert all(0.9 < bus.voltage < 1.1 for bus in system.buses), now
        assert 49.5 < system.frequency < 50.5, now
        assert all(-10 < c.temperature < 90 for c in system.converters), now
        assert all(
            0 <= kw <= rated
            for kw, rated in zip(system.units.wind_kw, system.config.wind_kw, strict=True)
        )
        assert all(0 <= g <= 1100 for g in system.units.irradiance)
        assert all(0 <= c.thd() <= c.thd_floor for c in system.converters)
        total = snapshot.get(Metric.PV_ENERGY_TOTAL)
        assert isinstance(total, float)
        assert total >= previous_total
        previous_total = total


def test_pv_peak_is_the_solar_units_together() -> None:
    assert MicrogridSystem(MicrogridConfig()).pv_peak_w == 50_000.0
    assert MicrogridSystem(MicrogridConfig(solar_kwp=(10.0, 2.5))).pv_peak_w == 12_500.0

"""The simulated system, stepped through simulated days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
import json
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.errors import CommandRejected, SourceUnavailable
from custom_components.sunstream.pysunstream.model import (
    BatteryMode,
    InverterStatus,
    Metric,
    Snapshot,
)
from custom_components.sunstream.pysunstream.simulator import SimulatedSystem, SimulatorConfig
from custom_components.sunstream.pysunstream.simulator.battery import (
    FLOOR_SOC,
    ONE_WAY_EFFICIENCY,
    RESERVE_SOC,
)
from custom_components.sunstream.pysunstream.simulator.curves import (
    ambient_temperature,
    house_load,
    pv_power,
)
from custom_components.sunstream.pysunstream.source import Source

TZ = ZoneInfo("America/Sao_Paulo")  # no DST since 2019
LOCATION = (-23.55, -46.63)
DAY = datetime(2026, 11, 23, tzinfo=TZ)
STEP = timedelta(seconds=60)
BATTERY_METRICS = {
    Metric.BATTERY_POWER,
    Metric.BATTERY_SOC,
    Metric.BATTERY_CHARGE_ENERGY,
    Metric.BATTERY_DISCHARGE_ENERGY,
    Metric.BATTERY_MODE,
}


def system(**config: object) -> SimulatedSystem:
    return SimulatedSystem(SimulatorConfig(**({"location": LOCATION} | config)))  # type: ignore[arg-type]


def times(start: datetime, duration: timedelta, step: timedelta = STEP) -> Iterator[datetime]:
    t = start
    while t <= start + duration:
        yield t
        t += step


def command(
    kind: CommandKind,
    at: datetime,
    power_w: float = 3000.0,
    target_soc: float = 80.0,
    duration: timedelta = timedelta(hours=2),
) -> Command:
    return Command(
        kind=kind, issued_at=at, power_w=power_w, target_soc=target_soc, duration=duration
    )


def soc_step(power_w: float, capacity_kwh: float, seconds: float = 60) -> float:
    """The most one poll interval at ``power_w`` can move the state of charge."""
    return power_w * seconds / 3_600_000 / ONE_WAY_EFFICIENCY / capacity_kwh * 100


# -- shape of a reading ------------------------------------------------------------


def test_snapshot_has_every_metric_with_a_battery() -> None:
    snapshot = system().step(DAY.replace(hour=11))
    assert set(snapshot.metrics) == set(Metric)
    assert all(value is not None for value in snapshot.metrics.values())
    assert snapshot.taken_at == DAY.replace(hour=11)
    assert set(snapshot.extras) == {
        "grid_voltage",
        "grid_frequency",
        "pv1_power",
        "pv1_voltage",
        "pv2_power",
        "pv2_voltage",
        "curtailed_power",
    }


def test_no_battery_system() -> None:
    sim = system(battery_kwh=0.0)
    assert not sim.has_battery
    assert sim.battery_limits is None
    for t in times(DAY.replace(hour=6), timedelta(hours=12), timedelta(minutes=5)):
        snapshot = sim.step(t)
        assert not BATTERY_METRICS & set(snapshot.metrics)
        pv, load = snapshot.get(Metric.PV_POWER), snapshot.get(Metric.LOAD_POWER)
        assert isinstance(pv, float)
        assert isinstance(load, float)
        assert snapshot.get(Metric.GRID_POWER) == pytest.approx(load - pv, abs=0.15)
    assert sim.battery_mode(DAY) is BatteryMode.IDLE
    assert sim.as_dict()["soc"] == 50.0  # untouched, never reported


@pytest.mark.parametrize("kind", list(CommandKind))
def test_no_battery_system_rejects_commands(kind: CommandKind) -> None:
    sim = system(battery_kwh=0.0)
    with pytest.raises(CommandRejected) as caught:
        sim.dispatch(command(kind, DAY))
    assert caught.value.key == "no_battery"
    assert sim.command is None


def test_battery_limits_follow_the_configured_capacity() -> None:
    limits = system(battery_kwh=13.5).battery_limits
    assert limits is not None
    assert limits.capacity_kwh == 13.5
    assert limits.max_charge_w == limits.max_discharge_w == 6750.0
    assert limits.min_soc == FLOOR_SOC


def test_status_extras_and_temperature_follow_pv() -> None:
    sim = system()
    peak_w = 5500.0
    for t in times(DAY, timedelta(days=1), timedelta(minutes=4)):
        snapshot = sim.step(t)
        pv = pv_power(t, LOCATION, peak_w, "sunstream")
        assert snapshot.get(Metric.PV_POWER) == round(pv, 1)
        expected_status = InverterStatus.PRODUCING if pv > 10 else InverterStatus.STANDBY
        assert snapshot.get(Metric.STATUS) == expected_status.value
        temperature = snapshot.get(Metric.INVERTER_TEMPERATURE)
        assert isinstance(temperature, float)
        assert ambient_temperature(t) - 0.05 <= temperature <= ambient_temperature(t) + 20.05
        assert temperature == pytest.approx(ambient_temperature(t) + 20 * pv / peak_w, abs=0.05)
        extras = snapshot.extras
        assert extras["pv1_power"] + extras["pv2_power"] == pytest.approx(pv, abs=0.1)  # type: ignore[operator]
        assert extras["pv1_power"] >= extras["pv2_power"]  # type: ignore[operator]
        for string in ("pv1", "pv2"):
            voltage = extras[f"{string}_voltage"]
            if extras[f"{string}_power"] == 0:
                assert voltage == 0
            else:
                assert 320 <= voltage <= 380  # type: ignore[operator]
        assert 227 <= extras["grid_voltage"] <= 233  # type: ignore[operator]
        assert 49.95 <= extras["grid_frequency"] <= 50.05  # type: ignore[operator]


def test_zero_peak_system_does_not_divide_by_zero() -> None:
    snapshot = system(pv_peak_kw=0.0).step(DAY.replace(hour=12))
    assert snapshot.get(Metric.PV_POWER) == 0.0
    assert snapshot.get(Metric.STATUS) == InverterStatus.STANDBY.value
    assert snapshot.get(Metric.INVERTER_TEMPERATURE) == round(
        ambient_temperature(DAY.replace(hour=12)), 1
    )


def test_without_location_the_daylight_curve_is_used() -> None:
    sim = system(location=None)
    for t in times(DAY, timedelta(days=1), timedelta(minutes=10)):
        snapshot = sim.step(t)
        assert snapshot.get(Metric.PV_POWER) == round(pv_power(t, None, 5500.0, "sunstream"), 1)
        if t.hour < 6 or t.hour >= 18:
            assert snapshot.get(Metric.PV_POWER) == 0.0
        if 8 <= t.hour < 16:
            assert snapshot.get(Metric.PV_POWER) > 0  # type: ignore[operator]


# -- energy balance ---------------------------------------------------------------


def _float(snapshot: Snapshot, metric: Metric) -> float:
    value = snapshot.get(metric)
    assert isinstance(value, float)
    return value


@pytest.mark.parametrize("battery_kwh", [10.0, 0.0, 2.0])
def test_energy_balance_at_every_step_and_in_the_totals(battery_kwh: float) -> None:
    sim = system(battery_kwh=battery_kwh)
    for t in times(DAY, timedelta(days=1)):
        snapshot = sim.step(t)
        pv = _float(snapshot, Metric.PV_POWER)
        load = _float(snapshot, Metric.LOAD_POWER)
        battery = _float(snapshot, Metric.BATTERY_POWER) if battery_kwh else 0.0
        # Each of the four is rounded to 0.1 W.
        assert _float(snapshot, Metric.GRID_POWER) == pytest.approx(load - pv - battery, abs=0.21)
    totals = snapshot.metrics
    charge = totals.get(Metric.BATTERY_CHARGE_ENERGY, 0.0)
    discharge = totals.get(Metric.BATTERY_DISCHARGE_ENERGY, 0.0)
    imported = totals[Metric.GRID_IMPORT_ENERGY]
    exported = totals[Metric.GRID_EXPORT_ENERGY]
    assert imported - exported == pytest.approx(  # type: ignore[operator]
        totals[Metric.LOAD_ENERGY_TOTAL] - totals[Metric.PV_ENERGY_TOTAL] - discharge + charge,  # type: ignore[operator]
        abs=1e-9,
    )
    assert totals[Metric.PV_ENERGY_TOTAL] > 5  # type: ignore[operator]
    if not battery_kwh:
        # Without storage the night comes from the grid and the noon surplus goes to it.
        assert imported > 1  # type: ignore[operator]
        assert exported > 1  # type: ignore[operator]


def test_self_consumption_zeroes_the_grid_while_the_battery_can() -> None:
    sim = system(battery_kwh=10.0)
    limit = 5000.0
    seen_charge = seen_discharge = False
    for t in times(DAY, timedelta(days=2)):
        snapshot = sim.step(t)
        assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION.value
        soc = sim.battery.soc  # the charge the set-point was chosen from
        pv = pv_power(t, LOCATION, 5500.0, "sunstream")
        load = house_load(t, "sunstream")
        want = load - pv
        if abs(want) <= limit and (soc > RESERVE_SOC if want > 0 else soc < 100):
            assert sim.battery.power == pytest.approx(want)
            assert snapshot.get(Metric.GRID_POWER) == pytest.approx(0, abs=0.15)
            seen_charge |= want < 0
            seen_discharge |= want > 0
        if want > 0 and soc <= RESERVE_SOC:
            # Below the reserve the house runs from the grid.
            assert sim.battery.power == 0
    assert seen_charge
    assert seen_discharge


def test_self_consumption_stops_discharging_at_the_reserve() -> None:
    sim = system()
    sim.restore({"soc": RESERVE_SOC + 0.3})
    evening = DAY.replace(hour=20)
    socs = []
    for t in times(evening, timedelta(hours=3)):
        snapshot = sim.step(t)
        socs.append(sim.battery.soc)
        assert snapshot.get(Metric.GRID_POWER) >= -0.1  # type: ignore[operator]
    assert socs[-1] <= RESERVE_SOC
    # It overshoots by at most one poll interval's worth.
    assert min(socs) >= RESERVE_SOC - soc_step(5000.0, 10.0)
    assert sim.battery.power == 0


def test_full_battery_exports_the_surplus() -> None:
    sim = system(battery_kwh=10.0, pv_peak_kw=20.0)
    sim.restore({"soc": 100.0})
    noon = DAY.replace(hour=12)
    snapshot = sim.step(noon)
    pv, load = _float(snapshot, Metric.PV_POWER), _float(snapshot, Metric.LOAD_POWER)
    assert pv > load
    assert snapshot.get(Metric.BATTERY_POWER) == 0.0
    assert snapshot.get(Metric.GRID_POWER) == pytest.approx(load - pv, abs=0.15)


def test_self_consumption_respects_the_c_rate() -> None:
    sim = system(battery_kwh=1.0)  # 500 W at most
    snapshot = sim.step(DAY.replace(hour=19, minute=30))
    load = _float(snapshot, Metric.LOAD_POWER)
    assert load > 500
    assert snapshot.get(Metric.BATTERY_POWER) == 500.0
    assert snapshot.get(Metric.GRID_POWER) == pytest.approx(load - 500.0, abs=0.15)


# -- commands ----------------------------------------------------------------------


def test_forced_charge_raises_soc_to_the_target_then_returns_to_normal() -> None:
    sim = system()
    start = DAY.replace(hour=20)  # no sun to help
    sim.step(start)
    sim.dispatch(command(CommandKind.CHARGE, start, 3000.0, 80.0, timedelta(hours=3)))
    socs = []
    modes = []
    for t in times(start + STEP, timedelta(hours=3) - 2 * STEP):
        soc_before = sim.battery.soc
        snapshot = sim.step(t)
        socs.append(sim.battery.soc)
        modes.append(snapshot.get(Metric.BATTERY_MODE))
        if soc_before < 80 and sim.command is not None:
            assert sim.battery.power == -3000.0
            load = _float(snapshot, Metric.LOAD_POWER)
            assert snapshot.get(Metric.GRID_POWER) == pytest.approx(load + 3000, abs=0.15)
    assert 80 <= max(socs) <= 80 + soc_step(3000.0, 10.0) + 1e-9
    # Charged while below the target, then back to self-consumption for good.
    first_normal = modes.index(BatteryMode.SELF_CONSUMPTION.value)
    assert set(modes[:first_normal]) == {BatteryMode.FORCED_CHARGE.value}
    assert set(modes[first_normal:]) == {BatteryMode.SELF_CONSUMPTION.value}
    assert sim.command is None


def test_forced_charge_stores_the_energy_it_took() -> None:
    sim = system()
    start = DAY.replace(hour=1)
    sim.step(start)
    sim.dispatch(command(CommandKind.CHARGE, start, 2000.0, 100.0, timedelta(hours=2)))
    sim.step(start + STEP)
    soc_before = sim.battery.soc
    charged_before = sim.meter.counters["battery_charge"].total
    for t in times(start + 2 * STEP, timedelta(minutes=60) - STEP):
        sim.step(t)
    # One hour (start + 1 min to start + 61 min) at 2 kW.
    charged_kwh = sim.meter.counters["battery_charge"].total - charged_before
    assert charged_kwh == pytest.approx(2.0)
    expected = soc_before + charged_kwh * ONE_WAY_EFFICIENCY / 10.0 * 100
    assert sim.battery.soc == pytest.approx(expected)


def test_forced_charge_above_target_ends_at_once() -> None:
    sim = system()
    sim.restore({"soc": 90.0})
    start = DAY.replace(hour=12)
    sim.dispatch(command(CommandKind.CHARGE, start, 3000.0, 80.0))
    snapshot = sim.step(start)
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION.value
    assert sim.command is None
    assert _float(snapshot, Metric.BATTERY_POWER) != -3000.0


def test_forced_discharge_lowers_soc_to_the_target() -> None:
    sim = system()
    sim.restore({"soc": 60.0})
    start = DAY.replace(hour=10)
    sim.dispatch(command(CommandKind.DISCHARGE, start, 4000.0, 40.0, timedelta(hours=4)))
    socs = []
    modes = []
    for t in times(start, timedelta(hours=3)):
        snapshot = sim.step(t)
        socs.append(sim.battery.soc)
        modes.append(snapshot.get(Metric.BATTERY_MODE))
        if snapshot.get(Metric.BATTERY_MODE) == BatteryMode.FORCED_DISCHARGE.value:
            assert sim.battery.power == 4000.0
    assert min(socs) <= 40
    assert min(socs) >= 40 - soc_step(4000.0, 10.0)
    first_normal = modes.index(BatteryMode.SELF_CONSUMPTION.value)
    assert set(modes[:first_normal]) == {BatteryMode.FORCED_DISCHARGE.value}
    assert sim.command is None


def test_forced_discharge_below_target_ends_at_once() -> None:
    sim = system()
    sim.restore({"soc": 30.0})
    start = DAY.replace(hour=20)
    sim.dispatch(command(CommandKind.DISCHARGE, start, 4000.0, 40.0))
    snapshot = sim.step(start)
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION.value
    assert sim.command is None


def test_forced_discharge_to_zero_stops_at_the_floor() -> None:
    sim = system()
    sim.restore({"soc": FLOOR_SOC + 3})
    start = DAY.replace(hour=21)
    sim.dispatch(command(CommandKind.DISCHARGE, start, 5000.0, 0.0, timedelta(hours=2)))
    socs = [sim.battery.soc]
    for t in times(start, timedelta(hours=1)):
        sim.step(t)
        socs.append(sim.battery.soc)
    assert socs[-1] <= FLOOR_SOC
    assert min(socs) >= FLOOR_SOC - soc_step(5000.0, 10.0)
    assert sim.battery.power == 0


def test_command_expiry_returns_to_self_consumption() -> None:
    sim = system()
    start = DAY.replace(hour=20)
    sim.dispatch(command(CommandKind.CHARGE, start, 1000.0, 100.0, timedelta(minutes=10)))
    for t in times(start, timedelta(minutes=9)):
        assert sim.step(t).get(Metric.BATTERY_MODE) == BatteryMode.FORCED_CHARGE.value
    assert sim.command is not None
    snapshot = sim.step(start + timedelta(minutes=10))
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION.value
    assert sim.command is None
    # Evening, battery half full: self-consumption discharges into the house.
    assert sim.battery.power == pytest.approx(
        house_load(start + timedelta(minutes=10), "sunstream")
    )


def test_stop_clears_a_command() -> None:
    sim = system()
    start = DAY.replace(hour=20)
    sim.dispatch(command(CommandKind.DISCHARGE, start, 2000.0, 20.0))
    assert sim.step(start).get(Metric.BATTERY_MODE) == BatteryMode.FORCED_DISCHARGE.value
    sim.dispatch(Command(kind=CommandKind.STOP, issued_at=start + STEP))
    assert sim.command is None
    assert sim.battery_mode(start + STEP) is BatteryMode.SELF_CONSUMPTION
    assert sim.step(start + STEP).get(Metric.BATTERY_MODE) == (BatteryMode.SELF_CONSUMPTION.value)


def test_invalid_command_leaves_the_current_one() -> None:
    sim = system()
    start = DAY.replace(hour=20)
    current = command(CommandKind.CHARGE, start, 1000.0, 90.0)
    sim.dispatch(current)
    with pytest.raises(CommandRejected):
        sim.dispatch(command(CommandKind.CHARGE, start, 99_999.0, 90.0))
    assert sim.command == current


def test_battery_mode_reflects_expiry_even_before_a_step() -> None:
    sim = system()
    start = DAY.replace(hour=20)
    sim.dispatch(command(CommandKind.DISCHARGE, start, 2000.0, 20.0, timedelta(minutes=5)))
    assert sim.battery_mode(start) is BatteryMode.FORCED_DISCHARGE
    assert sim.battery_mode(start + timedelta(minutes=5)) is BatteryMode.SELF_CONSUMPTION


def test_battery_does_not_advance_over_a_long_gap() -> None:
    sim = system()
    start = DAY.replace(hour=20)
    sim.dispatch(command(CommandKind.DISCHARGE, start, 5000.0, 10.0, timedelta(hours=5)))
    sim.step(start)
    soc = sim.battery.soc
    sim.step(start + timedelta(hours=1))
    # Nobody saw that hour: neither the battery nor the meters move.
    assert sim.battery.soc == soc
    assert sim.meter.counters["battery_discharge"].total == 0
    sim.step(start + timedelta(hours=1))  # and a repeated poll changes nothing
    assert sim.battery.soc == soc


# -- outages -----------------------------------------------------------------------


def test_outage_raises_until_it_ends_while_the_simulation_runs_on() -> None:
    flaky, steady = system(), system()
    start = DAY.replace(hour=11)
    flaky.poll(start)
    steady.poll(start)
    flaky.start_outage(start, timedelta(minutes=10))
    assert not flaky.online(start)
    for t in times(start + STEP, timedelta(minutes=9) - STEP):
        with pytest.raises(SourceUnavailable) as caught:
            flaky.poll(t)
        assert caught.value.reason == "outage"
        steady.poll(t)
    back = start + timedelta(minutes=10)
    assert flaky.online(back)
    # The sun kept shining during the outage: the totals caught up.
    assert flaky.poll(back) == steady.poll(back)
    assert flaky.outage_until is None


def test_end_outage_answers_at_once() -> None:
    sim = system()
    start = DAY.replace(hour=11)
    sim.start_outage(start, timedelta(hours=1))
    with pytest.raises(SourceUnavailable):
        sim.poll(start)
    sim.end_outage()
    assert sim.online(start + STEP)
    assert sim.poll(start + STEP).get(Metric.PV_POWER) is not None


# -- reproducibility and persistence ------------------------------------------------


def test_same_seed_and_clock_same_snapshots() -> None:
    first, second = system(seed="same"), system(seed="same")
    start = DAY.replace(hour=6)
    for sim in (first, second):
        sim.dispatch(command(CommandKind.CHARGE, start + timedelta(hours=1), 2000.0, 70.0))
    for t in times(start, timedelta(hours=4), timedelta(seconds=45)):
        assert first.step(t) == second.step(t)
    assert first.as_dict() == second.as_dict()


def test_different_seed_different_day() -> None:
    first, second = system(seed="one"), system(seed="two")
    noon = DAY.replace(hour=12)
    assert first.step(noon).metrics != second.step(noon).metrics


def test_restored_system_continues_identically() -> None:
    original = system()
    start = DAY.replace(hour=22)
    for t in times(start, timedelta(hours=1)):
        original.step(t)
    # A command still running at the save, and midnight still to come.
    original.dispatch(command(CommandKind.CHARGE, start, 3000.0, 95.0, timedelta(hours=3)))
    mid = start + timedelta(hours=1, minutes=1)
    original.step(mid)
    saved = json.loads(json.dumps(original.as_dict()))
    assert saved["command"]["kind"] == "charge"

    restored = system()
    restored.restore(saved)
    assert restored.as_dict() == saved
    for t in times(mid + STEP, timedelta(hours=3)):
        assert restored.step(t) == original.step(t)


def test_restore_from_empty_dict_is_a_fresh_system() -> None:
    sim = system()
    sim.restore({})
    fresh = system()
    assert sim.as_dict() == fresh.as_dict()
    assert sim.as_dict()["last_step"] is None
    assert sim.command is None
    assert sim.step(DAY) == fresh.step(DAY)


# -- integrals -----------------------------------------------------------------------


def _simpson_kwh(power, start: datetime, end: datetime, step_s: float = 5.0) -> float:  # type: ignore[no-untyped-def]
    """∫ power dt by Simpson's rule on a fine grid, independent of the meter."""
    n = int((end - start).total_seconds() / step_s)
    assert n % 2 == 0
    total = 0.0
    for i in range(n + 1):
        weight = 1 if i in (0, n) else (4 if i % 2 else 2)
        total += weight * power(start + timedelta(seconds=i * step_s))
    return total * step_s / 3 / 3_600_000


def test_day_counters_match_the_integral_of_the_profiles() -> None:
    sim = system()
    end = DAY + timedelta(days=1)
    for t in times(DAY, timedelta(days=1) - STEP):
        before_midnight = sim.step(t)
    last = sim.step(end)
    pv_kwh = _simpson_kwh(lambda t: pv_power(t, LOCATION, 5500.0, "sunstream"), DAY, end)
    load_kwh = _simpson_kwh(lambda t: house_load(t, "sunstream"), DAY, end)
    assert pv_kwh > 10  # a sunny-ish November day in São Paulo, 5.5 kWp
    assert _float(last, Metric.PV_ENERGY_TOTAL) == pytest.approx(pv_kwh, rel=0.005)
    assert _float(last, Metric.LOAD_ENERGY_TOTAL) == pytest.approx(load_kwh, rel=0.005)
    # Produced by day: today's counter held the whole day until midnight.
    assert _float(before_midnight, Metric.PV_ENERGY_TODAY) == pytest.approx(pv_kwh, rel=0.005)
    assert _float(before_midnight, Metric.PV_ENERGY_MONTH) == _float(
        before_midnight, Metric.PV_ENERGY_TODAY
    )
    assert last.get(Metric.PV_ENERGY_TODAY) == 0.0


# -- the Source protocol --------------------------------------------------------------


async def test_async_source_protocol() -> None:
    sim = system()
    source: Source = sim
    assert source.source_type == "simulated"
    noon = DAY.replace(hour=12)
    snapshot = await source.async_poll(noon)
    assert snapshot.get(Metric.PV_POWER) == round(pv_power(noon, LOCATION, 5500.0, "sunstream"), 1)
    await source.async_dispatch(command(CommandKind.DISCHARGE, noon, 1000.0, 20.0))
    assert sim.battery_mode(noon) is BatteryMode.FORCED_DISCHARGE
    sim.start_outage(noon, timedelta(minutes=5))
    with pytest.raises(SourceUnavailable):
        await source.async_poll(noon + STEP)
    await source.async_close()
    assert source.as_dict() == sim.as_dict()


def test_pv_peak_is_the_configured_array() -> None:
    assert SimulatedSystem(SimulatorConfig(pv_peak_kw=6.2)).pv_peak_w == pytest.approx(6200.0)

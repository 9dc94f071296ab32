"""The simulated battery: charge bookkeeping, limits and losses."""

from __future__ import annotations

import pytest

from custom_components.sunstream.pysunstream.dispatch import BatteryLimits
from custom_components.sunstream.pysunstream.simulator.battery import (
    FLOOR_SOC,
    ONE_WAY_EFFICIENCY,
    RESERVE_SOC,
    Battery,
)


def test_limits_half_c_rate() -> None:
    assert Battery(capacity_kwh=10.0).limits == BatteryLimits(
        capacity_kwh=10.0,
        max_charge_w=5000.0,
        max_discharge_w=5000.0,
        min_soc=FLOOR_SOC,
        max_soc=100.0,
    )
    assert FLOOR_SOC < RESERVE_SOC


def test_discharge_draws_more_than_it_delivers() -> None:
    battery = Battery(capacity_kwh=10.0, soc=80.0, power=1000.0)
    battery.advance(3600)
    # 1 kWh delivered from a 10 kWh pack: 10 % of capacity plus losses.
    assert battery.soc == pytest.approx(80.0 - 10.0 / ONE_WAY_EFFICIENCY)
    assert battery.soc < 70.0


def test_charge_stores_less_than_it_takes() -> None:
    battery = Battery(capacity_kwh=10.0, soc=20.0, power=-2000.0)
    battery.advance(1800)
    assert battery.soc == pytest.approx(20.0 + 10.0 * ONE_WAY_EFFICIENCY)
    assert battery.soc < 30.0


def test_round_trip_efficiency_about_90_percent() -> None:
    battery = Battery(capacity_kwh=5.0, soc=40.0, power=-1000.0)
    battery.advance(3600)  # 1 kWh in
    battery.power = 500.0
    seconds = 0
    while battery.soc > 40.0:
        battery.advance(1)
        seconds += 1
    delivered_kwh = 500.0 * seconds / 3_600_000
    assert delivered_kwh == pytest.approx(0.9, abs=0.01)


def test_idle_battery_keeps_its_charge() -> None:
    battery = Battery(capacity_kwh=10.0, soc=55.5)
    battery.advance(86_400)
    assert battery.soc == 55.5


@pytest.mark.parametrize("seconds", [0, -60])
def test_no_time_no_change(seconds: float) -> None:
    battery = Battery(capacity_kwh=10.0, soc=50.0, power=5000.0)
    battery.advance(seconds)
    assert battery.soc == 50.0


def test_zero_capacity_never_changes_or_divides_by_zero() -> None:
    battery = Battery(capacity_kwh=0.0, soc=50.0, power=1000.0)
    battery.advance(60)
    assert battery.soc == 50.0
    assert battery.request(1000.0, FLOOR_SOC, 100.0) == 0.0
    assert battery.power == 0.0


def test_soc_clamped_to_0_and_100() -> None:
    full = Battery(capacity_kwh=1.0, soc=99.0, power=-500.0)
    full.advance(3600)
    assert full.soc == 100.0
    empty = Battery(capacity_kwh=1.0, soc=1.0, power=500.0)
    empty.advance(3600)
    assert empty.soc == 0.0


@pytest.mark.parametrize(
    ("asked", "granted"),
    [(1234.0, 1234.0), (-1234.0, -1234.0), (9000.0, 5000.0), (-9000.0, -5000.0), (0.0, 0.0)],
)
def test_request_clamps_to_the_c_rate(asked: float, granted: float) -> None:
    battery = Battery(capacity_kwh=10.0, soc=50.0)
    assert battery.request(asked, FLOOR_SOC, 100.0) == granted
    assert battery.power == granted


@pytest.mark.parametrize(("soc", "granted"), [(10.0, 0.0), (9.0, 0.0), (10.1, 800.0)])
def test_request_refuses_discharge_at_or_below_floor(soc: float, granted: float) -> None:
    battery = Battery(capacity_kwh=10.0, soc=soc)
    assert battery.request(800.0, 10.0, 100.0) == granted
    # Charging an empty battery is always fine.
    assert battery.request(-800.0, 10.0, 100.0) == -800.0


@pytest.mark.parametrize(("soc", "granted"), [(80.0, 0.0), (95.0, 0.0), (79.9, -800.0)])
def test_request_refuses_charge_at_or_above_ceiling(soc: float, granted: float) -> None:
    battery = Battery(capacity_kwh=10.0, soc=soc)
    assert battery.request(-800.0, FLOOR_SOC, 80.0) == granted
    assert battery.request(800.0, FLOOR_SOC, 80.0) == 800.0

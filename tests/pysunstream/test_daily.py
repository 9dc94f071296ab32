"""Today's energies from lifetime counters, house consumption by balance, stored energy."""

from __future__ import annotations

from datetime import datetime, timedelta
import json
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunstream.pysunstream.daily import DailyTotals, stored_energy
from custom_components.sunstream.pysunstream.model import Metric, Snapshot, Value

TZ = ZoneInfo("America/Sao_Paulo")
EVENING = datetime(2026, 11, 23, 23, 59, 50, tzinfo=TZ)


def snap(at: datetime, **metrics: Value) -> Snapshot:
    return Snapshot(taken_at=at, metrics={Metric(k): v for k, v in metrics.items()})


def test_today_is_the_counter_since_local_midnight() -> None:
    daily = DailyTotals()
    first = daily.complete(snap(EVENING - timedelta(hours=1), grid_import_energy=99.0))
    assert first.metrics[Metric.GRID_IMPORT_ENERGY_TODAY] == 0.0  # first day starts at install
    daily.complete(snap(EVENING, grid_import_energy=100.0))
    # Ten seconds later it is tomorrow: what came since the last poll is today's.
    after = daily.complete(snap(EVENING + timedelta(seconds=15), grid_import_energy=100.25))
    assert after.metrics[Metric.GRID_IMPORT_ENERGY_TODAY] == 0.25
    later = daily.complete(snap(EVENING + timedelta(hours=8), grid_import_energy=103.0))
    assert later.metrics[Metric.GRID_IMPORT_ENERGY_TODAY] == 3.0


def test_a_day_missed_starts_at_the_first_reading() -> None:
    daily = DailyTotals()
    daily.complete(snap(EVENING, pv_energy_total=10.0))
    # Home Assistant was off for a whole day: no energy is invented for today.
    back = daily.complete(snap(EVENING + timedelta(days=1, hours=10), pv_energy_total=30.0))
    assert back.metrics[Metric.PV_ENERGY_TODAY] == 0.0


def test_the_devices_own_daily_counter_wins_and_unknown_stays_unknown() -> None:
    daily = DailyTotals()
    done = daily.complete(
        snap(EVENING, pv_energy_total=10.0, pv_energy_today=7.5, grid_export_energy=None)
    )
    assert done.metrics[Metric.PV_ENERGY_TODAY] == 7.5
    assert done.metrics[Metric.GRID_EXPORT_ENERGY_TODAY] is None


def test_a_counter_that_goes_back_does_not_take_today_with_it() -> None:
    daily = DailyTotals()
    daily.complete(snap(EVENING - timedelta(hours=2), battery_charge_energy=50.0))
    daily.complete(snap(EVENING - timedelta(hours=1), battery_charge_energy=52.0))
    reset = daily.complete(snap(EVENING, battery_charge_energy=1.0))
    assert reset.metrics[Metric.BATTERY_CHARGE_ENERGY_TODAY] == 2.0
    more = daily.complete(snap(EVENING + timedelta(seconds=5), battery_charge_energy=1.5))
    assert more.metrics[Metric.BATTERY_CHARGE_ENERGY_TODAY] == 2.5


def test_a_derived_day_never_dips() -> None:
    """Balance terms update at different moments; a dip would read as a new day."""
    daily = DailyTotals()
    base = {"pv_energy_total": 10.0, "grid_import_energy": 5.0, "grid_export_energy": 2.0}
    daily.complete(snap(EVENING - timedelta(hours=1), **base))
    up = daily.complete(snap(EVENING - timedelta(minutes=30), **base | {"pv_energy_total": 11.0}))
    assert up.metrics[Metric.LOAD_ENERGY_TODAY] == 1.0
    # The export counter moved before the PV one: the balance dips, today holds.
    dip = daily.complete(
        snap(EVENING, **base | {"pv_energy_total": 11.0, "grid_export_energy": 2.4})
    )
    assert dip.metrics[Metric.LOAD_ENERGY_TODAY] == 1.0
    restored = DailyTotals.from_dict(json.loads(json.dumps(daily.as_dict())))
    again = restored.complete(
        snap(
            EVENING + timedelta(seconds=1) - timedelta(seconds=2),
            **base | {"pv_energy_total": 11.0, "grid_export_energy": 2.4},
        )
    )
    assert again.metrics[Metric.LOAD_ENERGY_TODAY] == 1.0


def test_house_consumption_by_balance() -> None:
    done = DailyTotals().complete(
        snap(
            EVENING,
            pv_energy_total=100.0,
            grid_import_energy=20.0,
            grid_export_energy=30.0,
            battery_soc=50.0,
            battery_charge_energy=15.0,
            battery_discharge_energy=12.0,
            pv_energy_today=8.0,
            grid_import_energy_today=1.0,
            grid_export_energy_today=3.0,
            battery_charge_energy_today=2.0,
            battery_discharge_energy_today=1.5,
        )
    )
    assert done.metrics[Metric.LOAD_ENERGY_TOTAL] == pytest.approx(100 + 20 + 12 - 30 - 15)
    assert done.metrics[Metric.LOAD_ENERGY_TODAY] == pytest.approx(8 + 1 + 1.5 - 3 - 2)
    # Counters that began at different times: a negative lifetime balance is unknown.
    odd = DailyTotals().complete(
        snap(EVENING, pv_energy_total=1.0, grid_import_energy=1.0, grid_export_energy=50.0)
    )
    assert odd.metrics[Metric.LOAD_ENERGY_TOTAL] is None
    assert odd.metrics[Metric.LOAD_ENERGY_TODAY] == 0.0
    # A source that counts the house itself is left alone; without battery, no battery terms.
    own = DailyTotals().complete(snap(EVENING, load_energy_total=5.0, pv_energy_total=1.0))
    assert own.metrics[Metric.LOAD_ENERGY_TOTAL] == 5.0
    pv_only = DailyTotals().complete(
        snap(EVENING, pv_energy_total=10.0, grid_import_energy=4.0, grid_export_energy=6.0)
    )
    assert pv_only.metrics[Metric.LOAD_ENERGY_TOTAL] == 8.0


def test_stored_energy() -> None:
    assert stored_energy({Metric.BATTERY_SOC: 63.0, Metric.BATTERY_CAPACITY: 9.6}) == 6.048
    assert stored_energy({Metric.BATTERY_SOC: None, Metric.BATTERY_CAPACITY: 9.6}) is None
    done = DailyTotals().complete(snap(EVENING, battery_soc=50.0, battery_capacity=10.0))
    assert done.metrics[Metric.BATTERY_STORED_ENERGY] == 5.0
    assert Metric.BATTERY_STORED_ENERGY not in DailyTotals().complete(snap(EVENING)).metrics


def test_the_days_start_survives_a_restart() -> None:
    daily = DailyTotals()
    daily.complete(snap(EVENING, grid_export_energy=40.0))
    restored = DailyTotals.from_dict(json.loads(json.dumps(daily.as_dict())))
    after = restored.complete(snap(EVENING + timedelta(minutes=1), grid_export_energy=40.5))
    assert after.metrics[Metric.GRID_EXPORT_ENERGY_TODAY] == 0.5
    assert DailyTotals.from_dict({"start": {"gone_metric": 1.0}}).start == {}

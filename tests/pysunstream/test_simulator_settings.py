"""The simulator keeps and honours every device setting over a simulated day."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
import json
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunstream.pysunstream.controls import (
    WINDOWS,
    Configurable,
    Setting,
    SettingChange,
    Window,
)
from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.errors import CommandRejected
from custom_components.sunstream.pysunstream.model import BatteryMode, Metric, Snapshot, as_number
from custom_components.sunstream.pysunstream.simulator import SimulatedSystem, SimulatorConfig

TZ = ZoneInfo("America/Sao_Paulo")
LOCATION = (-23.55, -46.63)
DAY = datetime(2026, 11, 23, tzinfo=TZ)
STEP = timedelta(minutes=1)
# One step at full power moves a 10 kWh battery by under 1 %.
SOC_SLACK = 1.0


def window(start: str, end: str, enabled: bool = True) -> Window:
    return Window(start=time.fromisoformat(start), end=time.fromisoformat(end), enabled=enabled)


def write(system: SimulatedSystem, setting: Setting, value: float | bool | Window) -> None:
    system.write_setting(SettingChange(setting=setting, value=value))


def run_day(system: SimulatedSystem, start: datetime = DAY) -> list[Snapshot]:
    return [system.step(start + STEP * i) for i in range(24 * 60)]


def number(snapshot: Snapshot, metric: Metric) -> float:
    value = as_number(snapshot.get(metric))
    assert value is not None
    return value


def between(snapshots: list[Snapshot], start: str, end: str) -> list[Snapshot]:
    low, high = time.fromisoformat(start), time.fromisoformat(end)
    return [s for s in snapshots if low <= s.taken_at.time() < high]


@pytest.fixture
def house() -> SimulatedSystem:
    """A 5.5 kWp house with a 10 kWh battery at 50 %, just before midnight."""
    return SimulatedSystem(SimulatorConfig(location=LOCATION))


def test_the_simulator_is_configurable(house: SimulatedSystem) -> None:
    assert isinstance(house, Configurable)
    spec = house.settings_spec
    assert set(spec.ranges) == {Setting.RESERVE_SOC, Setting.CHARGE_LIMIT_SOC, Setting.EXPORT_LIMIT}
    assert spec.ranges[Setting.EXPORT_LIMIT].maximum == 5500
    assert spec.windows == frozenset(WINDOWS)
    assert spec.export_limit_switch
    assert not spec.windows_may_overlap


def test_without_battery_only_the_export_limit() -> None:
    pv_only = SimulatedSystem(SimulatorConfig(battery_kwh=0, location=LOCATION))
    spec = pv_only.settings_spec
    assert set(spec.ranges) == {Setting.EXPORT_LIMIT}
    assert spec.windows == frozenset()
    assert pv_only.reported_settings().reserve_soc is None
    with pytest.raises(CommandRejected) as caught:
        write(pv_only, Setting.RESERVE_SOC, 30.0)
    assert caught.value.key == "setting_unsupported"


def test_a_scheduled_day(house: SimulatedSystem) -> None:
    """Night charge to the limit, export capped at noon, evening discharge to the reserve."""
    write(house, Setting.RESERVE_SOC, 30.0)
    write(house, Setting.CHARGE_LIMIT_SOC, 80.0)
    write(house, Setting.CHARGE_WINDOW_1, window("01:00", "05:00"))
    write(house, Setting.DISCHARGE_WINDOW_1, window("18:00", "21:00"))
    write(house, Setting.EXPORT_LIMIT, 1000.0)
    write(house, Setting.EXPORT_LIMIT_ENABLED, True)

    day = run_day(house)

    # Before the window the house runs on the battery, not below the reserve.
    night = between(day, "00:00", "01:00")
    assert all(number(s, Metric.BATTERY_POWER) >= 0 for s in night)
    # In the charge window the grid charges the battery at full power up to the limit.
    charging = between(day, "01:00", "05:00")
    assert number(charging[0], Metric.GRID_POWER) > 4000
    assert max(number(s, Metric.BATTERY_SOC) for s in charging) <= 80 + SOC_SLACK
    assert number(charging[-1], Metric.BATTERY_SOC) == pytest.approx(80, abs=SOC_SLACK)
    assert number(charging[-1], Metric.BATTERY_POWER) > -3000  # stopped at the limit
    # Every reading of the day: the grid never takes more than the limit.
    assert min(number(s, Metric.GRID_POWER) for s in day) >= -1000.5
    curtailed = [as_number(s.extras["curtailed_power"]) or 0.0 for s in day]
    assert max(curtailed) > 500, "a sunny noon with a full battery curtails"
    assert all(c == 0 for c in curtailed[: 6 * 60]), "nothing to curtail at night"
    # The evening window discharges as hard as the export limit lets it (the
    # house plus 1 kW to the grid), down to the reserve, then holds.
    evening = between(day, "18:00", "21:00")
    first = evening[0]
    load = number(first, Metric.LOAD_POWER) - number(first, Metric.PV_POWER)
    assert number(first, Metric.BATTERY_POWER) == pytest.approx(load + 1000, abs=1)
    assert min(number(s, Metric.BATTERY_SOC) for s in day) >= 30 - SOC_SLACK
    assert number(evening[-1], Metric.BATTERY_POWER) == 0
    # Windows run under self-consumption: that is the mode the battery reports.
    assert {s.get(Metric.BATTERY_MODE) for s in day} == {BatteryMode.SELF_CONSUMPTION}
    # Curtailed PV does not count as produced: the energy still balances.
    for s in day:
        pv, load = number(s, Metric.PV_POWER), number(s, Metric.LOAD_POWER)
        grid, battery = number(s, Metric.GRID_POWER), number(s, Metric.BATTERY_POWER)
        assert pv + grid + battery == pytest.approx(load, abs=0.5)


def test_without_settings_the_day_is_plain_self_consumption(house: SimulatedSystem) -> None:
    day = run_day(house)
    assert min(number(s, Metric.BATTERY_SOC) for s in day) >= 10 - SOC_SLACK
    assert {s.extras["curtailed_power"] for s in day} == {0.0}
    assert all(number(s, Metric.GRID_POWER) >= -0.5 for s in between(day, "01:00", "05:00"))


def test_disabled_window_does_nothing(house: SimulatedSystem) -> None:
    write(house, Setting.CHARGE_WINDOW_2, window("01:00", "05:00", enabled=False))
    day = run_day(house)
    assert max(number(s, Metric.GRID_POWER) for s in between(day, "01:00", "05:00")) < 3000


def test_a_forced_discharge_outranks_a_charge_window(house: SimulatedSystem) -> None:
    write(house, Setting.CHARGE_WINDOW_1, window("01:00", "05:00"))
    at = DAY + timedelta(hours=2)
    house.step(at)
    house.dispatch(
        Command(
            kind=CommandKind.DISCHARGE,
            issued_at=at,
            power_w=2000,
            target_soc=20,
            duration=timedelta(minutes=30),
        )
    )
    snapshot = house.step(at + STEP)
    assert snapshot.get(Metric.BATTERY_POWER) == 2000
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.FORCED_DISCHARGE


def test_settings_survive_a_restart(house: SimulatedSystem) -> None:
    write(house, Setting.RESERVE_SOC, 42.0)
    write(house, Setting.EXPORT_LIMIT_ENABLED, True)
    write(house, Setting.DISCHARGE_WINDOW_2, window("19:30", "22:15"))
    saved = json.loads(json.dumps(house.as_dict()))

    again = SimulatedSystem(SimulatorConfig(location=LOCATION))
    again.restore(saved)
    assert again.reported_settings() == house.reported_settings()
    # State saved before settings existed restores to the defaults.
    older = SimulatedSystem(SimulatorConfig(location=LOCATION))
    older.restore({key: value for key, value in saved.items() if key != "settings"})
    assert older.reported_settings() == older.default_settings()


@pytest.mark.parametrize(
    ("setting", "value", "key"),
    [
        (Setting.RESERVE_SOC, 2.0, "setting_out_of_range"),
        (Setting.CHARGE_LIMIT_SOC, 101.0, "setting_out_of_range"),
        (Setting.EXPORT_LIMIT, 6000.0, "setting_out_of_range"),
        (Setting.EXPORT_LIMIT, -1.0, "setting_out_of_range"),
        (Setting.CHARGE_WINDOW_1, window("05:00", "01:00"), "window_end_before_start"),
        (Setting.DISCHARGE_WINDOW_1, window("04:00", "06:00"), "windows_overlap"),
        (Setting.RESERVE_SOC, True, "setting_unsupported"),
        (Setting.EXPORT_LIMIT_ENABLED, 1.0, "setting_unsupported"),
        (Setting.CHARGE_WINDOW_2, True, "setting_unsupported"),  # its times are known
    ],
)
def test_bad_changes_are_refused_and_change_nothing(
    house: SimulatedSystem, setting: Setting, value: float | bool | Window, key: str
) -> None:
    write(house, Setting.CHARGE_WINDOW_1, window("01:00", "05:00"))
    before = house.reported_settings()
    with pytest.raises(CommandRejected) as caught:
        write(house, setting, value)
    assert caught.value.key == key
    assert house.reported_settings() == before


def test_overlap_only_between_enabled_windows(house: SimulatedSystem) -> None:
    write(house, Setting.CHARGE_WINDOW_1, window("01:00", "05:00"))
    write(house, Setting.CHARGE_WINDOW_2, window("04:00", "06:00", enabled=False))
    # Enabling it now would overlap; touching windows (05:00 → 05:00) do not.
    with pytest.raises(CommandRejected):
        write(house, Setting.CHARGE_WINDOW_2, window("04:00", "06:00"))
    write(house, Setting.CHARGE_WINDOW_2, window("05:00", "06:00"))
    assert house.reported_settings().windows[Setting.CHARGE_WINDOW_2].enabled


def test_an_unchanged_value_is_not_written(house: SimulatedSystem) -> None:
    before = house.reported_settings()
    write(house, Setting.RESERVE_SOC, before.reserve_soc or 0.0)
    assert house.reported_settings() is before
    write(house, Setting.RESERVE_SOC, 11.0)
    assert house.reported_settings() == replace(before, reserve_soc=11.0)


def test_restored_settings_fit_the_system_as_reconfigured(house: SimulatedSystem) -> None:
    write(house, Setting.EXPORT_LIMIT, 5000.0)
    write(house, Setting.RESERVE_SOC, 30.0)
    saved = json.loads(json.dumps(house.as_dict()))

    smaller = SimulatedSystem(SimulatorConfig(pv_peak_kw=3.0, battery_kwh=0, location=LOCATION))
    smaller.restore(saved)
    settings = smaller.reported_settings()
    assert settings.export_limit == 3000  # within the new array's range
    assert settings.reserve_soc is None  # no battery any more
    assert settings.windows == {}

    # And back: a battery added again starts from the usual reserve.
    bigger = SimulatedSystem(SimulatorConfig(location=LOCATION))
    bigger.restore(json.loads(json.dumps(smaller.as_dict())))
    assert bigger.reported_settings().reserve_soc == 10
    assert bigger.reported_settings().export_limit == 3000

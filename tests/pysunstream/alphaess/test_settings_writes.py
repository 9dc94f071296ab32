"""Settings written to the fake unit: only changes, read back, refusals, never on start-up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time

from pymodbus.constants import ExcCodes
import pytest

from custom_components.sunstream.pysunstream.alphaess import AlphaEssSource
from custom_components.sunstream.pysunstream.controls import (
    Configurable,
    Setting,
    SettingChange,
    Window,
)
from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.errors import CommandFailed, CommandRejected
from sunstream_fakes.alphaess_fake import FakeAlphaEss

from .conftest import MakeFake, MakeSource, charge_command

RESERVE = 0x0850


def _now() -> datetime:
    return datetime.now(UTC)


def _set(setting: Setting, value: float | bool | Window) -> SettingChange:
    return SettingChange(setting=setting, value=value)


def _writes(fake: FakeAlphaEss) -> list[tuple[int, int, int]]:
    return [(r.function_code, r.address, r.count) for r in fake.requests if r.function_code != 3]


async def _polled(make_source: MakeSource, **kwargs: object) -> AlphaEssSource:
    source = make_source(**kwargs)
    await source.async_poll(_now())
    return source


async def test_source_is_configurable(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source()
    assert isinstance(source, Configurable)
    assert source.settings_spec.ranges == {}  # nothing known before the first poll
    await source.async_poll(_now())
    spec = source.settings_spec
    assert spec.ranges[Setting.RESERVE_SOC].minimum == 4
    assert len(spec.windows) == 4
    assert source.reported_settings().reserve_soc == 10


async def test_a_change_is_one_write_and_a_read_back(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = await _polled(make_source)
    fake.reset_counters()
    await source.async_write_setting(_set(Setting.RESERVE_SOC, 30))
    assert _writes(fake) == [(6, RESERVE, 1)]  # FC06, the standard unit's single write
    assert [(r.function_code, r.address) for r in fake.requests] == [(6, RESERVE), (3, 0x084F)]
    assert fake.get("discharge_cutoff_soc") == 30
    assert fake.writes_to("discharge_cutoff_soc") == 1
    assert source.reported_settings().reserve_soc == 30
    # The battery limits follow the unit's new reserve too.
    limits = source.battery_limits
    assert limits is not None
    assert limits.min_soc == 30


async def test_the_same_value_writes_nothing(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = await _polled(make_source)
    fake.reset_counters()
    await source.async_write_setting(_set(Setting.RESERVE_SOC, 10))
    await source.async_write_setting(_set(Setting.EXPORT_LIMIT, 100))
    await source.async_write_setting(
        _set(Setting.CHARGE_WINDOW_1, Window(start=time(0), end=time(0), enabled=False))
    )
    assert fake.requests == []
    assert sum(fake.writes.values()) == 0


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (_set(Setting.RESERVE_SOC, 2), "setting_out_of_range"),
        (_set(Setting.EXPORT_LIMIT, 150), "setting_out_of_range"),
        (
            _set(Setting.CHARGE_WINDOW_1, Window(start=time(6), end=time(2), enabled=True)),
            "window_end_before_start",
        ),
        (_set(Setting.EXPORT_LIMIT_ENABLED, True), "setting_unsupported"),
    ],
)
async def test_invalid_changes_never_reach_the_unit(
    fake: FakeAlphaEss, make_source: MakeSource, change: SettingChange, key: str
) -> None:
    source = await _polled(make_source)
    before = source.reported_settings()
    fake.reset_counters()
    with pytest.raises(CommandRejected) as err:
        await source.async_write_setting(change)
    assert err.value.key == key
    assert fake.requests == []
    assert sum(fake.writes.values()) == 0
    assert source.reported_settings() == before


async def test_overlapping_window_never_reaches_the_unit(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = await _polled(make_source)
    await source.async_write_setting(
        _set(Setting.DISCHARGE_WINDOW_1, Window(start=time(17), end=time(21), enabled=True))
    )
    fake.reset_counters()
    with pytest.raises(CommandRejected) as err:
        await source.async_write_setting(
            _set(Setting.CHARGE_WINDOW_1, Window(start=time(20), end=time(23), enabled=True))
        )
    assert err.value.key == "windows_overlap"
    assert fake.requests == []


async def test_a_refused_write_is_a_command_failure(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = await _polled(make_source)
    fake.refuse_writes[RESERVE] = ExcCodes.DEVICE_FAILURE
    with pytest.raises(CommandFailed) as err:
        await source.async_write_setting(_set(Setting.RESERVE_SOC, 40))
    assert err.value.key == "setting_refused"
    assert err.value.placeholders == {
        "setting": "reserve_soc",
        "detail": "Modbus exception 4 at 0x0850",
    }
    assert not isinstance(err.value, CommandRejected)
    # The refused write, then one read to show the unit's value again.
    assert [r.function_code for r in fake.requests[-2:]] == [6, 3]
    assert fake.get("discharge_cutoff_soc") == 10
    assert source.reported_settings().reserve_soc == 10


async def test_an_ignored_write_is_caught_by_the_read_back(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = await _polled(make_source)
    fake.ignore_writes.add(0x0855)
    with pytest.raises(CommandFailed) as err:
        await source.async_write_setting(_set(Setting.CHARGE_LIMIT_SOC, 90))
    assert err.value.key == "setting_not_applied"
    assert err.value.placeholders == {"setting": "charge_limit_soc"}
    assert source.reported_settings().charge_limit_soc == 50  # the unit's value again


async def test_export_limit_is_ignored_during_a_dispatch(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = await _polled(make_source)
    await source.async_dispatch(charge_command(1000, 90, 30))
    await source.async_poll(_now())
    with pytest.raises(CommandFailed) as err:
        await source.async_write_setting(_set(Setting.EXPORT_LIMIT, 0))
    assert err.value.key == "export_limit_during_dispatch"
    assert source.reported_settings().export_limit == 100
    await source.async_dispatch(Command(kind=CommandKind.STOP, issued_at=_now()))
    await source.async_poll(_now())
    await source.async_write_setting(_set(Setting.EXPORT_LIMIT, 0))
    assert source.reported_settings().export_limit == 0


async def test_a_window_is_written_and_read_back(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = await _polled(make_source)
    window = Window(start=time(1, 30), end=time(5, 0), enabled=True)
    await source.async_write_setting(_set(Setting.CHARGE_WINDOW_1, window))
    assert fake.window(Setting.CHARGE_WINDOW_1) == (time(1, 30), time(5, 0))
    assert fake.get("time_period_control") == 1
    assert source.reported_settings().windows[Setting.CHARGE_WINDOW_1] == window
    # One write per changed register, the bit last; nothing else touched.
    assert {a: n for a, n in fake.writes.items() if n} == {
        0x0857: 1,
        0x0856: 1,
        0x085E: 1,
        0x084F: 1,
    }
    fake.reset_counters()
    await source.async_write_setting(_set(Setting.CHARGE_WINDOW_1, window))
    assert fake.requests == []


async def test_start_up_and_restore_write_nothing(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = await _polled(make_source)
    await source.async_write_setting(_set(Setting.RESERVE_SOC, 20))
    saved = source.as_dict()
    await source.async_close()
    await asyncio.sleep(0.05)  # the unit serves one client at a time
    fake.writes.clear()
    restored = make_source()
    restored.restore(saved)
    for _ in range(3):
        await restored.async_poll(_now())
    assert sum(fake.writes.values()) == 0
    assert restored.reported_settings().reserve_soc == 20


async def test_b3_settings_go_out_as_fc16(make_fake: MakeFake, make_source: MakeSource) -> None:
    b3 = await make_fake("smile-b3")
    source = await _polled(make_source, port=b3.port, model="smile-b3")
    b3.reset_counters()
    await source.async_write_setting(_set(Setting.EXPORT_LIMIT, 70))
    assert _writes(b3) == [(16, 0x0800, 1)]
    assert source.reported_settings().export_limit == 70


async def test_t10_writes_tenths_of_a_percent(make_fake: MakeFake, make_source: MakeSource) -> None:
    t10 = await make_fake("smile-t10")
    source = await _polled(make_source, port=t10.port, model="smile-t10")
    assert source.reported_settings().reserve_soc == 10
    await source.async_write_setting(_set(Setting.RESERVE_SOC, 25))
    assert t10.get("discharge_cutoff_soc") == 250
    assert source.reported_settings().reserve_soc == 25
    # The unit takes at most 1000 (100 %): a raw percent would be far off.
    await source.async_write_setting(_set(Setting.CHARGE_LIMIT_SOC, 100))
    assert t10.get("charge_cutoff_soc") == 1000


# --- the fake honours the settings ------------------------------------------


def _settle(fake: FakeAlphaEss) -> None:
    """One step of the fake's model, a second after its last."""
    fake.step(fake._last_step + 1)


async def test_reserve_stops_discharge(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    fake.set("pv1_voltage", 0)  # night: the house draws from the battery
    fake.set("pv2_voltage", 0)
    fake.set("battery_soc", 400)
    source = await _polled(make_source)
    _settle(fake)
    assert fake.get("battery_power") > 0
    await source.async_write_setting(_set(Setting.RESERVE_SOC, 40))
    _settle(fake)
    assert fake.get("battery_power") == 0
    assert fake.get("grid_power") > 0


async def test_export_limit_curtails_pv(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    fake.set("battery_soc", 1000)  # full: the surplus can only go to the grid
    source = await _polled(make_source)
    _settle(fake)
    assert fake.get("grid_power") < 0
    pv_before = fake.get("pv1_power") + fake.get("pv2_power")
    await source.async_write_setting(_set(Setting.EXPORT_LIMIT, 0))
    _settle(fake)
    assert fake.get("grid_power") >= 0
    assert fake.get("pv1_power") + fake.get("pv2_power") < pv_before


async def test_windows_drive_the_battery_on_the_fakes_clock(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    fake.set("battery_soc", 300)
    fake.set("pv1_voltage", 0)
    fake.set("pv2_voltage", 0)
    fake.time_of_day = time(2, 0)
    source = await _polled(make_source)
    await source.async_write_setting(
        _set(Setting.CHARGE_WINDOW_1, Window(start=time(1), end=time(5), enabled=True))
    )
    _settle(fake)
    # Inside the charge window: charging from the grid at full power.
    assert fake.get("battery_power") == -fake.get("battery_max_charge_power")
    fake.time_of_day = time(6, 0)
    _settle(fake)
    assert fake.get("battery_power") > 0  # outside: self-consumption again
    # Discharge windows on: outside them the battery holds.
    await source.async_write_setting(
        _set(Setting.DISCHARGE_WINDOW_1, Window(start=time(17), end=time(21), enabled=True))
    )
    _settle(fake)
    assert fake.get("battery_power") == 0
    fake.time_of_day = time(18, 0)
    _settle(fake)
    assert fake.get("battery_power") > 0
    # Above the charge cut-off, a charge window does not charge.
    fake.time_of_day = time(2, 0)
    fake.set("battery_soc", 600)
    _settle(fake)
    assert fake.get("battery_power") == 0


async def test_the_fake_refuses_values_a_register_cannot_hold(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    from custom_components.sunstream.pysunstream.alphaess import (
        DEFAULT_UNIT,
        ModbusClient,
        ModbusError,
    )
    from custom_components.sunstream.pysunstream.alphaess.quirks import WriteCode

    client = ModbusClient("127.0.0.1", fake.port, DEFAULT_UNIT, timeout=0.3, spacing=0.01)
    try:
        with pytest.raises(ModbusError) as err:
            await client.write(0x0856, [24], WriteCode.FC06)
        assert err.value.exception_code == 3
        assert fake.get("charge_window_1_start_hour") == 0
        assert fake.writes_to("charge_window_1_start_hour") == 0
    finally:
        await client.close()

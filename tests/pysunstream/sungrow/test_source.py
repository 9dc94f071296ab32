"""End to end against the fake inverter: identity, polls, request counts, dispatch, settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
import logging

import pytest

from custom_components.sunstream.pysunstream.backoff import Backoff
from custom_components.sunstream.pysunstream.controls import (
    Configurable,
    Setting,
    SettingChange,
    Window,
)
from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.errors import (
    CommandFailed,
    CommandRejected,
    SourceUnavailable,
)
from custom_components.sunstream.pysunstream.modbus.registers import Table
from custom_components.sunstream.pysunstream.model import (
    BatteryMode,
    InverterStatus,
    Metric,
    as_number,
)
from custom_components.sunstream.pysunstream.source import Source
from custom_components.sunstream.pysunstream.sungrow import (
    Connection,
    SungrowModbusSource,
    schedule,
)
from custom_components.sunstream.pysunstream.sungrow.registers import (
    COMMAND_CHARGE,
    COMMAND_STOP,
    EXPORT_LIMIT_ON,
    SCHEDULE_ADDRESS,
)
from sunstream_fakes.sungrow_fake import SERIAL, FakeSungrow

from .conftest import MakeSource


def _now() -> datetime:
    return datetime.now(UTC)


def _command(
    kind: CommandKind, power: float = 3000, soc: float = 90, minutes: float = 60
) -> Command:
    return Command(
        kind=kind,
        issued_at=_now(),
        power_w=power,
        target_soc=soc,
        duration=timedelta(minutes=minutes),
    )


def test_is_a_source_and_configurable() -> None:
    source = SungrowModbusSource("127.0.0.1")
    assert isinstance(source, Configurable)
    _typed: Source = source
    assert _typed.source_type == "sungrow_modbus"


async def test_identify_names_serial_and_model(make_source: MakeSource) -> None:
    serial, model = await make_source().identify()
    assert serial == SERIAL
    assert model.name == "SH10RT"


async def test_poll_matches_the_inverter(fake: FakeSungrow, make_source: MakeSource) -> None:
    source = make_source()
    snapshot = await source.async_poll(_now())
    fake.step()
    assert snapshot.get(Metric.BATTERY_SOC) == pytest.approx(fake.soc, abs=0.5)
    assert snapshot.get(Metric.STATUS) == InverterStatus.PRODUCING.value
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION.value
    assert snapshot.get(Metric.GRID_IMPORT_ENERGY) == pytest.approx(
        fake.get("grid_import_energy") / 10, abs=0.2
    )
    pv = as_number(snapshot.get(Metric.PV_POWER))
    load = as_number(snapshot.get(Metric.LOAD_POWER))
    grid = as_number(snapshot.get(Metric.GRID_POWER))
    battery = as_number(snapshot.get(Metric.BATTERY_POWER))
    assert pv is not None
    assert load is not None
    assert grid is not None
    assert battery is not None
    # Canonical signs: the balance closes with grid + import and battery + discharge.
    assert pv + grid + battery == pytest.approx(load, abs=5)
    assert snapshot.identity is not None
    assert snapshot.identity.model == "SH10RT"
    assert snapshot.identity.serial == SERIAL
    assert snapshot.extras["grid_frequency"] == 50.0
    assert snapshot.extras["grid_voltage"] == 231.0
    assert snapshot.extras["battery_soh"] == 100.0
    pv1 = snapshot.extras["pv1_power"]
    assert isinstance(pv1, int | float)
    assert pv1 == pytest.approx(0.6 * pv, rel=0.05)
    battery_part = snapshot.devices[0]
    assert battery_part.values["battery_power"] == battery


async def test_energy_totals_never_go_backwards(make_source: MakeSource) -> None:
    source = make_source()
    first = await source.async_poll(_now())
    await asyncio.sleep(0.3)
    second = await source.async_poll(_now())
    for metric in (Metric.PV_ENERGY_TOTAL, Metric.GRID_EXPORT_ENERGY, Metric.GRID_IMPORT_ENERGY):
        before, after = as_number(first.get(metric)), as_number(second.get(metric))
        assert before is not None
        assert after is not None
        assert after >= before


async def test_a_poll_takes_three_reads_on_lan_and_four_through_winet() -> None:
    for connection, expected in ((Connection.LAN, 3), (Connection.WINET, 4)):
        async with FakeSungrow(connection=connection.value) as fake:
            source = SungrowModbusSource("127.0.0.1", fake.port, connection=connection)
            try:
                await source.async_poll(_now())  # identity and slow reads too
                fake.reset_counters()
                snapshot = await source.async_poll(_now())
            finally:
                await source.async_close()
            assert len(fake.requests) == expected
            assert all(r.count <= fake.max_count for r in fake.requests)
            gaps = [b.at - a.at for a, b in zip(fake.requests, fake.requests[1:], strict=False)]
            assert all(gap >= fake.min_spacing for gap in gaps)
            assert snapshot.extras["grid_frequency"] == 50.0


async def test_winet_refuses_a_long_read_the_lan_port_answers() -> None:
    async with FakeSungrow(connection="winet") as fake:
        source = SungrowModbusSource("127.0.0.1", fake.port, connection=Connection.LAN)
        try:
            with pytest.raises(SourceUnavailable):
                await source.async_poll(_now())
        finally:
            await source.async_close()


async def test_string_inverter(make_source: MakeSource) -> None:
    async with FakeSungrow(device_type_code=0x2430) as fake:
        source = SungrowModbusSource("127.0.0.1", fake.port)
        try:
            snapshot = await source.async_poll(_now())
            fake.step()
            assert source.battery_limits is None
            assert snapshot.devices == ()
            grid = as_number(snapshot.get(Metric.GRID_POWER))
            assert grid == pytest.approx(fake.get("grid_power"), abs=400)
            assert snapshot.get(Metric.PV_ENERGY_TOTAL) == pytest.approx(9876.5, abs=1)
            # The meter's lifetime counters (5094 export, 5098 import).
            assert snapshot.get(Metric.GRID_IMPORT_ENERGY) == pytest.approx(2000, abs=1)
            assert snapshot.get(Metric.GRID_EXPORT_ENERGY) == pytest.approx(3000, abs=1)
            with pytest.raises(CommandRejected) as err:
                await source.async_dispatch(_command(CommandKind.CHARGE))
            assert err.value.key == "no_battery"
            assert source.settings_spec.ranges == {}
        finally:
            await source.async_close()


@pytest.mark.parametrize(
    ("code", "word"),
    [(0x0E03, 25), (0x0E13, 2500)],  # SH10RT: % of its 10 kW rating; SH10RT-20: W
    ids=["percent", "watt"],
)
async def test_forced_charge_is_written_and_read_back(code: int, word: int) -> None:
    async with FakeSungrow(device_type_code=code, speed=60) as fake:
        source = SungrowModbusSource("127.0.0.1", fake.port, timeout=0.5)
        try:
            await source.async_poll(_now())
            await source.async_dispatch(_command(CommandKind.CHARGE, power=2500))
            assert [fake.get(k) for k in ("ems_mode", "ems_command", "ems_power")] == [
                2,
                COMMAND_CHARGE,
                word,
            ]
            snapshot = await source.async_poll(_now())
            assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.FORCED_CHARGE.value
            assert snapshot.get(Metric.BATTERY_POWER) == -2500  # the inverter took 2.5 kW
            assert snapshot.extras["ems_power"] == 2500  # read back, in W either way
            await source.async_dispatch(_command(CommandKind.STOP))
            assert (fake.get("ems_mode"), fake.get("ems_command")) == (0, COMMAND_STOP)
        finally:
            await source.async_close()


async def test_unchanged_ems_words_are_not_written_again(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    source = make_source()
    await source.async_poll(_now())
    await source.async_dispatch(_command(CommandKind.CHARGE, power=2500))
    writes = sum(fake.writes.values())
    await source.async_dispatch(_command(CommandKind.CHARGE, power=2000))
    assert sum(fake.writes.values()) == writes + 1  # only the power


async def test_an_ignored_command_fails(fake: FakeSungrow, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    fake.ignore_ems = True
    with pytest.raises(CommandFailed) as err:
        await source.async_dispatch(_command(CommandKind.DISCHARGE))
    assert err.value.key == "dispatch_not_applied"


EMS_MODE, EMS_COMMAND, EMS_POWER = 13049, 13050, 13051


def _ems(fake: FakeSungrow) -> tuple[int, int]:
    return fake.get("ems_mode"), fake.get("ems_command")


async def _charging(make_source: MakeSource, minutes: float = 60) -> SungrowModbusSource:
    """A source that has read the inverter once and forced a 2.5 kW charge."""
    source = make_source()
    await source.async_poll(_now())
    await source.async_dispatch(_command(CommandKind.CHARGE, power=2500, minutes=minutes))
    return source


async def test_a_refused_first_write_changes_nothing(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    source = make_source()
    await source.async_poll(_now())
    fake.refused_registers = {EMS_POWER}  # written first: the mode would go last
    with pytest.raises(CommandFailed) as err:
        await source.async_dispatch(_command(CommandKind.CHARGE))
    assert err.value.key == "dispatch_refused"
    assert _ems(fake) == (0, COMMAND_STOP)
    assert not fake.writes
    assert source.as_dict() == {}


@pytest.mark.parametrize(
    ("forced_before", "refused", "command_after"),
    [
        (False, {EMS_MODE}, COMMAND_STOP),  # power and command taken, the mode refused
        (False, {EMS_COMMAND}, COMMAND_STOP),  # the power taken, the command refused
        # A forced charge, then a discharge: the power taken, the command refused;
        # the rollback's own stop is refused too, but the mode alone decides.
        (True, {EMS_COMMAND}, COMMAND_CHARGE),
    ],
    ids=["mode_refused", "command_refused", "command_refused_while_forced"],
)
async def test_a_command_refused_half_way_returns_to_self_consumption(
    fake: FakeSungrow,
    make_source: MakeSource,
    forced_before: bool,
    refused: set[int],
    command_after: int,
) -> None:
    source = make_source()
    await source.async_poll(_now())
    if forced_before:
        await source.async_dispatch(_command(CommandKind.CHARGE, power=2500))
        assert _ems(fake) == (2, COMMAND_CHARGE)
    fake.refused_registers = refused
    with pytest.raises(CommandFailed) as err:
        await source.async_dispatch(_command(CommandKind.DISCHARGE, power=2000, soc=20))
    assert err.value.key == "dispatch_rolled_back"
    assert "exception 4" in err.value.placeholders["detail"]
    assert _ems(fake) == (0, command_after)
    assert source.as_dict() == {}  # nothing left for Sunstream to end
    fake.refused_registers = set()
    writes = sum(fake.writes.values())
    snapshot = await source.async_poll(_now())
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION.value
    assert sum(fake.writes.values()) == writes  # the poll had nothing to undo


async def test_a_rollback_refused_too_is_retried_on_the_next_poll(
    fake: FakeSungrow, make_source: MakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    source = await _charging(make_source)
    fake.refused_registers = {EMS_MODE, EMS_COMMAND}
    with caplog.at_level(logging.WARNING), pytest.raises(CommandFailed) as err:
        await source.async_dispatch(_command(CommandKind.DISCHARGE, power=2000, soc=20))
    assert err.value.key == "dispatch_half_applied"
    # Still forcing a charge, now at the new power: Sunstream holds a stop to send.
    assert _ems(fake) == (2, COMMAND_CHARGE)
    assert fake.get("ems_power") == 20
    assert source.as_dict()["command"]["kind"] == "stop"
    assert "could not be restored" in caplog.text
    fake.refused_registers = set()
    snapshot = await source.async_poll(_now())
    assert _ems(fake) == (0, COMMAND_STOP)
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION.value
    assert source.as_dict() == {}


async def test_bad_commands_write_nothing(fake: FakeSungrow, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    for command, key in (
        (_command(CommandKind.CHARGE, power=9000), "power_out_of_range"),
        (_command(CommandKind.CHARGE, soc=120), "soc_out_of_range"),
        (_command(CommandKind.DISCHARGE, minutes=0), "duration_out_of_range"),
        (_command(CommandKind.DISCHARGE, soc=5), "soc_below_cutoff"),
        # Under the SH10RT's 1 % (100 W): it would go out as 0 %, moving nothing.
        (_command(CommandKind.CHARGE, power=40), "power_below_step"),
    ):
        with pytest.raises(CommandRejected) as err:
            await source.async_dispatch(command)
        assert err.value.key == key
    assert not fake.writes


async def test_sunstream_ends_the_command_it_started(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    source = make_source()
    await source.async_poll(_now())
    await source.async_dispatch(_command(CommandKind.CHARGE, soc=fake.soc + 0.05))
    saved = source.as_dict()
    restored = make_source()
    restored.restore(saved)
    await source.async_close()
    await asyncio.sleep(0.5)  # the fake charges past the target
    snapshot = await restored.async_poll(_now())
    assert (fake.get("ems_mode"), fake.get("ems_command")) == (0, COMMAND_STOP)
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION.value
    assert restored.as_dict() == {}


async def test_a_forced_command_read_back_other_returns_to_self_consumption(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    source = make_source()
    await source.async_poll(_now())
    fake.clamped = {EMS_POWER: 20}  # it takes 25 % (2.5 kW) as 20 %
    with pytest.raises(CommandFailed) as err:
        await source.async_dispatch(_command(CommandKind.CHARGE, power=2500))
    assert err.value.key == "dispatch_rolled_back"
    assert "dispatch_not_applied" in err.value.placeholders["detail"]
    # Not left forcing a charge with no end: back in self-consumption at once.
    assert _ems(fake) == (0, COMMAND_STOP)
    assert source.as_dict() == {}


async def test_a_forced_command_whose_read_back_is_lost_is_ended_on_the_next_poll(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    source = make_source(backoff=Backoff(base=0, cap=0))  # the next poll may go at once
    await source.async_poll(_now())
    fake.silent_after = {EMS_MODE}  # all three words taken, then the link is lost
    with pytest.raises(CommandFailed) as err:
        await source.async_dispatch(_command(CommandKind.CHARGE, power=2500))
    assert err.value.key == "dispatch_half_applied"
    assert _ems(fake) == (2, COMMAND_CHARGE)
    assert source.as_dict()["command"]["kind"] == "stop"
    fake.silent_after = set()
    fake.silent = False
    snapshot = await source.async_poll(_now())
    assert _ems(fake) == (0, COMMAND_STOP)
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION.value
    assert source.as_dict() == {}


async def test_a_stop_the_inverter_ignores_is_sent_again_next_poll(
    fake: FakeSungrow, make_source: MakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_source()
    await source.async_poll(_now())
    await source.async_dispatch(_command(CommandKind.DISCHARGE, soc=10, minutes=1))
    fake.ignore_ems = True
    later = _now() + timedelta(minutes=2)  # the command's time is up
    with caplog.at_level(logging.WARNING):
        snapshot = await source.async_poll(later)
    # The reading is not lost; the command stays held, the stop to be sent again.
    assert snapshot.get(Metric.BATTERY_SOC) is not None
    assert source.as_dict() != {}
    assert fake.get("ems_mode") == 2
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "dispatch_not_applied" in warning.getMessage()
    caplog.clear()
    fake.ignore_ems = False
    with caplog.at_level(logging.WARNING):
        await source.async_poll(later)
    assert (fake.get("ems_mode"), fake.get("ems_command")) == (0, COMMAND_STOP)
    assert source.as_dict() == {}
    assert not caplog.records


async def test_a_stop_refused_after_the_mode_ends_the_command(
    fake: FakeSungrow, make_source: MakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    source = await _charging(make_source, minutes=1)
    fake.refused_registers = {EMS_COMMAND}  # the stop's mode is written first, then refused
    with caplog.at_level(logging.WARNING):
        snapshot = await source.async_poll(_now() + timedelta(minutes=2))
    assert _ems(fake) == (0, COMMAND_CHARGE)  # self-consumption: the command word moves nothing
    assert snapshot.get(Metric.BATTERY_MODE) == BatteryMode.SELF_CONSUMPTION.value
    assert source.as_dict() == {}
    assert "went only half-way" in caplog.text


async def test_a_command_taken_back_elsewhere_is_forgotten(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    source = make_source()
    await source.async_poll(_now())
    await source.async_dispatch(_command(CommandKind.DISCHARGE, soc=10))
    fake.set("ems_mode", 0)  # the app switched back to self-consumption
    await source.async_poll(_now())
    assert source.as_dict() == {}
    assert fake.get("ems_mode") == 0


async def test_settings_are_read_back_and_written_only_when_they_change(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    source = make_source()
    await source.async_poll(_now())
    reported = source.reported_settings()
    assert reported.reserve_soc == 10.0
    assert reported.charge_limit_soc == 100.0
    assert reported.export_limit_enabled is False
    assert Setting.EXPORT_LIMIT in source.settings_spec.ranges
    await source.async_write_setting(SettingChange(setting=Setting.RESERVE_SOC, value=20.0))
    assert fake.get("min_soc") == 200
    assert source.reported_settings().reserve_soc == 20.0
    await source.async_write_setting(SettingChange(setting=Setting.RESERVE_SOC, value=20.0))
    assert fake.writes[13058] == 1
    await source.async_write_setting(
        SettingChange(setting=Setting.EXPORT_LIMIT_ENABLED, value=True)
    )
    assert fake.get("export_limit_mode") == EXPORT_LIMIT_ON
    await source.async_write_setting(SettingChange(setting=Setting.EXPORT_LIMIT, value=3000.0))
    assert fake.get("export_limit") == 3000


async def test_bad_settings_are_refused_before_writing(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    source = make_source()
    await source.async_poll(_now())
    for change, key in (
        (SettingChange(setting=Setting.RESERVE_SOC, value=80.0), "setting_out_of_range"),
        (SettingChange(setting=Setting.CHARGE_WINDOW_1, value=1.0), "setting_unsupported"),
        (SettingChange(setting=Setting.RESERVE_SOC, value=True), "setting_unsupported"),
    ):
        with pytest.raises(CommandRejected) as err:
            await source.async_write_setting(change)
        assert err.value.key == key
    assert not fake.writes
    fake.refuse_writes = True
    with pytest.raises(CommandFailed) as failed:
        await source.async_write_setting(
            SettingChange(setting=Setting.CHARGE_LIMIT_SOC, value=90.0)
        )
    assert failed.value.key == "setting_refused"
    assert source.reported_settings().charge_limit_soc == 100.0


async def test_a_missing_register_is_read_alone_once_then_left_out(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    fake.illegal.add((Table.INPUT, 13023))  # no SOH on this model
    source = make_source()
    snapshot = await source.async_poll(_now())
    assert "battery_soh" not in snapshot.devices[0].values
    assert snapshot.get(Metric.BATTERY_SOC) is not None
    fake.reset_counters()
    await source.async_poll(_now())
    # The hole splits the 13000 block in two; no read touches 13023 again.
    assert len(fake.requests) == 4
    assert not any(r.address <= 13023 < r.address + r.count for r in fake.requests)


async def test_a_missing_slow_register_splits_the_real_time_block_too(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    # 5003 (lifetime output, read slowly) sits inside the real-time block 5002..5035:
    # a block over it would fail on every poll, so it is a hole for every cadence.
    fake.illegal.add((Table.INPUT, 5003))
    source = make_source()
    snapshot = await source.async_poll(_now())
    assert "total_output_energy" not in snapshot.devices[0].values
    assert snapshot.get(Metric.PV_POWER) is not None
    fake.reset_counters()
    await source.async_poll(_now())
    # 3 real-time reads, the first split in two around 5003..5004.
    assert len(fake.requests) == 4
    assert not any(r.address <= 5003 < r.address + r.count for r in fake.requests)


async def test_a_silent_inverter_is_unavailable(fake: FakeSungrow, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    fake.silent = True
    with pytest.raises(SourceUnavailable) as err:
        await source.async_poll(_now())
    assert err.value.reason == "timeout"


async def test_a_string_meter_through_winet_keeps_import_positive() -> None:
    async with FakeSungrow(device_type_code=0x2430, connection="winet") as fake:
        source = SungrowModbusSource("127.0.0.1", fake.port, connection=Connection.WINET)
        try:
            snapshot = await source.async_poll(_now())
            fake.step()
            # The fake inverts 5082 as a WiNet-S does; the profile turns it back.
            assert snapshot.get(Metric.GRID_POWER) == pytest.approx(
                -fake.get("grid_power"), abs=400
            )
        finally:
            await source.async_close()


async def test_battery_direction_without_running_state(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    fake.no_running_state = True
    source = make_source()
    await source.async_poll(_now())
    await source.async_dispatch(_command(CommandKind.CHARGE, power=2500))
    snapshot = await source.async_poll(_now())
    assert snapshot.get(Metric.BATTERY_POWER) == -2500


_WINDOW_1, _WINDOW_2 = Setting.CHARGE_WINDOW_1, Setting.CHARGE_WINDOW_2


async def test_forced_charging_windows_are_read_back_and_written_only_when_they_change(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    source = make_source()
    await source.async_poll(_now())
    spec = source.settings_spec
    assert spec.windows == {_WINDOW_1, _WINDOW_2}
    assert spec.write_group(_WINDOW_1) == spec.write_group(_WINDOW_2)  # one switch
    windows = source.reported_settings().windows
    assert windows[_WINDOW_1] == Window(start=time(1), end=time(5), enabled=False)
    assert windows[_WINDOW_2] == Window(start=time(0), end=time(0), enabled=False)
    fake.set("forced_charge_days", 0)  # weekdays only, set in the maker's app
    wanted = Window(start=time(2, 30), end=time(23, 59), enabled=True)
    await source.async_write_setting(SettingChange(setting=_WINDOW_1, value=wanted))
    assert [fake.get(k) for k in schedule.WINDOW_KEYS[_WINDOW_1]] == [2, 30, 24, 0]
    assert fake.get("forced_charge") == schedule.ENABLE
    assert fake.get("forced_charge_days") == schedule.EVERY_DAY  # a daily window
    windows = source.reported_settings().windows
    assert windows[_WINDOW_1] == wanted
    assert windows[_WINDOW_2].enabled  # the same switch
    writes = sum(fake.writes.values())
    await source.async_write_setting(SettingChange(setting=_WINDOW_1, value=wanted))
    assert sum(fake.writes.values()) == writes
    # The inverter honours it: inside the window it charges up to the target.
    fake.clock = lambda: time(3)
    snapshot = await source.async_poll(_now())
    assert snapshot.get(Metric.BATTERY_POWER) == -5000
    fake.clock = lambda: time(1)
    snapshot = await source.async_poll(_now())
    assert (snapshot.get(Metric.BATTERY_POWER) or 0) > -5000


async def test_bad_windows_write_nothing(fake: FakeSungrow, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    backwards = Window(start=time(6), end=time(2), enabled=True)
    with pytest.raises(CommandRejected) as err:
        await source.async_write_setting(SettingChange(setting=_WINDOW_2, value=backwards))
    assert err.value.key == "window_end_before_start"
    assert not fake.writes
    fake.refuse_writes = True
    moved = Window(start=time(1), end=time(6), enabled=False)
    with pytest.raises(CommandFailed) as failed:
        await source.async_write_setting(SettingChange(setting=_WINDOW_1, value=moved))
    assert failed.value.key == "setting_refused"
    assert source.reported_settings().windows[_WINDOW_1].end == time(5)


async def test_an_inverter_without_the_schedule_has_no_windows(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    fake.illegal |= {
        (Table.HOLDING, SCHEDULE_ADDRESS + offset) for offset in schedule.OFFSETS.values()
    }
    source = make_source()
    await source.async_poll(_now())
    assert source.settings_spec.windows == frozenset()
    assert source.reported_settings().windows == {}
    with pytest.raises(CommandRejected) as err:
        await source.async_write_setting(
            SettingChange(setting=_WINDOW_1, value=Window(start=time(1), end=time(2), enabled=True))
        )
    assert err.value.key == "setting_unsupported"


async def test_a_string_inverter_without_meter_counters_has_no_grid_energy() -> None:
    async with FakeSungrow(device_type_code=0x2430) as fake:
        fake.illegal |= {(Table.INPUT, a) for a in range(5094, 5102)}
        source = SungrowModbusSource("127.0.0.1", fake.port)
        try:
            snapshot = await source.async_poll(_now())
            assert Metric.GRID_IMPORT_ENERGY not in snapshot.metrics
            assert Metric.GRID_EXPORT_ENERGY not in snapshot.metrics
            assert snapshot.get(Metric.GRID_POWER) is not None  # the meter's power still
            assert snapshot.get(Metric.PV_ENERGY_TOTAL) is not None
        finally:
            await source.async_close()


async def test_a_percent_model_without_a_rating_refuses_forced_power(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    """An SH10RT takes % of its rating: without one (input 5000), no word is a safe guess."""
    fake.set("nominal_power", 0)
    source = make_source()
    await source.async_poll(_now())
    with pytest.raises(CommandRejected) as err:
        await source.async_dispatch(_command(CommandKind.CHARGE, power=2500))
    assert err.value.key == "rated_power_unknown"
    assert err.value.placeholders == {"model": "SH10RT"}
    assert not fake.writes


async def test_a_window_refused_half_way_shows_what_the_inverter_holds(
    fake: FakeSungrow, make_source: MakeSource
) -> None:
    """The times are written, the switch refused: the window shows the new times, still off."""
    source = make_source()
    await source.async_poll(_now())
    switch = SCHEDULE_ADDRESS + schedule.OFFSETS[schedule.SWITCH]
    fake.write_ranges[switch] = frozenset({schedule.DISABLE})  # this inverter will not turn on
    wanted = Window(start=time(2), end=time(6), enabled=True)
    with pytest.raises(CommandFailed) as err:
        await source.async_write_setting(SettingChange(setting=_WINDOW_1, value=wanted))
    assert err.value.key == "setting_refused"
    assert [fake.get(k) for k in schedule.WINDOW_KEYS[_WINDOW_1]] == [2, 0, 6, 0]
    shown = source.reported_settings().windows[_WINDOW_1]
    assert shown == Window(start=time(2), end=time(6), enabled=False)

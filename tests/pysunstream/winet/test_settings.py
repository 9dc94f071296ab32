"""WiNet device settings: the getParam list, the mapping, and the source against the fake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
import json

import pytest

from custom_components.sunstream.pysunstream.controls import (
    Configurable,
    ConfiguresSeveralBatteries,
    NumberRange,
    Setting,
    SettingChange,
    Window,
)
from custom_components.sunstream.pysunstream.errors import CommandFailed, CommandRejected
from custom_components.sunstream.pysunstream.model import Metric, PartKey
from custom_components.sunstream.pysunstream.winet import WinetClient, WinetSource
from custom_components.sunstream.pysunstream.winet.errors import ParamsRefused
from custom_components.sunstream.pysunstream.winet.params import (
    FEED_IN,
    parse_param_list,
    parse_range,
)
from custom_components.sunstream.pysunstream.winet.settings import (
    Parameters,
    decode,
    plan,
    settings_spec,
)
from custom_components.sunstream.pysunstream.winet.source import SETTINGS_REFRESH, SETTINGS_RETRY
from sunstream_fakes.winet_fake import FakeWinet, load_fixture, load_params

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
MakeClient = Callable[..., WinetClient]
GETPARAM = "/device/getParam"


def listed(group: str, **values: str) -> Parameters:
    """The fake's starting list of ``group`` with ``values`` (by address) set."""
    items = [dict(item) for item in load_params()[group]]
    for item in items:
        if (value := values.get(f"a{item['param_addr']}")) is not None:
            item["param_value"] = value
    body = json.dumps({"result_code": 1, "result_msg": "success", "result_data": {"list": items}})
    return Parameters().updated([parse_param_list(body).params])


def window(start: time, end: time, *, enabled: bool = True) -> Window:
    return Window(start=start, end=end, enabled=enabled)


def change(setting: Setting, value: float | bool | Window) -> SettingChange:
    return SettingChange(setting=setting, value=value)


# -- the list and the mapping, pure ------------------------------------------------------


def test_param_list_keeps_the_device_quirks() -> None:
    params = listed("9").current
    end_minute = params[33154]
    assert (end_minute.unit, end_minute.minimum, end_minute.maximum) == ("min", 0, 59)
    assert params[33208].options == ("170", "85")
    assert params[33146].value == "0"
    assert parse_range("[0.00~500.00]") == (0.0, 500.0)
    assert parse_range("") == (None, None)


def test_error_reply_has_no_params() -> None:
    reply = parse_param_list('{"result_code":106,"result_msg":"I18N_COMMON_INTER_ABNORMAL"}')
    assert (reply.ok, reply.code, reply.params) == (False, 106, ())


def test_decode_window_with_the_shared_switch_and_end_of_day() -> None:
    params = listed("9", a33208="170", a33209="1", a33212="24", a33213="0", a33215="1", a33217="3")
    settings = decode(params)
    assert settings.windows[Setting.CHARGE_WINDOW_1] == window(time(4, 30), time(23, 59))
    assert settings.windows[Setting.CHARGE_WINDOW_2] == window(time(1), time(3))
    assert settings.charge_limit_soc == 15.0
    # Writing back what is shown changes nothing: 23:59 is the device's 24:00.
    spec = settings_spec(params, 10000)
    unchanged = settings.windows[Setting.CHARGE_WINDOW_1]
    assert plan(spec, params, change(Setting.CHARGE_WINDOW_1, unchanged)) == ()
    # Valid on weekdays only (the capture's 0): a daily window sets every day.
    weekdays = listed("9", a33208="170", a33212="24", a33213="0")
    written = plan(spec, weekdays, change(Setting.CHARGE_WINDOW_1, unchanged))
    assert [(param.addr, param.value) for param in written] == [(33209, "1")]


def test_hidden_children_show_what_was_listed_last() -> None:
    shown = listed("9", a33208="170")
    hidden = shown.updated([parse_param_list(_body(load_params()["9"], hide=True)).params])
    settings = decode(hidden)
    assert settings.windows[Setting.CHARGE_WINDOW_1] == window(
        time(4, 30), time(4, 59), enabled=False
    )
    spec = settings_spec(hidden, 10000)
    with pytest.raises(CommandRejected) as rejected:
        plan(spec, hidden, change(Setting.CHARGE_LIMIT_SOC, 80))
    assert rejected.value.key == "winet_forced_charge_off"


def _body(items: list[dict[str, object]], *, hide: bool) -> str:
    shown = [item for item in items if not (hide and item["param_pid"] == 21)]
    return json.dumps({"result_code": 1, "result_msg": "success", "result_data": {"list": shown}})


def test_charge_limit_unknown_when_windows_in_use_disagree() -> None:
    params = listed("9", a33208="170", a33215="1", a33217="2", a33219="40")
    assert decode(params).charge_limit_soc is None


def test_spec_from_the_listed_ranges() -> None:
    spec = settings_spec(listed("9"), 5000)
    assert spec.windows == frozenset({Setting.CHARGE_WINDOW_1, Setting.CHARGE_WINDOW_2})
    assert spec.ranges[Setting.CHARGE_LIMIT_SOC] == NumberRange(
        minimum=0, maximum=100, step=1, unit="%"
    )
    assert Setting.EXPORT_LIMIT not in spec.ranges  # no feed-in group listed
    assert not spec.export_limit_switch
    feed_in = listed(FEED_IN, a31221="170")
    spec = settings_spec(feed_in, None)
    assert spec.export_limit_switch
    assert spec.ranges[Setting.EXPORT_LIMIT] == NumberRange(
        minimum=0, maximum=10000, step=10, unit="W"
    )


# -- the source against the fake -----------------------------------------------------------


async def test_read_on_first_poll_never_written(fake: FakeWinet, source: WinetSource) -> None:
    assert isinstance(source, Configurable)
    spec = source.settings_spec
    assert spec.windows == frozenset({Setting.CHARGE_WINDOW_1, Setting.CHARGE_WINDOW_2})
    assert spec.export_limit_switch
    assert spec.ranges[Setting.EXPORT_LIMIT].maximum == 10000  # SH10RT: the listed range
    assert Setting.RESERVE_SOC not in spec.ranges
    settings = source.reported_settings()
    assert settings.export_limit_enabled is False
    assert settings.export_limit is None  # hidden while limiting is off, never listed
    assert settings.windows == {}  # Forced Charging is off: the times are hidden
    assert settings.windows_untimed == {Setting.CHARGE_WINDOW_1, Setting.CHARGE_WINDOW_2}
    assert settings.charge_limit_soc is None
    assert fake.http_requests[GETPARAM] == 2
    for step in range(1, 6):
        await source.async_poll(NOW + timedelta(seconds=10 * step))
    assert fake.http_requests[GETPARAM] == 2  # not on every poll
    assert fake.param_requests == []
    assert not fake.param_writes


async def test_poll_requests_do_not_grow(fake: FakeWinet, source: WinetSource) -> None:
    def total() -> int:
        return sum(fake.requests.values()) + sum(fake.http_requests.values())

    before = total()
    await source.async_poll(NOW + timedelta(seconds=10))
    per_poll = total() - before
    for step in range(2, 8):
        before = total()
        await source.async_poll(NOW + timedelta(seconds=10 * step))
        assert total() - before == per_poll
    before = total()
    await source.async_poll(NOW + SETTINGS_REFRESH)
    assert total() - before == per_poll + 2  # both groups, every SETTINGS_REFRESH


async def test_export_limit_write_reads_back(fake: FakeWinet, source: WinetSource) -> None:
    await source.async_write_setting(change(Setting.EXPORT_LIMIT_ENABLED, True))
    assert fake.param_value(1, 31221) == "170"
    assert fake.param_requests[-1]["type"] == "7"
    assert source.reported_settings().export_limit_enabled is True
    await source.async_write_setting(change(Setting.EXPORT_LIMIT, 1500))
    assert fake.param_value(1, 31222) == "1.50"
    assert source.reported_settings().export_limit == 1500.0
    snapshot = await source.async_poll(NOW + timedelta(seconds=10))
    assert snapshot.metrics[Metric.GRID_POWER] == -1500.0  # the fake caps its 2.1 kW export
    assert fake.param_writes == {31221: 1, 31222: 1}


async def test_same_value_writes_nothing(fake: FakeWinet, source: WinetSource) -> None:
    await source.async_write_setting(change(Setting.EXPORT_LIMIT_ENABLED, False))
    fake.set_param(1, 31221, "170")
    await source.async_poll(NOW + SETTINGS_REFRESH)
    await source.async_write_setting(change(Setting.EXPORT_LIMIT_ENABLED, True))
    await source.async_write_setting(change(Setting.EXPORT_LIMIT, 10000))
    assert fake.param_requests == []


async def test_charge_window_write(fake: FakeWinet, source: WinetSource) -> None:
    wanted = window(time(1), time(5, 30))
    await source.async_write_setting(change(Setting.CHARGE_WINDOW_1, wanted))
    written = {item["param_addr"]: item["param_value"] for item in fake.param_requests[-1]["list"]}
    assert written == {
        33210: "1",
        33211: "0",
        33212: "5",
        33213: "30",
        33209: "1",
        33208: "170",
    }
    settings = source.reported_settings()
    assert settings.windows[Setting.CHARGE_WINDOW_1] == wanted
    # One switch runs both windows: window 2 shows it too, with its own times.
    assert settings.windows[Setting.CHARGE_WINDOW_2] == window(time(0), time(0))
    assert settings.charge_limit_soc == 15.0
    await source.async_write_setting(change(Setting.CHARGE_LIMIT_SOC, 90))
    assert (fake.param_value(1, 33214), fake.param_value(1, 33219)) == ("90", "90")
    assert source.reported_settings().charge_limit_soc == 90.0
    await source.async_write_setting(change(Setting.CHARGE_WINDOW_1, wanted))
    assert len(fake.param_requests) == 2  # unchanged window: nothing sent
    inverter = source.devices[0].key
    assert source.diagnostics()["parameters"][inverter]["33214"] == "90"


def test_untimed_window_is_switched_on_alone() -> None:
    """Times never listed: the switch (and every day) only; the device keeps its times."""
    children = range(33209, 33220)  # hidden while Forced Charging is off, as the device does
    params = Parameters().updated(
        [tuple(p for p in listed("9").current.values() if p.addr not in children)]
    )
    spec = settings_spec(params, 10000)
    assert decode(params).windows_untimed == frozenset(spec.windows)
    written = plan(spec, params, change(Setting.CHARGE_WINDOW_2, True))
    assert [(p.addr, p.value) for p in written] == [(33209, "1"), (33208, "170")]
    assert plan(spec, params, change(Setting.CHARGE_WINDOW_2, False)) == ()
    on = listed("9", a33208="170")  # listed with its children
    assert decode(on).windows_untimed == frozenset()
    with pytest.raises(CommandRejected) as rejected:
        plan(spec, on, change(Setting.CHARGE_WINDOW_1, True))  # listed: a Window is needed
    assert rejected.value.key == "setting_unsupported"


async def test_switching_a_window_off(fake: FakeWinet, source: WinetSource) -> None:
    wanted = window(time(1), time(5, 30))
    await source.async_write_setting(change(Setting.CHARGE_WINDOW_1, wanted))
    off = window(time(1), time(5, 30), enabled=False)
    moved = window(time(2), time(5, 30), enabled=False)
    with pytest.raises(CommandRejected) as rejected:
        await source.async_write_setting(change(Setting.CHARGE_WINDOW_1, moved))
    assert rejected.value.key == "winet_forced_charge_off"
    await source.async_write_setting(change(Setting.CHARGE_WINDOW_1, off))
    assert [item["param_addr"] for item in fake.param_requests[-1]["list"]] == [33208]
    assert len(fake.param_requests) == 2
    settings = source.reported_settings()
    # Hidden now; shown as last listed, both off (one switch).
    assert settings.windows[Setting.CHARGE_WINDOW_1] == off
    assert settings.windows[Setting.CHARGE_WINDOW_2].enabled is False


@pytest.mark.parametrize(
    ("request_", "key"),
    [
        (change(Setting.EXPORT_LIMIT, 10001), "setting_out_of_range"),
        (change(Setting.EXPORT_LIMIT, 500), "winet_export_limit_off"),
        (change(Setting.EXPORT_LIMIT_ENABLED, 1.0), "setting_unsupported"),
        (change(Setting.RESERVE_SOC, 20), "setting_unsupported"),
        (change(Setting.DISCHARGE_WINDOW_1, window(time(1), time(2))), "setting_unsupported"),
        (change(Setting.CHARGE_WINDOW_2, window(time(5), time(4))), "window_end_before_start"),
        (change(Setting.CHARGE_LIMIT_SOC, 80), "winet_forced_charge_off"),
    ],
)
async def test_invalid_is_rejected_with_nothing_sent(
    fake: FakeWinet, source: WinetSource, request_: SettingChange, key: str
) -> None:
    with pytest.raises(CommandRejected) as rejected:
        await source.async_write_setting(request_)
    assert rejected.value.key == key
    assert fake.param_requests == []


async def test_refused_write_fails_and_shows_the_device_value(
    fake: FakeWinet, source: WinetSource
) -> None:
    fake.faults.param_reject = 1
    with pytest.raises(CommandFailed) as failed:
        await source.async_write_setting(change(Setting.EXPORT_LIMIT_ENABLED, True))
    assert failed.value.key == "setting_refused"
    assert source.reported_settings().export_limit_enabled is False
    fake.faults.param_set_failed = 1
    with pytest.raises(CommandFailed) as failed:
        await source.async_write_setting(change(Setting.EXPORT_LIMIT_ENABLED, True))
    assert "391" in failed.value.placeholders["detail"]
    assert fake.param_writes[31221] == 2


async def test_ignored_write_fails(fake: FakeWinet, source: WinetSource) -> None:
    fake.faults.param_ignore = 1
    with pytest.raises(CommandFailed) as failed:
        await source.async_write_setting(change(Setting.EXPORT_LIMIT_ENABLED, True))
    assert failed.value.key == "setting_not_applied"
    assert failed.value.placeholders["setting"] == "export_limit_enabled"
    assert source.reported_settings().export_limit_enabled is False


async def test_unreadable_settings_are_retried_soon(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    fake.faults.getparam_failed = 1
    source = WinetSource("127.0.0.1", client=make_client(fake))
    snapshot = await source.async_poll(NOW)
    assert snapshot.metrics  # the poll itself is fine
    assert source.settings_spec.windows == frozenset()
    await source.async_poll(NOW + SETTINGS_RETRY / 2)
    assert source.settings_spec.windows == frozenset()
    await source.async_poll(NOW + SETTINGS_RETRY)
    assert source.settings_spec.export_limit_switch


async def test_expired_token_on_read_logs_in_again(fake: FakeWinet, source: WinetSource) -> None:
    fake.expire_tokens()
    await source.async_write_setting(change(Setting.EXPORT_LIMIT_ENABLED, True))
    assert fake.param_value(1, 31221) == "170"


async def test_each_of_two_hybrids_keeps_its_own(fake: FakeWinet, make_client: MakeClient) -> None:
    second = dict(fake.devices[0], dev_id=3, dev_sn="SECOND", id=3)
    fake.add_device(second, load_fixture("sh10rt")["data"]["1"])
    source = WinetSource("127.0.0.1", client=make_client(fake))
    await source.async_poll(NOW)
    assert isinstance(source, ConfiguresSeveralBatteries)
    assert fake.http_requests[GETPARAM] == 4  # both groups of each hybrid
    first_battery, second_battery = source.settings_parts
    # The system keeps none of its own: a change to it could go to either.
    assert source.settings_spec.ranges == {}
    assert source.reported_settings().windows == {}
    with pytest.raises(CommandRejected) as rejected:
        await source.async_write_setting(change(Setting.EXPORT_LIMIT_ENABLED, True))
    assert rejected.value.key == "dispatch_ambiguous"
    assert fake.http_requests[GETPARAM] == 4  # refused before anything is read or written
    assert source.settings_spec_of(second_battery).export_limit_switch
    # One inverter's change goes to that inverter, and only its groups are read back.
    on = SettingChange(setting=Setting.EXPORT_LIMIT_ENABLED, value=True, battery=second_battery)
    await source.async_write_setting(on)
    assert (fake.param_value(3, 31221), fake.param_value(1, 31221)) == ("170", "85")
    assert fake.device_param_writes == {3: {31221: 1}}
    assert fake.http_requests[GETPARAM] == 6
    assert source.reported_settings_of(second_battery).export_limit_enabled is True
    assert source.reported_settings_of(first_battery).export_limit_enabled is False
    # What the app changes on the first shows on the first only, at the next read.
    fake.set_param(1, 31221, "170")
    fake.set_param(3, 31221, "85")
    await source.async_poll(NOW + SETTINGS_REFRESH)
    assert source.reported_settings_of(first_battery).export_limit_enabled is True
    assert source.reported_settings_of(second_battery).export_limit_enabled is False
    with pytest.raises(CommandRejected) as unknown:
        await source.async_write_setting(
            SettingChange(setting=Setting.EXPORT_LIMIT, value=1000, battery=PartKey("nope"))
        )
    assert unknown.value.key == "unknown_battery"


async def test_a_hybrid_listed_later_is_read_at_once(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    source = WinetSource("127.0.0.1", client=make_client(fake))
    await source.async_poll(NOW)
    assert fake.http_requests[GETPARAM] == 2
    second = dict(fake.devices[0], dev_id=3, dev_sn="SECOND", id=3)
    fake.add_device(second, load_fixture("sh10rt")["data"]["1"])
    step = 0
    while not source.settings_parts:  # the device list is read again every few polls
        step += 1
        assert step < 40
        await source.async_poll(NOW + timedelta(seconds=10 * step))
    # Long before SETTINGS_REFRESH: read at the poll that lists it.
    assert NOW + timedelta(seconds=10 * step) < NOW + SETTINGS_REFRESH
    assert source.settings_spec_of(source.settings_parts[1]).export_limit_switch
    before = fake.http_requests[GETPARAM]
    await source.async_poll(NOW + timedelta(seconds=10 * (step + 1)))
    assert fake.http_requests[GETPARAM] == before  # then on the usual schedule


async def test_fake_checks_ranges_and_hides_children(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(fake)
    await client.async_connect()
    inverter = client.devices[0]
    hidden = {param.addr for param in await client.async_read_params(inverter, "9")}
    # Forced Charging off: windows hidden.
    assert 33208 in hidden
    assert 33210 not in hidden
    hour = Parameters().param(33210, "25")  # range [0~23]
    with pytest.raises(ParamsRefused):
        await client.async_write_params(inverter, (hour,), param_type="9")
    assert fake.param_value(1, 33210) == "4"
    assert fake.param_writes[33210] == 1

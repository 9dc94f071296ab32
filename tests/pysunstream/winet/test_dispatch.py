"""Battery dispatch over WiNet: frames byte for byte, the session, the fake, the source."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import json
from typing import Any

import pytest

from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.errors import (
    CommandFailed,
    CommandRejected,
    SourceUnavailable,
)
from custom_components.sunstream.pysunstream.model import BatteryMode, Metric
from custom_components.sunstream.pysunstream.winet import WinetClient, WinetSource, messages
from custom_components.sunstream.pysunstream.winet.device_types import DeviceInfo
from custom_components.sunstream.pysunstream.winet.dispatch import (
    battery_capacity_kwh,
    battery_mode,
    check_command,
    command_finished,
    command_params,
    dispatch_target,
    format_power,
    rated_power_w,
)
from custom_components.sunstream.pysunstream.winet.errors import ParamsRefused
from custom_components.sunstream.pysunstream.winet.params import ENERGY_MANAGEMENT
from custom_components.sunstream.pysunstream.winet.session import (
    Reconnect,
    State,
    WriteFailed,
    Written,
)
from custom_components.sunstream.pysunstream.winet.source import SETTINGS_REFRESH, SETTINGS_RETRY
from sunstream_fakes.winet_fake import FakeWinet, load_fixture

from .test_session import logged_in, sent

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
MakeClient = Callable[..., WinetClient]
SH10RT = DeviceInfo(dev_id=1, dev_type=35, serial="A1", model="SH10RT", dev_code=3599)
SG10RT = DeviceInfo(dev_id=1, dev_type=21, serial="B1", model="SG10RT", dev_code=1234)
SBR096 = DeviceInfo(dev_id=2, dev_type=44, serial="C1", model="SBR096", dev_code=8424)


def charge(power: float = 3000, soc: float = 90, minutes: float = 60, **kw: Any) -> Command:
    return Command(
        kind=CommandKind.CHARGE,
        issued_at=kw.pop("at", NOW),
        power_w=power,
        target_soc=soc,
        duration=timedelta(minutes=minutes),
    )


def discharge(power: float = 2500, soc: float = 20, minutes: float = 30) -> Command:
    return Command(
        kind=CommandKind.DISCHARGE,
        issued_at=NOW,
        power_w=power,
        target_soc=soc,
        duration=timedelta(minutes=minutes),
    )


STOP = Command(kind=CommandKind.STOP, issued_at=NOW)


# -- encoding: pure functions, exact frames -----------------------------------------


def test_charge_frame_is_exact() -> None:
    frame = messages.param_request(
        "T-login",
        SH10RT,
        command_params(charge(3000)),
        1712099568285,
        param_type=ENERGY_MANAGEMENT,
    )
    assert frame == (
        '{"lang":"en_us","token":"T-login","time123456":1712099568285,"service":"param",'
        '"dev_code":"3599","dev_type":"35","devid_array":["1"],"type":"9","count":"1",'
        '"list":['
        '{"accuracy":0,"param_addr":33146,"param_id":1,"param_name":"Energy Management Mode",'
        '"param_type":1,"param_value":"2"},'
        '{"accuracy":0,"param_addr":33147,"param_id":2,'
        '"param_name":"Charging/Discharging Command","param_type":1,"param_value":"170"},'
        '{"accuracy":2,"param_addr":33148,"param_id":3,'
        '"param_name":"Charging/Discharging Power","param_type":2,"param_value":"3.00"}],'
        '"current_pack_num":1,"pack_num_total":1,"park_serial":1712099568285}'
    )


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (charge(3000), [(33146, "2"), (33147, "170"), (33148, "3.00")]),
        (discharge(6666), [(33146, "2"), (33147, "187"), (33148, "6.67")]),
        (discharge(1004), [(33146, "2"), (33147, "187"), (33148, "1.00")]),
        # Stop: back to self-consumption, command register to stop; no power.
        (STOP, [(33146, "0"), (33147, "204")]),
    ],
)
def test_command_params(command: Command, expected: list[tuple[int, str]]) -> None:
    assert [(p.addr, p.value) for p in command_params(command)] == expected


def test_a_device_without_dev_code_cannot_be_addressed() -> None:
    with pytest.raises(ValueError, match="dev_code"):
        messages.param_request(
            "t",
            DeviceInfo(dev_id=1, dev_type=35, serial="", model="SH5.0RS"),
            (),
            0,
            param_type="9",
        )


def test_format_power() -> None:
    assert format_power(0) == "0.00"
    assert format_power(4) == "0.00"
    assert format_power(6) == "0.01"  # 10 W steps
    assert format_power(12345) == "12.35"


def test_param_results_follow_opt_rule() -> None:
    results = messages.parse_param_results(
        {
            "list": [
                {"param_id": 1, "param_pid": 1, "param_name": "a", "result": 0},
                {"param_id": 2, "param_pid": -1, "param_name": "b", "result": 5},
                {"param_id": "3", "param_pid": "3", "param_name": "c", "result": "1"},
            ]
        }
    )
    assert [r.failed for r in results] == [False, False, True]
    assert messages.parse_param_results({}) == ()
    for bad in ({"list": {}}, {"list": [1]}, {"list": [{"param_pid": None, "result": 0}]}):
        with pytest.raises(messages.WinetProtocolError):
            messages.parse_param_results(bad)


def test_model_names() -> None:
    assert rated_power_w("SH10RT") == 10_000
    assert rated_power_w("SH5.0RS") == 5_000
    assert rated_power_w(" sh8.0rt-v112 ") == 8_000
    assert rated_power_w("SG10RT") is None
    assert rated_power_w("SH0RS") is None
    assert battery_capacity_kwh("SBR096") == 9.6
    assert battery_capacity_kwh("SBR128") == 12.8
    assert battery_capacity_kwh("SBR") is None


def test_target_selection() -> None:
    assert dispatch_target([SBR096, SH10RT]) is SH10RT
    with pytest.raises(CommandRejected) as rejected:
        dispatch_target([SG10RT])
    assert (rejected.value.key, rejected.value.placeholders) == (
        "not_supported",
        {"model": "SG10RT"},
    )
    with pytest.raises(CommandRejected) as rejected:
        dispatch_target([SH10RT, DeviceInfo(dev_id=3, dev_type=35, serial="x", model="SH5.0RS")])
    assert rejected.value.key == "dispatch_ambiguous"
    with pytest.raises(CommandRejected) as rejected:
        dispatch_target([DeviceInfo(dev_id=1, dev_type=35, serial="x", model="SH5.0RS")])
    assert rejected.value.key == "not_supported"


def test_target_of_a_named_battery() -> None:
    sh5 = DeviceInfo(dev_id=3, dev_type=35, serial="D1", model="SH5.0RS", dev_code=3343)
    both = [SH10RT, SBR096, sh5]
    assert dispatch_target(both, sh5.battery_key) is sh5
    assert dispatch_target(both, SH10RT.battery_key) is SH10RT
    assert sh5.battery_key == "winet_D1_battery"
    with pytest.raises(CommandRejected) as rejected:
        dispatch_target(both, SBR096.part_key)  # a stack: whose is not known
    assert (rejected.value.key, rejected.value.placeholders) == (
        "unknown_battery",
        {"battery": "winet_C1"},
    )
    # With one hybrid, every battery of the gateway is its own.
    assert dispatch_target([SH10RT, SBR096], SBR096.part_key) is SH10RT


@pytest.mark.parametrize(
    ("command", "soc", "limit", "key"),
    [
        (charge(3000), None, 10_000.0, "no_battery"),
        (charge(0), 50.0, 10_000.0, "power_out_of_range"),
        (charge(4), 50.0, 10_000.0, "power_out_of_range"),  # rounds to 0.00 kW
        (charge(10_001), 50.0, 10_000.0, "power_out_of_range"),
        (charge(float("nan")), 50.0, None, "power_out_of_range"),
        (charge(3000, soc=101), 50.0, 10_000.0, "soc_out_of_range"),
        (charge(3000, minutes=0.5), 50.0, 10_000.0, "duration_out_of_range"),
        (charge(3000, minutes=24 * 60 + 1), 50.0, 10_000.0, "duration_out_of_range"),
        (charge(50_000), 50.0, None, None),  # no rating known: the inverter clamps
        (STOP, None, None, None),  # a stop never depends on a reading
    ],
)
def test_check_command(command: Command, soc: float | None, limit: float | None, key: str) -> None:
    if key is None:
        check_command(command, soc, limit)
        return
    with pytest.raises(CommandRejected) as rejected:
        check_command(command, soc, limit)
    assert rejected.value.key == key


def test_command_finished() -> None:
    command = charge(soc=80, minutes=60)
    assert not command_finished(command, 79.9, NOW + timedelta(minutes=59))
    assert command_finished(command, 80.0, NOW)
    assert command_finished(command, 10.0, NOW + timedelta(minutes=60))
    assert not command_finished(command, None, NOW)
    assert command_finished(discharge(soc=20), 20.0, NOW)
    assert not command_finished(discharge(soc=20), 20.1, NOW)


# -- the session ---------------------------------------------------------------------


def test_session_write_and_reply(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt)
    device = session.devices[0] if session.devices else SH10RT
    request = sent(session.write_params(device, command_params(charge()), param_type="9"))
    assert (request["service"], request["token"], request["dev_code"]) == (
        "param",
        "T-login",
        "3599",
    )
    assert session.state is State.WRITING
    # A pushed stray in between is set aside; the reply ends the write.
    assert session.receive('{"result_code":1,"result_data":{"service":"real"}}') is None
    reply = json.dumps(
        {
            "result_code": 1,
            "result_msg": "success",
            "result_data": {
                "service": "param",
                "list": [
                    {"param_id": 1, "param_pid": 1, "param_name": "m", "result": 0},
                    {"param_id": 2, "param_pid": 2, "param_name": "c", "result": 3},
                ],
            },
        }
    )
    action = session.receive(reply)
    assert isinstance(action, Written)
    assert [f.name for f in action.failures] == ["c"]
    assert session.state is State.READY


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            '{"result_code":391,"result_msg":"I18N_COMMON_SET_FAILED","result_data":{"service":"param"}}',
            WriteFailed(391, "I18N_COMMON_SET_FAILED"),
        ),
        # An error without service answers the outstanding request.
        ('{"result_code":391,"result_msg":"x"}', WriteFailed(391, "x")),
        (
            '{"result_code":1,"result_msg":"success","result_data":{"service":"param","list":7}}',
            WriteFailed(1, "invalid reply: param list is not a list"),
        ),
        (
            '{"result_code":106,"result_msg":"","result_data":{"service":"param"}}',
            Reconnect("token_expired", "result_code 106", backoff=False),
        ),
    ],
)
def test_session_write_failures(sh10rt: dict[str, Any], frame: str, expected: object) -> None:
    session = logged_in(sh10rt)
    session.write_params(SH10RT, command_params(STOP), param_type="9")
    assert session.receive(frame) == expected


def test_write_only_between_cycles(sh10rt: dict[str, Any]) -> None:
    session = logged_in(sh10rt)
    session.start_cycle()
    with pytest.raises(RuntimeError):
        session.write_params(SH10RT, command_params(STOP), param_type="9")


# -- the fake gateway applies what it is told ------------------------------------------


async def test_client_write_reaches_the_fake(fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(fake)
    await client.async_connect()
    results = await client.async_write_params(
        client.devices[0], command_params(discharge(2500)), param_type="9"
    )
    assert [r.result for r in results] == [0, 0, 0]
    assert (fake.ems[1].mode, fake.ems[1].command, fake.ems[1].power_kw) == (2, 0xBB, 2.5)
    assert fake.param_requests[-1]["dev_code"] == "3599"
    assert client.metrics.writes == 1


async def test_fake_rejects_a_wrong_dev_code(fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(fake)
    await client.async_connect()
    wrong = DeviceInfo(dev_id=1, dev_type=35, serial="", model="SH10RT", dev_code=3344)
    with pytest.raises(ParamsRefused) as refused:
        await client.async_write_params(wrong, command_params(STOP), param_type="9")
    assert refused.value.key == "dispatch_refused"
    assert "391" in refused.value.placeholders["detail"]
    assert fake.ems[1].command == 0xCC  # untouched


async def test_write_after_token_expiry_is_sent_again(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(fake)
    await client.async_connect()
    fake.expire_tokens()  # the next request with the current token gets 106
    await client.async_write_params(client.devices[0], command_params(charge()), param_type="9")
    assert fake.ems[1].mode == 2
    assert client.metrics.token_expiries == 1
    assert len(fake.param_requests) == 1  # the refused one never reached the handler


async def test_write_that_times_out_is_not_repeated(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(fake, request_timeout=0.2)
    await client.async_connect()
    fake.faults.stall = 1
    with pytest.raises(SourceUnavailable) as unavailable:
        await client.async_write_params(client.devices[0], command_params(STOP), param_type="9")
    assert unavailable.value.reason == "timeout"
    assert fake.requests["param"] == 1


# -- the source: commands, limits kept on our side -------------------------------------


async def test_charge_shows_on_the_next_poll(fake: FakeWinet, source: WinetSource) -> None:
    before = await source.async_poll(NOW)
    assert before.metrics[Metric.BATTERY_POWER] == -1220.0  # the fixture charges from PV
    command = charge(3000, soc=90)
    await source.async_dispatch(command)
    assert source.held() == command
    after = await source.async_poll(NOW + timedelta(seconds=10))
    assert after.metrics[Metric.BATTERY_POWER] == -3000.0
    await source.async_dispatch(discharge(2500, soc=20))
    after = await source.async_poll(NOW + timedelta(seconds=20))
    assert after.metrics[Metric.BATTERY_POWER] == 2500.0
    await source.async_dispatch(STOP)
    assert source.held() is None
    after = await source.async_poll(NOW + timedelta(seconds=30))
    assert after.metrics[Metric.BATTERY_POWER] == -1220.0  # self-consumption again
    assert [r["list"][0]["param_value"] for r in fake.param_requests] == ["2", "2", "0"]


async def test_stop_at_target_soc(fake: FakeWinet, source: WinetSource) -> None:
    await source.async_dispatch(charge(3000, soc=70))
    fake.set_value(1, "real_battery", "I18N_COMMON_BATTERY_SOC", "69.9")
    await source.async_poll(NOW + timedelta(minutes=5))
    assert fake.ems[1].mode == 2
    fake.set_value(1, "real_battery", "I18N_COMMON_BATTERY_SOC", "70.0")
    await source.async_poll(NOW + timedelta(minutes=10))
    assert (fake.ems[1].mode, fake.ems[1].command) == (0, 0xCC)
    assert source.held() is None
    assert len(fake.param_requests) == 2  # the charge, then one stop


async def test_stop_when_the_duration_is_over(fake: FakeWinet, source: WinetSource) -> None:
    await source.async_dispatch(discharge(2000, soc=10, minutes=15))
    await source.async_poll(NOW + timedelta(minutes=14, seconds=59))
    assert fake.ems[1].mode == 2
    await source.async_poll(NOW + timedelta(minutes=15))
    assert fake.ems[1].mode == 0
    assert source.held() is None


async def test_target_already_reached_writes_nothing(fake: FakeWinet, source: WinetSource) -> None:
    await source.async_dispatch(charge(3000, soc=50))  # SOC is 63 %
    assert fake.param_requests == []
    assert source.held() is None
    # ...except the stop of a command still held.
    await source.async_dispatch(discharge(1000, soc=20))
    await source.async_dispatch(charge(3000, soc=50))
    assert [r["list"][0]["param_value"] for r in fake.param_requests] == ["2", "0"]
    assert source.held() is None


async def test_a_refused_stop_is_tried_again(fake: FakeWinet, source: WinetSource) -> None:
    await source.async_dispatch(charge(3000, soc=70, minutes=5))
    fake.faults.param_reject = 1
    await source.async_poll(NOW + timedelta(minutes=6))  # the stop is refused: no raise
    assert source.held() is not None
    assert fake.ems[1].mode == 2
    await source.async_poll(NOW + timedelta(minutes=7))
    assert fake.ems[1].mode == 0
    assert source.held() is None


async def test_refusals_are_the_systems_fault(fake: FakeWinet, source: WinetSource) -> None:
    fake.faults.param_reject = 1
    with pytest.raises(ParamsRefused) as refused:
        await source.async_dispatch(charge())
    assert isinstance(refused.value, CommandFailed)
    assert "Energy Management Mode: 1" in refused.value.placeholders["detail"]
    assert source.held() is None
    fake.faults.param_set_failed = 1
    with pytest.raises(ParamsRefused):
        await source.async_dispatch(charge())


async def test_limits_from_the_models(source: WinetSource) -> None:
    limits = source.battery_limits
    assert limits is not None
    assert (limits.capacity_kwh, limits.max_charge_w) == (9.6, 10_000)
    with pytest.raises(CommandRejected) as rejected:
        await source.async_dispatch(charge(10_010))
    assert rejected.value.placeholders == {"power": "10010", "max_power": "10000"}


async def test_command_survives_a_restart(fake: FakeWinet, make_client: MakeClient) -> None:
    first = WinetSource("127.0.0.1", client=make_client(fake))
    await first.async_poll(NOW)
    await first.async_dispatch(charge(3000, soc=90, minutes=30))
    saved = json.loads(json.dumps(first.as_dict()))
    await first.async_close()
    second = WinetSource("127.0.0.1", client=make_client(fake))
    second.restore(saved)
    assert second.held() == first.held() is not None
    await second.async_poll(NOW + timedelta(hours=2))  # down past the end: ended at once
    assert fake.ems[1].mode == 0
    assert second.as_dict() == {}
    second.restore({})
    assert second.held() is None


async def test_a_command_saved_before_several_hybrids_still_ends(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    source = WinetSource("127.0.0.1", client=make_client(fake))
    # What a version holding one command saved.
    source.restore({"command": charge(3000, soc=90, minutes=30).as_dict()})
    assert source.held() is not None
    fake.ems[1].mode, fake.ems[1].command = 2, 0xAA
    await source.async_poll(NOW + timedelta(hours=1))
    assert (fake.ems[1].mode, fake.ems[1].command) == (0, 0xCC)
    assert source.as_dict() == {}


async def test_dispatch_before_any_poll_reads_first(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    source = WinetSource("127.0.0.1", client=make_client(fake))
    await source.async_identify()
    await source.async_dispatch(charge())
    assert fake.requests["real_battery"] == 1
    assert fake.ems[1].mode == 2


async def test_offline_inverter(fake: FakeWinet, make_client: MakeClient) -> None:
    source = WinetSource("127.0.0.1", client=make_client(fake, devicelist_every=1))
    await source.async_poll(NOW)
    fake.set_link(1, 0)
    await source.async_poll(NOW)
    with pytest.raises(SourceUnavailable) as unavailable:
        await source.async_dispatch(STOP)
    assert unavailable.value.reason == "offline"
    assert fake.param_requests == []


async def test_pv_only_inverter_is_not_supported(
    make_client: MakeClient, socket_enabled: None
) -> None:
    fixture = load_fixture("sh5_0rs")
    fixture["devices"] = [dict(fixture["devices"][0], dev_type=21, dev_model="SG5.0RS")]
    fixture["data"] = {"1": {k: fixture["data"]["1"][k] for k in ("real", "direct")}}
    async with FakeWinet(fixture) as fake:
        source = WinetSource("127.0.0.1", client=make_client(fake))
        await source.async_poll(NOW)
        assert source.battery_limits is None
        for command in (charge(), STOP):
            with pytest.raises(CommandRejected) as rejected:
                await source.async_dispatch(command)
            assert rejected.value.placeholders == {"model": "SG5.0RS"}
        assert fake.requests["param"] == 0
        # A held command that can no longer be ended here is let go, not retried forever.
        source.restore({"command": charge().as_dict()})
        await source.async_poll(NOW + timedelta(hours=2))
        assert source.held() is None
        assert fake.requests["param"] == 0
        await source.async_close()


async def test_hybrid_without_battery_data(make_client: MakeClient, socket_enabled: None) -> None:
    async with FakeWinet("sh10rs") as fake:
        fake.set_value(1, "real_battery", "I18N_COMMON_BATTERY_SOC", "--")
        source = WinetSource("127.0.0.1", client=make_client(fake))
        await source.async_poll(NOW)
        with pytest.raises(CommandRejected) as rejected:
            await source.async_dispatch(charge())
        assert rejected.value.key == "no_battery"
        await source.async_dispatch(STOP)  # still possible
        assert fake.ems[1].command == 0xCC
        await source.async_close()


@pytest.mark.parametrize(
    ("ems_mode", "command", "mode"),
    [
        (0, None, BatteryMode.SELF_CONSUMPTION),  # the command is hidden in self-consumption
        (0, 0xAA, BatteryMode.SELF_CONSUMPTION),  # the command only counts when forced
        (2, 0xAA, BatteryMode.FORCED_CHARGE),
        (2, 0xBB, BatteryMode.FORCED_DISCHARGE),
        (2, 0xCC, BatteryMode.IDLE),
        (2, None, None),
        (3, 0xAA, None),  # another energy-management mode: not ours to name
        (3, None, None),  # external energy scheduling: not a mode Sunstream chooses
        (None, None, None),  # not listed yet
    ],
)
def test_battery_mode_from_the_listed_parameters(
    ems_mode: float | None, command: float | None, mode: BatteryMode | None
) -> None:
    assert battery_mode(ems_mode, command) is mode


async def test_the_mode_is_read_back_after_a_command(fake: FakeWinet, source: WinetSource) -> None:
    """Listed by the inverter after the write and at each settings read; not what was sent."""
    await source.async_poll(NOW)
    await source.async_dispatch(charge(2000, soc=100))
    snapshot = await source.async_poll(NOW + timedelta(seconds=10))
    assert snapshot.metrics[Metric.BATTERY_MODE] == BatteryMode.FORCED_CHARGE
    fake.ems[1].mode = 0  # the Sungrow app returns it to self-consumption
    snapshot = await source.async_poll(NOW + timedelta(seconds=20))
    assert snapshot.metrics[Metric.BATTERY_MODE] == BatteryMode.FORCED_CHARGE  # not read yet
    snapshot = await source.async_poll(NOW + timedelta(seconds=10) + SETTINGS_REFRESH)
    assert snapshot.metrics[Metric.BATTERY_MODE] == BatteryMode.SELF_CONSUMPTION


async def test_a_mode_not_read_back_after_a_command_is_unknown(
    fake: FakeWinet, source: WinetSource
) -> None:
    """Not the mode from before the command: that would show what the inverter no longer does."""
    snapshot = await source.async_poll(NOW)
    assert snapshot.metrics[Metric.BATTERY_MODE] == BatteryMode.SELF_CONSUMPTION
    await source.async_dispatch(charge(2000, soc=100))
    fake.faults.getparam_failed = 10
    snapshot = await source.async_poll(NOW + timedelta(seconds=10))
    assert Metric.BATTERY_MODE not in snapshot.metrics
    fake.faults.getparam_failed = 0
    snapshot = await source.async_poll(NOW + timedelta(seconds=10) + SETTINGS_RETRY)
    assert snapshot.metrics[Metric.BATTERY_MODE] == BatteryMode.FORCED_CHARGE

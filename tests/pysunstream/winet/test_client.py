"""The client and source end to end against the fake gateway, fault by fault."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
import json

import pytest

from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.errors import SourceUnavailable
from custom_components.sunstream.pysunstream.model import DeviceKind, Metric
from custom_components.sunstream.pysunstream.winet import (
    AuthenticationFailed,
    WinetClient,
    WinetSource,
)
from sunstream_fakes.winet_fake import BINARY_NOISE, FakeWinet, load_fixture

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
MakeClient = Callable[..., WinetClient]


async def test_source_happy_path(fake: FakeWinet, make_client: MakeClient) -> None:
    source = WinetSource("127.0.0.1", client=make_client(fake))
    assert source.source_type == "winet"
    assert source.battery_limits is None
    description = await source.async_identify()
    assert description.serial == "B2302107654"
    assert description.identity.kind is DeviceKind.GATEWAY
    assert [d.kind for d in description.devices] == [DeviceKind.INVERTER, DeviceKind.BATTERY]
    assert not description.secure
    snap = await source.async_poll(NOW)
    assert snap.metrics[Metric.PV_POWER] == 4520.0
    assert snap.metrics[Metric.BATTERY_SOC] == 63.0
    assert snap.identity == description.identity
    assert [d.online for d in snap.devices] == [True, True]
    assert source.i18n is not None
    assert source.i18n.label("I18N_COMMON_BATTERY_SOC") == "Battery Level (SOC)"
    # One session across polls: no new connection, no new login.
    await source.async_poll(NOW)
    assert fake.connection_count == 1
    assert fake.logins == 1
    metrics = source.client.metrics
    assert (metrics.attempts, metrics.successes, metrics.failures) == (1, 1, 0)
    assert metrics.messages_sent == metrics.messages_received == 3 + 4 + 4
    assert source.diagnostics()["metrics"]["messages_sent"] == 11
    # A stop is written to the hybrid inverter (dispatch is tested in test_dispatch.py).
    await source.async_dispatch(Command(kind=CommandKind.STOP, issued_at=NOW))
    assert (fake.ems[1].mode, fake.ems[1].command) == (0, 0xCC)
    assert source.as_dict() == {}
    await source.async_close()
    assert not source.client.connected


async def test_token_expiry_recovers_within_the_poll(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(fake)
    await client.async_poll()
    fake.faults.token_expiry_after = 6
    data = await client.async_poll()
    assert len(data.devices[0].points) == 46 + 15
    assert data.devices[0].failed == ()
    assert client.metrics.token_expiries == 1
    assert client.metrics.reconnections == 1
    assert fake.logins == 2


async def test_tokens_dying_mid_cycle_cost_one_request(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    """Every token answers 3 requests: each poll resumes where the 106 struck."""
    client = make_client(fake)
    await client.async_poll()
    fake.faults.token_expiry_after = 3
    for _ in range(3):
        data = await client.async_poll()
        assert [len(d.points) for d in data.devices] == [46 + 15, 8]
        assert data.devices[0].failed == ()
    # Not one data request was asked twice except the ones refused with 106.
    assert (
        fake.requests["real"] + fake.requests["real_battery"] + fake.requests["direct"]
        == 4 * 4 + client.metrics.token_expiries
    )


async def test_idle_drop_is_transparent(fake: FakeWinet, make_client: MakeClient) -> None:
    fake.faults.idle_timeout = 0.1
    client = make_client(fake)
    await client.async_poll()
    await asyncio.sleep(0.3)
    await client.async_poll()
    assert fake.connection_count == 2
    assert client.metrics.reconnections == 1


async def test_user_limit_backs_off_then_recovers(fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(fake)
    await client.async_poll()
    # Someone else logs in (the web UI): the gateway pushes "normal user limit".
    fake.faults.notice_after = sum(fake.requests.values()) + 1
    with pytest.raises(SourceUnavailable) as unavailable:
        await client.async_poll()
    assert unavailable.value.reason == "user_limit"
    # During the back-off the client does not touch the network.
    connections = fake.connection_count
    with pytest.raises(SourceUnavailable) as waiting:
        await client.async_poll()
    assert waiting.value.reason == "backoff"
    assert fake.connection_count == connections
    await asyncio.sleep(0.06)
    await client.async_poll()
    assert client.metrics.last_error == "user_limit"


async def test_second_login_kicks_the_first_session(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    first = make_client(fake)
    await first.async_poll()
    second = make_client(fake)
    await second.async_poll()
    await asyncio.sleep(0.05)
    with pytest.raises(SourceUnavailable) as unavailable:
        await first.async_poll()
    assert unavailable.value.reason == "user_limit"


async def test_read_failed_is_retried(fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(fake)
    fake.faults.read_failed = 2
    data = await client.async_poll()
    assert data.devices[0].failed == ()
    assert fake.requests["real"] == 2 + 2  # inverter real asked three times, battery once


async def test_read_failed_beyond_retries_skips_that_request(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(fake, read_retries=1)
    fake.faults.read_failed = 2
    data = await client.async_poll()
    assert data.devices[0].failed == ("real",)
    assert len(data.devices[0].points) == 15


async def test_timeout_then_recovery(fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(fake, request_timeout=0.2)
    await client.async_poll()
    fake.faults.stall = 1
    with pytest.raises(SourceUnavailable) as unavailable:
        await client.async_poll()
    assert unavailable.value.reason == "timeout"
    assert client.metrics.timeouts == 1
    await asyncio.sleep(0.06)
    await client.async_poll()
    assert client.connected


async def test_slow_replies_within_the_timeout(fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(fake, request_timeout=0.5)
    fake.faults.latency = 0.02
    await client.async_poll()
    assert client.metrics.timeouts == 0


async def test_watchdog_reconnects_after_five_failed_cycles(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(fake, read_retries=0)
    await client.async_poll()
    fake.faults.read_failed = 10_000
    for _ in range(5):
        with pytest.raises(SourceUnavailable) as unavailable:
            await client.async_poll()
        assert unavailable.value.reason == "read_failed"
    assert client.metrics.watchdog_trips == 1
    assert fake.connection_count == 1  # the failed cycles kept the socket
    fake.faults.read_failed = 0
    await client.async_poll()
    assert fake.connection_count == 2  # full reconnect
    assert fake.http_requests["/i18n/en_US.properties"] == 2  # transport re-detected


async def test_unexpected_messages_never_break_a_poll(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(fake)
    fake.faults.garbage = 3
    fake.faults.inject = [
        json.dumps(
            {"result_code": 1, "result_msg": "success", "result_data": {"service": "statistics"}}
        ),
        json.dumps({"result_code": 7, "result_msg": "odd", "result_data": {"service": "notice"}}),
        "[1, 2",
    ]
    data = await client.async_poll()
    assert len(data.devices) == 2
    assert client.metrics.unexpected_messages == 6
    assert client.metrics.reconnections == 0


async def test_internal_error_backs_off(fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(fake)
    await client.async_connect()
    fake.faults.inter_abnormal = 1
    with pytest.raises(SourceUnavailable) as unavailable:
        await client.async_poll()
    assert unavailable.value.reason == "internal_error"
    await asyncio.sleep(0.06)
    await client.async_poll()


async def test_dropped_socket_mid_cycle_reconnects_at_once(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(fake)
    await client.async_connect()
    fake.faults.drop = 1
    data = await client.async_poll()
    assert len(data.devices) == 2
    assert client.metrics.reconnections == 1


async def test_device_list_change_is_picked_up(fake: FakeWinet, make_client: MakeClient) -> None:
    source = WinetSource("127.0.0.1", client=make_client(fake, devicelist_every=1))
    snap = await source.async_poll(NOW)
    assert [d.identity.kind for d in snap.devices] == [DeviceKind.INVERTER, DeviceKind.BATTERY]
    fake.remove_device(2)
    snap = await source.async_poll(NOW)
    assert [d.identity.kind for d in snap.devices] == [DeviceKind.INVERTER]
    extra = load_fixture("sh5_0rs")
    fake.add_device(dict(extra["devices"][0], id=3, dev_id=3), extra["data"]["1"])
    fake.set_link(1, 0)
    snap = await source.async_poll(NOW)
    inverters = [d for d in snap.devices if d.identity.kind is DeviceKind.INVERTER]
    assert [d.identity.model for d in inverters] == ["SH10RT", "SH5.0RS"]
    assert [d.online for d in inverters] == [False, True]
    assert inverters[0].values == {}
    # Two hybrids now: each has a battery part of its own, online as its inverter.
    batteries = [d for d in snap.devices if d.identity.kind is DeviceKind.BATTERY]
    assert [(d.identity.key, d.online) for d in batteries] == [
        (f"{inverters[0].identity.key}_battery", False),
        (f"{inverters[1].identity.key}_battery", True),
    ]
    assert fake.connection_count == 1


async def test_values_change_between_polls(fake: FakeWinet, make_client: MakeClient) -> None:
    source = WinetSource("127.0.0.1", client=make_client(fake))
    await source.async_poll(NOW)
    fake.set_value(1, "real_battery", "I18N_COMMON_BATTERY_SOC", "--")
    fake.set_value(2, "real", "I18N_COMMON_REMAIN_BATTERY_POWER", "--")
    snap = await source.async_poll(NOW)
    assert snap.metrics[Metric.BATTERY_SOC] is None


async def test_login_failure_is_final_until_new_credentials(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(fake, password="wrong")
    with pytest.raises(AuthenticationFailed) as failed:
        await client.async_poll()
    assert failed.value.reason == "auth"
    connections = fake.connection_count
    with pytest.raises(AuthenticationFailed):
        await client.async_poll()
    assert fake.connection_count == connections  # no hammering, no lock-out
    client.set_credentials("admin", "pw8888")
    await client.async_poll()


async def test_upgrade_refused_with_400(fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(fake)
    fake.faults.reject_upgrade = 1
    with pytest.raises(SourceUnavailable) as unavailable:
        await client.async_connect()
    assert unavailable.value.reason == "refused"
    assert "400" in unavailable.value.detail
    await client.async_connect()


async def test_unreachable_gateway(make_client: MakeClient) -> None:
    fake = FakeWinet()
    await fake.start()
    ports = fake.ports
    await fake.stop()
    client = make_client(fake)
    client.ports = ports
    with pytest.raises(SourceUnavailable) as unavailable:
        await client.async_connect()
    assert unavailable.value.reason in {"unreachable", "timeout"}
    assert client.metrics.failures == 1


async def test_old_firmware_without_about_list(
    make_client: MakeClient, socket_enabled: None
) -> None:
    async with FakeWinet("sh10rs") as fake:
        fake.faults.about_available = False
        source = WinetSource("127.0.0.1", client=make_client(fake))
        description = await source.async_identify()
        assert description.serial == "dev-A2411209999"
        assert description.generation == 3
        stored = WinetSource("127.0.0.1", client=make_client(fake), gateway_serial="B2411205555")
        snap = await stored.async_poll(NOW)
        assert snap.identity is not None
        assert snap.identity.serial == "B2411205555"
        await source.async_close()
        await stored.async_close()


async def test_ping_keeps_alive(fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(fake)
    assert not await client.async_ping()
    await client.async_connect()
    assert await client.async_ping()
    assert fake.requests["ping"] == 1


async def test_standalone_fake_starts(socket_enabled: None) -> None:
    import sys

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sunstream_fakes.winet_fake",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert b"fake WiNet (sh10rt) on 127.0.0.1" in line
    finally:
        process.terminate()
        await process.wait()


async def test_binary_frames_are_set_aside_without_dropping_the_link(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    """Binary frames that are no text, before replies and on an idle link: counted, ignored."""
    client = make_client(fake)
    await client.async_poll()
    fake.faults.binary = 3
    data = await client.async_poll()
    assert len(data.devices) == 2
    for connection in list(fake.connections):  # while idle, between polls
        await connection.send(BINARY_NOISE)
    assert await client.async_ping()
    data = await client.async_poll()
    assert data.devices[0].failed == ()
    metrics = client.metrics
    assert metrics.unexpected_messages == 4
    assert (metrics.reconnections, metrics.timeouts, metrics.failures) == (0, 0, 0)
    assert fake.connection_count == 1


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
async def test_replies_in_binary_frames_are_read(
    fake: FakeWinet, make_client: MakeClient, encoding: str
) -> None:
    """A reply is a reply whichever frame carries it, whatever odd bytes are in its units."""
    client = make_client(fake)
    fake.faults.binary_replies = 1000
    fake.faults.binary_encoding = encoding
    source = WinetSource("127.0.0.1", client=client)
    snapshot = await source.async_poll(NOW)
    assert snapshot.metrics[Metric.PV_POWER] == 4520.0
    assert snapshot.metrics[Metric.BATTERY_SOC] == 63.0
    metrics = client.metrics
    assert (metrics.timeouts, metrics.reconnections, metrics.unexpected_messages) == (0, 0, 0)

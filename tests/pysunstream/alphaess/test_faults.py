"""Fault knobs of the fake → the error reason, then recovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import itertools
import time

from pymodbus.constants import ExcCodes
import pytest

from custom_components.sunstream.pysunstream.alphaess import (
    DEFAULT_UNIT,
    Backoff,
    ModbusClient,
    UnitBusy,
)
from custom_components.sunstream.pysunstream.alphaess.errors import (
    CLOSED_AFTER_CONNECT,
    CONNECT_REFUSED,
    SILENT_AFTER_CONNECT,
    ModbusError,
)
from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.errors import SourceUnavailable
from custom_components.sunstream.pysunstream.model import Metric
from sunstream_fakes.alphaess_fake import FakeAlphaEss

from .conftest import MakeSource


def _now() -> datetime:
    return datetime.now(UTC)


async def test_second_client_is_refused_while_one_holds_the_unit(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    holder = make_source()
    await holder.async_poll(_now())
    intruder = make_source()
    with pytest.raises(UnitBusy) as err:
        await intruder.identify()
    assert err.value.reason == "refused"
    assert err.value.signature == CLOSED_AFTER_CONNECT
    assert fake.refusals == 1
    # The holder is not disturbed.
    assert (await holder.async_poll(_now())).get(Metric.BATTERY_SOC) is not None


async def test_silent_refusal_is_not_a_plain_timeout(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    fake.refuse_style = "silent"
    holder = make_source()
    await holder.async_poll(_now())
    intruder = make_source(timeout=0.3)
    with pytest.raises(UnitBusy) as err:
        await intruder.identify()
    assert err.value.reason == "refused"
    assert err.value.signature == SILENT_AFTER_CONNECT


async def test_released_unit_serves_the_next_client(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    holder = make_source()
    await holder.async_poll(_now())
    await holder.async_close()
    await asyncio.sleep(0.05)
    assert await make_source().identify() == "AL7001021060321"


async def test_no_answer_on_a_working_session_is_a_timeout(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = make_source(timeout=0.3)
    await source.async_poll(_now())
    fake.silent = True
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as err:
        await source.async_poll(_now())
    assert err.value.reason == "timeout"
    assert not isinstance(err.value, UnitBusy)
    assert time.monotonic() - started < 1.0
    fake.silent = False
    await asyncio.sleep(0.06)  # first backoff step (50 ms)
    await source.async_poll(_now())
    assert source.client.backoff.failures == 0


async def test_a_unit_that_keeps_hanging_is_not_called_busy(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    """Silence on a new session right after a timeout is the same hang, not a new client."""
    fake.refuse_style = "silent"
    source = make_source(timeout=0.3)
    await source.async_poll(_now())
    fake.silent = True
    reasons = []
    for _ in range(3):
        with pytest.raises(SourceUnavailable) as err:
            await source.async_poll(_now())
        assert not isinstance(err.value, UnitBusy)
        reasons.append(err.value.reason)
        await asyncio.sleep(0.45)  # past the back-off (0.05, 0.1, 0.2 s)
    assert reasons == ["timeout"] * 3
    assert source.client.stats.connects >= 2  # it did reconnect while hanging
    fake.silent = False
    await source.async_poll(_now())
    # Once it answered, silence on a new session means refusal again.
    await source.async_close()
    await asyncio.sleep(0.05)
    holder = make_source()
    await holder.async_poll(_now())
    with pytest.raises(UnitBusy) as busy:
        await source.async_poll(_now())
    assert busy.value.signature == SILENT_AFTER_CONNECT


async def test_link_drop_between_polls_reconnects_at_once(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = make_source()
    await source.async_poll(_now())
    fake.drop_link()
    await asyncio.sleep(0.02)
    snapshot = await source.async_poll(_now())  # the reset was seen: a fresh session
    assert snapshot.get(Metric.GRID_POWER) is not None
    assert fake.connections == 2
    assert source.client.stats.connects == 2


async def test_link_drop_mid_request_is_disconnected(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = make_source(timeout=2.0)
    await source.async_poll(_now())
    fake.delay = 0.2
    asyncio.get_running_loop().call_later(0.1, fake.drop_link)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as err:
        await source.async_poll(_now())
    assert err.value.reason == "disconnected"
    assert time.monotonic() - started < 1.0  # seen at once, not after the 2 s timeout
    fake.delay = 0
    await asyncio.sleep(0.06)
    await source.async_poll(_now())
    assert source.client.stats.connects == 2


async def test_outage_backs_off_then_recovers(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source(backoff=Backoff(base=0.05, cap=0.2, jitter=0.0))
    await source.async_poll(_now())
    await fake.set_link_down(True)
    reasons: list[str] = []
    polls = 0
    started = time.monotonic()
    while time.monotonic() - started < 0.6:
        polls += 1
        with pytest.raises(SourceUnavailable) as err:
            await source.async_poll(_now())
        reasons.append(err.value.reason)
        await asyncio.sleep(0.01)
    attempts = source.client.stats.connect_attempts
    # Waits 0.05, 0.1, 0.2, 0.2 …: a handful of connects for dozens of polls.
    assert polls > 20
    assert 3 <= attempts - 1 <= 6
    # The drop may be seen mid-request ("disconnected", repeated while backing
    # off); then nothing listens: connect refused.
    assert set(reasons) <= {"disconnected", "refused"}
    assert reasons[-1] == "refused"
    await fake.set_link_down(False)
    await asyncio.sleep(0.25)
    snapshot = await source.async_poll(_now())
    assert snapshot.get(Metric.BATTERY_SOC) is not None
    assert source.client.backoff.failures == 0  # reset on success


async def test_connect_refused_signature(make_source: MakeSource, socket_enabled: None) -> None:
    fake = FakeAlphaEss()
    async with fake:
        port = fake.port
    source = make_source(port=port)
    with pytest.raises(UnitBusy) as err:
        await source.identify()
    assert err.value.signature == CONNECT_REFUSED
    # During the backoff no attempt is made and the same reason comes back.
    with pytest.raises(UnitBusy) as again:
        await source.identify()
    assert "next attempt" in again.value.detail
    assert source.client.stats.connect_attempts == 1


async def test_slow_answers_still_work(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    fake.delay = 0.05
    fake.reset_counters()
    started = time.monotonic()
    await source.async_poll(_now())
    assert time.monotonic() - started >= 5 * 0.05
    assert len(fake.requests) == 5


async def test_command_spacing_is_kept(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source(spacing=0.1)
    await source.identify()
    fake.reset_counters()
    await source.async_poll(_now())
    times = [r.at for r in fake.requests]
    assert len(times) == 8  # first poll: 3 slow + 5 real-time
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.099


async def test_missing_register_is_learned(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    fake.illegal = {0x0127}  # battery remaining time: exception 2
    snapshot = await source.async_poll(_now())
    assert snapshot.get(Metric.BATTERY_SOC) == fake.soc  # the rest of the block still read
    assert "battery_remaining_time" not in snapshot.extras
    assert source.as_dict()["unsupported"] == ["battery_remaining_time"]
    fake.reset_counters()
    await source.async_poll(_now())
    assert len(fake.requests) == 6  # the battery block now splits around 0x0127


async def test_missing_register_comes_back_when_it_answers_again(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = make_source(slow_every=3)
    await source.async_poll(_now())  # poll 1 (slow)
    fake.illegal = {0x0127}
    snapshot = await source.async_poll(_now())  # poll 2: learned missing
    assert "battery_remaining_time" not in snapshot.extras
    fake.reset_counters()
    await source.async_poll(_now())  # poll 3: not asked for
    assert 0x0127 not in {r.address for r in fake.requests}
    fake.illegal = set()
    fake.reset_counters()
    snapshot = await source.async_poll(_now())  # poll 4 (slow): asked again, answers
    assert "battery_remaining_time" in snapshot.extras
    assert source.as_dict()["unsupported"] == []
    first = fake.requests[0]
    assert (first.address, first.count) == (0x0127, 1)  # the re-probe, before the blocks
    fake.reset_counters()
    await source.async_poll(_now())
    assert len(fake.requests) == 5  # back to the usual blocks


async def test_register_still_missing_stays_out_of_the_plan(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    source = make_source(slow_every=2)
    await source.async_poll(_now())
    fake.illegal = {0x0127}
    await source.async_poll(_now())  # learned
    fake.reset_counters()
    await source.async_poll(_now())  # slow: one re-probe, still exception 2
    singles = [r for r in fake.requests if r.address == 0x0127]
    assert [(r.address, r.count) for r in singles] == [(0x0127, 1)]
    assert len(fake.requests) == 1 + 3 + 6  # re-probe + slow blocks + split battery block
    assert source.as_dict()["unsupported"] == ["battery_remaining_time"]


async def test_forgotten_register_names_are_dropped(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    """A saved key the map no longer has (renamed in an upgrade) is simply forgotten."""
    source = make_source()
    source.restore({"unsupported": ["no_such_register"]})
    await source.async_poll(_now())
    assert source.as_dict()["unsupported"] == []


async def test_other_modbus_exceptions_fail_the_poll_and_keep_the_session(
    fake: FakeAlphaEss, make_source: MakeSource
) -> None:
    """Exception 6/11 is not "no such register": nothing is learned, the poll fails."""
    source = make_source()
    await source.async_poll(_now())
    fake.exception = ExcCodes.GATEWAY_NO_RESPONSE
    with pytest.raises(ModbusError) as err:
        await source.async_poll(_now())
    assert err.value.reason == "protocol"
    assert err.value.exception_code == 11
    fake.exception = None
    await source.async_poll(_now())
    assert source.as_dict()["unsupported"] == []
    assert source.client.stats.connects == 1  # the unit answered: no reconnect


async def test_dispatch_on_a_dead_link_raises(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    await fake.set_link_down(True)
    with pytest.raises(SourceUnavailable):
        await source.async_dispatch(Command(kind=CommandKind.STOP, issued_at=_now()))


async def test_reconnects_wait_for_the_backoff_on_the_clients_clock(socket_enabled: None) -> None:
    """No connect is attempted before the delay the shared back-off chose has passed."""
    async with FakeAlphaEss() as fake:
        port = fake.port
    now = [100.0]
    client = ModbusClient(
        "127.0.0.1",
        port,
        DEFAULT_UNIT,
        backoff=Backoff(base=2, cap=8, jitter=0),
        clock=lambda: now[0],
    )
    waits = []
    for step in (0.0, 1.9, 0.1, 3.9, 0.1):  # attempt, wait, attempt, wait, attempt
        now[0] += step
        with pytest.raises(UnitBusy) as err:
            await client.read(0x0010, 1)
        waits.append("next attempt" in err.value.detail)
    assert waits == [False, True, False, True, False]
    assert client.stats.connect_attempts == 3
    assert client.backoff.failures == 3
    async with FakeAlphaEss(port=port):
        now[0] += 8.0
        assert len(await client.read(0x0010, 2)) == 2
    assert client.backoff.failures == 0  # reset on success
    await client.close()

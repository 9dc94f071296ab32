"""Fault knobs of the fake → the error reason, then recovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import itertools
import time

import pytest

from custom_components.sunstream.pysunstream.alphaess import Backoff, UnitBusy
from custom_components.sunstream.pysunstream.alphaess.errors import (
    CLOSED_AFTER_CONNECT,
    CONNECT_REFUSED,
    SILENT_AFTER_CONNECT,
)
from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.errors import SourceUnavailable
from custom_components.sunstream.pysunstream.model import Metric
from custom_components.sunstream.pysunstream.testing.alphaess_fake import FakeAlphaEss

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
    source = make_source(backoff=Backoff(initial=0.05, cap=0.2, jitter=0.0))
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


async def test_dispatch_on_a_dead_link_raises(fake: FakeAlphaEss, make_source: MakeSource) -> None:
    source = make_source()
    await source.async_poll(_now())
    await fake.set_link_down(True)
    with pytest.raises(SourceUnavailable):
        await source.async_dispatch(Command(kind=CommandKind.STOP, issued_at=_now()))

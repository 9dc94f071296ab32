"""Keep-alive: the pure timer, and a client that outlives the fake's idle timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib

import pytest

from custom_components.sunstream.pysunstream.winet import WinetClient
from custom_components.sunstream.pysunstream.winet.keepalive import DEFAULT_INTERVAL, KeepAlive
from sunstream_fakes.winet_fake import FakeWinet

MakeClient = Callable[..., WinetClient]


def test_timer() -> None:
    keepalive = KeepAlive(8.0)
    assert keepalive.delay(100.0) is None  # no session yet: nothing to keep alive
    assert not keepalive.due(100.0)
    keepalive.traffic(100.0)
    assert keepalive.delay(103.0) == 5.0
    assert not keepalive.due(107.9)
    assert keepalive.due(108.0)
    assert keepalive.delay(200.0) == 0.0
    keepalive.pinged(200.0)
    assert keepalive.pings == 1
    assert keepalive.delay(200.0) == 8.0
    keepalive.reset()
    assert keepalive.delay(300.0) is None


def test_disabled_and_invalid() -> None:
    keepalive = KeepAlive(None)
    keepalive.traffic(1.0)
    assert keepalive.delay(1000.0) is None
    assert not keepalive.due(1000.0)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="interval"):
            KeepAlive(bad)
    # At the default 10 s poll interval the link never pauses beyond 8 s, the
    # period a working client uses (docs/protocols/winet.md#session).
    assert DEFAULT_INTERVAL == 8.0


@contextlib.asynccontextmanager
async def running(client: WinetClient):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(client.async_run_keepalive())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_pings_keep_an_idle_session(fake: FakeWinet, make_client: MakeClient) -> None:
    fake.faults.idle_timeout = 0.3
    client = make_client(fake, keepalive=0.1)
    await client.async_poll()
    async with running(client):
        await asyncio.sleep(1.0)  # more than three idle timeouts
        assert client.connected
    await client.async_poll()
    assert fake.connection_count == 1
    assert fake.logins == 1
    assert fake.requests["ping"] >= 5
    assert client.metrics.pings == fake.requests["ping"]
    assert client.metrics.reconnections == 0


async def test_without_keepalive_the_fake_drops_the_session(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    """The control experiment: the fake really drops idle sessions."""
    fake.faults.idle_timeout = 0.3
    client = make_client(fake, keepalive=None)
    await client.async_poll()
    async with running(client) as task:
        await asyncio.sleep(0.5)
        assert task.done()  # disabled: returns at once
    await client.async_poll()
    assert fake.connection_count == 2
    assert fake.logins == 2
    assert fake.requests["ping"] == 0


async def test_no_ping_while_polling(fake: FakeWinet, make_client: MakeClient) -> None:
    """A poll is traffic: the keep-alive waits for the lock, then finds nothing due."""
    client = make_client(fake, keepalive=0.05)
    await client.async_connect()
    fake.faults.latency = 0.1  # each reply takes twice the keep-alive interval
    async with running(client):
        await client.async_poll()
        assert fake.requests["ping"] == 0
        fake.faults.latency = 0.0
        await asyncio.sleep(0.2)
    assert fake.requests["ping"] >= 1


async def test_a_failed_ping_closes_the_socket(fake: FakeWinet, make_client: MakeClient) -> None:
    client = make_client(fake, keepalive=0.05, request_timeout=0.2)
    await client.async_connect()
    fake.faults.stall = 1  # the ping gets no answer
    await asyncio.sleep(0.06)
    assert not await client.async_keepalive()
    assert not client.connected
    assert client.keepalive.delay(0.0) is None
    await client.async_poll()  # and the next poll reconnects
    assert fake.connection_count == 2


async def test_keepalive_is_idle_without_a_session(
    fake: FakeWinet, make_client: MakeClient
) -> None:
    client = make_client(fake, keepalive=0.05)
    async with running(client):
        await asyncio.sleep(0.2)
    assert fake.connection_count == 0  # it never opens a session by itself

"""Fixtures for the WiNet tests: captured payloads, a fake gateway, fast clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
import importlib.util
from typing import Any

import aiohttp
import pytest

from custom_components.sunstream.pysunstream.winet import Backoff, WinetClient, WinetSource
from sunstream_fakes.winet_fake import FakeWinet, load_fixture

FIRST_POLL = datetime(2024, 6, 1, 12, tzinfo=UTC)
"""When the ``source`` fixture polls first (the tests' ``NOW``)."""
HAS_CRYPTOGRAPHY = importlib.util.find_spec("cryptography") is not None
needs_cryptography = pytest.mark.skipif(not HAS_CRYPTOGRAPHY, reason="cryptography missing")


def reply(service: str, items: list[dict[str, Any]], code: int = 1, msg: str = "success") -> str:
    """A reply frame as the gateway sends it."""
    import json

    return json.dumps(
        {
            "result_code": code,
            "result_msg": msg,
            "result_data": {"service": service, "list": items, "count": len(items)},
        }
    )


@pytest.fixture(name="sh10rt")
def sh10rt_fixture() -> dict[str, Any]:
    return load_fixture("sh10rt")


@pytest.fixture(name="fake")
async def fake_fixture(socket_enabled: None) -> AsyncIterator[FakeWinet]:
    async with FakeWinet("sh10rt") as fake:
        yield fake


@pytest.fixture(name="http")
async def http_fixture(socket_enabled: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(name="make_client")
async def make_client_fixture(
    http: aiohttp.ClientSession,
) -> AsyncIterator[Callable[..., WinetClient]]:
    """Clients with test-sized delays; closed after the test."""
    clients: list[WinetClient] = []

    def make(fake: FakeWinet, **kwargs: Any) -> WinetClient:
        options: dict[str, Any] = {
            "session": http,
            "ports": fake.ports,
            "request_timeout": 2.0,
            "read_retry_delay": 0.01,
            "backoff": Backoff(base=0.05, cap=0.2, jitter=0.0),
        }
        options.update(kwargs)
        client = WinetClient("127.0.0.1", **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.async_close()


@pytest.fixture(name="source")
async def source_fixture(fake: FakeWinet, make_client: Callable[..., WinetClient]) -> WinetSource:
    """A source on the fake gateway, polled once at :data:`FIRST_POLL`."""
    source = WinetSource("127.0.0.1", client=make_client(fake))
    await source.async_poll(FIRST_POLL)
    return source

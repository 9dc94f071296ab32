"""A fake Sungrow inverter and sources pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from custom_components.sunstream.pysunstream.sungrow import Connection, SungrowModbusSource
from sunstream_fakes.sungrow_fake import FakeSungrow

type MakeSource = Callable[..., SungrowModbusSource]


@pytest.fixture(autouse=True)
def _loopback(socket_enabled: None) -> None:
    """Every test here talks to a fake on 127.0.0.1."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeSungrow]:
    """A running SH10RT on its LAN port, 60 times faster than real time."""
    async with FakeSungrow(speed=60) as device:
        yield device


@pytest.fixture
async def make_source(fake: FakeSungrow) -> AsyncIterator[MakeSource]:
    """Sources on ``fake``; every one made is closed after the test."""
    made: list[SungrowModbusSource] = []

    def make(connection: Connection = Connection.LAN, **kwargs: object) -> SungrowModbusSource:
        source = SungrowModbusSource(
            "127.0.0.1",
            fake.port,
            connection=connection,
            timeout=0.5,
            **kwargs,  # type: ignore[arg-type]
        )
        made.append(source)
        return source

    yield make
    for source in made:
        await source.async_close()

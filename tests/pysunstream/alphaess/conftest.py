"""Fixtures: a fake AlphaESS on loopback and sources pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.sunstream.pysunstream.alphaess import AlphaEssSource, Backoff
from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from sunstream_fakes.alphaess_fake import FakeAlphaEss

type MakeSource = Callable[..., AlphaEssSource]
type MakeFake = Callable[[str], Awaitable[FakeAlphaEss]]


def charge_command(power: float = 3000, soc: float = 90, minutes: float = 60) -> Command:
    """A forced charge issued now."""
    return Command(
        kind=CommandKind.CHARGE,
        issued_at=datetime.now(UTC),
        power_w=power,
        target_soc=soc,
        duration=timedelta(minutes=minutes),
    )


@pytest.fixture(name="fake")
async def fake_fixture(socket_enabled: None) -> AsyncIterator[FakeAlphaEss]:
    async with FakeAlphaEss() as fake:
        yield fake


@pytest.fixture(name="make_fake")
async def make_fake_fixture(socket_enabled: None) -> AsyncIterator[MakeFake]:
    """Start a fake unit of another model (stopped after the test)."""
    started: list[FakeAlphaEss] = []

    async def make(model: str) -> FakeAlphaEss:
        fake = FakeAlphaEss(model=model)
        await fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        await fake.stop()


@pytest.fixture(name="make_source")
async def make_source_fixture(fake: FakeAlphaEss) -> AsyncIterator[MakeSource]:
    made: list[AlphaEssSource] = []

    def make(**kwargs: Any) -> AlphaEssSource:
        kwargs.setdefault("timeout", 0.5)
        kwargs.setdefault("spacing", 0.01)
        kwargs.setdefault("backoff", Backoff(base=0.05, cap=0.4, jitter=0.0))
        port = kwargs.pop("port", fake.port)
        source = AlphaEssSource("127.0.0.1", port, **kwargs)
        made.append(source)
        return source

    yield make
    for source in made:
        await source.async_close()

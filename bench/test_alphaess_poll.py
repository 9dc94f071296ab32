"""AlphaESS: Modbus requests and wall time of one poll, against the fake unit.

Other clients read one register per request (tens per poll) or hand-grouped
blocks (docs/protocols/alphaess.md#block-reads); Sunstream plans blocks from
the register map. The fake logs every request it receives, so the count is
what crossed the wire.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import statistics
import time

import pytest

from bench.test_refresh import _save
from custom_components.sunstream.pysunstream.alphaess import AlphaEssSource
from custom_components.sunstream.pysunstream.alphaess.registers import REGISTERS, Cadence
from sunstream_fakes.alphaess_fake import FakeAlphaEss

SPACING = 0.1
POLLS = 24


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant needed here."""


@pytest.mark.usefixtures("socket_enabled")
async def test_requests_per_poll() -> None:
    async with FakeAlphaEss() as fake:
        source = AlphaEssSource("127.0.0.1", fake.port, spacing=SPACING)
        try:
            await source.async_poll(datetime.now(UTC))  # connect, identity, slow rows
            per_poll: list[int] = []
            walls: list[float] = []
            for _ in range(POLLS):
                # Polls are seconds apart in use; don't bill one poll's spacing
                # to the next.
                await asyncio.sleep(SPACING)
                fake.requests.clear()
                start = time.perf_counter()
                await source.async_poll(datetime.now(UTC))
                walls.append(time.perf_counter() - start)
                per_poll.append(len(fake.requests))
        finally:
            await source.async_close()
    realtime = [r for r in REGISTERS if r.cadence is Cadence.REALTIME]
    _save(
        "alphaess_poll",
        {
            "command_spacing_s": SPACING,
            "polls": POLLS,
            "requests_per_realtime_poll": statistics.median(per_poll),
            "requests_max_incl_slow_rows": max(per_poll),
            "one_register_per_request_equivalent": len(realtime),
            "wall_median_s": round(statistics.median(walls), 3),
            "wall_target_s": 5 * SPACING,
            "wall_floor_s": 4 * SPACING,
        },
    )
    assert per_poll

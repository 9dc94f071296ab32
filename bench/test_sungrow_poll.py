"""Sungrow over Modbus TCP: requests and wall time per poll, and the shared endpoint's latency.

Against the fake inverter (``sunstream_fakes/sungrow_fake.py``, a real
pymodbus server on loopback, SH10RT), which logs every request it receives,
so the counts are what crossed the wire.

**Per poll** (:func:`test_requests_per_poll`), for the inverter's LAN port
and a WiNet-S dongle (38 registers per read at most, 100 ms between
requests, both enforced by the fake): ``SungrowModbusSource`` against a
baseline that reads the same rows the way the hand-edited YAML package does
(docs/protocols/sungrow-modbus.md#sources, "mkaiser package": one Home
Assistant ``modbus`` sensor, so one request, per register row: a U16, a
U32/S32 word pair or an ASCII string), on the same connection class, the
same spacing and the same slow-row cadence. Both read the same fake in the
same run, poll by poll in turn.

**Shared endpoint** (:func:`test_endpoint_latency`): one pymodbus client
reads the 5002..5035 block straight from the fake, and through
``SharedEndpoint`` both answered from the latest poll and forwarded over
Sunstream's session, in turn. A real inverter would turn the direct client
away while Sunstream holds its one slot (the fake here lets both in), so the
direct figure is "the device to yourself", the reference the endpoint adds to.

Request counts are exact; wall times depend on the machine's load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
import os
import statistics
import time
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
import pytest

from bench.test_refresh import _save
from custom_components.sunstream.pysunstream.modbus.client import ModbusClient
from custom_components.sunstream.pysunstream.modbus.decode import decode_block
from custom_components.sunstream.pysunstream.modbus.endpoint import (
    EndpointPolicy,
    SharedEndpoint,
)
from custom_components.sunstream.pysunstream.modbus.planner import ReadBlock
from custom_components.sunstream.pysunstream.modbus.registers import Cadence, Table
from custom_components.sunstream.pysunstream.sungrow import (
    Connection,
    Profile,
    SungrowModbusSource,
    model_of,
    resolve_profile,
)
from sunstream_fakes.sungrow_fake import SH10RT, UNIT, FakeSungrow

POLLS = int(os.environ.get("BENCH_SUNGROW_POLLS", "24"))
READS = int(os.environ.get("BENCH_SUNGROW_READS", "150"))
SLOW_EVERY = 12
TIMEOUT = 2.0
#: Requests per poll of an SH10RT, from the plan in the source's docstring
#: (pysunstream/sungrow/source.py): real-time, and with the slow rows.
EXPECTED = {Connection.LAN: (3, 7), Connection.WINET: (4, 9)}
#: The block a client reads through the endpoint: the 5000 block Sunstream polls.
BLOCK_START, BLOCK_COUNT = 5002, 34


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant needed here."""


class RowByRow:
    """The baseline: one request per register row, as one YAML sensor per row reads them."""

    def __init__(self, port: int, profile: Profile) -> None:
        self.profile = profile
        self.client = ModbusClient(
            "127.0.0.1", port, UNIT, timeout=TIMEOUT, spacing=profile.spacing
        )
        self._polls = 0

    async def poll(self) -> int:
        """Read every row due this poll; the number of values decoded."""
        cadences = [Cadence.REALTIME]
        if self._polls % SLOW_EVERY == 0:
            cadences.append(Cadence.SLOW)
        self._polls += 1
        values = 0
        for cadence in cadences:
            for reg in self.profile.registers(cadence):
                words = await self.client.read(reg.address, reg.length, reg.table)
                block = ReadBlock(reg.address, reg.length, (reg,))
                values += len(decode_block(block, words, self.profile))
        return values


async def _timed_poll(
    fake: FakeSungrow, poll: Callable[[], Awaitable[object]], spacing: float
) -> tuple[int, float]:
    # Polls are seconds apart in use; don't bill one poll's spacing to the next.
    await asyncio.sleep(spacing)
    fake.requests.clear()
    start = time.perf_counter()
    await poll()
    return len(fake.requests), time.perf_counter() - start


async def _compare(connection: Connection) -> dict[str, Any]:
    profile = resolve_profile(model_of(SH10RT), connection)
    async with FakeSungrow(connection=connection.value, one_client=False) as fake:
        source = SungrowModbusSource(
            "127.0.0.1", fake.port, connection=connection, timeout=TIMEOUT, slow_every=SLOW_EVERY
        )
        baseline = RowByRow(fake.port, profile)
        try:
            # Connect and read the identity outside the measurement; both
            # then start at the same place of the slow-row cadence.
            await source.identify()
            await baseline.client.read(4999, 1, Table.INPUT)
            counts: dict[str, list[int]] = {"sunstream": [], "baseline": []}
            walls: dict[str, list[float]] = {"sunstream": [], "baseline": []}
            polls: dict[str, Callable[[], Awaitable[object]]] = {
                "sunstream": lambda: source.async_poll(datetime.now(UTC)),
                "baseline": baseline.poll,
            }
            for n in range(POLLS):
                # Alternate who goes first; a read over the WiNet-S limit or
                # sooner than its spacing would fail the poll (the fake
                # enforces both).
                for name in list(polls) if n % 2 == 0 else reversed(polls):
                    count, wall = await _timed_poll(fake, polls[name], profile.spacing)
                    counts[name].append(count)
                    walls[name].append(wall)
        finally:
            await source.async_close()
            await baseline.client.close()
    realtime = [c for i, c in enumerate(counts["sunstream"]) if i % SLOW_EVERY]
    base_realtime = [c for i, c in enumerate(counts["baseline"]) if i % SLOW_EVERY]
    result = {
        "spacing_s": profile.spacing,
        "max_count": profile.max_count,
        "polls": POLLS,
        "requests_realtime": statistics.median(realtime),
        "requests_with_slow_rows": max(counts["sunstream"]),
        "baseline_requests_realtime": statistics.median(base_realtime),
        "baseline_requests_with_slow_rows": max(counts["baseline"]),
        "wall_median_s": round(statistics.median(walls["sunstream"]), 3),
        "baseline_wall_median_s": round(statistics.median(walls["baseline"]), 3),
        "wall_realtime_median_s": round(
            statistics.median(w for i, w in enumerate(walls["sunstream"]) if i % SLOW_EVERY), 3
        ),
        "baseline_wall_realtime_median_s": round(
            statistics.median(w for i, w in enumerate(walls["baseline"]) if i % SLOW_EVERY), 3
        ),
    }
    assert (result["requests_realtime"], result["requests_with_slow_rows"]) == EXPECTED[connection]
    rows = len(profile.registers(Cadence.REALTIME))
    assert result["baseline_requests_realtime"] == rows
    assert result["baseline_requests_with_slow_rows"] == rows + len(profile.registers(Cadence.SLOW))
    return result


@pytest.mark.usefixtures("socket_enabled")
async def test_requests_per_poll() -> None:
    load_before = os.getloadavg()[0]
    results = {connection.value: await _compare(connection) for connection in Connection}
    _save(
        "sungrow_poll",
        {
            "model": "SH10RT",
            "slow_every": SLOW_EVERY,
            "load_average": [load_before, os.getloadavg()[0]],
            **results,
        },
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def _read(client: AsyncModbusTcpClient) -> float:
    start = time.perf_counter()
    answer = await client.read_input_registers(BLOCK_START, count=BLOCK_COUNT, device_id=UNIT)
    elapsed = time.perf_counter() - start
    assert not answer.isError(), answer
    assert len(answer.registers) == BLOCK_COUNT
    return elapsed


@pytest.mark.usefixtures("socket_enabled")
async def test_endpoint_latency() -> None:
    load_before = os.getloadavg()[0]
    async with FakeSungrow(one_client=False) as fake:
        source = SungrowModbusSource("127.0.0.1", fake.port, timeout=TIMEOUT)
        # Two endpoints on Sunstream's one session: one may answer from the
        # latest poll, the other never may (max_age 0), so every read of it
        # is forwarded. The forward limit is raised so the benchmark is not
        # refused; the default (2 per second) is what a user gets.
        cached = SharedEndpoint(source.client, policy=EndpointPolicy(forwards_per_second=1000))
        forwarded = SharedEndpoint(
            source.client, policy=EndpointPolicy(max_age=0.0, forwards_per_second=1000)
        )
        clients: dict[str, AsyncModbusTcpClient] = {}
        try:
            await source.async_poll(datetime.now(UTC))
            await cached.start()
            await forwarded.start()
            for name, port in (
                ("direct", fake.port),
                ("cached", cached.port),
                ("forwarded", forwarded.port),
            ):
                clients[name] = AsyncModbusTcpClient(
                    "127.0.0.1", port=port, timeout=TIMEOUT, retries=0
                )
                assert await clients[name].connect()
            times: dict[str, list[float]] = {name: [] for name in clients}
            names = list(clients)
            for n in range(READS):
                if n % 20 == 0:  # keep the latest poll fresh (max_age 5 s)
                    await source.async_poll(datetime.now(UTC))
                # Sunstream's spacing would otherwise delay a forwarded read
                # that follows its own request: that is the schedule, not the hop.
                await asyncio.sleep(source.client.spacing)
                rotated = names[n % 3 :] + names[: n % 3]
                for name in rotated:
                    times[name].append(await _read(clients[name]))
        finally:
            for client in clients.values():
                client.close()
            await cached.stop()
            await forwarded.stop()
            await source.async_close()
    assert cached.stats.from_cache == READS
    assert cached.stats.forwarded == 0
    assert forwarded.stats.forwarded == READS
    assert forwarded.stats.from_cache == 0
    result: dict[str, Any] = {
        "reads": READS,
        "registers": BLOCK_COUNT,
        "load_average": [load_before, os.getloadavg()[0]],
    }
    for name, values in times.items():
        result[name] = {
            "median_ms": round(statistics.median(values) * 1000, 3),
            "p95_ms": round(_percentile(values, 0.95) * 1000, 3),
        }
    direct = statistics.median(times["direct"])
    for name in ("cached", "forwarded"):
        result[name]["added_median_ms"] = round((statistics.median(times[name]) - direct) * 1000, 3)
    _save("sungrow_endpoint", result)

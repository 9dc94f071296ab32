"""WiNet: wall time and CPU of one poll cycle against the fake gateway.

The WiNet protocol is strictly serial (one request outstanding, replies
matched by service only), so a poll cycle can never beat ``requests ×
per-request latency``: that is the floor. The fake gateway runs in its own
process with 100 ms before every reply, so what the client adds on top is
its own overhead, and the CPU measured here (``time.process_time`` of this
process) is the client's alone: aiohttp, the session, parsing, mapping.

The second figure replays one captured cycle through the sans-I/O session
and the mapping with no sockets at all: the protocol's own share.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import json
import os
import re
import statistics
import sys
import time

import aiohttp
import pytest

from bench.test_refresh import _save
from custom_components.sunstream.pysunstream.winet import Ports, WinetClient, WinetSource
from custom_components.sunstream.pysunstream.winet.gateway import gateway_identity
from custom_components.sunstream.pysunstream.winet.mapping import build_snapshot
from custom_components.sunstream.pysunstream.winet.session import CycleDone, Send, WinetSession
from sunstream_fakes.winet_fake import load_fixture

LATENCY = 0.1
POLLS = int(os.environ.get("BENCH_WINET_POLLS", "25"))
REPLAYS = 2000
FAKE = "sunstream_fakes.winet_fake"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant needed here."""


@pytest.mark.usefixtures("socket_enabled")
async def test_poll_cycle() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        FAKE,
        "--port",
        "0",
        "--latency",
        str(LATENCY),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        match = re.search(rb"http\+ws port (\d+)", line)
        assert match, line
        port = int(match[1])
        async with aiohttp.ClientSession() as http:
            client = WinetClient(
                "127.0.0.1",
                session=http,
                ports=Ports(http=port, ws=port, https=port),
                keepalive=None,
            )
            source = WinetSource("127.0.0.1", client=client)
            await source.async_poll(datetime.now(UTC))  # connect, log in, list, first cycle
            walls: list[float] = []
            cpus: list[float] = []
            requests: list[int] = []
            for _ in range(POLLS):
                sent = client.metrics.messages_sent
                cpu = time.process_time()
                start = time.perf_counter()
                await source.async_poll(datetime.now(UTC))
                walls.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
                requests.append(client.metrics.messages_sent - sent)
            await source.async_close()
    finally:
        process.terminate()
        await process.wait()

    per_cycle = statistics.median(requests)
    floor = per_cycle * LATENCY
    # Each poll against its own floor (a device-list refresh adds a request).
    overheads = [wall - count * LATENCY for wall, count in zip(walls, requests, strict=True)]
    plain = [wall for wall, count in zip(walls, requests, strict=True) if count == per_cycle]
    wall = statistics.median(plain)
    _save(
        "winet_poll",
        {
            "latency_s": LATENCY,
            "polls": POLLS,
            "requests_per_cycle": per_cycle,
            "cycles_with_devicelist_refresh": requests.count(5),
            "floor_s": round(floor, 3),
            "target_s": round(floor * 1.05, 3),
            "wall_median_s": round(wall, 4),
            "wall_p95_s": round(statistics.quantiles(plain, n=20)[-1], 4),
            "overhead_median_ms": round(statistics.median(overheads) * 1000, 2),
            "overhead_max_ms": round(max(overheads) * 1000, 2),
            "overhead_pct": round((wall / floor - 1) * 100, 2),
            "cpu_median_ms": round(statistics.median(cpus) * 1000, 3),
            "cpu_p95_ms": round(statistics.quantiles(cpus, n=20)[-1] * 1000, 3),
            "protocol_cpu_per_cycle_ms": round(_replay_cpu() * 1000, 3),
        },
    )
    # 4 per cycle; 5 on the cycle that also refreshes the device list (1 in 30).
    assert set(requests) <= {4, 5}


def _reply(service: str, items: list[object] | None = None, **data: object) -> str:
    if items is not None:
        data |= {"list": items, "count": len(items)}
    return json.dumps(
        {"result_code": 1, "result_msg": "success", "result_data": {"service": service, **data}},
        ensure_ascii=False,
    )


def _replay_cpu() -> float:
    """CPU seconds per cycle of the session + parsing + mapping, no I/O."""
    fixture = load_fixture("sh10rt")
    session = WinetSession("admin", "pw8888", clock_ms=lambda: 0, devicelist_every=REPLAYS + 1)
    session.connection_made()
    session.receive(_reply("connect", token="a"))
    session.receive(_reply("login", token="b"))
    session.receive(_reply("devicelist", fixture["devices"]))
    replies = {
        (dev_id, service): _reply(service, items)
        for dev_id, lists in fixture["data"].items()
        for service, items in lists.items()
    }
    identity = gateway_identity(None, session.devices or ())
    now = datetime.now(UTC)
    start = time.process_time()
    for _ in range(REPLAYS):
        action = session.start_cycle()
        while isinstance(action, Send):
            request = json.loads(action.frame)
            action = session.receive(replies[request["dev_id"], request["service"]])
        assert isinstance(action, CycleDone)
        build_snapshot(now, identity, action.data)
    return (time.process_time() - start) / REPLAYS

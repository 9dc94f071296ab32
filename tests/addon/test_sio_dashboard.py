"""Seed 003's dashboard on the real socket.io-client (Node), against the app's Socket.IO endpoint.

``sio_dashboard.js`` is the client side of docs/protocols/app-seeds.md#seed-003:
socket.io-client 4 with its defaults — long-polling first, then the upgrade to
WebSocket, reconnection on — destructuring ``device:data`` and
``device:alerts`` as the dashboards do. It needs Node and the socket.io-client
package that ``scripts/bench-peers`` installs under bench/reference/socketio.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime
import json
import os
from pathlib import Path
from typing import Any

import pytest

from . import test_sio
from .test_sio import SYSTEM, TOKEN, WAIT, Server, document, eventually

NODE = os.environ.get("BENCH_NODE", "/usr/bin/node")
MODULES = Path(__file__).resolve().parents[2] / "bench" / "reference" / "socketio" / "node_modules"
CLIENT = Path(__file__).resolve().parent / "sio_dashboard.js"

# test_sio's fixture: the endpoint on an aiohttp app of its own.
server = test_sio.server

pytestmark = pytest.mark.skipif(
    not (Path(NODE).exists() and (MODULES / "socket.io-client").is_dir()),
    reason="needs node and socket.io-client (scripts/bench-peers installs it)",
)


class Dashboard:
    """The Node client in its own process; what it heard, one JSON line each."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[dict[str, Any]] = []
        # How many lines of each event the test has taken.
        self.taken: dict[str, int] = {}

    async def next(self, event: str) -> dict[str, Any]:
        """The next line about ``event`` the test has not taken yet, in the order heard."""
        assert self.process.stdout is not None
        async with asyncio.timeout(WAIT):
            while True:
                seen = [line for line in self.lines if line["event"] == event]
                taken = self.taken.get(event, 0)
                if len(seen) > taken:
                    self.taken[event] = taken + 1
                    return seen[taken]
                line = json.loads(await self.process.stdout.readline())
                assert line["event"] != "connect_error", line
                self.lines.append(line)

    async def stop(self) -> None:
        """End stdin: the client closes its socket and exits."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            async with asyncio.timeout(WAIT):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@pytest.fixture
async def dashboard(server: Server) -> AsyncGenerator[Dashboard]:
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(CLIENT),
        str(MODULES),
        server.url,
        TOKEN,
        SYSTEM,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    client = Dashboard(process)
    try:
        yield client
    finally:
        await client.stop()


async def test_seed_dashboard_hears_every_update_once_across_the_upgrade(
    server: Server, dashboard: Dashboard
) -> None:
    assert (await dashboard.next("subscribed"))["ok"] is True
    current = await dashboard.next("data")
    assert current["deviceId"] == SYSTEM
    assert datetime.strptime(current["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    # Updates while the client upgrades to WebSocket and after.
    for number in range(30):
        server.hub.update_state(SYSTEM, document(current_generation_kw=float(number)))
        await asyncio.sleep(0.01)
    heard = [await dashboard.next("data") for _ in range(30)]
    assert [line["kw"] for line in heard] == [float(number) for number in range(30)]
    server.hub.update_state(SYSTEM, document(current_generation_kw=99.0))
    last = await dashboard.next("data")
    assert (last["kw"], last["transport"]) == (99.0, "websocket")

    server.hub.raise_alert(
        SYSTEM, {"rule": "battery_low", "severity": "warning", "value": 9.0, "threshold": 10.0}
    )
    assert await dashboard.next("alerts") == {
        "event": "alerts",
        "deviceId": SYSTEM,
        "rules": ["battery_low"],
    }


async def test_seed_dashboard_reconnects_and_leaves_nothing_behind(
    server: Server, dashboard: Dashboard
) -> None:
    engine = server.endpoint.server.eio
    await dashboard.next("subscribed")
    await dashboard.next("data")
    await dashboard.next("upgrade")
    # The connection drops under it: socket.io-client reconnects and subscribes again.
    (sid,) = engine.websockets
    await engine.abort(sid)
    assert (await dashboard.next("disconnect"))["reason"] in ("transport close", "transport error")
    assert (await dashboard.next("subscribed"))["ok"] is True
    await dashboard.next("data")
    await dashboard.next("upgrade")
    server.hub.update_state(SYSTEM, document(current_generation_kw=7.0))
    assert (await dashboard.next("data"))["kw"] == 7.0
    assert server.endpoint.stats()["connections"] == 1

    await dashboard.stop()
    await eventually(lambda: server.endpoint.stats()["connections"] == 0)
    await eventually(lambda: not engine.websockets and not engine.sockets)
    assert server.endpoint.stats()["systems"] == {}

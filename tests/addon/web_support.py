"""Test equipment for the monitor's web server: a real server on a loopback
port fed through the hub, and real aiohttp clients.

Nothing here stands in for our own code. The only stand-in is the Home
Assistant token check (an outside service), replaced by a function that
accepts one known token; test_runner.py checks the real one against a real HA.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
import time
from typing import Any

import aiohttp
from aiohttp import web
import orjson
import pytest

from sunstream_monitor.auth import Authenticator, FailureTracker
from sunstream_monitor.hub import Hub, SourceKind, SystemInfo
from sunstream_monitor.settings import Settings
from sunstream_monitor.web import create_app

ADMIN_TOKEN = "admin-token-0123456789abcdef"
HA_TOKEN = "ha-user-token-0123456789abcdef"
HA_USER = "Alice"
WAIT = 5.0

ROOFTOP = SystemInfo(system_id="rooftop", name="Rooftop", source=SourceKind.SIMULATED)
GARAGE = SystemInfo(system_id="garage", name="Garage", source=SourceKind.MODBUS)


def document(system_id: str = "rooftop", generation: float = 1.5, **extra: Any) -> dict[str, Any]:
    """A MonitoringData document shaped like the contract's."""
    return {
        "system_id": system_id,
        "name": system_id.title(),
        "source": "simulated",
        "status": "online",
        "current_generation_kw": generation,
        "today_generation_kwh": 12.0,
        "monthly_generation_kwh": 300.0,
        "total_generation_kwh": 4000.0,
        "today_savings": 10.2,
        "monthly_savings": 255.0,
        "total_savings": 3400.0,
        "currency": "BRL",
        "co2_offset_kg": 2000.0,
        "trees_planted_equivalent": 33.0,
        "battery": {
            "soc_percent": 80.0,
            "power_kw": -0.5,
            "charge_energy_kwh": 3.0,
            "discharge_energy_kwh": 1.0,
            "mode": "auto",
        },
        "grid": {"power_kw": 0.2, "import_energy_kwh": 1.0, "export_energy_kwh": 4.0},
        "load": {"power_kw": 1.2},
        "inverter": {"temperature_c": 41.0, "status": "normal"},
        "chart_data": {"labels": [f"{h:02d}:00" for h in range(24)], "values": [0.0] * 24},
        "last_updated": "2026-11-23T14:00:00+00:00",
        **extra,
    }


async def ha_validator(token: str) -> str | None:
    """Stands in for Home Assistant's token check: one user, one token."""
    return HA_USER if token == HA_TOKEN else None


async def eventually(check: Callable[[], bool], within: float = WAIT) -> None:
    """Wait until ``check()`` is true, failing after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


def bearer(token: str = ADMIN_TOKEN) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Server:
    """A running monitor server and a client session to talk to it."""

    hub: Hub
    settings: Settings
    authenticator: Authenticator
    app: web.Application
    runner: web.AppRunner
    base: str
    session: aiohttp.ClientSession
    sockets: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)

    def url(self, path: str) -> str:
        """Absolute HTTP URL of ``path``."""
        return self.base + path

    async def ws(
        self, path: str, token: str | None = ADMIN_TOKEN, **kwargs: Any
    ) -> aiohttp.ClientWebSocketResponse:
        """Open a WebSocket, with a bearer header unless ``token`` is None."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers.update(bearer(token))
        ws = await self.session.ws_connect(self.url(path), headers=headers, **kwargs)
        self.sockets.append(ws)
        return ws

    async def get(self, path: str, token: str | None = ADMIN_TOKEN, **kwargs: Any) -> Any:
        """GET ``path``; returns (status, headers, parsed body)."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers.update(bearer(token))
        async with self.session.get(self.url(path), headers=headers, **kwargs) as response:
            body = await response.read()
            return response.status, response.headers, _parse(body, response.content_type)

    async def post(self, path: str, token: str | None = ADMIN_TOKEN, **kwargs: Any) -> Any:
        """POST ``path``; returns (status, headers, parsed body)."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers.update(bearer(token))
        async with self.session.post(self.url(path), headers=headers, **kwargs) as response:
            body = await response.read()
            return response.status, response.headers, _parse(body, response.content_type)


def _parse(body: bytes, content_type: str) -> Any:
    if content_type in ("application/json", "application/problem+json"):
        return orjson.loads(body)
    return body.decode()


async def receive(ws: aiohttp.ClientWebSocketResponse, within: float = WAIT) -> dict[str, Any]:
    """The next JSON message; fails on a close or a timeout."""
    msg = await ws.receive(timeout=within)
    assert msg.type is aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg!r}"
    message: dict[str, Any] = orjson.loads(msg.data)
    return message


async def receive_type(
    ws: aiohttp.ClientWebSocketResponse, kind: str, within: float = WAIT
) -> dict[str, Any]:
    """Skip messages until one of type ``kind``."""
    deadline = time.monotonic() + within
    while True:
        message = await receive(ws, max(0.01, deadline - time.monotonic()))
        if message["type"] == kind:
            return message


async def closed(ws: aiohttp.ClientWebSocketResponse, within: float = WAIT) -> int | None:
    """Read until the server closes; the close code."""
    deadline = time.monotonic() + within
    while True:
        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return ws.close_code


type ServerFactory = Callable[..., Awaitable[Server]]


@pytest.fixture
async def make_server(socket_enabled: None) -> AsyncIterator[ServerFactory]:
    """Start monitor servers on free loopback ports; stop them after the test."""
    servers: list[Server] = []

    async def make(
        *,
        validator: Any = ha_validator,
        failures: FailureTracker | None = None,
        auth_timeout: float = 10.0,
        **overrides: Any,
    ) -> Server:
        settings = Settings(
            source="mqtt",
            host="127.0.0.1",
            port=0,
            tokens=(ADMIN_TOKEN,),
            **overrides,
        )
        hub = Hub()
        hub.set_systems([ROOFTOP, GARAGE])
        hub.update_state("rooftop", document("rooftop"))
        authenticator = Authenticator(
            settings, validator, failures=failures, auth_timeout=auth_timeout
        )
        app = create_app(settings, hub, authenticator)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        session = aiohttp.ClientSession()
        server = Server(
            hub=hub,
            settings=settings,
            authenticator=authenticator,
            app=app,
            runner=runner,
            base=f"http://{host}:{port}",
            session=session,
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        for ws in server.sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        await server.session.close()
        if server.runner.server is not None:
            await server.runner.cleanup()

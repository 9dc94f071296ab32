"""Review fixes: authentication edge cases, Socket.IO settings and broadcast.

Each test here failed before the fix it covers (see the docstrings).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio  # type: ignore[import-untyped]

from sunstream_monitor.auth import (
    _MAX_TRACKED,
    MAX_FAILURES,
    REFUSE_FOR,
    Authenticator,
    FailureTracker,
)
from sunstream_monitor.feeds.ha import HomeAssistantFeed
from sunstream_monitor.hub import Hub
from sunstream_monitor.settings import INGRESS_PROXY, Settings, load
from sunstream_monitor.sio import SOCKETIO_KEY

from .conftest import HomeAssistantServer
from .ha_feed_support import running_feed, until
from .web_support import (
    ADMIN_TOKEN,
    ServerFactory,
    closed,
    eventually,
    make_server,
    receive,
)

__all__ = ["make_server"]  # the fixture, for pytest

WAIT = 5.0


# -- tokens that are not UTF-8 -----------------------------------------------------------------


async def _raw_get(base: str, path: str, extra_headers: bytes = b"") -> bytes:
    """A GET whose Authorization header carries bytes that are not UTF-8."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Authorization: Bearer abc\xff\xfe\r\n" + extra_headers + b"Connection: close\r\n\r\n"
        )
        await writer.drain()
        async with asyncio.timeout(WAIT):
            return await reader.read()
    finally:
        writer.close()


async def test_token_that_is_not_utf8_is_refused_not_a_crash(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: UnicodeEncodeError in Authenticator.authenticate → HTTP 500 and a traceback."""
    server = await make_server()
    answer = await _raw_get(server.base, "/api/systems")
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b'"code":"unauthorized"' in answer
    upgrade = (
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    answer = await _raw_get(server.base, "/ws", upgrade)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert "Traceback" not in caplog.text
    assert "Unexpected error" not in caplog.text
    # Each counts as a wrong guess, like any refused token: the fifth earns the back-off.
    for _ in range(3):
        assert (await _raw_get(server.base, "/api/systems")).startswith(b"HTTP/1.1 401")
    assert (await _raw_get(server.base, "/api/systems")).startswith(b"HTTP/1.1 429")


async def test_authenticator_refuses_surrogates() -> None:
    authenticator = Authenticator(Settings(tokens=(ADMIN_TOKEN,)))
    assert await authenticator.authenticate("abc\udcff", remote="10.0.0.9") is None
    assert await authenticator.authenticate(ADMIN_TOKEN, remote="10.0.0.9") is not None


# -- the back-off holds for first-message authentication too ------------------------------------


async def test_back_off_applies_to_sockets_already_open(make_server: ServerFactory) -> None:
    """Was: sockets opened before the 5th failure each still got a guess at the token."""
    asked: list[str] = []

    async def validator(token: str) -> str | None:
        asked.append(token)
        return None

    server = await make_server(validator=validator)
    sockets = [await server.ws("/ws", token=None) for _ in range(8)]
    for ws in sockets:
        assert (await receive(ws))["type"] == "auth_required"
    answers = []
    for index, ws in enumerate(sockets):
        await ws.send_json({"type": "auth", "access_token": f"wrong-guess-{index}"})
        answers.append(await receive(ws))
        assert await closed(ws) == 4401
    assert [answer["type"] for answer in answers] == ["auth_invalid"] * 8
    assert len(asked) == 5
    assert "retry in" in answers[-1]["message"]
    # The address is refused at the upgrade now, too.
    status, headers, body = await server.get("/api/systems", token="another-guess")
    assert (status, body["code"]) == (429, "auth_backoff")
    assert "Retry-After" in headers


# -- ingress headers only under the Supervisor ----------------------------------------------------


def test_ingress_proxy_trusted_only_under_the_supervisor(tmp_path: Path) -> None:
    """Was: 172.30.32.2's ingress headers were believed everywhere, Docker and pip included."""
    options = tmp_path / "none.json"
    outside = load(["--ha-url", "ws://ha:8123", "--ha-token", "t"], env={}, options_file=options)
    assert outside.trusted_proxies == ()
    assert not Authenticator(outside).is_trusted_proxy(INGRESS_PROXY)
    replica = load(["--source", "mqtt", "--mqtt-url", "mqtt://b"], env={}, options_file=options)
    assert replica.trusted_proxies == ()

    inside = load([], env={"SUPERVISOR_TOKEN": "sup"}, options_file=options)
    assert inside.trusted_proxies == (INGRESS_PROXY,)
    assert Authenticator(inside).is_trusted_proxy(INGRESS_PROXY)
    inside_replica = load(
        ["--source", "mqtt", "--mqtt-url", "mqtt://b"],
        env={"SUPERVISOR_TOKEN": "sup"},
        options_file=options,
    )
    assert inside_replica.trusted_proxies == (INGRESS_PROXY,)


# -- Socket.IO gets the server's caps ------------------------------------------------------------


async def test_socketio_uses_the_settings_caps(make_server: ServerFactory) -> None:
    """Was: create_app passed only the origins; Socket.IO kept its own defaults."""
    server = await make_server(max_clients=3, max_clients_per_ip=1, client_queue=7)
    endpoint = server.app[SOCKETIO_KEY]
    assert endpoint.gate.admission.max_clients == 3
    assert endpoint.gate.admission.max_clients_per_ip == 1
    assert endpoint.server.eio.max_queue == 7

    first = socketio.AsyncClient(reconnection=False)
    second = socketio.AsyncClient(reconnection=False)
    try:
        await first.connect(server.base, auth={"token": ADMIN_TOKEN}, transports=["websocket"])
        with pytest.raises(socketio.exceptions.ConnectionError):
            await second.connect(server.base, auth={"token": ADMIN_TOKEN}, transports=["websocket"])
        assert endpoint.stats()["refused"] == 1
    finally:
        await first.disconnect()
        await second.disconnect()


# -- POST /api/broadcast reaches Socket.IO -------------------------------------------------------


class Listener:
    """A real socket.io client keeping its ``broadcast`` events."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: list[Any] = []
        self.client.on("broadcast", self._on_broadcast)

    async def _on_broadcast(self, data: Any) -> None:
        self.received.append(data)

    async def connect(self, base: str) -> None:
        await self.client.connect(base, auth={"token": ADMIN_TOKEN}, transports=["websocket"])


async def test_broadcast_reaches_socketio_clients(make_server: ServerFactory) -> None:
    """Was: only WebSocket clients heard a broadcast."""
    server = await make_server()
    watcher, bystander = Listener(), Listener()
    try:
        await watcher.connect(server.base)
        await bystander.connect(server.base)
        ack = await watcher.client.call("subscribe:device", "rooftop", timeout=WAIT)
        assert ack["ok"] is True
        ws = await server.ws("/ws/monitoring/rooftop")
        assert (await receive(ws))["type"] == "monitoring_data"

        message = {"type": "notice", "text": "maintenance at noon"}
        status, _, body = await server.post(
            "/api/broadcast", json={"system_id": "rooftop", "message": message}
        )
        assert (status, body) == (200, {"delivered": 2, "system_id": "rooftop"})
        assert await receive(ws) == message
        await eventually(lambda: watcher.received == [message])

        everyone = {"type": "notice", "text": "to all"}
        status, _, body = await server.post("/api/broadcast", json={"message": everyone})
        assert (status, body["delivered"]) == (200, 3)
        assert await receive(ws) == everyone
        await eventually(lambda: watcher.received == [message, everyone])
        await eventually(lambda: bystander.received == [everyone])

        # Nobody on a system's room: nothing sent, nothing counted.
        status, _, body = await server.post(
            "/api/broadcast", json={"system_id": "garage", "message": message}
        )
        assert body["delivered"] == 0
        await asyncio.sleep(0.2)
        assert bystander.received == [everyone]
    finally:
        await watcher.client.disconnect()
        await bystander.client.disconnect()


# -- Home Assistant tokens must belong to an administrator ---------------------------------------

SERVER_CLOSES_AFTER_AUTH = pytest.mark.parametrize("expected_lingering_timers", [True])


@SERVER_CLOSES_AFTER_AUTH
async def test_home_assistant_token_of_a_non_admin_is_refused(
    ha_server: HomeAssistantServer, hass_read_only_access_token: str
) -> None:
    """Was: any HA user's token opened every endpoint the admin-only panel keeps closed."""
    async with aiohttp.ClientSession() as session:
        feed = HomeAssistantFeed(
            Settings(ha_url=ha_server.ws_url, ha_token=ha_server.token), Hub(), session
        )
        assert await feed.validate_token(hass_read_only_access_token) is None
        assert await feed.validate_token(ha_server.token) is not None
        authenticator = Authenticator(Settings(), feed.validate_token)
        assert await authenticator.authenticate(hass_read_only_access_token, remote="::1") is None
        principal = await authenticator.authenticate(ha_server.token, remote="::1")
        assert principal is not None
        assert principal.via == "home_assistant"


@SERVER_CLOSES_AFTER_AUTH
async def test_feed_token_of_a_non_admin_is_named(
    ha_server: HomeAssistantServer, hass_read_only_access_token: str
) -> None:
    async with running_feed(ha_server, token=hass_read_only_access_token, ready=False) as run:
        await until(lambda: run.feed.last_error is not None, what="the refusal")
        assert "must belong to an administrator" in (run.feed.last_error or "")
        assert not run.hub.feed_connected


# -- odd file names ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/static/a%00b.js", "/a%00b.js", "/static/%2e%2e/auth.py"])
async def test_odd_static_paths_are_not_found(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    server = await make_server()
    status, _, body = await server.get(path, token=None)
    assert (status, body["code"]) == (404, "not_found")
    assert "Traceback" not in caplog.text


# -- the back-off table stays bounded --------------------------------------------------------------


def test_refusals_are_bounded() -> None:
    """Was: refused addresses were purged only once expired; many addresses grew it without end."""
    now = [0.0]
    tracker = FailureTracker(clock=lambda: now[0])
    for index in range(_MAX_TRACKED + 50):
        for _ in range(MAX_FAILURES):
            tracker.record(f"2001:db8::{index:x}")
    assert len(tracker._refused_until) == _MAX_TRACKED
    assert tracker.retry_after(f"2001:db8::{_MAX_TRACKED + 49:x}") > 0
    assert tracker.retry_after("2001:db8::0") == 0  # the oldest refusal made room
    # Expired refusals leave on the next failure.
    now[0] += REFUSE_FOR + 1
    tracker.record("192.0.2.1")
    assert len(tracker._refused_until) == 0

"""MQTT credentials from the Supervisor's ``/services/mqtt``, against an HTTP
server answering as the Supervisor does (envelopes from supervisor api/utils.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from sunstream_monitor.backoff import Backoff
from sunstream_monitor.settings import MqttSettings
from sunstream_monitor.supervisor import mqtt_from_supervisor, wait_for_mqtt

from .conftest import free_port

pytestmark = pytest.mark.usefixtures("socket_enabled")

TOKEN = "supervisor-token"
MOSQUITTO = {
    "addon": "core_mosquitto",
    "host": "core-mosquitto",
    "port": 1883,
    "ssl": False,
    "protocol": "3.1.1",
    "username": "addons",
    "password": "p" * 64,
}


class FakeSupervisor:
    """Answers ``GET /services/mqtt`` with whatever the test queues up."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, Any]] = []
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"result": "error", "message": "Unauthorized"}, status=401)
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, status=status)


@pytest.fixture
async def supervisor() -> AsyncIterator[tuple[FakeSupervisor, str]]:
    fake = FakeSupervisor()
    app = web.Application()
    app.router.add_get("/services/mqtt", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def ok(**data: Any) -> tuple[int, Any]:
    return 200, {"result": "ok", "data": {**MOSQUITTO, **data}}


async def test_reads_the_broker_the_supervisor_provides(
    supervisor: tuple[FakeSupervisor, str],
) -> None:
    fake, base = supervisor
    fake.answers = [ok()]
    async with aiohttp.ClientSession() as session:
        settings = await mqtt_from_supervisor(session, TOKEN, base, prefix="solar", commands=True)
    assert settings == MqttSettings(
        host="core-mosquitto",
        port=1883,
        username="addons",
        password="p" * 64,
        tls=False,
        prefix="solar",
        commands=True,
    )
    fake.answers = [ok(ssl=True, port=8883, username="", password=None)]
    async with aiohttp.ClientSession() as session:
        settings = await mqtt_from_supervisor(session, TOKEN, base)
    assert settings is not None
    assert (settings.tls, settings.port, settings.username, settings.password) == (
        True,
        8883,
        None,
        None,
    )


@pytest.mark.parametrize(
    "answer",
    [
        (400, {"result": "error", "message": "Service not enabled"}),
        (403, {"result": "error", "message": "No access to mqtt service!"}),
        (502, "Bad Gateway"),
        (200, "not json"),
        (200, {"result": "ok", "data": None}),
        (200, {"result": "ok", "data": {"port": 1883}}),
        (200, {"result": "ok", "data": {**MOSQUITTO, "port": "abc"}}),
        (200, {"result": "ok", "data": {**MOSQUITTO, "port": 70000}}),
    ],
)
async def test_no_usable_broker_is_none(
    supervisor: tuple[FakeSupervisor, str], answer: tuple[int, Any]
) -> None:
    fake, base = supervisor
    fake.answers = [answer]
    async with aiohttp.ClientSession() as session:
        assert await mqtt_from_supervisor(session, TOKEN, base) is None
    assert fake.requests == 1


async def test_wrong_token_and_unreachable_supervisor_are_none(
    supervisor: tuple[FakeSupervisor, str],
) -> None:
    fake, base = supervisor
    fake.answers = [ok()]
    async with aiohttp.ClientSession() as session:
        assert await mqtt_from_supervisor(session, "wrong", base) is None
        assert await mqtt_from_supervisor(session, TOKEN, f"http://127.0.0.1:{free_port()}") is None


async def test_waits_until_a_broker_is_there(supervisor: tuple[FakeSupervisor, str]) -> None:
    fake, base = supervisor
    not_yet = (400, {"result": "error", "message": "Service not enabled"})
    fake.answers = [not_yet, not_yet, ok()]
    async with aiohttp.ClientSession() as session:
        settings = await wait_for_mqtt(session, TOKEN, base, backoff=Backoff(base=0.01, cap=0.05))
    assert settings.host == "core-mosquitto"
    assert fake.requests == 3

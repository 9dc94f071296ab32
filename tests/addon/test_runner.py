"""The runner and the command line: composition, start-up errors, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import logging
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp
import aiomqtt
import orjson
import pytest

from sunstream_monitor.__main__ import main
from sunstream_monitor.runner import serve
from sunstream_monitor.settings import MqttSettings, Settings

from .conftest import Broker, HomeAssistantServer, free_port
from .web_support import ADMIN_TOKEN, bearer, closed, receive, receive_type

REPO = Path(__file__).resolve().parents[2]
SERVER_PATH = REPO / "addon" / "sunstream" / "server"
_SETTINGS_ENV = ("HA_URL", "HA_TOKEN", "SUPERVISOR_TOKEN", "MQTT_URL", "SUNSTREAM_SOURCE")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(SERVER_PATH), env.get("PYTHONPATH", "")])
    return env


async def _health(base: str, *, feed: bool = False) -> dict[str, Any]:
    """Poll /health until it answers (and, with ``feed``, until the feed is up)."""
    deadline = time.monotonic() + 15
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base}/health") as response:
                    body: dict[str, Any] = await response.json()
                    if not feed or body["feed_connected"]:
                        return body
            assert time.monotonic() < deadline, "the server never became healthy"
            await asyncio.sleep(0.1)


# -- command line ---------------------------------------------------------------------------


def test_main_reports_bad_settings_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in _SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    assert main(["--source", "ha"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sunstream_monitor: Home Assistant is not configured")
    assert err.count("\n") == 1

    assert main(["--source", "mqtt"]) == 2
    assert "needs a broker" in capsys.readouterr().err


def test_python_dash_m_exits_2_without_a_traceback() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sunstream_monitor",
            "--source",
            "mqtt",
            "--port",
            "70000",
            "--mqtt-url",
            "mqtt://127.0.0.1:1",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "sunstream_monitor: port must be between 1 and 65535, got 70000"


@pytest.mark.usefixtures("socket_enabled")
def test_sigterm_closes_clients_and_exits_cleanly(broker: Broker) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sunstream_monitor",
            "--source",
            "mqtt",
            "--mqtt-url",
            broker.url,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--token",
            ADMIN_TOKEN,
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    async def scenario() -> int | None:
        assert (await _health(base, feed=True))["feed_connected"] is True
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{base}/ws", headers=bearer())
            assert (await receive(ws))["type"] == "connection_status"
            process.send_signal(signal.SIGTERM)
            return await closed(ws, within=15)

    try:
        code = asyncio.run(scenario())
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    _, stderr = process.communicate()
    assert code == 1001
    assert "Traceback" not in stderr
    assert "SIGTERM" in stderr


# -- serve() against a real Home Assistant -------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(serve(settings))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _ha_settings(ha_server: HomeAssistantServer, **overrides: Any) -> Settings:
    return Settings(
        source="ha",
        ha_url=ha_server.ws_url,
        ha_token=ha_server.token,
        host="127.0.0.1",
        port=free_port(),
        tokens=(ADMIN_TOKEN,),
        **overrides,
    )


async def test_serve_follows_home_assistant(ha_server: HomeAssistantServer) -> None:
    settings = _ha_settings(ha_server)
    base = f"http://127.0.0.1:{settings.port}"
    system_id = ha_server.system_id
    async with serving(settings) as task, aiohttp.ClientSession() as session:
        health = await _health(base, feed=True)
        assert health["status"] == "ok"

        async with session.get(f"{base}/api/systems", headers=bearer()) as response:
            assert response.status == 200
            systems = (await response.json())["systems"]
        assert [s["system_id"] for s in systems] == [system_id]

        # A browser with the HA user's own access token, validated by the real HA.
        ws = await session.ws_connect(f"{base}/ws/monitoring/{system_id}")
        assert (await receive(ws))["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": ha_server.token})
        ok = await receive(ws)
        assert ok["type"] == "auth_ok", ok
        frame = await receive_type(ws, "monitoring_data")
        while frame["data"] is None:
            frame = await receive_type(ws, "monitoring_data")
        assert frame["system_id"] == system_id
        assert frame["data"]["system_id"] == system_id
        assert frame["data"]["status"] in ("online", "offline", "maintenance")

        # A token HA does not know is refused.
        bad = await session.ws_connect(f"{base}/ws")
        await receive(bad)
        await bad.send_json({"type": "auth", "access_token": "not-a-token"})
        assert (await receive(bad))["type"] == "auth_invalid"
        assert await closed(bad) == 4401

        # Cancelling serve() is the clean shutdown: clients hear "going away".
        task.cancel()
        assert await closed(ws) == 1001
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_serve_runs_the_mqtt_bridge(ha_server: HomeAssistantServer, broker: Broker) -> None:
    settings = _ha_settings(ha_server, mqtt=MqttSettings(host="127.0.0.1", port=broker.port))
    system_id = ha_server.system_id
    async with aiomqtt.Client("127.0.0.1", broker.port) as mqtt:
        await mqtt.subscribe(f"sunstream/{system_id}/state", qos=1)
        async with serving(settings):
            async with asyncio.timeout(15):
                message = await anext(aiter(mqtt.messages))
            assert isinstance(message.payload, bytes)
            assert orjson.loads(message.payload)["system_id"] == system_id


async def test_access_log_writes_no_query_strings_or_tokens(
    ha_server: HomeAssistantServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: at debug level aiohttp's default line wrote query strings and Referer."""
    caplog.set_level(logging.DEBUG)
    settings = _ha_settings(ha_server, log_level="debug")
    base = f"http://127.0.0.1:{settings.port}"
    generated = "9f" * 32  # the shape of the app's generated tokens
    requests = [
        f"/api/systems?access_token={ADMIN_TOKEN}&note=query-marker",
        f"/api/systems/{ha_server.token}",
        f"/api/systems/{ADMIN_TOKEN}",
        f"/api/alerts/{generated}/acknowledge",
        f"/ws/monitoring/{ha_server.system_id}?token=query-marker",
    ]
    referer = {"Referer": f"{base}/?access_token={ADMIN_TOKEN}&referer-marker=1"}
    async with serving(settings), aiohttp.ClientSession() as session:
        await _health(base, feed=True)
        for path in requests:
            async with session.get(f"{base}{path}", headers={**bearer(), **referer}) as response:
                await response.read()
    lines = [r.getMessage() for r in caplog.records if r.name == "sunstream_monitor.runner"]
    logged = "\n".join(lines)
    assert '"GET /api/systems" 200' in logged
    assert '"GET /api/systems/<redacted>" 404' in logged
    assert '"GET /api/alerts/<redacted>/acknowledge" 405' in logged
    assert f'"GET /ws/monitoring/{ha_server.system_id}" 400' in logged
    for secret in (ADMIN_TOKEN, ha_server.token, generated, "query-marker", "referer-marker"):
        assert secret not in logged
    assert "?" not in logged

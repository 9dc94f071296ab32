"""Fixtures for the app's monitor server: a real Home Assistant serving HTTP
on a loopback port with a simulated system, and a real Mosquitto broker."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
import os
from pathlib import Path
import shutil
import socket
import subprocess
import time
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunstream.const import DOMAIN
from tests.conftest import entry_data, entry_options

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
)


def free_port() -> int:
    """A TCP port nobody listens on right now, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Broker:
    """A Mosquitto process the test can stop and start again on the same port."""

    port: int
    config: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        assert MOSQUITTO is not None
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop the broker (a restart test calls :meth:`start` again)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Generator[Broker]:
    """A real Mosquitto on a free loopback port, anonymous, no persistence."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (scripts/test installs it)")
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        "per_listener_settings true\n"
        "persistence false\n"
        "log_dest none\n"
        "user root\n"
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n",
        encoding="utf-8",
    )
    config.chmod(0o644)
    server = Broker(port=port, config=config)
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class HomeAssistantServer:
    """A running Home Assistant reachable over loopback HTTP."""

    hass: HomeAssistant
    http_url: str
    ws_url: str
    token: str
    entry: MockConfigEntry
    client: Any = None  # the aiohttp TestClient serving hass.http.app

    @property
    def system_id(self) -> str:
        """The simulated system's id (its config entry's unique id)."""
        assert self.entry.unique_id is not None
        return self.entry.unique_id

    def drop_connections(self) -> int:
        """Abort every open connection on the server side, as a crashing HA would.

        Returns how many were dropped; the server keeps accepting new ones.
        """
        runner = self.client.server.runner
        handlers = list(runner.server.connections)
        for handler in handlers:
            if handler.transport is not None:
                handler.transport.abort()
        return len(handlers)


def longitude_at_noon(when: datetime) -> float:
    """The longitude where it is solar noon at ``when`` (UTC), to the hour's fraction."""
    hours = when.hour + when.minute / 60
    return ((12 - hours) * 15 + 180) % 360 - 180


@pytest.fixture
async def ha_server(
    hass: HomeAssistant,
    socket_enabled: None,
    aiohttp_client: Any,
    hass_access_token: str,
) -> HomeAssistantServer:
    """Home Assistant with a simulated system, its HTTP API on 127.0.0.1.

    The system sits at São Paulo's latitude but at the longitude where it is
    solar noon now: the feed runs on the real clock, and at night the
    simulated values sit still, so tests and benchmarks waiting for a newer
    document would depend on the hour they run.
    """
    await hass.config.async_update(
        latitude=-23.55, longitude=longitude_at_noon(dt_util.utcnow()), currency="BRL"
    )
    assert await async_setup_component(hass, "websocket_api", {})
    assert await async_setup_component(hass, "api", {})
    # Registry commands and auth/current_user, as every real HA has (default_config).
    assert await async_setup_component(hass, "config", {})
    assert await async_setup_component(hass, "auth", {})
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Rooftop",
        unique_id="sim-rooftop",
        data=entry_data(),
        options=entry_options(update_interval=1),
        entry_id="01SUNSTREAMROOFTOP000000000",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    client = await aiohttp_client(hass.http.app)
    base = str(client.make_url("/")).rstrip("/")
    return HomeAssistantServer(
        hass=hass,
        http_url=base,
        ws_url=base.replace("http://", "ws://") + "/api/websocket",
        token=hass_access_token,
        entry=entry,
        client=client,
    )

"""The dashboard page in headless Chromium, against the real server on loopback."""

from __future__ import annotations

from collections.abc import AsyncGenerator
import json
import os
from pathlib import Path
import shutil
from typing import Any

from aiohttp import web
import pytest

from sunstream_monitor.auth import Authenticator
from sunstream_monitor.hub import Hub, SystemInfo
from sunstream_monitor.settings import Settings
from sunstream_monitor.web import create_app

from .cdp import CHROMIUM, Page, chromium
from .conftest import free_port
from .test_sio import OTHER, SYSTEM, document

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (scripts/test installs it)"
)

TOKEN = "dashboard-test-token"
REPO = Path(__file__).resolve().parents[2]
INGRESS_PREFIX = "/api/hassio_ingress/4Xb8TqTestIngressToken"


def artifact(source: Path) -> Path:
    """Copy a test artifact to the stable place CI collects (never into git)."""
    target_dir = Path(os.environ.get("SUNSTREAM_ARTIFACTS") or REPO / ".artifacts")
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / source.name
    shutil.copyfile(source, target)
    return target


class Server:
    """The whole monitor server (create_app) on a fixed loopback port; restartable."""

    def __init__(self, hub: Hub, *, prefix: str = "", **settings: Any) -> None:
        self.hub = hub
        self.prefix = prefix
        self.settings = Settings(tokens=(TOKEN,), **settings)
        self.authenticator = Authenticator(self.settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{prefix}/"
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = create_app(self.settings, self.hub, self.authenticator)
        if self.prefix:
            # Behind ingress the page lives under a path prefix it is never told about.
            root = web.Application()
            root.add_subapp(self.prefix, app)
            app = root
        self.runner = web.AppRunner(app, shutdown_timeout=2)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def make_hub() -> Hub:
    hub = Hub()
    hub.set_systems(
        [
            SystemInfo(system_id=SYSTEM, name="Rooftop", source="simulated"),
            SystemInfo(system_id=OTHER, name="Garage", source="simulated"),
        ]
    )
    hub.update_state(SYSTEM, document())
    hub.update_state(OTHER, document(OTHER, name="Garage", current_generation_kw=0.9))
    hub.set_feed_connected(True)
    return hub


@pytest.fixture
async def server(socket_enabled: None) -> AsyncGenerator[Server]:
    srv = Server(make_hub())
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def page(tmp_path: Path, socket_enabled: None) -> AsyncGenerator[Page]:
    async with chromium(tmp_path) as browser_page:
        yield browser_page
        assert browser_page.exceptions == [], browser_page.exceptions


def field(name: str) -> str:
    """JavaScript: the text of a ``data-field`` element."""
    return f"document.querySelector('[data-field=\"{name}\"]').textContent"


BANNER = "document.getElementById('banner').dataset.state"
BANNER_TEXT = "document.getElementById('banner').textContent"


async def banner_is(page: Page, state: str, *, within: float = 10.0) -> str:
    """Wait until the banner shows ``state``; its text."""
    await page.wait_for(f"{BANNER} === {json.dumps(state)}", within=within, what=f"banner {state}")
    text: str = await page.evaluate(BANNER_TEXT)
    return " ".join(text.split())


async def open_dashboard(
    page: Page, server: Server, query: str = f"?token={TOKEN}#{SYSTEM}"
) -> None:
    await page.navigate(server.url + query)
    await banner_is(page, "live")
    await page.wait_for(f"{field('current_generation_kw')} !== '—'", what="first values")


async def test_values_chart_and_live_update(page: Page, server: Server, tmp_path: Path) -> None:
    await open_dashboard(page, server)
    # The token left the address bar for the tab's session storage.
    assert await page.evaluate("location.search") == ""
    assert await page.evaluate("sessionStorage.getItem('sunstream.token')") == TOKEN

    assert await page.evaluate("document.getElementById('system-name').textContent") == "Rooftop"
    values = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('[data-field]')]"
        ".map((e) => [e.dataset.field, e.textContent]))"
    )
    assert values == {
        "current_generation_kw": "3.42",
        "today_generation_kwh": "12.5",
        "monthly_generation_kwh": "310.25",
        "total_generation_kwh": "10,234.5",
        "today_savings": "R$10.63",
        "monthly_savings": "R$263.71",
        "total_savings": "R$8,699.33",
        "co2_offset_kg": "5,117.25",
        "trees_planted_equivalent": "244",
        "battery.soc_percent": "76",
        "battery.power_kw": "1.2",
        "battery.direction": "charging",
        "grid.power_kw": "0.8",
        "grid.direction": "exporting",
        "load.power_kw": "1.42",
        "inverter.temperature_c": "41.5",
        "inverter.status": "Running",
    }
    # Each system's first document arrives on its own: wait for both before reading the list.
    await page.wait_for(
        "[...document.querySelectorAll('#system-list button')]"
        ".filter((b) => b.innerText.includes('kW')).length === 2",
        what="both systems' first values",
    )
    systems = await page.evaluate(
        "[...document.querySelectorAll('#system-list button')].map((b) => b.innerText)"
    )
    assert [" ".join(text.split()) for text in systems] == [
        "Garage online 0.9 kW",
        "Rooftop online 3.42 kW",
    ]
    # The 24 h chart: one bar per hour, drawn from chart_data, with a text summary.
    assert await page.evaluate("document.querySelectorAll('#chart rect.bar').length") == 24
    assert await page.evaluate("document.querySelectorAll('#chart-table tr').length") == 24
    summary = await page.evaluate("document.getElementById('chart-summary').textContent")
    assert "peak 1.8 kWh at 12:00" in summary
    tallest = await page.evaluate(
        "Math.max(...[...document.querySelectorAll('#chart rect.bar')]"
        ".map((r) => Number(r.getAttribute('height'))))"
    )
    assert tallest == pytest.approx(180.0)  # 1.8 kWh on a 2 kWh scale: 90 % of the 200 px plot

    server.hub.update_state(
        SYSTEM,
        document(
            current_generation_kw=4.75,
            grid={"power_kw": 0.3, "import_energy_kwh": 3.3, "export_energy_kwh": 5.6},
        ),
    )
    await page.wait_for(f"{field('current_generation_kw')} === '4.75'", what="the new value")
    assert await page.evaluate(field("grid.direction")) == "importing"

    # Picking another system shows its values.
    await page.evaluate("document.querySelector('[data-system-id=\"sim-garage\"]').click()")
    await page.wait_for(f"{field('current_generation_kw')} === '0.9'", what="the other system")
    await page.evaluate("document.querySelector('[data-system-id=\"sim-rooftop\"]').click()")
    await page.wait_for(f"{field('current_generation_kw')} === '4.75'")

    # An alert on screen for the screenshot.
    server.hub.raise_alert(
        SYSTEM, {"rule": "battery_low", "severity": "warning", "value": 9.0, "threshold": 10.0}
    )
    await page.wait_for("document.querySelectorAll('#alert-list li').length === 1")
    shot = await page.screenshot(tmp_path / "dashboard.png")
    assert shot.stat().st_size > 10_000
    artifact(shot)
    await page.send(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    dark_bg = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark_bg == "rgb(17, 20, 24)"
    artifact(await page.screenshot(tmp_path / "dashboard-dark.png"))


async def test_banner_follows_connectivity_feed_and_server(
    page: Page, server: Server, tmp_path: Path
) -> None:
    await open_dashboard(page, server)
    outage = {"system_id": SYSTEM, "source": "simulated", "reason": "simulated_outage"}

    # A simulated outage of the system.
    server.hub.publish_event("connectivity", SYSTEM, {**outage, "connected": False})
    text = await banner_is(page, "offline")
    assert text == "OFFLINE Rooftop is offline (simulated outage)."
    assert await page.evaluate("document.getElementById('system-status').textContent") == "offline"
    artifact(await page.screenshot(tmp_path / "dashboard-offline.png"))
    server.hub.publish_event("connectivity", SYSTEM, {**outage, "connected": True})
    assert await banner_is(page, "live") == "LIVE Rooftop is online."

    # A part going away (e.g. the battery link) is not the system going away.
    server.hub.publish_event("connectivity", SYSTEM, {**outage, "connected": False, "part": "bms"})
    server.hub.update_state(SYSTEM, document(current_generation_kw=3.9))
    await page.wait_for(f"{field('current_generation_kw')} === '3.9'")
    assert await page.evaluate(BANNER) == "live"

    # The server loses Home Assistant.
    server.hub.set_feed_connected(False)
    assert "lost its link to Home Assistant" in await banner_is(page, "offline")
    server.hub.set_feed_connected(True)
    await banner_is(page, "live")

    # The page loses the server: OFFLINE, then back by itself once it returns,
    # with whatever changed meanwhile.
    await server.stop()
    assert "Connection to the Sunstream app lost" in await banner_is(page, "offline", within=5)
    server.hub.update_state(SYSTEM, document(current_generation_kw=2.25))
    await server.start()
    await banner_is(page, "live", within=15)
    await page.wait_for(f"{field('current_generation_kw')} === '2.25'", what="resync")


async def test_alerts_listed_and_acknowledged(page: Page, server: Server) -> None:
    early = server.hub.raise_alert(
        SYSTEM, {"rule": "inverter_over_temperature", "severity": "critical", "value": 81.0}
    )
    await open_dashboard(page, server)
    # Alerts raised before the page opened come from the HTTP list.
    await page.wait_for("document.querySelectorAll('#alert-list li').length === 1")
    text = await page.evaluate("document.querySelector('#alert-list li').textContent")
    assert "Inverter over temperature — Rooftop" in text
    assert "value 81" in text

    late = server.hub.raise_alert(
        OTHER, {"rule": "battery_low", "severity": "warning", "value": 9.0, "threshold": 10.0}
    )
    await page.wait_for("document.querySelectorAll('#alert-list li').length === 2")
    assert await page.evaluate("document.getElementById('no-alerts').hidden") is True

    button = f"document.querySelector('button.ack[data-alert-id=\"{late.alert_id}\"]')"
    assert await page.evaluate(f"{button}.getAttribute('aria-label')") == (
        "Acknowledge Battery low on Garage"
    )
    await page.evaluate(f"{button}.click()")
    await page.wait_for(f"{button}.textContent === 'Acknowledged' && {button}.disabled")
    assert late.acknowledged
    assert late.acknowledged_by == "token-1"
    assert not early.acknowledged
    item = f"document.querySelector('li[data-alert-id=\"{late.alert_id}\"]').textContent"
    assert "acknowledged by token-1" in await page.evaluate(item)


async def test_token_form_when_no_or_wrong_token(page: Page, server: Server) -> None:
    await page.navigate(server.url + f"#{SYSTEM}")
    await page.wait_for("!document.getElementById('token-form').hidden", what="the token form")
    assert await banner_is(page, "offline") == "OFFLINE An access token is needed."

    # A wrong token is refused and forgotten; the form says why.
    await page.navigate(server.url + f"?token=wrong#{SYSTEM}")
    await page.wait_for(
        "document.getElementById('token-reason').textContent.includes('refused')",
        what="the refusal",
    )
    assert await page.evaluate("sessionStorage.getItem('sunstream.token')") is None

    await page.evaluate(f"document.getElementById('token-input').value = {json.dumps(TOKEN)}")
    await page.evaluate("document.getElementById('token-form').requestSubmit()")
    await banner_is(page, "live")
    await page.wait_for(f"{field('current_generation_kw')} === '3.42'")
    assert await page.evaluate("document.getElementById('token-form').hidden") is True


async def test_behind_ingress_without_token(page: Page, socket_enabled: None) -> None:
    # The "Supervisor" is loopback here, so the browser's requests are trusted
    # once they carry ingress headers, as the real proxy adds them.
    server = Server(make_hub(), prefix=INGRESS_PREFIX, trusted_proxies=("127.0.0.1",))
    await server.start()
    try:
        await page.send("Network.enable")
        await page.send(
            "Network.setExtraHTTPHeaders",
            {"headers": {"X-Ingress-Path": INGRESS_PREFIX, "X-Remote-User-Name": "ana"}},
        )
        alert = server.hub.raise_alert(SYSTEM, {"rule": "grid_voltage_high"})
        await open_dashboard(page, server, query=f"#{SYSTEM}")
        assert await page.evaluate("document.getElementById('token-form').hidden") is True
        assert await page.evaluate(field("current_generation_kw")) == "3.42"
        await page.wait_for("document.querySelectorAll('#alert-list button.ack').length === 1")
        await page.evaluate("document.querySelector('#alert-list button.ack').click()")
        await page.wait_for("document.querySelector('#alert-list button.ack').disabled")
        assert alert.acknowledged_by == "ana"
    finally:
        await server.stop()


async def test_a_browser_watches_a_system_on_ws_monitoring(page: Page, server: Server) -> None:
    """Seed 000's client (docs/protocols/app-seeds.md#seed-000) in a browser, on the lean socket."""
    await page.navigate(server.url + "health")  # a page of the server's own origin
    await page.evaluate(
        f"""
        window.got = [];
        const ws = new WebSocket('ws://127.0.0.1:{server.port}/ws/monitoring/{SYSTEM}');
        ws.onmessage = (event) => {{
          const message = JSON.parse(event.data);
          window.got.push(message);
          if (message.type === 'auth_required') {{
            ws.send(JSON.stringify({{type: 'auth', access_token: '{TOKEN}'}}));
          }} else if (message.type === 'monitoring_data' && !window.pinged) {{
            window.pinged = true;
            ws.send(JSON.stringify({{type: 'ping', id: 7}}));
          }}
        }};
        ws.onclose = (event) => {{ window.closedWith = event.code; }};
        window.socket = ws;
        true
        """
    )
    await page.wait_for("window.got.some((m) => m.type === 'pong')", what="pong")
    got = await page.evaluate("window.got")
    assert [m["type"] for m in got] == ["auth_required", "auth_ok", "monitoring_data", "pong"]
    assert got[2]["system_id"] == SYSTEM
    assert got[3] == {"type": "pong", "id": 7}
    server.hub.update_state(SYSTEM, document(current_generation_kw=4.25))
    await page.wait_for(
        "window.got.some((m) => m.type === 'monitoring_data' && "
        "m.data.current_generation_kw === 4.25)",
        what="the next document",
    )
    await page.evaluate("window.socket.close(1000); true")
    await page.wait_for("window.closedWith === 1000", what="the close echoed")

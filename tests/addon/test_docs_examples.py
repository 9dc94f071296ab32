"""The example clients in docs/examples, run against the real app server.

The server is started the way tests/addon/test_runner.py does (``serve``
following a real Home Assistant with a simulated system, over loopback);
the Python example runs as its own process, exactly as a reader would run
it, and the browser example is opened in headless Chromium.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import sys
from urllib.parse import urlencode

import pytest

from sunstream_monitor.runner import serve
from sunstream_monitor.settings import Settings

from .cdp import CHROMIUM, chromium
from .conftest import HomeAssistantServer, free_port
from .test_runner import _health
from .web_support import ADMIN_TOKEN

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
CLIENT = EXAMPLES / "monitor_client.py"
PAGE = EXAMPLES / "monitor.html"


@dataclass(frozen=True)
class App:
    """The app server, following Home Assistant, on a loopback port."""

    base: str
    system_id: str
    ha_token: str


@pytest.fixture
async def app(ha_server: HomeAssistantServer) -> AsyncIterator[App]:
    settings = Settings(
        source="ha",
        ha_url=ha_server.ws_url,
        ha_token=ha_server.token,
        host="127.0.0.1",
        port=free_port(),
        tokens=(ADMIN_TOKEN,),
    )
    base = f"http://127.0.0.1:{settings.port}"
    task = asyncio.create_task(serve(settings))
    try:
        await _health(base, feed=True)
        yield App(base=base, system_id=ha_server.system_id, ha_token=ha_server.token)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _client(*args: str) -> tuple[int, str, str]:
    """Run the Python example as a reader would; exit code, stdout, stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUNSTREAM_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CLIENT),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_python_example_prints_monitoring_data(app: App) -> None:
    code, out, err = await _client("--server", app.base, "--token", ADMIN_TOKEN, "--count", "2")
    assert code == 0, err
    assert f"following {app.system_id} (Rooftop)" in err
    lines = out.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert " Rooftop [online], PV " in line
        assert " kW, battery " in line


async def test_python_example_with_a_home_assistant_token(app: App) -> None:
    code, out, err = await _client(
        "--server",
        app.base,
        "--token",
        app.ha_token,
        "--system",
        app.system_id,
        "--count",
        "1",
        "--json",
    )
    assert code == 0, err
    document = json.loads(out)
    assert document["system_id"] == app.system_id
    assert document["name"] == "Rooftop"
    assert document["source"] == "simulated"
    assert document["currency"] == "BRL"
    assert 0 <= document["battery"]["soc_percent"] <= 100
    assert len(document["chart_data"]["values"]) == 24


async def test_python_example_reports_refusals(app: App) -> None:
    code, out, err = await _client("--server", app.base, "--token", "not-a-token-at-all")
    assert (code, out) == (1, "")
    assert err.startswith("error: GET /api/systems: 401")

    code, out, err = await _client(
        "--server", app.base, "--token", ADMIN_TOKEN, "--system", "nobody", "--count", "1"
    )
    assert (code, out) == (1, "")
    assert err.startswith("error: unknown_system")
    assert app.system_id in err


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/test installs it)")
async def test_browser_example_shows_live_values(app: App, tmp_path: Path) -> None:
    settings = urlencode(
        {
            "server": app.base.replace("http://", "ws://"),
            "token": ADMIN_TOKEN,
            "system": app.system_id,
        }
    )
    async with chromium(tmp_path) as page:
        await page.navigate(f"{PAGE.as_uri()}#{settings}")
        await page.wait_for(
            "document.getElementById('state').dataset.state === 'live'", what="live data"
        )
        assert await page.evaluate("document.getElementById('name').textContent") == "Rooftop"
        pv = await page.evaluate("document.getElementById('pv').textContent")
        assert float(pv) >= 0
        soc = await page.evaluate("document.getElementById('soc').textContent")
        assert 0 <= float(soc) <= 100
        assert await page.evaluate("document.getElementById('currency').textContent") == "BRL"
        assert page.exceptions == []

"""A tiny Chrome DevTools Protocol driver: headless Chromium, one page, over aiohttp.

Just what the dashboard tests need — navigate, evaluate JavaScript, wait for
a condition, set extra headers, emulate a colour scheme, take a screenshot —
with every wait bounded. No Selenium, no Playwright, no downloads: the
Chromium of the test machine (``/usr/bin/chromium``).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator, Mapping
import contextlib
import itertools
import json
import os
from pathlib import Path
import shutil
import subprocess
import time
from typing import Any

import aiohttp

CHROMIUM = next(
    (
        path
        for path in (
            os.environ.get("CHROMIUM"),
            shutil.which("chromium"),
            shutil.which("chromium-browser"),
            "/usr/bin/chromium",
        )
        if path and os.path.exists(path)
    ),
    None,
)

START_TIMEOUT = 30.0
COMMAND_TIMEOUT = 15.0

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--lang=en-US",
    "--force-device-scale-factor=1",
    "--window-size=1280,1000",
)


class CDPError(RuntimeError):
    """A DevTools command failed, or the page threw."""


class Page:
    """One page target, driven over its DevTools WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.console: list[str] = []
        self.exceptions: list[str] = []
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                self._event(data.get("method", ""), data.get("params", {}))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CDPError("DevTools connection closed"))

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled":
            text = " ".join(
                str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])
            )
            self.console.append(f"{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception", {})
            self.exceptions.append(str(exception.get("description") or details.get("text")))

    async def send(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run one DevTools command; its ``result``."""
        command_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        await self._ws.send_str(
            json.dumps({"id": command_id, "method": method, "params": dict(params or {})})
        )
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                reply = await future
        finally:
            self._pending.pop(command_id, None)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"{expression!r} threw: {text}")
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, *, within: float = 10.0, what: str = "") -> Any:
        """Poll ``expression`` until it is truthy; its value. Fails after ``within`` s."""
        deadline = time.monotonic() + within
        last: Any = None
        while True:
            with contextlib.suppress(CDPError):
                last = await self.evaluate(expression)
                if last:
                    return last
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"waited {within} s for {what or expression!r}; last value {last!r}; "
                    f"page exceptions {self.exceptions!r}; console {self.console[-10:]!r}"
                )
            await asyncio.sleep(0.1)

    async def navigate(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""
        await self.send("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete'", what=f"{url} to load")

    async def screenshot(self, path: Path) -> Path:
        """Save a PNG of the whole page at ``path``."""
        metrics = await self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if size:
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": size["height"],
                "scale": 1,
            }
        result = await self.send("Page.captureScreenshot", params)
        await asyncio.to_thread(_write, path, base64.b64decode(result["data"]))
        return path

    async def close(self) -> None:
        """Close the DevTools connection."""
        await self._ws.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await self._reader
        if not self._reader.done():
            self._reader.cancel()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _launch(profile: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start Chromium with a fresh profile.

    Port 0: Chromium picks a free port and names it in DevToolsActivePort,
    so two test runs can never race for the same port.
    """
    profile.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                CHROMIUM or "chromium",
                *FLAGS,
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _wait_for_port_file(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """Chromium writes the port it chose (``--remote-debugging-port=0``) here."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CDPError(f"chromium exited with {process.returncode} before DevTools was ready")
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(port_file.read_text(encoding="utf-8").splitlines()[0])
        time.sleep(0.05)
    raise TimeoutError(f"chromium did not open DevTools within {START_TIMEOUT} s")


@contextlib.asynccontextmanager
async def chromium(workdir: Path) -> AsyncGenerator[Page]:
    """Start headless Chromium with a fresh profile; yield its first page; stop it after."""
    if CHROMIUM is None:
        raise CDPError("chromium is not installed")
    profile = workdir / "chromium-profile"
    process = await asyncio.to_thread(_launch, profile, workdir / "chromium.log")
    page: Page | None = None
    try:
        port = await asyncio.to_thread(_wait_for_port_file, profile, process)
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                        targets = await response.json(content_type=None)
                    pages = [t for t in targets if t.get("type") == "page"]
                    if pages:
                        break
                    await asyncio.sleep(0.1)
                ws = await session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
            page = Page(ws)
            await page.send("Page.enable")
            await page.send("Runtime.enable")
            yield page
    finally:
        if page is not None:
            await page.close()
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait, 5)

"""Compose and run the server: hub, feed, authenticator, web app, MQTT bridge.

:func:`serve` runs until cancelled; :func:`run` is the process's main loop,
turning SIGTERM/SIGINT (how the Supervisor and s6 stop the app) into that
cancellation so clients get a 1001 close and the bridge says "offline"
before the process exits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
import contextlib
import importlib
import logging
import signal
from typing import Any, Final

import aiohttp
from aiohttp import web

from .access_log import access_logger
from .auth import Authenticator
from .bridge import MqttBridge
from .feeds.ha import HomeAssistantFeed
from .feeds.mqtt import MqttFeed
from .hub import Hub
from .settings import Settings
from .web import create_app

_LOGGER = logging.getLogger(__name__)

# How long shutdown waits for handlers after clients were told to go.
SHUTDOWN_TIMEOUT: Final = 10.0

type CallService = Callable[[str, str, dict[str, Any]], Awaitable[Any]]


class FeedStopped(RuntimeError):
    """A part that should run forever returned; the process should restart."""


async def _forever(name: str, coro: Coroutine[Any, Any, None]) -> None:
    """Run a part that only ends by cancellation; ending any other way is an error."""
    await coro
    raise FeedStopped(f"{name} stopped unexpectedly")


def _build_feed(
    settings: Settings, hub: Hub, session: aiohttp.ClientSession
) -> tuple[Callable[[], Coroutine[Any, Any, None]], Any, CallService | None]:
    """The feed's ``run``, its token validator and its service caller (HA mode only)."""
    if settings.source == "ha":
        ha = HomeAssistantFeed(settings, hub, session)
        return ha.run, ha.validate_token, ha.call_service
    if settings.mqtt is None:
        raise ValueError("MQTT mode needs settings.mqtt")
    replica = MqttFeed(settings.mqtt, hub)
    return replica.run, None, None


async def serve(settings: Settings) -> None:
    """Serve until cancelled; raises if the feed or the bridge stops on its own."""
    hub = Hub()
    async with aiohttp.ClientSession() as session:
        run_feed, validate_token, call_service = _build_feed(settings, hub, session)
        authenticator = Authenticator(settings, validate_token)
        app = create_app(settings, hub, authenticator)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=_LOGGER if settings.log_level == "debug" else None,
            # Never aiohttp's default line: it writes query strings and Referer.
            access_log_class=access_logger((*settings.tokens, settings.ha_token)),
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
            await site.start()
            _LOGGER.info(
                "Serving on %s:%d (source: %s)", settings.host, settings.port, settings.source
            )
            async with asyncio.TaskGroup() as parts:
                parts.create_task(_forever("feed", run_feed()), name="sunstream-feed")
                if settings.mqtt is not None and settings.source == "ha":
                    bridge = MqttBridge(settings.mqtt, hub, call_service)
                    parts.create_task(
                        _forever("MQTT bridge", bridge.run()), name="sunstream-bridge"
                    )
        finally:
            await runner.cleanup()


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """Return uvloop's loop factory when it is installed (faster sockets), else ``None``."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def _serve_until_signalled(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stopping = asyncio.Event()

    def stop(signum: int) -> None:
        _LOGGER.info("Received %s; shutting down", signal.Signals(signum).name)
        stopping.set()
        task.cancel()

    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop, signum)
    try:
        await serve(settings)
    except asyncio.CancelledError:
        if not stopping.is_set():
            raise
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)


def run(settings: Settings) -> int:
    """Run the server in this process until a signal; the process's exit code."""
    try:
        asyncio.run(_serve_until_signalled(settings), loop_factory=_uvloop_factory())
    except OSError as err:
        _LOGGER.error("Cannot serve on %s:%d: %s", settings.host, settings.port, err)
        return 1
    except Exception:
        _LOGGER.exception("The server stopped")
        return 1
    _LOGGER.info("Stopped")
    return 0

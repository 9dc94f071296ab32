"""The app's monitoring server in a process of its own, with a source of state changes.

Built from the package's public API only (``Settings``, ``Hub``,
``Authenticator``, ``create_app``, ``HomeAssistantFeed``), as
``runner.serve`` composes them. Two sources of changes:

* the ticker (default): :meth:`Hub.update_state` called in this process,
  the twin of ``bench/reference/server.js``'s ticker (same document, same
  fields changed, same stamp), so both servers carry the same stream. The
  stamp is ``CLOCK_MONOTONIC`` in microseconds, taken just before the
  update, so serialization and fan-out are inside the measured latency;
* ``--ha-url``/``--ha-token``: a real Home Assistant through the real feed;
  the stamp is then the document's own ``last_updated`` (HA's state time).

Usage: ``python -m bench.fanout.app_server --port 9100 --token T --system sim-rooftop
--document bench/fanout/document.json --rate 5`` (``--rate 0``: idle after the
first document; ``--rate max``: as fast as the event loop turns). Prints
``READY <port> <event loop module>`` once listening (with a feed: once the
system's first document is in); the ticker starts when a line ``start``
arrives on stdin; stops on SIGTERM or when stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
import contextlib
import functools
import importlib
import json
import os
from pathlib import Path
import signal
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web

from sunstream_monitor.allocator import prefer_mimalloc
from sunstream_monitor.auth import Authenticator
from sunstream_monitor.feeds.ha import HomeAssistantFeed
from sunstream_monitor.hub import Hub, HubEvent, System, SystemInfo
from sunstream_monitor.settings import Settings
from sunstream_monitor.web import create_app

# Both servers listen with the same backlog, so connection storms do not decide the race.
BACKLOG = 1024


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default="bench")
    parser.add_argument("--system", default="sim-rooftop")
    parser.add_argument("--document", type=Path, help="the ticker's document template")
    parser.add_argument("--rate", default="0", help="updates per second, 0 or 'max'")
    parser.add_argument("--max-clients", type=int, default=20_000)
    parser.add_argument("--ha-url", help="feed from this Home Assistant instead of the ticker")
    parser.add_argument("--ha-token", help="its access token")
    return parser.parse_args(argv)


def make_ticker(hub: Hub, system_id: str, template: dict[str, Any]) -> Callable[[], None]:
    """One state change per call: the reference server's ``nextDocument`` in Python."""
    seq = 0

    def tick() -> None:
        nonlocal seq
        seq += 1
        document = dict(template)
        document["bench"] = {"seq": seq, "sent_us": time.monotonic_ns() // 1000}
        document["current_generation_kw"] = (301 + seq % 99) / 100
        hub.update_state(system_id, document)

    return tick


async def _paced(tick: Callable[[], None], rate: float) -> None:
    """Open loop: tick ``k`` is due at ``start + k / rate``; late ticks fire at once."""
    if rate <= 0:
        return
    period = 1.0 / rate
    start = time.monotonic()
    k = 0
    while True:
        k += 1
        await asyncio.sleep(max(0.0, start + k * period - time.monotonic()))
        tick()


async def _flat_out(tick: Callable[[], None]) -> None:
    """One tick per turn of the event loop (the reference uses ``setImmediate``)."""
    while True:
        tick()
        await asyncio.sleep(0)


class _FirstDocument:
    """A hub listener that tells when one system's first document is in."""

    def __init__(self, system_id: str) -> None:
        """Wait for ``system_id``."""
        self.system_id = system_id
        self.arrived = asyncio.Event()

    def on_systems(self, hub: Hub) -> None:
        """Not what we wait for."""

    def on_state(self, system: System) -> None:
        """The document of some system changed."""
        if system.system_id == self.system_id:
            self.arrived.set()

    def on_event(self, event: HubEvent) -> None:
        """Not what we wait for."""


async def serve(args: argparse.Namespace) -> None:
    """Run the server and its source of changes until SIGTERM or stdin EOF."""
    settings = Settings(
        host="127.0.0.1",
        port=args.port,
        tokens=(args.token,),
        ha_url=args.ha_url,
        ha_token=args.ha_token,
        max_clients=args.max_clients,
        max_clients_per_ip=args.max_clients,
    )
    hub = Hub()
    async with contextlib.AsyncExitStack() as stack:
        source: asyncio.Task[None] | None = None
        # The ticker's stream starts when the harness says "start" on stdin (every client
        # connected), so a flat-out stream does not starve the handshakes.
        stream: Callable[[], Coroutine[Any, Any, None]] | None = None
        if args.ha_url:
            # End to end: Home Assistant's state changes reach the hub through the real feed.
            session = await stack.enter_async_context(aiohttp.ClientSession())
            feed = HomeAssistantFeed(settings, hub, session)
            authenticator = Authenticator(settings, feed.validate_token)
            first = _FirstDocument(args.system)
            remove = hub.add_listener(first)
            source = asyncio.create_task(feed.run())
            async with asyncio.timeout(60):
                await first.arrived.wait()
            remove()
        else:
            hub.set_systems(
                [SystemInfo(system_id=args.system, name="Benchmark", source="simulated")]
            )
            authenticator = Authenticator(settings)
            tick = make_ticker(hub, args.system, json.loads(args.document.read_text()))
            tick()  # the document a client gets on connect
            if args.rate == "max":
                stream = functools.partial(_flat_out, tick)
            else:
                stream = functools.partial(_paced, tick, float(args.rate))
        runner = web.AppRunner(
            create_app(settings, hub, authenticator), access_log=None, handle_signals=False
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, settings.host, settings.port, backlog=BACKLOG).start()

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)

        def stdin_readable() -> None:
            nonlocal source
            data = os.read(sys.stdin.fileno(), 4096)
            if not data:
                stop.set()
            elif b"start" in data and source is None and stream is not None:
                source = asyncio.create_task(stream())

        loop.add_reader(sys.stdin.fileno(), stdin_readable)
        print(f"READY {settings.port} {type(loop).__module__}", flush=True)
        await stop.wait()
        loop.remove_reader(sys.stdin.fileno())
        if source is not None:
            source.cancel()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed, as ``runner.run`` does; the stock loop otherwise."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main() -> None:
    """Entry point: ``python -m bench.fanout.app_server``; on the allocator the app runs on."""
    prefer_mimalloc()
    asyncio.run(serve(_args()), loop_factory=_loop_factory())


if __name__ == "__main__":
    main()

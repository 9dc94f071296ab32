"""The fleet's Home Assistants: real ``hass`` processes, each with N simulated systems.

Each is started as the soak starts its one (``bench/soak/home_assistant.py``:
a throw-away config dir, ``hass -c``, the integration symlinked from this
working tree), but without the recorder, as the other benchmarks, so its
CPU is Sunstream's and Home Assistant's own. It is onboarded and given its
systems through the public HTTP APIs by ``scripts/lib/develop_bootstrap.py``,
one config flow per system, as a user adds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.soak.home_assistant import (
    finish_setup,
    hass_process,
    keep_only_sunstream,
    load_bootstrap,
    write_config,
)
from bench.soak.procs import Proc


@dataclass(slots=True)
class Home:
    """One Home Assistant of the fleet."""

    index: int  # 1, 2, …: also names its systems and its bridge's MQTT prefix
    port: int
    proc: Proc
    token: str = ""  # long-lived access token, once set up

    @property
    def ws_url(self) -> str:
        """Its WebSocket API, where its bridge connects."""
        return f"ws://127.0.0.1:{self.port}/api/websocket"

    @property
    def prefix(self) -> str:
        """Where its bridge publishes (one prefix per bridge; every replica follows all)."""
        return f"sunstream/ha{self.index}"


def start_home(index: int, port: int, work: Path) -> Home:
    """Write the config dir and start ``hass``; set it up with :func:`set_up`."""
    config = work / f"ha{index}"
    write_config(config, port, recorder=False)
    proc = hass_process(config, work / f"ha{index}.log")
    proc.name = f"hass{index}"
    proc.start()
    return Home(index, port, proc)


def system_name(home: int, number: int) -> str:
    """``Fleet 1-07``: unique across the fleet, so every system id is."""
    return f"Fleet {home}-{number:02d}"


async def set_up(home: Home, systems: int, interval: int) -> None:
    """Onboard, add ``systems`` simulated systems polled every ``interval`` s; keep a token."""
    boot = load_bootstrap()
    url = f"http://127.0.0.1:{home.port}"
    assert home.proc.pid is not None
    async with aiohttp.ClientSession() as session:
        hass = boot.Hass(session, url)
        console = boot.ConsoleLog(home.proc.log)
        steps = await boot.wait_for_http(hass, 900, home.proc.pid, console)
        await boot.onboard(hass, steps)
        await boot.wait_until_running(hass, boot.RUNNING_TIMEOUT, home.proc.pid, console)
        # Confirm the HTTP settings now: unconfirmed, Home Assistant reverts them and
        # restarts five minutes after its first start (see finish_setup).
        home.token = await finish_setup(home.ws_url, hass.token)
        await keep_only_sunstream(hass)
        for number in range(1, systems + 1):
            form = {**boot.SYSTEM, "name": system_name(home.index, number)}
            await boot.add_simulated(hass, {**form, "update_interval": interval})

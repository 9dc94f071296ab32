"""What the soak watches, all of it written to ``timeline.jsonl`` as it happens.

* :class:`HealthProbe` — ``GET /health`` of the app twice a second: is the
  process serving, is its Home Assistant feed connected;
* :class:`ChannelObserver` — one ``/ws`` client subscribed to ``"*"``:
  ``connection_status`` (feed and every system's status as dashboards see
  it) and every event frame the app emits (the reference for the MQTT
  check);
* :class:`MqttObserver` — a persistent-session QoS 1 subscriber to
  ``sunstream/#``: bridge status, availabilities, states, events;
* :class:`Sampler` — CPU time and RSS of every process of the soak, and the
  whole machine's busy share (the machine is shared).

:class:`Health` is the current picture the fault lanes wait on to call a
fault recovered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import json
from typing import Any

import aiohttp
import aiomqtt

from .common import JsonLines, now
from .procs import Proc, machine_busy, sample

EVENT_TYPES = frozenset({"connectivity", "dispatch", "alert", "alert_acknowledged"})


@dataclass
class Health:
    """The latest of everything observed; fault lanes poll it."""

    app_up: bool = False
    feed: bool | None = None
    probe_at: float = 0.0  # when /health last answered (or failed to)
    observer_up: bool = False
    observer_feed: bool | None = None
    app_status: dict[str, str] = field(default_factory=dict)
    mqtt_up: bool = False
    bridge: str | None = None
    bridge_live_online_at: float = 0.0  # last "online" the bridge sent while we listened
    mqtt_state_at: dict[str, float] = field(default_factory=dict)
    update_at: dict[str, float] = field(default_factory=dict)  # last document on /ws
    clients: int = 0
    clients_target: int = 0
    stalled: int = 0

    def app_whole(self, since: float) -> bool:
        """Serving, fed, every client back, bridge re-announced since ``since``."""
        return (
            self.app_up
            and self.feed is True
            and self.observer_up
            and self.observer_feed is True
            and self.clients >= self.clients_target
            and self.bridge_live_online_at > since
        )


class HealthProbe:
    def __init__(self, port: int, health: Health, out: JsonLines) -> None:
        self.url = f"http://127.0.0.1:{port}/health"
        self.health = health
        self.out = out

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=2.0)
        last: tuple[bool, bool | None] | None = None
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                up, feed = False, None
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                    async with session.get(self.url) as resp:
                        if resp.status == 200:
                            body = await resp.json()
                            up, feed = True, bool(body.get("feed_connected"))
                self.health.app_up, self.health.feed = up, feed
                self.health.probe_at = now()
                if (up, feed) != last:
                    last = (up, feed)
                    self.out.write({"t": now(), "src": "health", "up": up, "feed": feed})
                await asyncio.sleep(0.5)


class ChannelObserver:
    """The app as a ``/ws`` dashboard sees it."""

    def __init__(self, port: int, token: str, health: Health, out: JsonLines) -> None:
        self.url = f"http://127.0.0.1:{port}/ws"
        self.token = token
        self.health = health
        self.out = out
        self.events: list[dict[str, Any]] = []
        self.updates: dict[str, int] = {}
        self.last_document: dict[str, str] = {}

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError, ValueError):
                    await self._session(session)
                if self.health.observer_up:
                    self.health.observer_up = False
                    self.health.observer_feed = None
                    self.out.write({"t": now(), "src": "observer", "what": "link", "up": False})
                await asyncio.sleep(0.25)

    async def _session(self, session: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with session.ws_connect(
            self.url, headers=headers, autoping=True, max_msg_size=0
        ) as ws:
            await ws.send_json({"type": "subscribe", "system_id": "*"})
            self.health.observer_up = True
            self.out.write({"t": now(), "src": "observer", "what": "link", "up": True})
            last_status: Any = None
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                kind = frame.get("type")
                t = now()
                if kind == "connection_status":
                    status = (frame.get("feed_connected"), frame.get("systems") or {})
                    self.health.observer_feed = status[0]
                    self.health.app_status = dict(status[1])
                    if status != last_status:
                        last_status = status
                        self.out.write(
                            {
                                "t": t,
                                "src": "observer",
                                "what": "status",
                                "feed": status[0],
                                "systems": status[1],
                            }
                        )
                elif kind == "monitoring_update":
                    system = str(frame.get("system_id"))
                    self.updates[system] = self.updates.get(system, 0) + 1
                    self.health.update_at[system] = t
                    data = frame.get("data")
                    self.last_document[system] = json.dumps(data, sort_keys=True)
                    self.out.write({"t": t, "src": "observer", "what": "update", "system": system})
                elif kind in EVENT_TYPES:
                    record = {"t": t, "src": "observer", "what": "event", "frame": frame}
                    self.events.append(record)
                    self.out.write(record)


class MqttObserver:
    """A persistent-session subscriber: what MQTT consumers of the bridge get."""

    def __init__(self, port: int, health: Health, out: JsonLines, prefix: str = "sunstream"):
        self.port = port
        self.health = health
        self.out = out
        self.prefix = prefix
        self.events: list[dict[str, Any]] = []
        self.states: dict[str, int] = {}
        self.last_state: dict[str, str] = {}
        self.connects = 0

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    self.port,
                    identifier="sunstream-soak-observer",
                    clean_session=False,
                    keepalive=10,
                    timeout=5,
                ) as client:
                    await client.subscribe(f"{self.prefix}/#", qos=1)
                    self.connects += 1
                    self.health.mqtt_up = True
                    self.out.write({"t": now(), "src": "mqtt", "what": "link", "up": True})
                    async for message in client.messages:
                        self._record(message)
            except aiomqtt.MqttError:
                pass
            if self.health.mqtt_up:
                self.health.mqtt_up = False
                self.out.write({"t": now(), "src": "mqtt", "what": "link", "up": False})
            await asyncio.sleep(0.2)

    def _record(self, message: aiomqtt.Message) -> None:
        t = now()
        topic = message.topic.value
        levels = topic.split("/")
        payload = message.payload if isinstance(message.payload, bytes) else b""
        retain = bool(message.retain)
        if levels[1:] == ["bridge", "status"]:
            value = payload.decode()
            self.health.bridge = value
            if value == "online" and not retain:
                self.health.bridge_live_online_at = t
            self.out.write(
                {"t": t, "src": "mqtt", "what": "bridge", "value": value, "retain": retain}
            )
        elif len(levels) == 3 and levels[2] == "availability":
            self.out.write(
                {
                    "t": t,
                    "src": "mqtt",
                    "what": "availability",
                    "system": levels[1],
                    "value": payload.decode(),
                    "retain": retain,
                }
            )
        elif len(levels) == 3 and levels[2] == "state":
            system = levels[1]
            self.states[system] = self.states.get(system, 0) + 1
            if not retain:
                self.health.mqtt_state_at[system] = t
            if payload:
                self.last_state[system] = json.dumps(json.loads(payload), sort_keys=True)
            self.out.write(
                {"t": t, "src": "mqtt", "what": "state", "system": system, "retain": retain}
            )
        elif len(levels) == 3 and levels[2] == "events":
            record = {
                "t": t,
                "src": "mqtt",
                "what": "event",
                "frame": json.loads(payload),
                "retain": retain,
                "mid": message.mid,
            }
            self.events.append(record)
            self.out.write(record)


class Sampler:
    """CPU and RSS of each process every ``every`` seconds, and the machine's load."""

    def __init__(self, procs: Callable[[], list[Proc]], out: JsonLines, every: float = 2.0):
        self.procs = procs
        self.out = out
        self.every = every

    async def run(self) -> None:
        import os

        me = os.getpid()
        while True:
            t = now()
            busy, total = machine_busy()
            self.out.write({"t": t, "name": "machine", "busy": busy, "total": total})
            for proc in [*self.procs(), None]:
                pid = me if proc is None else proc.pid
                name = "soak" if proc is None else proc.name
                if pid is None:
                    continue
                got = sample(pid)
                if got is not None:
                    self.out.write({"t": t, "name": name, "pid": pid, "cpu": got[0], "rss": got[1]})
            await asyncio.sleep(self.every)


class LoadWatch:
    """Follows the load generator's stats file into :class:`Health`."""

    def __init__(self, path: Any, health: Health) -> None:
        self.path = path
        self.health = health
        self.last: dict[str, Any] = {}

    async def run(self) -> None:
        offset = 0
        partial = ""
        while True:
            await asyncio.sleep(0.5)
            try:
                chunk, offset = await asyncio.to_thread(_read_from, self.path, offset)
            except OSError:
                continue
            *lines, partial = (partial + chunk).split("\n")
            for line in lines:
                with contextlib.suppress(json.JSONDecodeError):
                    self.last = json.loads(line)
            if self.last:
                self.health.clients = int(self.last.get("connected", 0))
                self.health.stalled = int(self.last.get("stalled", 0))


def _read_from(path: Any, offset: int) -> tuple[str, int]:
    with open(path, encoding="utf-8") as handle:
        handle.seek(offset)
        return handle.read(), handle.tell()

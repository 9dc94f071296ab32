"""``WS /ws``: the command channel of seed 001 (docs/protocols/app-seeds.md#seed-001).

Client → server (``id`` is optional and echoed in the reply):

* ``{"type": "subscribe", "system_id": "…"}`` (``"*"`` = every system) /
  ``{"type": "unsubscribe", "system_id": "…"}``
* ``{"type": "request_status"}`` → ``connection_status``
* ``{"type": "ping"}`` → ``pong``
* ``{"type": "acknowledge_alert", "alert_id": "…"}``

Server → client: ``connection_status`` (on connect, on request and whenever
the feed or a system goes online/offline), and for subscribed systems
``monitoring_update`` (the MonitoringData document), ``power_update`` (just
the powers, small), ``connectivity``, ``alert``, ``alert_acknowledged`` and
``dispatch``. Systems read over Modbus TCP (sources ``modbus`` and
``sungrow_modbus``: AlphaESS and Sungrow) also get their connectivity under
the names of docs/protocols/app-seeds.md#seed-001, ``modbus_connected`` /
``modbus_disconnected``.

Each of those frames is serialized once per change and shared by every
subscriber (see :class:`~sunstream_monitor.clients.Clients`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime
from itertools import chain
import logging
from typing import Any, Final

from aiohttp import web

from . import wire
from .admission import subscription_refusal
from .clients import CLOSE_INTERNAL_ERROR, Client, ClientKind, Clients
from .hub import Hub, HubEvent, SourceKind, System
from .settings import Settings
from .subscribers import Subscribers

_LOGGER = logging.getLogger(__name__)

UPDATE_FRAME: Final = "monitoring_update"
EVERY_SYSTEM: Final = "*"
# How often the feed's connection state is compared with what clients were told.
FEED_CHECK_INTERVAL: Final = 1.0
_KNOWN: Final = ("acknowledge_alert", "auth", "ping", "request_status", "subscribe", "unsubscribe")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _section(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def power_frame(system: System) -> bytes:
    """``power_update``: the current powers only, for gauges that redraw often."""
    document = system.document or {}
    battery = _section(document, "battery")
    return wire.dumps(
        {
            "type": "power_update",
            "system_id": system.system_id,
            "data": {
                "current_generation_kw": document.get("current_generation_kw"),
                "battery_power_kw": battery.get("power_kw"),
                "battery_soc_percent": battery.get("soc_percent"),
                "grid_power_kw": _section(document, "grid").get("power_kw"),
                "load_power_kw": _section(document, "load").get("power_kw"),
                "last_updated": document.get("last_updated"),
            },
        }
    )


def system_status(system: System) -> str:
    """``online`` / ``offline`` / ``maintenance``, or ``unknown`` before any news."""
    status = (system.document or {}).get("status")
    if status == "maintenance":
        return "maintenance"
    if system.connected is not None:
        return "online" if system.connected else "offline"
    return status if isinstance(status, str) else "unknown"


def _with_id(message: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    request_id = message.get("id")
    if isinstance(request_id, int | str) and not isinstance(request_id, bool):
        reply["id"] = request_id
    return reply


def _fail(client: Client, message: dict[str, Any], code: str, text: str, **extra: Any) -> None:
    """An error frame answering ``message`` (its ``id`` echoed); the channel stays open."""
    client.send_json(_with_id(message, {"type": "error", "code": code, "message": text, **extra}))


class ChannelEndpoint:
    """The ``/ws`` handler, its subscriptions, and its link to the hub."""

    def __init__(self, settings: Settings, hub: Hub, clients: Clients) -> None:
        """Serve ``hub`` to ``clients``."""
        self.settings = settings
        self.hub = hub
        self.clients = clients
        self.members: set[Client] = set()
        self.subscribers: Subscribers[Client] = Subscribers()
        # Subscribers of "*" in the order they came (a dict, like Subscribers'; see there).
        self.everything: dict[Client, None] = {}
        self._told: tuple[bool, dict[str, str]] | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- status --------------------------------------------------------------------

    def _status(self) -> tuple[bool, dict[str, str]]:
        systems = {system_id: system_status(s) for system_id, s in self.hub.systems.items()}
        return self.hub.feed_connected, systems

    def status_message(self) -> dict[str, Any]:
        """``connection_status``: the feed's link and every system's state."""
        feed_connected, systems = self._status()
        return {
            "type": "connection_status",
            "feed_connected": feed_connected,
            "systems": systems,
            "timestamp": _now(),
        }

    def _status_changed(self) -> None:
        """Tell every member, once, if the feed or a system changed state."""
        status = self._status()
        if status == self._told:
            return
        self._told = status
        if self.members:
            Clients.broadcast(wire.dumps(self.status_message()), self.members)

    def start(self) -> None:
        """Begin watching the feed's connection (the hub has no callback for it)."""
        self._told = self._status()
        self._schedule_check()

    def _schedule_check(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(FEED_CHECK_INTERVAL, self._check)

    def _check(self) -> None:
        self._status_changed()
        self._schedule_check()

    def close(self) -> None:
        """Stop watching (server shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- hub listener ----------------------------------------------------------------

    def targets(self, system_id: str) -> Collection[Client]:
        """Who hears about ``system_id``: its subscribers, then the ``*`` subscribers, each once."""
        subscribers = self.subscribers.of(system_id)
        if not self.everything:
            return subscribers
        if not subscribers:
            return self.everything.keys()
        return dict.fromkeys(chain(subscribers, self.everything)).keys()

    def on_systems(self, hub: Hub) -> None:
        """Systems came or went: members learn it from ``connection_status``."""
        self._status_changed()

    def on_state(self, system: System) -> None:
        """A new document: ``monitoring_update`` and ``power_update`` to subscribers."""
        targets = self.targets(system.system_id)
        if targets:
            Clients.broadcast(system.frame(UPDATE_FRAME), targets)
            Clients.broadcast(power_frame(system), targets)
        self._status_changed()

    def on_event(self, event: HubEvent) -> None:
        """Connectivity, alerts and dispatches to the system's subscribers."""
        targets = self.targets(event.system_id)
        if targets:
            Clients.broadcast(wire.dumps(event.frame()), targets)
            # These names (docs/protocols/app-seeds.md#seed-001) are about the whole link.
            if event.kind == "connectivity" and "part" not in event.data and self._is_modbus(event):
                kind = "modbus_connected" if event.data.get("connected") else "modbus_disconnected"
                seed = {"type": kind, "system_id": event.system_id, "data": event.data}
                Clients.broadcast(wire.dumps(seed), targets)
        if event.kind == "connectivity":
            self._status_changed()

    def _is_modbus(self, event: HubEvent) -> bool:
        if SourceKind.of(event.data.get("source")).over_modbus:
            return True
        system = self.hub.systems.get(event.system_id)
        return system is not None and system.info.source.over_modbus

    # -- stats -------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Subscribers per system (``*`` subscribers count for every system)."""
        return {
            system_id: len(self.targets(system_id))
            for system_id in self.hub.systems
            if self.targets(system_id)
        }

    # -- handler -------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Admit, authenticate, then answer commands until the client leaves."""
        opened = await self.clients.open(request, ClientKind.CHANNEL)
        if not isinstance(opened, Client):
            return opened
        client = opened
        self.members.add(client)
        try:
            client.send_json(self.status_message())
            async for message in self.clients.messages(client):
                await self._dispatch(client, message)
        except Exception:
            _LOGGER.exception("Channel client %s failed", client.remote)
            await client.close(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            self._forget(client)
            self.clients.release(client)
        return client.response

    async def _dispatch(self, client: Client, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "ping":
            client.send_json(_with_id(message, {"type": "pong", "timestamp": _now()}))
        elif kind == "subscribe":
            self._subscribe(client, message)
        elif kind == "unsubscribe":
            self._unsubscribe(client, message)
        elif kind == "request_status":
            client.send_json(_with_id(message, self.status_message()))
        elif kind == "acknowledge_alert":
            self._acknowledge(client, message)
        else:
            await self.clients.complain_unknown(client, kind, _KNOWN)

    def _system_id(self, client: Client, message: dict[str, Any]) -> str | None:
        system_id = message.get("system_id")
        if isinstance(system_id, str) and 0 < len(system_id) <= 256:
            return system_id
        _fail(client, message, "invalid_message", f'{message["type"]} needs a "system_id" string')
        return None

    def _subscribe(self, client: Client, message: dict[str, Any]) -> None:
        system_id = self._system_id(client, message)
        if system_id is None:
            return
        if system_id == EVERY_SYSTEM:
            self.everything[client] = None
            systems = list(self.hub.systems.values())
        else:
            system = self.hub.systems.get(system_id)
            if system is None:
                _fail(
                    client,
                    message,
                    "unknown_system",
                    f"no system with id {system_id!r}",
                    system_id=system_id,
                    known=sorted(self.hub.systems),
                )
                return
            refusal = subscription_refusal(client.systems or (), system_id)
            if refusal is not None:
                _fail(client, message, "too_many_subscriptions", refusal)
                return
            if client.systems is None:
                client.systems = set()
            client.systems.add(system_id)
            self.subscribers.add(system_id, client)
            systems = [system]
        client.send_json(_with_id(message, {"type": "subscribed", "system_id": system_id}))
        # The current state right away, so a dashboard never starts blank.
        for system in systems:
            if system.document is not None:
                client.send(system.frame(UPDATE_FRAME))

    def _unsubscribe(self, client: Client, message: dict[str, Any]) -> None:
        system_id = self._system_id(client, message)
        if system_id is None:
            return
        if system_id == EVERY_SYSTEM:
            self.everything.pop(client, None)
        elif client.systems is not None and system_id in client.systems:
            client.systems.discard(system_id)
            self.subscribers.discard(system_id, client)
        client.send_json(_with_id(message, {"type": "unsubscribed", "system_id": system_id}))

    def _acknowledge(self, client: Client, message: dict[str, Any]) -> None:
        alert_id = message.get("alert_id")
        if not isinstance(alert_id, str) or not alert_id:
            _fail(
                client, message, "invalid_message", 'acknowledge_alert needs an "alert_id" string'
            )
            return
        assert client.principal is not None
        try:
            alert = self.hub.acknowledge(alert_id, client.principal.name)
        except Exception:
            _LOGGER.exception("Acknowledging alert %s failed", alert_id)
            _fail(
                client,
                message,
                "acknowledge_failed",
                "the alert could not be acknowledged",
                alert_id=alert_id[:128],
            )
            return
        if alert is None:
            _fail(
                client,
                message,
                "unknown_alert",
                f"no alert with id {alert_id[:128]!r}",
                alert_id=alert_id[:128],
            )
            return
        client.send_json(
            _with_id(
                message, {"type": "acknowledge_result", "success": True, "alert": alert.as_dict()}
            )
        )

    def _forget(self, client: Client) -> None:
        self.members.discard(client)
        self.everything.pop(client, None)
        for system_id in client.systems or ():
            self.subscribers.discard(system_id, client)

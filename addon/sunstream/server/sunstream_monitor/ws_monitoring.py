"""``WS /ws/monitoring/{system_id}``: one system's MonitoringData, pushed.

The endpoint and the document are seed 000's (docs/protocols/app-seeds.md#seed-000).

A client gets the current document as soon as it is authenticated, then
every new one, and the current one again whenever ``push_interval`` passes
without a change, so a dashboard can tell "quiet" from "dead". The repeat is
one timer per *system*, re-armed on every push, not one per client: a quiet
system with 5000 watchers costs one timer and one shared frame per interval.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from aiohttp import web

from .clients import CLOSE_INTERNAL_ERROR, CLOSE_UNKNOWN_SYSTEM, Client, ClientKind, Clients
from .hub import Hub, HubEvent, System
from .settings import Settings
from .subscribers import Subscribers

_LOGGER = logging.getLogger(__name__)

FRAME_TYPE: Final = "monitoring_data"
_KNOWN: Final = ("auth", "ping")


class MonitoringEndpoint:
    """The endpoint's handler, its subscribers per system, and its repeat timers."""

    def __init__(self, settings: Settings, hub: Hub, clients: Clients) -> None:
        """Serve ``hub``'s systems to ``clients``."""
        self.settings = settings
        self.hub = hub
        self.clients = clients
        self.subscribers: Subscribers[Client] = Subscribers()
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # -- hub listener ------------------------------------------------------------

    def on_systems(self, hub: Hub) -> None:
        """Nothing to do: watchers of a vanished system wait for it to come back."""

    def on_state(self, system: System) -> None:
        """A new document: push it to the system's watchers, restart its repeat timer."""
        subscribers = self.subscribers.of(system.system_id)
        if subscribers:
            Clients.broadcast(system.frame(FRAME_TYPE), subscribers)
            self._arm(system.system_id)

    def on_event(self, event: HubEvent) -> None:
        """Events travel on ``/ws``; this endpoint carries documents only."""

    # -- repeat ------------------------------------------------------------------

    def _arm(self, system_id: str) -> None:
        timer = self._timers.pop(system_id, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers[system_id] = loop.call_later(
            self.settings.push_interval, self._repeat, system_id
        )

    def _repeat(self, system_id: str) -> None:
        self._timers.pop(system_id, None)
        subscribers = self.subscribers.of(system_id)
        system = self.hub.systems.get(system_id)
        if not subscribers or system is None:
            return
        Clients.broadcast(system.frame(FRAME_TYPE), subscribers)
        self._arm(system_id)

    def close(self) -> None:
        """Stop every repeat timer (server shutdown)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # -- stats -------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Watchers per system."""
        return self.subscribers.counts()

    # -- handler -----------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Admit, authenticate, then stream one system until the client leaves."""
        system_id = request.match_info["system_id"]
        opened = await self.clients.open(request, ClientKind.MONITORING)
        if not isinstance(opened, Client):
            return opened
        client = opened
        try:
            system = self.hub.systems.get(system_id)
            if system is None:
                client.send_error(
                    "unknown_system",
                    f"no system with id {system_id[:128]!r}",
                    system_id=system_id[:128],
                    known=sorted(self.hub.systems),
                )
                await client.close(CLOSE_UNKNOWN_SYSTEM, "unknown system")
                return client.ws
            self.subscribers.add(system_id, client)
            client.send(system.frame(FRAME_TYPE))
            if system_id not in self._timers:
                self._arm(system_id)
            async for message in self.clients.messages(client):
                kind = message["type"]
                if kind == "ping":
                    reply: dict[str, object] = {"type": "pong"}
                    if isinstance(message.get("id"), int | str):
                        reply["id"] = message["id"]
                    client.send_json(reply)
                else:
                    await self.clients.complain_unknown(client, kind, _KNOWN)
        except Exception:
            _LOGGER.exception("Monitoring client %s failed", client.remote)
            await client.close(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            self._leave(system_id, client)
            self.clients.release(client)
        return client.ws

    def _leave(self, system_id: str, client: Client) -> None:
        if self.subscribers.discard(system_id, client):
            timer = self._timers.pop(system_id, None)
            if timer is not None:
                timer.cancel()

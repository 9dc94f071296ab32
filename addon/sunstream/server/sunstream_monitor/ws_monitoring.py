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

from aiohttp import WSMessage, web

from .clients import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_UNKNOWN_SYSTEM,
    Client,
    ClientKind,
    Clients,
    Complaint,
    unknown_type,
)
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
        self._watches: dict[str, _Watch] = {}

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
        """Admit and authenticate, then leave the client to :meth:`received` and :meth:`gone`.

        The connection is a :class:`~.ws_lean.LeanSocket`: once the client is
        subscribed, the request handler returns and the client costs no task.
        """
        system_id = request.match_info["system_id"]
        opened = await self.clients.open(request, ClientKind.MONITORING, lean=True)
        if not isinstance(opened, Client):
            return opened
        client = opened
        system = self.hub.systems.get(system_id)
        if system is None:
            client.send_error(
                "unknown_system",
                f"no system with id {system_id[:128]!r}",
                system_id=system_id[:128],
                known=sorted(self.hub.systems),
            )
            try:
                await client.close(CLOSE_UNKNOWN_SYSTEM, "unknown system")
            finally:
                self.clients.release(client)
            return client.response
        self.subscribers.add(system_id, client)
        client.send(system.frame(FRAME_TYPE))
        if system_id not in self._timers:
            self._arm(system_id)
        watch = self._watches.get(system_id)
        if watch is None:
            watch = self._watches[system_id] = _Watch(self, system_id)
        return self.clients.serve(client, watch)

    def received(self, client: Client, message: WSMessage) -> None:
        """A message from a watcher: ``ping`` is answered, anything else is an error."""
        try:
            read = self.clients.read(client, message)
            if isinstance(read, Complaint):
                self.clients.complain_soon(client, read)
            elif read is not None and read["type"] == "ping":
                reply: dict[str, object] = {"type": "pong"}
                if isinstance(read.get("id"), int | str):
                    reply["id"] = read["id"]
                client.send_json(reply)
            elif read is not None:
                self.clients.complain_soon(client, unknown_type(read["type"], _KNOWN))
        except Exception:
            _LOGGER.exception("Monitoring client %s failed", client.remote)
            self.clients.close_soon(client, CLOSE_INTERNAL_ERROR, "internal error")

    def gone(self, system_id: str, client: Client) -> None:
        """A watcher's connection ended: forget it, and the system's timer after its last."""
        if self.subscribers.discard(system_id, client):
            self._watches.pop(system_id, None)
            timer = self._timers.pop(system_id, None)
            if timer is not None:
                timer.cancel()
        self.clients.release(client)


class _Watch:
    """The receiver of every watcher of one system (one object per system, not per client)."""

    __slots__ = ("endpoint", "system_id")

    def __init__(self, endpoint: MonitoringEndpoint, system_id: str) -> None:
        """Report ``system_id``'s watchers to ``endpoint``."""
        self.endpoint = endpoint
        self.system_id = system_id

    def received(self, client: Client, message: WSMessage) -> None:
        """See :meth:`MonitoringEndpoint.received`."""
        self.endpoint.received(client, message)

    def gone(self, client: Client) -> None:
        """See :meth:`MonitoringEndpoint.gone`."""
        self.endpoint.gone(self.system_id, client)

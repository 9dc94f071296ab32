"""Socket.IO endpoint: rooms and events for dashboards built on socket.io-client.

Dashboards written for socket.io-client v4 connect at the default
``/socket.io/`` path, send ``subscribe:device`` with a system id and then hear,
in that system's room, ``device:data`` as ``{deviceId, data, timestamp}``
(``data`` the MonitoringData document), ``device:alerts`` as
``{deviceId, alerts}`` — the shapes existing dashboards destructure, so they
are a contract (``docs/app-api.md``, "Wire contracts"): nothing is added to
them, and anything richer goes out under its own event name —
``device:status`` (connectivity) and ``device:dispatch``, and what
``POST /api/broadcast`` sends as ``broadcast``. The API is the seeds'
(docs/protocols/app-seeds.md#seed-003).

A room broadcast is encoded once, as the text of its Socket.IO packet
(``2["device:data",{…}]``, built around the document JSON the hub already
serialized), and handed to every member at once, without a task or an
await: as one pre-built WebSocket frame through the WebSocket endpoints'
writer to members on the WebSocket transport, through Engine.IO's queue to
the others (:meth:`~.sio_engine.EngineServer.writers`).

Who may connect at all, and who must leave, is the gate's business
(:mod:`.sio_gate`); what python-socketio needed changed underneath is in
:mod:`.sio_engine`. This module is the endpoint: events, rooms, the hub.

No data and no action without authentication: the ``connect`` handler
accepts a token in the Socket.IO ``auth`` payload (``{"token": …}``) or an
``Authorization: Bearer`` header, or trusts a request that came through the
Supervisor's ingress proxy; anything else is refused with a message that says
what to send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
import logging
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web
from socketio.exceptions import (  # type: ignore[import-untyped]
    ConnectionRefusedError as SocketIORefused,
)

from . import wire
from .admission import Admission, subscription_refusal
from .auth import Authenticator, Principal, bearer_token
from .clients import Clients
from .hub import Hub, HubEvent, System
from .monitoring import iso_utc
from .settings import DEFAULT_CLIENT_QUEUE, DEFAULT_MAX_CLIENTS, DEFAULT_MAX_CLIENTS_PER_IP
from .sio_engine import SHUTDOWN_TIMEOUT, SocketIOServer
from .sio_gate import NAMESPACE, SocketIOGate
from .subscribers import Subscribers

_LOGGER = logging.getLogger(__name__)

SOCKETIO_PATH: Final = "/socket.io/"
# Client packets are small commands; anything bigger is abuse.
MAX_PACKET_BYTES: Final = 64 * 1024

# Server → client events.
EVENT_DATA: Final = "device:data"
EVENT_ALERTS: Final = "device:alerts"
EVENT_STATUS: Final = "device:status"
EVENT_DISPATCH: Final = "device:dispatch"
EVENT_ERROR: Final = "error"
EVENT_BROADCAST: Final = "broadcast"

_ALERT_KINDS: Final = frozenset({"alert", "alert_acknowledged"})


def origin_policy(
    origins: Iterable[str], authenticator: Authenticator
) -> Callable[[str | None, Mapping[str, Any]], bool]:
    """Which browser origins may open a Socket.IO connection.

    The same rule as the rest of the server (``web.origin_middleware``):
    machine clients (no ``Origin``), the server's own origin and ingress
    requests always pass; when an allow-list is configured, other origins
    must be on it. Without a list any origin may try — it still needs a
    token, which a browser never sends on its own.
    """
    allowed = frozenset(origins)

    def check(origin: str | None, environ: Mapping[str, Any]) -> bool:
        if not origin or not allowed or origin in allowed:
            return True
        host = environ.get("HTTP_HOST")
        if isinstance(host, str) and urlsplit(origin).netloc.lower() == host.lower():
            return True
        request = environ.get("aiohttp.request")
        return isinstance(request, web.BaseRequest) and (
            authenticator.from_ingress(request) is not None
        )

    return check


def event_packet(event: str, payload: bytes) -> bytes:
    """A Socket.IO EVENT packet of the default namespace carrying ``payload`` (JSON).

    ``2["event",payload]``: what python-socketio's ``Packet.encode`` writes
    for ``emit(event, data)`` with the app's encoder (compact JSON), built
    around a payload that is already encoded. Engine.IO sends it as a
    MESSAGE (``4`` in front).
    """
    return b"2[" + wire.dumps(event) + b"," + payload + b"]"


def data_json(system: System) -> bytes:
    """``device:data``: ``{deviceId, data, timestamp}``, exactly what dashboards destructure.

    ``timestamp`` is when the hub took the document in, as ``Date.toJSON()``
    writes it (the document's own ``last_updated`` says when its values
    changed). Spliced around the document JSON the hub serialized once
    (:attr:`~.hub.System.document_json`): the same bytes the app's encoder
    writes for the whole object.
    """
    head = wire.dumps({"deviceId": system.system_id})
    stamp = wire.dumps(iso_utc(system.updated_at))
    return head[:-1] + b',"data":' + system.document_json + b',"timestamp":' + stamp + b"}"


def alerts_message(event: HubEvent) -> dict[str, Any]:
    """``device:alerts``: ``{deviceId, alerts}``, the alerts that changed.

    Raised, cleared or acknowledged: each alert says which by its ``state``
    and ``acknowledged``.
    """
    return {"deviceId": event.system_id, "alerts": [event.data]}


def _auth_token(auth: Any) -> str | None:
    """The token of a socket.io-client ``auth`` option: ``{"token": …}`` (or a bare string)."""
    if isinstance(auth, str) and auth:
        return auth
    if isinstance(auth, Mapping):
        for key in ("token", "access_token"):
            value = auth.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _argument(args: Sequence[Any], *keys: str) -> str | None:
    """The id a client event carries: a bare string, or a field of an object."""
    if not args:
        return None
    value = args[0]
    if isinstance(value, Mapping):
        value = next((value[key] for key in keys if key in value), None)
    if isinstance(value, str) and value.strip() and len(value) <= 256:
        return value.strip()
    return None


@dataclass(slots=True)
class _Client:
    """A connected Socket.IO client: who it is, its Engine.IO session, what it follows."""

    principal: Principal
    remote: str | None
    eio_sid: str
    systems: set[str] = field(default_factory=set)


class SocketIOEndpoint:
    """The Socket.IO server, its handlers, and its link to the hub.

    The endpoint is a hub listener: hub callbacks are synchronous, and so
    is a broadcast (see the module docstring), so members hear updates in
    the order the hub made them.
    """

    def __init__(
        self,
        hub: Hub,
        authenticator: Authenticator,
        *,
        origins: Iterable[str] = (),
        max_clients: int = DEFAULT_MAX_CLIENTS,
        max_clients_per_ip: int = DEFAULT_MAX_CLIENTS_PER_IP,
        client_queue: int = DEFAULT_CLIENT_QUEUE,
    ) -> None:
        """Build the server; :meth:`attach` puts it on an aiohttp application.

        ``origins`` is the browser origin allow-list (``settings.origins``),
        see :func:`origin_policy`; the caps are ``settings.max_clients`` and
        ``settings.max_clients_per_ip`` (counted apart from the WebSocket
        clients) and ``settings.client_queue`` packets waiting per client. A
        connection has ``authenticator.auth_timeout`` to join the namespace.
        """
        self.hub = hub
        self.authenticator = authenticator
        self.server = SocketIOServer(
            async_mode="aiohttp",
            # The app's one JSON encoder (floats rounded), for every packet.
            json=wire.SocketIOJson,
            cors_allowed_origins=origin_policy(origins, authenticator),
            # Tokens travel in the auth payload, never in cookies.
            cors_credentials=False,
            max_http_buffer_size=MAX_PACKET_BYTES,
            logger=False,
            engineio_logger=False,
        )
        self.gate = SocketIOGate(
            self.server,
            Admission(max_clients, max_clients_per_ip),
            authenticator,
            connect_timeout=authenticator.auth_timeout,
            client_queue=client_queue,
        )
        self._clients: dict[str, _Client] = {}
        # Engine.IO session ids of each system's subscribers.
        self._members: Subscribers[str] = Subscribers()
        self._remove_listener: Callable[[], None] | None = None
        server = self.server
        server.on("connect", self._on_connect)
        server.on("disconnect", self._on_disconnect)
        server.on("subscribe:device", self._on_subscribe)
        server.on("unsubscribe:device", self._on_unsubscribe)
        server.on("alert:acknowledge", self._on_acknowledge)
        server.on("*", self._on_unknown)

    # -- lifecycle --------------------------------------------------------

    def attach(self, app: web.Application) -> SocketIOEndpoint:
        """Serve at ``/socket.io/`` on ``app`` (also ``app[SOCKETIO_KEY]``); follow the hub."""
        self.server.attach(app, socketio_path=SOCKETIO_PATH.strip("/"))
        app.on_startup.append(self._on_app_startup)
        app.on_shutdown.append(self._on_app_shutdown)
        app[SOCKETIO_KEY] = self
        return self

    async def _on_app_startup(self, _app: web.Application) -> None:
        if self._remove_listener is None:
            self._remove_listener = self.hub.add_listener(self)

    async def _on_app_shutdown(self, _app: web.Application) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop following the hub, say goodbye to every client, stop background work."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        try:
            async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                await self.server.eio.hang_up()
        except TimeoutError:
            _LOGGER.warning("Socket.IO clients did not close within %s s", SHUTDOWN_TIMEOUT)
        await self.server.shutdown()

    # -- introspection ------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Connections and subscribers per system, for the stats endpoint."""
        return {
            "connections": len(self._clients),
            "refused": self.gate.admission.refused,
            "evicted": self.gate.evicted,
            "systems": self._members.counts(),
        }

    # -- hub listener -------------------------------------------------------

    def on_systems(self, hub: Hub) -> None:
        """Nothing to push: a client learns of systems by subscribing (or over HTTP)."""

    def on_state(self, system: System) -> None:
        """A new document: to the system's room."""
        if system.document is not None:
            members = self._members.of(system.system_id)
            if members:
                self._deliver(members, EVENT_DATA, data_json(system))

    def on_event(self, event: HubEvent) -> None:
        """Alerts, connectivity and dispatches: to the system's room."""
        members = self._members.of(event.system_id)
        if not members:
            return
        if event.kind in _ALERT_KINDS:
            self._deliver(members, EVENT_ALERTS, wire.dumps(alerts_message(event)))
        elif event.kind == "connectivity":
            self._deliver(members, EVENT_STATUS, wire.dumps(self._status(event)))
        elif event.kind == "dispatch":
            self._deliver(members, EVENT_DISPATCH, wire.dumps(event.data))

    def broadcast(self, message: Any, system_id: str | None = None) -> int:
        """Seed 000's broadcastToSystem / broadcastToAll: a ``broadcast`` event.

        To the system's room, or (``system_id`` None) to every connected
        client — all of them authenticated, since ``connect`` refuses the
        rest. Encoded once for all of them; returns how many it goes to.
        See docs/protocols/app-seeds.md#seed-000.
        """
        if system_id is None:
            members: Collection[str] = [client.eio_sid for client in self._clients.values()]
        else:
            members = self._members.of(system_id)
        if not members:
            return 0
        self._deliver(members, EVENT_BROADCAST, wire.dumps(message))
        return len(members)

    def _status(self, event: HubEvent) -> dict[str, Any]:
        return {**event.data, "system_id": event.system_id}

    def _deliver(self, members: Collection[str], event: str, payload: bytes) -> None:
        """``event`` with ``payload`` (JSON) to the Engine.IO sessions ``members``, encoded once."""
        packet = event_packet(event, payload)
        queued: list[str] = []
        try:
            # The Engine.IO MESSAGE type in front: the frame's text as the client reads it.
            Clients.broadcast(b"4" + packet, self.server.eio.writers(members, queued))
        finally:
            # Whoever the walk put aside gets the packet, even if the walk broke off.
            if queued:
                self.server.eio.enqueue(queued, packet.decode())

    # -- client events ------------------------------------------------------

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        request = environ.get("aiohttp.request")
        if not isinstance(request, web.BaseRequest):
            # Only the aiohttp driver is used; anything else is a wiring bug.
            raise SocketIORefused("server misconfigured", {"code": "internal_error"})
        remote = request.remote
        principal = self.authenticator.from_ingress(request)
        if principal is None:
            principal = await self._authenticate(_auth_token(auth) or bearer_token(request), remote)
        eio_sid = self.server.manager.eio_sid_from_sid(sid, NAMESPACE)
        self._clients[sid] = _Client(principal=principal, remote=remote, eio_sid=eio_sid)
        _LOGGER.debug("Socket.IO client %s connected as %s", sid, principal.name)

    async def _authenticate(self, token: str | None, remote: str | None) -> Principal:
        """The principal of ``token``, or a refusal that says what to do."""
        if token is None:
            raise SocketIORefused(
                "unauthorized: send a token in the Socket.IO auth payload "
                '(io(url, {auth: {token: "…"}})) or an Authorization: Bearer header',
                {"code": "unauthorized"},
            )
        wait = self.authenticator.retry_after(remote)
        if wait > 0:
            seconds = max(1, round(wait))
            raise SocketIORefused(
                f"too many failed authentications from this address; retry in {seconds} s",
                {"code": "auth_backoff", "retry_after": seconds},
            )
        principal = await self.authenticator.authenticate(token, remote=remote)
        if principal is None:
            raise SocketIORefused(
                "unauthorized: the token was not accepted", {"code": "unauthorized"}
            )
        return principal

    async def _on_disconnect(self, sid: str, _reason: Any = None) -> None:
        client = self._clients.pop(sid, None)
        if client is None:
            return
        for system_id in client.systems:
            self._members.discard(system_id, client.eio_sid)

    async def _on_subscribe(self, sid: str, *args: Any) -> dict[str, Any]:
        client = self._clients.get(sid)
        if client is None:
            return await self._fail(sid, "unauthorized", "not connected")
        system_id = _argument(args, "system_id", "systemId", "deviceId", "device_id", "id")
        if system_id is None:
            return await self._fail(
                sid,
                "invalid_request",
                "subscribe:device takes a system id: a string, or {system_id: …}",
            )
        system = self.hub.systems.get(system_id)
        if system is None:
            return await self._fail(
                sid,
                "unknown_system",
                f"no system with id {system_id!r}",
                system_id=system_id,
                known=sorted(self.hub.systems),
            )
        refusal = subscription_refusal(client.systems, system_id)
        if refusal is not None:
            return await self._fail(sid, "too_many_subscriptions", refusal, system_id=system_id)
        client.systems.add(system_id)
        self._members.add(system_id, client.eio_sid)
        # The current state right away, so a dashboard never starts blank.
        if system.document is not None:
            self._deliver((client.eio_sid,), EVENT_DATA, data_json(system))
        if system.connected is not None:
            status = {
                "system_id": system_id,
                "source": system.info.source,
                "connected": system.connected,
                "reason": "current",
            }
            await self.server.emit(EVENT_STATUS, status, to=sid)
        alerts = [alert.as_dict() for alert in self.hub.alerts.list(system_id, active_only=True)]
        return {"ok": True, "system_id": system_id, "alerts": alerts}

    async def _on_unsubscribe(self, sid: str, *args: Any) -> dict[str, Any]:
        client = self._clients.get(sid)
        system_id = _argument(args, "system_id", "systemId", "deviceId", "device_id", "id")
        if client is None or system_id is None:
            return await self._fail(
                sid,
                "invalid_request",
                "unsubscribe:device takes a system id: a string, or {system_id: …}",
            )
        if system_id in client.systems:
            client.systems.discard(system_id)
            self._members.discard(system_id, client.eio_sid)
        return {"ok": True, "system_id": system_id}

    async def _on_acknowledge(self, sid: str, *args: Any) -> dict[str, Any]:
        client = self._clients.get(sid)
        alert_id = _argument(args, "alert_id", "alertId", "id")
        if client is None or alert_id is None:
            return await self._fail(
                sid,
                "invalid_request",
                "alert:acknowledge takes an alert id: a string, or {alert_id: …}",
            )
        try:
            alert = self.hub.acknowledge(alert_id, client.principal.name)
        except Exception:
            _LOGGER.exception("Acknowledging alert %s failed", alert_id)
            return await self._fail(
                sid, "acknowledge_failed", "the alert could not be acknowledged", alert_id=alert_id
            )
        if alert is None:
            return await self._fail(
                sid, "unknown_alert", f"no alert with id {alert_id!r}", alert_id=alert_id
            )
        return {"ok": True, "alert": alert.as_dict()}

    async def _on_unknown(self, event: Any, sid: str, *_args: Any) -> dict[str, Any]:
        known = ("subscribe:device", "unsubscribe:device", "alert:acknowledge")
        return await self._fail(
            sid,
            "unknown_event",
            f"unknown event {str(event)[:64]!r}; this server understands {', '.join(known)}",
        )

    async def _fail(self, sid: str, code: str, message: str, **extra: Any) -> dict[str, Any]:
        """Tell the client what went wrong, as an ``error`` event and as the ack."""
        error = {"code": code, "message": message, **extra}
        await self.server.emit(EVENT_ERROR, error, to=sid)
        return {"ok": False, "error": error}


SOCKETIO_KEY: Final = web.AppKey("sunstream_socketio", SocketIOEndpoint)

"""The HTTP API: health, systems, alerts, statistics, broadcast, docs, dashboard.

Everything but ``/health``, the API description and the dashboard's static
files needs a principal (see :mod:`sunstream_monitor.auth`); broadcast needs
an admin one. Documents go out as the bytes the hub already serialized.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from aiohttp import web
import orjson

from . import __version__, wire
from .auth import Authenticator, Principal, bearer_token, normalize_address
from .clients import Client, ClientKind, Clients
from .hub import Hub
from .openapi import DOCS_CSP, DOCS_HTML, document
from .problems import Problem, problem_response, too_many_failures, unauthorized
from .ws_channel import ChannelEndpoint, system_status
from .ws_monitoring import MonitoringEndpoint

STATIC_DIR: Final = Path(__file__).parent / "static"

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def json_response(body: Any, *, status: int = 200) -> web.Response:
    """JSON via orjson (already-encoded ``bytes`` are sent as they are)."""
    data = body if isinstance(body, bytes) else wire.dumps(body)
    return web.Response(body=data, status=status, content_type="application/json")


class HttpApi:
    """The HTTP handlers, bound to the server's parts."""

    def __init__(
        self,
        hub: Hub,
        authenticator: Authenticator,
        clients: Clients,
        monitoring: MonitoringEndpoint,
        channel: ChannelEndpoint,
        *,
        static_dir: Path = STATIC_DIR,
    ) -> None:
        """Handlers read the hub and the endpoints' subscriptions."""
        self.hub = hub
        self.authenticator = authenticator
        self.clients = clients
        self.monitoring = monitoring
        self.channel = channel
        self.static_dir = static_dir
        self.extra_stats: dict[str, Any] = {}
        # Other outputs' broadcast (Socket.IO): (message, system_id or None) → clients reached.
        self.broadcasters: list[Callable[[Any, str | None], int]] = []
        self._openapi = wire.dumps(document())

    def routes(self) -> list[web.RouteDef]:
        """The routes, in the order the router should try them."""
        return [
            web.get("/health", self.health, allow_head=True),
            web.get("/openapi.json", self.openapi),
            web.get("/docs", self.docs),
            web.get("/ws/monitoring", self.stats),
            web.get("/api/stats", self.server_stats),
            web.get("/api/systems", self.systems),
            web.get("/api/systems/{system_id}", self.system),
            web.get("/api/alerts", self.alerts),
            web.post("/api/alerts/{alert_id}/acknowledge", self.acknowledge),
            web.post("/api/broadcast", self.broadcast),
            web.get("/", self.index),
            web.get("/static/{path:.+}", self.static),
        ]

    def fallback_routes(self) -> list[web.RouteDef]:
        """Top-level dashboard files (``/app.js``); added after every other route."""
        return [web.get("/{name}", self.top_level_file)]

    # -- authentication ----------------------------------------------------------

    async def principal(self, request: web.Request) -> Principal:
        """Who is calling; raises 401 or 429 problems."""
        auth = self.authenticator
        principal = auth.from_ingress(request)
        if principal is not None:
            return principal
        remote = normalize_address(request.remote)
        if (wait := auth.retry_after(remote)) > 0:
            raise too_many_failures(wait)
        token = bearer_token(request)
        if token is None:
            raise unauthorized("send an Authorization: Bearer header")
        principal = await auth.authenticate(token, remote=remote)
        if principal is None:
            raise unauthorized("the bearer token was not accepted")
        return principal

    # -- open endpoints ----------------------------------------------------------

    async def health(self, _request: web.Request) -> web.Response:
        """The Supervisor's watchdog: 200 while the process serves, whatever HA does.

        Restarting the app would not bring an unreachable Home Assistant
        back; the server keeps serving the last known data and reconnecting,
        so it is healthy. ``feed_connected`` tells the two states apart.
        """
        return json_response(
            {"status": "ok", "feed_connected": self.hub.feed_connected, "version": __version__}
        )

    async def openapi(self, _request: web.Request) -> web.Response:
        """The OpenAPI 3.1 document."""
        return json_response(self._openapi)

    async def docs(self, _request: web.Request) -> web.Response:
        """A self-contained page that lists the operations (no CDN)."""
        return web.Response(
            text=DOCS_HTML,
            content_type="text/html",
            headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"},
        )

    # -- dashboard files ----------------------------------------------------------

    async def index(self, _request: web.Request) -> web.StreamResponse:
        """The dashboard page (it holds no data; it authenticates like any client)."""
        return await self._file("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        """A file under ``static/``."""
        return await self._file(request.match_info["path"])

    async def top_level_file(self, request: web.Request) -> web.StreamResponse:
        """A file of ``static/`` addressed from the page's own directory."""
        return await self._file(request.match_info["name"])

    async def _file(self, relative: str) -> web.StreamResponse:
        # Resolving symlinks and stat-ing touch the disk: not in the event loop
        # (aiohttp's own static routes do the same in an executor).
        candidate = await asyncio.to_thread(self._resolve, relative)
        if candidate is None:
            raise Problem(404, f"no such file: /{relative[:128]}", code="not_found")
        return web.FileResponse(candidate, headers={"Cache-Control": "no-cache"})

    def _resolve(self, relative: str) -> Path | None:
        """The file ``relative`` names inside the static directory, if there is one."""
        root = self.static_dir.resolve()
        try:
            candidate = (root / relative).resolve()
            hidden = any(part.startswith(".") for part in Path(relative).parts)
            if hidden or not candidate.is_relative_to(root) or not candidate.is_file():
                return None
        except OSError, ValueError:  # a NUL byte (%00) or a name the OS refuses
            return None
        return candidate

    # -- data ---------------------------------------------------------------------

    async def stats(self, request: web.Request) -> web.Response:
        """Connection statistics in their contract shape: ``{status, endpoint, stats}``.

        Existing dashboards read exactly this document (``docs/app-api.md``,
        "Wire contracts"); the app's own counters are beside it, at
        ``GET /api/stats`` (:meth:`server_stats`), never in it.
        """
        await self.principal(request)
        per_system: dict[str, int] = dict(self.monitoring.stats())
        for system_id, count in self.channel.stats().items():
            per_system[system_id] = per_system.get(system_id, 0) + count
        return json_response(
            {
                "status": "WebSocket Server Running",
                "endpoint": "/ws/monitoring/:system_id",
                "stats": {
                    "total_connections": len(self.clients),
                    "active_systems": len(per_system),
                    "systems": [
                        {"system_id": system_id, "connections": count}
                        for system_id, count in sorted(per_system.items())
                    ],
                },
            }
        )

    async def server_stats(self, request: web.Request) -> web.Response:
        """The server's own counters: connections per endpoint, evictions, refusals, Socket.IO."""
        await self.principal(request)
        monitoring = sum(1 for client in self.clients.all if client.kind is ClientKind.MONITORING)
        body: dict[str, Any] = {
            "monitoring_connections": monitoring,
            "channel_connections": len(self.clients) - monitoring,
            "evicted_slow_clients": self.clients.evicted,
            "refused_connections": self.clients.refused,
        }
        for name, stats in self.extra_stats.items():
            body[name] = stats()
        return json_response(body)

    async def systems(self, request: web.Request) -> web.Response:
        """Every system the feed knows, in short."""
        await self.principal(request)
        systems = []
        for system in self.hub.systems.values():
            info = system.info
            systems.append(
                {
                    "system_id": info.system_id,
                    "name": info.name,
                    "source": info.source,
                    "status": system_status(system),
                    "connected": system.connected,
                    "last_updated": (system.document or {}).get("last_updated"),
                }
            )
        return json_response({"systems": systems, "feed_connected": self.hub.feed_connected})

    async def system(self, request: web.Request) -> web.Response:
        """One system's latest MonitoringData, as the hub serialized it."""
        await self.principal(request)
        system_id = request.match_info["system_id"]
        system = self.hub.systems.get(system_id)
        if system is None:
            raise Problem(404, f"no system with id {system_id[:128]!r}", code="unknown_system")
        if system.document is None:
            raise Problem(
                503,
                "the system is known but no data has arrived yet",
                code="no_data",
                headers={"Retry-After": "5"},
            )
        return json_response(system.document_json)

    async def alerts(self, request: web.Request) -> web.Response:
        """Alerts, newest first; ``?system_id=`` and ``?active=true`` filter."""
        await self.principal(request)
        system_id = request.query.get("system_id") or None
        active = request.query.get("active", "false").lower()
        if active not in _TRUE | _FALSE:
            raise Problem(400, "active must be true or false", code="invalid_parameter")
        alerts = self.hub.alerts.list(system_id, active_only=active in _TRUE)
        return json_response({"alerts": [alert.as_dict() for alert in alerts]})

    async def acknowledge(self, request: web.Request) -> web.Response:
        """Acknowledge an alert; the hub tells every output and Home Assistant."""
        principal = await self.principal(request)
        alert_id = request.match_info["alert_id"]
        alert = self.hub.acknowledge(alert_id, principal.name)
        if alert is None:
            raise Problem(404, f"no alert with id {alert_id[:128]!r}", code="unknown_alert")
        return json_response({"alert": alert.as_dict()})

    async def broadcast(self, request: web.Request) -> web.Response:
        """Seed 000's broadcastToSystem / broadcastToAll, for admins only.

        See docs/protocols/app-seeds.md#seed-000.
        """
        principal = await self.principal(request)
        if not principal.is_admin:
            raise Problem(403, "broadcast needs a token configured in the app", code="forbidden")
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as err:
            raise Problem(400, f"body is not valid JSON: {err}", code="invalid_json") from None
        if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
            raise Problem(
                400,
                'body must be {"system_id"?: "…", "message": {…}}',
                code="invalid_body",
            )
        system_id = body.get("system_id")
        if system_id is not None and not isinstance(system_id, str):
            raise Problem(400, "system_id must be a string", code="invalid_body")
        targets: set[Client]
        if system_id is None:
            targets = {client for client in self.clients.all if client.principal is not None}
        elif system_id not in self.hub.systems:
            raise Problem(404, f"no system with id {system_id[:128]!r}", code="unknown_system")
        else:
            targets = set(self.monitoring.subscribers.of(system_id))
            targets.update(self.channel.targets(system_id))
        message = body["message"]
        delivered = Clients.broadcast(wire.dumps(message), targets)
        for broadcast in self.broadcasters:
            delivered += broadcast(message, system_id)
        return json_response({"delivered": delivered, "system_id": system_id})


def problem_for(exc: web.HTTPException) -> web.Response:
    """Render aiohttp's own HTTP errors (404 route, 405, 413 …) as problem documents."""
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
    return problem_response(exc.status, detail or exc.reason, headers=headers)

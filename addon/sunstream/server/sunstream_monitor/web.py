"""The aiohttp application: one port for HTTP, both WebSockets, Socket.IO and the dashboard.

:func:`create_app` wires the parts together; it starts nothing. The hub
listeners are registered when the application starts and removed when it
shuts down, and shutdown closes every WebSocket client with 1001.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging
from typing import Final
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from .auth import Authenticator
from .clients import Clients
from .http_api import HttpApi, problem_for
from .hub import Hub
from .problems import Problem, problem_response
from .settings import Settings
from .sio import SOCKETIO_PATH, SocketIOEndpoint
from .ws_channel import ChannelEndpoint
from .ws_monitoring import MonitoringEndpoint

_LOGGER = logging.getLogger(__name__)

# Request bodies are small commands (broadcast, acknowledge).
MAX_BODY_BYTES: Final = 64 * 1024

SETTINGS_KEY: Final = web.AppKey("sunstream_settings", Settings)
HUB_KEY: Final = web.AppKey("sunstream_hub", Hub)
CLIENTS_KEY: Final = web.AppKey("sunstream_clients", Clients)
MONITORING_KEY: Final = web.AppKey("sunstream_monitoring", MonitoringEndpoint)
CHANNEL_KEY: Final = web.AppKey("sunstream_channel", ChannelEndpoint)
API_KEY: Final = web.AppKey("sunstream_api", HttpApi)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes a problem document; nothing leaks a traceback."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_for(exc)
    except asyncio.CancelledError, ConnectionError:
        raise
    except Exception:
        _LOGGER.exception("Unexpected error serving %s %s", request.method, request.path)
        return problem_response(500, "internal error; the server log has the details")


def _same_origin(origin: str, request: web.Request) -> bool:
    """Whether ``origin`` is the server's own (the dashboard it serves)."""
    return urlsplit(origin).netloc.lower() == (request.host or "").lower()


def origin_middleware(settings: Settings, authenticator: Authenticator) -> Middleware:
    """Refuse browsers from origins not in ``settings.origins`` (when it is set).

    Cross-site WebSocket hijacking and cross-site requests are stopped before
    any upgrade. The server's own origin and ingress requests always pass;
    machine clients send no ``Origin``. Listed origins also get CORS headers,
    so dashboards hosted elsewhere can call the HTTP API.
    """
    allowed = frozenset(settings.origins)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        # Socket.IO does its own CORS and origin checks.
        if origin is None or not allowed or request.path.startswith(SOCKETIO_PATH):
            return await handler(request)
        listed = origin in allowed
        if not (listed or _same_origin(origin, request) or authenticator.from_ingress(request)):
            return problem_response(
                403, f"origin {origin[:200]!r} is not allowed", code="origin_not_allowed"
            )
        if not listed:
            return await handler(request)
        cors = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }
        if request.method == hdrs.METH_OPTIONS and hdrs.ACCESS_CONTROL_REQUEST_METHOD in (
            request.headers
        ):
            return web.Response(status=204, headers=cors)
        response = await handler(request)
        if not response.prepared:
            response.headers.update(cors)
        return response

    return guard


def _attach_socketio(app: web.Application, hub: Hub, authenticator: Authenticator) -> None:
    """Serve Socket.IO with the server's origin list, caps and queue length.

    Its caps are counted apart from the WebSocket clients' (each endpoint
    may hold ``max_clients``). ``POST /api/broadcast`` reaches its clients
    too, and ``GET /ws/monitoring`` reports its counters.
    """
    settings = app[SETTINGS_KEY]
    endpoint = SocketIOEndpoint(
        hub,
        authenticator,
        origins=settings.origins,
        max_clients=settings.max_clients,
        max_clients_per_ip=settings.max_clients_per_ip,
        client_queue=settings.client_queue,
    ).attach(app)
    api = app[API_KEY]
    api.extra_stats["socketio"] = endpoint.stats
    api.broadcasters.append(endpoint.broadcast)


def create_app(settings: Settings, hub: Hub, authenticator: Authenticator) -> web.Application:
    """The whole server as an aiohttp application (not started)."""
    app = web.Application(
        middlewares=[problem_middleware, origin_middleware(settings, authenticator)],
        client_max_size=MAX_BODY_BYTES,
    )
    clients = Clients(settings, authenticator)
    monitoring = MonitoringEndpoint(settings, hub, clients)
    channel = ChannelEndpoint(settings, hub, clients)
    api = HttpApi(hub, authenticator, clients, monitoring, channel)
    app[SETTINGS_KEY] = settings
    app[HUB_KEY] = hub
    app[CLIENTS_KEY] = clients
    app[MONITORING_KEY] = monitoring
    app[CHANNEL_KEY] = channel
    app[API_KEY] = api

    app.router.add_routes(
        [
            web.get("/ws", channel.handle),
            web.get("/ws/monitoring/{system_id}", monitoring.handle),
            *api.routes(),
        ]
    )
    _attach_socketio(app, hub, authenticator)
    app.router.add_routes(api.fallback_routes())

    removers: list[Callable[[], None]] = []

    async def start(_app: web.Application) -> None:
        removers.append(hub.add_listener(monitoring))
        removers.append(hub.add_listener(channel))
        channel.start()
        clients.start()

    async def stop(_app: web.Application) -> None:
        while removers:
            removers.pop()()
        monitoring.close()
        channel.close()
        await clients.close_all()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    return app

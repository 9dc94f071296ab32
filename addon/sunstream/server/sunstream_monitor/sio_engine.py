"""python-socketio's Engine.IO layer, bounded and closable from our side.

This is the one place the app reaches into python-socketio's internals, and
it does so once: :class:`SocketIOServer` overrides ``_engineio_server_class``,
a private method, because it is the only way to give python-socketio an
Engine.IO server of another class (``socketio.AsyncServer.__init__`` builds
its ``eio`` from it and takes no instance). Everything else here overrides
public methods of ``engineio.AsyncServer`` or uses aiohttp's public API;
admission and packet checks are composed on through Engine.IO's public
handler table (:mod:`.sio_gate`), not by overriding the library's handlers.

What :class:`EngineServer` changes, and why:

* Engine.IO's per-socket send queue is unbounded: a client that stops
  reading would grow it forever. Past ``max_queue`` packets nothing more is
  queued and ``on_overflow`` is told, to close the client (Home Assistant's
  ``MAX_PENDING_MSG`` rule; the WebSocket endpoints do the same in
  :mod:`.clients`).
* Engine.IO closes a client by sending CLOSE and waiting for the client to
  hang up, and leaves a ping task asleep for a whole ping interval after a
  socket closed. A server that shuts down, or drops a client that sent
  garbage, should not depend on the client's manners: :meth:`~EngineServer.hang_up`
  and :meth:`~EngineServer.abort` end the transport from our side, and
  :meth:`~EngineServer.shutdown` ends every background task.

:func:`without_deflate` keeps permessage-deflate off the Socket.IO
WebSocket: browsers and socket.io-client always offer it and Engine.IO's
aiohttp driver accepts it, so every frame would be compressed once per
client (a full compression pass per delivery) and each connection would
keep ~50 KiB of zlib state. Dashboard frames are small JSON; bandwidth on a
LAN is cheap. A WebSocket server may only accept extensions the client
offered, so with the offer removed from the upgrade request the driver
never negotiates it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
import engineio  # type: ignore[import-untyped]
import socketio  # type: ignore[import-untyped]

from .settings import DEFAULT_CLIENT_QUEUE

# How long a shutdown waits for background work to end.
SHUTDOWN_TIMEOUT: Final = 5.0


class EngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """Engine.IO's server with a bounded send queue per client and tasks we can end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Engine.IO's own arguments; the bound and its callback are set by the gate."""
        super().__init__(*args, **kwargs)
        self.background: set[asyncio.Task[Any]] = set()
        self.max_queue = DEFAULT_CLIENT_QUEUE
        # Told (synchronously) when a client's queue is full; the packet is dropped.
        self.on_overflow: Callable[[str], None] | None = None

    async def send_packet(self, sid: str, pkt: Any) -> None:
        """Queue ``pkt`` for ``sid``, unless that client already has ``max_queue`` waiting."""
        socket = self.sockets.get(sid)
        queue = socket.queue if socket is not None else None
        if isinstance(queue, asyncio.Queue) and queue.qsize() >= self.max_queue:
            if self.on_overflow is not None:
                self.on_overflow(sid)
            return
        await super().send_packet(sid, pkt)

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        """Engine.IO's background task, remembered so :meth:`shutdown` can end it."""
        task = super().start_background_task(target, *args, **kwargs)
        if isinstance(task, asyncio.Task):
            self.background.add(task)
            task.add_done_callback(self.background.discard)
        return task

    async def hang_up(self, sid: str | None = None) -> None:
        """Close one client (or all): the CLOSE packet, then the transport."""
        sockets = list(self.sockets.values()) if sid is None else [self.sockets.get(sid)]
        if sid is not None or sockets:
            await self.disconnect(sid)
        for socket in sockets:
            # An empty slot in the send queue makes the socket's writer close
            # the transport instead of waiting for the client to do it.
            queue = getattr(socket, "queue", None)
            if isinstance(queue, asyncio.Queue):
                queue.put_nowait(None)

    async def abort(self, sid: str, request: web.BaseRequest | None) -> None:
        """Drop a client at once, without a goodbye it would have to read."""
        socket = self.sockets.get(sid)
        if socket is not None:
            await socket.close(wait=False, abort=True, reason=self.reason.SERVER_DISCONNECT)
            socket.queue.put_nowait(None)
        transport = request.transport if request is not None else None
        if isinstance(transport, asyncio.Transport):
            transport.abort()

    async def shutdown(self) -> None:
        """Engine.IO's shutdown, then every background task it left behind."""
        await super().shutdown()
        tasks = [task for task in self.background if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)


class SocketIOServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server on :class:`EngineServer` (see the module docstring)."""

    eio: EngineServer

    def _engineio_server_class(self) -> type[EngineServer]:
        # The one override of a private method: python-socketio has no other
        # way to choose its Engine.IO server class.
        return EngineServer


def without_deflate(prefix: str) -> Middleware:
    """Requests under ``prefix`` reach Engine.IO without a WebSocket extension offer."""

    @web.middleware
    async def decline(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(prefix) and hdrs.SEC_WEBSOCKET_EXTENSIONS in request.headers:
            headers = request.headers.copy()
            del headers[hdrs.SEC_WEBSOCKET_EXTENSIONS]
            request = request.clone(headers=headers)
        return await handler(request)

    return decline

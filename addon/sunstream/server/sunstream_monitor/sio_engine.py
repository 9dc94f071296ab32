"""python-socketio's Engine.IO layer: bounded, closable, and written to like the WebSockets.

This is the one place the app reaches into python-socketio's and
python-engineio's internals, in two spots of :class:`SocketIOServer` and
:class:`EngineServer`, both marked "private", because the libraries offer
no public way to do either:

* ``SocketIOServer._engineio_server_class`` (a private method):
  ``socketio.AsyncServer.__init__`` builds its ``eio`` from it and takes no
  instance, so it is the only way to run on :class:`EngineServer`.
* ``EngineServer._async["websocket"]`` (a private attribute): the driver
  table ``engineio.AsyncServer.__init__`` loads for ``async_mode``; its
  ``websocket`` entry is the class that opens the WebSocket transport. It is
  replaced by :class:`EngineWebSocket`, the same interface as python-engineio's
  aiohttp driver (``engineio/async_drivers/aiohttp.py``) with compression off
  and the app's writer on the connection.

Everything else here overrides public methods of ``engineio.AsyncServer`` or
uses aiohttp's public API; admission and packet checks are composed on
through Engine.IO's public handler table (:mod:`.sio_gate`), not by
overriding the library's handlers.

What changes, and why:

* **Room broadcasts skip the per-client machinery.** python-socketio sends a
  room emit as one task per member, each putting the packet on that
  member's queue for its writer task, which encodes it and has aiohttp build
  a frame: three task switches and two copies per client per update. Here
  the endpoint encodes the packet once (:mod:`.sio`) and
  :meth:`EngineServer.writers` hands it to every member on the WebSocket
  transport as one pre-built frame through :class:`~.clients.Client` — the
  bounded, slow-client-evicting writer of ``/ws/monitoring``, written into
  the transport synchronously. A member still on long-polling, in the middle
  of its upgrade, or with packets of its own still in Engine.IO's queue
  (which a direct write would overtake) gets the same packet through
  Engine.IO's queue instead, so every member hears it exactly once, and in
  order — except that on a socket already backed up (its transport full),
  a packet Engine.IO's writer holds and one the app's writer holds may
  leave in either order once it drains.
* **No compression.** Browsers and socket.io-client always offer
  permessage-deflate and python-engineio's aiohttp driver accepts it, so
  every frame would be compressed once per client (a full compression pass
  per delivery) and each connection would keep ~50 KiB of zlib state.
  Dashboard frames are small JSON; bandwidth on a LAN is cheap.
  :class:`EngineWebSocket` opens its ``WebSocketResponse`` with
  ``compress=False`` — and a pre-built frame must be the same for every
  client, which compression per connection would not allow.
* Engine.IO's per-socket send queue is unbounded: a client that stops
  reading would grow it forever. Past ``max_queue`` packets nothing more is
  queued and ``on_overflow`` is told, to close the client (Home Assistant's
  ``MAX_PENDING_MSG`` rule; the WebSocket writer applies the same bound).
* Engine.IO closes a client by sending CLOSE and waiting for the client to
  hang up, and leaves a ping task asleep for a whole ping interval after a
  socket closed. A server that shuts down, or drops a client that sent
  garbage, should not depend on the client's manners: :meth:`~EngineServer.hang_up`
  and :meth:`~EngineServer.abort` end the transport from our side, and
  :meth:`~EngineServer.shutdown` ends every background task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Final

from aiohttp import WSMsgType, web
import engineio  # type: ignore[import-untyped]
from engineio.async_socket import AsyncSocket  # type: ignore[import-untyped]
import socketio  # type: ignore[import-untyped]

from .auth import normalize_address
from .clients import Client, ClientKind
from .settings import DEFAULT_CLIENT_QUEUE

# How long a shutdown waits for background work to end.
SHUTDOWN_TIMEOUT: Final = 5.0


class EngineWebSocket:
    """Engine.IO's WebSocket transport on aiohttp: uncompressed, with the app's writer.

    The interface of python-engineio's aiohttp driver: called with the
    request's environ, it opens the WebSocket and runs the Engine.IO
    socket's ``handler``, which reads with :meth:`wait` and writes with
    :meth:`send` (pings, acks, anything not broadcast). While it runs, the
    connection's :class:`~.clients.Client` is registered with the server
    under the socket's id, for broadcasts to write to directly.
    """

    def __init__(self, handler: Callable[[EngineWebSocket], Awaitable[None]], server: Any) -> None:
        """Engine.IO's socket ``handler`` for this transport, and the server."""
        self.handler = handler
        self.server: EngineServer = server
        self.ws = web.WebSocketResponse(max_msg_size=server.max_http_buffer_size, compress=False)
        self.environ: dict[str, Any] = {}

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        """Upgrade the request and serve the socket until it ends."""
        request: web.Request = environ["aiohttp.request"]
        await self.ws.prepare(request)
        self.environ = environ
        # The handler is a bound method of the Engine.IO socket it serves.
        socket = getattr(self.handler, "__self__", None)
        sid = socket.sid if isinstance(socket, AsyncSocket) else None
        client = Client(
            self.server,
            self.ws,
            kind=ClientKind.SOCKETIO,
            remote=normalize_address(request.remote),
            limit=self.server.max_queue,
        )
        client.bind(request.protocol)
        if sid is not None:
            self.server.add_writer(sid, client)
        try:
            await self.handler(self)
        finally:
            client.closing = True
            if sid is not None:
                self.server.remove_writer(sid, client)
        return self.ws

    async def close(self) -> None:
        """Close the WebSocket (Engine.IO's writer ends with this)."""
        await self.ws.close()

    async def send(self, message: str | bytes) -> None:
        """One Engine.IO packet, as a text (or binary) message."""
        if isinstance(message, bytes):
            await self.ws.send_bytes(message)
        else:
            await self.ws.send_str(message)

    async def wait(self) -> str | bytes:
        """The next message; :class:`OSError` when the connection ended (what Engine.IO expects)."""
        msg = await self.ws.receive()
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            raise OSError(f"websocket ended: {msg.type.name}")
        data: str | bytes = msg.data
        return data


class EngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """Engine.IO's server: bounded queues, direct WebSocket writers, tasks we can end."""

    # python-engineio's driver table for ``async_mode`` (see the module docstring).
    _async: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Engine.IO's own arguments; the bound and its callback are set by the gate."""
        super().__init__(*args, **kwargs)
        self.background: set[asyncio.Task[Any]] = set()
        self.max_queue = DEFAULT_CLIENT_QUEUE
        # Told (synchronously) when a client's queue is full; the packet is dropped.
        self.on_overflow: Callable[[str], None] | None = None
        # The writer of every open WebSocket transport, by Engine.IO session id.
        self.websockets: dict[str, Client] = {}
        self._sids: dict[Client, str] = {}
        # Private: the driver table has no public setter (see the module docstring).
        self._async = {**self._async, "websocket": EngineWebSocket}

    # -- direct WebSocket writers ---------------------------------------------------------

    def add_writer(self, sid: str, client: Client) -> None:
        """``client`` writes to ``sid``'s WebSocket from now on."""
        self.websockets[sid] = client
        self._sids[client] = sid

    def remove_writer(self, sid: str, client: Client) -> None:
        """``sid``'s WebSocket ended."""
        if self.websockets.get(sid) is client:
            del self.websockets[sid]
        self._sids.pop(client, None)

    def writers(self, sids: Iterable[str], queued: list[str]) -> Iterator[Client]:
        """The writers among ``sids`` a broadcast frame may go to now; the others into ``queued``.

        A frame goes straight to a socket that finished its upgrade to
        WebSocket and has nothing waiting in Engine.IO's own queue; the
        others (long-polling, upgrading, or with packets waiting that a
        direct write would overtake) are appended to ``queued``, for
        Engine.IO's queue (:meth:`enqueue`). A generator, walked by the
        broadcast itself: each member is written to as it is reached. Sorting
        the room first in a pass of its own held every write back by that
        pass (3 ms at 5,000 members).
        """
        sockets, websockets = self.sockets, self.websockets
        for sid in sids:
            client = websockets.get(sid)
            if client is not None:
                socket = sockets.get(sid)
                if socket is not None and socket.upgraded and not socket.queue.qsize():
                    yield client
                    continue
            queued.append(sid)

    def enqueue(self, sids: Iterable[str], text: str) -> None:
        """One encoded Socket.IO packet to each of ``sids`` through Engine.IO's queue, now.

        What :meth:`send` does, without its await: synchronous, so a
        broadcast reaches every member, whichever path it takes, in the order
        broadcasts were made. The same bound as :meth:`send_packet`.
        """
        pkt = engineio.packet.Packet(engineio.packet.MESSAGE, data=text)
        for sid in sids:
            socket = self.sockets.get(sid)
            if socket is None or socket.closing or socket.closed:
                continue
            if socket.queue.qsize() >= self.max_queue:
                if self.on_overflow is not None:
                    self.on_overflow(sid)
                continue
            socket.queue.put_nowait(pkt)

    def evict(self, client: Client) -> None:
        """A WebSocket writer is full: close its socket like any other overflow."""
        client.closing = True
        sid = self._sids.get(client)
        if sid is not None and self.on_overflow is not None:
            self.on_overflow(sid)

    # -- bounds and closing ---------------------------------------------------------------

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

    async def abort(self, sid: str) -> None:
        """Drop a client at once, without a goodbye it would have to read.

        Only a WebSocket is the client's own connection, and only it is cut.
        A long-polling client's requests ride keep-alive connections that
        carry other requests next (a browser's pool, Home Assistant's ingress
        proxy): closing the socket answers its pending poll, and its next
        request is refused.
        """
        writer = self.websockets.get(sid)
        socket = self.sockets.get(sid)
        if socket is not None:
            await socket.close(wait=False, abort=True, reason=self.reason.SERVER_DISCONNECT)
            socket.queue.put_nowait(None)
        if writer is not None:
            writer.abort()

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
        # Private: python-socketio has no other way to choose its Engine.IO
        # server class (see the module docstring).
        return EngineServer

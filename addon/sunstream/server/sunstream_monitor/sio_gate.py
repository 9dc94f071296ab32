"""The Socket.IO endpoint's gate: who gets in, who must leave, at the Engine.IO level.

Composed onto python-socketio through Engine.IO's public handler table
(``eio.on``): the library's own ``connect``, ``message`` and ``disconnect``
handlers are wrapped, not overridden, so its logic runs unchanged inside.

* Admission (:mod:`.admission`, the same policy as the WebSockets), checked
  when the Engine.IO connection opens, before any upgrade. A refusal is the
  HTTP 401 Engine.IO gives a refused connection, with a body that says why.
* A connection that has not joined the namespace (Socket.IO's CONNECT, which
  carries the token) within ``connect_timeout`` is closed, as Home Assistant
  closes a socket that has not authenticated in 10 s.
* The library raises on a packet it cannot decode and Engine.IO logs a
  traceback for it; a stranger's garbage is not our error, so it gets a
  one-line log and the connection is closed, as the JavaScript server does.
* A client whose send queue is full (:class:`~.sio_engine.EngineServer`)
  is dropped without waiting for it.
* A long-polling client that leaves gets its pending poll answered at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
import logging
from typing import Any, Final

from aiohttp import web

from .admission import Admission
from .auth import Authenticator, normalize_address
from .sio_engine import SocketIOServer

_LOGGER = logging.getLogger(__name__)

NAMESPACE: Final = "/"
# What decoding a malformed Socket.IO packet raises inside python-socketio.
_MALFORMED: Final = (ValueError, TypeError, KeyError, IndexError, AttributeError)

type _Handler = Callable[..., Awaitable[Any]]


class SocketIOGate:
    """Admission, the namespace-connect deadline, malformed packets and slow clients."""

    def __init__(
        self,
        server: SocketIOServer,
        admission: Admission[str],
        authenticator: Authenticator,
        *,
        connect_timeout: float,
        client_queue: int,
    ) -> None:
        """Wrap ``server``'s Engine.IO handlers; from now on every connection passes here."""
        self.server = server
        self.admission = admission
        self._authenticator = authenticator
        self.connect_timeout = connect_timeout
        self._evicting: set[str] = set()
        self.evicted = 0
        engine = server.eio
        engine.max_queue = client_queue
        engine.on_overflow = self._overflow
        connect, message, disconnect = (
            engine.handlers["connect"],
            engine.handlers["message"],
            engine.handlers["disconnect"],
        )

        async def on_connect(sid: str, environ: dict[str, Any]) -> Any:
            return await self._connect(connect, sid, environ)

        async def on_message(sid: str, data: Any) -> None:
            await self._message(message, sid, data)

        async def on_disconnect(sid: str, reason: Any) -> None:
            self.admission.release(sid)
            await disconnect(sid, reason)
            self._end_poll(sid)

        engine.on("connect", on_connect)
        engine.on("message", on_message)
        engine.on("disconnect", on_disconnect)

    async def _connect(self, inner: _Handler, sid: str, environ: Mapping[str, Any]) -> Any:
        request = environ.get("aiohttp.request")
        remote: str | None = None
        trusted = False
        if isinstance(request, web.BaseRequest):
            remote = normalize_address(request.remote)
            trusted = self._authenticator.from_ingress(request) is not None
        refusal = self.admission.admit(sid, remote, trusted=trusted)
        if refusal is not None:
            _LOGGER.info("Socket.IO connection refused: %s", refusal.detail)
            return refusal.detail
        try:
            await inner(sid, environ)
        except BaseException:
            # Engine.IO refuses the connection and will not report its end.
            self.admission.release(sid)
            raise
        self.server.start_background_task(self._connect_deadline, sid)
        return None

    def _end_poll(self, sid: str) -> None:
        """Answer a long-poll still waiting for a client that is gone.

        Engine.IO leaves it waiting for a packet until the ping timeout, and
        the client's own disconnect waits for that answer (python-socketio's
        client: ``ping_interval + ping_timeout``, 45 s by default); an empty
        slot in the queue ends it now with an empty payload.
        """
        socket = self.server.eio.sockets.get(sid)
        if socket is not None and not socket.upgraded:
            socket.queue.put_nowait(None)

    async def _connect_deadline(self, sid: str) -> None:
        await asyncio.sleep(self.connect_timeout)
        if sid in self.server.eio.sockets and not self.server.manager.sid_from_eio_sid(
            sid, NAMESPACE
        ):
            _LOGGER.info(
                "Socket.IO connection closed: no namespace connect within %g s",
                self.connect_timeout,
            )
            await self.server.eio.hang_up(sid)

    async def _message(self, inner: _Handler, sid: str, data: Any) -> None:
        try:
            await inner(sid, data)
        except _MALFORMED as err:
            _LOGGER.info("Socket.IO client sent a malformed packet (%s); closing it", err)
            await self.server.eio.hang_up(sid)

    def _overflow(self, sid: str) -> None:
        if sid in self._evicting:
            return
        self._evicting.add(sid)
        self.evicted += 1
        request = self._request(sid)
        _LOGGER.warning(
            "Closing Socket.IO client %s: %d messages pending",
            request.remote if request is not None else "?",
            self.server.eio.max_queue,
        )
        self.server.start_background_task(self._evict, sid)

    async def _evict(self, sid: str) -> None:
        try:
            await self.server.eio.abort(sid)
        finally:
            self._evicting.discard(sid)

    def _request(self, sid: str) -> web.BaseRequest | None:
        request = self.server.environ.get(sid, {}).get("aiohttp.request")
        return request if isinstance(request, web.BaseRequest) else None

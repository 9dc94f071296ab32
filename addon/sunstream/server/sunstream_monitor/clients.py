"""WebSocket clients: authentication, and a cheap, bounded write path.

Who may connect at all is :mod:`.admission`'s policy, shared with Socket.IO.

Fan-out is the hot path: one hub update goes to thousands of sockets. The
hub serializes the update once; :meth:`Clients.broadcast` then builds the
WebSocket frame once (a server frame is unmasked and, with compression off,
identical for every client) and hands the *same bytes object* to each
client. A client that keeps up gets it written straight into its transport,
synchronously — no per-client encoding, no task, no queue entry.

Only a client whose transport buffer is already full gets a queue (a deque
of references to those shared payloads) and one flusher task for as long as
it lags. When the queue reaches ``settings.client_queue`` (4096, Home
Assistant's ``MAX_PENDING_MSG``) the client is closed with 1008 "client
unable to keep up"; nobody else waits for it.

A client's socket is a :class:`Link`: aiohttp's ``WebSocketResponse`` for
``/ws``, a :class:`~.ws_lean.LeanSocket` for ``/ws/monitoring`` (``open(...,
lean=True)``: no task and no aiohttp state per watcher). The write path,
the queue and the eviction are the same for both.

Liveness is one server-wide sweep rather than aiohttp's per-connection
heartbeat timers: every :data:`HEARTBEAT` seconds each client that sent
nothing since the previous sweep is dropped, and every other one is sent the
same two-byte ping. An idle connection then costs no timer and no callback
per received chunk.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Iterable, KeysView
from dataclasses import dataclass
from enum import StrEnum
import gc
import logging
import struct
from typing import Any, Final, Protocol

import aiohttp
from aiohttp import WSMsgType, web
import orjson

from . import __version__, wire
from .admission import Admission
from .auth import Authenticator, Principal, bearer_token, normalize_address
from .memory_return import LULL, ROUNDS, SPACING, ExodusWatch
from .problems import Problem, too_many_failures, unauthorized
from .settings import Settings
from .ws_lean import MAX_MESSAGE_BYTES, HandedOver, LeanSocket, Receiver, upgrade

_LOGGER = logging.getLogger(__name__)

# Every this many seconds each client is pinged; one silent for a whole period is dropped.
HEARTBEAT: Final = 30.0
# How long a closing handshake (and the flush of what is already buffered) may take.
CLOSE_TIMEOUT: Final = 5.0
# Invalid messages a client may send before it is closed.
MAX_BAD_MESSAGES: Final = 20

CLOSE_GOING_AWAY: Final = 1001
CLOSE_POLICY_VIOLATION: Final = 1008
CLOSE_INTERNAL_ERROR: Final = 1011
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_UNKNOWN_SYSTEM: Final = 4404

TOO_SLOW: Final = "client unable to keep up with pending messages"
TOO_MANY_INVALID: Final = "too many invalid messages"

_PING_FRAME: Final = b"\x89\x00"
_ENDED: Final = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)
_LEN16: Final = struct.Struct("!BBH").pack
_LEN64: Final = struct.Struct("!BBQ").pack


def encode_text_frame(payload: bytes) -> bytes:
    """A final, unmasked, uncompressed RFC 6455 text frame carrying ``payload``."""
    length = len(payload)
    if length < 126:
        return bytes((0x81, length)) + payload
    if length < 65536:
        return _LEN16(0x81, 126, length) + payload
    return _LEN64(0x81, 127, length) + payload


@dataclass(frozen=True, slots=True)
class Complaint:
    """What is wrong with a client's message: an error frame's ``code`` and ``message``."""

    code: str
    message: str


def unknown_type(kind: str, known: Collection[str]) -> Complaint:
    """The complaint about a message type an endpoint does not understand."""
    return Complaint(
        "unknown_type",
        f"unknown message type {kind[:64]!r}; expected one of {', '.join(sorted(known))}",
    )


def error_frame(code: str, message: str, **extra: Any) -> bytes:
    """``{"type": "error", "code": …, "message": …}`` as JSON."""
    return wire.dumps({"type": "error", "code": code, "message": message, **extra})


class Link(Protocol):
    """A client's WebSocket: aiohttp's ``WebSocketResponse``, or a :class:`~.ws_lean.LeanSocket`."""

    @property
    def closed(self) -> bool:
        """A close frame was sent or received."""

    async def send_frame(self, message: bytes, opcode: WSMsgType) -> None:
        """Write one frame, waiting while the transport is full."""

    async def close(self, *, code: int = ..., message: bytes = ..., drain: bool = ...) -> bool:
        """The closing handshake."""


class Writable(Protocol):
    """The connection a client writes to: its transport and whether it is full."""

    @property
    def transport(self) -> asyncio.Transport | None:
        """The connection's transport (``None`` once lost)."""

    @property
    def writing_paused(self) -> bool:
        """The transport holds more than its high-water mark."""


class ClientKind(StrEnum):
    """Which endpoint a WebSocket client came in through (the server's stats count each)."""

    MONITORING = "monitoring"  # WS /ws/monitoring/{system_id}
    CHANNEL = "channel"  # WS /ws
    SOCKETIO = "socketio"  # Engine.IO's WebSocket transport under /socket.io/ (.sio_engine)


class Evictor(Protocol):
    """Who closes a client that cannot keep up: :class:`Clients`, or the Socket.IO engine."""

    def evict(self, client: Client) -> None:
        """Close ``client`` in the background; called from inside a fan-out, must not wait."""


class Client:
    """One WebSocket connection: who it is and its write path."""

    __slots__ = (
        "_flusher",
        "_limit",
        "_pending",
        "_protocol",
        "_registry",
        "_transport",
        "bad_messages",
        "closing",
        "kind",
        "principal",
        "remote",
        "silent",
        "systems",
        "ws",
    )

    def __init__(
        self,
        registry: Evictor,
        ws: Link,
        *,
        kind: ClientKind,
        remote: str | None,
        limit: int,
    ) -> None:
        """A connection being admitted; :meth:`bind` once the upgrade is done."""
        self._registry = registry
        self.ws = ws
        self.kind = kind
        self.remote = remote
        self._limit = limit
        self._transport: asyncio.Transport | None = None
        self._protocol: Writable | None = None
        self._pending: deque[bytes] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self.principal: Principal | None = None
        self.systems: set[str] | None = None
        self.closing = False
        self.bad_messages = 0
        # Nothing heard from the peer since the last liveness sweep.
        self.silent = False

    def bind(self, protocol: Writable) -> None:
        """Attach the connection the upgrade left us (it may already be gone)."""
        self._protocol = protocol
        self._transport = protocol.transport
        if self._transport is None:
            self.closing = True

    @property
    def response(self) -> web.StreamResponse:
        """What the request handler returns to aiohttp for this connection."""
        return self.ws if isinstance(self.ws, web.StreamResponse) else HandedOver()

    @property
    def pending(self) -> int:
        """Messages queued because the client reads slower than we write."""
        return len(self._pending) if self._pending is not None else 0

    # -- writing ---------------------------------------------------------------

    def send(self, payload: bytes, frame: bytes | None = None) -> None:
        """Send a JSON text message; ``frame`` is its pre-built frame, if at hand.

        Synchronous and non-blocking: written now if the transport has room,
        queued behind earlier messages otherwise, and the client closed if
        the queue is full.
        """
        if self.closing:
            return
        if self._pending is None:
            transport, protocol = self._transport, self._protocol
            if transport is None or protocol is None or transport.is_closing() or self.ws.closed:
                self.closing = True
                return
            # Paused = the transport holds more than its high-water mark (64 KiB).
            if not protocol.writing_paused:
                transport.write(frame if frame is not None else encode_text_frame(payload))
                return
            self._pending = deque()
            # Lazily started, not eagerly: it must find the payload appended below.
            self._flusher = asyncio.get_running_loop().create_task(self._flush(self._pending))
        if len(self._pending) >= self._limit:
            _LOGGER.warning(
                "Closing %s client %s: %d messages pending", self.kind, self.remote, self._limit
            )
            self._registry.evict(self)
            return
        self._pending.append(payload)

    def ping(self) -> None:
        """A protocol ping, unless the client is behind (its queue proves nothing)."""
        if self._pending is None and not self.closing:
            transport = self._transport
            if transport is not None and not transport.is_closing() and not self.ws.closed:
                transport.write(_PING_FRAME)

    def abort(self) -> None:
        """Drop the connection at once (a peer that stopped answering)."""
        self.closing = True
        if self._transport is not None:
            self._transport.abort()

    def send_json(self, message: Any) -> None:
        """Serialize and send one message meant for this client only."""
        self.send(wire.dumps(message))

    def send_error(self, code: str, message: str, **extra: Any) -> None:
        """An error frame; the connection stays open."""
        self.send(error_frame(code, message, **extra))

    async def _flush(self, pending: deque[bytes]) -> None:
        """Drain the queue at the pace the client reads (aiohttp waits for the socket)."""
        try:
            while pending and not self.closing:
                await self.ws.send_frame(pending.popleft(), WSMsgType.TEXT)
        except Exception as err:  # a dead socket ends the flush, quietly
            _LOGGER.debug("Flush to %s stopped: %r", self.remote, err)
            self.closing = True
        finally:
            if self._pending is pending:
                self._pending = None
                self._flusher = None

    # -- closing ---------------------------------------------------------------

    async def close(self, code: int, reason: str) -> None:
        """Close with ``code`` and ``reason``; bounded in time whatever the peer does."""
        if self.closing and self.ws.closed:
            return
        self.closing = True
        self._pending = None
        flusher, self._flusher = self._flusher, None
        if flusher is not None and flusher is not asyncio.current_task():
            flusher.cancel()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.ws.close(code=code, message=reason.encode()[:120], drain=False)
        except TimeoutError:
            pass
        except Exception as err:  # the peer may be gone already
            _LOGGER.debug("Closing %s: %r", self.remote, err)
        await self._release_transport()

    async def _release_transport(self) -> None:
        """Give a slow reader a moment to take what is buffered, then drop it.

        A graceful transport close waits for the buffer to drain, which a
        client that stopped reading never does; abort keeps it from holding
        memory forever.
        """
        transport = self._transport
        if transport is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_TIMEOUT
        # No public "drained" signal exists for a closing transport; this
        # runs only for clients being closed, so polling is cheap enough.
        while transport.get_write_buffer_size() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if transport.get_write_buffer_size():
            transport.abort()


class Clients:
    """Every WebSocket client of the server: admission, fan-out, liveness, shutdown."""

    def __init__(self, settings: Settings, authenticator: Authenticator) -> None:
        """No clients yet; caps come from ``settings``."""
        self.settings = settings
        self.authenticator = authenticator
        self.admission: Admission[Client] = Admission(
            settings.max_clients, settings.max_clients_per_ip
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.evicted = 0
        self.heartbeat = HEARTBEAT
        self._sweeper: asyncio.TimerHandle | None = None
        self._exodus = ExodusWatch()
        self._collection: asyncio.TimerHandle | None = None
        # Full collections run after a crowd left (memory_return.py); swapped in tests.
        self.collect: Callable[[], object] = gc.collect

    def __len__(self) -> int:
        """How many WebSocket connections are open (or being authenticated)."""
        return len(self.admission)

    @property
    def all(self) -> KeysView[Client]:
        """Every open (or authenticating) WebSocket client."""
        return self.admission.members

    @property
    def refused(self) -> int:
        """Connections refused before the upgrade (caps, authentication back-off)."""
        return self.admission.refused

    # -- admission -------------------------------------------------------------

    async def open(
        self, request: web.Request, kind: ClientKind, *, lean: bool = False
    ) -> Client | web.StreamResponse:
        """Admit, upgrade and authenticate a WebSocket request.

        Returns the authenticated :class:`Client`, or the response for a
        socket already closed when first-message authentication failed.
        Refusals before the upgrade (caps, back-off, a bad ``Authorization``
        header) raise :class:`Problem`, so they are plain HTTP answers.
        ``lean`` answers the upgrade with a :class:`~.ws_lean.LeanSocket`
        instead of aiohttp's WebSocket; the endpoint then hands it to :meth:`serve`.
        """
        auth = self.authenticator
        remote = normalize_address(request.remote)
        principal = auth.from_ingress(request)
        if principal is None and (wait := auth.retry_after(remote)) > 0:
            self.admission.refused += 1
            raise too_many_failures(wait)
        ws = web.WebSocketResponse(
            timeout=CLOSE_TIMEOUT,
            autoping=False,  # pongs feed the liveness sweep; pings are answered in _receive
            compress=False,
            max_msg_size=MAX_MESSAGE_BYTES,
        )
        client = Client(self, ws, kind=kind, remote=remote, limit=self.settings.client_queue)
        # Counted before the first await, so caps hold under a burst.
        refusal = self.admission.admit(client, remote, trusted=principal is not None)
        if refusal is not None:
            raise refusal
        try:
            if not ws.can_prepare(request).ok:
                raise Problem(
                    400,
                    "this endpoint speaks WebSocket: send an HTTP Upgrade request",
                    code="websocket_required",
                )
            if principal is None and (token := bearer_token(request)) is not None:
                principal = await auth.authenticate(token, remote=remote)
                if principal is None:
                    raise unauthorized("the bearer token was not accepted")
            if lean:
                client.ws = socket = upgrade(request, client)
                client.bind(socket)
            else:
                await ws.prepare(request)
                client.bind(request.protocol)
            if principal is None:
                principal = await self._first_message_auth(client)
                if principal is None:
                    self.admission.release(client)
                    return client.response
        except BaseException:
            self.admission.release(client)
            raise
        client.principal = principal
        return client

    async def _first_message_auth(self, client: Client) -> Principal | None:
        """Home Assistant's handshake: ``auth_required``, then ``auth`` within the deadline."""
        auth = self.authenticator
        client.send_json({"type": "auth_required", "version": __version__})
        try:
            async with asyncio.timeout(auth.auth_timeout):
                msg = await self._receive(client)
        except TimeoutError:
            await self._refuse(client, f"no auth message within {auth.auth_timeout:g} s")
            return None
        if msg.type in _ENDED:
            return None
        token: Any = None
        if msg.type is WSMsgType.TEXT:
            try:
                message = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                message = None
            if isinstance(message, dict) and message.get("type") == "auth":
                token = message.get("access_token")
        if not isinstance(token, str) or not token:
            await self._refuse(
                client, 'the first message must be {"type": "auth", "access_token": "…"}'
            )
            return None
        # Checked again here, not only at the upgrade: sockets opened together
        # before the first failure must not each get a guess past the back-off.
        if (wait := auth.retry_after(client.remote)) > 0:
            await self._refuse(
                client,
                "too many failed authentications from this address; "
                f"retry in {max(1, round(wait))} s",
            )
            return None
        principal = await auth.authenticate(token, remote=client.remote)
        if principal is None:
            await self._refuse(client, "the access token was not accepted")
            return None
        client.send_json({"type": "auth_ok", "version": __version__, "user": principal.name})
        return principal

    async def _refuse(self, client: Client, message: str) -> None:
        client.send_json({"type": "auth_invalid", "message": message})
        await client.close(CLOSE_UNAUTHORIZED, "unauthorized")

    def release(self, client: Client) -> None:
        """Forget a client whose handler is done."""
        client.closing = True
        self.admission.release(client)
        if self._exodus.seen(len(self.admission)):
            self._collect_in(LULL, ROUNDS)

    def _collect_in(self, delay: float, rounds: int) -> None:
        """Run ``rounds`` full collections, the first ``delay`` seconds from now."""
        if self._collection is not None:
            self._collection.cancel()
        loop = asyncio.get_running_loop()
        self._collection = loop.call_later(delay, self._collect, rounds)

    def _collect(self, rounds: int) -> None:
        self._collection = None
        self.collect()
        if rounds > 1:
            self._collect_in(SPACING, rounds - 1)

    # -- reading ---------------------------------------------------------------

    async def messages(self, client: Client) -> AsyncIterator[dict[str, Any]]:
        """The client's JSON object messages, each with a string ``type``.

        Malformed JSON, non-objects and binary frames get an error frame and
        are skipped; after :data:`MAX_BAD_MESSAGES` of them the client is
        closed (1008). Oversized frames were already closed by aiohttp (1009).
        Repeated ``auth`` messages are acknowledged, so a dashboard that
        always authenticates works behind ingress too.
        """
        while not client.closing:
            msg = await self._receive(client)
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                return  # CLOSE, CLOSING, CLOSED or ERROR (oversized frame, protocol error)
            read = self.read(client, msg)
            if isinstance(read, Complaint):
                await self._complain(client, read.code, read.message)
            elif read is not None:
                yield read

    @staticmethod
    def read(client: Client, msg: aiohttp.WSMessage) -> dict[str, Any] | Complaint | None:
        """A TEXT or BINARY message as a command, what is wrong with it, or ``None`` (answered).

        Repeated ``auth`` messages are answered here.
        """
        if msg.type is not WSMsgType.TEXT:
            return Complaint("binary_not_supported", "this server only reads JSON text messages")
        try:
            message = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            return Complaint("invalid_json", "message is not valid JSON")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return Complaint("invalid_message", 'messages are JSON objects with a "type"')
        if message["type"] == "auth":
            assert client.principal is not None
            client.send_json({"type": "auth_ok", "user": client.principal.name})
            return None
        return message

    def serve(self, client: Client, receiver: Receiver) -> web.StreamResponse:
        """Leave an authenticated lean client to ``receiver``; the request handler returns this."""
        assert isinstance(client.ws, LeanSocket)
        client.ws.serve(receiver)
        return client.response

    def complain_soon(self, client: Client, complaint: Complaint) -> None:
        """:meth:`_complain` from synchronous code: a close it needs runs in the background."""
        if self._counted(client):
            client.send_error(complaint.code, complaint.message)
        else:
            self.close_soon(client, CLOSE_POLICY_VIOLATION, TOO_MANY_INVALID)

    @staticmethod
    async def _receive(client: Client) -> aiohttp.WSMessage:
        """The next data or closing message; pings answered, pongs noted."""
        ws = client.ws
        if isinstance(ws, LeanSocket):  # it answers pings and notes pongs itself
            return await ws.receive()
        assert isinstance(ws, web.WebSocketResponse)
        while True:
            msg = await ws.receive()
            client.silent = False
            if msg.type is WSMsgType.PING:
                await ws.pong(msg.data)
            elif msg.type is not WSMsgType.PONG:
                return msg

    async def complain_unknown(self, client: Client, kind: str, known: Collection[str]) -> None:
        """Error frame for a message type this endpoint does not understand."""
        complaint = unknown_type(kind, known)
        await self._complain(client, complaint.code, complaint.message)

    async def _complain(self, client: Client, code: str, message: str) -> None:
        if not self._counted(client):
            await client.close(CLOSE_POLICY_VIOLATION, TOO_MANY_INVALID)
            return
        client.send_error(code, message)

    @staticmethod
    def _counted(client: Client) -> bool:
        """Count one invalid message; whether the client may still send more."""
        client.bad_messages += 1
        return client.bad_messages <= MAX_BAD_MESSAGES

    # -- fan-out ---------------------------------------------------------------

    @staticmethod
    def broadcast(payload: bytes, targets: Iterable[Client]) -> int:
        """Send ``payload`` to every client in ``targets``, in order: one frame, shared.

        Returns how many clients it went to.
        """
        frame = encode_text_frame(payload)
        sent = 0
        for client in targets:
            sent += 1
            try:
                client.send(payload, frame)
            except Exception:
                # One broken socket must not cost the others their update.
                _LOGGER.exception("Sending to %s failed; dropping it", client.remote)
                client.abort()
        return sent

    # -- liveness ----------------------------------------------------------------

    def start(self) -> None:
        """Begin the liveness sweeps (when the server starts)."""
        self._sweeper = asyncio.get_running_loop().call_later(self.heartbeat, self._tick)

    def _tick(self) -> None:
        self.sweep()
        self.start()

    def sweep(self) -> None:
        """Drop clients silent since the last sweep; ping the others."""
        dropped = 0
        for client in tuple(self.all):
            if client.principal is None or client.closing:
                continue  # still authenticating (its own deadline applies), or leaving
            if client.silent:
                client.abort()
                dropped += 1
            else:
                client.silent = True
                client.ping()
        if dropped:
            _LOGGER.info("Dropped %d clients that stopped answering pings", dropped)

    # -- background work and shutdown -------------------------------------------

    def evict(self, client: Client) -> None:
        """Close a client that cannot keep up, in the background.

        Called from inside a synchronous fan-out, which must not wait: the
        close runs as its own task while everyone else is served.
        """
        if client.closing:
            return
        self.evicted += 1
        self.close_soon(client, CLOSE_POLICY_VIOLATION, TOO_SLOW)

    def close_soon(self, client: Client, code: int, reason: str) -> None:
        """Close ``client`` in the background (from synchronous code)."""
        client.closing = True
        task = asyncio.get_running_loop().create_task(client.close(code, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_all(
        self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down"
    ) -> None:
        """Close every client (shutdown); bounded by :data:`CLOSE_TIMEOUT` overall."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._collection is not None:
            self._collection.cancel()
            self._collection = None
        closes = [client.close(code, reason) for client in tuple(self.all)]
        if closes:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT * 2):
                    await asyncio.gather(*closes, return_exceptions=True)
            except TimeoutError:
                _LOGGER.warning("Some clients did not close in time")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

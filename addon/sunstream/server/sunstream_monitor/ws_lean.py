"""A WebSocket connection served by one small asyncio Protocol instead of aiohttp's stack.

An idle ``/ws/monitoring/{system_id}`` watcher only waits, thousands at a
time. Kept on aiohttp it costs about 17 KiB of server memory: the request
handler and its HTTP parser, the parsed request and its headers, the
``WebSocketResponse`` with its reader, writer and queue, the handler task
and its coroutine frames (docs/performance.md, section 1.1).

So aiohttp does only what it is good at — routing, the middlewares (problem
documents, origin rules), admission and the bearer-token check, the access
log — and the endpoint then answers the upgrade itself (:func:`upgrade`):
it writes the ``101`` response and moves the transport to a
:class:`LeanSocket`. aiohttp's request handler is told its connection is
gone, its handler task ends, and it is freed. What stays per connection is
the transport, this protocol object and the :class:`~.clients.Client`: no
task, no request, no buffers beyond a partly received frame.

The protocol rules kept here (RFC 6455, sections 5 and 7):

* client frames must be masked, with no reserved bits (no extension is
  negotiated): otherwise close 1002;
* a message (fragments joined) may be at most :data:`MAX_MESSAGE_BYTES`
  in at most :data:`MAX_FRAGMENTS` frames, else close 1009; text, and a
  close frame's reason, must be UTF-8, else close 1007;
* pings are answered with a pong carrying the same data, except while the
  transport holds too much (section 5.5.3 lets an endpoint answer only the
  latest ping), so a peer that pings and never reads cannot grow the
  server's buffer; pongs only prove the peer alive; every frame clears
  the client's ``silent`` mark for the liveness sweep
  (:meth:`~.clients.Clients.sweep`);
* a close frame is echoed and the TCP connection closed by the server; a
  close payload of one byte, or a code that may not be sent (section 7.4),
  is closed with 1002; after its own close frame the server closes TCP at
  the peer's echo, or after :data:`ECHO_WAIT`; a connection whose peer
  does not read what is still buffered is aborted :data:`ECHO_WAIT` after
  it was closed, so it is forgotten all the same.

A client may not send before it has the ``101`` (RFC 6455, section 4.1: the
client "MUST wait for a response from the server before sending any
further data"); bytes aiohttp buffered behind the upgrade request are
therefore not carried over.

Until :meth:`LeanSocket.serve` hands it a :class:`Receiver`, the socket keeps
what arrives for :meth:`LeanSocket.receive` (first-message authentication
runs as an ordinary coroutine); from then on every message goes straight to
the receiver, synchronously, as it is parsed.
"""

from __future__ import annotations

import asyncio
import base64
from collections import deque
import hashlib
import logging
import struct
from typing import TYPE_CHECKING, Final, Protocol

from aiohttp import WSMessage, WSMsgType, web
from aiohttp.web_protocol import RequestHandler

if TYPE_CHECKING:
    from .clients import Client

_LOGGER = logging.getLogger(__name__)

# Clients only send small commands; anything bigger is closed with 1009.
MAX_MESSAGE_BYTES: Final = 64 * 1024
# Frames one message may be split into (empty continuations would otherwise never end).
MAX_FRAGMENTS: Final = 1024
_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# How long a connection we closed waits for the peer's close frame before it is dropped.
ECHO_WAIT: Final = 5.0

CLOSE_NORMAL: Final = 1000
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_INVALID_TEXT: Final = 1007
CLOSE_TOO_BIG: Final = 1009

_LEN16: Final = struct.Struct("!H")
_LEN64: Final = struct.Struct("!Q")
_CLOSED: Final = WSMessage(WSMsgType.CLOSED, None, None)


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455, 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def server_frame(opcode: int, payload: bytes) -> bytes:
    """A final, unmasked frame of ``opcode`` carrying ``payload``."""
    length = len(payload)
    if length < 126:
        return bytes((0x80 | opcode, length)) + payload
    if length < 65536:
        return bytes((0x80 | opcode, 126)) + _LEN16.pack(length) + payload
    return bytes((0x80 | opcode, 127)) + _LEN64.pack(length) + payload


def close_frame(code: int, reason: bytes = b"") -> bytes:
    """A close frame with ``code`` and at most 123 bytes of ``reason``."""
    return server_frame(WSMsgType.CLOSE, _LEN16.pack(code) + reason[:123])


def sendable(code: int) -> bool:
    """Whether ``code`` may be sent in a close frame (RFC 6455, 7.4; IANA's registered codes)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code < 5000


def unmask(payload: bytes, mask: bytes) -> bytes:
    """``payload`` XOR the repeated 4-byte ``mask``, as one big-integer operation."""
    length = len(payload)
    if not length:
        return payload
    key = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")


class HandedOver(web.StreamResponse):
    """What the request handler returns once the connection left aiohttp.

    The ``101`` was written by :func:`upgrade`; this only lets aiohttp finish
    the request (and write its access line) without writing anything.
    """

    def __init__(self) -> None:
        """A ``101`` with nothing left to send."""
        super().__init__(status=101)

    @property
    def prepared(self) -> bool:
        """Already answered: middlewares must not add headers."""
        return True

    async def prepare(self, request: web.BaseRequest) -> None:
        """Nothing to write."""

    async def write_eof(self, data: bytes = b"") -> None:
        """Nothing to write."""


class Receiver(Protocol):
    """Who a served :class:`LeanSocket` reports to (the endpoint)."""

    def received(self, client: Client, message: WSMessage) -> None:
        """A TEXT (bytes, valid UTF-8) or BINARY message from ``client``."""

    def gone(self, client: Client) -> None:
        """``client``'s connection is closed; forget it."""


class LeanSocket(asyncio.Protocol):
    """One server-side WebSocket connection, parsed and written in place."""

    __slots__ = (
        "_buffer",
        "_closed",
        "_drain",
        "_fragment_bytes",
        "_fragments",
        "_inbox",
        "_linger",
        "_lost",
        "_receiver",
        "_waiter",
        "client",
        "transport",
        "writing_paused",
    )

    def __init__(self, transport: asyncio.Transport, client: Client) -> None:
        """The protocol taking over ``transport`` for ``client``."""
        self.transport = transport
        self.client = client
        self.writing_paused = False
        self._buffer = b""
        self._fragments: list[bytes] | None = None
        self._fragment_bytes = 0
        self._closed = False
        self._lost = False
        self._receiver: Receiver | None = None
        self._waiter: asyncio.Future[WSMessage] | None = None
        self._inbox: deque[WSMessage] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._linger: asyncio.TimerHandle | None = None

    # -- the part aiohttp's WebSocketResponse also offers (clients.Link) ----------

    @property
    def closed(self) -> bool:
        """A close frame was sent or received, or the connection is gone."""
        return self._closed or self._lost or self.transport.is_closing()

    async def send_frame(self, message: bytes, opcode: WSMsgType) -> None:
        """Write one frame, then wait while the transport holds too much."""
        if self._lost or self.transport.is_closing():
            raise ConnectionResetError("connection closed")
        self.transport.write(server_frame(opcode, message))
        if self.writing_paused:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    async def close(
        self, *, code: int = CLOSE_NORMAL, message: bytes = b"", drain: bool = True
    ) -> bool:
        """Send a close frame; the connection ends at the peer's echo, or after :data:`ECHO_WAIT`.

        Nothing waits here: a peer that stopped reading must hold neither
        the caller nor a shutdown.
        """
        if self._closed or self._lost:
            return False
        self._closed = True
        transport = self.transport
        if transport.is_closing():
            return False
        transport.write(close_frame(code, message))
        self._linger = asyncio.get_running_loop().call_later(ECHO_WAIT, self._shut)
        # Leaving starts now: the peer is forgotten while the close completes.
        self._forget()
        return True

    async def receive(self) -> WSMessage:
        """The next data message, or a CLOSED one (authentication only; see :meth:`serve`)."""
        if self._inbox:
            return self._inbox.popleft()
        if self._lost or self._closed:
            return _CLOSED
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            return await self._waiter
        finally:
            self._waiter = None

    def serve(self, receiver: Receiver) -> None:
        """From now on, hand every message to ``receiver``; tell it when the connection ends."""
        self._receiver = receiver
        inbox, self._inbox = self._inbox, None
        for message in inbox or ():
            receiver.received(self.client, message)
        if self._lost or self._closed:
            self._forget()

    # -- asyncio.Protocol -----------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Parse every complete frame; keep a partial one for the next chunk."""
        buffer = self._buffer + data if self._buffer else data
        self.client.silent = False
        end = len(buffer)
        position = 0
        while not self.transport.is_closing():
            if end - position < 2:
                break
            first, second = buffer[position], buffer[position + 1]
            length = second & 0x7F
            start = position + 2
            if length == 126:
                if end - start < 2:
                    break
                (length,) = _LEN16.unpack_from(buffer, start)
                start += 2
            elif length == 127:
                if end - start < 8:
                    break
                (length,) = _LEN64.unpack_from(buffer, start)
                start += 8
            if first & 0x70 or not second & 0x80:
                self._fail(CLOSE_PROTOCOL_ERROR, b"unmasked frame or reserved bits")
                return
            if length > MAX_MESSAGE_BYTES:
                self._fail(CLOSE_TOO_BIG, b"message too big")
                return
            if end - start < 4 + length:
                break
            mask = buffer[start : start + 4]
            payload = unmask(buffer[start + 4 : start + 4 + length], mask)
            position = start + 4 + length
            self._frame(bool(first & 0x80), first & 0x0F, payload)
        self._buffer = buffer[position:] if position < end else b""

    def _frame(self, final: bool, opcode: int, payload: bytes) -> None:
        if opcode >= 0x8:
            self._control(final, opcode, payload)
            return
        fragments = self._fragments
        if opcode == WSMsgType.CONTINUATION:
            if fragments is None:
                self._fail(CLOSE_PROTOCOL_ERROR, b"continuation without a start")
                return
            fragments.append(payload)
            self._fragment_bytes += len(payload)
            if self._fragment_bytes > MAX_MESSAGE_BYTES or len(fragments) - 1 > MAX_FRAGMENTS:
                self._fail(CLOSE_TOO_BIG, b"message too big")
                return
            if not final:
                return
            self._fragments = None
            opcode, payload = fragments[0][0], b"".join(fragments[1:])
        elif opcode not in (WSMsgType.TEXT, WSMsgType.BINARY):
            self._fail(CLOSE_PROTOCOL_ERROR, b"unknown opcode")
            return
        elif fragments is not None:
            self._fail(CLOSE_PROTOCOL_ERROR, b"new message inside a fragmented one")
            return
        elif not final:
            # The first entry remembers the opcode of the message being joined.
            self._fragments = [bytes((opcode,)), payload]
            self._fragment_bytes = len(payload)
            return
        if opcode == WSMsgType.TEXT:
            try:
                payload.decode()
            except UnicodeDecodeError:
                self._fail(CLOSE_INVALID_TEXT, b"text is not UTF-8")
                return
        self._deliver(WSMessage(WSMsgType(opcode), payload, None))

    def _control(self, final: bool, opcode: int, payload: bytes) -> None:
        """Ping, pong, close: never fragmented, at most 125 bytes."""
        if not final or len(payload) > 125:
            self._fail(CLOSE_PROTOCOL_ERROR, b"bad control frame")
        elif opcode == WSMsgType.PING:
            if not self.transport.is_closing() and not self.writing_paused:
                self.transport.write(server_frame(WSMsgType.PONG, payload))
        elif opcode == WSMsgType.CLOSE:
            self._peer_closed(payload)
        elif opcode != WSMsgType.PONG:
            self._fail(CLOSE_PROTOCOL_ERROR, b"unknown opcode")

    def _deliver(self, message: WSMessage) -> None:
        if self._closed:
            return  # after our close frame only the echo matters
        if self._receiver is not None:
            self._receiver.received(self.client, message)
        elif self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(message)
        else:
            if self._inbox is None:
                self._inbox = deque()
            self._inbox.append(message)

    def _peer_closed(self, payload: bytes) -> None:
        """Echo the peer's close (or take its echo of ours) and end the connection."""
        if not self._closed:
            code = _LEN16.unpack_from(payload)[0] if len(payload) >= 2 else CLOSE_NORMAL
            if len(payload) == 1 or not sendable(code):
                self._fail(CLOSE_PROTOCOL_ERROR, b"bad close frame")
                return
            try:
                payload[2:].decode()
            except UnicodeDecodeError:
                self._fail(CLOSE_INVALID_TEXT, b"close reason is not UTF-8")
                return
            self._closed = True
            self.transport.write(close_frame(code))
        self._shut()
        self._wake(_CLOSED)

    def _fail(self, code: int, reason: bytes) -> None:
        """A protocol violation: close with ``code`` at once, without waiting for an echo."""
        _LOGGER.debug("Closing %s: %s", self.client.remote, reason.decode())
        if not self._closed and not self.transport.is_closing():
            self.transport.write(close_frame(code, reason))
        self._closed = True
        self._shut()
        self._wake(_CLOSED)

    def _shut(self) -> None:
        """Close TCP; abort it :data:`ECHO_WAIT` later if the peer leaves data unread.

        ``transport.close()`` waits for the buffer to drain before
        ``connection_lost``, which would never come for a peer that stopped
        reading.
        """
        transport = self.transport
        transport.close()
        if self._lost or not transport.get_write_buffer_size():
            return
        if self._linger is not None:
            self._linger.cancel()
        self._linger = asyncio.get_running_loop().call_later(ECHO_WAIT, transport.abort)

    def _wake(self, message: WSMessage) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(message)

    def pause_writing(self) -> None:
        """The transport holds more than its high-water mark."""
        self.writing_paused = True

    def resume_writing(self) -> None:
        """The transport drained below its low-water mark."""
        self.writing_paused = False
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def connection_lost(self, exc: BaseException | None) -> None:
        """The connection is gone: wake whoever waits, tell the receiver."""
        self._lost = True
        self._buffer = b""
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        self._fragments = None
        self._wake(_CLOSED)
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_exception(ConnectionResetError("connection lost"))
        self._forget()

    def _forget(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.gone(self.client)


def upgrade(request: web.Request, client: Client) -> LeanSocket:
    """Answer ``request``'s upgrade with ``101`` and move its connection to a :class:`LeanSocket`.

    The caller has checked the handshake (``WebSocketResponse.can_prepare``).
    aiohttp's request handler is then told the connection is lost (without
    it closing the transport), which removes it from the server's
    connections; the request finishes when the endpoint returns
    :class:`HandedOver`.
    """
    handler = request.protocol
    transport = request.transport
    if not isinstance(handler, RequestHandler) or not isinstance(transport, asyncio.Transport):
        raise ConnectionResetError("connection closed before the upgrade")
    socket = LeanSocket(transport, client)
    socket.writing_paused = handler.writing_paused
    transport.set_protocol(socket)
    handler.transport = None  # so that connection_lost leaves the transport open
    handler.connection_lost(None)
    if not transport.is_reading():
        transport.resume_reading()
    transport.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: "
        + accept_key(request.headers["Sec-WebSocket-Key"].strip()).encode()
        + b"\r\n\r\n"
    )
    return socket

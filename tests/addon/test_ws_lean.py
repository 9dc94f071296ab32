"""``/ws/monitoring`` served by :mod:`sunstream_monitor.ws_lean`: the wire, and what it keeps.

Frames are written by hand on a raw loopback socket, so the protocol rules
(masking, fragments, control frames, sizes, UTF-8) are exercised exactly as
a client could break them.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
from itertools import pairwise
import os
import socket
import struct
import termios
import time

import orjson
import pytest

from sunstream_monitor import clients as clients_module, memory_return, ws_lean
from sunstream_monitor.clients import MAX_MESSAGE_BYTES
from sunstream_monitor.memory_return import MIN_DROP, ROUNDS, ExodusWatch
from sunstream_monitor.web import CHANNEL_KEY, CLIENTS_KEY, MONITORING_KEY
from sunstream_monitor.ws_lean import MAX_FRAGMENTS, LeanSocket, accept_key

from .web_support import ADMIN_TOKEN, WAIT, Server, ServerFactory, eventually, make_server, receive

__all__ = ["make_server"]

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def client_frame(opcode: int, payload: bytes, *, final: bool = True, masked: bool = True) -> bytes:
    """A client frame: masked with a random key unless told otherwise."""
    head = bytes(((0x80 if final else 0) | opcode,))
    length = len(payload)
    bit = 0x80 if masked else 0
    if length < 126:
        head += bytes((bit | length,))
    elif length < 65536:
        head += bytes((bit | 126,)) + struct.pack("!H", length)
    else:
        head += bytes((bit | 127,)) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawSocket:
    """A WebSocket client on a bare stream: upgrade, then frames by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(
        cls,
        server: Server,
        path: str = "/ws/monitoring/rooftop",
        *,
        token: str | None = ADMIN_TOKEN,
        receive_buffer: int | None = None,
    ) -> RawSocket:
        """Upgrade ``path``; ``receive_buffer`` shrinks the socket's (a peer that stops reading)."""
        host, port = server.url("/").split("//")[1].rstrip("/").split(":")
        sock = socket.socket()
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        authorization = f"Authorization: Bearer {token}\r\n" if token else ""
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{authorization}\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert f"Sec-WebSocket-Accept: {accept_key(key)}\r\n".encode() in head
        return cls(reader, writer)

    def send(self, frame: bytes) -> None:
        self.writer.write(frame)

    async def frame(self) -> tuple[int, bytes]:
        """The next server frame: opcode and payload (server frames are never masked)."""
        first, second = await asyncio.wait_for(self.reader.readexactly(2), WAIT)
        assert not second & 0x80
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(length)

    async def json(self) -> dict[str, object]:
        opcode, payload = await self.frame()
        assert opcode == TEXT
        message: dict[str, object] = orjson.loads(payload)
        return message

    async def close_code(self) -> int:
        """Skip data frames up to the server's close frame; its code."""
        while True:
            opcode, payload = await self.frame()
            if opcode == CLOSE:
                code: int = struct.unpack("!H", payload[:2])[0]
                return code


def test_accept_key_is_rfc_6455s_example() -> None:
    # RFC 6455, section 1.3.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


async def test_pings_and_fragmented_commands_are_answered(make_server: ServerFactory) -> None:
    server = await make_server()
    raw = await RawSocket.open(server)
    assert (await raw.json())["type"] == "monitoring_data"
    raw.send(client_frame(PING, b"are you there"))
    assert await raw.frame() == (PONG, b"are you there")
    command = orjson.dumps({"type": "ping", "id": 7})
    raw.send(client_frame(TEXT, command[:5], final=False))
    raw.send(client_frame(PING, b"between fragments"))  # control frames may interleave
    raw.send(client_frame(0x0, command[5:]))
    assert await raw.frame() == (PONG, b"between fragments")
    assert await raw.json() == {"type": "pong", "id": 7}
    raw.send(client_frame(BINARY, b"\x00"))
    assert (await raw.json())["code"] == "binary_not_supported"
    raw.send(client_frame(TEXT, b'{"type": "dance"}'))
    assert (await raw.json())["code"] == "unknown_type"
    # A close is echoed and the server ends the connection.
    raw.send(client_frame(CLOSE, struct.pack("!H", 1000)))
    assert await raw.close_code() == 1000
    assert await asyncio.wait_for(raw.reader.read(), WAIT) == b""


async def test_protocol_violations_close_with_their_codes(make_server: ServerFactory) -> None:
    server = await make_server()
    cases = [
        (client_frame(TEXT, b'{"type": "ping"}', masked=False), 1002),
        (client_frame(TEXT, b"\xff\xfe"), 1007),
        (client_frame(TEXT, b"x" * (MAX_MESSAGE_BYTES + 1)), 1009),
        (client_frame(0x0, b"no start"), 1002),
        (client_frame(PING, b"x", final=False), 1002),
    ]
    for frame, code in cases:
        raw = await RawSocket.open(server)
        await raw.json()
        raw.send(frame)
        assert await raw.close_code() == code, frame[:2]
        raw.writer.close()


async def test_watchers_leave_nothing_behind(make_server: ServerFactory) -> None:
    """Connected watchers hold no aiohttp connection or task; gone, they hold nothing at all."""
    server = await make_server()
    clients = server.app[CLIENTS_KEY]
    monitoring = server.app[MONITORING_KEY]
    tasks = len(asyncio.all_tasks())
    sockets = [await server.ws("/ws/monitoring/rooftop") for _ in range(20)]
    for ws in sockets:
        assert (await receive(ws))["type"] == "monitoring_data"
    for _ in range(5):  # first-message authentication, as browsers do
        ws = await server.ws("/ws/monitoring/garage", token=None)
        assert (await receive(ws))["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": ADMIN_TOKEN})
        assert (await receive(ws))["type"] == "auth_ok"
        assert (await receive(ws))["type"] == "monitoring_data"
        sockets.append(ws)
    await eventually(lambda: len(clients) == 25)
    assert monitoring.stats() == {"rooftop": 20, "garage": 5}
    assert server.runner.server is not None
    assert server.runner.server.connections == []  # aiohttp let go of every one
    # The client side of each connection adds its own reader task; the server none.
    assert len(asyncio.all_tasks()) - tasks <= len(sockets)
    server.hub.update_state("rooftop", {"system_id": "rooftop", "seq": 1})
    for ws in sockets[:20]:
        assert (await receive(ws))["data"]["seq"] == 1
    for ws in sockets:
        await ws.close()
    await eventually(lambda: len(clients) == 0)
    assert monitoring.stats() == {}
    assert len(clients.admission.members) == 0
    # A client that vanishes without a close frame is forgotten too.
    raw = await RawSocket.open(server)
    await raw.json()
    await eventually(lambda: len(clients) == 1)
    raw.writer.transport.abort()
    await eventually(lambda: len(clients) == 0)
    assert monitoring.stats() == {}


async def test_channel_clients_leave_nothing_behind(make_server: ServerFactory) -> None:
    """``/ws`` members, their subscriptions and ``*`` subscribers end with their connections."""
    server = await make_server()
    clients = server.app[CLIENTS_KEY]
    channel = server.app[CHANNEL_KEY]
    sockets = []
    for index in range(12):
        ws = await server.ws("/ws")
        assert (await receive(ws))["type"] == "connection_status"
        target = "*" if index % 4 == 0 else ("rooftop" if index % 2 else "garage")
        await ws.send_json({"type": "subscribe", "system_id": target})
        assert (await receive(ws))["type"] == "subscribed"
        sockets.append(ws)
    assert len(channel.members) == 12
    assert len(channel.everything) == 3
    for ws in sockets:
        await ws.close()
    await eventually(lambda: len(clients) == 0)
    assert not channel.members
    assert not channel.everything
    assert channel.subscribers.counts() == {}
    assert channel.stats() == {}


async def test_bad_close_frames_close_with_1002(make_server: ServerFactory) -> None:
    """A one-byte close payload, or a code no endpoint may send, is not echoed (RFC 6455, 7.4)."""
    server = await make_server()
    for payload in (
        b"\x03",
        *(struct.pack("!H", code) for code in (999, 1005, 1006, 1015, 1016, 2999)),
    ):
        raw = await RawSocket.open(server)
        await raw.json()
        raw.send(client_frame(CLOSE, payload))
        assert await raw.close_code() == 1002, payload
        raw.writer.close()
    for code in (1001, 1003, 1007, 1014, 3000, 4999):
        raw = await RawSocket.open(server)
        await raw.json()
        raw.send(client_frame(CLOSE, struct.pack("!H", code)))
        assert await raw.close_code() == code
        raw.writer.close()


async def test_a_close_reason_that_is_not_utf8_closes_with_1007(make_server: ServerFactory) -> None:
    """The close frame's reason is UTF-8 text, like a text message (RFC 6455, 5.5.1)."""
    server = await make_server()
    raw = await RawSocket.open(server)
    await raw.json()
    raw.send(client_frame(CLOSE, struct.pack("!H", 1000) + b"\xff\xfe"))
    assert await raw.close_code() == 1007
    raw.writer.close()
    raw = await RawSocket.open(server)
    await raw.json()
    raw.send(client_frame(CLOSE, struct.pack("!H", 1000) + "até logo".encode()))
    assert await raw.close_code() == 1000
    raw.writer.close()


async def test_endless_empty_continuations_close_with_1009(make_server: ServerFactory) -> None:
    """Empty fragments add no bytes, but their number is capped, even before authentication."""
    server = await make_server()
    raw = await RawSocket.open(server, "/ws/monitoring/garage", token=None)
    raw.send(client_frame(TEXT, b"{", final=False))
    raw.send(b"".join(client_frame(0x0, b"", final=False) for _ in range(MAX_FRAGMENTS)))
    assert await raw.close_code() == 1009


async def stalled_peer(server: Server) -> tuple[RawSocket, LeanSocket]:
    """A connected watcher that will not read, and the server's side of it, with small buffers."""
    raw = await RawSocket.open(server, receive_buffer=4096)
    await raw.json()
    clients = server.app[CLIENTS_KEY]
    await eventually(lambda: len(clients) == 1)
    (client,) = clients.all
    lean = client.ws
    assert isinstance(lean, LeanSocket)
    lean.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    raw.writer.transport.pause_reading()
    return raw, lean


def unread(sock: socket.socket, request: int) -> int:
    """Bytes in ``sock``'s kernel queue (FIONREAD: to read; TIOCOUTQ: not yet acknowledged)."""
    return int.from_bytes(fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0"), "little")


async def test_pings_from_a_peer_that_never_reads_do_not_grow_the_buffer(
    make_server: ServerFactory,
) -> None:
    """While writing is paused no pong is queued (RFC 6455, 5.5.3: the latest ping suffices)."""
    server = await make_server()
    raw, lean = await stalled_peer(server)
    pings = 20_000
    raw.send(b"".join(client_frame(PING, b"p" * 125) for _ in range(pings)))
    await raw.writer.drain()
    client_sock = raw.writer.get_extra_info("socket")
    server_sock = lean.transport.get_extra_info("socket")
    # Every ping has reached the server and been parsed.
    await eventually(
        lambda: (
            not raw.writer.transport.get_write_buffer_size()
            and not unread(client_sock, termios.TIOCOUTQ)
            and not unread(server_sock, termios.FIONREAD)
        )
    )
    assert lean.writing_paused
    # The pongs of 20,000 pings would be 2.5 MB; only about the high-water mark is held.
    assert lean.transport.get_write_buffer_size() < 256 * 1024
    raw.writer.transport.abort()


@pytest.mark.parametrize("ending", ["close", "protocol error"])
async def test_a_peer_that_stops_reading_after_its_close_is_dropped(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """With data still buffered, closing the transport never ends it: it is aborted instead."""
    monkeypatch.setattr(ws_lean, "ECHO_WAIT", 0.2)
    server = await make_server()
    clients = server.app[CLIENTS_KEY]
    raw, lean = await stalled_peer(server)
    raw.send(b"".join(client_frame(PING, b"p" * 125) for _ in range(5_000)))
    await eventually(lambda: lean.writing_paused)
    assert lean.transport.get_write_buffer_size()
    raw.send(
        client_frame(CLOSE, struct.pack("!H", 1000))
        if ending == "close"
        else client_frame(0x0, b"x")
    )
    await eventually(lambda: len(clients) == 0)
    assert len(clients.admission.members) == 0
    assert server.app[MONITORING_KEY].stats() == {}
    raw.writer.transport.abort()


def test_only_a_large_drop_below_the_peak_calls_for_collections() -> None:
    """Churn never starts a series; a crowd leaving does, once per quarter of its peak."""
    watch = ExodusWatch()
    for connected in [*range(1, 80), *range(80, 30, -1)] * 3:  # 50 come and go, three times
        assert not watch.seen(connected)
    watch = ExodusWatch()
    assert not watch.seen(5000)
    starts = [n for n in range(4999, -1, -1) if watch.seen(n)]
    # 5,000 → 0: at 3,750 (a quarter gone), then a quarter of what was left, each ≥ 100.
    assert starts[:3] == [3750, 2812, 2109]
    assert all(before - after >= MIN_DROP for before, after in pairwise([5000, *starts]))


async def test_watchers_leaving_in_a_crowd_get_their_memory_collected(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After enough watchers leave, full collections run, a few, spaced; not before."""
    monkeypatch.setattr(memory_return, "MIN_DROP", 10)
    monkeypatch.setattr(clients_module, "LULL", 0.5)
    monkeypatch.setattr(clients_module, "SPACING", 0.05)
    server = await make_server()
    clients = server.app[CLIENTS_KEY]
    collections: list[float] = []
    clients.collect = lambda: collections.append(time.monotonic())
    sockets = [await server.ws("/ws/monitoring/rooftop") for _ in range(40)]
    for ws in sockets:
        assert (await receive(ws))["type"] == "monitoring_data"
    for ws in sockets[:5]:  # a few leave: ordinary churn
        await ws.close()
    await eventually(lambda: len(clients) == 35)
    await asyncio.sleep(0.3)
    assert collections == []
    await asyncio.gather(*(ws.close() for ws in sockets[5:]))
    await eventually(lambda: len(clients) == 0)
    await eventually(lambda: len(collections) == ROUNDS)
    await asyncio.sleep(0.3)
    assert len(collections) == ROUNDS  # one series, not one per departure

"""Test equipment for the MQTT bridge and feed: a recording subscriber, a TCP
relay that can cut links like a failing network, and task helpers.

Nothing here stands in for our own code: the subscriber is a real aiomqtt
client on the real broker, the relay forwards real bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
import contextlib
import time
from typing import Any

import aiomqtt
import orjson

from sunstream_monitor.backoff import Backoff
from sunstream_monitor.settings import MqttSettings

WAIT = 5.0
PREFIX = "sunstream"


def fast_backoff() -> Backoff:
    """Reconnect quickly so tests stay short."""
    return Backoff(base=0.05, cap=0.3)


def mqtt_settings(port: int, **overrides: Any) -> MqttSettings:
    """Settings for a loopback broker."""
    overrides.setdefault("prefix", PREFIX)
    return MqttSettings(host="127.0.0.1", port=port, **overrides)


async def eventually(check: Callable[[], object], within: float = WAIT) -> None:
    """Wait until ``check()`` is true, failing after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(coro: Coroutine[Any, Any, Any]) -> AsyncIterator[asyncio.Task[Any]]:
    """Run ``coro`` as a task for the block; cancel and await it afterwards."""
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Let aiomqtt's own housekeeping task see its cancellation.
        for _ in range(5):
            await asyncio.sleep(0)


class Subscriber:
    """A real MQTT client that records what it receives, in order."""

    def __init__(
        self,
        port: int,
        *filters: str,
        identifier: str | None = None,
        clean_session: bool = True,
    ) -> None:
        self.port = port
        self.filters = filters
        self.identifier = identifier
        self.clean_session = clean_session
        self.received: list[aiomqtt.Message] = []
        self._arrived = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Subscriber:
        self._client = aiomqtt.Client(
            "127.0.0.1",
            self.port,
            identifier=self.identifier,
            clean_session=self.clean_session,
            timeout=WAIT,
        )
        await self._client.__aenter__()
        for topic_filter in self.filters:
            await self._client.subscribe(topic_filter, qos=1)
        self._reader = asyncio.create_task(self._read(self._client))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._client is not None
        assert self._reader is not None
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await self._reader
        with contextlib.suppress(aiomqtt.MqttError):
            await self._client.__aexit__(None, None, None)
        for _ in range(5):
            await asyncio.sleep(0)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.received.append(message)
            self._arrived.set()

    async def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Publish at QoS 1 from this client."""
        assert self._client is not None
        await self._client.publish(topic, payload, qos=1, retain=retain)

    async def take(
        self, topic: str, where: Callable[[aiomqtt.Message], bool] | None = None
    ) -> aiomqtt.Message:
        """Remove and return the oldest message on ``topic`` (matching ``where``)."""
        deadline = time.monotonic() + WAIT
        while True:
            for index, message in enumerate(self.received):
                if message.topic.value == topic and (where is None or where(message)):
                    return self.received.pop(index)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [m.topic.value for m in self.received]
                raise AssertionError(f"nothing on {topic} within {WAIT} s; have {seen}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def take_json(self, topic: str) -> Any:
        """The next message on ``topic``, decoded."""
        return orjson.loads((await self.take(topic)).payload)

    def on(self, topic: str) -> list[aiomqtt.Message]:
        """Everything recorded (and not taken) on ``topic``."""
        return [message for message in self.received if message.topic.value == topic]


class Relay:
    """A TCP relay to the broker that can cut its links abruptly or refuse new ones.

    Cutting a link without an MQTT DISCONNECT is what a pulled cable or a
    crashed process looks like to the broker: it then publishes the will.
    Refusing closes the listening socket (connection refused), so a client
    fails fast instead of waiting for a CONNACK that never comes.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.refuse()
        self.sever()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)

    def refuse(self) -> None:
        """Stop listening: new connections are refused; open links stay."""
        if self._server is not None:
            self._server.close()
            self._server = None

    async def admit(self) -> None:
        """Listen again, on the same port."""
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    def sever(self) -> None:
        """Drop every open link at once (TCP reset, no MQTT goodbye)."""
        for client_writer, broker_writer in tuple(self._links):
            client_writer.transport.abort()
            broker_writer.transport.abort()
        self._links.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            try:
                broker_reader, broker_writer = await asyncio.open_connection(
                    "127.0.0.1", self.target_port
                )
            except OSError:
                writer.transport.abort()
                return
            link = (writer, broker_writer)
            self._links.add(link)
            try:
                await asyncio.gather(
                    _pipe(reader, broker_writer, writer),
                    _pipe(broker_reader, writer, broker_writer),
                )
            finally:
                self._links.discard(link)
        finally:
            self._handlers.discard(task)


async def _pipe(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, source_writer: asyncio.StreamWriter
) -> None:
    """Copy until either side goes; then reset both."""
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except ConnectionError, OSError:
        pass
    finally:
        sink.transport.abort()
        source_writer.transport.abort()

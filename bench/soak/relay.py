"""A TCP relay between the app and Home Assistant that fails like a network.

* :meth:`Relay.reset` — every relayed connection is aborted (RST) on both
  sides at once, as when Home Assistant's process dies or a NAT forgets the
  flow; new connections work straight away;
* :meth:`Relay.outage` — reset, and refuse new connections for a while
  (nothing listens: Home Assistant is down);
* :meth:`Relay.blackhole` — bytes stop moving both ways but every connection
  stays open (a stalled network: TCP holds the data), then flow resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
import time


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()


class Relay:
    """``127.0.0.1:listen_port`` → ``127.0.0.1:target_port``."""

    def __init__(self, listen_port: int, target_port: int) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self.pairs: set[_Pair] = set()
        self.accepted = 0
        self.last_accept = 0.0  # wall clock of the last connection made through
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.listen_port, reuse_address=True
            )

    async def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    async def close(self) -> None:
        self._flowing.set()
        await self._stop_listening()
        self.reset()

    def reset(self) -> int:
        """Abort every relayed connection; return how many."""
        pairs = list(self.pairs)
        for pair in pairs:
            pair.abort()
        return len(pairs)

    async def outage(self, seconds: float) -> int:
        """Reset and refuse connections for ``seconds``."""
        await self._stop_listening()
        dropped = self.reset()
        await asyncio.sleep(seconds)
        await self.start()
        return dropped

    async def blackhole(self, seconds: float) -> None:
        """Stop moving bytes for ``seconds``; connections stay open."""
        self._flowing.clear()
        try:
            await asyncio.sleep(seconds)
        finally:
            self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.last_accept = time.time()
        pair = _Pair(writer, up_writer)
        self.pairs.add(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pair)),
            asyncio.create_task(self._pump(up_reader, writer, pair)),
        ]
        try:
            await asyncio.gather(*pair.tasks, return_exceptions=True)
        finally:
            self.pairs.discard(pair)
            pair.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: _Pair
    ) -> None:
        try:
            while True:
                await self._flowing.wait()
                data = await reader.read(65536)
                if not data:
                    break
                await self._flowing.wait()  # read just before a blackhole: hold it
                writer.write(data)
                await writer.drain()
        except ConnectionError, OSError:
            pass
        finally:
            # One side ended: end the other (a half-close would leave it hanging).
            for task in pair.tasks:
                if task is not asyncio.current_task():
                    task.cancel()

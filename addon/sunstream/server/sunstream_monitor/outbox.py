"""The bridge's bounded outbound buffer of QoS 1 messages.

While the broker is unreachable the bridge keeps what it would have sent
here and sends it, in order, after reconnecting. Memory is bounded: past
``limit`` the oldest message is dropped (and counted) — a dashboard prefers
the recent past to an unbounded process.

Retained topics (a system's state, its availability, the systems list) only
ever need their latest value, so a newer message for the same topic replaces
the queued one instead of adding to the queue: an outage of an hour costs one
state per system, not one per update. Events are never coalesced.

A message leaves the buffer only once the broker acknowledged it (PUBACK),
so one in flight when the link drops is sent again: at-least-once, as QoS 1
promises.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
import itertools
import logging

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, eq=False)
class Message:
    """One MQTT publish. Compared by identity: the buffer tracks instances."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


type Key = str | int


class Outbox:
    """Messages waiting for the broker, oldest first, at most ``limit`` of them."""

    def __init__(self, limit: int) -> None:
        """Keep at most ``limit`` messages (at least one)."""
        if limit < 1:
            raise ValueError(f"outbox limit must be at least 1, got {limit}")
        self.limit = limit
        self.dropped = 0
        self._queue: OrderedDict[Key, Message] = OrderedDict()
        self._seq = itertools.count()
        self._dropped_since_report = 0
        # Set when something is queued: the pump sleeps on it.
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        """How many messages wait."""
        return len(self._queue)

    def put(self, message: Message) -> None:
        """Queue ``message``; a retained one replaces the queued value of its topic."""
        key: Key = message.topic if message.retain else next(self._seq)
        if key in self._queue:
            del self._queue[key]
        self._queue[key] = message
        while len(self._queue) > self.limit:
            self._queue.popitem(last=False)
            self.dropped += 1
            self._dropped_since_report += 1
            if self._dropped_since_report == 1:
                _LOGGER.warning(
                    "MQTT outbound buffer full (%d messages): dropping the oldest", self.limit
                )
        self._ready.set()

    def peek(self, count: int) -> list[tuple[Key, Message]]:
        """The oldest ``count`` messages, still queued until :meth:`done`."""
        return list(itertools.islice(self._queue.items(), count))

    def done(self, key: Key, message: Message) -> None:
        """The broker acknowledged ``message``; forget it unless a newer one replaced it."""
        if self._queue.get(key) is message:
            del self._queue[key]

    def discard_topics(self, topics: Iterable[str]) -> None:
        """Forget queued retained values that a fresh snapshot supersedes."""
        for topic in topics:
            self._queue.pop(topic, None)

    def take_drop_report(self) -> int:
        """How many were dropped since the last call (for one summary log line)."""
        count, self._dropped_since_report = self._dropped_since_report, 0
        return count

    async def wait(self) -> None:
        """Return once at least one message waits."""
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()

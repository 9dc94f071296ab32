"""Subscribers: who follows each system, for every client endpoint.

``/ws`` (:mod:`.ws_channel`), ``/ws/monitoring/{id}`` (:mod:`.ws_monitoring`)
and Socket.IO (:mod:`.sio`) each keep one :class:`Subscribers`, keyed by
system id. A system nobody follows has no entry, so the bookkeeping of a
system that went away (and its clients) ends with its last subscriber.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable


class Subscribers[M: Hashable]:
    """The members following each system."""

    def __init__(self) -> None:
        """Nobody follows anything yet."""
        self._by_system: dict[str, set[M]] = {}

    def of(self, system_id: str) -> Collection[M]:
        """Who follows ``system_id`` (empty when nobody does)."""
        return self._by_system.get(system_id, frozenset())

    def add(self, system_id: str, member: M) -> None:
        """``member`` follows ``system_id``."""
        self._by_system.setdefault(system_id, set()).add(member)

    def discard(self, system_id: str, member: M) -> bool:
        """``member`` no longer follows ``system_id``; whether that left it unfollowed."""
        members = self._by_system.get(system_id)
        if members is None:
            return False
        members.discard(member)
        if members:
            return False
        del self._by_system[system_id]
        return True

    def counts(self) -> dict[str, int]:
        """Subscribers per followed system."""
        return {system_id: len(members) for system_id, members in self._by_system.items()}

"""Subscribers: who follows each system, for every client endpoint.

``/ws`` (:mod:`.ws_channel`), ``/ws/monitoring/{id}`` (:mod:`.ws_monitoring`)
and Socket.IO (:mod:`.sio`) each keep one :class:`Subscribers`, keyed by
system id. A system nobody follows has no entry, so the bookkeeping of a
system that went away (and its clients) ends with its last subscriber.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable


class Subscribers[M: Hashable]:
    """The members following each system, in the order they subscribed.

    Fan-outs walk a room in that order, as Node's socket.io and ``ws`` do:
    consecutive writes then touch connections the kernel and the client
    allocated one after another. A set's hash order scattered them, which
    cost both the server's pass and the receiving side (measured in
    docs/performance.md, "Order of the walk").
    """

    def __init__(self) -> None:
        """Nobody follows anything yet."""
        # A dict, not a set: insertion-ordered, the same O(1) membership.
        self._by_system: dict[str, dict[M, None]] = {}

    def of(self, system_id: str) -> Collection[M]:
        """Who follows ``system_id``, first subscriber first (empty when nobody does)."""
        members = self._by_system.get(system_id)
        return () if members is None else members.keys()

    def add(self, system_id: str, member: M) -> None:
        """``member`` follows ``system_id`` (a member already following keeps its place)."""
        self._by_system.setdefault(system_id, {})[member] = None

    def discard(self, system_id: str, member: M) -> bool:
        """``member`` no longer follows ``system_id``; whether that left it unfollowed."""
        members = self._by_system.get(system_id)
        if members is None:
            return False
        members.pop(member, None)
        if members:
            return False
        del self._by_system[system_id]
        return True

    def counts(self) -> dict[str, int]:
        """Subscribers per followed system."""
        return {system_id: len(members) for system_id, members in self._by_system.items()}

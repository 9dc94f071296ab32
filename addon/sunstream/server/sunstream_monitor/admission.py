"""Admission: whether a new connection may open, and what a client may hold.

One policy for every client endpoint — the WebSockets (:mod:`.clients`) and
Socket.IO (:mod:`.sio_gate`) each keep an instance, so each may hold
``max_clients`` (the app's manual says the caps are counted apart):

* ``max_clients`` connections in all, counted from the moment a connection
  is admitted (before it authenticates, so the caps hold under a burst);
* ``max_clients_per_ip`` from one address — except connections that came
  through the Supervisor's ingress proxy, which carries every panel user
  from one address: only the total applies to those;
* :data:`MAX_SUBSCRIPTIONS` systems followed by one client.

A refusal is a :class:`~.problems.Problem` (503 ``server_full`` or 429
``too_many_connections``, with ``Retry-After``), so it reads the same
whichever endpoint refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Hashable, KeysView
from typing import Final

from .problems import Problem

# A client has no business following more systems than this.
MAX_SUBSCRIPTIONS: Final = 256
# Seconds a refused client is told to wait before trying again.
RETRY_AFTER: Final = "5"


def subscription_refusal(following: Collection[str], system_id: str) -> str | None:
    """Why a client following ``following`` may not add ``system_id``, if it may not."""
    if system_id in following or len(following) < MAX_SUBSCRIPTIONS:
        return None
    return f"a client may follow at most {MAX_SUBSCRIPTIONS} systems"


class Admission[K: Hashable]:
    """The connections admitted to one endpoint, by key, and the caps they are held to."""

    def __init__(self, max_clients: int, max_clients_per_ip: int) -> None:
        """Nobody admitted yet."""
        self.max_clients = max_clients
        self.max_clients_per_ip = max_clients_per_ip
        # Admitted key -> the address it counts against (None: came through ingress).
        self._address: dict[K, str | None] = {}
        self._per_address: Counter[str] = Counter()
        self.refused = 0

    def __len__(self) -> int:
        """How many connections are admitted now."""
        return len(self._address)

    @property
    def members(self) -> KeysView[K]:
        """The admitted connections' keys (a live view)."""
        return self._address.keys()

    def admit(self, key: K, remote: str | None, *, trusted: bool) -> Problem | None:
        """Admit ``key`` (from address ``remote``) and count it, or say why not.

        ``trusted`` is a connection through the ingress proxy: it counts
        towards the total only.
        """
        address = None if trusted else (remote or "")
        refusal = self._refusal(address)
        if refusal is not None:
            self.refused += 1
            return refusal
        self._address[key] = address
        if address is not None:
            self._per_address[address] += 1
        return None

    def _refusal(self, address: str | None) -> Problem | None:
        if len(self._address) >= self.max_clients:
            status, code = 503, "server_full"
            detail = f"the server has reached its limit of {self.max_clients} connections"
        elif address is not None and self._per_address[address] >= self.max_clients_per_ip:
            status, code = 429, "too_many_connections"
            detail = f"too many connections from this address (limit {self.max_clients_per_ip})"
        else:
            return None
        return Problem(status, detail, code=code, headers={"Retry-After": RETRY_AFTER})

    def release(self, key: K) -> None:
        """Forget ``key`` (closed, or never got further); idempotent."""
        if key not in self._address:
            return
        address = self._address.pop(key)
        if address is not None:
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]

"""Home Assistant's WebSocket API without the I/O: frames, results, entity diffs.

Kept apart from the socket so each rule of the protocol (coalesced frames,
error results, the compressed state diffs of ``subscribe_entities``) can be
read, and tested, on its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import orjson

from ..monitoring import EntityState

# A get_states or registry list on a big install exceeds 1 MiB; 16 MiB is
# what hass-client allows (the Supervisor itself accepts 64 MiB from Core).
MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024

SUPERVISOR_HOST: Final = "supervisor"
# Core as seen from an app container; the Supervisor proxy only accepts app
# tokens, so user tokens must be checked with Core itself.
CORE_FROM_APP_WS: Final = "ws://homeassistant:8123/api/websocket"
# Core with its own certificate: issued for the user's domain, never for the
# internal name, so it cannot be verified here; the hop stays on the
# Supervisor's internal network, the same trust as the plain variant.
CORE_FROM_APP_WSS: Final = "wss://homeassistant:8123/api/websocket"


class HomeAssistantError(Exception):
    """Something went wrong talking to Home Assistant."""


class ProtocolError(HomeAssistantError):
    """Home Assistant sent something this client does not understand."""


class AuthInvalid(HomeAssistantError):
    """Home Assistant refused the access token."""


class ConnectionLost(HomeAssistantError):
    """The WebSocket closed (or was never open) while something waited on it."""


class CommandFailed(HomeAssistantError):
    """Home Assistant answered a command with ``success: false``."""

    def __init__(self, code: str, message: str) -> None:
        """Keep HA's error code (``not_found``, ``service_validation_error`` …)."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def decode_frame(data: str | bytes) -> list[dict[str, Any]]:
    """The messages in one text frame: an object, or an array when coalesced."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise ProtocolError(f"invalid JSON from Home Assistant: {err}") from err
    items = parsed if isinstance(parsed, list) else [parsed]
    if not all(isinstance(item, dict) for item in items):
        raise ProtocolError("Home Assistant sent a frame that is not a message object")
    return items


def result_of(message: Mapping[str, Any]) -> Any:
    """The ``result`` of a result message; :class:`CommandFailed` if it failed."""
    if message.get("success"):
        return message.get("result")
    error = message.get("error")
    if isinstance(error, Mapping):
        raise CommandFailed(str(error.get("code", "unknown_error")), str(error.get("message", "")))
    raise CommandFailed("unknown_error", "Home Assistant reported a failure without details")


def websocket_url(url: str) -> str:
    """Normalise a configured HA address to its WebSocket API URL.

    ``http://ha:8123`` becomes ``ws://ha:8123/api/websocket``; a full
    ``ws://…/api/websocket`` (or the Supervisor's ``/core/websocket``) is
    kept as given.
    """
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path not in ("", "/") else "/api/websocket"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def validation_urls(ha_url: str) -> tuple[str, ...]:
    """Where user access tokens are checked: Core itself, in order of preference.

    Through the Supervisor (``ws://supervisor/core/websocket``) the
    Supervisor answers the auth phase and accepts only app tokens, so a
    Home Assistant user's token must go to Core directly, which an app
    reaches as ``homeassistant:8123`` — plain, or TLS when the user gave
    Core a certificate (see :data:`CORE_FROM_APP_WSS`). Anywhere else the
    feed's own URL is Core already.
    """
    url = websocket_url(ha_url)
    if urlsplit(url).hostname == SUPERVISOR_HOST:
        return (CORE_FROM_APP_WS, CORE_FROM_APP_WSS)
    return (url,)


def _compressed(raw: Mapping[str, Any]) -> EntityState:
    """An entity state from its compressed form ``{"s", "a", "lc", "lu"}``."""
    attributes = raw.get("a")
    changed = _stamp(raw.get("lc"))
    updated = _stamp(raw.get("lu"))
    return EntityState(
        state=str(raw.get("s", "")),
        attributes=dict(attributes) if isinstance(attributes, Mapping) else {},
        last_changed=changed,
        last_updated=updated if updated is not None else changed,
    )


def _stamp(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


class EntityStore:
    """Entity states as the ``subscribe_entities`` events describe them.

    The first event of a subscription adds (``a``) every state; later ones
    add, change (``c``: ``+`` additions, ``-`` removed attributes) or
    remove (``r``) entities. A change to an entity never added is ignored:
    it cannot be rebuilt from a diff.
    """

    def __init__(self) -> None:
        """Start with no states."""
        self._states: dict[str, EntityState] = {}

    def get(self, entity_id: str) -> EntityState | None:
        """The entity's current state, if it has one."""
        return self._states.get(entity_id)

    def __len__(self) -> int:
        """How many entities have a state."""
        return len(self._states)

    def apply(self, event: Mapping[str, Any]) -> set[str]:
        """Apply one event; return the ids of the entities it touched."""
        touched: set[str] = set()
        added = event.get("a")
        if isinstance(added, Mapping):
            for entity_id, raw in added.items():
                if isinstance(raw, Mapping):
                    self._states[entity_id] = _compressed(raw)
                    touched.add(entity_id)
        changed = event.get("c")
        if isinstance(changed, Mapping):
            for entity_id, diff in changed.items():
                if isinstance(diff, Mapping) and self._change(entity_id, diff):
                    touched.add(entity_id)
        removed = event.get("r")
        if isinstance(removed, list):
            for entity_id in removed:
                if self._states.pop(str(entity_id), None) is not None:
                    touched.add(str(entity_id))
        return touched

    def _change(self, entity_id: str, diff: Mapping[str, Any]) -> bool:
        current = self._states.get(entity_id)
        if current is None:
            return False
        additions = diff.get("+")
        additions = additions if isinstance(additions, Mapping) else {}
        removals = diff.get("-")
        removals = removals if isinstance(removals, Mapping) else {}
        attributes = dict(current.attributes)
        if isinstance(added := additions.get("a"), Mapping):
            attributes.update(added)
        if isinstance(gone := removals.get("a"), list):
            for name in gone:
                attributes.pop(name, None)
        changed = current.last_changed
        updated = current.last_updated
        if (stamp := _stamp(additions.get("lc"))) is not None:
            # A new last_changed is also the new last_updated.
            changed = updated = stamp
        elif (stamp := _stamp(additions.get("lu"))) is not None:
            updated = stamp
        self._states[entity_id] = EntityState(
            state=str(additions["s"]) if "s" in additions else current.state,
            attributes=attributes,
            last_changed=changed,
            last_updated=updated,
        )
        return True

    def retain(self, entity_ids: Collection[str]) -> set[str]:
        """Forget every entity not in ``entity_ids``; return those forgotten."""
        gone = set(self._states) - set(entity_ids)
        for entity_id in gone:
            del self._states[entity_id]
        return gone

    def clear(self) -> None:
        """Forget everything (a new connection resends every state)."""
        self._states.clear()

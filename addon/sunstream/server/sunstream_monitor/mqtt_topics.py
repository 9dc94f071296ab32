"""Topic names and payloads on the broker, shared by the bridge and the MQTT feed.

One module owns both sides of the wire so a replica always reads what the
bridge writes. Layout under a configurable prefix (default ``sunstream``)::

    <prefix>/bridge/status               "online" | "offline"   retained (LWT)
    <prefix>/systems                     [{system_id, name, source}]  retained
    <prefix>/<system>/state              MonitoringData JSON     retained
    <prefix>/<system>/availability       "online" | "offline"    retained
    <prefix>/<system>/events             {"type", "system_id", "data"}
    <prefix>/<system>/command            {"action": ..., ...}    (opt-in)
    <prefix>/<system>/command/result     {"ok": ..., ...}

A system id becomes one topic level, so the few characters MQTT gives a
meaning to (``/``, ``+``, ``#``) and ``%`` itself are percent-escaped; any
other id is used as is, which keeps topics readable for the usual ids.
An empty retained payload clears a topic (a removed system).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from . import wire
from .hub import HubEvent, SourceKind, SystemInfo

ONLINE = "online"
OFFLINE = "offline"
BRIDGE_LEVEL = "bridge"
SYSTEMS_LEVEL = "systems"

type Leaf = Literal["state", "availability", "events", "command"]
LEAVES: tuple[Leaf, ...] = ("state", "availability", "events", "command")

_ESCAPES = {"%": "%25", "/": "%2F", "+": "%2B", "#": "%23", "\x00": "%00"}
_UNESCAPES = {value: key for key, value in _ESCAPES.items()}


class PayloadError(ValueError):
    """A message on the broker is not what its topic promises."""


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can start a topic; raise ``ValueError`` saying why not."""
    if not prefix or prefix.startswith("/") or prefix.endswith("/"):
        raise ValueError(
            f"MQTT prefix must be non-empty without a leading or trailing '/': {prefix!r}"
        )
    if any(char in prefix for char in "+#\x00"):
        raise ValueError(f"MQTT prefix must not contain '+', '#' or NUL: {prefix!r}")
    if prefix.startswith("$"):
        raise ValueError(f"MQTT prefix must not start with '$' (broker topics): {prefix!r}")
    return prefix


def escape_id(system_id: str) -> str:
    """A system id as one topic level (reversible with :func:`unescape_id`)."""
    if not any(char in system_id for char in _ESCAPES):
        return system_id
    return "".join(_ESCAPES.get(char, char) for char in system_id)


def unescape_id(level: str) -> str:
    """The system id a topic level names."""
    if "%" not in level:
        return level
    out: list[str] = []
    index = 0
    while index < len(level):
        chunk = level[index : index + 3].upper()
        if chunk in _UNESCAPES:
            out.append(_UNESCAPES[chunk])
            index += 3
        else:
            out.append(level[index])
            index += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """What a received topic is about: ``systems``, ``bridge`` or a system's leaf."""

    kind: Literal["systems", "bridge", "state", "availability", "events", "command"]
    system_id: str | None = None


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic name under one prefix."""

    prefix: str

    def __post_init__(self) -> None:
        """Refuse a prefix that would make wildcards or broker topics of ours."""
        check_prefix(self.prefix)

    @property
    def bridge_status(self) -> str:
        """Whether the bridge is connected (its last will says ``offline``)."""
        return f"{self.prefix}/{BRIDGE_LEVEL}/status"

    @property
    def systems(self) -> str:
        """The retained list replicas discover systems from."""
        return f"{self.prefix}/{SYSTEMS_LEVEL}"

    def system(self, system_id: str, leaf: Leaf) -> str:
        """``<prefix>/<system>/<leaf>``."""
        return f"{self.prefix}/{escape_id(system_id)}/{leaf}"

    def state(self, system_id: str) -> str:
        """The system's retained MonitoringData."""
        return self.system(system_id, "state")

    def availability(self, system_id: str) -> str:
        """The system's retained ``online``/``offline``."""
        return self.system(system_id, "availability")

    def events(self, system_id: str) -> str:
        """The system's events (not retained)."""
        return self.system(system_id, "events")

    def command(self, system_id: str) -> str:
        """Where commands for the system are received (when enabled)."""
        return self.system(system_id, "command")

    def command_result(self, system_id: str) -> str:
        """Where the outcome of each command is published."""
        return f"{self.command(system_id)}/result"

    def wildcard(self, leaf: Leaf) -> str:
        """``<prefix>/+/<leaf>``: one leaf of every system."""
        return f"{self.prefix}/+/{leaf}"

    def parse(self, topic: str) -> TopicMatch | None:
        """Which of our topics ``topic`` is; ``None`` for anything else."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        levels = topic[len(head) :].split("/")
        if levels == [SYSTEMS_LEVEL]:
            return TopicMatch("systems")
        if levels == [BRIDGE_LEVEL, "status"]:
            return TopicMatch("bridge")
        if len(levels) == 2 and levels[1] in LEAVES and levels[0]:
            leaf: Leaf = levels[1]
            return TopicMatch(leaf, unescape_id(levels[0]))
        return None


# -- payloads ----------------------------------------------------------------


def _json(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        raise PayloadError(f"not JSON: {err}") from None


def encode_systems(infos: Iterable[SystemInfo]) -> bytes:
    """The ``systems`` list: what a replica needs to show a system."""
    return wire.dumps(
        [{"system_id": i.system_id, "name": i.name, "source": i.source} for i in infos]
    )


def decode_systems(payload: bytes) -> list[SystemInfo]:
    """Read the ``systems`` list; an empty (cleared) payload means no systems."""
    if not payload:
        return []
    value = _json(payload)
    if not isinstance(value, list):
        raise PayloadError("systems must be a JSON list")
    infos: list[SystemInfo] = []
    for item in value:
        if not isinstance(item, dict):
            raise PayloadError("each system must be a JSON object")
        system_id, name, source = item.get("system_id"), item.get("name"), item.get("source")
        if not isinstance(system_id, str) or not system_id:
            raise PayloadError("each system needs a non-empty string system_id")
        infos.append(
            SystemInfo(
                system_id=system_id,
                name=name if isinstance(name, str) else system_id,
                source=SourceKind.of(source),
            )
        )
    return infos


def decode_state(payload: bytes) -> dict[str, Any]:
    """A MonitoringData document (a JSON object)."""
    value = _json(payload)
    if not isinstance(value, dict):
        raise PayloadError("state must be a JSON object")
    return value


def decode_availability(payload: bytes) -> bool:
    """``online`` → True, ``offline`` → False."""
    if payload == ONLINE.encode():
        return True
    if payload == OFFLINE.encode():
        return False
    raise PayloadError(f"availability must be {ONLINE!r} or {OFFLINE!r}")


def encode_event(event: HubEvent) -> bytes:
    """An event exactly as the ``/ws`` channel frames it."""
    return wire.dumps(event.frame())


def decode_event(payload: bytes, system_id: str) -> HubEvent:
    """An event frame; the topic's system id wins over the one in the payload."""
    value = _json(payload)
    if not isinstance(value, dict):
        raise PayloadError("event must be a JSON object")
    kind, data = value.get("type"), value.get("data")
    if not isinstance(kind, str) or not kind:
        raise PayloadError("event needs a string 'type'")
    if not isinstance(data, dict):
        raise PayloadError("event needs an object 'data'")
    return HubEvent(kind=kind, system_id=system_id, data=data)


def decode_command(payload: bytes) -> dict[str, Any]:
    """A command: a JSON object with a string ``action``."""
    value = _json(payload)
    if not isinstance(value, dict):
        raise PayloadError("command must be a JSON object")
    if not isinstance(value.get("action"), str):
        raise PayloadError("command needs a string 'action'")
    return value


def encode_json(value: Any) -> bytes:
    """Any JSON-ready value (command results, commands)."""
    return wire.dumps(value)

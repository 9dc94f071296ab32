"""The hub: what the server knows of every system, and who wants to hear of it.

Feeds (Home Assistant, or MQTT when scaled out) write into the hub; outputs
(WebSocket endpoints, Socket.IO, the MQTT bridge) listen to it. Each update
is serialized once, here, and the same bytes go to every client: fan-out
cost is then one copy per client, not one JSON encoding per client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
import logging
import time
from typing import Any, Final, Protocol

from . import wire
from .alert_book import ALERT_ACKNOWLEDGED, Alert, AlertBook

_LOGGER = logging.getLogger(__name__)

type Document = dict[str, Any]


class SourceKind(StrEnum):
    """Where a system's data comes from.

    The integration's ``SourceType`` values
    (``custom_components/sunstream/const.py``), which it puts in its events'
    ``source`` and its connectivity sensor's ``source`` attribute; ``unknown``
    until the feed has heard one.
    """

    SIMULATED = "simulated"
    WINET = "winet"
    MODBUS = "modbus"
    SUNGROW_MODBUS = "sungrow_modbus"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, value: object) -> SourceKind:
        """``value`` as a kind; anything the app does not know is ``unknown``."""
        try:
            return cls(value) if isinstance(value, str) else cls.UNKNOWN
        except ValueError:
            return cls.UNKNOWN

    @property
    def over_modbus(self) -> bool:
        """Read over Modbus TCP (AlphaESS or Sungrow)."""
        return self in MODBUS_SOURCES


MODBUS_SOURCES: Final = frozenset({SourceKind.MODBUS, SourceKind.SUNGROW_MODBUS})


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfo:
    """Who a system is: what a feed learns when it discovers it."""

    system_id: str
    name: str
    source: SourceKind
    device_id: str | None = None
    config_entry_id: str | None = None


@dataclass(slots=True)
class System:
    """One system's latest state, with its frames serialized on demand, once."""

    info: SystemInfo
    document: Document | None = None
    connected: bool | None = None
    # When the hub took the current document in (Unix time, seconds).
    updated_at: float = 0.0
    _frames: dict[str, bytes] = field(default_factory=dict)
    _document_json: bytes | None = None

    @property
    def system_id(self) -> str:
        """The id dashboards address the system by."""
        return self.info.system_id

    @property
    def document_json(self) -> bytes:
        """The MonitoringData document as JSON (``null`` before the first one)."""
        if self._document_json is None:
            self._document_json = wire.dumps(self.document)
        return self._document_json

    def frame(self, frame_type: str) -> bytes:
        """``{"type": frame_type, "system_id": …, "data": document}``, cached.

        Built by splicing the already-encoded document, so each frame type
        costs one small concatenation per update however many clients read it.
        """
        cached = self._frames.get(frame_type)
        if cached is None:
            head = wire.dumps({"type": frame_type, "system_id": self.system_id})
            cached = head[:-1] + b',"data":' + self.document_json + b"}"
            self._frames[frame_type] = cached
        return cached

    def set_document(self, document: Document) -> None:
        """Replace the document; drop the frames built from the old one."""
        self.document = document
        self.updated_at = time.time()
        self._document_json = None
        self._frames.clear()


@dataclass(frozen=True, slots=True, kw_only=True)
class HubEvent:
    """Something that happened to a system: connectivity, alert or dispatch."""

    kind: str
    system_id: str
    data: dict[str, Any]

    def frame(self) -> dict[str, Any]:
        """The event as the ``/ws`` channel and the MQTT events topic carry it."""
        return {"type": self.kind, "system_id": self.system_id, "data": self.data}


class Listener(Protocol):
    """An output of the hub. Callbacks run in the event loop and must not block."""

    def on_systems(self, hub: Hub) -> None:
        """The set of systems changed."""

    def on_state(self, system: System) -> None:
        """A system's document changed."""

    def on_event(self, event: HubEvent) -> None:
        """An event happened on a system."""


class Hub:
    """Systems, their latest documents and events, and the listeners."""

    def __init__(self) -> None:
        """Start empty: feeds fill the hub as they learn."""
        self.systems: dict[str, System] = {}
        self.alerts = AlertBook()
        self.feed_connected = False
        self._listeners: list[Listener] = []
        # Set by the feed: how an acknowledgement reaches the source of truth.
        self.acknowledge_upstream: Callable[[Alert, str | None], Any] | None = None

    # -- listeners --------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Register ``listener``; return the function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _notify(self, what: str, call: Callable[[Listener], None]) -> None:
        """``call`` on every listener; ``what`` names the callback in the log if one fails."""
        for listener in tuple(self._listeners):
            try:
                call(listener)
            except Exception:
                # One broken output must not starve the others.
                _LOGGER.exception("Listener %r failed in %s", listener, what)

    # -- writes, from feeds -----------------------------------------------

    def set_systems(self, infos: Iterable[SystemInfo]) -> None:
        """Replace the set of systems; keep what is known of those that stay."""
        infos = list(infos)
        wanted = {info.system_id for info in infos}
        changed = wanted != set(self.systems)
        for system_id in set(self.systems) - wanted:
            del self.systems[system_id]
        for info in infos:
            system = self.systems.get(info.system_id)
            if system is None:
                self.systems[info.system_id] = System(info)
            elif system.info != info:
                system.info = info
                changed = True
        if changed:
            self._notify("on_systems", lambda listener: listener.on_systems(self))

    def update_state(self, system_id: str, document: Document) -> None:
        """A new MonitoringData document; ignored when nothing in it changed."""
        system = self.systems.get(system_id)
        if system is None:
            _LOGGER.debug("State for unknown system %s ignored", system_id)
            return
        if system.document == document:
            return
        system.set_document(document)
        status = document.get("status")
        if status in ("online", "offline"):
            system.connected = status == "online"
        self._notify("on_state", lambda listener: listener.on_state(system))

    def publish_event(self, kind: str, system_id: str, data: dict[str, Any]) -> HubEvent:
        """Announce an event to every listener."""
        event = HubEvent(kind=kind, system_id=system_id, data=data)
        if kind == "connectivity" and "part" not in data and system_id in self.systems:
            self.systems[system_id].connected = bool(data.get("connected"))
        self._notify("on_event", lambda listener: listener.on_event(event))
        return event

    def raise_alert(self, system_id: str, data: dict[str, Any]) -> Alert | None:
        """Book a ``sunstream_alert`` (raised, cleared or acknowledged) and announce it.

        Announced as ``alert`` (raised or cleared) or ``alert_acknowledged``,
        and only when the book changed (see :meth:`AlertBook.apply`): Home
        Assistant's echo of an acknowledgement made here is dropped, since
        :meth:`acknowledge` announced it already. An acknowledgement that
        came from Home Assistant is not sent back upstream. Returns the
        alert, or ``None`` when nothing changed.
        """
        update = self.alerts.apply(system_id, data)
        if update is None:
            return None
        self.publish_event(update.kind, system_id, update.alert.as_dict())
        return update.alert

    def sync_alerts(self, system_id: str, active: Iterable[Mapping[str, Any]]) -> list[Alert]:
        """Catch up with the alerts the source lists as active on a system; announce changes.

        ``active`` is what Home Assistant's alert entity lists (see
        :meth:`AlertBook.sync`): alerts missed while the feed was away are
        booked raised (or acknowledged, or cleared) and announced once, like
        the live events would have been; what already agrees says nothing.
        Nothing is sent upstream. Returns the alerts that changed.
        """
        updates = self.alerts.sync(system_id, active)
        for update in updates:
            self.publish_event(update.kind, system_id, update.alert.as_dict())
        return [update.alert for update in updates]

    def acknowledge(self, alert_id: str, by: str | None) -> Alert | None:
        """Acknowledge an alert here and upstream; ``None`` if unknown.

        Every output (HTTP, ``/ws``, Socket.IO, MQTT commands) goes through
        here, so an acknowledgement looks the same wherever it came from.
        """
        alert = self.alerts.get(alert_id)
        if alert is None:
            return None
        if alert.acknowledged:
            return alert
        self.alerts.acknowledge(alert_id, by)
        self.publish_event(ALERT_ACKNOWLEDGED, alert.system_id, alert.as_dict())
        if self.acknowledge_upstream is not None:
            self.acknowledge_upstream(alert, by)
        return alert

    def set_feed_connected(self, connected: bool) -> None:
        """Whether the feed currently reaches its upstream (HA or the broker)."""
        self.feed_connected = connected

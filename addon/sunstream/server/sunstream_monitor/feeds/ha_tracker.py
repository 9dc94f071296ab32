"""What the Home Assistant feed knows of Sunstream, turned into hub updates.

No I/O: the feed hands in what Home Assistant sent (registry layouts, entity
events, bus events, statistics, config entry states) and the tracker keeps
the hub's systems, documents, events and alerts right. Documents are rebuilt
once per frame for the systems it touched, not once per entity; the alert
entities' lists of active alerts are reconciled with the hub's book once per
frame too, after the frame's ``sunstream_alert`` events (see
:meth:`SystemTracker.flush`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
import logging
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..hub import Hub, SourceKind
from ..monitoring import ChartData, EntityState, build_document, hourly_chart
from .discovery import SystemLayout
from .ha_protocol import EntityStore

_LOGGER = logging.getLogger(__name__)

EVENT_CONNECTIVITY: Final = "sunstream_connectivity"
EVENT_DISPATCH: Final = "sunstream_dispatch"
EVENT_ALERT: Final = "sunstream_alert"
EVENT_ENTITY_REGISTRY: Final = "entity_registry_updated"
EVENT_DEVICE_REGISTRY: Final = "device_registry_updated"
SUNSTREAM_EVENTS: Final = (EVENT_CONNECTIVITY, EVENT_DISPATCH, EVENT_ALERT)
REGISTRY_EVENTS: Final = (EVENT_ENTITY_REGISTRY, EVENT_DEVICE_REGISTRY)


@dataclass(frozen=True, slots=True)
class HaConfig:
    """What the document needs of Home Assistant's configuration."""

    currency: str | None = None
    time_zone: tzinfo = UTC

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HaConfig:
        """From a ``get_config`` result; an unknown time zone falls back to UTC."""
        currency = config.get("currency")
        zone: tzinfo = UTC
        name = config.get("time_zone")
        if isinstance(name, str) and name:
            try:
                zone = ZoneInfo(name)
            except ZoneInfoNotFoundError, ValueError:
                _LOGGER.warning("Unknown time zone %r: chart labels use UTC", name)
        return cls(currency=currency if isinstance(currency, str) else None, time_zone=zone)


class SystemTracker:
    """Layouts, entity states, charts and entry states of every system."""

    def __init__(self, hub: Hub, clock: Callable[[], datetime] | None = None) -> None:
        """Report to ``hub``; ``clock`` gives the current (aware) time."""
        self._hub = hub
        self._clock = clock or (lambda: datetime.now(UTC))
        self.store = EntityStore()
        self.config = HaConfig()
        self.layouts: dict[str, SystemLayout] = {}
        self._system_of_entity: dict[str, str] = {}
        self._system_of_alert_entity: dict[str, str] = {}
        self._charts: dict[str, ChartData] = {}
        self._entry_states: dict[str, str] = {}
        self._sources: dict[str, SourceKind] = {}
        self._known_connected: dict[str, bool] = {}
        self._dirty: set[str] = set()
        self._awaiting_entry_state: set[str] = set()
        self._alerts_changed: set[str] = set()
        self._announcements: list[tuple[str, dict[str, Any]]] = []
        self._live = False

    # -- inputs ---------------------------------------------------------------

    @property
    def sources(self) -> dict[str, SourceKind]:
        """Sources learnt from the integration, by system id."""
        return dict(self._sources)

    def set_config(self, config: HaConfig) -> None:
        """Home Assistant's currency and time zone."""
        if config != self.config:
            self.config = config
            self._dirty.update(self.layouts)

    def set_layouts(self, layouts: Mapping[str, SystemLayout]) -> None:
        """The systems discovery found; the hub learns of new and vanished ones."""
        self.layouts = dict(layouts)
        self._system_of_entity = {
            entity_id: system_id
            for system_id, layout in self.layouts.items()
            for entity_id in layout.entities.values()
        }
        self._system_of_alert_entity = {
            layout.alert_entity: system_id
            for system_id, layout in self.layouts.items()
            if layout.alert_entity is not None
        }
        self.store.retain(self._system_of_entity.keys() | self._system_of_alert_entity.keys())
        for gone in set(self._charts) - set(self.layouts):
            del self._charts[gone]
        for gone in set(self._known_connected) - set(self.layouts):
            del self._known_connected[gone]
        self._awaiting_entry_state &= set(self.layouts)
        self._alerts_changed &= set(self.layouts)
        self._hub.set_systems(layout.info for layout in self.layouts.values())
        self._dirty.update(self.layouts)
        if self._live:
            # A system found with no entities to subscribe to (a set-up that
            # failed before creating them) gets no first event to tell.
            self._await_stateless()

    def hold(self) -> None:
        """Publish nothing until the next full set of states arrives.

        Between a (re)subscription and its first event the store is partial:
        a document built from it would show a working system as all nulls.
        """
        self._live = False

    def wanted_entities(self) -> list[str]:
        """Every entity id the documents read, and the alert entities; sorted (stable)."""
        return sorted(self._system_of_entity.keys() | self._system_of_alert_entity.keys())

    def statistic_ids(self) -> dict[str, str]:
        """System id by the statistic id of its lifetime PV energy."""
        return {
            layout.statistic_id: system_id
            for system_id, layout in self.layouts.items()
            if layout.statistic_id is not None
        }

    def entity_states(self, event: Mapping[str, Any], *, resync: bool = False) -> None:
        """Apply a ``subscribe_entities`` event.

        ``resync`` marks the first event of a subscription, the full picture
        after a (re)connect: a system whose link changed while the feed was
        away gets the connectivity event it missed, so dashboards driven by
        events (the LIVE/OFFLINE banner) catch up; and its alert entity's
        list of active alerts brings the hub's alerts up to date (at the
        next :meth:`flush`, as after every change of that list).
        """
        if resync:
            # The first event of a subscription is every state there is:
            # whatever it leaves out has no state any more.
            self.store.clear()
            self._awaiting_entry_state.clear()
            self._dirty.update(self.layouts)
            self._live = True
        for entity_id in self.store.apply(event):
            if (alerting := self._system_of_alert_entity.get(entity_id)) is not None:
                self._alerts_changed.add(alerting)
                continue
            system_id = self._system_of_entity.get(entity_id)
            if system_id is None:
                continue
            self._dirty.add(system_id)
            if entity_id == self.layouts[system_id].connectivity:
                state = self.store.get(entity_id)
                if state is not None:
                    # The one place that says where the data comes from at
                    # once, without waiting for the link to change.
                    self._learn_source(system_id, state.attributes.get("source"))
                self._connectivity_changed(system_id, state, resync=resync)
        if resync:
            self._await_stateless()

    def _await_stateless(self) -> None:
        """Systems whose connectivity sensor has no state at all wait for their entry's."""
        for system_id, layout in self.layouts.items():
            if layout.connectivity is None or self.store.get(layout.connectivity) is None:
                self._awaiting_entry_state.add(system_id)

    def _connectivity_changed(
        self, system_id: str, state: EntityState | None, *, resync: bool
    ) -> None:
        if state is None or state.state not in ("on", "off"):
            # Not running in HA: whether that's maintenance or a retried
            # set-up depends on the config entry's state, asked by the feed.
            self._awaiting_entry_state.add(system_id)
            return
        connected = state.state == "on"
        known = self._known_connected.get(system_id)
        self._known_connected[system_id] = connected
        if resync and known is not None and known != connected:
            info = self.layouts[system_id].info
            reason = state.attributes.get("reason")
            self._announcements.append(
                (
                    system_id,
                    {
                        "device_id": info.device_id,
                        "config_entry_id": info.config_entry_id,
                        "system_id": system_id,
                        "source": info.source,
                        "connected": connected,
                        "reason": reason if isinstance(reason, str) else "resync",
                        "resync": True,
                    },
                )
            )

    @property
    def needs_entry_states(self) -> bool:
        """Whether some system waits for its config entry's state."""
        return bool(self._awaiting_entry_state)

    def set_entry_states(self, states: Mapping[str, str]) -> None:
        """Config entry states by entry id (``config_entries/get``)."""
        self._entry_states = dict(states)
        self._dirty |= self._awaiting_entry_state
        self._awaiting_entry_state.clear()

    def set_charts(self, charts: Mapping[str, ChartData]) -> None:
        """Fresh charts by system id."""
        for system_id, chart in charts.items():
            if system_id in self.layouts and self._charts.get(system_id) != chart:
                self._charts[system_id] = chart
                self._dirty.add(system_id)

    def bus_event(self, event_type: str, data: Mapping[str, Any]) -> None:
        """A ``sunstream_*`` event from Home Assistant's bus."""
        system_id = self._system_of(data)
        if system_id is None:
            _LOGGER.debug("%s for no known system ignored: %s", event_type, data)
            return
        payload = dict(data)
        payload.setdefault("system_id", system_id)
        # Every sunstream_* event says where the system's data comes from.
        self._learn_source(system_id, payload.get("source"))
        if event_type == EVENT_CONNECTIVITY:
            if "part" not in payload and isinstance(connected := payload.get("connected"), bool):
                self._known_connected[system_id] = connected
            self._hub.publish_event("connectivity", system_id, payload)
        elif event_type == EVENT_DISPATCH:
            self._hub.publish_event("dispatch", system_id, payload)
        elif event_type == EVENT_ALERT:
            self._hub.raise_alert(system_id, payload)

    def concerns_us(self, event_type: str, data: Mapping[str, Any]) -> bool:
        """Whether a registry event may change what discovery finds."""
        if data.get("action") == "create":
            return True
        if event_type == EVENT_ENTITY_REGISTRY:
            ids = {data.get("entity_id"), data.get("old_entity_id")}
            return any(
                entity_id in self._system_of_entity or entity_id in self._system_of_alert_entity
                for entity_id in ids
            )
        device_id = data.get("device_id")
        return any(layout.info.device_id == device_id for layout in self.layouts.values())

    def _system_of(self, data: Mapping[str, Any]) -> str | None:
        system_id = data.get("system_id")
        if isinstance(system_id, str) and system_id in self.layouts:
            return system_id
        for candidate, layout in self.layouts.items():
            info = layout.info
            if (info.device_id and data.get("device_id") == info.device_id) or (
                info.config_entry_id and data.get("config_entry_id") == info.config_entry_id
            ):
                return candidate
        # A system discovery does not know: no dashboard can be following it.
        return None

    def _learn_source(self, system_id: str, value: Any) -> None:
        layout = self.layouts.get(system_id)
        if layout is None or (source := SourceKind.of(value)) is SourceKind.UNKNOWN:
            return
        self._sources[system_id] = source
        if layout.info.source != source:
            self.layouts[system_id] = replace(layout, info=replace(layout.info, source=source))
            self._hub.set_systems(layout.info for layout in self.layouts.values())
            self._dirty.add(system_id)

    # -- output ---------------------------------------------------------------

    def flush(self) -> None:
        """Rebuild the documents of the systems touched since the last flush; sync alerts.

        Alerts come last, once the frame's ``sunstream_alert`` events are in
        the book: the list of active alerts that follows each transition then
        only confirms what the event announced (see :meth:`Hub.sync_alerts`).
        """
        if not self._live:
            return
        now = self._clock()
        ready = self._dirty - self._awaiting_entry_state
        self._dirty -= ready
        for system_id in sorted(ready):
            document = self.document(system_id, now)
            if document is not None:
                self._hub.update_state(system_id, document)
        announcements, self._announcements = self._announcements, []
        for system_id, data in announcements:
            self._hub.publish_event("connectivity", system_id, data)
        alerts_changed, self._alerts_changed = self._alerts_changed, set()
        for system_id in sorted(alerts_changed):
            self._sync_alerts(system_id)

    def _sync_alerts(self, system_id: str) -> None:
        """Bring the hub's alerts of a system in line with its alert entity's ``active``.

        Only a list is followed: an entity with no state, an unavailable one
        (its entry unloaded, Home Assistant starting) or one from an
        integration too old to list its alerts says nothing about them.
        """
        layout = self.layouts.get(system_id)
        if layout is None or layout.alert_entity is None:
            return
        state = self.store.get(layout.alert_entity)
        active = state.attributes.get("active") if state is not None else None
        if isinstance(active, list):
            self._hub.sync_alerts(system_id, [item for item in active if isinstance(item, Mapping)])

    def document(self, system_id: str, now: datetime | None = None) -> dict[str, Any] | None:
        """The system's MonitoringData document from what is known now."""
        layout = self.layouts.get(system_id)
        if layout is None:
            return None
        now = now or self._clock()
        chart = self._charts.get(system_id) or hourly_chart(now, self.config.time_zone)
        entry_id = layout.info.config_entry_id
        return build_document(
            layout.info,
            {key: self.store.get(entity_id) for key, entity_id in layout.entities.items()},
            has_battery=layout.has_battery,
            currency=self.config.currency,
            chart=chart,
            zone=self.config.time_zone,
            entry_state=self._entry_states.get(entry_id) if entry_id else None,
            now=now,
        )

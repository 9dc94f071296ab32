"""Base entity: device placement, write-only-on-change, entities as parts appear."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any
from weakref import WeakKeyDictionary

from homeassistant.core import CALLBACK_TYPE, Event, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_entity_registry_updated_event
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import SunstreamCoordinator
from .devices import DeviceRole, device_info, part_device_info
from .pysunstream.model import DeviceIdentity, DeviceReading, PartKey
from .runtime import SunstreamConfigEntry

# What the latest data has room for: (unique id, how to build the entity).
type Reported = Iterable[tuple[str, Callable[[], SunstreamEntity]]]


def unique_id(coordinator: SunstreamCoordinator, key: str, part: DeviceIdentity | None) -> str:
    """The unique id of the entity ``key`` on the system, or on one ``part`` of it."""
    if part is None:
        return f"{coordinator.system_id}_{key}"
    return f"{coordinator.system_id}_{part.key}_{key}"


# The latest data each system's shape was taken of, and that shape: every
# platform asks after each poll, and the first one's answer serves the rest.
_SHAPES: WeakKeyDictionary[SunstreamCoordinator, tuple[object, object]] = WeakKeyDictionary()


def _shape(coordinator: SunstreamCoordinator) -> object:
    """Which metrics, extras and parts the latest data holds (not their values)."""
    data = coordinator.data
    taken = _SHAPES.get(coordinator)
    if taken is not None and taken[0] is data:
        return taken[1]
    snapshot = data.snapshot
    shape = (
        frozenset(snapshot.metrics),
        frozenset(snapshot.extras),
        tuple((r.identity, frozenset(r.values)) for r in snapshot.devices),
    )
    _SHAPES[coordinator] = (data, shape)
    return shape


@callback
def async_add_reported(
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    reported: Callable[[], Reported],
) -> None:
    """Add an entity for everything the system reports, now and after every poll.

    A part (a battery the gateway starts listing, a unit) or a value that
    shows up after start-up gets its entities at the poll that brings it,
    without a reload. Each unique id is added once, and offered again once
    the entity is gone (:meth:`SunstreamEntity.call_when_removed`): on its
    new device, by a later poll that still reports it.
    """
    coordinator = entry.runtime_data.coordinator
    added: set[str] = set()
    # What the last look saw; most polls report the same things, so the
    # full walk over every description runs only when something changed.
    seen: list[object] = [None]

    def forget(uid: str) -> None:
        added.discard(uid)
        seen[0] = None

    @callback
    def add_new() -> None:
        shape = _shape(coordinator)
        if shape == seen[0]:
            return
        seen[0] = shape
        new: list[SunstreamEntity] = []
        for uid, build in reported():
            if uid in added:
                continue
            added.add(uid)
            entity = build()
            entity.call_when_removed(partial(forget, uid))
            new.append(entity)
        if new:
            async_add_entities(new)

    add_new()
    entry.async_on_unload(coordinator.async_add_listener(add_new))


@callback
def _when_registry_entry_removed(
    entity: SunstreamEntity, entity_id: str, func: Callable[[], None]
) -> None:
    """Call ``func`` once ``entity_id``'s registry entry is removed, following renames.

    Never after the entry unloads: the reload that enabling the entity
    brings offers it again anyway.
    """
    hass = entity.hass
    listening: list[CALLBACK_TYPE] = []
    tracked = [entity_id]

    def stop() -> None:
        while listening:
            listening.pop()()

    @callback
    def follow(current: str) -> None:
        tracked[0] = current
        listening.append(async_track_entity_registry_updated_event(hass, current, updated))

    @callback
    def updated(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        data = event.data
        if data["action"] == "remove":
            stop()
            func()
        elif data["action"] == "update" and data["entity_id"] != tracked[0]:
            # Renamed by the user: its removal will carry the new entity id.
            stop()
            follow(data["entity_id"])

    follow(entity_id)
    entity.coordinator.config_entry.async_on_unload(stop)


class SunstreamEntity(CoordinatorEntity[SunstreamCoordinator]):
    """An entity of one Sunstream system, placed on the system or a part."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        description: EntityDescription,
        role: DeviceRole = DeviceRole.SYSTEM,
        part: DeviceIdentity | None = None,
    ) -> None:
        """Bind the entity to its system, or to one ``part`` of it."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = unique_id(coordinator, description.key, part)
        if part is None:
            self._attr_device_info: DeviceInfo = device_info(coordinator, role)
        else:
            self._attr_device_info = part_device_info(coordinator, part)
        self._part = PartKey(part.key) if part is not None else None
        self._written: tuple[Any, ...] | None = None
        self._seen: tuple[object, ...] | None = None
        self._added = False

    def call_when_removed(self, func: Callable[[], None]) -> None:
        """Call ``func`` once the entity is gone, so that it may be offered again.

        Gone is: removed by Home Assistant after it was added (with the
        device of a part that went away, or of a fallback battery the real
        one replaced); or, for an entity the platform did not add once it had
        an entity id (declined because it is disabled in the registry, the
        usual case; Home Assistant runs ``async_on_remove`` callbacks then
        too, though the entity never existed), the removal of that registry
        entry, followed through renames. Offering a declined entity again
        before then would rebuild and re-register it at every poll; enabling
        it reloads the entry. One refused before it had an entity id (a
        duplicate unique id) waits for the next reload.
        """

        @callback
        def removed() -> None:
            if self._added:
                func()
            elif self.entity_id is not None and self.hass is not None:
                _when_registry_entry_removed(self, self.entity_id, func)

        self.async_on_remove(removed)

    def _part_reading(self) -> DeviceReading | None:
        """The part the entity sits on, in the latest poll; ``None`` on the system or unlisted."""
        if self._part is None:
            return None
        for reading in self.coordinator.data.snapshot.devices:
            if reading.identity.key == self._part:
                return reading
        return None

    async def async_added_to_hass(self) -> None:
        """Remember what the first write (done by the platform) will show."""
        await super().async_added_to_hass()
        self._added = True
        self._written = self._fingerprint()

    def _fingerprint(self) -> tuple[Any, ...]:
        """What, if unchanged, makes a state write pointless."""
        return (self.available,)

    def _inputs(self) -> tuple[object, ...] | None:
        """All the fingerprint is computed from, when a few values say it all.

        Equal inputs (most often the very same objects: a device's settings
        change when someone changes them, not at every poll) skip the
        fingerprint. ``None``: compute the fingerprint at every update.
        """
        return None

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write state only when something a user can see has changed.

        A system polled every few seconds mostly repeats itself (no PV at
        night, a full battery at noon); skipping those writes keeps the
        event loop and the recorder quiet.
        """
        inputs = self._inputs()
        if inputs is not None:
            if inputs == self._seen:
                return
            self._seen = inputs
        fingerprint = self._fingerprint()
        if fingerprint == self._written:
            return
        self._written = fingerprint
        self.async_write_ha_state()


class SunstreamPartEntity(SunstreamEntity):
    """An entity on one part behind the system (a battery, a converter), found by key."""

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        description: EntityDescription,
        *,
        part: DeviceIdentity,
    ) -> None:
        """Place the entity on ``part``."""
        super().__init__(coordinator, description, part=part)

    @property
    def reading(self) -> DeviceReading | None:
        """The part in the latest poll; ``None`` while the system does not list it."""
        return self._part_reading()


__all__ = ["DOMAIN", "SunstreamEntity", "SunstreamPartEntity", "async_add_reported", "unique_id"]

"""What the control entities share: when they exist, and how they write.

Settings entities (reserve, charge limit, export limit, windows) exist for
what ``source.settings_spec`` lists; battery control entities (mode, command
power, target, duration) for a source that accepts dispatch
(:func:`.battery_control.accepts_dispatch`). Both may become known only
after a later poll (a WiNet battery listed late), so each platform adds them
as soon as they are, without a reload. Where several batteries are each
commanded and configured on their own (several hybrid inverters behind one
WiNet gateway), each battery's device gets its own of both, and the
system's devices none.

Every write goes through the coordinator, which raises the translated
error; the entity then shows the device's value again, since the user's
input never became a state.

Control entities stay available while the system is offline, showing what
the device reported last: Home Assistant silently skips an unavailable
entity in an action call, and a user changing a setting then must hear
that the system is offline (``system_unavailable``), not nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Self

from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .battery_control import CommandValues, accepts_dispatch
from .coordinator import SunstreamCoordinator
from .devices import DeviceRole
from .entity import Reported, SunstreamEntity, async_add_reported, unique_id
from .pysunstream.capabilities import CommandsSeveralBatteries
from .pysunstream.controls import (
    ConfiguresSeveralBatteries,
    DeviceSettings,
    Setting,
    SettingChange,
    Window,
    spec_of,
)
from .pysunstream.dispatch import BatteryLimits, Command, CommandKind
from .pysunstream.model import DeviceIdentity, Metric, PartKey, Value
from .pysunstream.setting_rules import reported_value, supports
from .runtime import SunstreamConfigEntry

# (unique key, whether it exists now, how to build it)
type Candidate = tuple[str, Callable[[], bool], Callable[[], SunstreamEntity]]

SYSTEM_SETTINGS = frozenset({Setting.EXPORT_LIMIT, Setting.EXPORT_LIMIT_ENABLED})
"""Settings of the grid connection, shown on the system's device; the rest on the battery's."""


def role_of(setting: Setting) -> DeviceRole:
    """The device an entity for ``setting`` sits on."""
    return DeviceRole.SYSTEM if setting in SYSTEM_SETTINGS else DeviceRole.BATTERY


def keeps(coordinator: SunstreamCoordinator, setting: Setting) -> Callable[[], bool]:
    """Whether the system keeps ``setting`` (checked at each poll).

    A battery's setting waits for the battery: its entity belongs on that device.
    """

    def check() -> bool:
        if role_of(setting) is DeviceRole.BATTERY and not coordinator.data.has_battery:
            return False
        return supports(spec_of(coordinator.source, None), setting)

    return check


def dispatches(coordinator: SunstreamCoordinator) -> Callable[[], bool]:
    """Whether the system's battery takes commands (checked at each poll)."""

    def check() -> bool:
        return coordinator.data.has_battery and accepts_dispatch(coordinator.source)

    return check


@dataclass(frozen=True, kw_only=True)
class SettingEntityDescription(EntityDescription):
    """Describes an entity showing one device setting (mixed into each platform's)."""

    setting: Setting

    @classmethod
    def window(cls, setting: Setting, part: str, **fields: Any) -> Self:
        """The description of ``part`` (start, end, enabled) of the window ``setting``.

        Each window's entities share one translation, numbered by placeholder.
        """
        name, number = setting.value.rsplit("_", 1)
        return cls(
            key=f"{setting.value}_{part}",
            translation_key=f"{name}_{part}",
            translation_placeholders={"number": number},
            entity_category=EntityCategory.CONFIG,
            setting=setting,
            **fields,
        )


type Controls = Callable[[SunstreamCoordinator], Iterable[Candidate]]
"""A platform's controls of one kind, for the system ``coordinator`` runs."""


def _controls[D: EntityDescription](
    exists: Callable[[SunstreamCoordinator, D], Callable[[], bool]],
    descriptions: Iterable[D],
    kind: Callable[[SunstreamCoordinator, D], SunstreamEntity],
) -> Controls:
    def candidates(coordinator: SunstreamCoordinator) -> list[Candidate]:
        return [
            (d.key, exists(coordinator, d), partial(kind, coordinator, d)) for d in descriptions
        ]

    return candidates


def settings[D: SettingEntityDescription](
    descriptions: Iterable[D], kind: Callable[[SunstreamCoordinator, D], SunstreamEntity]
) -> Controls:
    """One ``kind`` entity per description, once the device keeps its setting."""
    return _controls(lambda coordinator, d: keeps(coordinator, d.setting), descriptions, kind)


def commands[D: EntityDescription](
    descriptions: Iterable[D], kind: Callable[[SunstreamCoordinator, D], SunstreamEntity]
) -> Controls:
    """One ``kind`` entity per description, once the battery takes commands."""
    return _controls(lambda coordinator, _: dispatches(coordinator), descriptions, kind)


@callback
def async_add_controls(
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    *controls: Controls,
) -> None:
    """Add each of a platform's ``controls`` once it exists, now or after a later poll.

    As :func:`.entity.async_add_reported` does for sensors, a control Home
    Assistant removes (with the fallback battery device a gateway's real
    battery replaces), or one it declined whose registry entry went with that
    device, waits again and comes back on its new device
    (:meth:`.entity.SunstreamEntity.call_when_removed`).
    """
    coordinator = entry.runtime_data.coordinator
    waiting = [candidate for kind in controls for candidate in kind(coordinator)]

    def build(candidate: Candidate) -> SunstreamEntity:
        entity = candidate[2]()
        entity.call_when_removed(partial(waiting.append, candidate))
        return entity

    @callback
    def add_new() -> None:
        ready = [candidate for candidate in waiting if candidate[1]()]
        if not ready:
            return
        for candidate in ready:
            waiting.remove(candidate)
        async_add_entities([build(candidate) for candidate in ready])

    add_new()
    entry.async_on_unload(coordinator.async_add_listener(add_new))


class ControlEntity(SunstreamEntity):
    """A control entity; on a refused write it shows what the device holds."""

    @property
    def available(self) -> bool:
        """Available once the system has answered (see the module's docstring)."""
        return self.coordinator.data is not None

    async def _async_write(self, write: Callable[[], Awaitable[None]]) -> None:
        try:
            await write()
        except HomeAssistantError:
            self.async_write_ha_state()
            raise


@callback
def async_add_battery_controls(
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    build: Callable[[DeviceIdentity], Reported],
) -> None:
    """Add ``build``'s entities for each of several batteries, as each becomes known."""
    coordinator = entry.runtime_data.coordinator

    def reported() -> Reported:
        for battery in several_batteries(coordinator):
            yield from build(battery)

    async_add_reported(entry, async_add_entities, reported)


def several_batteries(coordinator: SunstreamCoordinator) -> list[DeviceIdentity]:
    """The batteries commanded one by one (several hybrids behind a WiNet gateway).

    Each gets battery control entities of its own, on its own device, once
    its limits are known; the system's battery device then has none, since
    a command to it could go to neither.
    """
    source = coordinator.source
    if not isinstance(source, CommandsSeveralBatteries):
        return []
    return [
        battery
        for battery in _listed(coordinator, source.battery_parts)
        if source.limits_of(PartKey(battery.key))
    ]


class BatteryControlEntity(ControlEntity):
    """A battery control entity: of the system's battery, or of one of several.

    With ``battery`` it sits on that battery's device and reads and sends
    that battery's limits, values and commands only.
    """

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        description: EntityDescription,
        battery: DeviceIdentity | None = None,
    ) -> None:
        """Place the entity on the system's battery device, or on ``battery``'s."""
        super().__init__(coordinator, description, DeviceRole.BATTERY, battery)

    @property
    def _limits(self) -> BatteryLimits | None:
        source = self.coordinator.source
        if self._part is not None and isinstance(source, CommandsSeveralBatteries):
            return source.limits_of(self._part)
        return source.battery_limits

    @property
    def _values(self) -> CommandValues:
        return self.coordinator.command_values_of(self._part)

    def _metric(self, metric: Metric) -> Value:
        """``metric`` of this battery: its own part's, or the system's."""
        if self._part is None:
            return self.coordinator.data.metric(metric)
        reading = self._part_reading()
        return None if reading is None else reading.metrics.get(metric)

    def _command(self, kind: CommandKind, limits: BatteryLimits) -> Command:
        return self._values.command(kind, limits, dt_util.now(), self._part)


@callback
def async_add_battery_settings[D: SettingEntityDescription](
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    descriptions: Iterable[D],
    kind: Callable[[SunstreamCoordinator, D, DeviceIdentity], SunstreamEntity],
) -> None:
    """Add ``kind`` entities for each of several batteries, once its inverter keeps the setting.

    Checked after every poll: an inverter's settings become known at the
    first read of its parameters, which may come a poll or more after its
    battery. An entity Home Assistant removes may come back, as
    :func:`async_add_controls` does.
    """
    coordinator = entry.runtime_data.coordinator
    descriptions = tuple(descriptions)
    added: set[str] = set()

    @callback
    def add_new() -> None:
        new: list[SunstreamEntity] = []
        for battery in setting_batteries(coordinator):
            spec = spec_of(coordinator.source, PartKey(battery.key))
            for description in descriptions:
                uid = unique_id(coordinator, description.key, battery)
                if uid in added or not supports(spec, description.setting):
                    continue
                added.add(uid)
                entity = kind(coordinator, description, battery)
                entity.call_when_removed(partial(added.discard, uid))
                new.append(entity)
        if new:
            async_add_entities(new)

    add_new()
    entry.async_on_unload(coordinator.async_add_listener(add_new))


def setting_batteries(coordinator: SunstreamCoordinator) -> list[DeviceIdentity]:
    """The batteries whose inverters each keep their own settings, as the latest poll lists them."""
    source = coordinator.source
    if not isinstance(source, ConfiguresSeveralBatteries):
        return []
    return _listed(coordinator, source.settings_parts)


def _listed(coordinator: SunstreamCoordinator, parts: Iterable[PartKey]) -> list[DeviceIdentity]:
    """The identities of ``parts`` the latest poll lists, in its order."""
    keys = set(parts)
    return [r.identity for r in coordinator.data.snapshot.devices if r.identity.key in keys]


class SettingEntity(ControlEntity):
    """An entity showing one setting as the device reported it.

    With ``battery`` (one of several, :func:`setting_batteries`) it sits on
    that battery's device and shows and writes its inverter's setting only.
    """

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        description: SettingEntityDescription,
        battery: DeviceIdentity | None = None,
    ) -> None:
        """Show ``description.setting`` on the device it belongs on, or on ``battery``'s."""
        role = role_of(description.setting) if battery is None else DeviceRole.BATTERY
        super().__init__(coordinator, description, role, battery)
        self._setting = description.setting

    @property
    def _settings(self) -> DeviceSettings | None:
        return self.coordinator.data.settings_of(self._part)

    @property
    def reported(self) -> float | bool | Window | None:
        """The setting's value on the latest poll."""
        settings = self._settings
        return None if settings is None else reported_value(settings, self._setting)

    @property
    def listed(self) -> bool:
        """Whether the device still keeps the setting.

        It may stop after the entity exists (a second hybrid behind a WiNet
        gateway: the system's entity gives way to each battery's own; an
        AlphaESS register that read back nothing); the entity then stays,
        unavailable, until the device lists it again.
        """
        return supports(spec_of(self.coordinator.source, self._part), self._setting)

    @property
    def available(self) -> bool:
        """Known once the device has reported the setting, while it keeps it."""
        return super().available and self.reported is not None and self.listed

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.available, self.reported)

    def _inputs(self) -> tuple[object, ...]:
        data = self.coordinator.data
        settings = None if data is None else data.settings_of(self._part)
        return (settings, spec_of(self.coordinator.source, self._part))

    async def _async_set(self, value: float | bool | Window) -> None:
        change = SettingChange(setting=self._setting, value=value, battery=self._part)
        await self._async_write(lambda: self.coordinator.async_write_setting(change))

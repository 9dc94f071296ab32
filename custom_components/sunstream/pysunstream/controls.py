"""Settings a system keeps in its own device: reserve, charge limit, export limit, windows.

This module is the contract between the integration's control entities and
the sources (simulator, AlphaESS, WiNet). A source that keeps such settings
implements :class:`Configurable`; the integration checks it with
``isinstance`` and creates one entity per setting in :attr:`SettingsSpec`.

Rules every source follows:

* What an entity shows is what the device reported on the latest poll
  (:meth:`Configurable.reported_settings`), never what was last written.
* A write changes only what differs from the device's reported value: the
  settings live in flash. Nothing is written on start-up or reload.
* A value the device cannot take (outside :class:`NumberRange`, a window
  whose end precedes its start, overlapping windows where the device
  forbids them, a setting the model lacks) raises
  :class:`~.errors.CommandRejected` before anything is written; a write the
  device refuses or ignores raises :class:`~.errors.CommandFailed`. Both
  carry a translation key of ``strings.json``'s ``exceptions``.
* How often one stored value may be written is decided by
  :class:`~.write_limiter.WriteLimiter`, in the integration, the same for
  every source. Settings that share a register or parameter (both WiNet
  charge windows and their one switch; AlphaESS windows and their
  time-period control register) share one budget: the source says which
  in :attr:`SettingsSpec.write_groups`, from its register tables.
* Where several devices behind one system each keep their own settings
  (a WiNet gateway with several hybrid inverters), the source is also
  :class:`ConfiguresSeveralBatteries`: each inverter's settings are known by
  its battery part, a :class:`SettingChange` names that battery, and the
  system's own :attr:`Configurable.settings_spec` is empty (a change to
  "the system" could go to neither). Budgets are then per battery too.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from .model import PartKey


class Setting(StrEnum):
    """Each setting a device may keep; values are entity keys."""

    RESERVE_SOC = "reserve_soc"
    """Discharge floor / backup reserve, %."""
    CHARGE_LIMIT_SOC = "charge_limit_soc"
    """Grid-charge target, %."""
    EXPORT_LIMIT_ENABLED = "export_limit_enabled"
    EXPORT_LIMIT = "export_limit"
    """In the unit of its :class:`NumberRange` (W, or % where the device takes %)."""
    CHARGE_WINDOW_1 = "charge_window_1"
    CHARGE_WINDOW_2 = "charge_window_2"
    DISCHARGE_WINDOW_1 = "discharge_window_1"
    DISCHARGE_WINDOW_2 = "discharge_window_2"


WINDOWS: tuple[Setting, ...] = (
    Setting.CHARGE_WINDOW_1,
    Setting.CHARGE_WINDOW_2,
    Setting.DISCHARGE_WINDOW_1,
    Setting.DISCHARGE_WINDOW_2,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """A daily time-of-use window as the device stores it."""

    start: time
    end: time
    enabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberRange:
    """Limits of a numeric setting, from the device or its model."""

    minimum: float
    maximum: float
    step: float
    unit: str
    """``"%"`` or ``"W"``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingsSpec:
    """What this device (model, firmware) can keep; absent means no entity."""

    ranges: Mapping[Setting, NumberRange] = field(default_factory=dict)
    """For RESERVE_SOC, CHARGE_LIMIT_SOC and EXPORT_LIMIT."""
    windows: frozenset[Setting] = frozenset()
    export_limit_switch: bool = False
    windows_may_overlap: bool = False
    write_groups: Mapping[Setting, str] = field(default_factory=dict)
    """Settings whose writes land in one stored value share a group name;
    a setting not listed is a group of its own (see :func:`sharing_storage`)."""

    def write_group(self, setting: Setting) -> str:
        """The group whose write budget a write of ``setting`` spends."""
        return self.write_groups.get(setting, setting.value)


def sharing_storage(stores: Mapping[Setting, Iterable[Hashable]]) -> Mapping[Setting, str]:
    """Write groups from where each setting is stored (register addresses, parameters).

    Settings that share any address, directly or through another setting,
    are one group, named after its first setting (in :class:`Setting` order).
    """
    groups: list[tuple[set[Setting], set[Hashable]]] = []
    for setting in sorted(stores, key=list(Setting).index):
        own: tuple[set[Setting], set[Hashable]] = ({setting}, set(stores[setting]))
        for group in [g for g in groups if g[1] & own[1]]:
            groups.remove(group)
            own[0].update(group[0])
            own[1].update(group[1])
        groups.append(own)
    names: dict[Setting, str] = {}
    for members, _ in groups:
        first = min(members, key=list(Setting).index)
        names.update(dict.fromkeys(members, first.value))
    return MappingProxyType(names)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSettings:
    """Settings as the device reported them; ``None`` or absent: not reported."""

    reserve_soc: float | None = None
    charge_limit_soc: float | None = None
    export_limit_enabled: bool | None = None
    export_limit: float | None = None
    windows: Mapping[Setting, Window] = field(default_factory=dict)
    windows_untimed: frozenset[Setting] = frozenset()
    """Windows the device keeps, switched off, whose times it has not shown.

    A WiNet inverter hides its forced-charging times while forced charging
    is off: such a window shows as off, and can be switched on (a ``bool``
    :class:`SettingChange`), which makes the device show its times.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingChange:
    """One change a user asked for.

    ``value`` is a float for RESERVE_SOC, CHARGE_LIMIT_SOC and EXPORT_LIMIT, a
    bool for EXPORT_LIMIT_ENABLED, a :class:`Window` for a window setting (a
    bool for one in :attr:`DeviceSettings.windows_untimed`: switched on or
    off with the times the device keeps).
    """

    setting: Setting
    value: float | bool | Window
    battery: PartKey | None = None
    """The battery part whose inverter keeps the setting, where each of several
    keeps its own (:class:`~.capabilities.ConfiguresSeveralBatteries`); ``None``:
    the system's settings."""


@runtime_checkable
class Configurable(Protocol):
    """A source whose device keeps settings Sunstream can change."""

    @property
    def settings_spec(self) -> SettingsSpec:
        """What the device can keep (known after the first successful poll)."""
        ...

    def reported_settings(self) -> DeviceSettings:
        """The settings read back on the latest successful poll."""
        ...

    async def async_write_setting(self, change: SettingChange) -> None:
        """Validate ``change``, write what differs, raise as the module says."""
        ...


@runtime_checkable
class ConfiguresSeveralBatteries(Protocol):
    """A :class:`Configurable` source whose batteries' inverters each keep their own settings.

    A WiNet gateway with several hybrid inverters; a change names its
    battery (:attr:`SettingChange.battery`).
    """

    @property
    def settings_parts(self) -> tuple[PartKey, ...]:
        """The batteries whose inverters keep settings; empty unless there are several."""
        ...

    def settings_spec_of(self, battery: PartKey) -> SettingsSpec:
        """What ``battery``'s inverter keeps (empty before its first read)."""
        ...

    def reported_settings_of(self, battery: PartKey) -> DeviceSettings:
        """``battery``'s inverter's settings as read on the latest successful read."""
        ...


def spec_of(source: object, battery: PartKey | None) -> SettingsSpec:
    """What the system (``battery`` None) or one of its several batteries keeps.

    Empty for a source that keeps no settings, and for a battery that is not
    one of several with settings of their own.
    """
    if battery is None:
        return source.settings_spec if isinstance(source, Configurable) else SettingsSpec()
    if isinstance(source, ConfiguresSeveralBatteries) and battery in source.settings_parts:
        return source.settings_spec_of(battery)
    return SettingsSpec()


def reported_of(source: object, battery: PartKey | None) -> DeviceSettings:
    """The settings the system (``battery`` None) or one of its batteries reported."""
    if battery is None:
        return source.reported_settings() if isinstance(source, Configurable) else DeviceSettings()
    if isinstance(source, ConfiguresSeveralBatteries) and battery in source.settings_parts:
        return source.reported_settings_of(battery)
    return DeviceSettings()

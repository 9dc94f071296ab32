"""Numbers: the device's reserve, charge limit and export limit; forced command values."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfPower, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .battery_control import MIN_POWER_W, POWER_STEP_W, RUNNING, CommandValues
from .control import (
    BatteryControlEntity,
    SettingEntity,
    SettingEntityDescription,
    async_add_battery_controls,
    async_add_battery_settings,
    async_add_controls,
    commands,
    settings,
)
from .coordinator import SunstreamCoordinator
from .entity import Reported, unique_id
from .pysunstream.controls import NumberRange, Setting, spec_of
from .pysunstream.dispatch import MAX_DURATION, MIN_DURATION, CommandKind
from .pysunstream.model import DeviceIdentity, Metric
from .runtime import SunstreamConfigEntry

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class SettingNumberDescription(NumberEntityDescription, SettingEntityDescription):
    """A numeric device setting; its limits come from the device."""


SETTING_NUMBERS: tuple[SettingNumberDescription, ...] = tuple(
    SettingNumberDescription(
        key=setting.value,
        translation_key=setting.value,
        entity_category=EntityCategory.CONFIG,
        setting=setting,
    )
    for setting in (Setting.RESERVE_SOC, Setting.CHARGE_LIMIT_SOC, Setting.EXPORT_LIMIT)
)


@dataclass(frozen=True, kw_only=True)
class CommandNumberDescription(NumberEntityDescription):
    """One value forced commands are sent with (see battery_control.py)."""

    # The command kind whose running command this value changes; None: both.
    kind: CommandKind | None = None


FORCED_CHARGE_POWER = CommandNumberDescription(
    key="forced_charge_power",
    translation_key="forced_charge_power",
    entity_category=EntityCategory.CONFIG,
    device_class=NumberDeviceClass.POWER,
    native_unit_of_measurement=UnitOfPower.WATT,
    native_min_value=MIN_POWER_W,
    native_step=POWER_STEP_W,
    mode=NumberMode.BOX,
    kind=CommandKind.CHARGE,
)
FORCED_DISCHARGE_POWER = replace(
    FORCED_CHARGE_POWER,
    key="forced_discharge_power",
    translation_key="forced_discharge_power",
    kind=CommandKind.DISCHARGE,
)
COMMAND_TARGET_SOC = CommandNumberDescription(
    key="command_target_soc",
    translation_key="command_target_soc",
    entity_category=EntityCategory.CONFIG,
    native_unit_of_measurement=PERCENTAGE,
    native_step=1,
    mode=NumberMode.SLIDER,
)
COMMAND_DURATION = CommandNumberDescription(
    key="command_duration",
    translation_key="command_duration",
    entity_category=EntityCategory.CONFIG,
    device_class=NumberDeviceClass.DURATION,
    native_unit_of_measurement=UnitOfTime.MINUTES,
    native_min_value=MIN_DURATION.total_seconds() / 60,
    native_max_value=MAX_DURATION.total_seconds() / 60,
    native_step=1,
    mode=NumberMode.BOX,
)
COMMAND_NUMBERS = (
    FORCED_CHARGE_POWER,
    FORCED_DISCHARGE_POWER,
    COMMAND_TARGET_SOC,
    COMMAND_DURATION,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the numbers the system has, as soon as it has them."""
    numbers = (settings(SETTING_NUMBERS, SettingNumber), commands(COMMAND_NUMBERS, CommandNumber))
    async_add_controls(entry, async_add_entities, *numbers)
    async_add_battery_settings(entry, async_add_entities, SETTING_NUMBERS, SettingNumber)
    coordinator = entry.runtime_data.coordinator

    def per_battery(battery: DeviceIdentity) -> Reported:
        for description in COMMAND_NUMBERS:
            uid = unique_id(coordinator, description.key, battery)
            yield uid, partial(CommandNumber, coordinator, description, battery)

    async_add_battery_controls(entry, async_add_entities, per_battery)


class SettingNumber(SettingEntity, NumberEntity):
    """Reserve SOC, charge limit SOC or export limit, as the device reports it."""

    entity_description: SettingNumberDescription

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        description: SettingNumberDescription,
        battery: DeviceIdentity | None = None,
    ) -> None:
        """Show ``description.setting``, its mode suited to its unit."""
        super().__init__(coordinator, description, battery)
        # Created only for what the spec lists.
        self._last_range = spec_of(coordinator.source, self._part).ranges[self._setting]
        if self._range.unit == "W":
            self._attr_device_class = NumberDeviceClass.POWER
            self._attr_mode = NumberMode.BOX
        else:
            self._attr_mode = NumberMode.SLIDER

    @property
    def _range(self) -> NumberRange:
        """The device's limits; the last it listed once it no longer lists them.

        Home Assistant asks for them even while the entity is unavailable
        (see :attr:`~.control.SettingEntity.listed`).
        """
        if listed := spec_of(self.coordinator.source, self._part).ranges.get(self._setting):
            self._last_range = listed
        return self._last_range

    def _fingerprint(self) -> tuple[Any, ...]:
        return (*super()._fingerprint(), self._range)

    @property
    def native_min_value(self) -> float:
        """The device's minimum."""
        return self._range.minimum

    @property
    def native_max_value(self) -> float:
        """The device's maximum."""
        return self._range.maximum

    @property
    def native_step(self) -> float:
        """The device's resolution."""
        return self._range.step

    @property
    def native_unit_of_measurement(self) -> str:
        """% or W, as the device takes it."""
        return PERCENTAGE if self._range.unit == "%" else UnitOfPower.WATT

    @property
    def native_value(self) -> float | None:
        """The value the device reported."""
        value = self.reported
        return value if isinstance(value, float | int) and not isinstance(value, bool) else None

    async def async_set_native_value(self, value: float) -> None:
        """Write the new value to the device."""
        await self._async_set(value)


class CommandNumber(BatteryControlEntity, NumberEntity):
    """A value the next forced command is sent with; an action sets it too.

    Changed while its command runs (the charge power during a forced
    charge, the target or duration during either), the command is sent
    again with it, so the running command and the number agree.
    """

    entity_description: CommandNumberDescription

    @property
    def native_max_value(self) -> float:
        """The battery's power limit; 100 % for the target; a day for the duration."""
        limits, key = self._limits, self.entity_description.key
        if key == COMMAND_TARGET_SOC.key:
            return limits.max_soc if limits else 100.0
        if key == COMMAND_DURATION.key or limits is None:
            return super().native_max_value
        kind = self.entity_description.kind
        return limits.max_charge_w if kind is CommandKind.CHARGE else limits.max_discharge_w

    @property
    def native_min_value(self) -> float:
        """The battery's lowest SOC for the target; the description's otherwise."""
        limits = self._limits
        if self.entity_description.key == COMMAND_TARGET_SOC.key and limits is not None:
            return limits.min_soc
        return super().native_min_value

    @property
    def native_value(self) -> float | None:
        """The value the next (or running) command is sent with."""
        values, limits = self._values, self._limits
        match self.entity_description.key:
            case COMMAND_TARGET_SOC.key:
                return values.target_soc
            case COMMAND_DURATION.key:
                return values.duration_min
        kind = self.entity_description.kind
        return None if limits is None or kind is None else values.power(kind, limits)

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.available, self.native_value, self.native_max_value, self.native_min_value)

    def _inputs(self) -> tuple[object, ...]:
        return (self.coordinator.data is not None, self._limits, self._values)

    def _with(self, value: float) -> CommandValues:
        values = self._values
        match self.entity_description.key:
            case COMMAND_TARGET_SOC.key:
                return replace(values, target_soc=value)
            case COMMAND_DURATION.key:
                return replace(values, duration_min=value)
            case FORCED_CHARGE_POWER.key:
                return replace(values, charge_power_w=value)
        return replace(values, discharge_power_w=value)

    def _running(self) -> CommandKind | None:
        """The forced command the battery reports running, if this value belongs to it."""
        running = RUNNING.get(str(self._metric(Metric.BATTERY_MODE)))
        kind = self.entity_description.kind
        return running if kind is None or kind is running else None

    async def async_set_native_value(self, value: float) -> None:
        """Keep the value; resend a running command of its kind with it."""
        coordinator = self.coordinator
        values = self._with(value)
        if (kind := self._running()) is not None and (limits := self._limits) is not None:
            command = values.command(kind, limits, dt_util.now(), self._part)
            await self._async_write(lambda: coordinator.async_dispatch(command))
            return
        coordinator.set_command_values(values, self._part)
        self.async_write_ha_state()

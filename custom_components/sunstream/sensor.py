"""Sensors: power, energy, battery, economics, and source extras."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfMass,
    UnitOfPower,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .const import LOGGER
from .coordinator import SunstreamConfigEntry, SunstreamCoordinator, SystemData
from .devices import DeviceRole
from .entity import Reported, SunstreamEntity, async_add_reported, unique_id
from .part_sensor import reported_part_sensors
from .pysunstream.model import BatteryMode, InverterStatus, Metric

PARALLEL_UPDATES = 0

ENERGY_DECIMALS = 3  # Wh resolution: no state change for no energy


@dataclass(frozen=True, kw_only=True)
class SunstreamSensorEntityDescription(SensorEntityDescription):
    """How to read one sensor from the system's data."""

    value_fn: Callable[[SystemData], StateType]
    # For totals that restart each day or month: when the current one began.
    last_reset_fn: Callable[[SystemData], datetime] | None = None
    role: DeviceRole = DeviceRole.SYSTEM
    needs_battery: bool = False
    monotonic: bool = False
    # A source-specific value: created only where the source reports it.
    extra: bool = False


def _metric(metric: Metric) -> Callable[[SystemData], StateType]:
    def read(data: SystemData) -> StateType:
        return data.metric(metric)

    return read


def _energy(metric: Metric) -> Callable[[SystemData], StateType]:
    def read(data: SystemData) -> StateType:
        value = data.metric(metric)
        return round(value, ENERGY_DECIMALS) if isinstance(value, float | int) else None

    return read


def _economics(key: str, decimals: int) -> Callable[[SystemData], StateType]:
    def read(data: SystemData) -> StateType:
        return round(data.economics[key], decimals)

    return read


def _start_of_day(data: SystemData) -> datetime:
    taken = data.snapshot.taken_at
    return taken.replace(hour=0, minute=0, second=0, microsecond=0)


def _start_of_month(data: SystemData) -> datetime:
    return _start_of_day(data).replace(day=1)


def _extra(key: str) -> Callable[[SystemData], StateType]:
    def read(data: SystemData) -> StateType:
        return data.snapshot.extras.get(key)

    return read


def _extra_energy(key: str) -> Callable[[SystemData], StateType]:
    def read(data: SystemData) -> StateType:
        value = data.snapshot.extras.get(key)
        return round(value, ENERGY_DECIMALS) if isinstance(value, float | int) else None

    return read


def _power(key: Metric, **kwargs: Any) -> SunstreamSensorEntityDescription:
    return SunstreamSensorEntityDescription(
        key=key.value,
        translation_key=key.value,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_metric(key),
        **kwargs,
    )


def _energy_total(key: Metric, **kwargs: Any) -> SunstreamSensorEntityDescription:
    return SunstreamSensorEntityDescription(
        key=key.value,
        translation_key=key.value,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=_energy(key),
        **kwargs,
    )


SENSORS: tuple[SunstreamSensorEntityDescription, ...] = (
    _power(Metric.PV_POWER),
    _energy_total(Metric.PV_ENERGY_TODAY),
    _energy_total(Metric.PV_ENERGY_MONTH),
    _energy_total(Metric.PV_ENERGY_TOTAL, monotonic=True),
    _power(Metric.LOAD_POWER),
    _energy_total(Metric.LOAD_ENERGY_TOTAL, monotonic=True),
    _power(Metric.GRID_POWER),
    _energy_total(Metric.GRID_IMPORT_ENERGY, monotonic=True),
    _energy_total(Metric.GRID_EXPORT_ENERGY, monotonic=True),
    _power(Metric.BATTERY_POWER, role=DeviceRole.BATTERY, needs_battery=True),
    SunstreamSensorEntityDescription(
        key=Metric.BATTERY_SOC.value,
        translation_key=Metric.BATTERY_SOC.value,
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=_metric(Metric.BATTERY_SOC),
        role=DeviceRole.BATTERY,
        needs_battery=True,
    ),
    _energy_total(
        Metric.BATTERY_CHARGE_ENERGY,
        monotonic=True,
        role=DeviceRole.BATTERY,
        needs_battery=True,
    ),
    _energy_total(
        Metric.BATTERY_DISCHARGE_ENERGY,
        monotonic=True,
        role=DeviceRole.BATTERY,
        needs_battery=True,
    ),
    SunstreamSensorEntityDescription(
        key=Metric.BATTERY_MODE.value,
        translation_key=Metric.BATTERY_MODE.value,
        device_class=SensorDeviceClass.ENUM,
        options=[mode.value for mode in BatteryMode],
        value_fn=_metric(Metric.BATTERY_MODE),
        role=DeviceRole.BATTERY,
        needs_battery=True,
    ),
    SunstreamSensorEntityDescription(
        key=Metric.INVERTER_TEMPERATURE.value,
        translation_key=Metric.INVERTER_TEMPERATURE.value,
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_metric(Metric.INVERTER_TEMPERATURE),
    ),
    SunstreamSensorEntityDescription(
        key=Metric.STATUS.value,
        translation_key=Metric.STATUS.value,
        device_class=SensorDeviceClass.ENUM,
        options=[status.value for status in InverterStatus],
        value_fn=_metric(Metric.STATUS),
    ),
    *(
        SunstreamSensorEntityDescription(
            key=f"savings_{period}",
            translation_key=f"savings_{period}",
            device_class=SensorDeviceClass.MONETARY,
            state_class=SensorStateClass.TOTAL,
            suggested_display_precision=2,
            value_fn=_economics(f"savings_{period}", 4),
            last_reset_fn=reset,
        )
        for period, reset in (
            ("today", _start_of_day),
            ("month", _start_of_month),
            ("total", None),
        )
    ),
    SunstreamSensorEntityDescription(
        key="co2_offset",
        translation_key="co2_offset",
        device_class=SensorDeviceClass.WEIGHT,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfMass.KILOGRAMS,
        suggested_display_precision=1,
        value_fn=_economics("co2_offset", 3),
    ),
    SunstreamSensorEntityDescription(
        key="trees_equivalent",
        translation_key="trees_equivalent",
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        value_fn=_economics("trees_equivalent", 4),
    ),
    *(
        SunstreamSensorEntityDescription(
            key=f"pv{string}_power",
            translation_key="string_power",
            translation_placeholders={"string": str(string)},
            device_class=SensorDeviceClass.POWER,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfPower.WATT,
            suggested_display_precision=0,
            entity_registry_enabled_default=False,
            value_fn=_extra(f"pv{string}_power"),
            extra=True,
        )
        for string in (1, 2)
    ),
    *(
        SunstreamSensorEntityDescription(
            key=f"pv{string}_voltage",
            translation_key="string_voltage",
            translation_placeholders={"string": str(string)},
            device_class=SensorDeviceClass.VOLTAGE,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfElectricPotential.VOLT,
            suggested_display_precision=0,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
            value_fn=_extra(f"pv{string}_voltage"),
            extra=True,
        )
        for string in (1, 2)
    ),
    SunstreamSensorEntityDescription(
        key="wind_power",
        translation_key="wind_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_extra("wind_power"),
        extra=True,
    ),
    SunstreamSensorEntityDescription(
        key="wind_energy_total",
        translation_key="wind_energy_total",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=_extra_energy("wind_energy_total"),
        monotonic=True,
        extra=True,
    ),
    SunstreamSensorEntityDescription(
        key="simulation",
        translation_key="simulation",
        device_class=SensorDeviceClass.ENUM,
        options=["running", "stopped"],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_extra("simulation"),
        extra=True,
    ),
    SunstreamSensorEntityDescription(
        key="grid_voltage",
        translation_key="grid_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_extra("grid_voltage"),
        extra=True,
    ),
    SunstreamSensorEntityDescription(
        key="grid_frequency",
        translation_key="grid_frequency",
        device_class=SensorDeviceClass.FREQUENCY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfFrequency.HERTZ,
        suggested_display_precision=2,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_extra("grid_frequency"),
        extra=True,
    ),
    SunstreamSensorEntityDescription(
        key="curtailed_power",
        translation_key="curtailed_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_extra("curtailed_power"),
        extra=True,
    ),
    SunstreamSensorEntityDescription(
        key="battery_soh",
        translation_key="battery_soh",
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_extra("battery_soh"),
        role=DeviceRole.BATTERY,
        extra=True,
    ),
    SunstreamSensorEntityDescription(
        key="battery_voltage",
        translation_key="battery_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_extra("battery_voltage"),
        role=DeviceRole.BATTERY,
        extra=True,
    ),
    *(
        SunstreamSensorEntityDescription(
            key=f"battery_{bound}_cell_temperature",
            translation_key=f"battery_{bound}_cell_temperature",
            device_class=SensorDeviceClass.TEMPERATURE,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfTemperature.CELSIUS,
            suggested_display_precision=1,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=bound == "max",
            value_fn=_extra(f"battery_{bound}_cell_temperature"),
            role=DeviceRole.BATTERY,
            extra=True,
        )
        for bound in ("min", "max")
    ),
    *(
        SunstreamSensorEntityDescription(
            key=f"grid_voltage_{phase}",
            translation_key="grid_phase_voltage",
            translation_placeholders={"phase": phase.upper()},
            device_class=SensorDeviceClass.VOLTAGE,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfElectricPotential.VOLT,
            suggested_display_precision=1,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
            value_fn=_extra(f"grid_voltage_{phase}"),
            extra=True,
        )
        for phase in ("a", "b", "c")
    ),
)


LINK_METRICS = (
    "attempts",
    "successes",
    "failures",
    "reconnections",
    "messages_received",
    "messages_sent",
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors the system can fill, and more as it reports more."""
    coordinator = entry.runtime_data

    def reported() -> Reported:
        for description in SENSORS:
            if _reported(coordinator.data, description):
                kind = SunstreamMonotonicSensor if description.monotonic else SunstreamSensor
                uid = unique_id(coordinator, description.key, None)
                yield uid, partial(kind, coordinator, description)
        yield from reported_part_sensors(coordinator)

    async_add_reported(entry, async_add_entities, reported)
    if callable(getattr(coordinator.source, "link_metrics", None)):
        async_add_entities(
            SunstreamLinkMetricSensor(
                coordinator,
                SensorEntityDescription(
                    key=f"link_{metric}",
                    translation_key=f"link_{metric}",
                    state_class=SensorStateClass.TOTAL_INCREASING,
                    entity_category=EntityCategory.DIAGNOSTIC,
                    entity_registry_enabled_default=False,
                ),
                metric,
            )
            for metric in LINK_METRICS
        )


def _reported(data: SystemData, description: SunstreamSensorEntityDescription) -> bool:
    """Whether the system reports what ``description`` reads.

    Canonical metrics and extras only exist when the source has them (a PV
    inverter without battery, a gateway without string data); economics
    exist for every system.
    """
    if description.needs_battery and not data.has_battery:
        return False
    key = description.key
    if description.extra:
        return key in data.snapshot.extras
    if key in {metric.value for metric in Metric}:
        return Metric(key) in data.snapshot.metrics
    return True


class SunstreamSensor(SunstreamEntity, SensorEntity):
    """A sensor whose value comes straight from the system's data."""

    entity_description: SunstreamSensorEntityDescription

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        description: SunstreamSensorEntityDescription,
    ) -> None:
        """Place the sensor on the device its description names."""
        super().__init__(coordinator, description, description.role)
        if description.device_class is SensorDeviceClass.MONETARY:
            self._attr_native_unit_of_measurement = coordinator.hass.config.currency

    @property
    def native_value(self) -> StateType:
        """The value in the latest data."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def last_reset(self) -> datetime | None:
        """Start of the current day or month, for totals that restart."""
        if (reset := self.entity_description.last_reset_fn) is None:
            return None
        return reset(self.coordinator.data)

    def _fingerprint(self) -> tuple[Any, ...]:
        if not self.available:
            return (False,)
        return (True, self.native_value, self.last_reset)


class SunstreamMonotonicSensor(SunstreamSensor, RestoreSensor):
    """A lifetime total that never goes backwards, even across restarts.

    A source that glitches (a bad read, a reset counter, lost state) would
    otherwise make the Energy dashboard book a meter reset and then the
    whole total again as a spike. The highest value seen wins; a lower
    reading is logged once and held until the source catches up.
    """

    _highest: float | None = None
    _warned = False

    async def async_added_to_hass(self) -> None:
        """Start from the last value this entity reported."""
        await super().async_added_to_hass()
        if (last := await self.async_get_last_sensor_data()) is not None and isinstance(
            last.native_value, int | float
        ):
            self._highest = float(last.native_value)

    @property
    def native_value(self) -> StateType:
        """The source's value, clamped to the highest seen."""
        value = super().native_value
        if not isinstance(value, int | float):
            return self._highest
        if self._highest is not None and value < self._highest:
            if not self._warned:
                self._warned = True
                LOGGER.warning(
                    "%s went backwards (%s < %s); holding the higher value",
                    self.entity_id,
                    value,
                    self._highest,
                )
            return self._highest
        self._highest = float(value)
        return value


class SunstreamLinkMetricSensor(SunstreamEntity, SensorEntity):
    """A counter of the source's connection (attempts, failures, frames…).

    Stays available while the link is down: that is when it matters.
    """

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        description: SensorEntityDescription,
        metric: str,
    ) -> None:
        """Follow ``metric`` of the source's link counters."""
        super().__init__(coordinator, description)
        self._metric = metric

    @property
    def available(self) -> bool:
        """Counters are known whether or not the last poll worked."""
        return True

    @property
    def native_value(self) -> int | None:
        """The counter's current value."""
        metrics = self.coordinator.source.link_metrics()  # type: ignore[attr-defined]
        value = metrics.get(self._metric)
        return value if isinstance(value, int) else None

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.native_value,)

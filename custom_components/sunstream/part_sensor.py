"""Sensors of a system's parts: buses, converters and units of a microgrid.

A part reports its values by name (``DeviceReading.values``); this table
says how each name becomes a sensor. Rates are high and most users want a
few of them, so the niche ones (angles, d/q currents, reactive power, DC
link) are created disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    DEGREE,
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfFrequency,
    UnitOfIrradiance,
    UnitOfPower,
    UnitOfReactivePower,
    UnitOfSpeed,
    UnitOfTemperature,
)
from homeassistant.helpers.typing import StateType

from .coordinator import SunstreamCoordinator
from .entity import Reported, SunstreamPartEntity, unique_id
from .pysunstream.model import DeviceKind

PART_KINDS = frozenset(
    {DeviceKind.BUS, DeviceKind.CONVERTER, DeviceKind.SOLAR_UNIT, DeviceKind.WIND_UNIT}
)


@dataclass(frozen=True, slots=True)
class _Quantity:
    """How a kind of value shows: device class, unit and display precision."""

    device_class: SensorDeviceClass | None
    unit: str
    precision: int


_KW = _Quantity(SensorDeviceClass.POWER, UnitOfPower.KILO_WATT, 2)
_KVAR = _Quantity(
    SensorDeviceClass.REACTIVE_POWER, UnitOfReactivePower.KILO_VOLT_AMPERE_REACTIVE, 2
)
_VOLT = _Quantity(SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT, 1)
_AMPERE = _Quantity(SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE, 1)
_CELSIUS = _Quantity(SensorDeviceClass.TEMPERATURE, UnitOfTemperature.CELSIUS, 1)


def _measurement(key: str, quantity: _Quantity, *, enabled: bool = True) -> SensorEntityDescription:
    return SensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=quantity.device_class,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=quantity.unit,
        suggested_display_precision=quantity.precision,
        entity_registry_enabled_default=enabled,
        entity_category=None if enabled else EntityCategory.DIAGNOSTIC,
    )


PART_SENSORS: dict[str, SensorEntityDescription] = {
    d.key: d
    for d in (
        _measurement("bus_voltage", _VOLT),
        _measurement("bus_angle", _Quantity(None, DEGREE, 2), enabled=False),
        _measurement(
            "bus_frequency",
            _Quantity(SensorDeviceClass.FREQUENCY, UnitOfFrequency.HERTZ, 3),
            enabled=False,
        ),
        _measurement("bus_active_power", _KW),
        _measurement("bus_reactive_power", _KVAR, enabled=False),
        _measurement("current_d", _AMPERE, enabled=False),
        _measurement("current_q", _AMPERE, enabled=False),
        _measurement("dc_link_voltage", _VOLT, enabled=False),
        _measurement("active_power", _KW),
        _measurement("reactive_power", _KVAR, enabled=False),
        _measurement("thd", _Quantity(None, PERCENTAGE, 2)),
        _measurement("temperature", _CELSIUS),
        _measurement(
            "irradiance",
            _Quantity(SensorDeviceClass.IRRADIANCE, UnitOfIrradiance.WATTS_PER_SQUARE_METER, 0),
        ),
        _measurement("panel_temperature", _CELSIUS),
        _measurement("efficiency", _Quantity(None, PERCENTAGE, 1), enabled=False),
        _measurement("unit_power", _KW),
        _measurement(
            "wind_speed",
            _Quantity(SensorDeviceClass.WIND_SPEED, UnitOfSpeed.METERS_PER_SECOND, 1),
        ),
    )
}


def reported_part_sensors(coordinator: SunstreamCoordinator) -> Reported:
    """One sensor per value each microgrid part reports (see ``async_add_reported``)."""
    for reading in coordinator.data.snapshot.devices:
        if reading.identity.kind not in PART_KINDS:
            continue
        for key in reading.values:
            if key in PART_SENSORS:
                yield (
                    unique_id(coordinator, key, reading.identity),
                    partial(
                        SunstreamPartSensor, coordinator, PART_SENSORS[key], part=reading.identity
                    ),
                )


class SunstreamPartSensor(SunstreamPartEntity, SensorEntity):
    """One value of one part, on the part's own device."""

    @property
    def available(self) -> bool:
        """Unavailable while the part itself is offline (a tripped converter)."""
        reading = self.reading
        return super().available and reading is not None and reading.online

    @property
    def native_value(self) -> StateType:
        """The part's latest value."""
        reading = self.reading
        if reading is None:
            return None
        value = reading.values.get(self.entity_description.key)
        return value if isinstance(value, int | float) else None

    def _fingerprint(self) -> tuple[object, ...]:
        return (self.available, self.native_value)

"""Sensors: power, energy, battery, economics, and source extras."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfMass,
    UnitOfPower,
    UnitOfReactivePower,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .const import LOGGER
from .coordinator import SunstreamCoordinator
from .devices import DeviceRole
from .entity import Reported, SunstreamEntity, async_add_reported, unique_id
from .part_sensor import reported_part_sensors
from .pysunstream.capabilities import HasLinkMetrics
from .pysunstream.economics import EconomicsReading
from .pysunstream.model import (
    BatteryMode,
    DeviceIdentity,
    DeviceReading,
    InverterStatus,
    Metric,
    Snapshot,
)
from .runtime import SunstreamConfigEntry
from .system_data import SystemData

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


def _kwh(read: Callable[[SystemData], StateType]) -> Callable[[SystemData], StateType]:
    """``read``, rounded to the energy resolution."""

    def rounded(data: SystemData) -> StateType:
        value = read(data)
        return round(value, ENERGY_DECIMALS) if isinstance(value, float | int) else None

    return rounded


def _economics(
    field: Callable[[EconomicsReading], float], decimals: int
) -> Callable[[SystemData], StateType]:
    def read(data: SystemData) -> StateType:
        return round(field(data.economics), decimals)

    return read


def _start_of_day(data: SystemData) -> datetime:
    taken = data.snapshot.taken_at
    return taken.replace(hour=0, minute=0, second=0, microsecond=0)


def _start_of_month(data: SystemData) -> datetime:
    return _start_of_day(data).replace(day=1)


# Savings per period: how to read them, and when the period began.
SAVINGS: tuple[
    tuple[str, Callable[[EconomicsReading], float], Callable[[SystemData], datetime] | None], ...
] = (
    ("today", lambda e: e.savings_today, _start_of_day),
    ("month", lambda e: e.savings_month, _start_of_month),
    ("total", lambda e: e.savings_total, None),
)


def _extra(key: str) -> Callable[[SystemData], StateType]:
    def read(data: SystemData) -> StateType:
        return data.snapshot.extras.get(key)

    return read


def _measurement(
    key: str,
    device_class: SensorDeviceClass | None,
    unit: str | None,
    precision: int,
    *,
    diagnostic: bool = False,
    translation_key: str | None = None,
    **kwargs: Any,
) -> SunstreamSensorEntityDescription:
    """A measurement of a source-specific value (an extra), unless ``value_fn`` says otherwise."""
    kwargs.setdefault("value_fn", _extra(key))
    kwargs.setdefault("extra", True)
    return SunstreamSensorEntityDescription(
        key=key,
        translation_key=translation_key or key,
        device_class=device_class,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=unit,
        suggested_display_precision=precision,
        entity_category=EntityCategory.DIAGNOSTIC if diagnostic else None,
        **kwargs,
    )


def _power(key: Metric, **kwargs: Any) -> SunstreamSensorEntityDescription:
    return _measurement(
        key.value,
        SensorDeviceClass.POWER,
        UnitOfPower.WATT,
        0,
        value_fn=_metric(key),
        extra=False,
        **kwargs,
    )


def _energy_total(key: Metric | str, **kwargs: Any) -> SunstreamSensorEntityDescription:
    """An energy counter: a canonical metric, or a source's extra."""
    if isinstance(key, Metric):
        name, read = key.value, _metric(key)
    else:
        name, read = key, _extra(key)
        kwargs["extra"] = True
    return SunstreamSensorEntityDescription(
        key=name,
        translation_key=name,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=_kwh(read),
        **kwargs,
    )


def _state(key: Metric, states: type[StrEnum], **kwargs: Any) -> SunstreamSensorEntityDescription:
    """A metric that is one of ``states``."""
    return SunstreamSensorEntityDescription(
        key=key.value,
        translation_key=key.value,
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in states],
        value_fn=_metric(key),
        **kwargs,
    )


def _battery_energy(key: Metric) -> SunstreamSensorEntityDescription:
    """Energy the battery holds (not a counter: it goes up and down)."""
    return SunstreamSensorEntityDescription(
        key=key.value,
        translation_key=key.value,
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=_kwh(_metric(key)),
        role=DeviceRole.BATTERY,
        needs_battery=True,
    )


# MPPT strings: AlphaESS reads six (0x041D..), WiNet reports up to four per inverter.
PV_STRINGS = range(1, 7)
# Per string and per phase: what, its device class, unit and display precision.
STRING_QUANTITIES = (
    ("power", SensorDeviceClass.POWER, UnitOfPower.WATT, 0),
    ("voltage", SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT, 0),
    ("current", SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE, 1),
)
PHASE_QUANTITIES = (
    ("voltage", SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT, 1),
    ("current", SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE, 1),
    ("power", SensorDeviceClass.POWER, UnitOfPower.WATT, 0),
)


def _phase_voltages_and_currents(name: str) -> tuple[SunstreamSensorEntityDescription, ...]:
    """``<name>_voltage_<a|b|c>`` and ``_current_…``: diagnostic, disabled by default."""
    return tuple(
        _measurement(
            f"{name}_{quantity}_{phase}",
            device_class,
            unit,
            precision,
            diagnostic=True,
            translation_key=f"{name}_phase_{quantity}",
            translation_placeholders={"phase": phase.upper()},
            entity_registry_enabled_default=False,
        )
        for phase in ("a", "b", "c")
        for quantity, device_class, unit, precision in PHASE_QUANTITIES
        if quantity != "power"
    )


def _ac_quality(prefix: str) -> tuple[SunstreamSensorEntityDescription, ...]:
    """``<prefix>reactive_power``, ``_apparent_power`` and ``_power_factor``, disabled by default.

    Without a prefix the inverter's AC output, with ``grid_`` the grid
    meter's. The power factor is a fraction (-1..1), as every source reports it.
    """
    return (
        _measurement(
            f"{prefix}reactive_power",
            SensorDeviceClass.REACTIVE_POWER,
            UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
            0,
            entity_registry_enabled_default=False,
        ),
        _measurement(
            f"{prefix}apparent_power",
            SensorDeviceClass.APPARENT_POWER,
            UnitOfApparentPower.VOLT_AMPERE,
            0,
            entity_registry_enabled_default=False,
        ),
        _measurement(
            f"{prefix}power_factor",
            SensorDeviceClass.POWER_FACTOR,
            None,
            2,
            entity_registry_enabled_default=False,
        ),
    )


SENSORS: tuple[SunstreamSensorEntityDescription, ...] = (
    _power(Metric.PV_POWER),
    _energy_total(Metric.PV_ENERGY_TODAY),
    _energy_total(Metric.PV_ENERGY_MONTH),
    _energy_total(Metric.PV_ENERGY_TOTAL, monotonic=True),
    _power(Metric.LOAD_POWER),
    _energy_total(Metric.LOAD_ENERGY_TODAY),
    _energy_total(Metric.LOAD_ENERGY_TOTAL, monotonic=True),
    _power(Metric.GRID_POWER),
    _energy_total(Metric.GRID_IMPORT_ENERGY_TODAY),
    _energy_total(Metric.GRID_IMPORT_ENERGY, monotonic=True),
    _energy_total(Metric.GRID_EXPORT_ENERGY_TODAY),
    _energy_total(Metric.GRID_EXPORT_ENERGY, monotonic=True),
    _power(Metric.BATTERY_POWER, role=DeviceRole.BATTERY, needs_battery=True),
    _battery_energy(Metric.BATTERY_CAPACITY),
    _battery_energy(Metric.BATTERY_STORED_ENERGY),
    *(
        _energy_total(metric, role=DeviceRole.BATTERY, needs_battery=True)
        for metric in (
            Metric.BATTERY_CHARGE_ENERGY_TODAY,
            Metric.BATTERY_DISCHARGE_ENERGY_TODAY,
        )
    ),
    _measurement(
        Metric.BATTERY_SOC.value,
        SensorDeviceClass.BATTERY,
        PERCENTAGE,
        0,
        value_fn=_metric(Metric.BATTERY_SOC),
        extra=False,
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
    _state(Metric.BATTERY_MODE, BatteryMode, role=DeviceRole.BATTERY, needs_battery=True),
    _measurement(
        Metric.INVERTER_TEMPERATURE.value,
        SensorDeviceClass.TEMPERATURE,
        UnitOfTemperature.CELSIUS,
        1,
        diagnostic=True,
        value_fn=_metric(Metric.INVERTER_TEMPERATURE),
        extra=False,
    ),
    _state(Metric.STATUS, InverterStatus),
    *(
        SunstreamSensorEntityDescription(
            key=f"savings_{period}",
            translation_key=f"savings_{period}",
            device_class=SensorDeviceClass.MONETARY,
            state_class=SensorStateClass.TOTAL,
            suggested_display_precision=2,
            value_fn=_economics(savings, 4),
            last_reset_fn=reset,
        )
        for period, savings, reset in SAVINGS
    ),
    SunstreamSensorEntityDescription(
        key="co2_offset",
        translation_key="co2_offset",
        device_class=SensorDeviceClass.WEIGHT,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfMass.KILOGRAMS,
        suggested_display_precision=1,
        value_fn=_economics(lambda e: e.co2_offset, 3),
    ),
    SunstreamSensorEntityDescription(
        key="trees_equivalent",
        translation_key="trees_equivalent",
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        value_fn=_economics(lambda e: e.trees_equivalent, 4),
    ),
    *(
        _measurement(
            f"pv{string}_{quantity}",
            device_class,
            unit,
            precision,
            diagnostic=quantity != "power",
            translation_key=f"string_{quantity}",
            translation_placeholders={"string": str(string)},
            entity_registry_enabled_default=False,
        )
        for string in PV_STRINGS
        for quantity, device_class, unit, precision in STRING_QUANTITIES
    ),
    _measurement("wind_power", SensorDeviceClass.POWER, UnitOfPower.WATT, 0),
    _energy_total("wind_energy_total", monotonic=True),
    SunstreamSensorEntityDescription(
        key="simulation",
        translation_key="simulation",
        device_class=SensorDeviceClass.ENUM,
        options=["running", "stopped"],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_extra("simulation"),
        extra=True,
    ),
    _measurement(
        "grid_voltage",
        SensorDeviceClass.VOLTAGE,
        UnitOfElectricPotential.VOLT,
        1,
        diagnostic=True,
        entity_registry_enabled_default=False,
    ),
    _measurement(
        "grid_frequency",
        SensorDeviceClass.FREQUENCY,
        UnitOfFrequency.HERTZ,
        2,
        diagnostic=True,
        entity_registry_enabled_default=False,
    ),
    _measurement("curtailed_power", SensorDeviceClass.POWER, UnitOfPower.WATT, 0),
    # The inverter's AC output (AlphaESS 0x040C, Sungrow 13033 / 5030) and an
    # AC-coupled PV inverter's, as the AlphaESS PV meter sees it (0x00A1).
    *(
        _measurement(
            key, SensorDeviceClass.POWER, UnitOfPower.WATT, 0, entity_registry_enabled_default=False
        )
        for key in ("inverter_power", "pv_meter_power")
    ),
    _measurement("battery_soh", None, PERCENTAGE, 0, diagnostic=True, role=DeviceRole.BATTERY),
    _measurement(
        "battery_voltage",
        SensorDeviceClass.VOLTAGE,
        UnitOfElectricPotential.VOLT,
        1,
        diagnostic=True,
        role=DeviceRole.BATTERY,
    ),
    _measurement(
        "battery_temperature",
        SensorDeviceClass.TEMPERATURE,
        UnitOfTemperature.CELSIUS,
        1,
        diagnostic=True,
        role=DeviceRole.BATTERY,
    ),
    _measurement(
        "battery_current",
        SensorDeviceClass.CURRENT,
        UnitOfElectricCurrent.AMPERE,
        1,
        diagnostic=True,
        role=DeviceRole.BATTERY,
        entity_registry_enabled_default=False,
    ),
    *(
        _measurement(
            f"battery_{bound}_cell_temperature",
            SensorDeviceClass.TEMPERATURE,
            UnitOfTemperature.CELSIUS,
            1,
            diagnostic=True,
            entity_registry_enabled_default=bound == "max",
            role=DeviceRole.BATTERY,
        )
        for bound in ("min", "max")
    ),
    *(
        _measurement(
            f"battery_{bound}_cell_voltage",
            SensorDeviceClass.VOLTAGE,
            UnitOfElectricPotential.VOLT,
            3,
            diagnostic=True,
            entity_registry_enabled_default=False,
            role=DeviceRole.BATTERY,
        )
        for bound in ("min", "max")
    ),
    *(
        _measurement(
            f"grid_{quantity}_{phase}",
            device_class,
            unit,
            precision,
            diagnostic=quantity != "power",
            translation_key=f"grid_phase_{quantity}",
            translation_placeholders={"phase": phase.upper()},
            entity_registry_enabled_default=False,
        )
        for phase in ("a", "b", "c")
        for quantity, device_class, unit, precision in PHASE_QUANTITIES
    ),
    SunstreamSensorEntityDescription(
        key="running_state",
        translation_key="running_state",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_extra("running_state"),
        extra=True,
    ),
    *_phase_voltages_and_currents("meter"),
    _measurement(
        "backup_power",
        SensorDeviceClass.POWER,
        UnitOfPower.WATT,
        0,
        entity_registry_enabled_default=False,
    ),
    *(
        _measurement(
            f"backup_power_{phase}",
            SensorDeviceClass.POWER,
            UnitOfPower.WATT,
            0,
            translation_key="backup_phase_power",
            translation_placeholders={"phase": phase.upper()},
            entity_registry_enabled_default=False,
        )
        for phase in ("a", "b", "c")
    ),
    *_ac_quality(""),
    *_ac_quality("grid_"),
    _measurement(
        "dc_bus_voltage",
        SensorDeviceClass.VOLTAGE,
        UnitOfElectricPotential.VOLT,
        1,
        diagnostic=True,
        entity_registry_enabled_default=False,
    ),
    # Home Assistant has no resistance device class: the unit as the inverter sends it.
    _measurement(
        "insulation_resistance",
        None,
        "kΩ",
        0,
        diagnostic=True,
        entity_registry_enabled_default=False,
    ),
    _measurement("charger_power", SensorDeviceClass.POWER, UnitOfPower.WATT, 0),
    _energy_total("charger_energy_total", monotonic=True),
    *_phase_voltages_and_currents("charger"),
    SunstreamSensorEntityDescription(
        key="charger_status",
        translation_key="charger_status",
        value_fn=_extra("charger_status"),
        extra=True,
    ),
)

#: What a part with values of its own shows (one of several inverters, the
#: battery of one of several hybrids, an EV charger): the system's sensors
#: for canonical metrics and source values, never the economics.
PART_SENSORS: tuple[SunstreamSensorEntityDescription, ...] = tuple(
    d for d in SENSORS if d.extra or d.key in {metric.value for metric in Metric}
)


LINK_METRICS = (
    "attempts",
    "successes",
    "failures",
    "reconnections",
    "messages_received",
    "messages_sent",
    # Frames set aside without touching the link (garbage, binary noise,
    # strays, notices): how often the dongle says something odd.
    "unexpected_messages",
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunstreamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors the system can fill, and more as it reports more."""
    coordinator = entry.runtime_data.coordinator
    source = coordinator.source

    def reported() -> Reported:
        for description in SENSORS:
            if _reported(coordinator.data, description):
                kind = SunstreamMonotonicSensor if description.monotonic else SunstreamSensor
                uid = unique_id(coordinator, description.key, None)
                yield uid, partial(kind, coordinator, description)
        for reading in coordinator.data.snapshot.devices:
            if not (reading.metrics or reading.extras):
                continue
            view = part_view(coordinator.data, reading)
            for description in PART_SENSORS:
                if _reported(view, description):
                    kind = SunstreamMonotonicSensor if description.monotonic else SunstreamSensor
                    uid = unique_id(coordinator, description.key, reading.identity)
                    yield uid, partial(kind, coordinator, description, reading.identity)
        yield from reported_part_sensors(coordinator)

    async_add_reported(entry, async_add_entities, reported)
    if isinstance(source, HasLinkMetrics):
        async_add_entities(
            SunstreamLinkMetricSensor(
                coordinator,
                source,
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


def part_view(data: SystemData, reading: DeviceReading) -> SystemData:
    """``data`` as one part sees it: the part's own values in place of the system's."""
    snapshot = Snapshot(
        taken_at=data.snapshot.taken_at,
        metrics=reading.metrics,
        extras=reading.extras,
        identity=reading.identity,
    )
    return replace(data, snapshot=snapshot)


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
    """A sensor whose value comes straight from the system's data.

    Placed on a ``part`` it reads that part's own values (see
    :func:`part_view`) and is unavailable while the part is offline or gone.
    """

    entity_description: SunstreamSensorEntityDescription

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        description: SunstreamSensorEntityDescription,
        part: DeviceIdentity | None = None,
    ) -> None:
        """Place the sensor on the device its description names, or on ``part``."""
        super().__init__(coordinator, description, description.role, part)
        if description.device_class is SensorDeviceClass.MONETARY:
            self._attr_native_unit_of_measurement = coordinator.hass.config.currency

    def _data(self) -> SystemData | None:
        data = self.coordinator.data
        if self._part is None:
            return data
        reading = self._part_reading()
        return None if reading is None or not reading.online else part_view(data, reading)

    @property
    def available(self) -> bool:
        """Unavailable while the part it sits on is offline."""
        return super().available and self._data() is not None

    @property
    def native_value(self) -> StateType:
        """The value in the latest data."""
        return self._value(self._data())

    def _value(self, data: SystemData | None) -> StateType:
        return None if data is None else self.entity_description.value_fn(data)

    @property
    def last_reset(self) -> datetime | None:
        """Start of the current day or month, for totals that restart."""
        return self._last_reset(self._data())

    def _last_reset(self, data: SystemData | None) -> datetime | None:
        if (reset := self.entity_description.last_reset_fn) is None or data is None:
            return None
        return reset(data)

    def _fingerprint(self) -> tuple[Any, ...]:
        # What available, native_value and last_reset show, from one look at
        # the data (a part's view is built at each look).
        data = self._data()
        if data is None or not self.coordinator.last_update_success:
            return (False,)
        return (True, self._value(data), self._last_reset(data))


class SunstreamMonotonicSensor(SunstreamSensor):
    """A lifetime total that never goes backwards, even across restarts.

    The highest value seen is the system's own (``coordinator.totals``,
    saved in the system's store and deleted with its config entry), never
    a state Home Assistant remembers for the entity id: a removed system's
    entities leave their last states behind, and a system added later
    under the same name would inherit them. A lower reading is logged once
    and held until the source catches up.
    """

    _warned = False

    def _value(self, data: SystemData | None) -> StateType:
        """The source's value, clamped to the highest the system has shown."""
        value = super()._value(data)
        totals = self.coordinator.totals
        # A part's total is its own: one of several inverters never holds the system's sum.
        key = self.entity_description.key
        if self._part is not None:
            key = f"{self._part}_{key}"
        if not isinstance(value, int | float):
            return totals.last(key)
        held = totals.hold(key, value)
        if held != value and not self._warned:
            self._warned = True
            LOGGER.warning(
                "%s went backwards (%s < %s); holding the higher value",
                self.entity_id,
                value,
                held,
            )
        return held


class SunstreamLinkMetricSensor(SunstreamEntity, SensorEntity):
    """A counter of the source's connection (attempts, failures, frames…).

    Stays available while the link is down: that is when it matters.
    """

    def __init__(
        self,
        coordinator: SunstreamCoordinator,
        source: HasLinkMetrics,
        description: SensorEntityDescription,
        metric: str,
    ) -> None:
        """Follow ``metric`` of the source's link counters."""
        super().__init__(coordinator, description)
        self._source = source
        self._metric = metric

    @property
    def available(self) -> bool:
        """Counters are known whether or not the last poll worked."""
        return True

    @property
    def native_value(self) -> int | None:
        """The counter's current value."""
        value = self._source.link_metrics().get(self._metric)
        return value if isinstance(value, int) else None

    def _fingerprint(self) -> tuple[Any, ...]:
        return (self.native_value,)

"""Shared fixtures: real Home Assistant with Sunstream loaded from this tree."""

from __future__ import annotations

# Import ours before pytest-homeassistant-custom-component puts its own
# ``custom_components`` package first on the path.
import custom_components  # noqa: F401  # isort: skip

import asyncio
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import PropertyMock, patch
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.sunstream.const import (
    CONF_BATTERY_KWH,
    CONF_CO2_FACTOR,
    CONF_PV_PEAK_KW,
    CONF_SOURCE,
    CONF_TARIFF,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)

TIME_ZONE = "America/Sao_Paulo"
LOCATION = (-23.55, -46.63)
# A sunny-ish late-morning moment in São Paulo, local time.
NOON_ISH = datetime(2026, 11, 23, 11, 0, 0, tzinfo=ZoneInfo(TIME_ZONE))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom integrations from this tree in every test."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots that understand Home Assistant's objects."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
async def located_hass(hass: HomeAssistant) -> HomeAssistant:
    """Home Assistant at a fixed place, time zone and currency."""
    await hass.config.async_update(
        latitude=LOCATION[0],
        longitude=LOCATION[1],
        time_zone=TIME_ZONE,
        currency="BRL",
    )
    return hass


def entry_data(**overrides: Any) -> dict[str, Any]:
    """Entry data of a simulated system."""
    return {
        CONF_SOURCE: "simulated",
        CONF_PV_PEAK_KW: 5.5,
        CONF_BATTERY_KWH: 10.0,
    } | overrides


def entry_options(**overrides: Any) -> dict[str, Any]:
    """Default options of a system."""
    return {
        CONF_UPDATE_INTERVAL: 5,
        CONF_TARIFF: 0.85,
        CONF_CO2_FACTOR: 0.5,
    } | overrides


@pytest.fixture
def config_entry() -> MockConfigEntry:
    """A simulated system's config entry (not yet added)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Rooftop",
        unique_id="sim-rooftop",
        data=entry_data(),
        options=entry_options(),
        entry_id="01SUNSTREAMROOFTOP000000000",
    )


@pytest.fixture
def frozen(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """The clock frozen at :data:`NOON_ISH`."""
    freezer.move_to(NOON_ISH)
    return freezer


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up ``entry``, waiting for everything to settle."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Register every entity enabled, so snapshots cover disabled ones too."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


async def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float, step: float = 5
) -> None:
    """Move the frozen clock forward, letting every timer due fire on the way."""
    remaining = seconds
    while remaining > 0:
        tick = min(step, remaining)
        freezer.tick(timedelta(seconds=tick))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        remaining -= tick


def float_state(hass: HomeAssistant, entity_id: str) -> float:
    """The numeric state of ``entity_id``, which must exist."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


async def set_number(hass: HomeAssistant, entity_id: str, value: float) -> None:
    """``number.set_value``, as the UI calls it."""
    await hass.services.async_call(
        "number", "set_value", {"entity_id": entity_id, "value": value}, blocking=True
    )


async def set_time(hass: HomeAssistant, entity_id: str, value: str) -> None:
    """``time.set_value`` with ``HH:MM:SS``."""
    await hass.services.async_call(
        "time", "set_value", {"entity_id": entity_id, "time": value}, blocking=True
    )


async def set_switch(hass: HomeAssistant, entity_id: str, on: bool) -> None:
    """``switch.turn_on`` or ``switch.turn_off``."""
    await hass.services.async_call(
        "switch", "turn_on" if on else "turn_off", {"entity_id": entity_id}, blocking=True
    )


async def select_option(hass: HomeAssistant, entity_id: str, option: str) -> None:
    """``select.select_option``."""
    await hass.services.async_call(
        "select", "select_option", {"entity_id": entity_id, "option": option}, blocking=True
    )


def winet_entry(ws_port: int, serial: str) -> MockConfigEntry:
    """The config entry of the fake WiNet gateway listening on ``ws_port`` (not yet added)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="WiNet-S",
        unique_id=serial,
        entry_id="01SUNSTREAMWINET000000000000",
        data={
            "source": "winet",
            "host": f"127.0.0.1:{ws_port}",
            "username": "admin",
            "password": "pw8888",
            "tls_mode": "bypass",
        },
        options=entry_options(update_interval=10),
    )


async def config_message(hass: HomeAssistant, kind: str, key: str) -> str:
    """The English text a config flow shows for an ``error`` or ``abort`` key."""
    translations = await async_get_translations(hass, "en", "config", {DOMAIN})
    return translations[f"component.{DOMAIN}.config.{kind}.{key}"]


async def start_flow(hass: HomeAssistant, step_id: str) -> str:
    """A user flow at the form of ``step_id`` (a kind of system); its flow id."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step_id}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step_id
    return str(result["flow_id"])


async def add_system(hass: HomeAssistant, step_id: str, form: dict[str, Any]) -> MockConfigEntry:
    """Add a system through the flow and see it loaded."""
    result = await hass.config_entries.flow.async_configure(await start_flow(hass, step_id), form)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    if entry.state is not ConfigEntryState.LOADED:
        # A one-client device may still count the flow's connection for a moment.
        await asyncio.sleep(0.2)
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry  # type: ignore[return-value]


def battery_device(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry:
    """The battery device behind a system's device."""
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    system = next(d for d in devices if d.via_device_id is None)
    return next(d for d in devices if d.via_device_id == system.id)


def sensor_state(hass: HomeAssistant, suffix: str) -> str:
    """The state of the one sensor whose entity id ends with ``suffix``."""
    states = [s for s in hass.states.async_all("sensor") if s.entity_id.endswith(suffix)]
    assert len(states) == 1, (suffix, [s.entity_id for s in hass.states.async_all("sensor")])
    return states[0].state


async def enable_sensors(hass: HomeAssistant, entry: MockConfigEntry, *keys: str) -> None:
    """Enable sensors created disabled (unique ids without the system's prefix), then reload."""
    registry = er.async_get(hass)
    for key in keys:
        uid = f"{entry.unique_id}_{key}"
        entity_id = registry.async_get_entity_id("sensor", DOMAIN, uid)
        assert entity_id is not None, uid
        entity = registry.async_get(entity_id)
        assert entity is not None
        assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION, uid
        registry.async_update_entity(entity_id, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


def assert_battery_current_and_ac_output(hass: HomeAssistant, pv_power: str) -> None:
    """As the Modbus fakes model them: battery current = battery power ÷ voltage (same sign),
    inverter power = PV (the sensor ending ``pv_power``) + battery power.

    PV and the inverter's output are read in other blocks, a moment apart: within 5 W.
    """
    power = float(sensor_state(hass, "_battery_power"))
    volts = float(sensor_state(hass, "_battery_voltage"))
    assert power != 0
    assert float(sensor_state(hass, "_battery_current")) == pytest.approx(power / volts, abs=0.06)
    pv = float(sensor_state(hass, pv_power))
    assert float(sensor_state(hass, "_inverter_power")) == pytest.approx(pv + power, abs=5)


def energy_grid_source(energy_from: str, energy_to: str, rate: str) -> dict[str, Any]:
    """The Energy dashboard's grid source on these sensors, without prices."""
    return {
        "type": "grid",
        "stat_energy_from": energy_from,
        "stat_energy_to": energy_to,
        "stat_cost": None,
        "entity_energy_price": None,
        "number_energy_price": None,
        "stat_compensation": None,
        "entity_energy_price_export": None,
        "number_energy_price_export": None,
        "stat_rate": rate,
        "cost_adjustment_day": 0,
    }

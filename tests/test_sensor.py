"""Sensors: snapshot of every entity, and the Energy dashboard's verdict."""

from __future__ import annotations

from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from .conftest import entry_data, setup_entry


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.BINARY_SENSOR])
async def test_entities(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    with patch("custom_components.sunstream.PLATFORMS", [platform]):
        await setup_entry(located_hass, config_entry)
    await snapshot_platform(located_hass, entity_registry, snapshot, config_entry.entry_id)


async def test_no_battery_no_battery_entities(
    located_hass: HomeAssistant, frozen: FrozenDateTimeFactory, entity_registry: er.EntityRegistry
) -> None:
    entry = MockConfigEntry(
        domain="sunstream", title="Roof", unique_id="sim-roof", data=entry_data(battery_kwh=0)
    )
    await setup_entry(located_hass, entry)
    keys = {
        e.unique_id.removeprefix("sim-roof_")
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert "pv_power" in keys
    assert not {k for k in keys if k.startswith("battery")}


async def test_disabled_by_default(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(located_hass, config_entry)
    disabled = {
        e.unique_id.removeprefix("sim-rooftop_")
        for e in er.async_entries_for_config_entry(entity_registry, config_entry.entry_id)
        if e.disabled_by is not None
    }
    assert disabled == {
        "pv1_power",
        "pv2_power",
        "pv1_voltage",
        "pv2_voltage",
        "grid_voltage",
        "grid_frequency",
    }

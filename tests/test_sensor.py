"""Sensors: snapshot of every entity, and the Energy dashboard's verdict."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.sunstream.entity import SunstreamEntity

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


async def test_disabled_entities_not_offered_again(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A poll builds no entity the registry disables: the platform declined it once.

    Home Assistant calls an entity's removal callbacks when it declines to
    add it; taken for a removal, the six disabled sensors were built and
    offered again at every poll, most of a refresh's cost.
    """
    await setup_entry(located_hass, config_entry)
    built: list[str] = []
    original = SunstreamEntity.__init__

    def counting(self: SunstreamEntity, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        built.append(str(self.unique_id))

    monkeypatch.setattr(SunstreamEntity, "__init__", counting)
    coordinator = config_entry.runtime_data.coordinator
    for _ in range(3):
        frozen.tick(5)
        await coordinator.async_refresh()
        await located_hass.async_block_till_done()
    assert built == []
    assert located_hass.states.get("sensor.rooftop_pv_power") is not None
    assert located_hass.states.get("sensor.rooftop_grid_voltage") is None

"""Set-up, unload and removal of a system."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunstream.const import DOMAIN

from .conftest import setup_entry


async def test_setup_and_unload(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    states = hass.states.async_all()
    assert any(s.entity_id.startswith("sensor.rooftop_pv_power") for s in states), [
        s.entity_id for s in states
    ]
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.services.has_service(DOMAIN, "charge")

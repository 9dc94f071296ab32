"""The Energy dashboard accepts Sunstream's sensors as they are."""

from __future__ import annotations

from datetime import UTC

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.energy import data as energy_data, validate as energy_validate
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from .conftest import NOON_ISH, advance, energy_grid_source, setup_entry


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: object, enable_custom_integrations: None
) -> None:
    """Start the recorder before Home Assistant, as the Energy checks need it."""


LIFETIME = {
    "grid_in": "sensor.rooftop_grid_import_energy",
    "grid_out": "sensor.rooftop_grid_export_energy",
    "pv": "sensor.rooftop_pv_energy_total",
    "battery_out": "sensor.rooftop_battery_discharge_energy",
    "battery_in": "sensor.rooftop_battery_charge_energy",
}
# What optimizers read (docs/use-cases.md): restarting at midnight, still valid energy.
TODAY = {
    "grid_in": "sensor.rooftop_grid_import_energy_today",
    "grid_out": "sensor.rooftop_grid_export_energy_today",
    "pv": "sensor.rooftop_pv_energy_today",
    "battery_out": "sensor.rooftop_battery_discharge_energy_today",
    "battery_in": "sensor.rooftop_battery_charge_energy_today",
}


@pytest.mark.parametrize("energy", [LIFETIME, TODAY], ids=["lifetime", "today"])
async def test_energy_dashboard_accepts_sensors(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    energy: dict[str, str],
) -> None:
    """Home Assistant's own Energy validation finds nothing to complain about."""
    hass = located_hass
    assert await async_setup_component(hass, "energy", {})
    await setup_entry(hass, config_entry)
    manager = await energy_data.async_get_manager(hass)
    await manager.async_update(
        {
            "energy_sources": [
                energy_grid_source(
                    energy["grid_in"], energy["grid_out"], "sensor.rooftop_grid_power"
                ),
                {
                    "type": "solar",
                    "stat_energy_from": energy["pv"],
                    "stat_rate": "sensor.rooftop_pv_power",
                    "config_entry_solar_forecast": None,
                },
                {
                    "type": "battery",
                    "stat_energy_from": energy["battery_out"],
                    "stat_energy_to": energy["battery_in"],
                    "stat_rate": "sensor.rooftop_battery_power",
                    "stat_soc": "sensor.rooftop_battery_state_of_charge",
                    "capacity": 10.0,
                },
            ],
            "device_consumption": [],
        }
    )
    await hass.async_block_till_done()
    # Five minutes of readings, then the recorder compiles their statistics.
    await advance(hass, frozen, 300)
    await async_wait_recording_done(hass)
    do_adhoc_statistics(hass, start=NOON_ISH.astimezone(UTC))
    await async_wait_recording_done(hass)
    for entity_id in (
        *energy.values(),
        "sensor.rooftop_grid_power",
        "sensor.rooftop_pv_power",
        "sensor.rooftop_battery_power",
        "sensor.rooftop_battery_state_of_charge",
    ):
        assert hass.states.get(entity_id) is not None, entity_id

    result = (await energy_validate.async_validate(hass)).as_dict()

    assert result["energy_sources"] == [[], [], []]
    assert result["device_consumption"] == []

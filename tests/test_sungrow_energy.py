"""A Sungrow string (SG) inverter's sensors in the Energy dashboard, against the fake."""

from __future__ import annotations

from homeassistant.components.energy import data as energy_data, validate as energy_validate
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from sunstream_fakes.sungrow_fake import FakeSungrow

from .conftest import energy_grid_source
from .test_sungrow_modbus import _entity, _entry, _refresh

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: object, enable_custom_integrations: None
) -> None:
    """Start the recorder before Home Assistant, as the Energy checks need it."""


async def test_string_inverter_energy_dashboard_is_valid(
    hass: HomeAssistant,
) -> None:
    """An SG with meter counters: grid and solar in the Energy dashboard, nothing to fix."""
    assert await async_setup_component(hass, "energy", {})
    async with FakeSungrow(device_type_code=0x2430) as inverter:
        entry = await _entry(hass, inverter)
        grid_in = _entity(hass, "sensor", "_grid_import_energy")
        grid_out = _entity(hass, "sensor", "_grid_export_energy")
        manager = await energy_data.async_get_manager(hass)
        await manager.async_update(
            {
                "energy_sources": [
                    energy_grid_source(grid_in, grid_out, _entity(hass, "sensor", "_grid_power")),
                    {
                        "type": "solar",
                        "stat_energy_from": _entity(hass, "sensor", "_pv_energy_total"),
                        "stat_rate": _entity(hass, "sensor", "_pv_power"),
                        "config_entry_solar_forecast": None,
                    },
                ],
                "device_consumption": [],
            }
        )
        await _refresh(hass, entry)
        await async_wait_recording_done(hass)
        now = dt_util.utcnow()
        do_adhoc_statistics(
            hass, start=now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
        )
        await async_wait_recording_done(hass)
        result = (await energy_validate.async_validate(hass)).as_dict()
        assert result["energy_sources"] == [[], []]
        await hass.config_entries.async_unload(entry.entry_id)

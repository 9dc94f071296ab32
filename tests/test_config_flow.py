"""Config, options and reconfigure flows: every step, error and abort."""

from __future__ import annotations

from pathlib import Path
import re
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunstream.const import (
    CONF_BATTERY_KWH,
    CONF_CO2_FACTOR,
    CONF_PV_PEAK_KW,
    CONF_TARIFF,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)

from .conftest import config_message, entry_options, setup_entry

GOOD_INPUT: dict[str, Any] = {
    CONF_NAME: "  Rooftop  ",
    CONF_PV_PEAK_KW: 6.2,
    CONF_BATTERY_KWH: 13.5,
    CONF_UPDATE_INTERVAL: 10,
    CONF_TARIFF: 0.92,
    CONF_CO2_FACTOR: 0.4,
}


async def _start_simulated(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["simulated", "winet", "alphaess", "sungrow_modbus"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "simulated"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "simulated"
    return result


async def test_simulated_creates_entry(hass: HomeAssistant) -> None:
    result = await _start_simulated(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], GOOD_INPUT)
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Rooftop"
    assert result["data"] == {"source": "simulated", CONF_PV_PEAK_KW: 6.2, CONF_BATTERY_KWH: 13.5}
    assert result["options"] == {CONF_UPDATE_INTERVAL: 10, CONF_TARIFF: 0.92, CONF_CO2_FACTOR: 0.4}
    entry = result["result"]
    assert entry.unique_id == "sim-rooftop"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (CONF_NAME, "   ", "name_required"),
        (CONF_PV_PEAK_KW, 0, "pv_peak_kw_out_of_range"),
        (CONF_PV_PEAK_KW, 1001, "pv_peak_kw_out_of_range"),
        (CONF_BATTERY_KWH, -1, "battery_kwh_out_of_range"),
        (CONF_UPDATE_INTERVAL, 0, "update_interval_out_of_range"),
        (CONF_UPDATE_INTERVAL, 301, "update_interval_out_of_range"),
        (CONF_UPDATE_INTERVAL, 2.5, "update_interval_not_whole"),
        (CONF_TARIFF, -0.1, "tariff_out_of_range"),
        (CONF_CO2_FACTOR, 6, "co2_factor_out_of_range"),
    ],
)
async def test_simulated_rejects_then_recovers(
    hass: HomeAssistant, field: str, value: Any, error: str
) -> None:
    result = await _start_simulated(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], GOOD_INPUT | {field: value}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    # The form keeps what the user typed, and the placeholders name the range.
    assert result["description_placeholders"]["pv_peak_kw_max"] == "1000"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], GOOD_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_simulated_same_name_aborts(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id="sim-rooftop").add_to_hass(hass)
    result = await _start_simulated(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], GOOD_INPUT | {CONF_NAME: "ROOFTOP"}
    )
    assert result["type"] is FlowResultType.ABORT
    # Its own reason: a simulated system is known by its name (hardware by its serial).
    assert result["reason"] == "name_in_use"
    assert "name" in await config_message(hass, "abort", "name_in_use")
    assert "name" not in await config_message(hass, "abort", "already_configured")


async def test_reconfigure(located_hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    hass = located_hass
    await setup_entry(hass, config_entry)
    result = await config_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PV_PEAK_KW: 0, CONF_BATTERY_KWH: 5}
    )
    assert result["errors"] == {CONF_PV_PEAK_KW: "pv_peak_kw_out_of_range"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PV_PEAK_KW: 8.0, CONF_BATTERY_KWH: 5}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.data[CONF_PV_PEAK_KW] == 8.0
    assert config_entry.data[CONF_BATTERY_KWH] == 5.0
    assert config_entry.unique_id == "sim-rooftop"


async def test_options(located_hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    hass = located_hass
    await setup_entry(hass, config_entry)
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], entry_options(**{CONF_TARIFF: 101})
    )
    assert result["errors"] == {CONF_TARIFF: "tariff_out_of_range"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], entry_options(**{CONF_UPDATE_INTERVAL: 30, CONF_TARIFF: 1.1})
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert config_entry.options == entry_options(**{CONF_UPDATE_INTERVAL: 30, CONF_TARIFF: 1.1})
    # The reload applied the new interval.
    assert config_entry.runtime_data.coordinator.update_interval is not None
    assert config_entry.runtime_data.coordinator.update_interval.total_seconds() == 30


DOCUMENTED_IDS = re.compile(r"“([^”]+)” → `(sim-[^`]+)`")


@pytest.mark.parametrize(
    "doc", ["README.md", "addon/sunstream/DOCS.md", "docs/events-and-triggers.md"]
)
async def test_documented_system_ids_are_what_adding_the_system_makes(
    hass: HomeAssistant, doc: str
) -> None:
    """Where a newcomer looks up a simulated system's ``system_id``, the examples are exact."""
    examples = DOCUMENTED_IDS.findall((Path(__file__).parent.parent / doc).read_text())
    assert len(examples) >= 2, f"{doc} shows no name → system_id examples"
    for name, system_id in examples:
        result = await _start_simulated(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**GOOD_INPUT, CONF_NAME: name}
        )
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.CREATE_ENTRY, (name, result)
        assert result["result"].unique_id == system_id, name

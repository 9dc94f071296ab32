"""Lifetime totals belong to their system: a removed system's totals never reach a new one.

Home Assistant keeps the last state of a removed entity, and a system added
again under the same name (or a new gateway of the same model) gets the same
entity ids. Each case below deletes a config entry through Home Assistant's
config entries API and adds a system again, then checks that its totals come
from its own counters only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import copy
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from custom_components.sunstream.const import DOMAIN
from sunstream_fakes.winet_fake import FakeWinet, load_fixture

from .conftest import advance, float_state, setup_entry
from .test_config_flow import GOOD_INPUT  # "Rooftop", as a user types it

PV_TOTAL = "sensor.rooftop_pv_energy_total"
GATEWAY_PV_TOTAL = "sensor.winet_s_pv_energy_total"
WENT_BACKWARDS = "went backwards"


async def _add_through_the_ui(hass: HomeAssistant, step: str, user_input: dict[str, Any]) -> str:
    """Add a system as a user does; return its entry id."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    return str(result["result"].entry_id)


async def _delete(hass: HomeAssistant, entry_id: str) -> None:
    await hass.config_entries.async_remove(entry_id)
    await hass.async_block_till_done()


async def test_simulated_system_added_again_starts_from_zero(
    located_hass: HomeAssistant, frozen: FrozenDateTimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    hass = located_hass
    first = await _add_through_the_ui(hass, "simulated", GOOD_INPUT)
    await advance(hass, frozen, 600)
    produced = float_state(hass, PV_TOTAL)
    assert produced > 0.1
    await _delete(hass, first)

    await _add_through_the_ui(hass, "simulated", GOOD_INPUT)
    assert float_state(hass, PV_TOTAL) == 0.0
    await advance(hass, frozen, 30)
    assert 0 < float_state(hass, PV_TOTAL) < produced
    assert WENT_BACKWARDS not in caplog.text


@pytest.fixture
async def gateways(socket_enabled: None) -> AsyncIterator[tuple[FakeWinet, FakeWinet]]:
    """Two gateways of the same model (same entity ids); the second has a lower counter."""
    second = copy.deepcopy(load_fixture("sh10rt"))
    second["about"][0]["data_value"] = "B2302100001"
    for point in second["data"]["1"]["real"]:
        if point["data_name"] == "I18N_COMMON_PV_TOTAL_ENERGY_GENERATION":
            point["data_value"] = "1200.5"
    async with FakeWinet("sh10rt") as one, FakeWinet(second) as two:
        yield one, two


def _gateway_form(gateway: FakeWinet) -> dict[str, Any]:
    return {
        "host": f"127.0.0.1:{gateway.ports.ws}",
        "username": "admin",
        "password": "pw8888",
        "security": {"tls_mode": "bypass"},
    }


async def test_new_gateway_with_a_removed_gateways_ids_shows_its_own_counter(
    hass: HomeAssistant,
    gateways: tuple[FakeWinet, FakeWinet],
    caplog: pytest.LogCaptureFixture,
) -> None:
    old, new = gateways
    first = await _add_through_the_ui(hass, "winet", _gateway_form(old))
    assert float_state(hass, GATEWAY_PV_TOTAL) == 15872.4
    await _delete(hass, first)

    second = await _add_through_the_ui(hass, "winet", _gateway_form(new))
    entry = hass.config_entries.async_get_entry(second)
    assert entry is not None
    assert entry.unique_id == "B2302100001"
    assert float_state(hass, GATEWAY_PV_TOTAL) == 1200.5  # its own counter, same entity id
    assert WENT_BACKWARDS not in caplog.text


async def test_last_state_of_an_entity_id_is_not_a_systems_total(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> None:
    """A state Home Assistant kept for the entity id (from whatever had it) is ignored."""
    hass = located_hass
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(PV_TOTAL, "1234.5"),
                {"native_value": 1234.5, "native_unit_of_measurement": "kWh"},
            )
        ],
    )
    await setup_entry(hass, config_entry)
    await advance(hass, frozen, 60)
    assert float_state(hass, PV_TOTAL) < 1

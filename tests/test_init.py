"""Set-up, unload, removal and device housekeeping."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.sunstream.const import CONF_BATTERY_KWH, DOMAIN

from .conftest import advance, setup_entry

STORE_KEY = f"{DOMAIN}.01SUNSTREAMROOFTOP000000000"


async def test_unload_leaves_nothing_behind(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    hass_storage: dict[str, dict[str, object]],
) -> None:
    hass = located_hass
    # A first cycle lets Home Assistant create its own lazy singletons
    # (restore-state, registries), which are not ours to clean up.
    await setup_entry(hass, config_entry)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    listeners_before = hass.bus.async_listeners()

    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, frozen, 30)
    coordinator = config_entry.runtime_data.coordinator
    assert hass.states.async_entity_ids("sensor")

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()

    assert config_entry.state is ConfigEntryState.NOT_LOADED
    for state in hass.states.async_all():
        assert state.state == STATE_UNAVAILABLE, state
    assert not coordinator._listeners
    assert coordinator._unsub_refresh is None
    # No listener of ours is left (Home Assistant's own delayed saves may
    # have completed meanwhile, so counts can only have gone down).
    for event_type, count in hass.bus.async_listeners().items():
        assert count <= listeners_before.get(event_type, 0), event_type
    # The counters were saved for the next start.
    saved = hass_storage[STORE_KEY]["data"]
    assert isinstance(saved, dict)
    assert saved["source"]["meter"]["counters"]["pv"]["total"] > 0
    # Polling really stopped: time passes, nothing is written.
    await advance(hass, frozen, 60)
    assert all(s.state == STATE_UNAVAILABLE for s in hass.states.async_all())


async def test_remove_entry_forgets_state(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    hass_storage: dict[str, dict[str, object]],
) -> None:
    hass = located_hass
    await setup_entry(hass, config_entry)
    await advance(hass, frozen, 60)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    assert STORE_KEY in hass_storage
    await hass.config_entries.async_remove(config_entry.entry_id)
    await hass.async_block_till_done()
    assert STORE_KEY not in hass_storage
    assert not dr.async_entries_for_config_entry(dr.async_get(hass), config_entry.entry_id)


async def test_battery_removed_drops_its_device(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    registry = dr.async_get(hass)
    await setup_entry(hass, config_entry)
    names = {d.name for d in dr.async_entries_for_config_entry(registry, config_entry.entry_id)}
    assert names == {"Rooftop", "Rooftop battery"}

    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_BATTERY_KWH: 0.0}
    )
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()

    devices = dr.async_entries_for_config_entry(registry, config_entry.entry_id)
    assert [d.name for d in devices] == ["Rooftop"]
    entity_ids = {
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), config_entry.entry_id)
    }
    assert "sensor.rooftop_pv_power" in entity_ids
    assert not {e for e in entity_ids if e.startswith("sensor.rooftop_battery")}


async def test_manual_device_removal_only_for_stale(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
) -> None:
    hass = located_hass
    assert await async_setup_component(hass, "config", {})
    await setup_entry(hass, config_entry)
    registry = dr.async_get(hass)
    system = registry.async_get_device_by_identifier(
        (DOMAIN, "sim-rooftop"), config_entry_id=config_entry.entry_id
    )
    assert system is not None
    leftover = registry.async_get_or_create(
        config_entry_id=config_entry.entry_id, identifiers={(DOMAIN, "sim-rooftop_inverter2")}
    )
    client = await hass_ws_client(hass)

    async def remove(device_id: str) -> bool:
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": config_entry.entry_id,
                "device_id": device_id,
            }
        )
        return bool((await client.receive_json())["success"])

    assert not await remove(system.id)
    assert await remove(leftover.id)
    assert registry.async_get(leftover.id) is None


async def test_diagnostics(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    hass_client: object,
    snapshot: SnapshotAssertion,
) -> None:
    from pytest_homeassistant_custom_component.components.diagnostics import (
        get_diagnostics_for_config_entry,
    )

    await setup_entry(located_hass, config_entry)
    await advance(located_hass, frozen, 10)
    diagnostics = await get_diagnostics_for_config_entry(located_hass, hass_client, config_entry)
    assert diagnostics == snapshot


async def test_unknown_source_fails_for_good(located_hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, title="Future", unique_id="x", data={"source": "flux-capacitor"}
    )
    entry.add_to_hass(located_hass)
    assert not await located_hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason == (
        "This version of Sunstream cannot talk to “flux-capacitor” systems. "
        "Update Sunstream or delete this entry"
    )


async def test_stale_device_removable_while_unloaded(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
) -> None:
    hass = located_hass
    assert await async_setup_component(hass, "config", {})
    await setup_entry(hass, config_entry)
    registry = dr.async_get(hass)
    leftover = registry.async_get_or_create(
        config_entry_id=config_entry.entry_id, identifiers={(DOMAIN, "sim-rooftop_old")}
    )
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": config_entry.entry_id,
            "device_id": leftover.id,
        }
    )
    assert (await client.receive_json())["success"]
    assert registry.async_get(leftover.id) is None

"""Connectivity: binary sensor, events and device triggers on transitions only."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_get_device_automations,
)

from custom_components.sunstream.const import DOMAIN, EVENT_CONNECTIVITY

from .conftest import advance, setup_entry

CONNECTION = "binary_sensor.rooftop_connection"
PV_POWER = "sensor.rooftop_pv_power"
ENTRY_ID = "01SUNSTREAMROOFTOP000000000"


def _device_id(hass: HomeAssistant, identifier: str) -> str:
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, identifier), config_entry_id=ENTRY_ID
    )
    assert device is not None
    return device.id


async def _outage(hass: HomeAssistant, device_id: str, seconds: int) -> None:
    await hass.services.async_call(
        DOMAIN,
        "simulate_outage",
        {"device_id": device_id, "duration": {"seconds": seconds}},
        blocking=True,
    )


@pytest.fixture
async def system(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> str:
    await setup_entry(located_hass, config_entry)
    return _device_id(located_hass, "sim-rooftop")


async def test_outage_transitions(
    located_hass: HomeAssistant, system: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    assert hass.states.get(CONNECTION).state == STATE_ON

    await _outage(hass, system, 60)
    assert hass.states.get(CONNECTION).state == STATE_OFF
    assert hass.states.get(CONNECTION).attributes["reason"] == "outage"
    assert hass.states.get(PV_POWER).state == STATE_UNAVAILABLE
    # Polls during the outage fail again, but nothing new is announced.
    await advance(hass, frozen, 55)
    assert len(events) == 1

    await advance(hass, frozen, 10)
    assert hass.states.get(CONNECTION).state == STATE_ON
    assert hass.states.get(PV_POWER).state != STATE_UNAVAILABLE
    await advance(hass, frozen, 30)

    assert [e.data for e in events] == [
        {
            "device_id": system,
            "config_entry_id": "01SUNSTREAMROOFTOP000000000",
            "system_id": "sim-rooftop",
            "source": "simulated",
            "connected": False,
            "reason": "outage",
        },
        {
            "device_id": system,
            "config_entry_id": "01SUNSTREAMROOFTOP000000000",
            "system_id": "sim-rooftop",
            "source": "simulated",
            "connected": True,
            "reason": "connected",
        },
    ]


async def test_no_event_at_startup(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> None:
    events = async_capture_events(located_hass, EVENT_CONNECTIVITY)
    await setup_entry(located_hass, config_entry)
    await advance(located_hass, frozen, 30)
    assert events == []


async def test_device_triggers_listed(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, system: str
) -> None:
    triggers = await async_get_device_automations(
        located_hass, DeviceAutomationType.TRIGGER, system
    )
    ours = sorted(t["type"] for t in triggers if t["domain"] == DOMAIN)
    assert ours == ["connected", "disconnected"]

    battery = _device_id(located_hass, "sim-rooftop_battery")
    triggers = await async_get_device_automations(
        located_hass, DeviceAutomationType.TRIGGER, battery
    )
    assert [t for t in triggers if t["domain"] == DOMAIN] == []


async def test_device_triggers_fire_on_transitions(
    located_hass: HomeAssistant,
    system: str,
    frozen: FrozenDateTimeFactory,
    service_calls: list[ServiceCall],
) -> None:
    hass = located_hass
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: [
                {
                    "trigger": {
                        "platform": "device",
                        "domain": DOMAIN,
                        "device_id": system,
                        "type": kind,
                    },
                    "action": {
                        "service": "test.automation",
                        "data": {"kind": kind},
                    },
                }
                for kind in ("disconnected", "connected")
            ]
        },
    )
    await advance(hass, frozen, 20)
    assert service_calls == []

    await _outage(hass, system, 30)
    await advance(hass, frozen, 20)
    assert [c.data["kind"] for c in service_calls if c.domain == "test"] == ["disconnected"]

    await advance(hass, frozen, 60)
    assert [c.data["kind"] for c in service_calls if c.domain == "test"] == [
        "disconnected",
        "connected",
    ]


async def test_reload_during_outage_keeps_it_and_announces_recovery(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    system: str,
    frozen: FrozenDateTimeFactory,
) -> None:
    """The outage and the offline state survive a reload; recovery is announced."""
    hass = located_hass
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    await _outage(hass, system, 60)
    # Still inside the outage: the reloaded entry cannot start, and retries.
    assert not await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    await advance(hass, frozen, 120, step=10)
    assert config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(CONNECTION).state == STATE_ON
    assert [e.data["connected"] for e in events] == [False, True]

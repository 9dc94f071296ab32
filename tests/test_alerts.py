"""Alerts in Home Assistant: event entity, bus events, acknowledgement."""

from __future__ import annotations

from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.sunstream.const import DOMAIN
from custom_components.sunstream.diagnostics import async_get_config_entry_diagnostics
from custom_components.sunstream.system_alerts import EVENT_ALERT, alert_settings

from .conftest import advance, setup_entry
from .test_connectivity import _outage

ALERT = "event.rooftop_alert"


@pytest.fixture
async def system(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> str:
    await setup_entry(located_hass, config_entry)
    device = dr.async_get(located_hass).async_get_device_by_identifier(
        (DOMAIN, "sim-rooftop"), config_entry_id=config_entry.entry_id
    )
    assert device is not None
    return device.id


async def test_short_outage_raises_nothing(
    located_hass: HomeAssistant, system: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    events = async_capture_events(hass, EVENT_ALERT)
    await _outage(hass, system, 60)
    await advance(hass, frozen, 180)
    assert events == []
    assert hass.states.get(ALERT).state == "unknown"


async def test_communication_loss_raised_acknowledged_cleared(
    located_hass: HomeAssistant,
    system: str,
    frozen: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
) -> None:
    hass = located_hass
    events = async_capture_events(hass, EVENT_ALERT)
    await _outage(hass, system, 300)
    await advance(hass, frozen, 150)

    assert [e.data["state"] for e in events] == ["raised"]
    raised = events[0].data
    assert raised["rule"] == "communication_loss"
    assert raised["severity"] == "critical"
    assert raised["alert_id"] == "sim-rooftop:communication_loss"
    assert raised["device_id"] == system
    state = hass.states.get(ALERT)
    assert state.attributes["event_type"] == "raised"
    assert state.attributes["rule"] == "communication_loss"
    diagnostics = await async_get_config_entry_diagnostics(hass, config_entry)
    assert [a["rule"] for a in diagnostics["alerts"]] == ["communication_loss"]

    await hass.services.async_call(
        DOMAIN,
        "acknowledge_alert",
        {"device_id": system, "rule": "communication_loss"},
        blocking=True,
    )
    assert [e.data["state"] for e in events] == ["raised", "acknowledged"]
    acknowledged = events[1].data
    assert acknowledged["acknowledged"] is True
    assert acknowledged["threshold"] == raised["threshold"]
    assert hass.states.get(ALERT).attributes["event_type"] == "acknowledged"
    assert [a["rule"] for a in hass.states.get(ALERT).attributes["active"]] == [
        "communication_loss"
    ]
    # Acknowledging twice is harmless and announces nothing new.
    await hass.services.async_call(
        DOMAIN, "acknowledge_alert", {"alert_id": "sim-rooftop:communication_loss"}, blocking=True
    )
    assert len(events) == 2

    await advance(hass, frozen, 200)
    assert [e.data["state"] for e in events] == ["raised", "acknowledged", "cleared"]
    # The clear says the alert had been acknowledged; nothing is active any more.
    assert events[2].data["acknowledged"] is True
    assert hass.states.get(ALERT).attributes["active"] == []
    assert hass.states.get(ALERT).attributes["event_type"] == "cleared"


async def test_alert_stays_available_while_offline(
    located_hass: HomeAssistant, system: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    await _outage(hass, system, 300)
    await advance(hass, frozen, 30)
    assert hass.states.get("sensor.rooftop_pv_power").state == "unavailable"
    assert hass.states.get(ALERT).state != "unavailable"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"rule": "battery_soc_low"}, "alert_not_active"),
        ({"alert_id": "sim-rooftop:battery_soc_low"}, "alert_not_active"),
        ({"alert_id": "nobody:battery_soc_low"}, "system_not_found"),
    ],
)
async def test_acknowledge_refused_with_translated_error(
    located_hass: HomeAssistant, system: str, data: dict[str, str], key: str
) -> None:
    if "alert_id" not in data:
        data = {"device_id": system, **data}
    with pytest.raises(ServiceValidationError) as err:
        await located_hass.services.async_call(DOMAIN, "acknowledge_alert", data, blocking=True)
    assert err.value.translation_key == key


def test_alert_settings_defaults_and_overrides() -> None:
    assert alert_settings({})["soc_low"] == 10.0
    assert alert_settings({"alerts": {"soc_low": 25}})["soc_low"] == 25.0


async def test_options_set_thresholds_and_refuse_out_of_range(
    located_hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    hass = located_hass
    await setup_entry(hass, config_entry)
    base = dict(config_entry.options)
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    thresholds = {
        "soc_low": 20,
        "inverter_temperature_high": 70,
        "nominal_voltage": 127,
        "nominal_frequency": 60,
        "thd_high": 8,
        "communication_loss_minutes": 5,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], base | {"alerts": thresholds | {"nominal_frequency": 70}}
    )
    assert result["errors"] == {"base": "alert_threshold_out_of_range"}
    assert result["description_placeholders"]["alert_field"] == "nominal_frequency"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], base | {"alerts": thresholds}
    )
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    assert alert_settings(config_entry.options)["nominal_voltage"] == 127.0
    rules = {state.rule.key: state.rule for state in config_entry.runtime_data.alerts.engine.states}
    assert rules["grid_voltage"].normal.low == pytest.approx(127 * 0.9)
    assert rules["grid_frequency"].normal.high == pytest.approx(60.6)


async def test_generation_low_follows_the_houses_pv_peak(
    located_hass: HomeAssistant, system: str, frozen: FrozenDateTimeFactory
) -> None:
    """Heavy overcast over a 5.5 kWp roof: far below a clear sky, raised after 30 minutes."""
    hass = located_hass
    events = async_capture_events(hass, EVENT_ALERT)
    with patch(
        "custom_components.sunstream.pysunstream.simulator.curves.cloud_transmittance",
        return_value=0.3,
    ):
        await advance(hass, frozen, 35 * 60, step=30)
    raised = [e.data for e in events if e.data["rule"] == "generation_low"]
    assert [a["state"] for a in raised] == ["raised"]
    assert 15 < raised[0]["value"] < 40

"""The microgrid profile in Home Assistant: parts, switch, faults, alerts."""

from __future__ import annotations

from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.sunstream.const import DOMAIN, EVENT_CONNECTIVITY
from custom_components.sunstream.pysunstream.model import DeviceReading
from custom_components.sunstream.pysunstream.simulator.microgrid import MicrogridSystem
from custom_components.sunstream.system_alerts import EVENT_ALERT

from .conftest import advance, entry_data, entry_options, setup_entry

ENTRY_ID = "01SUNSTREAMMICROGRID0000000"


@pytest.fixture
def microgrid_entry() -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Campus",
        unique_id="sim-campus",
        data=entry_data(profile="microgrid"),
        options=entry_options(),
        entry_id=ENTRY_ID,
    )


@pytest.fixture
async def campus(
    located_hass: HomeAssistant, microgrid_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> str:
    await setup_entry(located_hass, microgrid_entry)
    device = dr.async_get(located_hass).async_get_device_by_identifier(
        (DOMAIN, "sim-campus"), config_entry_id=ENTRY_ID
    )
    assert device is not None
    return device.id


async def test_flow_creates_a_microgrid(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "simulated"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "name": "Campus",
            "profile": "microgrid",
            "pv_peak_kw": 50,
            "battery_kwh": 0,
            "update_interval": 5,
            "tariff": 0.9,
            "co2_factor": 0.4,
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["profile"] == "microgrid"


async def test_parts_are_sub_devices_with_their_sensors(
    located_hass: HomeAssistant, campus: str
) -> None:
    hass = located_hass
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), ENTRY_ID)
    parts = [d for d in devices if d.via_device_id == campus]
    names = sorted(d.name or "" for d in parts)
    assert len(parts) == 12
    # The system's name, the part and its number: never an internal key.
    assert names == [
        *(f"Campus bus {n}" for n in range(1, 6)),
        *(f"Campus converter {n}" for n in range(1, 4)),
        "Campus solar unit 1",
        "Campus solar unit 2",
        "Campus wind unit 1",
        "Campus wind unit 2",
    ]
    models = {d.name: d.model for d in parts}
    assert (models["Campus bus 1"], models["Campus converter 2"]) == ("SLACK", "NPC")
    registry = er.async_get(hass)
    entries = er.async_entries_for_config_entry(registry, ENTRY_ID)
    by_unique = {e.unique_id: e for e in entries}
    assert by_unique["sim-campus_converter_1_temperature"].disabled_by is None
    assert (
        by_unique["sim-campus_converter_1_current_d"].disabled_by
        is er.RegistryEntryDisabler.INTEGRATION
    )
    temperature = by_unique["sim-campus_converter_1_temperature"].entity_id
    assert temperature == "sensor.campus_converter_1_temperature"
    assert float(hass.states.get(temperature).state) > 0
    assert hass.states.get("sensor.campus_wind_power") is not None


async def test_switch_freezes_and_resumes_the_simulation(
    located_hass: HomeAssistant, campus: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    assert hass.states.get("switch.campus_run_simulation").state == "on"
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.campus_run_simulation"}, blocking=True
    )
    assert hass.states.get("switch.campus_run_simulation").state == "off"
    assert hass.states.get("sensor.campus_simulation").state == "stopped"
    before = hass.states.get("sensor.campus_pv_energy_total").state
    await advance(hass, frozen, 60)
    assert hass.states.get("sensor.campus_pv_energy_total").state == before
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.campus_run_simulation"}, blocking=True
    )
    assert hass.states.get("sensor.campus_simulation").state == "running"


async def test_converter_over_temperature_raises_the_alert(
    located_hass: HomeAssistant, campus: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    alerts = async_capture_events(hass, EVENT_ALERT)
    await hass.services.async_call(
        DOMAIN,
        "simulate_fault",
        {"device_id": campus, "kind": "converter_over_temperature", "duration": {"minutes": 10}},
        blocking=True,
    )
    await advance(hass, frozen, 300)
    raised = [e.data["rule"] for e in alerts if e.data["state"] == "raised"]
    assert "converter_over_temperature" in raised


async def test_inverter_offline_takes_the_converter_offline(
    located_hass: HomeAssistant, campus: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    await hass.services.async_call(
        DOMAIN,
        "simulate_fault",
        {"device_id": campus, "kind": "inverter_offline", "duration": {"minutes": 1}},
        blocking=True,
    )
    registry = er.async_get(hass)
    entity_id = registry.async_get_entity_id("sensor", DOMAIN, "sim-campus_converter_1_temperature")
    assert hass.states.get(entity_id).state == STATE_UNAVAILABLE
    assert [(e.data["part"], e.data["connected"]) for e in events] == [("converter_1", False)]
    await advance(hass, frozen, 90)
    assert hass.states.get(entity_id).state != STATE_UNAVAILABLE
    assert [(e.data["part"], e.data["connected"]) for e in events] == [
        ("converter_1", False),
        ("converter_1", True),
    ]


async def test_house_supports_only_inverter_offline(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    await setup_entry(hass, config_entry)
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, "sim-rooftop"), config_entry_id=config_entry.entry_id
    )
    assert device is not None
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "simulate_fault",
            {"device_id": device.id, "kind": "wind_cut_out", "duration": {"minutes": 1}},
            blocking=True,
        )
    assert err.value.translation_key == "fault_not_applicable"
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "simulate_fault",
            {"device_id": device.id, "kind": "inverter_offline", "duration": {"hours": 25}},
            blocking=True,
        )
    assert err.value.translation_key == "outage_out_of_range"
    await hass.services.async_call(
        DOMAIN,
        "simulate_fault",
        {"device_id": device.id, "kind": "inverter_offline", "duration": {"minutes": 1}},
        blocking=True,
    )
    assert hass.states.get("binary_sensor.rooftop_connection").state == "off"


async def test_generation_low_follows_the_microgrids_own_solar(
    located_hass: HomeAssistant, campus: str, frozen: FrozenDateTimeFactory
) -> None:
    """Heavy overcast: 50 kWp give far less than a clear sky would; the alert says so.

    The entry's PV peak field (5.5 kWp here) is the house's, not the microgrid's.
    """
    hass = located_hass
    alerts = async_capture_events(hass, EVENT_ALERT)
    with patch(
        "custom_components.sunstream.pysunstream.simulator.microgrid.cloud_transmittance",
        return_value=0.3,
    ):
        await advance(hass, frozen, 35 * 60, step=30)
    raised = [e.data for e in alerts if e.data["rule"] == "generation_low"]
    assert [a["state"] for a in raised] == ["raised"]
    assert 15 < raised[0]["value"] < 40


PART_SENSORS = {
    "sim-campus_wind_2_link",
    "sim-campus_wind_2_wind_speed",
    "sim-campus_wind_2_unit_power",
}


async def test_a_part_reported_later_gets_its_sensors_without_reload(
    located_hass: HomeAssistant, microgrid_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> None:
    """A part missing at start-up, then reported, then gone, then back: sensors follow."""
    hass = located_hass
    registry = er.async_get(hass)
    report = MicrogridSystem._devices
    hidden = {"wind_2"}

    def devices(system: MicrogridSystem) -> tuple[DeviceReading, ...]:
        return tuple(r for r in report(system) if r.identity.key not in hidden)

    def part_sensors() -> set[str]:
        entries = er.async_entries_for_config_entry(registry, ENTRY_ID)
        return {e.unique_id for e in entries if e.unique_id.startswith("sim-campus_wind_2_")}

    with patch.object(MicrogridSystem, "_devices", devices):
        await setup_entry(hass, microgrid_entry)
        assert part_sensors() == set()

        hidden.clear()
        await advance(hass, frozen, 5)
        assert part_sensors() == PART_SENSORS
        power = registry.async_get_entity_id("sensor", DOMAIN, "sim-campus_wind_2_unit_power")
        assert power is not None
        assert hass.states.get(power).state != STATE_UNAVAILABLE

        hidden.add("wind_2")
        await advance(hass, frozen, 5)
        assert part_sensors() == set()  # its device went, and its entities with it

        hidden.clear()
        await advance(hass, frozen, 10)
        assert part_sensors() == PART_SENSORS
        everything = {e.unique_id for e in er.async_entries_for_config_entry(registry, ENTRY_ID)}
        await hass.config_entries.async_reload(ENTRY_ID)
        await hass.async_block_till_done()
        assert {e.unique_id for e in er.async_entries_for_config_entry(registry, ENTRY_ID)} == (
            everything
        )

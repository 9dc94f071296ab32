"""Actions: their effect on the simulated battery and every bad input's error."""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.sunstream.const import DOMAIN, EVENT_DISPATCH

from .conftest import advance, entry_data, setup_entry

SOC = "sensor.rooftop_battery_state_of_charge"
BATTERY_POWER = "sensor.rooftop_battery_power"
MODE = "sensor.rooftop_battery_mode"


def _system_device(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, entry.unique_id or ""), config_entry_id=entry.entry_id
    )
    assert device is not None
    return device.id


def _float(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None
    return float(state.state)


async def _call(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, service, data, blocking=True)


@pytest.fixture
async def system(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> str:
    await setup_entry(located_hass, config_entry)
    return _system_device(located_hass, config_entry)


async def test_charge_then_expire(
    located_hass: HomeAssistant, system: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    events = async_capture_events(hass, EVENT_DISPATCH)
    soc_before = _float(hass, SOC)

    await _call(hass, "charge", device_id=system, power=3000, target_soc=100, duration=10)

    assert hass.states.get(MODE).state == "forced_charge"
    assert _float(hass, BATTERY_POWER) == -3000
    await advance(hass, frozen, 300)
    assert _float(hass, SOC) > soc_before
    assert len(events) == 1
    assert events[0].data | {"expires_at": None} == {
        "device_id": system,
        "config_entry_id": "01SUNSTREAMROOFTOP000000000",
        "system_id": "sim-rooftop",
        "source": "simulated",
        "command": "charge",
        "power": 3000.0,
        "target_soc": 100.0,
        "duration": 10.0,
        "expires_at": None,
    }

    await advance(hass, frozen, 301)  # past the ten minutes
    assert hass.states.get(MODE).state == "self_consumption"


async def test_discharge_then_stop(
    located_hass: HomeAssistant, system: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    events = async_capture_events(hass, EVENT_DISPATCH)
    soc_before = _float(hass, SOC)

    await _call(hass, "discharge", device_id=system, power=4000, target_soc=10, duration=60)
    assert _float(hass, BATTERY_POWER) == 4000
    await advance(hass, frozen, 120)
    assert _float(hass, SOC) < soc_before

    await _call(hass, "stop", device_id=system)
    assert hass.states.get(MODE).state == "self_consumption"
    assert [e.data["command"] for e in events] == ["discharge", "stop"]


async def test_battery_device_is_a_valid_target(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, system: str
) -> None:
    battery = dr.async_get(located_hass).async_get_device_by_identifier(
        (DOMAIN, "sim-rooftop_battery"), config_entry_id=config_entry.entry_id
    )
    assert battery is not None
    assert battery.via_device_id == system
    await _call(located_hass, "charge", device_id=battery.id, power=1000, target_soc=90, duration=5)
    assert located_hass.states.get(MODE).state == "forced_charge"


@pytest.mark.parametrize(
    ("service", "data", "key", "placeholders"),
    [
        (
            "charge",
            {"power": 0, "target_soc": 80, "duration": 10},
            "power_out_of_range",
            {"power": "0", "max_power": "5000"},
        ),
        (
            "discharge",
            {"power": 5001, "target_soc": 20, "duration": 10},
            "power_out_of_range",
            {"power": "5001", "max_power": "5000"},
        ),
        (
            "charge",
            {"power": 1000, "target_soc": 101, "duration": 10},
            "soc_out_of_range",
            {"soc": "101"},
        ),
        (
            "discharge",
            {"power": 1000, "target_soc": -1, "duration": 10},
            "soc_out_of_range",
            {"soc": "-1"},
        ),
        (
            "charge",
            {"power": 1000, "target_soc": 80, "duration": 0},
            "duration_out_of_range",
            {"duration": "0", "min_duration": "1", "max_duration": "1440"},
        ),
    ],
)
async def test_bad_input_rejected(
    located_hass: HomeAssistant,
    system: str,
    service: str,
    data: dict[str, Any],
    key: str,
    placeholders: dict[str, str],
) -> None:
    events = async_capture_events(located_hass, EVENT_DISPATCH)
    with pytest.raises(ServiceValidationError) as err:
        await _call(located_hass, service, device_id=system, **data)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert err.value.translation_placeholders == placeholders
    assert located_hass.states.get(MODE).state == "self_consumption"
    assert events == []


async def test_system_without_battery(
    located_hass: HomeAssistant, frozen: FrozenDateTimeFactory
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, title="Roof", unique_id="sim-roof", data=entry_data(battery_kwh=0)
    )
    await setup_entry(located_hass, entry)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            located_hass,
            "charge",
            device_id=_system_device(located_hass, entry),
            power=1000,
            target_soc=80,
            duration=10,
        )
    assert err.value.translation_key == "no_battery"


async def test_unknown_and_foreign_devices(located_hass: HomeAssistant, system: str) -> None:
    hass = located_hass
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "stop", device_id="nope")
    assert err.value.translation_key == "device_not_found"

    other = MockConfigEntry(domain="demo")
    other.add_to_hass(hass)
    foreign = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("demo", "x")}, name="Kettle"
    )
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "stop", device_id=foreign.id)
    assert err.value.translation_key == "not_sunstream_device"
    assert err.value.translation_placeholders == {"device": "Kettle"}


async def test_unloaded_system(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, system: str
) -> None:
    assert await located_hass.config_entries.async_unload(config_entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(located_hass, "stop", device_id=system)
    assert err.value.translation_key == "entry_not_loaded"


async def test_offline_system_raises(
    located_hass: HomeAssistant, system: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    await _call(hass, "simulate_outage", device_id=system, duration={"minutes": 2})
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "charge", device_id=system, power=1000, target_soc=80, duration=10)
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "system_unavailable"
    assert err.value.translation_placeholders == {"name": "Rooftop"}

    await advance(hass, frozen, 125)
    await _call(hass, "charge", device_id=system, power=1000, target_soc=80, duration=10)
    assert hass.states.get(MODE).state == "forced_charge"


@pytest.mark.parametrize("minutes", [float("inf"), float("nan"), 0.5, 1441])
async def test_charge_duration_must_be_finite_and_in_range(
    located_hass: HomeAssistant, system: str, minutes: float
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            located_hass, "charge", device_id=system, power=1000, target_soc=80, duration=minutes
        )
    assert err.value.translation_key == "duration_out_of_range"
    assert located_hass.states.get(MODE).state == "self_consumption"


@pytest.mark.parametrize("duration", [{"seconds": 0}, {"hours": 25}])
async def test_outage_duration_bounds(
    located_hass: HomeAssistant, system: str, duration: dict[str, int]
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(located_hass, "simulate_outage", device_id=system, duration=duration)
    assert err.value.translation_key == "outage_out_of_range"


async def test_translations_render(located_hass: HomeAssistant, system: str) -> None:
    """The user reads a sentence, not a key."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(located_hass, "charge", device_id=system, power=1, target_soc=300, duration=5)
    assert str(err.value) == (
        "Target state of charge 300 % is out of range: it must be between 0 and 100 %"
    )

"""The optimizer and dashboard configurations of docs/use-cases.md, against a real system.

Each block is read from the manual as a user copies it, parsed as the tool
would (YAML through Home Assistant's own loader, JSON), and checked against a
simulated *Rooftop* in a real Home Assistant: every entity it names exists,
is available, and has the unit and state class the tool expects; the
numbers a user copies (battery size, power limits) are the system's; and
Predbat's control calls, run as Home Assistant actions, switch the battery's
mode. Not checked: Predbat, EMHASS, evcc and power-flow-card-plus
themselves (none of them runs here), so a key a tool renames is not caught.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.sensor import SensorStateClass
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant
from homeassistant.util.yaml import parse_yaml
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import setup_entry

PAGE = Path(__file__).parents[1] / "docs" / "use-cases.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
ENTITY = re.compile(r"^(sensor|number|select|switch|time|binary_sensor)\.[a-z0-9_]+$")


def _block(language: str, marker: str) -> str:
    """The one ``language`` block of the page that contains ``marker``."""
    found = [
        match[2]
        for match in FENCE.finditer(PAGE.read_text("utf-8"))
        if match[1] == language and marker in match[2]
    ]
    assert len(found) == 1, (language, marker, len(found))
    return found[0]


def _entity_ids(node: Any) -> Iterator[str]:
    """Every string in ``node`` that is an entity id (an action's name is not)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "service":
                yield from _entity_ids(value)
    elif isinstance(node, list):
        for value in node:
            yield from _entity_ids(value)
    elif isinstance(node, str) and ENTITY.match(node):
        yield node


@pytest.fixture
async def rooftop(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> HomeAssistant:
    """The simulated system the examples are written for."""
    await setup_entry(located_hass, config_entry)
    return located_hass


def _unit(hass: HomeAssistant, entity_id: str) -> str | None:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)


def _all_present(hass: HomeAssistant, config: Any) -> list[str]:
    """Every entity ``config`` names is there and has a value."""
    ids = list(_entity_ids(config))
    assert ids
    for entity_id in ids:
        state = hass.states.get(entity_id)
        assert state is not None, f"{entity_id} does not exist"
        assert state.state not in ("unavailable", "unknown"), entity_id
    return ids


def _number_max(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None
    return float(state.attributes["max"])


async def test_predbat(rooftop: HomeAssistant) -> None:
    hass = rooftop
    config = parse_yaml(_block("yml", "pred_bat:"))["pred_bat"]
    _all_present(hass, config)
    units = {
        "kWh": ("load_today", "import_today", "export_today", "pv_today", "soc_kw", "soc_max"),
        "W": ("battery_power", "pv_power", "load_power", "grid_power", "charge_rate"),
        "%": ("soc_percent", "reserve", "charge_limit"),
    }
    for unit, keys in units.items():
        for key in keys:
            assert _unit(hass, config[key][0]) == unit, key
    for key in ("load_today", "import_today", "export_today", "pv_today"):
        # Today's energies restart at midnight: a counter, not a measurement.
        state = hass.states.get(config[key][0])
        assert state is not None
        assert state.attributes["state_class"] == SensorStateClass.TOTAL_INCREASING, key
    assert config["battery_rate_max"][0] == _number_max(hass, config["charge_rate"][0])
    # The control calls, as Predbat makes them: each switches the battery's mode.
    mode = "sensor.rooftop_battery_mode"
    for key, expected in (
        ("charge_start_service", "forced_charge"),
        ("charge_stop_service", "self_consumption"),
        ("discharge_start_service", "forced_discharge"),
        ("discharge_stop_service", "self_consumption"),
    ):
        if key == "discharge_start_service":
            # Predbat's charge limit is the one target (docs): lower it before an export.
            await hass.services.async_call(
                "number",
                "set_value",
                {"entity_id": config["charge_limit"][0], "value": 20},
                blocking=True,
            )
        for call in config[key]:
            domain, service = call["service"].split(".")
            data = {k: v for k, v in call.items() if k != "service"}
            await hass.services.async_call(domain, service, data, blocking=True)
        await hass.async_block_till_done()
        assert hass.states.get(mode).state == expected, key  # type: ignore[union-attr]


async def test_emhass(rooftop: HomeAssistant) -> None:
    hass = rooftop
    config = json.loads(_block("json", "sensor_power_photovoltaics"))
    for entity_id in _all_present(hass, config):
        assert _unit(hass, entity_id) == "W", entity_id
    capacity = float(hass.states.get("sensor.rooftop_battery_capacity").state)  # type: ignore[union-attr]
    assert config["battery_nominal_energy_capacity"] == capacity * 1000  # Wh
    charge_max = _number_max(hass, "number.rooftop_battery_forced_charge_power")
    discharge_max = _number_max(hass, "number.rooftop_battery_forced_discharge_power")
    assert config["battery_charge_power_max"] == charge_max
    assert config["battery_discharge_power_max"] == discharge_max
    reserve = hass.states.get("number.rooftop_battery_reserve_soc")
    assert config["battery_minimum_state_of_charge"] == float(reserve.state) / 100  # type: ignore[union-attr]


async def test_evcc(rooftop: HomeAssistant) -> None:
    hass = rooftop
    config = parse_yaml(_block("yml", "template: homeassistant"))
    _all_present(hass, config)
    meters = {meter["usage"]: meter for meter in config["meters"]}
    assert set(meters) == {"grid", "pv", "battery"}
    for meter in meters.values():
        assert meter["template"] == "homeassistant"
        assert _unit(hass, meter["power"]) == "W"
        for key in ("energy", "returnEnergy"):
            if key not in meter:
                continue
            # evcc wants lifetime counters, never daily ones.
            state = hass.states.get(meter[key])
            assert state is not None
            assert state.attributes["state_class"] == SensorStateClass.TOTAL_INCREASING
            assert not meter[key].endswith("_today"), meter[key]
    battery = meters["battery"]
    assert _unit(hass, battery["soc"]) == "%"
    capacity = hass.states.get("sensor.rooftop_battery_capacity")
    assert battery["capacity"] == float(capacity.state)  # type: ignore[union-attr]
    # evcc's signs are Sunstream's: grid + import, battery + discharge.
    assert battery["power"] == "sensor.rooftop_battery_power"
    assert "scale" not in str(config)


async def test_power_flow_card(rooftop: HomeAssistant) -> None:
    hass = rooftop
    card = parse_yaml(_block("yml", "custom:power-flow-card-plus"))
    assert card["type"] == "custom:power-flow-card-plus"
    _all_present(hass, card)
    entities = card["entities"]
    assert set(entities) == {"grid", "solar", "battery", "home"}
    for flow in entities.values():
        assert _unit(hass, flow["entity"]) == "W"
        # The card's defaults are Sunstream's signs: nothing inverted.
        assert "invert_state" not in flow
    assert _unit(hass, entities["battery"]["state_of_charge"]) == "%"

"""The automation blueprints in blueprints/: loaded by Home Assistant, and run end to end.

Every file is loaded with Home Assistant's own blueprint loader (the one the
UI's *Import blueprint* ends in), checked against what the integration
really offers (actions and their fields, events and their data, selectors
that find Sunstream's devices), instantiated into an automation that Home
Assistant accepts, and run against a real simulated system.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import json
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.components.blueprint import Blueprint
from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import Input, load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_mock_service,
)

from custom_components.sunstream.const import DOMAIN, EVENT_CONNECTIVITY, EVENT_DISPATCH
from custom_components.sunstream.system_alerts import EVENT_ALERT

from .conftest import advance, setup_entry

ROOT = Path(__file__).parent.parent
FOLDER = ROOT / "blueprints" / "automation" / DOMAIN
BLUEPRINTS = sorted(FOLDER.glob("*.yaml"))
SOURCE_URL = "https://github.com/sunstream/sunstream/blob/main/blueprints/automation/sunstream/"

# What the integration puts in each event (coordinator.py, system_alerts.py).
EVENT_DATA = {
    EVENT_CONNECTIVITY: {
        "device_id",
        "config_entry_id",
        "system_id",
        "source",
        "connected",
        "reason",
        "part",
    },
    EVENT_DISPATCH: {
        "device_id",
        "config_entry_id",
        "system_id",
        "source",
        "command",
        "power",
        "target_soc",
        "duration",
        "expires_at",
    },
    EVENT_ALERT: {
        "device_id",
        "config_entry_id",
        "system_id",
        "source",
        "alert_id",
        "state",
        "acknowledged",
        "rule",
        "severity",
        "value",
        "threshold",
    },
}

SOC = "sensor.rooftop_battery_state_of_charge"
MODE = "sensor.rooftop_battery_mode"
BATTERY_POWER = "sensor.rooftop_battery_power"
RESERVE = "number.rooftop_battery_reserve_soc"
CHARGE_LIMIT = "number.rooftop_battery_charge_limit_soc"
EXPORT_LIMIT = "number.rooftop_export_limit"
EXPORT_SWITCH = "switch.rooftop_export_limit"
WINDOW = {
    "window_switch": "switch.rooftop_battery_charge_window_1",
    "window_start": "time.rooftop_battery_charge_window_1_start",
    "window_end": "time.rooftop_battery_charge_window_1_end",
    "charge_limit": CHARGE_LIMIT,
}
PRICE = "sensor.export_price"
WARNING = "binary_sensor.storm_warning"


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a loaded YAML tree."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _raw(path: Path) -> dict[str, Any]:
    return load_yaml_dict(path)


# --- loading -------------------------------------------------------------------------


def test_there_are_blueprints() -> None:
    names = {path.name for path in BLUEPRINTS}
    assert names >= {
        "connectivity_notify.yaml",
        "alert_notify.yaml",
        "charge_at_cheap_hour.yaml",
        "stop_discharge_low_soc.yaml",
        "charge_in_cheap_window.yaml",
        "limit_export_negative_price.yaml",
        "raise_reserve_before_storm.yaml",
    }


async def test_home_assistant_loads_every_blueprint(hass: HomeAssistant, tmp_path: Path) -> None:
    """The automation integration's loader reads each file from a config directory."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / DOMAIN
    target.mkdir(parents=True)
    for path in BLUEPRINTS:
        shutil.copy(path, target / path.name)

    loaded = await async_get_blueprints(hass).async_get_blueprints()

    assert set(loaded) == {f"{DOMAIN}/{path.name}" for path in BLUEPRINTS}
    for path, blueprint in loaded.items():
        assert isinstance(blueprint, Blueprint), f"{path}: {blueprint}"
        assert blueprint.validate() is None, path  # runs on this Home Assistant
        assert blueprint.domain == "automation"


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.stem)
def test_blueprint_metadata(path: Path) -> None:
    raw = _raw(path)
    metadata = raw["blueprint"]
    assert metadata["source_url"] == SOURCE_URL + path.name
    hacs = load_yaml_dict(ROOT / "hacs.json")
    assert metadata["homeassistant"]["min_version"] == hacs["homeassistant"]
    assert metadata["name"].strip()
    assert metadata["description"].strip()
    for name, spec in metadata["input"].items():
        assert spec.get("name"), f"{path.name}: input {name} has no name"
        assert spec.get("description"), f"{path.name}: input {name} has no description"
    # Every input is used, every use is declared.
    used = {node.name for node in _inputs(raw)}
    assert used == set(metadata["input"]), path.name


def _inputs(node: Any) -> Iterator[Input]:
    if isinstance(node, Input):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _inputs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _inputs(value)


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.stem)
def test_blueprint_uses_what_the_integration_offers(path: Path) -> None:
    raw = _raw(path)
    services = load_yaml_dict(ROOT / "custom_components" / DOMAIN / "services.yaml")
    for spec in raw["blueprint"]["input"].values():
        selector = spec.get("selector", {})
        for kind in ("device", "entity"):
            # Unfiltered: another integration's entity (a price, a weather warning).
            if kind in selector and "filter" in selector[kind]:
                filters = selector[kind]["filter"]
                assert all(f.get("integration") == DOMAIN for f in filters), path.name
    for node in _walk({key: raw[key] for key in raw if key != "blueprint"}):
        action = node.get("action")
        if isinstance(action, str) and action.startswith(f"{DOMAIN}."):
            service = action.removeprefix(f"{DOMAIN}.")
            assert service in services, f"{path.name}: no action {action}"
            fields = set(services[service].get("fields") or {})
            assert set(node.get("data", {})) <= fields, f"{path.name}: {action} fields"
        event_type = node.get("event_type")
        if isinstance(event_type, str) and event_type.startswith(f"{DOMAIN}_"):
            assert event_type in EVENT_DATA, f"{path.name}: no event {event_type}"
            assert set(node.get("event_data", {})) <= EVENT_DATA[event_type], path.name


def test_alert_notify_names_every_rule() -> None:
    """The blueprint's rule names are the UI's, for every rule the integration has."""
    strings = json.loads((ROOT / "custom_components" / DOMAIN / "strings.json").read_text())
    names = strings["entity"]["event"]["alert"]["state_attributes"]["rule"]["state"]
    variables = _raw(FOLDER / "alert_notify.yaml")["variables"]
    assert variables["rule_names"] == names
    assert set(variables["units"]) <= set(names)


# --- a real simulated system ----------------------------------------------------------


@pytest.fixture
async def rooftop(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    tmp_path: Path,
) -> AsyncIterator[dict[str, str]]:
    """The simulated system, running; its device ids.

    Automations made from the blueprints are turned off afterwards, so a
    time trigger still waiting for tomorrow does not outlive the test.
    """
    located_hass.config.config_dir = str(tmp_path)
    await setup_entry(located_hass, config_entry)
    registry = dr.async_get(located_hass)
    entry_id = config_entry.entry_id
    system = registry.async_get_device_by_identifier((DOMAIN, "sim-rooftop"), entry_id)
    battery = registry.async_get_device_by_identifier((DOMAIN, "sim-rooftop_battery"), entry_id)
    assert system is not None
    assert battery is not None
    yield {"system": system.id, "battery": battery.id}
    if located_hass.services.has_service("automation", "turn_off"):
        await located_hass.services.async_call(
            "automation", "turn_off", {"entity_id": "all"}, blocking=True
        )


async def _use(hass: HomeAssistant, tmp_path: Path, name: str, **inputs: Any) -> str:
    """Set up an automation from blueprint ``name`` as a user would; its entity id."""
    target = tmp_path / "blueprints" / "automation" / DOMAIN / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FOLDER / name, target)
    alias = f"Test {Path(name).stem}"
    config = {"alias": alias, "use_blueprint": {"path": f"{DOMAIN}/{name}", "input": inputs}}
    assert await async_setup_component(hass, "automation", {"automation": [config]})
    await hass.async_block_till_done()
    entity_id = f"automation.test_{Path(name).stem}"
    # An automation whose blueprint produced invalid configuration is unavailable.
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state == STATE_ON
    return entity_id


def _sample_inputs(name: str, devices: dict[str, str]) -> dict[str, Any]:
    return {
        "connectivity_notify.yaml": {"device": devices["system"]},
        "alert_notify.yaml": {"device": devices["system"]},
        "charge_at_cheap_hour.yaml": {"battery": devices["battery"]},
        "stop_discharge_low_soc.yaml": {"soc_sensor": SOC, "mode_sensor": MODE},
        "charge_in_cheap_window.yaml": WINDOW,
        "limit_export_negative_price.yaml": {
            "price_sensor": PRICE,
            "export_switch": EXPORT_SWITCH,
            "export_limit": EXPORT_LIMIT,
        },
        "raise_reserve_before_storm.yaml": {"warning": WARNING, "reserve": RESERVE},
    }[name]


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.stem)
async def test_blueprint_becomes_a_valid_automation(
    located_hass: HomeAssistant, rooftop: dict[str, str], tmp_path: Path, path: Path
) -> None:
    """With only the required inputs, the defaults make a working automation."""
    await _use(located_hass, tmp_path, path.name, **_sample_inputs(path.name, rooftop))


# --- alert_notify: a real outage raises and clears "communication lost" -------------------


async def _outage(hass: HomeAssistant, device_id: str, seconds: int) -> None:
    await hass.services.async_call(
        DOMAIN,
        "simulate_outage",
        {"device_id": device_id, "duration": {"seconds": seconds}},
        blocking=True,
    )


async def test_alert_notify_end_to_end(
    located_hass: HomeAssistant,
    rooftop: dict[str, str],
    frozen: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    hass = located_hass
    created = async_mock_service(hass, "persistent_notification", "create")
    dismissed = async_mock_service(hass, "persistent_notification", "dismiss")
    await _use(hass, tmp_path, "alert_notify.yaml", device=rooftop["system"])

    await _outage(hass, rooftop["system"], 300)
    await advance(hass, frozen, 150)  # communication loss after 2 min (the default)
    assert len(created) == 1
    assert created[0].data["title"] == "Rooftop: Communication lost"
    assert created[0].data["message"] == "Communication lost on Rooftop (critical)."
    notification_id = created[0].data["notification_id"]
    assert notification_id == "sunstream_alert_sim-rooftop:communication_loss"
    assert dismissed == []

    await advance(hass, frozen, 200)  # the outage ends; the alert clears
    assert len(created) == 1
    assert [call.data["notification_id"] for call in dismissed] == [notification_id]


async def test_alert_notify_runs_the_notify_action_and_filters_severity(
    located_hass: HomeAssistant, rooftop: dict[str, str], tmp_path: Path
) -> None:
    hass = located_hass
    persistent = async_mock_service(hass, "persistent_notification", "create")
    calls = async_mock_service(hass, "test", "notify")
    action = [
        {"action": "test.notify", "data": {"title": "{{ title }}", "message": "{{ message }}"}}
    ]
    await _use(
        hass,
        tmp_path,
        "alert_notify.yaml",
        device=rooftop["system"],
        min_severity="warning",
        notify_cleared=True,
        notify_action=action,
    )

    def alert(state: str, rule: str, severity: str, value: float, threshold: float) -> None:
        hass.bus.async_fire(
            EVENT_ALERT,
            {
                "device_id": rooftop["system"],
                "config_entry_id": "entry",
                "system_id": "sim-rooftop",
                "source": "simulated",
                "alert_id": f"sim-rooftop:{rule}",
                "state": state,
                "acknowledged": False,
                "rule": rule,
                "severity": severity,
                "value": value,
                "threshold": threshold,
            },
        )

    alert("raised", "pv_string_mismatch", "info", 40.0, 25.0)  # below the minimum severity
    alert("raised", "battery_soc_low", "warning", 8.44, 10.0)
    alert("acknowledged", "battery_soc_low", "warning", 8.44, 10.0)  # not reported
    alert("cleared", "battery_soc_low", "warning", 15.2, 10.0)
    await hass.async_block_till_done()

    assert [(call.data["title"], call.data["message"]) for call in calls] == [
        (
            "Rooftop: Battery charge low",
            "Battery charge low on Rooftop (warning): 8.4 % (limit 10.0 %).",
        ),
        ("Rooftop: Battery charge low cleared", "Battery charge low on Rooftop has cleared."),
    ]
    assert persistent == []


# --- charge_at_cheap_hour: a real forced charge at the chosen time ------------------------


async def test_charge_at_cheap_hour_end_to_end(
    located_hass: HomeAssistant,
    rooftop: dict[str, str],
    frozen: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    hass = located_hass
    dispatched = async_capture_events(hass, EVENT_DISPATCH)
    # The frozen clock stands at 11:00 local time.
    await _use(
        hass,
        tmp_path,
        "charge_at_cheap_hour.yaml",
        battery=rooftop["battery"],
        start="11:01:00",
        duration=30,
        power=3000,
        target_soc=95,
    )
    await advance(hass, frozen, 55)
    assert dispatched == []
    assert hass.states.get(MODE).state == "self_consumption"

    await advance(hass, frozen, 10)
    assert len(dispatched) == 1
    event = dispatched[0].data
    assert event["command"] == "charge"
    assert event["power"] == 3000
    assert event["target_soc"] == 95
    assert event["duration"] == 30
    assert event["device_id"] == rooftop["system"]
    assert hass.states.get(MODE).state == "forced_charge"


async def test_charge_at_cheap_hour_skips_other_days(
    located_hass: HomeAssistant,
    rooftop: dict[str, str],
    frozen: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    hass = located_hass
    dispatched = async_capture_events(hass, EVENT_DISPATCH)
    # The frozen clock's day is a Monday.
    await _use(
        hass,
        tmp_path,
        "charge_at_cheap_hour.yaml",
        battery=rooftop["battery"],
        start="11:01:00",
        weekdays=["sat", "sun"],
    )
    await advance(hass, frozen, 90)
    assert dispatched == []
    assert hass.states.get(MODE).state == "self_consumption"


# --- stop_discharge_low_soc: a real discharge stopped at the floor ----------------------


async def test_stop_discharge_low_soc_end_to_end(
    located_hass: HomeAssistant,
    rooftop: dict[str, str],
    frozen: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    hass = located_hass
    notified = async_mock_service(hass, "test", "notify")
    dispatched = async_capture_events(hass, EVENT_DISPATCH)
    start = float(hass.states.get(SOC).state)
    floor = start - 1  # about a minute of discharging at full power
    await _use(
        hass,
        tmp_path,
        "stop_discharge_low_soc.yaml",
        soc_sensor=SOC,
        mode_sensor=MODE,
        min_soc=floor,
        notify_action=[
            {"action": "test.notify", "data": {"message": "{{ system }} {{ soc }} {{ min_soc }}"}}
        ],
    )
    # Someone starts a long discharge with no target of its own.
    await hass.services.async_call(
        DOMAIN,
        "discharge",
        {"device_id": rooftop["battery"], "power": 5000, "target_soc": 0, "duration": 120},
        blocking=True,
    )
    assert hass.states.get(MODE).state == "forced_discharge"

    await advance(hass, frozen, 180)

    assert [event.data["command"] for event in dispatched] == ["discharge", "stop"]
    assert hass.states.get(MODE).state == "self_consumption"
    assert len(notified) == 1
    system, soc, min_soc = notified[0].data["message"].rsplit(" ", 2)
    assert system == "Rooftop battery"
    assert start - 2 < float(soc) < floor == float(min_soc)


async def test_stop_discharge_low_soc_lets_a_discharge_above_the_floor_run(
    located_hass: HomeAssistant,
    rooftop: dict[str, str],
    frozen: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    """A forced discharge that starts above the floor is left alone."""
    hass = located_hass
    dispatched = async_capture_events(hass, EVENT_DISPATCH)
    await _use(
        hass,
        tmp_path,
        "stop_discharge_low_soc.yaml",
        soc_sensor=SOC,
        mode_sensor=MODE,
        min_soc=10,
    )
    await hass.services.async_call(
        DOMAIN,
        "discharge",
        {"device_id": rooftop["battery"], "power": 1000, "target_soc": 30, "duration": 60},
        blocking=True,
    )
    await advance(hass, frozen, 30)
    assert [event.data["command"] for event in dispatched] == ["discharge"]
    assert hass.states.get(MODE).state == "forced_discharge"


# --- charge_in_cheap_window: the device's own window, then a real grid charge ----------------


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def test_charge_in_cheap_window_end_to_end(
    located_hass: HomeAssistant,
    rooftop: dict[str, str],
    frozen: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    hass = located_hass
    # The frozen clock stands at 11:00; the "night" window is 11:03–11:40 here.
    await _use(
        hass,
        tmp_path,
        "charge_in_cheap_window.yaml",
        **WINDOW,
        apply_at="11:01:00",
        start="11:03:00",
        end="11:40:00",
        target_soc=85,
    )
    await advance(hass, frozen, 65)
    assert _state(hass, WINDOW["window_start"]) == "11:03:00"
    assert _state(hass, WINDOW["window_end"]) == "11:40:00"
    assert _state(hass, WINDOW["window_switch"]) == "on"
    assert float(_state(hass, CHARGE_LIMIT)) == 85
    # Home Assistant has no part in what follows: the device runs its window.
    assert await hass.config_entries.async_unload(
        hass.config_entries.async_entries(DOMAIN)[0].entry_id
    )
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, frozen, 120)
    assert float(_state(hass, BATTERY_POWER)) == -5000  # full power …
    assert float(_state(hass, "sensor.rooftop_grid_power")) > 0  # … from PV and grid
    assert _state(hass, MODE) == "self_consumption"


async def test_charge_in_cheap_window_moves_the_edge_that_keeps_it_valid(
    located_hass: HomeAssistant,
    rooftop: dict[str, str],
    frozen: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    """From 01:00–05:00 to 00:15–00:45 the start must move first."""
    hass = located_hass
    for entity_id, value in (
        (WINDOW["window_end"], "05:00:00"),
        (WINDOW["window_start"], "01:00:00"),
    ):
        await hass.services.async_call(
            "time", "set_value", {"entity_id": entity_id, "time": value}, blocking=True
        )
    await advance(hass, frozen, 60)  # a fresh write budget for the window
    await _use(
        hass,
        tmp_path,
        "charge_in_cheap_window.yaml",
        **WINDOW,
        apply_at="11:02:00",
        start="00:15:00",
        end="00:45:00",
    )
    await advance(hass, frozen, 65)
    assert _state(hass, WINDOW["window_start"]) == "00:15:00"
    assert _state(hass, WINDOW["window_end"]) == "00:45:00"
    assert _state(hass, WINDOW["window_switch"]) == "on"


# --- limit_export_negative_price: the limit follows the price ---------------------------------


async def test_limit_export_negative_price_end_to_end(
    located_hass: HomeAssistant,
    rooftop: dict[str, str],
    frozen: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    hass = located_hass
    hass.states.async_set(PRICE, "0.12")
    await _use(
        hass,
        tmp_path,
        "limit_export_negative_price.yaml",
        price_sensor=PRICE,
        export_switch=EXPORT_SWITCH,
        export_limit=EXPORT_LIMIT,
    )
    # A forced discharge at noon would export several kilowatts.
    await hass.services.async_call(
        DOMAIN,
        "discharge",
        {"device_id": rooftop["battery"], "power": 5000, "target_soc": 10, "duration": 60},
        blocking=True,
    )
    await advance(hass, frozen, 10)
    assert float(_state(hass, "sensor.rooftop_grid_power")) < -3000

    hass.states.async_set(PRICE, "-0.03")
    await advance(hass, frozen, 10)
    assert _state(hass, EXPORT_SWITCH) == "on"
    assert float(_state(hass, EXPORT_LIMIT)) == 0
    assert float(_state(hass, "sensor.rooftop_grid_power")) >= -0.5
    assert float(_state(hass, "sensor.rooftop_curtailed_pv_power")) > 0

    hass.states.async_set(PRICE, "0.08")
    await advance(hass, frozen, 10)
    assert _state(hass, EXPORT_SWITCH) == "off"
    assert float(_state(hass, "sensor.rooftop_grid_power")) < -3000


# --- raise_reserve_before_storm: reserve up and a charge, then back ----------------------------


async def test_raise_reserve_before_storm_end_to_end(
    located_hass: HomeAssistant,
    rooftop: dict[str, str],
    frozen: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    hass = located_hass
    dispatched = async_capture_events(hass, EVENT_DISPATCH)
    hass.states.async_set(WARNING, "off")
    await _use(
        hass,
        tmp_path,
        "raise_reserve_before_storm.yaml",
        warning=WARNING,
        reserve=RESERVE,
        storm_reserve=80,
        normal_reserve=20,
        power=3000,
    )
    hass.states.async_set(WARNING, "on")
    await advance(hass, frozen, 10)
    assert float(_state(hass, RESERVE)) == 80
    assert [(e.data["command"], e.data["target_soc"], e.data["power"]) for e in dispatched] == [
        ("charge", 80, 3000)
    ]
    assert _state(hass, MODE) == "forced_charge"
    assert _state(hass, "select.rooftop_battery_mode") == "forced_charge"

    hass.states.async_set(WARNING, "off")
    await advance(hass, frozen, 10)
    assert float(_state(hass, RESERVE)) == 20
    assert len(dispatched) == 1  # the charge runs on to its target

"""Control entities through a real Home Assistant, against the simulated system.

Every value an entity shows is read back from the simulated device; every
refused write leaves the device as it was and the entity showing it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.sunstream.const import DOMAIN, EVENT_DISPATCH
from custom_components.sunstream.pysunstream.controls import (
    DeviceSettings,
    Setting,
    SettingChange,
    SettingsSpec,
    Window,
)
from custom_components.sunstream.pysunstream.errors import CommandFailed, Reason, SourceUnavailable
from custom_components.sunstream.pysunstream.simulator import SimulatedSystem
from sunstream_fakes.alphaess_fake import FakeAlphaEss

from .conftest import (
    advance,
    entry_data,
    select_option,
    set_number as _number,
    set_switch as _switch,
    set_time as _time,
    setup_entry,
)

RESERVE = "number.rooftop_battery_reserve_soc"
CHARGE_LIMIT = "number.rooftop_battery_charge_limit_soc"
EXPORT_LIMIT = "number.rooftop_export_limit"
EXPORT_SWITCH = "switch.rooftop_export_limit"
CHARGE_POWER = "number.rooftop_battery_forced_charge_power"
DISCHARGE_POWER = "number.rooftop_battery_forced_discharge_power"
TARGET = "number.rooftop_battery_command_target_soc"
DURATION = "number.rooftop_battery_command_duration"
MODE = "select.rooftop_battery_mode"
MODE_SENSOR = "sensor.rooftop_battery_mode"
SOC = "sensor.rooftop_battery_state_of_charge"
BATTERY_POWER = "sensor.rooftop_battery_power"
GRID_POWER = "sensor.rooftop_grid_power"
CURTAILED = "sensor.rooftop_curtailed_pv_power"
CHARGE_1 = "switch.rooftop_battery_charge_window_1"
CHARGE_1_START = "time.rooftop_battery_charge_window_1_start"
CHARGE_1_END = "time.rooftop_battery_charge_window_1_end"
DISCHARGE_1 = "switch.rooftop_battery_discharge_window_1"
DISCHARGE_1_START = "time.rooftop_battery_discharge_window_1_start"
DISCHARGE_1_END = "time.rooftop_battery_discharge_window_1_end"


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


def _float(hass: HomeAssistant, entity_id: str) -> float:
    return float(_state(hass, entity_id))


def _device(entry: MockConfigEntry) -> DeviceSettings:
    """What the simulated device itself holds."""
    source = entry.runtime_data.coordinator.source
    assert isinstance(source, SimulatedSystem)
    return source.reported_settings()


async def _select(hass: HomeAssistant, option: str, entity_id: str = MODE) -> None:
    await select_option(hass, entity_id, option)


async def _action(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, service, data, blocking=True)


@pytest.fixture
async def rooftop(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> str:
    """The simulated system, set up at 11:00 local time; its battery's device id."""
    await setup_entry(located_hass, config_entry)
    device = dr.async_get(located_hass).async_get_device_by_identifier(
        (DOMAIN, "sim-rooftop_battery"), config_entry.entry_id
    )
    assert device is not None
    return device.id


# --- what exists ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "platform", [Platform.NUMBER, Platform.SELECT, Platform.TIME, Platform.SWITCH]
)
async def test_entities(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    with patch("custom_components.sunstream.PLATFORMS", [platform]):
        await setup_entry(located_hass, config_entry)
    await snapshot_platform(located_hass, entity_registry, snapshot, config_entry.entry_id)


async def test_limits_are_the_simulators(located_hass: HomeAssistant, rooftop: str) -> None:
    hass = located_hass
    reserve = hass.states.get(RESERVE)
    assert reserve is not None
    assert (reserve.attributes["min"], reserve.attributes["max"]) == (5, 100)
    export = hass.states.get(EXPORT_LIMIT)
    assert export is not None
    assert (export.attributes["max"], export.attributes["unit_of_measurement"]) == (5500, "W")
    for power in (CHARGE_POWER, DISCHARGE_POWER):
        state = hass.states.get(power)
        assert state is not None
        assert state.attributes["max"] == 5000  # 10 kWh at 0.5 C
        assert float(state.state) == 5000  # the battery's maximum until set
    assert _state(hass, MODE) == "self_consumption"
    assert _float(hass, RESERVE) == 10
    assert _state(hass, CHARGE_1_START) == "00:00:00"
    assert _state(hass, CHARGE_1) == "off"


async def test_without_battery_only_the_export_limit(
    located_hass: HomeAssistant, frozen: FrozenDateTimeFactory, entity_registry: er.EntityRegistry
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, title="Roof", unique_id="sim-roof", data=entry_data(battery_kwh=0)
    )
    await setup_entry(located_hass, entry)
    controls = {
        e.entity_id
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if e.domain in {"number", "select", "time", "switch"}
    }
    assert controls == {"number.roof_export_limit", "switch.roof_export_limit"}


async def test_a_microgrid_has_no_settings(
    located_hass: HomeAssistant, frozen: FrozenDateTimeFactory, entity_registry: er.EntityRegistry
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, title="Campus", unique_id="sim-campus", data=entry_data(profile="microgrid")
    )
    await setup_entry(located_hass, entry)
    domains = {e.domain for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)}
    assert not domains & {"number", "select", "time"}


# --- settings: written, read back ----------------------------------------------------------


async def test_every_setting_is_written_and_read_back(
    located_hass: HomeAssistant,
    rooftop: str,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
) -> None:
    hass = located_hass
    await _number(hass, RESERVE, 35)
    await _number(hass, CHARGE_LIMIT, 90)
    await _number(hass, EXPORT_LIMIT, 1200)
    await _switch(hass, EXPORT_SWITCH, True)
    await _time(hass, CHARGE_1_END, "05:30:00")
    await _time(hass, CHARGE_1_START, "01:15:00")
    await _switch(hass, CHARGE_1, True)

    device = _device(config_entry)
    assert device.reserve_soc == 35
    assert device.charge_limit_soc == 90
    assert (device.export_limit_enabled, device.export_limit) == (True, 1200)
    assert device.windows[Setting.CHARGE_WINDOW_1] == Window(
        start=time(1, 15), end=time(5, 30), enabled=True
    )
    assert _float(hass, RESERVE) == 35
    assert _float(hass, CHARGE_LIMIT) == 90
    assert _float(hass, EXPORT_LIMIT) == 1200
    assert _state(hass, EXPORT_SWITCH) == "on"
    assert _state(hass, CHARGE_1_START) == "01:15:00"
    assert _state(hass, CHARGE_1_END) == "05:30:00"
    assert _state(hass, CHARGE_1) == "on"

    # The window took three writes this minute (start, end, enable): its budget.
    await advance(hass, frozen, 60)
    await _switch(hass, CHARGE_1, False)
    assert _state(hass, CHARGE_1) == "off"
    assert not _device(config_entry).windows[Setting.CHARGE_WINDOW_1].enabled


async def test_the_export_limit_curtails_and_shows_it(
    located_hass: HomeAssistant,
    rooftop: str,
    frozen: FrozenDateTimeFactory,
) -> None:
    """A forced discharge at noon would export kilowatts; the limit holds it to 500 W."""
    hass = located_hass
    await _number(hass, EXPORT_LIMIT, 500)
    await _switch(hass, EXPORT_SWITCH, True)
    await _number(hass, TARGET, 20)
    await _select(hass, "forced_discharge")
    await advance(hass, frozen, 30)
    assert _float(hass, GRID_POWER) == pytest.approx(-500, abs=0.5)
    assert _float(hass, CURTAILED) > 1000

    await _switch(hass, EXPORT_SWITCH, False)
    await advance(hass, frozen, 10)
    assert _float(hass, GRID_POWER) < -3000
    assert _float(hass, CURTAILED) == 0


async def test_settings_survive_a_reload(
    located_hass: HomeAssistant, rooftop: str, config_entry: MockConfigEntry
) -> None:
    hass = located_hass
    await _number(hass, RESERVE, 42)
    await _number(hass, CHARGE_POWER, 1500)
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert _device(config_entry).reserve_soc == 42
    assert _float(hass, RESERVE) == 42
    assert _float(hass, CHARGE_POWER) == 1500


# --- bad input: a translated error, nothing written, the device's value shown ------------------


@pytest.mark.parametrize(
    ("entity_id", "value"),
    [(RESERVE, 2), (CHARGE_LIMIT, 101), (EXPORT_LIMIT, 5600), (CHARGE_POWER, 6000), (TARGET, 1)],
)
async def test_out_of_range(
    located_hass: HomeAssistant,
    rooftop: str,
    config_entry: MockConfigEntry,
    entity_id: str,
    value: float,
) -> None:
    before, shown = _device(config_entry), _state(located_hass, entity_id)
    with pytest.raises(ServiceValidationError):
        await _number(located_hass, entity_id, value)
    assert _device(config_entry) == before
    assert _state(located_hass, entity_id) == shown


async def test_seconds_are_refused_not_dropped(
    located_hass: HomeAssistant, rooftop: str, config_entry: MockConfigEntry
) -> None:
    """An automation may send seconds; the device keeps whole minutes: say so, write nothing."""
    hass = located_hass
    before = _device(config_entry)
    with pytest.raises(ServiceValidationError) as caught:
        await _time(hass, CHARGE_1_START, "01:15:42")
    assert caught.value.translation_key == "window_whole_minutes"
    assert _device(config_entry) == before
    assert _state(hass, CHARGE_1_START) == "00:00:00"


async def test_end_before_start(
    located_hass: HomeAssistant, rooftop: str, config_entry: MockConfigEntry
) -> None:
    hass = located_hass
    await _time(hass, CHARGE_1_END, "05:00:00")
    before = _device(config_entry)
    with pytest.raises(ServiceValidationError) as caught:
        await _time(hass, CHARGE_1_START, "06:00:00")
    assert caught.value.translation_key == "window_end_before_start"
    assert caught.value.translation_placeholders == {"start": "06:00", "end": "05:00"}
    assert _device(config_entry) == before
    assert _state(hass, CHARGE_1_START) == "00:00:00"


async def test_overlapping_windows(
    located_hass: HomeAssistant, rooftop: str, config_entry: MockConfigEntry
) -> None:
    hass = located_hass
    await _time(hass, CHARGE_1_END, "05:00:00")
    await _time(hass, CHARGE_1_START, "02:00:00")
    await _switch(hass, CHARGE_1, True)
    await _time(hass, DISCHARGE_1_END, "06:00:00")
    await _time(hass, DISCHARGE_1_START, "04:00:00")  # disabled: may overlap
    before = _device(config_entry)
    with pytest.raises(ServiceValidationError) as caught:
        await _switch(hass, DISCHARGE_1, True)
    assert caught.value.translation_key == "windows_overlap"
    assert _device(config_entry) == before
    assert _state(hass, DISCHARGE_1) == "off"


async def test_offline_system_writes_nothing(
    located_hass: HomeAssistant,
    rooftop: str,
    config_entry: MockConfigEntry,
) -> None:
    hass = located_hass
    await _action(hass, "simulate_outage", device_id=rooftop, duration={"minutes": 5})
    before = _device(config_entry)
    with pytest.raises(HomeAssistantError) as caught:
        await _number(hass, RESERVE, 50)
    assert caught.value.translation_key == "system_unavailable"
    assert _device(config_entry) == before
    with pytest.raises(HomeAssistantError) as caught:
        await _select(hass, "forced_charge")
    assert caught.value.translation_key == "system_unavailable"


async def test_rate_limit(
    located_hass: HomeAssistant,
    rooftop: str,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
) -> None:
    hass = located_hass
    for value in (20, 30, 40):
        await _number(hass, RESERVE, value)
    await _number(hass, RESERVE, 40)  # unchanged: nothing written, nothing counted
    with pytest.raises(HomeAssistantError) as caught:
        await _number(hass, RESERVE, 50)
    assert caught.value.translation_key == "setting_rate_limited"
    assert caught.value.translation_placeholders == {"max_writes": "3", "seconds": "60"}
    assert _device(config_entry).reserve_soc == 40
    assert _float(hass, RESERVE) == 40
    await _number(hass, CHARGE_LIMIT, 80)  # another setting has its own budget

    await advance(hass, frozen, 61)
    await _number(hass, RESERVE, 50)
    assert _float(hass, RESERVE) == 50


async def test_a_forced_mode_whose_target_is_already_reached(
    located_hass: HomeAssistant, rooftop: str
) -> None:
    hass = located_hass
    events = async_capture_events(hass, EVENT_DISPATCH)
    # The target is 100 % by default; the battery is at about 50 %.
    with pytest.raises(ServiceValidationError) as caught:
        await _select(hass, "forced_discharge")
    assert caught.value.translation_key == "target_soc_reached"
    assert events == []
    assert _state(hass, MODE) == "self_consumption"


# --- one state with the actions ------------------------------------------------------------


async def test_an_action_moves_the_select_and_the_numbers(
    located_hass: HomeAssistant, rooftop: str
) -> None:
    hass = located_hass
    await _action(hass, "charge", device_id=rooftop, power=3000, target_soc=95, duration=30)
    assert _state(hass, MODE) == "forced_charge"
    assert _float(hass, CHARGE_POWER) == 3000
    assert _float(hass, TARGET) == 95
    assert _float(hass, DURATION) == 30
    assert _float(hass, DISCHARGE_POWER) == 5000  # untouched


async def test_the_select_ends_a_command_an_action_started(
    located_hass: HomeAssistant, rooftop: str
) -> None:
    hass = located_hass
    events = async_capture_events(hass, EVENT_DISPATCH)
    await _action(hass, "discharge", device_id=rooftop, power=2000, target_soc=20, duration=60)
    assert _state(hass, MODE) == "forced_discharge"
    await _select(hass, "self_consumption")
    assert [event.data["command"] for event in events] == ["discharge", "stop"]
    assert _state(hass, MODE) == "self_consumption"
    assert _state(hass, MODE_SENSOR) == "self_consumption"


async def test_the_select_sends_the_numbers(
    located_hass: HomeAssistant, rooftop: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    events = async_capture_events(hass, EVENT_DISPATCH)
    await _number(hass, DISCHARGE_POWER, 2000)
    await _number(hass, TARGET, 20)
    await _number(hass, DURATION, 45)
    assert events == []  # values for the next command: nothing sent yet

    await _select(hass, "forced_discharge")
    assert _state(hass, MODE) == "forced_discharge"
    assert _state(hass, MODE_SENSOR) == "forced_discharge"
    event = events[-1].data
    assert (event["command"], event["power"], event["target_soc"], event["duration"]) == (
        "discharge",
        2000,
        20,
        45,
    )
    await advance(hass, frozen, 5)
    assert _float(hass, BATTERY_POWER) == 2000

    # Changing the running command's power sends it again.
    await _number(hass, DISCHARGE_POWER, 1500)
    assert events[-1].data["power"] == 1500
    await advance(hass, frozen, 5)
    assert _float(hass, BATTERY_POWER) == 1500
    # The charge power belongs to another command: kept, nothing sent.
    await _number(hass, CHARGE_POWER, 1000)
    assert len(events) == 2


async def test_the_select_follows_the_device_when_a_command_ends(
    located_hass: HomeAssistant, rooftop: str, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    await _action(hass, "charge", device_id=rooftop, power=3000, target_soc=100, duration=1)
    assert _state(hass, MODE) == "forced_charge"
    await advance(hass, frozen, 70)
    assert _state(hass, MODE) == "self_consumption"


async def test_a_charge_window_runs_on_the_devices_clock(
    located_hass: HomeAssistant, rooftop: str, frozen: FrozenDateTimeFactory
) -> None:
    """A window set from Home Assistant charges from the grid when its time comes."""
    hass = located_hass
    await _number(hass, CHARGE_LIMIT, 90)
    await _time(hass, CHARGE_1_END, "11:30:00")
    await _time(hass, CHARGE_1_START, "11:01:00")
    await _switch(hass, CHARGE_1, True)
    await advance(hass, frozen, 30)
    assert _float(hass, BATTERY_POWER) > -5000
    await advance(hass, frozen, 60)
    assert _float(hass, BATTERY_POWER) == -5000  # full power, PV and grid
    assert _state(hass, MODE) == "self_consumption"


# --- AlphaESS: the battery controls follow the model, against the real Modbus fake ----------


def _alphaess_entry(port: int, model: str) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="AlphaESS",
        unique_id="AL7001021060321",
        data={"source": "modbus", "host": "127.0.0.1", "port": port, "unit_id": 85, "model": model},
        options={"update_interval": 10, "tariff": 0.85, "co2_factor": 0.5},
    )


@pytest.mark.usefixtures("socket_enabled")
async def test_alphaess_battery_mode_is_read_back_from_the_unit(hass: HomeAssistant) -> None:
    async with FakeAlphaEss() as fake:
        entry = _alphaess_entry(fake.port, "standard")
        await setup_entry(hass, entry)
        registry = er.async_get(hass)
        select = registry.async_get_entity_id(
            "select", DOMAIN, f"{entry.unique_id}_battery_mode_control"
        )
        target = registry.async_get_entity_id(
            "number", DOMAIN, f"{entry.unique_id}_command_target_soc"
        )
        assert select is not None
        assert target is not None
        assert _state(hass, select) == "self_consumption"

        await _number(hass, target, 95)
        await _select(hass, "forced_charge", select)
        # On the wire: dispatch on, and the select shows what the unit reads back.
        assert fake.get("dispatch_start") == 1
        assert _state(hass, select) == "forced_charge"
        await _select(hass, "self_consumption", select)
        assert fake.get("dispatch_start") == 0
        assert _state(hass, select) == "self_consumption"
        assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("socket_enabled")
async def test_smile_t10_has_no_battery_controls(hass: HomeAssistant) -> None:
    """The SMILE-T10 takes no remote dispatch: no select, no command numbers."""
    async with FakeAlphaEss() as fake:
        entry = _alphaess_entry(fake.port, "smile-t10")
        await setup_entry(hass, entry)
        keys = {
            e.unique_id.removeprefix(f"{entry.unique_id}_")
            for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        }
        assert "battery_soc" in keys  # it has a battery …
        assert not keys & {  # … but nothing to command it with
            "battery_mode_control",
            "forced_charge_power",
            "forced_discharge_power",
            "command_target_soc",
            "command_duration",
        }
        assert await hass.config_entries.async_unload(entry.entry_id)


# --- a device that takes the write but does not apply it ---------------------------------------


async def _set_up_as[H: SimulatedSystem](
    hass: HomeAssistant, entry: MockConfigEntry, house: type[H]
) -> H:
    """Set ``entry`` up with ``house`` as its simulated system; that system."""
    with patch("custom_components.sunstream.sources.SimulatedSystem", house):
        await setup_entry(hass, entry)
    source = entry.runtime_data.coordinator.source
    assert isinstance(source, house)
    return source


class _IgnoringHouse(SimulatedSystem):
    """A simulated house whose device acknowledges setting writes and keeps its old values.

    What an AlphaESS unit is reported to do with dispatch writes (docs/devices-and-limits.md):
    the source notices on read-back and raises CommandFailed; or the link drops mid-write.
    """

    link_down = False

    async def async_write_setting(self, change: SettingChange) -> None:
        if self.link_down:
            raise SourceUnavailable(Reason.TIMEOUT)
        raise CommandFailed("setting_not_applied", setting=change.setting.value)


async def test_a_write_the_device_ignores(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    source = await _set_up_as(hass, config_entry, _IgnoringHouse)
    for attempt in range(3):
        with pytest.raises(HomeAssistantError) as caught:
            await _number(hass, RESERVE, 50 + attempt)
        assert type(caught.value) is HomeAssistantError  # the system's doing, not the input's
        assert caught.value.translation_key == "setting_not_applied"
        assert _float(hass, RESERVE) == 10  # what the device still holds
    # Each of those reached the device: the budget is spent.
    with pytest.raises(HomeAssistantError) as caught:
        await _number(hass, RESERVE, 60)
    assert caught.value.translation_key == "setting_rate_limited"

    source.link_down = True
    with pytest.raises(HomeAssistantError) as caught:
        await _number(hass, CHARGE_LIMIT, 70)
    assert caught.value.translation_key == "system_unavailable"
    assert _float(hass, CHARGE_LIMIT) == 100


# --- a device that stops listing a setting ------------------------------------------------


class _ForgettingHouse(SimulatedSystem):
    """A simulated house whose device stops keeping its battery settings for a while.

    What a WiNet gateway does once a second hybrid appears, or an AlphaESS unit
    whose settings register read back nothing: the spec shrinks under the entities.
    """

    forgets = False

    @property
    def settings_spec(self) -> SettingsSpec:
        spec = super().settings_spec
        if not self.forgets:
            return spec
        export = spec.ranges[Setting.EXPORT_LIMIT]
        return replace(spec, ranges={Setting.EXPORT_LIMIT: export}, windows=frozenset())


async def test_a_setting_the_device_stops_keeping_turns_unavailable(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    source = await _set_up_as(hass, config_entry, _ForgettingHouse)
    assert _float(hass, RESERVE) == 10
    source.forgets = True
    await advance(hass, frozen, 60)
    for entity_id in (RESERVE, CHARGE_LIMIT, CHARGE_1, CHARGE_1_START):
        assert _state(hass, entity_id) == "unavailable", entity_id
    state = hass.states.get(RESERVE)
    assert state is not None
    assert state.attributes["max"] == 100  # the last range the device listed
    assert _state(hass, EXPORT_LIMIT) != "unavailable"

    source.forgets = False
    await advance(hass, frozen, 60)
    assert _float(hass, RESERVE) == 10

"""Device settings and battery controls through a real Home Assistant, against the fakes.

The AlphaESS fake is a real pymodbus server, the WiNet fake a real WebSocket
gateway; both honour the writes. Every assertion on a write looks at the
fake's own registers or parameters and its write counters, and every value
an entity shows must be the one the device reads back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import time, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from pymodbus.constants import ExcCodes
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.sunstream.const import DOMAIN
from custom_components.sunstream.pysunstream.alphaess.registers import (
    BY_KEY,
    CHARGE_WINDOWS_BIT,
    DISCHARGE_WINDOWS_BIT,
    TIME_PERIOD_CONTROL,
    WINDOW_REGISTERS,
)
from custom_components.sunstream.pysunstream.controls import Setting
from sunstream_fakes.alphaess_fake import FakeAlphaEss
from sunstream_fakes.winet_fake import FakeWinet

from .conftest import (
    entry_options,
    select_option as _select,
    set_number as _number,
    set_switch as _switch,
    set_time as _time,
    setup_entry,
    winet_entry,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

ALPHAESS_SERIAL = "AL7001021060321"
WINET_SERIAL = "B2302107654"  # the fake gateway's /about/list serial
INVERTER = 1  # the fake gateway's hybrid inverter (dev_id)

CONTROL_PLATFORMS = [Platform.NUMBER, Platform.SELECT, Platform.SWITCH, Platform.TIME]
SETTING_KEYS = {
    "reserve_soc",
    "charge_limit_soc",
    "export_limit",
    "export_limit_enabled",
    *(f"{w.value}_{edge}" for w in Setting if "window" in w.value for edge in ("start", "end")),
    *(f"{w.value}_enabled" for w in Setting if "window" in w.value),
}
BATTERY_KEYS = {
    "battery_mode_control",
    "forced_charge_power",
    "forced_discharge_power",
    "command_target_soc",
    "command_duration",
}


class Entities:
    """The entity ids of one system's controls, by entity description key."""

    def __init__(self, hass: HomeAssistant, entry: MockConfigEntry) -> None:
        self.hass = hass
        self.entry = entry

    def keys(self) -> set[str]:
        """The keys of every control entity the system has."""
        return {
            e.unique_id.removeprefix(f"{self.entry.unique_id}_")
            for e in er.async_entries_for_config_entry(er.async_get(self.hass), self.entry.entry_id)
            if e.domain in {"number", "select", "switch", "time"}
        }

    def id(self, domain: str, key: str) -> str:
        entity_id = er.async_get(self.hass).async_get_entity_id(
            domain, DOMAIN, f"{self.entry.unique_id}_{key}"
        )
        assert entity_id is not None, (domain, key, sorted(self.keys()))
        return entity_id

    def state(self, domain: str, key: str) -> str:
        state = self.hass.states.get(self.id(domain, key))
        assert state is not None
        return state.state

    def attributes(self, domain: str, key: str) -> dict[str, Any]:
        state = self.hass.states.get(self.id(domain, key))
        assert state is not None
        return dict(state.attributes)

    async def reload(self) -> None:
        """Reload the entry (a one-client unit may count the old connection a moment)."""
        for _ in range(3):
            await self.hass.config_entries.async_reload(self.entry.entry_id)
            await self.hass.async_block_till_done()
            if self.entry.state is ConfigEntryState.LOADED:
                return
            await asyncio.sleep(0.2)
        assert self.entry.state is ConfigEntryState.LOADED


# --- AlphaESS ------------------------------------------------------------------------------------


def _alphaess_entry(fake: FakeAlphaEss, model: str) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="AlphaESS",
        unique_id=ALPHAESS_SERIAL,
        entry_id="01SUNSTREAMALPHAESS000000000",
        data={
            "source": "modbus",
            "host": "127.0.0.1",
            "port": fake.port,
            "unit_id": 85,
            "model": model,
        },
        options=entry_options(update_interval=10),
    )


@pytest.fixture
def model() -> str:
    """The AlphaESS model the fake plays."""
    return "standard"


@pytest.fixture
async def unit(model: str) -> AsyncIterator[FakeAlphaEss]:
    async with FakeAlphaEss(model=model) as fake:
        yield fake


@pytest.fixture
async def alphaess(hass: HomeAssistant, unit: FakeAlphaEss, model: str) -> AsyncIterator[Entities]:
    entry = _alphaess_entry(unit, model)
    await setup_entry(hass, entry)
    yield Entities(hass, entry)
    await hass.config_entries.async_unload(entry.entry_id)


def _address(key: str) -> int:
    return BY_KEY[key].address


async def test_alphaess_settings_exist_with_the_units_limits(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    # 0x0800 at 100 % is "no limit": there is no export-limit switch.
    assert alphaess.keys() == (SETTING_KEYS - {"export_limit_enabled"}) | BATTERY_KEYS
    limits = {
        key: (a["min"], a["max"], a["step"], a["unit_of_measurement"])
        for key in ("reserve_soc", "charge_limit_soc", "export_limit")
        if (a := alphaess.attributes("number", key))
    }
    assert limits == {
        "reserve_soc": (4, 100, 1, "%"),
        "charge_limit_soc": (10, 100, 1, "%"),
        "export_limit": (0, 100, 1, "%"),  # % of the installed PV power
    }
    # What the unit holds, as the fixture seeds it.
    assert float(alphaess.state("number", "reserve_soc")) == unit.setting_soc(
        "discharge_cutoff_soc"
    )
    assert float(alphaess.state("number", "charge_limit_soc")) == 50
    assert float(alphaess.state("number", "export_limit")) == 100
    assert alphaess.state("time", "discharge_window_1_start") == "00:00:00"
    assert alphaess.state("switch", "discharge_window_1_enabled") == "off"
    assert alphaess.state("select", "battery_mode_control") == "self_consumption"
    assert not unit.writes  # nothing written on start-up


async def test_alphaess_numbers_are_written_and_read_back(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    hass = alphaess.hass
    await _number(hass, alphaess.id("number", "reserve_soc"), 25)
    await _number(hass, alphaess.id("number", "charge_limit_soc"), 90)
    await _number(hass, alphaess.id("number", "export_limit"), 40)
    assert unit.get("discharge_cutoff_soc") == 25
    assert unit.get("charge_cutoff_soc") == 90
    assert unit.get("max_feed_in") == 40
    assert unit.export_limit_w == 0.4 * 11000  # the unit curtails to it
    assert float(alphaess.state("number", "reserve_soc")) == 25
    assert float(alphaess.state("number", "charge_limit_soc")) == 90
    assert float(alphaess.state("number", "export_limit")) == 40

    # The same value again writes nothing: the settings live in flash.
    written = dict(unit.writes)
    await _number(hass, alphaess.id("number", "reserve_soc"), 25)
    await _number(hass, alphaess.id("number", "export_limit"), 40)
    assert unit.writes == written
    assert unit.writes_to("discharge_cutoff_soc") == 1


async def test_alphaess_window_is_written_into_the_units_schedule(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    hass = alphaess.hass
    regs = WINDOW_REGISTERS[Setting.DISCHARGE_WINDOW_1]
    await _time(hass, alphaess.id("time", "discharge_window_1_end"), "19:30:00")
    await _time(hass, alphaess.id("time", "discharge_window_1_start"), "17:00:00")
    await _switch(hass, alphaess.id("switch", "discharge_window_1_enabled"), True)
    assert unit.window(Setting.DISCHARGE_WINDOW_1) == (time(17), time(19, 30))
    assert unit.get(TIME_PERIOD_CONTROL.key) == DISCHARGE_WINDOWS_BIT
    assert alphaess.state("time", "discharge_window_1_start") == "17:00:00"
    assert alphaess.state("time", "discharge_window_1_end") == "19:30:00"
    assert alphaess.state("switch", "discharge_window_1_enabled") == "on"
    # Its partner is empty: it does not run though the bit is shared.
    assert alphaess.state("switch", "discharge_window_2_enabled") == "off"
    # Three writes of one window: the first is the end, which moved later.
    assert unit.writes[regs.end_hour.address] == 1
    assert unit.writes[regs.start_hour.address] == 1
    assert unit.writes[TIME_PERIOD_CONTROL.address] == 1

    written = dict(unit.writes)
    await _switch(hass, alphaess.id("switch", "discharge_window_1_enabled"), True)
    await _time(hass, alphaess.id("time", "discharge_window_1_end"), "19:30:00")
    assert unit.writes == written  # unchanged: nothing written, nothing counted


async def test_alphaess_charge_window_switched_off(alphaess: Entities, unit: FakeAlphaEss) -> None:
    hass = alphaess.hass
    await _time(hass, alphaess.id("time", "charge_window_1_end"), "05:00:00")
    await _switch(hass, alphaess.id("switch", "charge_window_1_enabled"), True)
    assert unit.get(TIME_PERIOD_CONTROL.key) == CHARGE_WINDOWS_BIT
    await _switch(hass, alphaess.id("switch", "charge_window_1_enabled"), False)
    # The last running window of its kind: the bit goes, the times stay.
    assert unit.get(TIME_PERIOD_CONTROL.key) == 0
    assert unit.window(Setting.CHARGE_WINDOW_1) == (time(0), time(5))
    assert alphaess.state("switch", "charge_window_1_enabled") == "off"
    assert alphaess.state("time", "charge_window_1_end") == "05:00:00"


async def test_alphaess_overnight_window_from_the_app_can_be_switched_off(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    """A window across midnight set in the AlphaESS app: shown as the unit holds it.

    Sunstream cannot set such a window (its end precedes its start), but
    switching it off must always be possible: its times are not changed.
    """
    hass = alphaess.hass
    regs = WINDOW_REGISTERS[Setting.CHARGE_WINDOW_1]
    unit.set(regs.start_hour.key, 22)
    unit.set(regs.end_hour.key, 6)
    unit.set(TIME_PERIOD_CONTROL.key, CHARGE_WINDOWS_BIT)
    await alphaess.reload()  # read the settings again (and write nothing)
    assert not unit.writes
    assert alphaess.state("switch", "charge_window_1_enabled") == "on"
    assert alphaess.state("time", "charge_window_1_start") == "22:00:00"
    assert alphaess.state("time", "charge_window_1_end") == "06:00:00"

    await _switch(hass, alphaess.id("switch", "charge_window_1_enabled"), False)
    assert unit.get(TIME_PERIOD_CONTROL.key) == 0
    assert unit.window(Setting.CHARGE_WINDOW_1) == (time(22), time(6))  # the app's times kept
    assert alphaess.state("switch", "charge_window_1_enabled") == "off"
    assert dict(unit.writes) == {TIME_PERIOD_CONTROL.address: 1}

    # Switching it on again would run a window Sunstream cannot set.
    with pytest.raises(ServiceValidationError) as caught:
        await _switch(hass, alphaess.id("switch", "charge_window_1_enabled"), True)
    assert caught.value.translation_key == "window_end_before_start"
    assert dict(unit.writes) == {TIME_PERIOD_CONTROL.address: 1}
    assert alphaess.state("switch", "charge_window_1_enabled") == "off"


async def test_alphaess_refused_write_shows_the_units_value(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    hass = alphaess.hass
    unit.refuse_writes[_address("discharge_cutoff_soc")] = ExcCodes.ILLEGAL_VALUE
    with pytest.raises(HomeAssistantError) as caught:
        await _number(hass, alphaess.id("number", "reserve_soc"), 30)
    assert not isinstance(caught.value, ServiceValidationError)  # the unit's doing
    assert caught.value.translation_key == "setting_refused"
    assert "at 0x0850" in (caught.value.translation_placeholders or {})["detail"]
    assert unit.get("discharge_cutoff_soc") == 10
    assert float(alphaess.state("number", "reserve_soc")) == 10


async def test_alphaess_ignored_write_shows_the_units_value(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    hass = alphaess.hass
    unit.ignore_writes.add(_address("charge_cutoff_soc"))
    with pytest.raises(HomeAssistantError) as caught:
        await _number(hass, alphaess.id("number", "charge_limit_soc"), 80)
    assert not isinstance(caught.value, ServiceValidationError)
    assert caught.value.translation_key == "setting_not_applied"
    assert unit.writes_to("charge_cutoff_soc") == 1
    assert float(alphaess.state("number", "charge_limit_soc")) == 50


async def test_alphaess_export_limit_during_a_dispatch(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    """The unit ignores 0x0800 while a dispatch runs: said so, and the entity keeps 100 %."""
    hass = alphaess.hass
    await _number(hass, alphaess.id("number", "command_target_soc"), 95)
    await _select(hass, alphaess.id("select", "battery_mode_control"), "forced_charge")
    assert unit.get("dispatch_start") == 1
    with pytest.raises(HomeAssistantError) as caught:
        await _number(hass, alphaess.id("number", "export_limit"), 50)
    assert caught.value.translation_key == "export_limit_during_dispatch"
    assert unit.get("max_feed_in") == 100
    assert float(alphaess.state("number", "export_limit")) == 100


@pytest.mark.parametrize(
    ("key", "value"),
    [("reserve_soc", 3), ("charge_limit_soc", 101), ("export_limit", 120)],
)
async def test_alphaess_out_of_range_writes_nothing(
    alphaess: Entities, unit: FakeAlphaEss, key: str, value: float
) -> None:
    shown = alphaess.state("number", key)
    with pytest.raises(ServiceValidationError):
        await _number(alphaess.hass, alphaess.id("number", key), value)
    assert not unit.writes
    assert alphaess.state("number", key) == shown


async def test_alphaess_end_before_start_writes_nothing(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    hass = alphaess.hass
    await _time(hass, alphaess.id("time", "charge_window_2_end"), "05:00:00")
    written = dict(unit.writes)
    with pytest.raises(ServiceValidationError) as caught:
        await _time(hass, alphaess.id("time", "charge_window_2_start"), "06:00:00")
    assert caught.value.translation_key == "window_end_before_start"
    assert caught.value.translation_placeholders == {"start": "06:00", "end": "05:00"}
    assert unit.writes == written
    assert alphaess.state("time", "charge_window_2_start") == "00:00:00"


async def test_alphaess_overlapping_windows_write_nothing(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    hass = alphaess.hass
    await _time(hass, alphaess.id("time", "charge_window_1_end"), "06:00:00")
    await _switch(hass, alphaess.id("switch", "charge_window_1_enabled"), True)
    await _time(hass, alphaess.id("time", "discharge_window_1_end"), "07:00:00")
    written = dict(unit.writes)
    with pytest.raises(ServiceValidationError) as caught:
        await _switch(hass, alphaess.id("switch", "discharge_window_1_enabled"), True)
    assert caught.value.translation_key == "windows_overlap"
    assert unit.writes == written
    assert alphaess.state("switch", "discharge_window_1_enabled") == "off"


async def test_alphaess_offline_writes_nothing(alphaess: Entities, unit: FakeAlphaEss) -> None:
    hass = alphaess.hass
    await unit.set_link_down(True)
    await alphaess.entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    # Still shown (the last reading) so that a change can be refused aloud.
    assert float(alphaess.state("number", "reserve_soc")) == 10
    for call in (
        _number(hass, alphaess.id("number", "reserve_soc"), 50),
        _switch(hass, alphaess.id("switch", "charge_window_1_enabled"), True),
        _select(hass, alphaess.id("select", "battery_mode_control"), "forced_charge"),
    ):
        with pytest.raises(HomeAssistantError) as caught:
            await call
        assert caught.value.translation_key == "system_unavailable"
    await unit.set_link_down(False)
    assert not unit.writes


async def test_alphaess_writes_are_rate_limited(alphaess: Entities, unit: FakeAlphaEss) -> None:
    hass = alphaess.hass
    for value in (20, 30, 40):
        await _number(hass, alphaess.id("number", "reserve_soc"), value)
    with pytest.raises(HomeAssistantError) as caught:
        await _number(hass, alphaess.id("number", "reserve_soc"), 50)
    assert caught.value.translation_key == "setting_rate_limited"
    assert unit.writes_to("discharge_cutoff_soc") == 3
    assert unit.get("discharge_cutoff_soc") == 40
    assert float(alphaess.state("number", "reserve_soc")) == 40


async def test_alphaess_nothing_written_on_a_reload(alphaess: Entities, unit: FakeAlphaEss) -> None:
    await _number(alphaess.hass, alphaess.id("number", "reserve_soc"), 20)
    unit.writes.clear()
    await alphaess.reload()
    assert not unit.writes
    assert float(alphaess.state("number", "reserve_soc")) == 20


async def test_alphaess_battery_mode_dispatches_the_command_numbers(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    hass = alphaess.hass
    await _number(hass, alphaess.id("number", "forced_discharge_power"), 1500)
    await _number(hass, alphaess.id("number", "command_target_soc"), 20)
    assert unit.get("dispatch_start") == 0  # values for the next command: nothing sent
    await _select(hass, alphaess.id("select", "battery_mode_control"), "forced_discharge")
    # On the wire: 32000 + W discharges.
    assert unit.get("dispatch_start") == 1
    assert unit.get("dispatch_active_power") == 32000 + 1500
    assert alphaess.state("select", "battery_mode_control") == "forced_discharge"
    await _select(hass, alphaess.id("select", "battery_mode_control"), "self_consumption")
    assert unit.get("dispatch_start") == 0
    assert alphaess.state("select", "battery_mode_control") == "self_consumption"
    # A command is no setting: the cut-offs in flash were not touched.
    assert unit.writes_to("discharge_cutoff_soc") == unit.writes_to("charge_cutoff_soc") == 0


@pytest.mark.parametrize("model", ["smile-b3"])
async def test_smile_b3_settings_are_written_with_fc16(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    """The SMILE-B3 never answers FC06: its single registers go out as FC16."""
    await _number(alphaess.hass, alphaess.id("number", "reserve_soc"), 30)
    assert unit.get("discharge_cutoff_soc") == 30
    assert [r.function_code for r in unit.requests if r.function_code in (6, 16)] == [16]
    assert float(alphaess.state("number", "reserve_soc")) == 30


@pytest.mark.parametrize("model", ["smile-t10"])
async def test_smile_t10_keeps_settings_at_its_scale_without_dispatch(
    alphaess: Entities, unit: FakeAlphaEss
) -> None:
    """Settings at 0.1 %/bit; no remote dispatch, so no battery mode and no command numbers."""
    assert alphaess.keys() == SETTING_KEYS - {"export_limit_enabled"}
    assert float(alphaess.state("number", "reserve_soc")) == 10  # raw 100
    await _number(alphaess.hass, alphaess.id("number", "reserve_soc"), 35)
    assert unit.get("discharge_cutoff_soc") == 350
    assert float(alphaess.state("number", "reserve_soc")) == 35


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("platform", CONTROL_PLATFORMS)
async def test_alphaess_snapshot(
    hass: HomeAssistant,
    unit: FakeAlphaEss,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    entry = _alphaess_entry(unit, "standard")
    with patch("custom_components.sunstream.PLATFORMS", [platform]):
        await setup_entry(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    await hass.config_entries.async_unload(entry.entry_id)


# --- WiNet -----------------------------------------------------------------------------------


@pytest.fixture
async def gateway() -> AsyncIterator[FakeWinet]:
    async with FakeWinet("sh10rt") as fake:
        yield fake


@pytest.fixture
async def winet(hass: HomeAssistant, gateway: FakeWinet) -> AsyncIterator[Entities]:
    entry = winet_entry(gateway.ports.ws, WINET_SERIAL)
    await setup_entry(hass, entry)
    yield Entities(hass, entry)
    await hass.config_entries.async_unload(entry.entry_id)


def _param(gateway: FakeWinet, addr: int) -> str:
    return gateway.param_value(INVERTER, addr)


async def _forced_charging_on_in_the_app(winet: Entities, gateway: FakeWinet) -> None:
    """Forced charging switched on in the Sungrow app; Sunstream reads it on a reload."""
    gateway.set_param(INVERTER, 33208, "170")
    await winet.reload()


async def test_winet_settings_exist_with_the_inverters_limits(
    winet: Entities, gateway: FakeWinet
) -> None:
    # No reserve SOC and no discharge windows among the inverter's parameters.
    assert (
        winet.keys()
        == {
            "charge_limit_soc",
            "export_limit",
            "export_limit_enabled",
            *(f"charge_window_{n}_{edge}" for n in (1, 2) for edge in ("start", "end", "enabled")),
        }
        | BATTERY_KEYS
    )
    export = winet.attributes("number", "export_limit")
    # The listed range of the feed-in value (kW, 2 decimals) in W: the SH10RT's 10 kW.
    assert (export["min"], export["max"], export["step"], export["unit_of_measurement"]) == (
        0,
        10000,
        10,
        "W",
    )
    charge = winet.attributes("number", "charge_limit_soc")
    assert (charge["min"], charge["max"], charge["step"]) == (0, 100, 1)
    assert winet.state("switch", "export_limit_enabled") == "off"
    # Hidden under switches that are off, never listed: nothing to show yet.
    assert winet.state("number", "export_limit") == STATE_UNAVAILABLE
    assert winet.state("number", "charge_limit_soc") == STATE_UNAVAILABLE
    assert winet.state("switch", "charge_window_1_enabled") == "off"  # can be switched on
    assert gateway.param_requests == []  # nothing written on start-up


async def test_winet_export_limit_is_written_and_read_back(
    winet: Entities, gateway: FakeWinet
) -> None:
    hass = winet.hass
    await _switch(hass, winet.id("switch", "export_limit_enabled"), True)
    assert _param(gateway, 31221) == "170"
    assert winet.state("switch", "export_limit_enabled") == "on"
    # Listed now that limiting is on: the inverter's value, its rating.
    assert float(winet.state("number", "export_limit")) == 10000
    await _number(hass, winet.id("number", "export_limit"), 1500)
    assert _param(gateway, 31222) == "1.50"
    assert float(winet.state("number", "export_limit")) == 1500
    await _number(hass, winet.id("number", "export_limit"), 1500)
    await _switch(hass, winet.id("switch", "export_limit_enabled"), True)
    assert dict(gateway.param_writes) == {31221: 1, 31222: 1}

    await _switch(hass, winet.id("switch", "export_limit_enabled"), False)
    assert _param(gateway, 31221) == "85"
    assert winet.state("switch", "export_limit_enabled") == "off"
    assert float(winet.state("number", "export_limit")) == 1500  # hidden: as listed last
    with pytest.raises(ServiceValidationError) as caught:
        await _number(hass, winet.id("number", "export_limit"), 2000)
    assert caught.value.translation_key == "winet_export_limit_off"
    assert dict(gateway.param_writes) == {31221: 2, 31222: 1}


async def test_winet_charge_window_is_written_into_the_inverter(
    winet: Entities, gateway: FakeWinet, freezer: FrozenDateTimeFactory
) -> None:
    hass = winet.hass
    await _forced_charging_on_in_the_app(winet, gateway)
    assert gateway.param_requests == []  # the reload wrote nothing
    # The capture's window 1: 04:30–04:59, target 15 %.
    assert winet.state("time", "charge_window_1_start") == "04:30:00"
    assert winet.state("time", "charge_window_1_end") == "04:59:00"
    assert winet.state("switch", "charge_window_1_enabled") == "on"
    assert float(winet.state("number", "charge_limit_soc")) == 15

    await _time(hass, winet.id("time", "charge_window_1_end"), "05:30:00")
    await _time(hass, winet.id("time", "charge_window_1_start"), "01:00:00")
    await _number(hass, winet.id("number", "charge_limit_soc"), 90)
    assert [_param(gateway, a) for a in (33210, 33211, 33212, 33213)] == ["1", "0", "5", "30"]
    assert (_param(gateway, 33214), _param(gateway, 33219)) == ("90", "90")
    assert _param(gateway, 33209) == "1"  # a daily window
    assert winet.state("time", "charge_window_1_start") == "01:00:00"
    assert winet.state("time", "charge_window_1_end") == "05:30:00"
    assert float(winet.state("number", "charge_limit_soc")) == 90

    # An end of day is the inverter's 24:00, shown as 23:59.
    await _time(hass, winet.id("time", "charge_window_2_end"), "23:59:00")
    assert (_param(gateway, 33217), _param(gateway, 33218)) == ("24", "0")
    assert winet.state("time", "charge_window_2_end") == "23:59:00"

    requests = len(gateway.param_requests)
    await _time(hass, winet.id("time", "charge_window_1_start"), "01:00:00")
    await _number(hass, winet.id("number", "charge_limit_soc"), 90)
    assert len(gateway.param_requests) == requests  # unchanged: nothing sent

    # One switch runs both windows. Both windows' times are stored with it
    # (33208): the three writes above used that store's budget for a minute.
    freezer.tick(timedelta(minutes=1))
    await _switch(hass, winet.id("switch", "charge_window_2_enabled"), False)
    assert _param(gateway, 33208) == "85"
    assert winet.state("switch", "charge_window_1_enabled") == "off"
    assert winet.state("time", "charge_window_1_start") == "01:00:00"  # as listed last


async def test_winet_charge_window_switched_on_from_home_assistant(
    winet: Entities, gateway: FakeWinet
) -> None:
    """Forced charging off since start-up: the times are hidden, never listed.

    The window shows as off and can be switched on; the inverter then lists
    the times it keeps, which the entities show. Its times cannot be set
    while they are hidden: said so, nothing written.
    """
    hass = winet.hass
    assert winet.state("switch", "charge_window_1_enabled") == "off"
    assert winet.state("time", "charge_window_1_start") == "unknown"
    with pytest.raises(ServiceValidationError) as caught:
        await _time(hass, winet.id("time", "charge_window_1_start"), "01:00:00")
    assert caught.value.translation_key == "winet_forced_charge_off"
    assert gateway.param_requests == []

    await _switch(hass, winet.id("switch", "charge_window_1_enabled"), True)
    assert (_param(gateway, 33208), _param(gateway, 33209)) == ("170", "1")
    assert dict(gateway.param_writes) == {33208: 1, 33209: 1}  # the times are the inverter's
    assert winet.state("switch", "charge_window_1_enabled") == "on"
    assert winet.state("switch", "charge_window_2_enabled") == "on"  # one switch runs both
    assert winet.state("time", "charge_window_1_start") == "04:30:00"
    assert winet.state("time", "charge_window_1_end") == "04:59:00"
    assert float(winet.state("number", "charge_limit_soc")) == 15


async def test_winet_refused_write_shows_the_inverters_value(
    winet: Entities, gateway: FakeWinet
) -> None:
    hass = winet.hass
    gateway.faults.param_reject = 1
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, winet.id("switch", "export_limit_enabled"), True)
    assert not isinstance(caught.value, ServiceValidationError)
    assert caught.value.translation_key == "setting_refused"
    assert _param(gateway, 31221) == "85"
    assert winet.state("switch", "export_limit_enabled") == "off"

    gateway.faults.param_ignore = 1
    with pytest.raises(HomeAssistantError) as caught:
        await _switch(hass, winet.id("switch", "export_limit_enabled"), True)
    assert caught.value.translation_key == "setting_not_applied"
    assert winet.state("switch", "export_limit_enabled") == "off"
    assert gateway.param_writes[31221] == 2


async def test_winet_bad_input_writes_nothing(winet: Entities, gateway: FakeWinet) -> None:
    hass = winet.hass
    await _forced_charging_on_in_the_app(winet, gateway)
    with pytest.raises(ServiceValidationError) as caught:
        await _time(hass, winet.id("time", "charge_window_1_start"), "06:00:00")
    assert caught.value.translation_key == "window_end_before_start"
    with pytest.raises(ServiceValidationError):
        await _number(hass, winet.id("number", "charge_limit_soc"), 101)
    assert gateway.param_requests == []
    assert winet.state("time", "charge_window_1_start") == "04:30:00"
    assert float(winet.state("number", "charge_limit_soc")) == 15


async def test_winet_overnight_window_from_the_app_can_be_switched_off(
    winet: Entities, gateway: FakeWinet
) -> None:
    hass = winet.hass
    gateway.set_param(INVERTER, 33210, "22")
    gateway.set_param(INVERTER, 33212, "6")
    await _forced_charging_on_in_the_app(winet, gateway)
    assert winet.state("time", "charge_window_1_start") == "22:30:00"
    assert winet.state("time", "charge_window_1_end") == "06:59:00"
    await _switch(hass, winet.id("switch", "charge_window_1_enabled"), False)
    assert _param(gateway, 33208) == "85"
    assert dict(gateway.param_writes) == {33208: 1}
    assert winet.state("switch", "charge_window_1_enabled") == "off"


async def test_winet_offline_writes_nothing(winet: Entities, gateway: FakeWinet) -> None:
    hass = winet.hass
    gateway.faults.drop = 100
    await winet.entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    for call in (
        _switch(hass, winet.id("switch", "export_limit_enabled"), True),
        _select(hass, winet.id("select", "battery_mode_control"), "forced_charge"),
    ):
        with pytest.raises(HomeAssistantError) as caught:
            await call
        assert caught.value.translation_key == "system_unavailable"
    gateway.faults.drop = 0
    assert gateway.param_requests == []


async def test_winet_battery_mode_dispatches_through_the_inverter(
    winet: Entities, gateway: FakeWinet
) -> None:
    hass = winet.hass
    await _number(hass, winet.id("number", "forced_charge_power"), 3000)
    await _number(hass, winet.id("number", "command_target_soc"), 95)
    assert gateway.param_requests == []  # values for the next command: nothing sent
    await _select(hass, winet.id("select", "battery_mode_control"), "forced_charge")
    ems = gateway.ems[INVERTER]
    assert (ems.mode, ems.command, ems.power_kw) == (2, 0xAA, 3.0)
    assert winet.state("select", "battery_mode_control") == "forced_charge"
    # Read back from the inverter's parameters, as the Mode sensor shows it.
    mode = hass.states.get("sensor.winet_s_battery_mode")
    assert mode is not None
    assert mode.state == "forced_charge"
    await _select(hass, winet.id("select", "battery_mode_control"), "self_consumption")
    assert (ems.mode, ems.command) == (0, 0xCC)
    assert winet.state("select", "battery_mode_control") == "self_consumption"


async def test_winet_nothing_written_on_a_reload(winet: Entities, gateway: FakeWinet) -> None:
    await _switch(winet.hass, winet.id("switch", "export_limit_enabled"), True)
    written = dict(gateway.param_writes)
    await winet.reload()
    assert dict(gateway.param_writes) == written
    assert winet.state("switch", "export_limit_enabled") == "on"

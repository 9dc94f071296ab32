"""Every inverter and every value, through a real Home Assistant against the fakes.

A WiNet gateway with two hybrid inverters, a PV-only one and an EV charger
(``sunstream_fakes/winet_data/multi.json``); an AlphaESS unit with six PV
strings on three phases (``sunstream_fakes/alphaess_data/six_strings.json``).
Values are compared with what the fakes serve.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunstream.const import DOMAIN
from sunstream_fakes.alphaess_fake import FakeAlphaEss
from sunstream_fakes.winet_fake import FakeWinet, load_fixture

from . import test_alphaess as alphaess, test_winet as winet
from .conftest import enable_sensors

pytestmark = pytest.mark.usefixtures("socket_enabled")

CHARGE_POWER, DISCHARGE_POWER = "I18N_CONFIG_KEY_3907", "I18N_CONFIG_KEY_3921"


@pytest.fixture
async def site() -> AsyncIterator[FakeWinet]:
    async with FakeWinet("multi") as gateway:
        yield gateway


def _truth(fake: FakeWinet, dev_id: int, name: str) -> float:
    """What the fake serves for ``name`` on ``dev_id``, as a number."""
    for points in fake.data[str(dev_id)].values():
        for point in points:
            if isinstance(point, dict) and point.get("data_name") == name:
                return float(point["data_value"])
    raise KeyError(name)


def _device(fake: FakeWinet, dev_id: int) -> dict[str, Any]:
    return next(d for d in fake.devices if d["dev_id"] == dev_id)


def _state(hass: HomeAssistant, entry: MockConfigEntry, part: str | None, key: str) -> str:
    """The state of sensor ``key`` on the system (``part`` None) or on one part."""
    uid = f"{entry.unique_id}_{key}" if part is None else f"{entry.unique_id}_{part}_{key}"
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, uid)
    assert entity_id is not None, uid
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


def _part(fake: FakeWinet, dev_id: int) -> str:
    return f"winet_{_device(fake, dev_id)['dev_sn']}"


def _device_id(hass: HomeAssistant, entry: MockConfigEntry, part: str) -> str:
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"{entry.unique_id}_{part}"), config_entry_id=entry.entry_id
    )
    assert device is not None, part
    return device.id


async def test_each_inverter_shows_its_own_and_the_system_the_sums(
    hass: HomeAssistant, site: FakeWinet
) -> None:
    entry = await winet._entry(hass, site)
    hybrids, pv_only = (1, 3), 4
    total = 0.0
    for dev_id in (*hybrids, pv_only):
        part = _part(site, dev_id)
        power = _truth(site, dev_id, "I18N_COMMON_TOTAL_DCPOWER") * 1000
        total += power
        assert float(_state(hass, entry, part, "pv_power")) == pytest.approx(power)
        temperature = _truth(site, dev_id, "I18N_COMMON_AIR_TEM_INSIDE_MACHINE")
        assert float(_state(hass, entry, part, "inverter_temperature")) == temperature
    assert float(_state(hass, entry, None, "pv_power")) == pytest.approx(total)
    assert _state(hass, entry, _part(site, 3), "status") == "standby"
    assert _state(hass, entry, _part(site, 3), "running_state") == "standby"
    assert _state(hass, entry, _part(site, 1), "status") == "producing"
    # A PV-only inverter reports its lifetime under another key; the system adds it in.
    assert float(_state(hass, entry, _part(site, pv_only), "pv_energy_total")) == 20411.9
    expected = sum(
        _truth(site, dev_id, "I18N_COMMON_PV_TOTAL_ENERGY_GENERATION") for dev_id in hybrids
    ) + _truth(site, pv_only, "I18N_COMMON_TOTAL_YIELD")
    assert float(_state(hass, entry, None, "pv_energy_total")) == pytest.approx(expected)
    # Each hybrid's battery device: its own power and state of charge.
    for dev_id in hybrids:
        battery = f"{_part(site, dev_id)}_battery"
        soc = _truth(site, dev_id, "I18N_COMMON_BATTERY_SOC")
        assert float(_state(hass, entry, battery, "battery_soc")) == soc
        power = _truth(site, dev_id, DISCHARGE_POWER) - _truth(site, dev_id, CHARGE_POWER)
        assert float(_state(hass, entry, battery, "battery_power")) == pytest.approx(power * 1000)
        voltage = _truth(site, dev_id, "I18N_COMMON_BATTERY_VOLTAGE")
        assert float(_state(hass, entry, battery, "battery_voltage")) == voltage
        health = _truth(site, dev_id, "I18N_COMMON_BATTARY_HEALTH")
        assert float(_state(hass, entry, battery, "battery_soh")) == health
    # A health or voltage does not add up: the sums' battery device has neither.
    registry = er.async_get(hass)
    for key in ("battery_soh", "battery_voltage"):
        assert registry.async_get_entity_id("sensor", DOMAIN, f"{entry.unique_id}_{key}") is None
    assert float(_state(hass, entry, None, "battery_capacity")) == pytest.approx(9.6 + 12.8)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_each_inverter_shows_its_ac_output_and_its_battery(
    hass: HomeAssistant, site: FakeWinet
) -> None:
    """Reactive and apparent power, power factor, DC bus, battery temperature and current."""
    entry = await winet._entry(hass, site)
    ac = {
        # name, key, scale (kvar → var, kVA → VA)
        "reactive_power": ("I18N_COMMON_TOTAL_REACTIVE_POWER", 1000),
        "apparent_power": ("I18N_COMMON_TOTAL_APPARENT_POWER", 1000),
        "power_factor": ("I18N_COMMON_TOTAL_POWER_FACTOR", 1),
        "dc_bus_voltage": ("I18N_COMMON_BUS_VOLTAGE", 1),
    }
    hybrids = (1, 3)
    # Values of one inverter that do not add up: none on the system.
    registry = er.async_get(hass)
    for key in (*ac, "battery_temperature", "battery_current"):
        assert registry.async_get_entity_id("sensor", DOMAIN, f"{entry.unique_id}_{key}") is None
    await enable_sensors(
        hass,
        entry,
        *(
            f"{_part(site, dev_id)}{on}_{key}"
            for dev_id in hybrids
            for on, keys in (("", ac), ("_battery", ("battery_current",)))
            for key in keys
        ),
    )
    for dev_id in hybrids:
        part = _part(site, dev_id)
        for key, (name, scale) in ac.items():
            shown = float(_state(hass, entry, part, key))
            assert shown == pytest.approx(_truth(site, dev_id, name) * scale), (part, key)
        battery = f"{part}_battery"
        temperature = _truth(site, dev_id, "I18N_COMMON_BATTERY_TEMPERATURE")
        assert float(_state(hass, entry, battery, "battery_temperature")) == temperature
        # Sent unsigned; signed like the battery power (+ discharge, − charge).
        current = _truth(site, dev_id, "I18N_COMMON_BATTERY_CURRENT")
        charging = _truth(site, dev_id, CHARGE_POWER) > 0
        expected = -current if charging else current
        assert float(_state(hass, entry, battery, "battery_current")) == expected
    await hass.config_entries.async_unload(entry.entry_id)


async def test_strings_and_phases_are_there_disabled(hass: HomeAssistant, site: FakeWinet) -> None:
    entry = await winet._entry(hass, site)
    registry = er.async_get(hass)
    pv_only = _part(site, 4)
    wanted = [f"pv{n}_{q}" for n in range(1, 5) for q in ("power", "voltage", "current")]
    for key in wanted:
        entity_id = registry.async_get_entity_id(
            "sensor", DOMAIN, f"{entry.unique_id}_{pv_only}_{key}"
        )
        assert entity_id is not None, key
        assert registry.async_get(entity_id).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    phases = [f"grid_{q}_{p}" for p in "abc" for q in ("voltage", "current")]
    for key in phases:
        entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{entry.unique_id}_{key}")
        assert entity_id is not None, key
        registry.async_update_entity(entity_id, disabled_by=None)
    # Enabled, after a reload they show what the first inverter measures.
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    sent = zip(
        "abc",
        ("I18N_COMMONUA", "I18N_COMMON_UB", "I18N_COMMON_UC"),
        ("I18N_COMMON_FRAGMENT_RUN_TYPE1", "I18N_COMMON_IB", "I18N_COMMON_IC"),
        strict=True,
    )
    for phase, voltage, current in sent:
        assert float(_state(hass, entry, None, f"grid_voltage_{phase}")) == _truth(site, 1, voltage)
        assert float(_state(hass, entry, None, f"grid_current_{phase}")) == _truth(site, 1, current)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_ev_charger_is_a_part(hass: HomeAssistant, site: FakeWinet) -> None:
    entry = await winet._entry(hass, site)
    charger = _part(site, 6)
    # Each phase's charging voltage × current: the captured reply has no power.
    power = sum(
        _truth(site, 6, f"I18N_COMMON_PHASE_{phase}_CHARGING_VOLTAGE_{v}")
        * _truth(site, 6, f"I18N_COMMON_PHASE_{phase}_CHARGING_CURRENT_{i}")
        for phase, v, i in (
            ("A", "JYAXKVKA", "KMPZTBUO"),
            ("B", "QMUJVJCG", "SAHGKWBA"),
            ("C", "HYSJHJXA", "PESAFOPL"),
        )
    )
    assert float(_state(hass, entry, charger, "charger_power")) == pytest.approx(power, abs=0.1)
    # Delivered in Wh, shown in kWh.
    energy = _truth(site, 6, "I18N_COMMON__TOTAL_DELIVERED_ENERGY_BMUDODSV") / 1000
    assert float(_state(hass, entry, charger, "charger_energy_total")) == pytest.approx(energy)
    # Each phase's voltage and current: there, disabled by default.
    registry = er.async_get(hass)
    for key in ("charger_voltage_a", "charger_current_c"):
        uid = f"{entry.unique_id}_{charger}_{key}"
        entity_id = registry.async_get_entity_id("sensor", DOMAIN, uid)
        assert entity_id is not None, uid
        entity = registry.async_get(entity_id)
        assert entity is not None
        assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    # No state and no day's energy among the captured keys: no such sensors.
    for key in ("charger_status", "charger_energy_today"):
        uid = f"{entry.unique_id}_{charger}_{key}"
        assert registry.async_get_entity_id("sensor", DOMAIN, uid) is None
    device = dr.async_get(hass).async_get(_device_id(hass, entry, charger))
    assert device is not None
    assert device.name == f"{entry.title} EV charger"
    assert (device.model, device.serial_number) == ("AC011E-01", _device(site, 6)["dev_sn"])
    await hass.config_entries.async_unload(entry.entry_id)


async def test_commands_reach_the_named_hybrid_only(hass: HomeAssistant, site: FakeWinet) -> None:
    entry = await winet._entry(hass, site)
    first = _device_id(hass, entry, f"{_part(site, 1)}_battery")
    second = _device_id(hass, entry, f"{_part(site, 3)}_battery")
    await winet._act(hass, "charge", device_id=second, power=3000, target_soc=90, duration=30)
    assert (site.ems[3].mode, site.ems[3].command, site.ems[3].power_kw) == (2, 0xAA, 3.0)
    assert (site.ems[1].mode, site.ems[1].command) == (0, 0xCC)  # untouched
    assert [r["devid_array"] for r in site.param_requests] == [["3"]]
    battery = f"{_part(site, 3)}_battery"
    assert float(_state(hass, entry, battery, "battery_power")) == -3000.0
    # The action and that battery's own control numbers are one state; the other's keep theirs.
    charge_power = hass.states.get(_control(hass, entry, "number", battery, "forced_charge_power"))
    first_power = hass.states.get(
        _control(hass, entry, "number", f"{_part(site, 1)}_battery", "forced_charge_power")
    )
    assert charge_power is not None
    assert first_power is not None
    assert (float(charge_power.state), float(first_power.state)) == (3000.0, 10000.0)
    # The other one discharges; stopping it leaves the first charging.
    await winet._act(hass, "discharge", device_id=first, power=2000, target_soc=20, duration=30)
    assert (site.ems[1].mode, site.ems[1].command) == (2, 0xBB)
    await winet._act(hass, "stop", device_id=first)
    assert (site.ems[1].mode, site.ems[1].command) == (0, 0xCC)
    assert (site.ems[3].mode, site.ems[3].command) == (2, 0xAA)
    # Each held command ends on its own inverter at its own target.
    site.set_value(3, "real_battery", "I18N_COMMON_BATTERY_SOC", "90.0")
    await winet._poll(hass, entry)
    assert (site.ems[3].mode, site.ems[3].command) == (0, 0xCC)
    assert [r["devid_array"] for r in site.param_requests] == [["3"], ["1"], ["1"], ["3"]]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_each_hybrids_battery_shows_its_own_mode(
    hass: HomeAssistant, site: FakeWinet
) -> None:
    entry = await winet._entry(hass, site)
    first, second = f"{_part(site, 1)}_battery", f"{_part(site, 3)}_battery"
    # Read back from each inverter's own energy-management parameters.
    assert _state(hass, entry, first, "battery_mode") == "self_consumption"
    assert _state(hass, entry, second, "battery_mode") == "self_consumption"
    await winet._act(
        hass,
        "charge",
        device_id=_device_id(hass, entry, second),
        power=3000,
        target_soc=90,
        duration=30,
    )
    await winet._poll(hass, entry)
    assert _state(hass, entry, second, "battery_mode") == "forced_charge"
    assert _state(hass, entry, first, "battery_mode") == "self_consumption"
    # A mode set elsewhere (the Sungrow app) shows too once the settings are read again.
    site.ems[1].mode, site.ems[1].command = 2, 0xBB
    await hass.services.async_call(
        "select",
        "select_option",
        {
            "entity_id": _control(hass, entry, "select", second, "battery_mode_control"),
            "option": "self_consumption",
        },
        blocking=True,
    )
    await winet._poll(hass, entry)
    assert _state(hass, entry, first, "battery_mode") == "forced_discharge"
    assert _state(hass, entry, second, "battery_mode") == "self_consumption"
    # The system's battery device holds the sums only: no mode of its own.
    registry = er.async_get(hass)
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{entry.unique_id}_battery_mode") is None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_command_to_the_system_is_refused_with_several_hybrids(
    hass: HomeAssistant, site: FakeWinet
) -> None:
    entry = await winet._entry(hass, site)
    with pytest.raises(ServiceValidationError) as refused:
        await winet._act(
            hass,
            "charge",
            device_id=winet._gateway_device(hass, entry),
            power=1000,
            target_soc=90,
            duration=30,
        )
    assert refused.value.translation_key == "dispatch_ambiguous"
    assert "battery device" in str(refused.value)
    assert site.requests["param"] == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_inverter_that_comes_and_goes(hass: HomeAssistant) -> None:
    fixture = load_fixture("multi")
    sg = next(d for d in fixture["devices"] if d["dev_type"] == 21)
    fixture["devices"].remove(sg)
    data = fixture["data"].pop(str(sg["dev_id"]))
    async with FakeWinet(fixture) as gateway:
        entry = await winet._entry(hass, gateway)
        uid = f"{entry.unique_id}_winet_{sg['dev_sn']}_pv_power"
        registry = er.async_get(hass)
        assert registry.async_get_entity_id("sensor", DOMAIN, uid) is None
        gateway.add_device(dict(sg), data)
        # The dongle's device list is re-read every 30 cycles; one more for the sensors.
        for _ in range(32):
            await winet._poll(hass, entry)
        entity_id = registry.async_get_entity_id("sensor", DOMAIN, uid)
        assert entity_id is not None
        assert float(hass.states.get(entity_id).state) == 2950.0
        gateway.set_link(sg["dev_id"], 0)
        for _ in range(31):
            await winet._poll(hass, entry)
        assert hass.states.get(entity_id).state == STATE_UNAVAILABLE
        gateway.remove_device(sg["dev_id"])
        for _ in range(31):
            await winet._poll(hass, entry)
        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        assert not any(d.serial_number == sg["dev_sn"] for d in devices)
        assert registry.async_get_entity_id("sensor", DOMAIN, uid) is None
        await hass.config_entries.async_unload(entry.entry_id)


async def test_alphaess_six_strings_and_three_phases(hass: HomeAssistant) -> None:
    async with FakeAlphaEss(fixture="six_strings") as unit:
        entry = await alphaess._entry(hass, unit)
        registry = er.async_get(hass)
        keys = [f"pv{n}_power" for n in range(1, 7)] + [
            f"grid_{q}_{p}" for p in "abc" for q in ("voltage", "current", "power")
        ]
        for key in keys:
            entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{entry.unique_id}_{key}")
            assert entity_id is not None, key
            assert registry.async_get(entity_id).disabled_by is er.RegistryEntryDisabler.INTEGRATION
            registry.async_update_entity(entity_id, disabled_by=None)
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        # Let the strings produce, then hold still so what it serves stays put.
        unit.step()
        unit.speed = 0.0
        await alphaess._poll(hass, entry)
        assert all(unit.get(f"pv{n}_power") > 0 for n in range(1, 7))
        for n in range(1, 7):
            assert float(_state(hass, entry, None, f"pv{n}_power")) == unit.get(f"pv{n}_power")
        for phase in "abc":
            # 0x0014.. 1 V, 0x0017.. 0.1 A, 0x001B.. 1 W (+ import).
            assert float(_state(hass, entry, None, f"grid_voltage_{phase}")) == unit.get(
                f"grid_voltage_{phase}"
            )
            assert float(_state(hass, entry, None, f"grid_current_{phase}")) == pytest.approx(
                unit.get(f"grid_current_{phase}") / 10
            )
            assert float(_state(hass, entry, None, f"grid_power_{phase}")) == unit.get(
                f"grid_power_{phase}"
            )
        await hass.config_entries.async_unload(entry.entry_id)


async def test_alphaess_capacity_stored_energy_and_today(hass: HomeAssistant) -> None:
    """Capacity from 0x0119 (0.1 kWh), stored = SOC × capacity, today's energies derived."""
    async with FakeAlphaEss() as unit:
        unit.speed = 0.0  # hold still: what it serves is what it holds
        entry = await alphaess._entry(hass, unit)
        capacity = unit.get("battery_capacity") / 10
        soc = unit.get("battery_soc") / 10
        assert float(_state(hass, entry, None, "battery_capacity")) == capacity
        assert float(_state(hass, entry, None, "battery_stored_energy")) == pytest.approx(
            round(soc / 100 * capacity, 3)
        )
        # The unit counts no day: today starts at the first reading (docs/entities.md).
        before = unit.get("grid_import_energy")
        for key in ("grid_import_energy_today", "battery_charge_energy_today"):
            assert float(_state(hass, entry, None, key)) == 0.0
        unit.set("grid_import_energy", before + 150)  # 0.01 kWh per step: 1.5 kWh
        await alphaess._poll(hass, entry)
        assert float(_state(hass, entry, None, "grid_import_energy_today")) == pytest.approx(1.5)
        # House energy by balance: today's stands; the fixture's lifetime counters (a B3
        # whose AC-coupled PV the unit does not count) give less than nothing, so unknown.
        lifetime = (
            unit.get("system_pv_energy") / 10
            + unit.get("grid_import_energy") / 100
            + unit.get("battery_discharge_energy") / 10
            - unit.get("grid_export_energy") / 100
            - unit.get("battery_charge_energy") / 10
        )
        assert lifetime < 0
        assert _state(hass, entry, None, "load_energy_total") == "unknown"
        assert float(_state(hass, entry, None, "load_energy_today")) == pytest.approx(1.5)
        await hass.config_entries.async_unload(entry.entry_id)


def _control(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, part: str, key: str
) -> str:
    uid = f"{entry.unique_id}_{part}_{key}"
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, uid)
    assert entity_id is not None, uid
    return entity_id


async def test_each_hybrids_battery_has_its_own_controls(
    hass: HomeAssistant, site: FakeWinet
) -> None:
    entry = await winet._entry(hass, site)
    registry = er.async_get(hass)
    # The system's battery device holds the sums only: a command to it could go to neither.
    sums = _device_id(hass, entry, "battery")
    on_sums = {e.domain for e in er.async_entries_for_device(registry, sums)}
    assert on_sums == {"sensor"}
    first, second = f"{_part(site, 1)}_battery", f"{_part(site, 3)}_battery"
    power = _control(hass, entry, "number", second, "forced_charge_power")
    state = hass.states.get(power)
    assert state is not None
    assert state.attributes["max"] == 8000.0  # the SH8.0RT's rating, not the SH10RT's
    await hass.services.async_call(
        "number", "set_value", {"entity_id": power, "value": 2500}, blocking=True
    )
    mode = _control(hass, entry, "select", second, "battery_mode_control")
    await hass.services.async_call(
        "select", "select_option", {"entity_id": mode, "option": "forced_charge"}, blocking=True
    )
    assert (site.ems[3].mode, site.ems[3].command, site.ems[3].power_kw) == (2, 0xAA, 2.5)
    assert (site.ems[1].mode, site.ems[1].command) == (0, 0xCC)  # the other hybrid untouched
    # Each select shows what its own inverter's parameters read back.
    assert hass.states.get(mode).state == "forced_charge"
    first_mode = _control(hass, entry, "select", first, "battery_mode_control")
    assert hass.states.get(first_mode).state == "self_consumption"
    # The first battery's values are its own: its charge power is still its rating.
    other = hass.states.get(_control(hass, entry, "number", first, "forced_charge_power"))
    assert other is not None
    assert float(other.state) == 10000.0
    await hass.services.async_call(
        "select", "select_option", {"entity_id": mode, "option": "self_consumption"}, blocking=True
    )
    assert (site.ems[3].mode, site.ems[3].command) == (0, 0xCC)
    assert hass.states.get(mode).state == "self_consumption"
    assert [r["devid_array"] for r in site.param_requests] == [["3"], ["3"]]
    await hass.config_entries.async_unload(entry.entry_id)


FORCED_CHARGING, TARGET_SOC_1, TARGET_SOC_2 = 33208, 33214, 33219


def _number(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


async def test_each_hybrids_settings_are_its_own(hass: HomeAssistant, site: FakeWinet) -> None:
    # Forced charging on in the app on both inverters: their targets are listed.
    for dev_id in (1, 3):
        site.set_param(dev_id, FORCED_CHARGING, "170")
    site.set_param(1, TARGET_SOC_1, "40")
    site.set_param(1, TARGET_SOC_2, "40")
    entry = await winet._entry(hass, site)
    registry = er.async_get(hass)
    first, second = f"{_part(site, 1)}_battery", f"{_part(site, 3)}_battery"
    # Each hybrid's settings sit on its battery device; the system's devices have none.
    for part in (first, second):
        on_battery = {
            (e.domain, e.unique_id.removeprefix(f"{entry.unique_id}_{part}_"))
            for e in er.async_entries_for_device(registry, _device_id(hass, entry, part))
        }
        assert {
            ("number", "charge_limit_soc"),
            ("number", "export_limit"),
            ("switch", "export_limit_enabled"),
            ("switch", "charge_window_1_enabled"),
            ("time", "charge_window_2_end"),
        } <= on_battery
    gateway = winet._gateway_device(hass, entry)
    controls = {"number", "switch", "time", "select"}
    assert not [e for e in er.async_entries_for_device(registry, gateway) if e.domain in controls]
    assert registry.async_get_entity_id("number", DOMAIN, f"{entry.unique_id}_export_limit") is None
    # Read from each inverter's own parameters, nothing written at start-up.
    limit_1 = _control(hass, entry, "number", first, "charge_limit_soc")
    limit_2 = _control(hass, entry, "number", second, "charge_limit_soc")
    assert (_number(hass, limit_1), _number(hass, limit_2)) == (40, 15)
    export_2 = hass.states.get(_control(hass, entry, "number", second, "export_limit"))
    assert export_2 is not None
    assert export_2.attributes["max"] == 8000.0  # the SH8.0RT's listed range
    assert site.param_requests == []
    # Inverter 2's charge limit reaches inverter 2 only, and is read back from it.
    await hass.services.async_call(
        "number", "set_value", {"entity_id": limit_2, "value": 90}, blocking=True
    )
    assert (site.param_value(3, TARGET_SOC_1), site.param_value(3, TARGET_SOC_2)) == ("90", "90")
    assert (site.param_value(1, TARGET_SOC_1), site.param_value(1, TARGET_SOC_2)) == ("40", "40")
    assert site.device_param_writes == {3: {TARGET_SOC_1: 1, TARGET_SOC_2: 1}}
    assert [r["devid_array"] for r in site.param_requests] == [["3"]]
    assert (_number(hass, limit_1), _number(hass, limit_2)) == (40, 90)
    # What the app sets on inverter 2 shows on inverter 2's entity, read back.
    site.set_param(3, TARGET_SOC_1, "70")
    site.set_param(3, TARGET_SOC_2, "70")
    await hass.services.async_call(
        "switch",
        "turn_on",
        {"entity_id": _control(hass, entry, "switch", first, "export_limit_enabled")},
        blocking=True,
    )
    assert (site.param_value(1, 31221), site.param_value(3, 31221)) == ("170", "85")
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert _number(hass, limit_2) == 70
    assert (
        hass.states.get(_control(hass, entry, "switch", first, "export_limit_enabled")).state
        == "on"
    )
    assert (
        hass.states.get(_control(hass, entry, "switch", second, "export_limit_enabled")).state
        == "off"
    )
    # Nothing written by the reload either.
    assert site.device_param_writes == {3: {TARGET_SOC_1: 1, TARGET_SOC_2: 1}, 1: {31221: 1}}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_each_hybrid_has_its_own_write_budget(hass: HomeAssistant, site: FakeWinet) -> None:
    for dev_id in (1, 3):
        site.set_param(dev_id, FORCED_CHARGING, "170")
    entry = await winet._entry(hass, site)
    first, second = f"{_part(site, 1)}_battery", f"{_part(site, 3)}_battery"
    limit_1 = _control(hass, entry, "number", first, "charge_limit_soc")
    limit_2 = _control(hass, entry, "number", second, "charge_limit_soc")

    async def set_limit(entity_id: str, value: float) -> None:
        await hass.services.async_call(
            "number", "set_value", {"entity_id": entity_id, "value": value}, blocking=True
        )

    for value in (60, 70, 80):
        await set_limit(limit_2, value)
    with pytest.raises(HomeAssistantError) as caught:
        await set_limit(limit_2, 90)
    assert caught.value.translation_key == "setting_rate_limited"
    assert _number(hass, limit_2) == 80  # the device's value, not the refused one
    # The other inverter's targets are other parameters: a budget of their own.
    await set_limit(limit_1, 90)
    assert site.param_value(1, TARGET_SOC_1) == "90"
    assert site.device_param_writes[3][TARGET_SOC_1] == 3
    assert site.device_param_writes[1][TARGET_SOC_1] == 1
    await hass.config_entries.async_unload(entry.entry_id)

"""AlphaESS units in Home Assistant, against the fake unit (a real pymodbus server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.sunstream.const import DOMAIN, EVENT_CONNECTIVITY, EVENT_DISPATCH
from custom_components.sunstream.pysunstream.testing.alphaess_fake import FakeAlphaEss

pytestmark = pytest.mark.usefixtures("socket_enabled")

SERIAL = "AL7001021060321"


@pytest.fixture
async def fake() -> AsyncIterator[FakeAlphaEss]:
    async with FakeAlphaEss() as unit:
        yield unit


def _form(fake: FakeAlphaEss, **connection: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "connection": {"port": fake.port, "unit_id": 85, "model": "standard"} | connection,
    }


async def _start(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "alphaess"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "alphaess"
    return str(result["flow_id"])


async def _entry(hass: HomeAssistant, fake: FakeAlphaEss) -> MockConfigEntry:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    if entry.state is not ConfigEntryState.LOADED:
        # A one-client unit may still count the flow's connection for a moment.
        await asyncio.sleep(0.2)
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry  # type: ignore[return-value]


def _battery_device(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry:
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    system = next(d for d in devices if d.via_device_id is None)
    return next(d for d in devices if d.via_device_id == system.id)


def _value(hass: HomeAssistant, suffix: str) -> str:
    states = [s for s in hass.states.async_all("sensor") if s.entity_id.endswith(suffix)]
    assert len(states) == 1, (suffix, [s.entity_id for s in hass.states.async_all("sensor")])
    return states[0].state


async def test_add_unit(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    entry = await _entry(hass, fake)
    assert entry.unique_id == SERIAL
    assert entry.title == f"AlphaESS {SERIAL}"
    assert entry.data["port"] == fake.port
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    system = next(d for d in devices if d.via_device_id is None)
    assert system.serial_number == SERIAL
    battery = _battery_device(hass, entry)
    assert battery.via_device_id == system.id
    # Energy sensors exist and carry the unit's counters.
    assert float(_value(hass, "_grid_import_energy")) > 0
    assert float(_value(hass, "_state_of_charge")) == pytest.approx(fake.get("battery_soc") * 0.1)


async def test_unit_twice_aborts(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    await _entry(hass, fake)
    await hass.config_entries.async_unload(hass.config_entries.async_entries(DOMAIN)[0].entry_id)
    await asyncio.sleep(0.1)
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("connection", "error"),
    [({"port": 0}, "port_out_of_range"), ({"unit_id": 300}, "unit_id_out_of_range")],
)
async def test_bad_connection_settings(
    hass: HomeAssistant, fake: FakeAlphaEss, connection: dict[str, int], error: str
) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake, **connection))
    assert result["errors"] == {"base": error}
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_unit_held_by_another_client(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    from custom_components.sunstream.pysunstream.alphaess import AlphaEssSource

    holder = AlphaEssSource("127.0.0.1", fake.port)
    await holder.identify()
    try:
        flow_id = await _start(hass)
        result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"base": "unit_busy"}
    finally:
        await holder.async_close()


async def test_unreachable(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    port = fake.port
    await fake.stop()
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"host": "127.0.0.1", "connection": {"port": port}}
    )
    # Nothing listens: the unit refuses, as one held by another client does.
    assert result["errors"] == {"base": "unit_busy"}
    assert result["description_placeholders"]["reason"] == "refused"


async def test_charge_discharge_stop(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    entry = await _entry(hass, fake)
    battery = _battery_device(hass, entry)
    events = async_capture_events(hass, EVENT_DISPATCH)

    await hass.services.async_call(
        DOMAIN,
        "charge",
        {"device_id": battery.id, "power": 2000, "target_soc": 90, "duration": 30},
        blocking=True,
    )
    # On the wire: 32000 − W in the dispatch block, as the documents say.
    assert fake.get("dispatch_active_power") == 32000 - 2000
    assert _value(hass, "_mode") == "forced_charge"

    await hass.services.async_call(
        DOMAIN,
        "discharge",
        {"device_id": battery.id, "power": 1500, "target_soc": 20, "duration": 30},
        blocking=True,
    )
    assert fake.get("dispatch_active_power") == 32000 + 1500

    await hass.services.async_call(DOMAIN, "stop", {"device_id": battery.id}, blocking=True)
    assert fake.get("dispatch_start") == 0
    assert [e.data["command"] for e in events] == ["charge", "discharge", "stop"]
    assert {e.data["source"] for e in events} == {"modbus"}


async def test_command_beyond_the_units_power(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    entry = await _entry(hass, fake)
    limits = entry.runtime_data.source.battery_limits
    assert limits is not None
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "charge",
            {
                "device_id": _battery_device(hass, entry).id,
                "power": limits.max_charge_w + 1,
                "target_soc": 90,
                "duration": 30,
            },
            blocking=True,
        )
    assert err.value.translation_key == "power_out_of_range"


async def test_link_drop_and_return(
    hass: HomeAssistant, fake: FakeAlphaEss, issue_registry: ir.IssueRegistry
) -> None:
    """Seed 001: Modbus drops, entities go unavailable, events fire, it comes back."""
    entry = await _entry(hass, fake)
    coordinator = entry.runtime_data
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    connection = next(
        s.entity_id for s in hass.states.async_all("binary_sensor") if "connection" in s.entity_id
    )
    port = fake.port
    await fake.stop()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(connection).state == STATE_OFF
    assert _value(hass, "_grid_import_energy") == STATE_UNAVAILABLE
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN, "stop", {"device_id": _battery_device(hass, entry).id}, blocking=True
        )
    assert err.value.translation_key == "system_unavailable"

    async with FakeAlphaEss(port=port):
        for _ in range(50):
            await asyncio.sleep(0.1)
            await coordinator.async_refresh()
            await hass.async_block_till_done()
            if hass.states.get(connection).state == STATE_ON:
                break
        assert hass.states.get(connection).state == STATE_ON
        assert [(e.data["source"], e.data["connected"]) for e in events] == [
            ("modbus", False),
            ("modbus", True),
        ]
        await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_same_unit(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    entry = await _entry(hass, fake)
    await hass.config_entries.async_unload(entry.entry_id)
    await asyncio.sleep(0.1)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "alphaess"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _form(fake))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"


async def test_blank_host(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake) | {"host": " "})
    assert result["errors"] == {"host": "host_required"}


async def test_unit_without_serial(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    """A wrong unit ID on a gateway can answer with empty identity registers."""
    fake.set("ems_serial", "")
    fake.set("inverter_serial", "")
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    assert result["errors"] == {"base": "no_serial"}


async def test_unit_answering_with_modbus_errors(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    """Something at the address speaks Modbus but has none of these registers."""
    fake.illegal |= set(range(0x0600, 0x0800))
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_serial"}


async def test_battery_health_sensors(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    await _entry(hass, fake)
    assert float(_value(hass, "_state_of_health")) == pytest.approx(fake.get("battery_soh") * 0.1)
    assert float(_value(hass, "_highest_cell_temperature")) == pytest.approx(
        fake.get("battery_max_cell_temperature") * 0.1
    )


async def test_unit_held_while_running_raises_repair_issue(
    hass: HomeAssistant, fake: FakeAlphaEss, issue_registry: ir.IssueRegistry
) -> None:
    """Another client takes the unit between our connections: the user is told."""
    from custom_components.sunstream.pysunstream.alphaess import AlphaEssSource

    entry = await _entry(hass, fake)
    await entry.runtime_data.source.async_close()  # our link drops…
    await asyncio.sleep(0.2)  # the unit notices the closed socket
    holder = AlphaEssSource("127.0.0.1", fake.port)
    await holder.identify()  # …and another client grabs the unit
    try:
        await entry.runtime_data.async_refresh()
        await hass.async_block_till_done()
        issue_id = f"busy_{entry.entry_id}"
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    finally:
        await holder.async_close()
    for _ in range(50):
        await asyncio.sleep(0.1)
        await entry.runtime_data.async_refresh()
        await hass.async_block_till_done()
        if entry.runtime_data.last_update_success:
            break
    assert entry.runtime_data.last_update_success
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

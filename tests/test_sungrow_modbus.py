"""Sungrow inverters over Modbus TCP in Home Assistant, against the fake inverter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import logging
import socket
from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.sunstream.const import DOMAIN, EVENT_CONNECTIVITY, EVENT_DISPATCH
from custom_components.sunstream.pysunstream.modbus.registers import Table
from custom_components.sunstream.pysunstream.sungrow.registers import (
    COMMAND_CHARGE,
    COMMAND_DISCHARGE,
    COMMAND_STOP,
    EXPORT_LIMIT_ON,
)
from custom_components.sunstream.shared_modbus import ISSUE
from sunstream_fakes.sungrow_fake import SERIAL, FakeSungrow

from .conftest import (
    add_system,
    assert_battery_current_and_ac_output,
    battery_device,
    config_message,
    enable_sensors,
    sensor_state,
    start_flow,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSungrow]:
    async with FakeSungrow(speed=30) as inverter:
        yield inverter


def _form(at: int, **connection: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "connection": {"port": at, "unit_id": 1, "connection_type": "lan"} | connection,
    }


async def _start(hass: HomeAssistant) -> str:
    return await start_flow(hass, "sungrow_modbus")


async def _entry(hass: HomeAssistant, fake: FakeSungrow, **connection: Any) -> MockConfigEntry:
    return await add_system(hass, "sungrow_modbus", _form(fake.port, **connection))


def _entity(hass: HomeAssistant, domain: str, suffix: str) -> str:
    found = [s.entity_id for s in hass.states.async_all(domain) if s.entity_id.endswith(suffix)]
    assert len(found) == 1, (suffix, [s.entity_id for s in hass.states.async_all(domain)])
    return found[0]


_value = sensor_state
_battery_device = battery_device


async def _command(
    hass: HomeAssistant, entry: MockConfigEntry, service: str, **fields: Any
) -> None:
    await hass.services.async_call(
        DOMAIN,
        service,
        {"device_id": _battery_device(hass, entry).id, **fields},
        blocking=True,
    )


async def _refresh(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_add_inverter(hass: HomeAssistant, fake: FakeSungrow) -> None:
    entry = await _entry(hass, fake)
    assert entry.unique_id == SERIAL
    assert entry.title == "Sungrow SH10RT"
    assert entry.data["connection_type"] == "lan"
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    system = next(d for d in devices if d.via_device_id is None)
    assert system.serial_number == SERIAL
    assert system.model == "SH10RT"  # from the device type code, not typed by the user
    assert system.manufacturer == "Sungrow"
    fake.step()
    # Entities against the inverter's own counters and state.
    assert float(_value(hass, "_grid_import_energy")) == pytest.approx(
        fake.get("grid_import_energy") / 10, abs=0.2
    )
    assert float(_value(hass, "_grid_export_energy")) == pytest.approx(
        fake.get("grid_export_energy") / 10, abs=0.2
    )
    assert float(_value(hass, "_state_of_charge")) == pytest.approx(fake.soc, abs=1)
    assert _value(hass, "_mode") == "self_consumption"
    assert _battery_device(hass, entry).via_device_id == system.id


async def test_battery_and_ac_values(hass: HomeAssistant, fake: FakeSungrow) -> None:
    """Battery temperature and current (signed as the power), reactive power, power factor."""
    entry = await _entry(hass, fake)
    phases = [f"grid_{quantity}_{p}" for p in "abc" for quantity in ("voltage", "current")]
    await enable_sensors(
        hass, entry, "battery_current", "reactive_power", "power_factor", "inverter_power", *phases
    )
    for phase in "abc":
        for quantity in ("voltage", "current"):
            shown = float(_value(hass, f"_grid_{quantity}_phase_{phase}"))
            assert shown == fake.get(f"phase_{phase}_{quantity}") / 10
    assert float(_value(hass, "_battery_temperature")) == fake.get("battery_temperature") / 10
    assert float(_value(hass, "_reactive_power")) == fake.get("reactive_power")
    assert float(_value(hass, "_power_factor")) == fake.get("power_factor") / 1000
    # 13020 is a magnitude, shown with the battery power's sign.
    assert_battery_current_and_ac_output(hass, "_pv_power")


async def test_diagnostics_tell_how_the_inverter_is_read(
    hass: HomeAssistant, fake: FakeSungrow, hass_client: Any
) -> None:
    from pytest_homeassistant_custom_component.components.diagnostics import (
        get_diagnostics_for_config_entry,
    )

    entry = await _entry(hass, fake)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    source = diagnostics["source_diagnostics"]
    assert source["model"] == {"code": "0x0E03", "name": "SH10RT", "family": "sh"}
    assert source["plans"]["realtime/input"] == [[5002, 34], [12999, 48]]
    assert source["unsupported"] == []
    assert SERIAL not in str(diagnostics)


async def test_inverter_twice_aborts(hass: HomeAssistant, fake: FakeSungrow) -> None:
    await _entry(hass, fake)
    await hass.config_entries.async_unload(hass.config_entries.async_entries(DOMAIN)[0].entry_id)
    await asyncio.sleep(0.1)
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake.port))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_configured_address_aborts_without_asking_the_inverter(
    hass: HomeAssistant, fake: FakeSungrow
) -> None:
    await _entry(hass, fake)
    connections, refusals = fake.connections, fake.refusals
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake.port))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert (fake.connections, fake.refusals) == (connections, refusals)


@pytest.mark.parametrize(
    ("connection", "error"),
    [
        ({"port": 0}, "port_out_of_range"),
        ({"unit_id": 300}, "unit_id_out_of_range"),
        # Numbers the form's number box coerces but int() cannot take.
        ({"port": "inf"}, "port_out_of_range"),
        ({"unit_id": "nan"}, "unit_id_out_of_range"),
    ],
)
async def test_bad_connection_settings(
    hass: HomeAssistant, fake: FakeSungrow, connection: dict[str, int | str], error: str
) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake.port, **connection))
    assert result["errors"] == {"base": error}
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake.port))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_blank_host(hass: HomeAssistant, fake: FakeSungrow) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {**_form(fake.port), "host": "  "}
    )
    assert result["errors"] == {"host": "host_required"}


async def test_nothing_listening(hass: HomeAssistant, fake: FakeSungrow) -> None:
    port = fake.port
    await fake.stop()
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(port))
    assert result["errors"] == {"base": "unit_busy"}
    assert result["description_placeholders"]["reason"] == "refused"


async def test_inverter_failing_every_read(hass: HomeAssistant, fake: FakeSungrow) -> None:
    fake.exception = ExcCodes.DEVICE_FAILURE
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake.port))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect_unit"}
    assert "unit" in await config_message(hass, "error", "cannot_connect_unit")


async def test_inverter_without_serial(hass: HomeAssistant, fake: FakeSungrow) -> None:
    fake.set("serial", "")
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake.port))
    assert result["errors"] == {"base": "no_serial"}


async def test_reconfigure_keeps_the_same_inverter(hass: HomeAssistant, fake: FakeSungrow) -> None:
    entry = await _entry(hass, fake)
    # The same address, now said to be a WiNet-S: updated in place, not asked again.
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "sungrow_modbus"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(fake.port, connection_type="winet")
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["connection_type"] == "winet"
    # Another inverter at another address is refused.
    async with FakeSungrow(serial="A2239999999") as other:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(other.port)
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "wrong_unit"
    # The same inverter at a new address is followed.
    async with FakeSungrow() as moved:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(moved.port)
        )
        await hass.async_block_till_done()
        assert result["reason"] == "reconfigure_successful"
        assert entry.data["port"] == moved.port
        await hass.config_entries.async_unload(entry.entry_id)


async def test_charge_discharge_stop(hass: HomeAssistant, fake: FakeSungrow) -> None:
    entry = await _entry(hass, fake)
    events = async_capture_events(hass, EVENT_DISPATCH)
    ems = ("ems_mode", "ems_command", "ems_power")
    # An SH10RT takes the power in % of its 10 kW rating (sungrow/models.py, PowerUnit).
    await _command(hass, entry, "charge", power=2000, target_soc=90, duration=30)
    assert [fake.get(k) for k in ems] == [2, COMMAND_CHARGE, 20]
    assert _value(hass, "_mode") == "forced_charge"

    await _command(hass, entry, "discharge", power=1500, target_soc=20, duration=30)
    assert [fake.get(k) for k in ems] == [2, COMMAND_DISCHARGE, 15]
    await _refresh(hass, entry)
    assert float(_value(hass, "_battery_power")) == pytest.approx(1500)

    await _command(hass, entry, "stop")
    assert (fake.get("ems_mode"), fake.get("ems_command")) == (0, COMMAND_STOP)
    assert [e.data["command"] for e in events] == ["charge", "discharge", "stop"]
    assert {e.data["source"] for e in events} == {"sungrow_modbus"}


async def test_command_beyond_the_battery(hass: HomeAssistant, fake: FakeSungrow) -> None:
    entry = await _entry(hass, fake)
    with pytest.raises(ServiceValidationError) as err:
        await _command(hass, entry, "charge", power=9000, target_soc=90, duration=30)
    assert err.value.translation_key == "power_out_of_range"
    assert not fake.writes


async def test_ignored_command_is_reported(hass: HomeAssistant, fake: FakeSungrow) -> None:
    entry = await _entry(hass, fake)
    fake.ignore_ems = True
    with pytest.raises(HomeAssistantError) as err:
        await _command(hass, entry, "charge", power=2000, target_soc=90, duration=30)
    assert err.value.translation_key == "dispatch_not_applied"


def _select_state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def test_a_command_refused_half_way_ends_in_self_consumption(
    hass: HomeAssistant, fake: FakeSungrow
) -> None:
    entry = await _entry(hass, fake)
    mode = _entity(hass, "select", "_mode")
    await _command(hass, entry, "charge", power=2000, target_soc=90, duration=30)
    assert _select_state(hass, mode) == "forced_charge"
    fake.refused_registers = {13050}  # the command register: the power is taken, then refused
    with pytest.raises(HomeAssistantError) as err:
        await _command(hass, entry, "discharge", power=1500, target_soc=20, duration=30)
    assert type(err.value) is HomeAssistantError  # the system's fault, not the input's
    assert err.value.translation_key == "dispatch_rolled_back"
    assert fake.get("ems_mode") == 0  # self-consumption, not a forced charge at 1.5 kW
    await hass.async_block_till_done()
    assert _select_state(hass, mode) == "self_consumption"
    fake.refused_registers = set()
    await _refresh(hass, entry)  # nothing held: the inverter stays as it is
    assert fake.get("ems_mode") == 0


async def test_a_stop_the_inverter_ignores_keeps_the_system_available(
    hass: HomeAssistant, fake: FakeSungrow, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await _entry(hass, fake)
    await _command(hass, entry, "charge", power=2000, target_soc=90, duration=30)
    fake.ignore_ems = True
    fake.set("battery_soc", 950)  # past the target: Sunstream sends the stop
    with caplog.at_level(logging.WARNING):
        await _refresh(hass, entry)
    assert entry.runtime_data.coordinator.last_update_success
    assert _value(hass, "_grid_import_energy") != STATE_UNAVAILABLE
    connection = hass.states.get(_entity(hass, "binary_sensor", "_connection"))
    assert connection is not None
    assert connection.state == STATE_ON
    assert "Unexpected error" not in caplog.text
    assert "could not end the forced charge" in caplog.text
    assert fake.get("ems_mode") == 2
    fake.ignore_ems = False
    await _refresh(hass, entry)  # the stop again, taken this time
    assert (fake.get("ems_mode"), fake.get("ems_command")) == (0, COMMAND_STOP)
    assert _value(hass, "_mode") != "forced_charge"


async def test_settings_are_the_inverters(hass: HomeAssistant, fake: FakeSungrow) -> None:
    entry = await _entry(hass, fake)
    await _refresh(hass, entry)
    reserve = _entity(hass, "number", "_reserve_soc")
    state = hass.states.get(reserve)
    assert state is not None
    assert float(state.state) == fake.get("min_soc") / 10
    await hass.services.async_call(
        "number", "set_value", {"entity_id": reserve, "value": 25}, blocking=True
    )
    assert fake.get("min_soc") == 250
    assert fake.writes[13058] == 1
    export = _entity(hass, "switch", "_export_limit")
    await hass.services.async_call("switch", "turn_on", {"entity_id": export}, blocking=True)
    assert fake.get("export_limit_mode") == EXPORT_LIMIT_ON
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": _entity(hass, "number", "_charge_limit_soc"), "value": 30},
            blocking=True,
        )
    assert fake.get("max_soc") == 1000


async def test_forced_charging_windows(hass: HomeAssistant, fake: FakeSungrow) -> None:
    """The inverter's two forced-charging windows: shown as read back, written on change."""
    entry = await _entry(hass, fake)
    start = _entity(hass, "time", "_charge_window_1_start")
    window = _entity(hass, "switch", "_charge_window_1")
    assert hass.states.get(start).state == "01:00:00"  # type: ignore[union-attr]
    assert hass.states.get(window).state == STATE_OFF  # type: ignore[union-attr]
    await hass.services.async_call(
        "time", "set_value", {"entity_id": start, "time": "02:30:00"}, blocking=True
    )
    assert (fake.get("forced_charge_1_start_h"), fake.get("forced_charge_1_start_m")) == (2, 30)
    await hass.services.async_call("switch", "turn_on", {"entity_id": window}, blocking=True)
    await _refresh(hass, entry)
    assert fake.get("forced_charge") == 0xAA
    assert hass.states.get(window).state == STATE_ON  # type: ignore[union-attr]
    second = _entity(hass, "switch", "_charge_window_2")
    assert hass.states.get(second).state == STATE_ON  # type: ignore[union-attr]  # one switch
    writes = sum(fake.writes.values())
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            "time",
            "set_value",
            {"entity_id": _entity(hass, "time", "_charge_window_1_end"), "time": "02:00:00"},
            blocking=True,
        )
    assert sum(fake.writes.values()) == writes
    await hass.config_entries.async_unload(entry.entry_id)


async def test_link_drop_and_return(hass: HomeAssistant, fake: FakeSungrow) -> None:
    entry = await _entry(hass, fake)
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    connection = _entity(hass, "binary_sensor", "_connection")
    port = fake.port
    await fake.stop()
    await _refresh(hass, entry)
    assert hass.states.get(connection).state == STATE_OFF  # type: ignore[union-attr]
    assert _value(hass, "_grid_import_energy") == STATE_UNAVAILABLE
    async with FakeSungrow(port=port):
        for _ in range(50):
            await asyncio.sleep(0.1)
            await _refresh(hass, entry)
            if hass.states.get(connection).state == STATE_ON:  # type: ignore[union-attr]
                break
        assert hass.states.get(connection).state == STATE_ON  # type: ignore[union-attr]
        assert [(e.data["source"], e.data["connected"]) for e in events] == [
            ("sungrow_modbus", False),
            ("sungrow_modbus", True),
        ]
        await hass.config_entries.async_unload(entry.entry_id)


async def test_through_a_winet_dongle(hass: HomeAssistant) -> None:
    async with FakeSungrow(connection="winet") as dongle:
        entry = await _entry(hass, dongle, connection_type="winet")
        dongle.reset_counters()
        await _refresh(hass, entry)
        assert dongle.requests
        assert all(r.count <= 38 for r in dongle.requests)
        gaps = [b.at - a.at for a, b in zip(dongle.requests, dongle.requests[1:], strict=False)]
        assert min(gaps) >= 0.1
        assert _value(hass, "_grid_import_energy") != STATE_UNAVAILABLE
        await hass.config_entries.async_unload(entry.entry_id)


async def test_string_inverter_has_no_battery(hass: HomeAssistant) -> None:
    async with FakeSungrow(device_type_code=0x2430) as inverter:
        entry = await _entry(hass, inverter)
        assert entry.title == "Sungrow 0x2430"
        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        assert len(devices) == 1
        assert not [s for s in hass.states.async_all("sensor") if "state_of_charge" in s.entity_id]
        assert float(_value(hass, "_pv_power")) >= 0
        assert float(_value(hass, "_grid_import_energy")) == pytest.approx(2000, abs=1)
        await hass.config_entries.async_unload(entry.entry_id)


async def test_string_inverter_without_meter_counters(hass: HomeAssistant) -> None:
    """No meter counters on this SG: no grid energy entities rather than ones stuck unknown."""
    async with FakeSungrow(device_type_code=0x2430) as inverter:
        inverter.illegal |= {(Table.INPUT, a) for a in range(5094, 5102)}
        entry = await _entry(hass, inverter)
        sensors = [s.entity_id for s in hass.states.async_all("sensor")]
        assert not [s for s in sensors if "grid_import_energy" in s or "grid_export_energy" in s]
        assert _value(hass, "_grid_power") != STATE_UNAVAILABLE
        await hass.config_entries.async_unload(entry.entry_id)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _share(hass: HomeAssistant, entry: MockConfigEntry, **shared: Any) -> dict[str, Any]:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert "shared_modbus" in str(result["data_schema"].schema)
    options = dict(entry.options) | {
        "shared_modbus": {"port": 0, "host": "127.0.0.1", "writable": ""} | shared
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], options)
    await hass.async_block_till_done()
    return dict(result)


async def test_shared_connection(hass: HomeAssistant, fake: FakeSungrow) -> None:
    """Another tool reads and writes through Sunstream; the inverter sees one client."""
    entry = await _entry(hass, fake)
    port = _free_port()
    result = await _share(hass, entry, port=port, writable="13058")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.state is ConfigEntryState.LOADED
    connections = fake.connections
    other = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    assert await other.connect()
    try:
        soc = await other.read_input_registers(13022, count=1, device_id=1)
        assert soc.registers == [fake.get("battery_soc")]
        written = await other.write_register(13058, 200, device_id=1)
        assert not written.isError()
        assert fake.get("min_soc") == 200
        refused = await other.write_register(13057, 900, device_id=1)
        assert refused.exception_code == ExcCodes.ILLEGAL_ADDRESS
        assert fake.get("max_soc") == 1000
        # Faults behind the endpoint come back as Modbus exceptions, and end.
        fake.exception = ExcCodes.DEVICE_FAILURE
        failing = await other.read_input_registers(5046, count=1, device_id=1)
        assert failing.exception_code == ExcCodes.DEVICE_FAILURE
        fake.exception = None
        await _refresh(hass, entry)
        # The inverter saw no new client: everything went through Sunstream's.
        assert (fake.connections, len(fake.handlers), fake.refusals) == (connections, 1, 0)
        assert _value(hass, "_grid_import_energy") != STATE_UNAVAILABLE
    finally:
        other.close()
    await hass.config_entries.async_unload(entry.entry_id)
    closed = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    assert not await closed.connect()


async def test_the_shared_port_is_not_another_system(
    hass: HomeAssistant, fake: FakeSungrow
) -> None:
    """Our own shared port, added or reconfigured to in this Home Assistant: refused, said why."""
    entry = await _entry(hass, fake)
    port = _free_port()
    await _share(hass, entry, port=port)
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(port))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "shared_endpoint"
    assert result["description_placeholders"] == {"name": entry.title}
    # A system must not read its inverter through itself.
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _form(port))
    assert result["reason"] == "shared_endpoint"
    assert entry.data["port"] == fake.port
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
    await hass.config_entries.async_unload(entry.entry_id)


async def test_shared_connection_bad_input(hass: HomeAssistant, fake: FakeSungrow) -> None:
    entry = await _entry(hass, fake)
    result = await _share(hass, entry, port=70000)
    assert result["errors"] == {"shared_modbus": "shared_port_out_of_range"}
    result = await _share(hass, entry, port=_free_port(), writable="13049-")
    assert result["errors"] == {"shared_modbus": "writable_invalid"}
    assert "shared_modbus" not in entry.options


async def test_shared_port_taken_is_a_repair_issue(
    hass: HomeAssistant, fake: FakeSungrow, issue_registry: ir.IssueRegistry
) -> None:
    entry = await _entry(hass, fake)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = await _share(hass, entry, port=taken.getsockname()[1])
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert entry.state is ConfigEntryState.LOADED  # the system's own readings go on
        assert issue_registry.async_get_issue(DOMAIN, f"{ISSUE}_{entry.entry_id}")
    await _share(hass, entry, port=0)
    assert issue_registry.async_get_issue(DOMAIN, f"{ISSUE}_{entry.entry_id}") is None
    await hass.config_entries.async_unload(entry.entry_id)

"""AlphaESS units in Home Assistant, against the fake unit (a real pymodbus server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from pymodbus.constants import ExcCodes
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.sunstream.const import DOMAIN, EVENT_CONNECTIVITY, EVENT_DISPATCH
from custom_components.sunstream.pysunstream.alphaess.registers import BY_KEY
from sunstream_fakes.alphaess_fake import FakeAlphaEss

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
    return await start_flow(hass, "alphaess")


async def _entry(hass: HomeAssistant, fake: FakeAlphaEss) -> MockConfigEntry:
    return await add_system(hass, "alphaess", _form(fake))


_battery_device = battery_device
_value = sensor_state


async def test_add_unit(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    entry = await _entry(hass, fake)
    assert entry.unique_id == SERIAL
    assert entry.title == f"AlphaESS {SERIAL}"
    assert entry.data["port"] == fake.port
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    system = next(d for d in devices if d.via_device_id is None)
    assert system.serial_number == SERIAL
    assert system.model == "Storage system"  # the "standard" register map names no model
    battery = _battery_device(hass, entry)
    assert battery.via_device_id == system.id
    # Named as the system's part, so its entity ids read as the system's.
    assert (battery.name, battery.model) == (f"AlphaESS {SERIAL} battery", "M4856-P")
    soc = f"sensor.alphaess_{SERIAL.lower()}_battery_state_of_charge"
    assert hass.states.get(soc) is not None
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
    # A unit is known by its serial, not by a name the user never typed.
    assert "name" not in await config_message(hass, "abort", result["reason"])


async def test_configured_address_aborts_without_asking_the_unit(
    hass: HomeAssistant, fake: FakeAlphaEss
) -> None:
    """The running entry holds the unit's one slot: a second connect would read as "busy"."""
    await _entry(hass, fake)
    connections, refusals = fake.connections, fake.refusals
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert (fake.connections, fake.refusals) == (connections, refusals)


async def test_same_unit_at_another_address_updates_the_entry(
    hass: HomeAssistant, fake: FakeAlphaEss
) -> None:
    """Recognised by its serial, not its address (a new IP, a changed port forward)."""
    entry = await _entry(hass, fake)
    await hass.config_entries.async_unload(entry.entry_id)
    async with FakeAlphaEss() as moved:  # the same fixture: the same serial
        flow_id = await _start(hass)
        result = await hass.config_entries.flow.async_configure(flow_id, _form(moved))
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data["port"] == moved.port != fake.port


async def test_second_way_to_a_unit_that_answers_keeps_the_entry_where_it_is(
    hass: HomeAssistant, fake: FakeAlphaEss
) -> None:
    """The entry still reads its unit: another address with its serial is a proxy, not a move."""
    entry = await _entry(hass, fake)
    assert entry.runtime_data.coordinator.last_update_success
    async with FakeAlphaEss() as proxy:  # the same fixture: the same serial
        flow_id = await _start(hass)
        result = await hass.config_entries.flow.async_configure(flow_id, _form(proxy))
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data["port"] == fake.port != proxy.port


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


async def test_unit_failing_every_read_cannot_connect(
    hass: HomeAssistant, fake: FakeAlphaEss
) -> None:
    """Any other failure: said about the unit, in the unit's words (no gateway, no dongle)."""
    fake.exception = ExcCodes.DEVICE_FAILURE
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect_unit"}
    assert result["description_placeholders"]["reason"]
    message = await config_message(hass, "error", result["errors"]["base"])
    assert "unit" in message
    assert "gateway" not in message
    assert "dongle" not in message


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
    limits = entry.runtime_data.coordinator.source.battery_limits
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
    """Modbus drops, entities go unavailable, events fire, it comes back.

    The seed 001 scenario (docs/protocols/app-seeds.md#seed-001).
    """
    entry = await _entry(hass, fake)
    coordinator = entry.runtime_data.coordinator
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


async def test_reconfigure_loaded_unit_in_place(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    """The running entry holds the unit's one Modbus slot: don't ask it again."""
    entry = await _entry(hass, fake)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form(fake, model="smile-b3")
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data["model"] == "smile-b3"
    assert entry.state is ConfigEntryState.LOADED
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_to_a_new_address(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    """The unit moved (a new port here): it is asked for its serial there."""
    entry = await _entry(hass, fake)
    async with FakeAlphaEss() as moved:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
        )
        result = await hass.config_entries.flow.async_configure(result["flow_id"], _form(moved))
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert entry.data["port"] == moved.port
        await hass.config_entries.async_unload(entry.entry_id)


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


async def test_battery_current_and_grid_quality(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    """The grid meter's reactive and apparent power and power factor; the battery current."""
    entry = await _entry(hass, fake)
    await enable_sensors(
        hass,
        entry,
        "battery_current",
        "grid_reactive_power",
        "grid_apparent_power",
        "grid_power_factor",
        "inverter_power",
        "pv_meter_power",
        "battery_min_cell_voltage",
        "battery_max_cell_voltage",
    )
    for name, key in (
        ("lowest", "battery_min_cell_voltage"),
        ("highest", "battery_max_cell_voltage"),
    ):
        shown = float(_value(hass, f"_{name}_cell_voltage"))
        assert shown == pytest.approx(fake.get(key) * 0.001)
    assert float(_value(hass, "_ac_coupled_pv_power")) == fake.get("pv_meter_power")
    assert float(_value(hass, "_grid_reactive_power")) == fake.get("grid_reactive_power")
    assert float(_value(hass, "_grid_apparent_power")) == fake.get("grid_apparent_power")
    assert float(_value(hass, "_grid_power_factor")) == fake.get("grid_power_factor") / 100
    # 0x0101 is signed as the battery power (+ discharge).
    assert_battery_current_and_ac_output(hass, f"{SERIAL.lower()}_pv_power")


async def test_unit_held_while_running_raises_repair_issue(
    hass: HomeAssistant, fake: FakeAlphaEss, issue_registry: ir.IssueRegistry
) -> None:
    """Another client takes the unit between our connections: the user is told."""
    from custom_components.sunstream.pysunstream.alphaess import AlphaEssSource

    entry = await _entry(hass, fake)
    await entry.runtime_data.coordinator.source.async_close()  # our link drops…
    await asyncio.sleep(0.2)  # the unit notices the closed socket
    holder = AlphaEssSource("127.0.0.1", fake.port)
    await holder.identify()  # …and another client grabs the unit
    try:
        await entry.runtime_data.coordinator.async_refresh()
        await hass.async_block_till_done()
        issue_id = f"busy_{entry.entry_id}"
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    finally:
        await holder.async_close()
    for _ in range(50):
        await asyncio.sleep(0.1)
        await entry.runtime_data.coordinator.async_refresh()
        await hass.async_block_till_done()
        if entry.runtime_data.coordinator.last_update_success:
            break
    assert entry.runtime_data.coordinator.last_update_success
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


# --- fault matrix: each knob of the fake, through a real Home Assistant ------


async def _poll(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


async def _poll_until_connected(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Poll as the coordinator would, faster: the reconnect back-off starts at ~1 s."""
    for _ in range(50):
        await _poll(hass, entry)
        if entry.runtime_data.coordinator.connected:
            return
        await asyncio.sleep(0.1)
    pytest.fail("the unit did not come back")


def _states(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """The state of every enabled entity of the entry."""
    registry = er.async_get(hass)
    states = {}
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if (state := hass.states.get(entity.entity_id)) is not None:
            states[entity.entity_id] = state.state
    assert states
    return states


def _unavailable(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    return {e for e, state in _states(hass, entry).items() if state == STATE_UNAVAILABLE}


def _connectivity(hass: HomeAssistant) -> str:
    return next(
        s.entity_id for s in hass.states.async_all("binary_sensor") if "connection" in s.entity_id
    )


def _no_answer(fake: FakeAlphaEss, entry: MockConfigEntry) -> None:
    # The default 5 s timeout works the same, only slower.
    entry.runtime_data.coordinator.source.client.timeout = 0.3
    fake.silent = True


def _gateway_exception(fake: FakeAlphaEss, entry: MockConfigEntry) -> None:
    fake.exception = ExcCodes.GATEWAY_NO_RESPONSE


def _heal(fake: FakeAlphaEss) -> None:
    fake.silent = False
    fake.exception = None


@pytest.mark.parametrize(
    ("start", "reason"),
    [(_no_answer, "timeout"), (_gateway_exception, "protocol")],
    ids=["no_answer", "modbus_exception_11"],
)
async def test_fault_makes_entities_unavailable_only_while_it_lasts(
    hass: HomeAssistant,
    fake: FakeAlphaEss,
    issue_registry: ir.IssueRegistry,
    start: Callable[[FakeAlphaEss, MockConfigEntry], None],
    reason: str,
) -> None:
    """Unavailable during the fault, one event per transition, back without a restart."""
    entry = await _entry(hass, fake)
    connectivity = _connectivity(hass)
    assert _unavailable(hass, entry) == set()
    # Every reading; the link sensor (and alerts) stay available by design.
    readings = {e for e in _states(hass, entry) if e.startswith("sensor.")}
    events = async_capture_events(hass, EVENT_CONNECTIVITY)

    start(fake, entry)
    for poll in range(3):  # the fault outlasts several polls…
        await _poll(hass, entry)
        assert hass.states.get(connectivity).state == STATE_OFF
        assert readings <= _unavailable(hass, entry)
        assert connectivity not in _unavailable(hass, entry)
        if poll == 0:
            await asyncio.sleep(1.05)  # …and a reconnect (first back-off step ≤ 1 s)
    assert [(e.data["connected"], e.data["reason"]) for e in events] == [(False, reason)]
    # A hanging unit or a failing converter is not "another client holds it".
    assert issue_registry.async_get_issue(DOMAIN, f"busy_{entry.entry_id}") is None

    _heal(fake)
    await _poll_until_connected(hass, entry)
    assert hass.states.get(connectivity).state == STATE_ON
    assert _unavailable(hass, entry) == set()
    assert [(e.data["connected"], e.data["reason"]) for e in events] == [
        (False, reason),
        (True, "connected"),
    ]
    assert {e.data["source"] for e in events} == {"modbus"}
    assert entry.state is ConfigEntryState.LOADED


async def test_reset_mid_request_is_one_failed_poll(
    hass: HomeAssistant, fake: FakeAlphaEss
) -> None:
    """A TCP reset while a request is out: that poll fails, the next reconnects."""
    entry = await _entry(hass, fake)
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    fake.delay = 0.3
    asyncio.get_running_loop().call_later(0.1, fake.drop_link)
    await _poll(hass, entry)
    assert _unavailable(hass, entry)
    fake.delay = 0
    await _poll_until_connected(hass, entry)
    assert _unavailable(hass, entry) == set()
    assert [(e.data["connected"], e.data["reason"]) for e in events] == [
        (False, "disconnected"),
        (True, "connected"),
    ]


async def test_reset_between_polls_goes_unnoticed(hass: HomeAssistant, fake: FakeAlphaEss) -> None:
    """The reset is seen before the next request: reconnect at once, nothing to report."""
    entry = await _entry(hass, fake)
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    connects = entry.runtime_data.coordinator.source.client.stats.connects
    fake.drop_link()
    await asyncio.sleep(0.05)
    await _poll(hass, entry)
    assert entry.runtime_data.coordinator.source.client.stats.connects == connects + 1
    assert _unavailable(hass, entry) == set()
    assert events == []


async def test_slow_answers_within_the_timeout_change_nothing(
    hass: HomeAssistant, fake: FakeAlphaEss
) -> None:
    entry = await _entry(hass, fake)
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    fake.delay = 0.2
    fake.reset_counters()
    started = asyncio.get_running_loop().time()
    await _poll(hass, entry)
    assert asyncio.get_running_loop().time() - started >= len(fake.requests) * 0.2 >= 1.0
    assert entry.runtime_data.coordinator.last_update_success
    assert _unavailable(hass, entry) == set()
    assert events == []


async def test_missing_register_leaves_the_rest_available_and_comes_back(
    hass: HomeAssistant, fake: FakeAlphaEss, issue_registry: ir.IssueRegistry
) -> None:
    """Exception 2: that one value is unknown, the unit stays connected; asked again later."""
    entry = await _entry(hass, fake)
    source = entry.runtime_data.coordinator.source
    source.client.spacing = 0.01  # many polls below; the 100 ms default only slows the test
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    soh = f"{fake.get('battery_soh') * 0.1:g}"
    assert float(_value(hass, "_state_of_health")) == float(soh)

    fake.illegal = {BY_KEY["battery_soh"].address}
    await _poll(hass, entry)
    assert _value(hass, "_state_of_health") == STATE_UNKNOWN
    assert _unavailable(hass, entry) == set()
    assert float(_value(hass, "_state_of_charge")) == pytest.approx(fake.soc)
    assert hass.states.get(_connectivity(hass)).state == STATE_ON
    assert not issue_registry.issues

    fake.illegal = set()
    for _ in range(source.slow_every):  # asked again within one slow cycle
        await _poll(hass, entry)
        if _value(hass, "_state_of_health") != STATE_UNKNOWN:
            break
    assert float(_value(hass, "_state_of_health")) == float(soh)
    assert events == []


async def test_unit_that_ignores_a_command_is_not_the_users_fault(
    hass: HomeAssistant, fake: FakeAlphaEss
) -> None:
    """Read-back differs: a HomeAssistantError, not a validation error; no dispatch event."""
    entry = await _entry(hass, fake)
    battery = _battery_device(hass, entry).id
    dispatched = async_capture_events(hass, EVENT_DISPATCH)
    charge = {"device_id": battery, "power": 2000, "target_soc": 90, "duration": 30}
    fake.ignore_dispatch = True
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(DOMAIN, "charge", charge, blocking=True)
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "dispatch_not_applied"
    assert "did not apply the command" in str(err.value)  # translated, not the bare key
    assert dispatched == []
    assert fake.get("dispatch_start") == 0
    assert _unavailable(hass, entry) == set()

    fake.ignore_dispatch = False
    await hass.services.async_call(DOMAIN, "charge", charge, blocking=True)
    assert fake.get("dispatch_start") == 1
    assert [e.data["command"] for e in dispatched] == ["charge"]


async def test_discharge_below_the_units_cutoff_is_invalid_input(
    hass: HomeAssistant, fake: FakeAlphaEss
) -> None:
    entry = await _entry(hass, fake)
    assert fake.get("discharge_cutoff_soc") == 10
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "discharge",
            {
                "device_id": _battery_device(hass, entry).id,
                "power": 1000,
                "target_soc": 5,
                "duration": 30,
            },
            blocking=True,
        )
    assert err.value.translation_key == "soc_below_cutoff"
    assert str(err.value) == (
        "Target state of charge 5 % is out of range: it must be between"
        " 10 % (the unit's discharge cut-off) and 100 %"
    )
    assert fake.get("dispatch_start") == 0

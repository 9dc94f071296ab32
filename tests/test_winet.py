"""WiNet gateways in Home Assistant, against the fake gateway on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, section
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.sunstream.const import DOMAIN, EVENT_CONNECTIVITY, EVENT_DISPATCH
from custom_components.sunstream.pysunstream.winet import Backoff, WinetClient
from sunstream_fakes.winet_fake import FakeWinet, load_fixture

from .conftest import config_message

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def fake() -> AsyncIterator[FakeWinet]:
    async with FakeWinet("sh10rt") as gateway:
        yield gateway


def _host(fake: FakeWinet) -> str:
    return f"127.0.0.1:{fake.ports.ws}"


def _form(fake: FakeWinet, **overrides: Any) -> dict[str, Any]:
    return {
        "host": _host(fake),
        "username": "admin",
        "password": "pw8888",
        "security": {"tls_mode": "bypass"},
    } | overrides


async def _start(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "winet"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "winet"
    return str(result["flow_id"])


async def _entry(hass: HomeAssistant, fake: FakeWinet) -> MockConfigEntry:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    return entry  # type: ignore[return-value]


async def _reconfigure(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )


async def test_add_gateway(hass: HomeAssistant, fake: FakeWinet) -> None:
    entry = await _entry(hass, fake)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.unique_id
    assert entry.data["host"] == _host(fake)
    assert entry.options["update_interval"] == 10
    # Sub-devices: the inverter and the battery behind the gateway.
    registry = dr.async_get(hass)
    devices = dr.async_entries_for_config_entry(registry, entry.entry_id)
    gateway = next(d for d in devices if d.via_device_id is None)
    parts = [d for d in devices if d.via_device_id == gateway.id]
    assert len(parts) >= 2, [d.name for d in devices]
    assert hass.states.get("binary_sensor.winet_s_connection") is not None or any(
        s.entity_id.endswith("_connection") for s in hass.states.async_all("binary_sensor")
    )
    pv = [s for s in hass.states.async_all("sensor") if s.entity_id.endswith("_pv_power")]
    assert pv
    assert float(pv[0].state) >= 0


async def test_same_gateway_twice_aborts(hass: HomeAssistant, fake: FakeWinet) -> None:
    await _entry(hass, fake)
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # A gateway is known by its serial, not by a name the user never typed.
    message = await config_message(hass, "abort", result["reason"])
    assert "name" not in message


async def test_wrong_password_then_right(hass: HomeAssistant, fake: FakeWinet) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake, password="nope"))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_unreachable(hass: HomeAssistant, fake: FakeWinet) -> None:
    flow_id = await _start(hass)
    port = fake.ports.ws
    await fake.stop()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _form(fake, host=f"127.0.0.1:{port}")
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert result["description_placeholders"]["reason"]


async def test_reauth(hass: HomeAssistant, fake: FakeWinet) -> None:
    entry = await _entry(hass, fake)
    fake.password = "changed"
    await fake.drop_all()
    # Polls fail with a refused login until the user gives the new password.
    for _ in range(3):
        await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    flow_id = flows[0]["flow_id"]

    result = await hass.config_entries.flow.async_configure(
        flow_id, {"username": "admin", "password": "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"username": "admin", "password": "changed"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data["password"] == "changed"
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_to_another_gateway_refused(hass: HomeAssistant, fake: FakeWinet) -> None:
    entry = await _entry(hass, fake)
    async with FakeWinet("sh5_0rs") as other:
        result = await _reconfigure(hass, entry)
        assert result["step_id"] == "winet"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], _form(other))
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "wrong_gateway"
    assert entry.data["host"] == _host(fake)


async def test_reconfigure_new_address(hass: HomeAssistant, fake: FakeWinet) -> None:
    """The same gateway (same serial) answering at a new address."""
    entry = await _entry(hass, fake)
    async with FakeWinet("sh10rt") as moved:
        result = await _reconfigure(hass, entry)
        result = await hass.config_entries.flow.async_configure(result["flow_id"], _form(moved))
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert entry.data["host"] == _host(moved)
        assert entry.state is ConfigEntryState.LOADED
        await hass.config_entries.async_unload(entry.entry_id)


async def test_gateway_drop_and_return(hass: HomeAssistant, fake: FakeWinet) -> None:
    entry = await _entry(hass, fake)
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    connection = next(
        s.entity_id for s in hass.states.async_all("binary_sensor") if "connection" in s.entity_id
    )
    entry.runtime_data.coordinator.source.client.backoff = Backoff(base=0.05, cap=0.05)
    fake.faults.drop = 100
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(connection).state == STATE_OFF
    fake.faults.drop = 0
    await asyncio.sleep(0.1)  # past the (test-sized) back-off
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(connection).state == STATE_ON
    assert [(e.data["source"], e.data["connected"]) for e in events] == [
        ("winet", False),
        ("winet", True),
    ]


async def test_part_goes_offline(hass: HomeAssistant, fake: FakeWinet) -> None:
    entry = await _entry(hass, fake)
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    links = [s.entity_id for s in hass.states.async_all("binary_sensor") if "link" in s.entity_id]
    assert links
    assert all(hass.states.get(e).state == STATE_ON for e in links)
    fake.set_link(fake.devices[0]["dev_id"], 0)  # the first device loses its link
    # The device list is re-read every 30 cycles.
    for _ in range(31):
        await entry.runtime_data.coordinator.async_refresh()
        await hass.async_block_till_done()
        if events:
            break
    states = [hass.states.get(e).state for e in links]
    assert STATE_OFF in states
    assert STATE_UNAVAILABLE not in states
    assert [e.data["connected"] for e in events] == [False]
    assert events[0].data["part"]


async def test_pinned_mismatch_raises_repair_issue(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    async with FakeWinet("sh10rt", plain=False, tls=True) as gateway:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="WiNet",
            unique_id="pinned-gateway",
            data={
                "source": "winet",
                "host": f"127.0.0.1:{gateway.ports.https}",
                "username": "admin",
                "password": "pw8888",
                "tls_mode": "pinned",
                "fingerprint": "00" * 32,
            },
            options={"update_interval": 10, "tariff": 0.85, "co2_factor": 0.5},
        )
        entry.add_to_hass(hass)
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.SETUP_RETRY
        issue = issue_registry.async_get_issue(DOMAIN, f"certificate_{entry.entry_id}")
        assert issue is not None
        assert issue.translation_key == "certificate"
        assert gateway.logins == 0  # no credential was sent to the impostor
        await hass.config_entries.async_unload(entry.entry_id)


async def test_pin_the_certificate_in_the_flow(hass: HomeAssistant) -> None:
    async with FakeWinet("sh10rt", plain=False, tls=True) as gateway:
        flow_id = await _start(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {
                "host": f"127.0.0.1:{gateway.ports.https}",
                "username": "admin",
                "password": "pw8888",
                "security": {"tls_mode": "pinned"},
            },
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "pin_certificate"
        assert result["description_placeholders"]["fingerprint"] == gateway.fingerprint
        result = await hass.config_entries.flow.async_configure(flow_id, {})
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"]["fingerprint"] == gateway.fingerprint
        assert result["data"]["tls_mode"] == "pinned"
        await hass.config_entries.async_unload(result["result"].entry_id)


async def test_options_refuse_fast_polling(hass: HomeAssistant, fake: FakeWinet) -> None:
    entry = await _entry(hass, fake)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"update_interval": 2, "tariff": 0.85, "co2_factor": 0.5}
    )
    assert result["errors"] == {"update_interval": "update_interval_too_fast"}


async def test_pinning_needs_a_certificate_to_pin(hass: HomeAssistant, fake: FakeWinet) -> None:
    """Pinned mode against a gateway without TLS: nothing to pin, clear error."""
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _form(fake, security={"tls_mode": "pinned"})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert result["description_placeholders"]["reason"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.168.1.20", ("192.168.1.20", None)),
        (" winet.local:8082 ", ("winet.local", 8082)),
        ("[fe80::1]:443", ("fe80::1", 443)),
        ("[fe80::1]", ("fe80::1", None)),
        ("fe80::1", ("fe80::1", None)),
        ("host:http", ("host:http", None)),
    ],
)
def test_split_host(text: str, expected: tuple[str, int | None]) -> None:
    from custom_components.sunstream.sources import split_host

    assert split_host(text) == expected


async def test_impossible_port_is_reported_not_raised(hass: HomeAssistant) -> None:
    """An address the HTTP stack cannot even form a URL from."""
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            "host": "127.0.0.1:99999",
            "username": "admin",
            "password": "pw8888",
            "security": {"tls_mode": "bypass"},
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_wrong_fingerprint_in_the_flow(hass: HomeAssistant) -> None:
    async with FakeWinet("sh10rt", plain=False, tls=True) as gateway:
        flow_id = await _start(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {
                "host": f"127.0.0.1:{gateway.ports.https}",
                "username": "admin",
                "password": "pw8888",
                "security": {"tls_mode": "pinned", "fingerprint": "AB:" * 31 + "AB"},
            },
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"base": "certificate_mismatch"}
        assert gateway.logins == 0


def _suggested(schema: Any) -> dict[str, Any]:
    """What a form shows filled in: its suggested values, sections nested."""
    values: dict[str, Any] = {}
    for marker, value in schema.schema.items():
        if isinstance(value, section):
            values[marker.schema] = _suggested(value.schema)
        elif marker.description and "suggested_value" in marker.description:
            values[marker.schema] = marker.description["suggested_value"]
    return values


@pytest.mark.parametrize("fingerprint", ["AB:CD:EF", "zz" * 32, "AB:" * 32 + "AB"])
async def test_malformed_fingerprint_is_a_field_error(
    hass: HomeAssistant, fake: FakeWinet, fingerprint: str
) -> None:
    """Not 64 hex digits: said at the section, in words; nothing typed is lost."""
    flow_id = await _start(hass)
    typed = _form(
        fake,
        username="installer",
        password="secret",
        security={"tls_mode": "pinned", "fingerprint": fingerprint},
    )
    result = await hass.config_entries.flow.async_configure(flow_id, typed)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "winet"
    assert result["errors"] == {"security": "fingerprint_invalid"}
    assert _suggested(result["data_schema"]) == typed
    assert "64" in await config_message(hass, "error", "fingerprint_invalid")
    assert fake.logins == 0  # nothing was sent with a pin that cannot match
    # Corrected, the same flow goes on.
    result = await hass.config_entries.flow.async_configure(flow_id, _form(fake))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_link_counters_and_diagnostics(
    hass: HomeAssistant, fake: FakeWinet, hass_client: Any
) -> None:
    from pytest_homeassistant_custom_component.components.diagnostics import (
        get_diagnostics_for_config_entry,
    )

    entry = await _entry(hass, fake)
    attempts = next(
        s for s in hass.states.async_all("sensor") if s.entity_id.endswith("_connection_attempts")
    )
    assert int(attempts.state) >= 1
    sent = next(
        s for s in hass.states.async_all("sensor") if s.entity_id.endswith("_messages_sent")
    )
    assert int(sent.state) >= 3  # connect, login, devicelist at least

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["entry"]["data"]["password"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["host"] == "**REDACTED**"
    link = diagnostics["source_diagnostics"]
    assert link["metrics"]["successes"] >= 1
    assert all(device["dev_sn"] == "**REDACTED**" for device in link["devices"])
    assert "pw8888" not in str(diagnostics)


# -- battery commands through Home Assistant's actions ---------------------------------


def _gateway_device(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    return next(d.id for d in devices if d.via_device_id is None)


def _battery_power(hass: HomeAssistant) -> str:
    """The battery device's power sensor (W, + discharge / − charge)."""
    state = hass.states.get("sensor.winet_s_battery_power")
    assert state is not None
    return state.state


async def _act(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, service, data, blocking=True)


async def test_charge_discharge_stop(hass: HomeAssistant, fake: FakeWinet) -> None:
    entry = await _entry(hass, fake)
    device_id = _gateway_device(hass, entry)
    events = async_capture_events(hass, EVENT_DISPATCH)
    assert _battery_power(hass) == "-1220.0"  # the fixture charges from PV

    await _act(hass, "charge", device_id=device_id, power=3000, target_soc=90, duration=30)
    # The coordinator polls right after the command: the fake applied it.
    assert (fake.ems[1].mode, fake.ems[1].command, fake.ems[1].power_kw) == (2, 0xAA, 3.0)
    assert _battery_power(hass) == "-3000.0"

    await _act(hass, "discharge", device_id=device_id, power=2500, target_soc=20, duration=30)
    assert _battery_power(hass) == "2500.0"

    await _act(hass, "stop", device_id=device_id)
    assert (fake.ems[1].mode, fake.ems[1].command) == (0, 0xCC)
    assert _battery_power(hass) == "-1220.0"
    assert [(e.data["source"], e.data["command"]) for e in events] == [
        ("winet", "charge"),
        ("winet", "discharge"),
        ("winet", "stop"),
    ]


async def test_charge_ends_at_its_target(hass: HomeAssistant, fake: FakeWinet) -> None:
    entry = await _entry(hass, fake)
    device_id = _gateway_device(hass, entry)
    await _act(hass, "charge", device_id=device_id, power=3000, target_soc=70, duration=60)
    assert fake.ems[1].mode == 2
    fake.set_value(1, "real_battery", "I18N_COMMON_BATTERY_SOC", "70.0")
    fake.set_value(2, "real", "I18N_COMMON_REMAIN_BATTERY_POWER", "70.0")
    await entry.runtime_data.coordinator.async_refresh()
    assert (fake.ems[1].mode, fake.ems[1].command) == (0, 0xCC)
    # One write for the charge, one for the stop; later polls write nothing.
    await entry.runtime_data.coordinator.async_refresh()
    assert len(fake.param_requests) == 2


async def test_charge_above_the_rating_is_refused(hass: HomeAssistant, fake: FakeWinet) -> None:
    entry = await _entry(hass, fake)
    with pytest.raises(ServiceValidationError) as refused:
        await _act(
            hass,
            "charge",
            device_id=_gateway_device(hass, entry),
            power=12000,
            target_soc=90,
            duration=30,
        )
    assert refused.value.translation_key == "power_out_of_range"
    assert "10000" in str(refused.value)
    assert fake.param_requests == []


async def test_inverter_refusal_is_not_the_users_fault(
    hass: HomeAssistant, fake: FakeWinet
) -> None:
    entry = await _entry(hass, fake)
    events = async_capture_events(hass, EVENT_DISPATCH)
    fake.faults.param_reject = 1
    with pytest.raises(HomeAssistantError) as failed:
        await _act(hass, "stop", device_id=_gateway_device(hass, entry))
    assert not isinstance(failed.value, ServiceValidationError)
    assert failed.value.translation_key == "dispatch_refused"
    assert "Energy Management Mode" in str(failed.value)
    assert events == []


async def test_pv_only_inverter_says_so(hass: HomeAssistant) -> None:
    fixture = load_fixture("sh5_0rs")
    fixture["devices"] = [dict(fixture["devices"][0], dev_type=21, dev_model="SG5.0RS")]
    fixture["data"] = {"1": {k: fixture["data"]["1"][k] for k in ("real", "direct")}}
    async with FakeWinet(fixture) as gateway:
        entry = await _entry(hass, gateway)
        with pytest.raises(ServiceValidationError) as refused:
            await _act(hass, "stop", device_id=_gateway_device(hass, entry))
        assert refused.value.translation_key == "not_supported"
        assert "SG5.0RS does not accept battery commands" in str(refused.value)
        assert gateway.requests["param"] == 0
        await hass.config_entries.async_unload(entry.entry_id)


# -- fault matrix: every knob of the fake, through Home Assistant ----------------------


def _pv_power(hass: HomeAssistant) -> str:
    return next(
        s.state for s in hass.states.async_all("sensor") if s.entity_id.endswith("_pv_power")
    )


def _link_events(events: list[Any]) -> list[bool]:
    """Connectivity transitions of the gateway itself (not of its parts)."""
    return [e.data["connected"] for e in events if "part" not in e.data]


async def _poll(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


@pytest.fixture
async def quick(hass: HomeAssistant, fake: FakeWinet) -> MockConfigEntry:
    """A loaded gateway whose client waits test-sized delays."""
    entry = await _entry(hass, fake)
    client = entry.runtime_data.coordinator.source.client
    client.backoff = Backoff(base=0.05, cap=0.05, jitter=0.0)
    client.request_timeout = 0.3
    client._session.read_retry_delay = 0.01  # 5 s in the field
    return entry


async def _slow_handshake(fake: FakeWinet) -> None:
    fake.faults.upgrade_delay = 0.1  # slow (P030), within the timeout
    await fake.drop_all()


async def _expiring_tokens(fake: FakeWinet) -> None:
    fake.faults.token_expiry_after = 3  # every token dies mid-cycle


async def _read_failed(fake: FakeWinet) -> None:
    fake.faults.read_failed = 2  # within the retries


async def _garbage(fake: FakeWinet) -> None:
    fake.faults.garbage = 3
    fake.faults.inject = ['{"result_code":7,"result_msg":"odd","result_data":{"service":"notice"}}']


async def _idle_drop(fake: FakeWinet) -> None:
    fake.faults.idle_timeout = 0.05
    await asyncio.sleep(0.2)


async def _single_drop(fake: FakeWinet) -> None:
    fake.faults.drop = 1


@pytest.mark.parametrize(
    "fault",
    [_slow_handshake, _expiring_tokens, _read_failed, _garbage, _idle_drop, _single_drop],
    ids=["slow_handshake", "token_expiry", "read_failed_301", "garbage", "idle_drop", "drop_once"],
)
async def test_faults_absorbed_within_the_poll(
    hass: HomeAssistant, fake: FakeWinet, quick: MockConfigEntry, fault: Any
) -> None:
    """Routine faults: the poll recovers by itself; nothing goes unavailable, no event."""
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    await fault(fake)
    for _ in range(3):
        await _poll(hass, quick)
        assert _pv_power(hass) != STATE_UNAVAILABLE
    assert _link_events(events) == []
    assert quick.runtime_data.coordinator.last_update_success


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ({"drop": 1000}, {"drop": 0}),
        ({"stall": 1000}, {"stall": 0}),
        ({"inter_abnormal": 1000}, {"inter_abnormal": 0}),
        ({"notice_after": 0}, {}),  # another user took the dongle (one notice)
        ({"reject_upgrade": 1000, "drop": 1}, {"reject_upgrade": 0}),  # HTTP 400 on the upgrade
        ({"upgrade_delay": 1.0, "drop": 1}, {"upgrade_delay": 0.0}),  # handshake > timeout
    ],
    ids=["drop", "stall", "internal_error", "user_limit", "upgrade_400", "slow_tls_timeout"],
)
async def test_outages_recover_without_restart(
    hass: HomeAssistant,
    fake: FakeWinet,
    quick: MockConfigEntry,
    start: dict[str, Any],
    end: dict[str, Any],
) -> None:
    """Unavailable only while the fault lasts; one event down, one up; no reload."""
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    for knob, value in start.items():
        setattr(fake.faults, knob, value)
    await _poll(hass, quick)
    assert _pv_power(hass) == STATE_UNAVAILABLE
    if end:  # a lasting fault: still down after the back-off, and no second event
        await asyncio.sleep(0.06)
        await _poll(hass, quick)
        assert _pv_power(hass) == STATE_UNAVAILABLE
    for knob, value in end.items():
        setattr(fake.faults, knob, value)
    await asyncio.sleep(0.06)
    await _poll(hass, quick)
    assert _pv_power(hass) != STATE_UNAVAILABLE
    await _poll(hass, quick)
    assert _link_events(events) == [False, True]
    assert quick.state is ConfigEntryState.LOADED
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_binary_frames_keep_the_link_up(hass: HomeAssistant, fake: FakeWinet) -> None:
    """Binary noise and replies in binary frames: no outage, values keep flowing, counted."""
    entry = await _entry(hass, fake)
    # A reply lost to its frame type would show as an outage at once.
    entry.runtime_data.coordinator.source.client.request_timeout = 0.3
    events = async_capture_events(hass, EVENT_CONNECTIVITY)
    fake.faults.binary = 2
    fake.faults.binary_replies = 1000
    fake.faults.binary_encoding = "gb18030"  # the fixture's "℃" is then not UTF-8
    for kilowatts, shown in (("4.61", "4610.0"), ("4.7", "4700.0"), ("0.95", "950.0")):
        fake.set_value(1, "real", "I18N_COMMON_TOTAL_DCPOWER", kilowatts)
        await _poll(hass, entry)
        assert _pv_power(hass) == shown
    assert _link_events(events) == []
    assert entry.runtime_data.coordinator.last_update_success
    unexpected = hass.states.get("sensor.winet_s_unexpected_messages")
    assert unexpected is not None
    assert unexpected.state == "2"
    assert entry.runtime_data.coordinator.source.client.metrics.reconnections == 0


async def test_idle_session_is_kept_alive(hass: HomeAssistant, fake: FakeWinet) -> None:
    """The entry runs the keep-alive: an idle gateway session outlives the idle timeout."""
    with patch(
        "custom_components.sunstream.sources.WinetClient", partial(WinetClient, keepalive=0.05)
    ):
        entry = await _entry(hass, fake)
    connections = fake.connection_count
    fake.faults.idle_timeout = 0.2
    await asyncio.sleep(0.6)  # no poll in between (the interval is 10 s)
    assert fake.requests["ping"] >= 5
    await _poll(hass, entry)
    assert fake.connection_count == connections  # the same socket, no new login
    assert entry.runtime_data.coordinator.source.client.metrics.reconnections == 0
    # Unloading ends the keep-alive with the entry.
    await hass.config_entries.async_unload(entry.entry_id)
    pings = fake.requests["ping"]
    await asyncio.sleep(0.2)
    assert fake.requests["ping"] == pings


# -- parts that come later ---------------------------------------------------------------


def _without_battery_stack() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The SH10RT fixture with its SBR stack unplugged: (fixture, the SBR, its data)."""
    fixture = load_fixture("sh10rt")
    sbr = next(d for d in fixture["devices"] if d["dev_model"].startswith("SBR"))
    fixture["devices"] = [d for d in fixture["devices"] if d is not sbr]
    return fixture, sbr, fixture["data"].pop(str(sbr["dev_id"]))


def _entities_by_device(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, set[str]]:
    """Unique ids of the entry's entities, by their device's identifier."""
    devices = dr.async_get(hass)
    found: dict[str, set[str]] = {}
    for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        device = devices.async_get(entity.device_id) if entity.device_id else None
        identifier = next(iter(device.identifiers))[1] if device else ""
        found.setdefault(identifier, set()).add(entity.unique_id)
    return found


async def test_battery_without_its_own_device_is_not_called_simulated(
    hass: HomeAssistant,
) -> None:
    """The inverter reports a battery, the dongle lists no SBR: a plain battery device."""
    fixture, _, _ = _without_battery_stack()
    async with FakeWinet(fixture) as gateway:
        entry = await _entry(hass, gateway)
        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        battery = next(d for d in devices if d.name == f"{entry.title} battery")
        assert battery.model != "Simulated battery"
        assert not (battery.model_id or "").startswith("SIM")
        assert battery.manufacturer == "Sungrow"
        await hass.config_entries.async_unload(entry.entry_id)


async def test_battery_listed_later_gets_its_sensors_without_reload(hass: HomeAssistant) -> None:
    """A battery stack the dongle starts listing: device, Link, sensors and controls, once."""
    fixture, sbr, sbr_data = _without_battery_stack()
    async with FakeWinet(fixture) as gateway:
        entry = await _entry(hass, gateway)
        system_id = entry.unique_id
        stack = f"{system_id}_winet_{sbr['dev_sn']}"
        assert stack not in _entities_by_device(hass, entry)

        gateway.add_device(dict(sbr), sbr_data)
        # The dongle's device list is re-read every 30 cycles; one more for the sensors.
        for _ in range(32):
            await _poll(hass, entry)
        found = _entities_by_device(hass, entry)
        assert f"{system_id}_battery" not in found  # the stand-in battery device is gone
        stack_device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, stack), config_entry_id=entry.entry_id
        )
        assert stack_device is not None
        # The same name as the stand-in had: the battery keeps reading as the system's.
        assert (stack_device.name, stack_device.model) == (f"{entry.title} battery", "SBR096")
        assert {uid.removeprefix(f"{system_id}_") for uid in found[stack]} == {
            f"winet_{sbr['dev_sn']}_link",
            "battery_power",
            "battery_soc",
            "battery_charge_energy",
            "battery_discharge_energy",
            "battery_charge_energy_today",
            "battery_discharge_energy_today",
            # The stack's model names its size (SBR096: 9.6 kWh).
            "battery_capacity",
            "battery_stored_energy",
            "battery_mode",  # read back from the inverter's energy-management parameters
            "battery_soh",  # from the inverter's real_battery
            "battery_voltage",
            "battery_temperature",
            "battery_current",
            # Its limits are known now: the battery control entities follow.
            "battery_mode_control",
            "forced_charge_power",
            "forced_discharge_power",
            "command_target_soc",
            "command_duration",
            # The hybrid inverter's settings, on the battery's device.
            "charge_limit_soc",
            *(
                f"charge_window_{n}{part}"
                for n in (1, 2)
                for part in ("_enabled", "_start", "_end")
            ),
        }
        soc = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{system_id}_battery_soc")
        assert soc is not None
        assert hass.states.get(soc).state not in (STATE_UNAVAILABLE, "unknown")
        # More polls add nothing twice; a reload would find exactly the same entities.
        for _ in range(3):
            await _poll(hass, entry)
        assert _entities_by_device(hass, entry) == found
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert _entities_by_device(hass, entry) == found
        await hass.config_entries.async_unload(entry.entry_id)


async def test_a_control_disabled_on_the_stand_in_battery_comes_back_on_the_stack(
    hass: HomeAssistant,
) -> None:
    """A control the user disabled on the stand-in battery device, declined at the reload,
    is offered again once its registry entry goes with that device: it lands on the
    stack's device like the controls nobody disabled (not only after a reload), and keeps
    the user's choice, also when the user renamed it meanwhile."""
    fixture, sbr, sbr_data = _without_battery_stack()
    async with FakeWinet(fixture) as gateway:
        entry = await _entry(hass, gateway)
        system_id = entry.unique_id
        registry = er.async_get(hass)
        stand_in = _entities_by_device(hass, entry)[f"{system_id}_battery"]
        uid = f"{system_id}_charge_limit_soc"
        assert uid in stand_in  # the hybrid's setting sits on the stand-in battery for now
        entity_id = registry.async_get_entity_id("number", DOMAIN, uid)
        assert entity_id is not None
        registry.async_update_entity(entity_id, disabled_by=er.RegistryEntryDisabler.USER)
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert hass.states.get(entity_id) is None  # declined: disabled in the registry
        # Renamed while declined: its removal comes under the new entity id.
        registry.async_update_entity(entity_id, new_entity_id="number.my_charge_limit")
        await hass.async_block_till_done()

        gateway.add_device(dict(sbr), sbr_data)
        for _ in range(32):
            await _poll(hass, entry)
        stack = f"{system_id}_winet_{sbr['dev_sn']}"
        found = _entities_by_device(hass, entry)
        assert f"{system_id}_battery" not in found
        assert uid in found[stack]
        back = registry.async_get_entity_id("number", DOMAIN, uid)
        assert back is not None
        # Home Assistant restores the user's choice on the new entry: still disabled.
        assert registry.async_get(back).disabled_by is er.RegistryEntryDisabler.USER
        assert hass.states.get(back) is None
        await hass.config_entries.async_unload(entry.entry_id)


async def test_faults_are_not_simulated_on_real_hardware(
    hass: HomeAssistant, fake: FakeWinet
) -> None:
    entry = await _entry(hass, fake)
    with pytest.raises(ServiceValidationError) as refused:
        await _act(
            hass,
            "simulate_fault",
            device_id=_gateway_device(hass, entry),
            kind="inverter_offline",
            duration={"minutes": 1},
        )
    assert refused.value.translation_key == "fault_not_simulated"
    assert f"{entry.title} is real hardware" in str(refused.value)
    assert "house" not in str(refused.value)


async def test_parts_are_named_after_the_system_and_numbered_when_several(
    hass: HomeAssistant,
) -> None:
    """Two inverters behind one dongle: *WiNet-S inverter 1* and *2*, never a serial."""
    fixture = load_fixture("sh10rt")
    second = {**fixture["devices"][0], "id": 3, "dev_id": 3, "dev_sn": "A2302199999"}
    fixture["devices"].append(second)
    fixture["data"]["3"] = fixture["data"]["1"]
    async with FakeWinet(fixture) as gateway:
        entry = await _entry(hass, gateway)
        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        names = sorted((d.name or "", d.serial_number or "") for d in devices)
        # Two hybrids: each one's battery is a part (serial: its inverter's), numbered with
        # the stack in the dongle's order; the system's battery device holds the sums.
        assert names == [
            ("WiNet-S", "B2302107654"),
            ("WiNet-S battery", ""),
            ("WiNet-S battery 1", "A2302112345"),
            ("WiNet-S battery 2", "S2301187654"),
            ("WiNet-S battery 3", "A2302199999"),
            ("WiNet-S inverter 1", "A2302112345"),
            ("WiNet-S inverter 2", "A2302199999"),
        ]
        assert hass.states.get("binary_sensor.winet_s_inverter_2_link") is not None
        await hass.config_entries.async_unload(entry.entry_id)


def _entity(hass: HomeAssistant, entry: MockConfigEntry, platform: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{entry.unique_id}_{key}")
    assert entity_id is not None, key
    return entity_id


async def test_both_charge_windows_share_the_write_budget_of_their_switch(
    hass: HomeAssistant, fake: FakeWinet
) -> None:
    """Both windows' switches write parameter 33208: its budget is one, not one each."""
    fake.set_param(1, 33208, "170")  # forced charging on: the windows' times are listed
    entry = await _entry(hass, fake)
    first = _entity(hass, entry, "switch", "charge_window_1_enabled")
    second = _entity(hass, entry, "switch", "charge_window_2_enabled")
    assert hass.states.get(second).state == STATE_ON
    for on in (False, True, False):
        service = "turn_on" if on else "turn_off"
        await hass.services.async_call("switch", service, {"entity_id": first}, blocking=True)
        assert hass.states.get(first).state == (STATE_ON if on else STATE_OFF)
    assert fake.param_value(1, 33208) == "85"
    # Window 2 shows the one switch too: turning it on would write 33208 a fourth time.
    assert hass.states.get(second).state == STATE_OFF
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call("switch", "turn_on", {"entity_id": second}, blocking=True)
    assert caught.value.translation_key == "setting_rate_limited"
    assert fake.param_value(1, 33208) == "85"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_mode_select_shows_what_the_inverter_reads_back(
    hass: HomeAssistant, fake: FakeWinet
) -> None:
    """EMS mode 33146 and command 33147, read back after each command, are the select's state."""
    entry = await _entry(hass, fake)
    device_id = _gateway_device(hass, entry)
    mode = _entity(hass, entry, "select", "battery_mode_control")
    power = _entity(hass, entry, "number", "forced_charge_power")
    assert hass.states.get(mode).state == "self_consumption"

    await _act(hass, "charge", device_id=device_id, power=3000, target_soc=90, duration=30)
    assert hass.states.get(mode).state == "forced_charge"
    # A power changed during the forced charge reaches the inverter at once.
    await hass.services.async_call(
        "number", "set_value", {"entity_id": power, "value": 2000}, blocking=True
    )
    assert (fake.ems[1].mode, fake.ems[1].command, fake.ems[1].power_kw) == (2, 0xAA, 2.0)

    await hass.services.async_call(
        "select", "select_option", {"entity_id": mode, "option": "self_consumption"}, blocking=True
    )
    assert (fake.ems[1].mode, fake.ems[1].command) == (0, 0xCC)
    assert hass.states.get(mode).state == "self_consumption"

    await hass.config_entries.async_unload(entry.entry_id)

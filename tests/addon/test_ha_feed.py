"""The Home Assistant feed against a real Home Assistant over a loopback WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import ServiceCall
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunstream.pysunstream.backoff import Backoff as IntegrationBackoff
from sunstream_fakes.sungrow_fake import SERIAL as SUNGROW_SERIAL, FakeSungrow
from sunstream_monitor.backoff import Backoff
from sunstream_monitor.feeds.discovery import discover
from sunstream_monitor.feeds.ha import CommandFailed, ConnectionLost, HomeAssistantFeed
from sunstream_monitor.feeds.ha_protocol import (
    EntityStore,
    ProtocolError,
    decode_frame,
    result_of,
    validation_urls,
    websocket_url,
)
from sunstream_monitor.feeds.ha_tokens import TokenChecker, looks_like_token
from sunstream_monitor.hub import Hub, SourceKind
from sunstream_monitor.monitoring import EntityState
from sunstream_monitor.settings import Settings
from tests.conftest import add_system, entry_data, entry_options

from .conftest import HomeAssistantServer, free_port
from .ha_feed_support import (
    expected_document,
    running_feed,
    sunstream_entities,
    system_device,
    system_device_id,
    until,
)


async def test_follows_the_system(ha_server: HomeAssistantServer) -> None:
    """Discovery, then a document equal to what hass.states says, kept current."""
    hass = ha_server.hass
    async with running_feed(ha_server) as run:
        assert run.feed.connected
        system = run.hub.systems[ha_server.system_id]
        assert system.info.name == "Rooftop"
        assert system.info.source == "simulated"
        assert system.info.device_id == system_device_id(hass, ha_server.system_id)
        assert system.info.config_entry_id == ha_server.entry.entry_id
        await until(
            lambda: system.document == expected_document(hass, ha_server.system_id),
            what="the document to match hass.states",
        )
        assert system.document is not None
        assert system.document["status"] == "online"
        assert system.document["currency"] == "BRL"
        # Updates keep flowing (the simulator polls every second).
        seen = len(run.recorder.states)
        await until(lambda: len(run.recorder.states) > seen, what="a newer document")
        await until(
            lambda: system.document == expected_document(hass, ha_server.system_id),
            what="the newer document to match hass.states",
        )


async def test_outage_goes_offline_with_an_event(ha_server: HomeAssistantServer) -> None:
    """A simulated outage, called through the feed: status offline and a connectivity event."""
    hass = ha_server.hass
    device_id = system_device_id(hass, ha_server.system_id)
    async with running_feed(ha_server) as run:
        await run.feed.call_service(
            "sunstream", "simulate_outage", {"device_id": device_id, "duration": {"seconds": 60}}
        )
        await until(lambda: run.recorder.of_kind("connectivity"), what="a connectivity event")
        event = run.recorder.of_kind("connectivity")[0]
        assert event.system_id == ha_server.system_id
        assert event.data == {
            "device_id": device_id,
            "config_entry_id": ha_server.entry.entry_id,
            "system_id": ha_server.system_id,
            "source": "simulated",
            "connected": False,
            "reason": "outage",
        }
        system = run.hub.systems[ha_server.system_id]
        await until(
            lambda: system.document is not None and system.document["status"] == "offline",
            what="status offline",
        )
        assert system.connected is False
        assert system.document == expected_document(hass, ha_server.system_id)
        assert system.document["current_generation_kw"] is None  # unavailable → null


async def test_dispatch_event(ha_server: HomeAssistantServer) -> None:
    """sunstream.charge called through HA's WebSocket API comes back as a dispatch event."""
    device_id = system_device_id(ha_server.hass, ha_server.system_id)
    async with running_feed(ha_server) as run:
        await run.feed.call_service(
            "sunstream",
            "charge",
            {"device_id": device_id, "power": 2000, "target_soc": 90, "duration": 30},
        )
        await until(lambda: run.recorder.of_kind("dispatch"), what="a dispatch event")
        event = run.recorder.of_kind("dispatch")[0]
        assert event.system_id == ha_server.system_id
        assert event.data["command"] == "charge"
        assert event.data["power"] == 2000
        assert event.data["target_soc"] == 90
        assert event.data["duration"] == 30
        assert event.data["device_id"] == device_id


async def test_call_service_failure_is_clear(ha_server: HomeAssistantServer) -> None:
    async with running_feed(ha_server) as run:
        with pytest.raises(CommandFailed) as caught:
            await run.feed.call_service(
                "sunstream",
                "charge",
                {"device_id": "nope", "power": 1000, "target_soc": 80, "duration": 10},
            )
        assert caught.value.code == "service_validation_error"
        with pytest.raises(CommandFailed) as caught:
            await run.feed.call_service("sunstream", "no_such_action", {})
        assert caught.value.code == "not_found"


async def test_call_service_while_disconnected(ha_server: HomeAssistantServer) -> None:
    async with aiohttp.ClientSession() as session:
        feed = HomeAssistantFeed(Settings(ha_url=ha_server.ws_url, ha_token="x"), Hub(), session)
        with pytest.raises(ConnectionLost, match="not connected"):
            await feed.call_service("sunstream", "stop", {"device_id": "x"})


async def test_alert_raised_and_acknowledged_upstream(ha_server: HomeAssistantServer) -> None:
    """sunstream_alert on the bus → hub alert; acknowledging calls sunstream.acknowledge_alert."""
    hass = ha_server.hass
    acknowledged: list[ServiceCall] = []

    async def acknowledge(call: ServiceCall) -> None:
        acknowledged.append(call)

    hass.services.async_register("sunstream", "acknowledge_alert", acknowledge)
    async with running_feed(ha_server) as run:
        hass.bus.async_fire(
            "sunstream_alert",
            {
                "system_id": ha_server.system_id,
                "alert_id": "a1",
                "rule": "low_soc",
                "severity": "warning",
                "state": "raised",
                "value": 9.0,
                "threshold": 10.0,
            },
        )
        await until(lambda: run.recorder.of_kind("alert"), what="an alert event")
        alert = run.hub.alerts.get("a1")
        assert alert is not None
        assert (alert.system_id, alert.rule, alert.value, alert.state) == (
            ha_server.system_id,
            "low_soc",
            9.0,
            "raised",
        )
        assert run.recorder.of_kind("alert")[0].data == alert.as_dict()

        run.hub.acknowledge("a1", "tester")
        await until(lambda: acknowledged, what="sunstream.acknowledge_alert to be called")
        assert acknowledged[0].data == {"alert_id": "a1"}


async def test_events_of_other_systems_and_types_are_not_forwarded(
    ha_server: HomeAssistantServer,
) -> None:
    hass = ha_server.hass
    async with running_feed(ha_server) as run:
        hass.bus.async_fire("some_other_event", {"system_id": ha_server.system_id})
        hass.bus.async_fire("sunstream_dispatch", {"system_id": "nobody", "command": "stop"})
        hass.bus.async_fire("sunstream_dispatch", {"system_id": ha_server.system_id})
        await until(lambda: run.recorder.of_kind("dispatch"), what="the dispatch event")
        assert [e.system_id for e in run.recorder.events] == [ha_server.system_id]


async def test_source_from_the_connectivity_sensor(ha_server: HomeAssistantServer) -> None:
    """A Sungrow inverter on Modbus TCP is ``sungrow_modbus`` from the start, not ``winet``.

    Its device says only "Sungrow SH10RT"; the connectivity sensor's
    ``source`` attribute says how it is read, before any link event.
    """
    hass = ha_server.hass
    async with FakeSungrow(speed=30) as inverter:
        form = {
            "host": "127.0.0.1",
            "connection": {"port": inverter.port, "unit_id": 1, "connection_type": "lan"},
        }
        entry = await add_system(hass, "sungrow_modbus", form)
        assert entry.unique_id == SUNGROW_SERIAL
        device = system_device(hass, SUNGROW_SERIAL)
        assert device.manufacturer == "Sungrow"
        async with running_feed(ha_server) as run:
            await until(
                lambda: SUNGROW_SERIAL in run.hub.systems,
                what="the Sungrow system to be discovered",
            )
            assert run.hub.systems[SUNGROW_SERIAL].info.source is SourceKind.SUNGROW_MODBUS
            assert run.hub.systems[ha_server.system_id].info.source is SourceKind.SIMULATED
            assert not run.recorder.of_kind("connectivity")
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_source_learnt_from_events(ha_server: HomeAssistantServer) -> None:
    """An event's ``source`` updates the system's (and its document's)."""
    hass = ha_server.hass
    async with running_feed(ha_server) as run:
        system = run.hub.systems[ha_server.system_id]
        assert system.info.source == "simulated"
        changes = run.recorder.systems_changes
        hass.bus.async_fire(
            "sunstream_dispatch",
            {"system_id": ha_server.system_id, "source": "modbus", "command": "stop"},
        )
        await until(lambda: run.hub.systems[ha_server.system_id].info.source == "modbus")
        assert run.recorder.systems_changes == changes + 1
        await until(
            lambda: (
                (document := run.hub.systems[ha_server.system_id].document) is not None
                and document["source"] == "modbus"
            ),
            what="the document's source",
        )


async def test_reconnects_and_resyncs(ha_server: HomeAssistantServer) -> None:
    """HA drops the socket; a change made meanwhile is there after the resync."""
    hass = ha_server.hass
    device_id = system_device_id(hass, ha_server.system_id)
    async with running_feed(ha_server) as run:
        system = run.hub.systems[ha_server.system_id]
        await until(lambda: system.document is not None and system.document["status"] == "online")
        assert ha_server.drop_connections() >= 1
        await until(lambda: not run.hub.feed_connected, what="the feed to notice")
        assert not run.feed.connected
        # While the feed is away the system goes offline (and HA fires the event).
        await hass.services.async_call(
            "sunstream",
            "simulate_outage",
            {"device_id": device_id, "duration": {"seconds": 60}},
            blocking=True,
        )
        assert not run.hub.feed_connected
        await until(lambda: run.hub.feed_connected, what="the feed to reconnect")
        await until(
            lambda: system.document is not None and system.document["status"] == "offline",
            what="the resynced document",
        )
        assert system.document == expected_document(hass, ha_server.system_id)
        # The event missed while away is made up for, marked as such.
        events = run.recorder.of_kind("connectivity")
        assert len(events) == 1
        assert events[0].data["connected"] is False
        assert events[0].data["reason"] == "outage"
        assert events[0].data["resync"] is True
        assert system.connected is False


# After auth_invalid, HA closes the socket; the client's close reply arriving
# after that re-arms the server-side aiohttp heartbeat timer of the dead
# socket (aiohttp's _on_data_received does not check "closed"). Harmless, but
# it outlives the test.
SERVER_CLOSES_AFTER_AUTH = pytest.mark.parametrize("expected_lingering_timers", [True])


@SERVER_CLOSES_AFTER_AUTH
async def test_bad_token_keeps_trying(
    ha_server: HomeAssistantServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_feed(ha_server, token="not-the-token", ready=False) as run:
        await until(lambda: run.feed.last_error is not None, what="the refusal")
        assert "refused the access token" in (run.feed.last_error or "")
        assert "refused the access token" in caplog.text
        assert not run.task.done()
        assert not run.hub.feed_connected
        assert not run.feed.connected


async def test_unreachable_home_assistant(ha_server: HomeAssistantServer) -> None:
    """Nobody listening: the feed backs off and retries without failing."""
    hub = Hub()
    url = f"ws://127.0.0.1:{free_port()}/api/websocket"  # nobody listens there
    async with aiohttp.ClientSession() as session:
        feed = HomeAssistantFeed(Settings(ha_url=url, ha_token=ha_server.token), hub, session)
        task = asyncio.create_task(feed.run())
        try:
            await until(lambda: feed.last_error is not None, what="a connection error")
            assert "retrying in" in (feed.last_error or "")
            assert not task.done()
            assert not hub.feed_connected
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@SERVER_CLOSES_AFTER_AUTH
async def test_validate_token(ha_server: HomeAssistantServer) -> None:
    hass = ha_server.hass
    refresh = hass.auth.async_validate_access_token(ha_server.token)
    assert refresh is not None
    async with aiohttp.ClientSession() as session:
        feed = HomeAssistantFeed(
            Settings(ha_url=ha_server.ws_url, ha_token=ha_server.token), Hub(), session
        )
        assert await feed.validate_token(ha_server.token) == refresh.user.name
        # Cached: still accepted, without a new round trip.
        assert await feed.validate_token(ha_server.token) == refresh.user.name
        # A well-formed token HA does not know, and things that are no token at all.
        head, body, _ = ha_server.token.split(".")
        assert await feed.validate_token(f"{head}.{body}.forged") is None
        assert await feed.validate_token("not a token") is None
        assert await feed.validate_token("") is None

        # The first URL that answers is used (and remembered).
        dead = f"ws://127.0.0.1:{free_port()}/api/websocket"
        checker = TokenChecker(session, (dead, ha_server.ws_url))
        assert await checker.validate(ha_server.token) == refresh.user.name
        assert checker.url == ha_server.ws_url


@SERVER_CLOSES_AFTER_AUTH
async def test_token_refusals_are_budgeted(
    ha_server: HomeAssistantServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the budget, unknown tokens are refused without bothering HA (its IP ban)."""
    head, body, _ = ha_server.token.split(".")
    async with aiohttp.ClientSession() as session:
        checker = TokenChecker(session, (ha_server.ws_url,), refusal_budget=2)
        for forged in ("one", "two"):
            assert await checker.validate(f"{head}.{body}.{forged}") is None
        assert "without asking" not in caplog.text
        assert await checker.validate(f"{head}.{body}.three") is None
        assert "without asking" in caplog.text
        # Known answers still come from the cache.
        assert await checker.validate(f"{head}.{body}.one") is None


async def test_rediscovers_on_registry_changes(ha_server: HomeAssistantServer) -> None:
    """A renamed device, and a second system added while the feed runs."""
    hass = ha_server.hass
    async with running_feed(ha_server) as run:
        registry = dr.async_get(hass)
        registry.async_update_device(
            system_device_id(hass, ha_server.system_id), name_by_user="Main roof"
        )
        system = run.hub.systems[ha_server.system_id]
        await until(lambda: system.info.name == "Main roof", what="the new name")
        await until(
            lambda: system.document is not None and system.document["name"] == "Main roof",
            what="the renamed document",
        )

        garage = MockConfigEntry(
            domain="sunstream",
            title="Garage",
            unique_id="sim-garage",
            data=entry_data(pv_peak_kw=3.0, battery_kwh=0.0),
            options=entry_options(update_interval=1),
        )
        garage.add_to_hass(hass)
        assert await hass.config_entries.async_setup(garage.entry_id)
        await until(lambda: "sim-garage" in run.hub.systems, what="the new system")
        added = run.hub.systems["sim-garage"]
        await until(
            lambda: added.document == expected_document(hass, "sim-garage") | {"battery": None},
            what="the new system's document",
        )
        assert "battery_soc" not in sunstream_entities(hass, "sim-garage")


async def test_unloaded_system_is_in_maintenance(ha_server: HomeAssistantServer) -> None:
    hass = ha_server.hass
    async with running_feed(ha_server) as run:
        system = run.hub.systems[ha_server.system_id]
        await until(lambda: system.document is not None and system.document["status"] == "online")
        assert await hass.config_entries.async_unload(ha_server.entry.entry_id)
        await until(
            lambda: system.document is not None and system.document["status"] == "maintenance",
            what="status maintenance",
        )
        assert system.document == expected_document(hass, ha_server.system_id)
        assert system.document["current_generation_kw"] is None


async def test_system_retried_by_home_assistant_is_offline(ha_server: HomeAssistantServer) -> None:
    """A gateway that was down when its entry set up: HA retries it, so offline, not maintenance."""
    hass = ha_server.hass
    async with running_feed(ha_server) as run:
        gateway = MockConfigEntry(
            domain="sunstream",
            title="Gateway",
            unique_id="down-gateway",
            data={
                "source": "winet",
                "host": f"127.0.0.1:{free_port()}",
                "username": "admin",
                "password": "pw8888",
            },
            options=entry_options(update_interval=10),
        )
        gateway.add_to_hass(hass)
        await hass.config_entries.async_setup(gateway.entry_id)
        assert gateway.state is ConfigEntryState.SETUP_RETRY
        await until(lambda: "down-gateway" in run.hub.systems, what="the new system")
        system = run.hub.systems["down-gateway"]
        await until(lambda: system.document is not None, what="its document")
        assert system.document is not None
        assert system.document["status"] == "offline"
        assert system.document["current_generation_kw"] is None
        assert system.document["battery"] is None
        await hass.config_entries.async_unload(gateway.entry_id)


# -- the protocol's rules on their own ------------------------------------------------


def test_frames_single_and_coalesced() -> None:
    assert decode_frame('{"id": 1, "type": "result"}') == [{"id": 1, "type": "result"}]
    assert decode_frame(b'[{"id": 1}, {"id": 2}]') == [{"id": 1}, {"id": 2}]
    with pytest.raises(ProtocolError, match="invalid JSON"):
        decode_frame("{nope")
    with pytest.raises(ProtocolError, match="not a message"):
        decode_frame("[1, 2]")


def test_error_results() -> None:
    assert result_of({"success": True, "result": {"a": 1}}) == {"a": 1}
    with pytest.raises(CommandFailed) as caught:
        result_of({"success": False, "error": {"code": "not_found", "message": "Nope"}})
    assert (caught.value.code, caught.value.message) == ("not_found", "Nope")
    with pytest.raises(CommandFailed, match="unknown_error"):
        result_of({"success": False})


def test_entity_store_applies_compressed_diffs() -> None:
    store = EntityStore()
    touched = store.apply(
        {
            "a": {
                "sensor.p": {"s": "100", "a": {"unit_of_measurement": "W", "x": 1}, "lc": 10.0},
                "sensor.q": {"s": "on", "a": {}, "lc": 10.0, "lu": 12.5},
            }
        }
    )
    assert touched == {"sensor.p", "sensor.q"}
    assert store.get("sensor.p") == EntityState(
        "100", {"unit_of_measurement": "W", "x": 1}, last_changed=10.0, last_updated=10.0
    )
    assert store.get("sensor.q") == EntityState("on", {}, last_changed=10.0, last_updated=12.5)
    # A value change (new last_changed), and an attribute-only change (last_updated).
    store.apply(
        {
            "c": {
                "sensor.p": {"+": {"s": "150", "lc": 20.0, "a": {"y": 2}}, "-": {"a": ["x"]}},
                "sensor.q": {"+": {"lu": 21.0}},
                "sensor.unknown": {"+": {"s": "1"}},
            }
        }
    )
    assert store.get("sensor.p") == EntityState(
        "150", {"unit_of_measurement": "W", "y": 2}, last_changed=20.0, last_updated=20.0
    )
    assert store.get("sensor.q") == EntityState("on", {}, last_changed=10.0, last_updated=21.0)
    assert store.get("sensor.unknown") is None  # a diff can't make a state
    assert store.apply({"r": ["sensor.q", "sensor.gone"]}) == {"sensor.q"}
    assert store.get("sensor.q") is None
    assert store.retain(["sensor.other"]) == {"sensor.p"}
    assert len(store) == 0


def test_urls() -> None:
    assert websocket_url("http://ha.local:8123") == "ws://ha.local:8123/api/websocket"
    assert websocket_url("https://ha.example/") == "wss://ha.example/api/websocket"
    assert websocket_url("ws://ha:8123/api/websocket") == "ws://ha:8123/api/websocket"
    assert websocket_url("ws://supervisor/core/websocket") == "ws://supervisor/core/websocket"
    # The Supervisor proxy only takes app tokens: user tokens go to Core itself.
    assert validation_urls("ws://supervisor/core/websocket") == (
        "ws://homeassistant:8123/api/websocket",
        "wss://homeassistant:8123/api/websocket",
    )
    assert validation_urls("http://ha.local:8123") == ("ws://ha.local:8123/api/websocket",)


def test_token_shape() -> None:
    assert looks_like_token("eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl")
    assert not looks_like_token("two.parts")
    assert not looks_like_token("has spaces.in it.here")
    assert not looks_like_token("a." * 3000 + "b.c")


def test_backoff() -> None:
    backoff = Backoff(base=1.0, cap=30.0, rand=lambda: 0.0)  # no jitter drawn
    assert [backoff.next_delay() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.failures == 7
    assert backoff.peek() == 30.0
    backoff.reset()
    assert backoff.next_delay() == 1.0
    # Jitter only shortens a wait, so the cap holds.
    assert Backoff(base=1.0, cap=30.0, rand=lambda: 0.5).next_delay() == pytest.approx(0.9)
    assert Backoff(base=1.0, cap=30.0, rand=lambda: 0.999).next_delay() > 0.8
    with pytest.raises(ValueError, match="invalid back-off"):
        Backoff(base=5.0, cap=1.0)


def test_backoff_matches_the_integration() -> None:
    """The app's copy and the integration's: same API, same delays."""
    draws = [0.0, 0.3, 0.99, 0.5, 0.1, 0.7, 0.2, 0.0]
    ours, theirs = (
        cls(base=0.5, factor=3.0, cap=20.0, jitter=0.25, rand=iter(draws).__next__)
        for cls in (Backoff, IntegrationBackoff)
    )
    assert [ours.next_delay() for _ in draws] == [theirs.next_delay() for _ in draws]


def test_discovery() -> None:
    devices = [
        {
            "id": "dev-sys",
            "identifiers": [["sunstream", "sys-1"]],
            "via_device_id": None,
            "config_entry_id": "entry-1",
            "name": "Roof",
            "name_by_user": None,
            "manufacturer": "Sungrow",
            "model": "SH10RT",
        },
        {
            "id": "dev-bat",
            "identifiers": [["sunstream", "sys-1_battery"]],
            "via_device_id": "dev-sys",
            "config_entry_id": "entry-1",
        },
        {
            "id": "dev-child",
            "identifiers": [["sunstream", "sys-1_inverter"]],
            "parent_device_id": "dev-sys",
            "config_entry_id": "entry-1",
        },
        {  # an older HA: config_entries, no config_entry_id
            "id": "dev-2",
            "identifiers": [["sunstream", "sys-2"]],
            "config_entries": ["entry-2"],
            "name": "Shed",
            "name_by_user": "Garden shed",
            "manufacturer": "Sunstream",
            "model": "Simulated PV system",
        },
        {"id": "other", "identifiers": [["hue", "x"]], "config_entry_id": "entry-9"},
    ]

    def entity(unique_id: str, entity_id: str, entry: str = "entry-1", **extra: Any) -> Any:
        return {
            "platform": "sunstream",
            "unique_id": unique_id,
            "entity_id": entity_id,
            "config_entry_id": entry,
            "device_id": None,
            "disabled_by": None,
        } | extra

    entities = [
        entity("sys-1_pv_power", "sensor.roof_pv_power"),
        entity("sys-1_battery_soc", "sensor.roof_soc", device_id="dev-bat"),
        entity("sys-1_connectivity", "binary_sensor.roof_connection"),
        entity("sys-1_grid_voltage", "sensor.roof_grid_voltage"),  # not in the document
        entity("sys-1_inverter_link", "binary_sensor.roof_inverter_link"),
        entity("sys-1_alert", "event.roof_alert"),  # the alerts' list, not in the document
        entity("sys-1_load_power", "sensor.roof_load", disabled_by="user"),
        entity("sys-2_pv_power", "sensor.shed_pv_power", entry="entry-2"),
        entity("sys-2_status", "sensor.shed_status", entry="elsewhere", device_id="dev-2"),
        {"platform": "hue", "unique_id": "sys-1_pv_power", "entity_id": "sensor.hue"},
    ]
    layouts = discover(devices, entities, {"sys-2": SourceKind.WINET})
    assert set(layouts) == {"sys-1", "sys-2"}
    roof, shed = layouts["sys-1"], layouts["sys-2"]
    assert roof.info.name == "Roof"
    # A Sungrow device may be on WiNet or on Modbus TCP: the registry cannot tell.
    assert roof.info.source is SourceKind.UNKNOWN
    assert roof.info.device_id == "dev-sys"
    assert roof.info.config_entry_id == "entry-1"
    assert dict(roof.entities) == {
        "pv_power": "sensor.roof_pv_power",
        "battery_soc": "sensor.roof_soc",
        "connectivity": "binary_sensor.roof_connection",
    }
    assert roof.has_battery
    assert roof.connectivity == "binary_sensor.roof_connection"
    assert roof.statistic_id is None
    assert roof.alert_entity == "event.roof_alert"
    assert shed.info.name == "Garden shed"
    assert shed.info.source is SourceKind.WINET  # learnt from the integration
    assert shed.info.config_entry_id == "entry-2"
    assert dict(shed.entities) == {
        "pv_power": "sensor.shed_pv_power",
        "status": "sensor.shed_status",
    }
    assert not shed.has_battery
    assert shed.alert_entity is None


def test_source_kinds_are_the_integrations() -> None:
    """The app knows every kind of system the integration can set up, and no other."""
    from custom_components.sunstream.const import SourceType

    assert {kind.value for kind in SourceKind} - {"unknown"} == {kind.value for kind in SourceType}
    assert {kind for kind in SourceKind if kind.over_modbus} == {"modbus", "sungrow_modbus"}
    assert SourceKind.of("something new") is SourceKind.UNKNOWN
    assert SourceKind.of(None) is SourceKind.UNKNOWN

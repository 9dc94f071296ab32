"""Alerts both ways between Home Assistant and the app.

First the hub's rules for the ``sunstream_alert`` states the integration
fires (raised, cleared, acknowledged), and for the list of active alerts on
each system's alert entity, which the feed catches up from after a
reconnect; then, against a real Home Assistant, alerts raised, cleared and
acknowledged while the feed was away, an acknowledgement by a named user,
and the whole round trip: a fault simulated in a real Home Assistant, the
alert on ``/ws``, Socket.IO and the broker, an acknowledgement through the
app's HTTP API that reaches Home Assistant, and its echo coming back to
every output exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
from typing import Any

import aiohttp
from homeassistant.core import Context, Event, HomeAssistant, callback
import orjson
import pytest
import socketio  # type: ignore[import-untyped]

from sunstream_monitor.alert_book import ACKNOWLEDGED_IN_HA, MAX_ALERTS
from sunstream_monitor.feeds import ha as ha_feed
from sunstream_monitor.feeds.discovery import SystemLayout
from sunstream_monitor.feeds.ha_tracker import SystemTracker
from sunstream_monitor.hub import Hub, SystemInfo
from sunstream_monitor.runner import serve
from sunstream_monitor.settings import MqttSettings, Settings

from .conftest import Broker, HomeAssistantServer, free_port
from .ha_feed_support import (
    HubRecorder,
    RunningFeed,
    running_feed,
    sunstream_entities,
    system_device_id,
    until,
)
from .mqtt_support import Subscriber
from .web_support import ADMIN_TOKEN, bearer, receive

SYSTEM = "sim-rooftop"
RULE = "communication_loss"
ALERT_ID = f"{SYSTEM}:{RULE}"


def ha_alert(state: str, **extra: Any) -> dict[str, Any]:
    """A ``sunstream_alert`` event's data, as ``system_alerts.py`` fires it."""
    data: dict[str, Any] = {
        "device_id": "device-1",
        "config_entry_id": "entry-1",
        "system_id": SYSTEM,
        "source": "simulated",
        "alert_id": ALERT_ID,
        "state": state,
        "acknowledged": state == "acknowledged",
        "rule": RULE,
        "severity": "critical",
        "value": 1.0,
        "threshold": None if state == "acknowledged" else 0.5,
    }
    data.update(extra)
    return data


def recorded_hub() -> tuple[Hub, HubRecorder]:
    hub = Hub()
    hub.set_systems([SystemInfo(system_id=SYSTEM, name="Rooftop", source="simulated")])
    recorder = HubRecorder()
    hub.add_listener(recorder)
    return hub, recorder


def kinds(recorder: HubRecorder) -> list[str]:
    return [event.kind for event in recorder.events]


# -- the hub's rules ---------------------------------------------------------------------------


def test_acknowledged_here_then_echoed_by_home_assistant() -> None:
    """The app acknowledges; HA's "acknowledged" echo changes nothing and says nothing."""
    hub, recorder = recorded_hub()
    upstream: list[str] = []
    hub.acknowledge_upstream = lambda alert, by: upstream.append(alert.alert_id)
    raised = hub.raise_alert(SYSTEM, ha_alert("raised"))
    assert raised is not None
    assert hub.acknowledge(ALERT_ID, "ana") is raised
    assert upstream == [ALERT_ID]
    before = raised.as_dict()

    assert hub.raise_alert(SYSTEM, ha_alert("acknowledged")) is None
    assert kinds(recorder) == ["alert", "alert_acknowledged"]
    assert hub.alerts.get(ALERT_ID) is raised
    assert raised.as_dict() == before  # threshold kept, acknowledged_by still "ana"
    assert raised.threshold == 0.5
    assert upstream == [ALERT_ID]


def test_acknowledged_in_home_assistant() -> None:
    """HA acknowledges first: one alert_acknowledged, nothing sent back upstream."""
    hub, recorder = recorded_hub()
    upstream: list[str] = []
    hub.acknowledge_upstream = lambda alert, by: upstream.append(alert.alert_id)
    raised = hub.raise_alert(SYSTEM, ha_alert("raised"))
    assert raised is not None

    assert hub.raise_alert(SYSTEM, ha_alert("acknowledged")) is raised
    assert kinds(recorder) == ["alert", "alert_acknowledged"]
    acknowledged = recorder.events[-1].data
    assert acknowledged["state"] == "raised"
    assert acknowledged["acknowledged"] is True
    assert acknowledged["acknowledged_by"] == "Home Assistant"
    assert acknowledged["threshold"] == 0.5
    assert upstream == []
    # A second echo, or an acknowledgement from the app afterwards, adds nothing.
    assert hub.raise_alert(SYSTEM, ha_alert("acknowledged")) is None
    assert hub.acknowledge(ALERT_ID, "ana") is raised
    assert kinds(recorder) == ["alert", "alert_acknowledged"]
    assert upstream == []


def test_acknowledged_alert_unknown_here_is_not_created() -> None:
    hub, recorder = recorded_hub()
    assert hub.raise_alert(SYSTEM, ha_alert("acknowledged")) is None
    assert len(hub.alerts) == 0
    assert recorder.events == []


def test_cleared_updates_the_alert_it_clears() -> None:
    hub, recorder = recorded_hub()
    raised = hub.raise_alert(SYSTEM, ha_alert("raised", value=1.0))
    assert raised is not None
    hub.acknowledge(ALERT_ID, "ana")

    cleared = hub.raise_alert(SYSTEM, ha_alert("cleared", value=0.0))
    assert cleared is raised
    assert (cleared.state, cleared.value, cleared.acknowledged) == ("cleared", 0.0, True)
    assert cleared.cleared_at is not None
    assert kinds(recorder) == ["alert", "alert_acknowledged", "alert"]
    assert recorder.events[-1].data == cleared.as_dict()
    assert len(hub.alerts) == 1
    # Cleared twice (a redelivery) is not news; cleared unseen is nothing to clear.
    assert hub.raise_alert(SYSTEM, ha_alert("cleared", value=0.0)) is None
    assert hub.raise_alert(SYSTEM, ha_alert("cleared", rule="other", alert_id="x:y")) is None
    assert len(hub.alerts) == 1
    assert kinds(recorder) == ["alert", "alert_acknowledged", "alert"]


def test_raised_again_is_a_new_alert() -> None:
    """After a clear, or after HA lost its acknowledgement (a restart), "raised" starts over."""
    hub, recorder = recorded_hub()
    first = hub.raise_alert(SYSTEM, ha_alert("raised"))
    hub.raise_alert(SYSTEM, ha_alert("cleared"))
    second = hub.raise_alert(SYSTEM, ha_alert("raised"))
    assert second is not None
    assert second is not first
    assert (second.state, second.acknowledged, second.cleared_at) == ("raised", False, None)

    hub.acknowledge(ALERT_ID, "ana")
    third = hub.raise_alert(SYSTEM, ha_alert("raised"))
    assert third is not None
    assert third is not second
    assert third.acknowledged is False
    assert len(hub.alerts) == 1
    assert kinds(recorder) == ["alert", "alert", "alert", "alert_acknowledged", "alert"]


def test_the_book_stays_bounded() -> None:
    hub, _ = recorded_hub()
    for index in range(MAX_ALERTS + 50):
        hub.raise_alert(SYSTEM, ha_alert("raised", rule=f"r{index}", alert_id=f"{SYSTEM}:r{index}"))
    assert len(hub.alerts) == MAX_ALERTS
    assert hub.alerts.get(f"{SYSTEM}:r0") is None
    assert hub.alerts.get(f"{SYSTEM}:r{MAX_ALERTS + 49}") is not None


# -- the list of active alerts: catching up, and no announcement twice -------------------------

RAISED_AT = "2026-11-22T09:41:07.512345+00:00"
RAISED_AGAIN_AT = "2026-11-22T10:02:31.000001+00:00"


def listed(**extra: Any) -> dict[str, Any]:
    """One item of the alert entity's ``active`` attribute (custom_components/sunstream)."""
    item: dict[str, Any] = {
        "rule": RULE,
        "severity": "critical",
        "value": 1.0,
        "raised_at": RAISED_AT,
        "acknowledged": False,
    }
    item.update(extra)
    return item


def test_list_books_what_was_missed_once() -> None:
    """Raised and acknowledged while away, then cleared while away: one announcement each."""
    hub, recorder = recorded_hub()
    upstream: list[str] = []
    hub.acknowledge_upstream = lambda alert, by: upstream.append(alert.alert_id)

    [alert] = hub.sync_alerts(SYSTEM, [listed(acknowledged=True)])
    assert hub.alerts.get(ALERT_ID) is alert
    assert (alert.system_id, alert.rule, alert.severity, alert.state) == (
        SYSTEM,
        RULE,
        "critical",
        "raised",
    )
    assert (alert.value, alert.threshold, alert.raised_at) == (1.0, None, RAISED_AT)
    assert (alert.acknowledged, alert.acknowledged_by) == (True, ACKNOWLEDGED_IN_HA)
    assert kinds(recorder) == ["alert"]
    assert recorder.events[0].data == alert.as_dict()
    # The same list again (every reconnect, every later change of the entity) is not news.
    assert hub.sync_alerts(SYSTEM, [listed(acknowledged=True, value=2.0)]) == []

    # No longer listed: cleared, announced once.
    assert hub.sync_alerts(SYSTEM, []) == [alert]
    assert (alert.state, alert.raised_at) == ("cleared", RAISED_AT)
    assert alert.cleared_at is not None
    assert hub.sync_alerts(SYSTEM, []) == []
    assert kinds(recorder) == ["alert", "alert"]
    assert recorder.events[-1].data == alert.as_dict()
    assert upstream == []  # what Home Assistant says is not sent back to it


def test_list_acknowledges_and_clears_what_the_events_raised() -> None:
    hub, recorder = recorded_hub()
    raised = hub.raise_alert(SYSTEM, ha_alert("raised"))
    assert raised is not None
    other = hub.raise_alert(
        SYSTEM, ha_alert("raised", rule="thd_high", alert_id=f"{SYSTEM}:thd_high")
    )
    assert other is not None
    # Acknowledged in Home Assistant while away (the list names nobody); thd_high cleared.
    assert hub.sync_alerts(SYSTEM, [listed(acknowledged=True)]) == [raised, other]
    assert kinds(recorder) == ["alert", "alert", "alert_acknowledged", "alert"]
    assert (raised.state, raised.acknowledged_by, raised.raised_at) == (
        "raised",
        ACKNOWLEDGED_IN_HA,
        recorder.events[0].data["raised_at"],  # the raise announced, not another one
    )
    assert raised.threshold == 0.5
    assert other.state == "cleared"
    # Another system's list leaves this one's alerts alone.
    assert hub.sync_alerts("elsewhere", []) == []
    assert len(recorder.events) == 4


def test_list_tells_a_new_raise_by_its_time() -> None:
    """Cleared and raised again while away: Home Assistant's raised_at moved on."""
    hub, recorder = recorded_hub()
    first = hub.raise_alert(SYSTEM, ha_alert("raised"))
    assert first is not None
    hub.acknowledge(ALERT_ID, "ana")
    assert hub.sync_alerts(SYSTEM, [listed()]) == []  # HA has not heard of "ana" yet
    assert hub.sync_alerts(SYSTEM, [listed(acknowledged=True)]) == []  # now it has

    [second] = hub.sync_alerts(SYSTEM, [listed(raised_at=RAISED_AGAIN_AT, value=3.0)])
    assert second is not first
    assert (second.state, second.raised_at, second.value) == ("raised", RAISED_AGAIN_AT, 3.0)
    assert (second.acknowledged, second.acknowledged_by) == (False, None)
    assert hub.alerts.get(ALERT_ID) is second
    assert kinds(recorder) == ["alert", "alert_acknowledged", "alert"]
    assert hub.sync_alerts(SYSTEM, [listed(raised_at=RAISED_AGAIN_AT)]) == []


def test_event_then_list_announces_each_transition_once() -> None:
    """Live, the event comes first and the entity's list follows: the list adds nothing."""
    hub, recorder = recorded_hub()
    hub.raise_alert(SYSTEM, ha_alert("raised"))
    assert hub.sync_alerts(SYSTEM, [listed()]) == []
    hub.raise_alert(SYSTEM, ha_alert("acknowledged", acknowledged_by="Alice"))
    assert hub.sync_alerts(SYSTEM, [listed(acknowledged=True)]) == []
    hub.raise_alert(SYSTEM, ha_alert("cleared", acknowledged=True, value=0.0))
    assert hub.sync_alerts(SYSTEM, []) == []

    assert kinds(recorder) == ["alert", "alert_acknowledged", "alert"]
    assert recorder.events[1].data["acknowledged_by"] == "Alice"
    alert = hub.alerts.get(ALERT_ID)
    assert alert is not None
    assert (alert.state, alert.value, alert.threshold) == ("cleared", 0.0, 0.5)
    assert recorder.events[-1].data == alert.as_dict()


def test_list_then_event_announces_each_transition_once() -> None:
    """Should the list come first, the event only fills in what the list lacks, quietly."""
    hub, recorder = recorded_hub()
    [alert] = hub.sync_alerts(SYSTEM, [listed()])
    assert hub.raise_alert(SYSTEM, ha_alert("raised")) is None
    assert alert.threshold == 0.5  # the list has no threshold; the event does
    assert hub.sync_alerts(SYSTEM, [listed(acknowledged=True)]) == [alert]
    assert hub.raise_alert(SYSTEM, ha_alert("acknowledged", acknowledged_by="Alice")) is None
    assert alert.acknowledged_by == "Alice"  # the list does not say who; the event does
    assert hub.sync_alerts(SYSTEM, []) == [alert]
    assert hub.raise_alert(SYSTEM, ha_alert("cleared", acknowledged=True, value=0.0)) is None
    assert (alert.state, alert.value) == ("cleared", 0.0)
    assert kinds(recorder) == ["alert", "alert_acknowledged", "alert"]

    # The next raise is news again, whichever comes first.
    again = hub.raise_alert(SYSTEM, ha_alert("raised"))
    assert again is not None
    assert again is not alert
    assert hub.sync_alerts(SYSTEM, [listed(raised_at=RAISED_AGAIN_AT)]) == []
    assert kinds(recorder) == ["alert", "alert_acknowledged", "alert", "alert"]


def test_tracker_follows_the_alert_entity() -> None:
    """The entity's list is synced after the frame's events; no list, no change."""
    hub, recorder = recorded_hub()
    tracker = SystemTracker(hub)
    info = SystemInfo(system_id=SYSTEM, name="Rooftop", source="simulated")
    tracker.set_layouts(
        {
            SYSTEM: SystemLayout(
                info=info,
                entities={"connectivity": "binary_sensor.rooftop"},
                alert_entity="event.rooftop_alert",
            )
        }
    )
    assert tracker.wanted_entities() == ["binary_sensor.rooftop", "event.rooftop_alert"]
    tracker.entity_states(
        {
            "a": {
                "binary_sensor.rooftop": {"s": "off", "a": {}, "lc": 1.0},
                "event.rooftop_alert": {"s": "unknown", "a": {"active": [listed()]}, "lc": 1.0},
            }
        },
        resync=True,
    )
    assert hub.alerts.list() == []  # not before the frame is over
    tracker.flush()
    documents = len(recorder.states)
    assert kinds(recorder) == ["alert"]
    alert = hub.alerts.get(ALERT_ID)
    assert alert is not None
    assert alert.raised_at == RAISED_AT

    # The event and the entity's change in one frame, the change first: one announcement.
    cleared = {
        "c": {"event.rooftop_alert": {"+": {"s": "2026-11-22T10:00:00", "a": {"active": []}}}}
    }
    tracker.entity_states(cleared)
    tracker.bus_event("sunstream_alert", ha_alert("cleared", value=0.0))
    tracker.flush()
    assert kinds(recorder) == ["alert", "alert"]
    assert (alert.state, alert.value) == ("cleared", 0.0)

    # Unavailable (entry unloaded) or from an older integration: no list, nothing cleared.
    hub.raise_alert(SYSTEM, ha_alert("raised"))
    tracker.entity_states({"a": {"event.rooftop_alert": {"s": "unavailable", "a": {}, "lc": 2.0}}})
    tracker.flush()
    assert hub.alerts.list(SYSTEM, active_only=True) != []
    assert kinds(recorder) == ["alert", "alert", "alert"]
    assert len(recorder.states) == documents  # the alert entity is not in the document


# -- end to end, with the real Home Assistant, server and broker ------------------------------


async def _alerts_at_once(ha: HomeAssistantServer) -> None:
    """Communication loss raised on the first failed poll, cleared on the first good one."""
    hass, entry = ha.hass, ha.entry
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "alerts": {"communication_loss_minutes": 0}}
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


async def _outage(hass: HomeAssistant) -> None:
    await hass.services.async_call(
        "sunstream",
        "simulate_outage",
        {"device_id": system_device_id(hass, SYSTEM), "duration": {"seconds": 60}},
        blocking=True,
    )


def _listed_in_ha(hass: HomeAssistant) -> list[dict[str, Any]]:
    """The alert entity's ``active`` attribute, as Home Assistant has it now."""
    state = hass.states.get(sunstream_entities(hass, SYSTEM)["alert"])
    assert state is not None
    return [dict(item) for item in state.attributes["active"]]


@pytest.fixture
def reconnect_gate(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """While cleared, the feed's reconnection attempts wait (the feed stays away)."""
    gate = asyncio.Event()
    gate.set()
    open_websocket = ha_feed.open_websocket

    async def gated(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await open_websocket(*args, **kwargs)

    monkeypatch.setattr(ha_feed, "open_websocket", gated)
    return gate


async def _away(ha: HomeAssistantServer, run: RunningFeed, gate: asyncio.Event) -> None:
    gate.clear()
    assert ha.drop_connections() >= 1
    await until(lambda: not run.hub.feed_connected, what="the feed to notice")


async def _back(run: RunningFeed, gate: asyncio.Event) -> None:
    gate.set()
    await until(lambda: run.hub.feed_connected, within=10, what="the feed to reconnect")


async def _settled(hass: HomeAssistant, run: RunningFeed) -> None:
    """Wait until an event fired now reached the hub (so everything before it has)."""
    seen = len(run.recorder.of_kind("dispatch"))
    hass.bus.async_fire("sunstream_dispatch", {"system_id": SYSTEM, "command": "stop"})
    await until(lambda: len(run.recorder.of_kind("dispatch")) > seen, what="the barrier event")


async def test_alert_raised_while_away_is_caught_up_once(
    ha_server: HomeAssistantServer, reconnect_gate: asyncio.Event
) -> None:
    hass = ha_server.hass
    await _alerts_at_once(ha_server)
    async with running_feed(ha_server) as run:
        assert _listed_in_ha(hass) == []
        assert run.hub.alerts.list() == []
        await _away(ha_server, run, reconnect_gate)
        await _outage(hass)
        await until(lambda: _listed_in_ha(hass), within=20, what="Home Assistant to raise it")
        [in_ha] = _listed_in_ha(hass)
        assert not run.hub.feed_connected
        assert run.hub.alerts.list() == []

        await _back(run, reconnect_gate)
        await until(lambda: run.recorder.of_kind("alert"), what="the alert after the resync")
        await _settled(hass, run)
        [event] = run.recorder.of_kind("alert")
        alert = run.hub.alerts.get(ALERT_ID)
        assert alert is not None
        assert event.system_id == SYSTEM
        assert event.data == alert.as_dict()
        assert (alert.rule, alert.severity, alert.state, alert.raised_at) == (
            RULE,
            "critical",
            "raised",
            in_ha["raised_at"],
        )
        assert (alert.value, alert.acknowledged) == (in_ha["value"], False)
        assert run.hub.alerts.list(SYSTEM, active_only=True) == [alert]

        # Another reconnect finds it already known: still announced once.
        assert ha_server.drop_connections() >= 1
        await until(lambda: not run.hub.feed_connected, what="the feed to notice")
        await until(lambda: run.hub.feed_connected, within=10, what="the feed to reconnect")
        await _settled(hass, run)
        assert len(run.recorder.of_kind("alert")) == 1
        assert run.recorder.of_kind("alert_acknowledged") == []


async def test_alert_cleared_while_away_is_cleared_after_resync(
    ha_server: HomeAssistantServer, reconnect_gate: asyncio.Event
) -> None:
    hass = ha_server.hass
    await _alerts_at_once(ha_server)
    coordinator = ha_server.entry.runtime_data.coordinator
    async with running_feed(ha_server) as run:
        await _outage(hass)
        await until(lambda: run.hub.alerts.get(ALERT_ID), within=20, what="the alert, live")
        await _settled(hass, run)
        [raised] = run.recorder.of_kind("alert")
        assert raised.data["state"] == "raised"

        await _away(ha_server, run, reconnect_gate)
        coordinator.source.end_outage()
        await coordinator.async_refresh()
        await until(lambda: not _listed_in_ha(hass), within=20, what="Home Assistant to clear it")
        alert = run.hub.alerts.get(ALERT_ID)
        assert alert is not None
        assert alert.state == "raised"

        await _back(run, reconnect_gate)
        await until(lambda: alert.state == "cleared", what="the clear after the resync")
        await _settled(hass, run)
        assert [event.data["state"] for event in run.recorder.of_kind("alert")] == [
            "raised",
            "cleared",
        ]
        cleared = run.recorder.of_kind("alert")[1].data
        assert cleared == alert.as_dict()
        assert cleared["raised_at"] == raised.data["raised_at"]
        assert cleared["cleared_at"] is not None
        assert run.hub.alerts.list(SYSTEM, active_only=True) == []


async def test_acknowledged_in_ha_by_a_named_user(ha_server: HomeAssistantServer) -> None:
    """HA's acknowledged event names the user: that name, not "Home Assistant", once."""
    hass = ha_server.hass
    await _alerts_at_once(ha_server)
    user = await hass.auth.async_create_user("Alice Operator")
    async with running_feed(ha_server) as run:
        await _outage(hass)
        await until(lambda: run.hub.alerts.get(ALERT_ID), within=20, what="the alert, live")
        await hass.services.async_call(
            "sunstream",
            "acknowledge_alert",
            {"alert_id": ALERT_ID},
            blocking=True,
            context=Context(user_id=user.id),
        )
        await until(lambda: run.recorder.of_kind("alert_acknowledged"), what="the acknowledgement")
        await _settled(hass, run)
        assert [item["acknowledged"] for item in _listed_in_ha(hass)] == [True]
        [event] = run.recorder.of_kind("alert_acknowledged")
        alert = run.hub.alerts.get(ALERT_ID)
        assert alert is not None
        assert event.data == alert.as_dict()
        assert (alert.acknowledged, alert.acknowledged_by) == (True, "Alice Operator")
        assert len(run.recorder.of_kind("alert")) == 1


async def test_acknowledged_while_away(
    ha_server: HomeAssistantServer, reconnect_gate: asyncio.Event
) -> None:
    """The list says it was acknowledged, not by whom."""
    hass = ha_server.hass
    await _alerts_at_once(ha_server)
    user = await hass.auth.async_create_user("Alice Operator")
    async with running_feed(ha_server) as run:
        await _outage(hass)
        await until(lambda: run.hub.alerts.get(ALERT_ID), within=20, what="the alert, live")
        await _away(ha_server, run, reconnect_gate)
        await hass.services.async_call(
            "sunstream",
            "acknowledge_alert",
            {"alert_id": ALERT_ID},
            blocking=True,
            context=Context(user_id=user.id),
        )
        await _back(run, reconnect_gate)
        await until(lambda: run.recorder.of_kind("alert_acknowledged"), what="the acknowledgement")
        await _settled(hass, run)
        [event] = run.recorder.of_kind("alert_acknowledged")
        assert (event.data["acknowledged"], event.data["acknowledged_by"]) == (
            True,
            ACKNOWLEDGED_IN_HA,
        )
        assert len(run.recorder.of_kind("alert")) == 1


class SocketIORecorder:
    """A real socket.io client that keeps every ``device:alerts`` and ``device:dispatch``."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        # (deviceId, alert) for each alert heard, as the /ws frame it matches: see _seen_on_ws.
        self.alerts: list[tuple[str, dict[str, Any]]] = []
        self.dispatches: list[dict[str, Any]] = []
        self.client.on("device:alerts", self._alert)
        self.client.on("device:dispatch", self._dispatch)

    async def _alert(self, message: dict[str, Any]) -> None:
        # Read as existing dashboards do (docs/app-api.md): ({ deviceId, alerts }) => …
        assert set(message) == {"deviceId", "alerts"}
        self.alerts.extend((message["deviceId"], alert) for alert in message["alerts"])

    async def _dispatch(self, data: dict[str, Any]) -> None:
        self.dispatches.append(data)


def _seen_on_ws(*frames: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """What a Socket.IO client hears for these /ws alert frames: (deviceId, alert)."""
    return [(frame["system_id"], frame["data"]) for frame in frames]


class ChannelRecorder:
    """A ``/ws`` client subscribed to one system, keeping every frame it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.frames.append(orjson.loads(message.data))

    def of(self, *kinds: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame["type"] in kinds]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """``serve(settings)`` as a task; yields the base URL once the feed is in sync."""
    task = asyncio.create_task(serve(settings))
    base = f"http://127.0.0.1:{settings.port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def healthy() -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{base}/health") as response:
                        return bool((await response.json())["feed_connected"])
                return False

            for _ in range(300):
                assert not task.done(), task
                if await healthy():
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the server never connected to Home Assistant")
        yield base
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class Outputs:
    """What each of the app's outputs carried, as real clients received it."""

    channel: ChannelRecorder
    sio: SocketIORecorder
    mqtt: Subscriber

    def mqtt_events(self, *kinds: str) -> list[dict[str, Any]]:
        frames = [orjson.loads(m.payload) for m in self.mqtt.on(f"sunstream/{SYSTEM}/events")]
        return [frame for frame in frames if frame["type"] in kinds]

    async def barrier(self, hass: HomeAssistant) -> None:
        """Wait until an event fired now has reached every output (so all before it has)."""
        seen = (len(self.channel.of("dispatch")), len(self.sio.dispatches))
        mqtt_seen = len(self.mqtt_events("dispatch"))
        hass.bus.async_fire("sunstream_dispatch", {"system_id": SYSTEM, "command": "stop"})
        await until(lambda: len(self.channel.of("dispatch")) > seen[0], what="/ws barrier")
        await until(lambda: len(self.sio.dispatches) > seen[1], what="Socket.IO barrier")
        await until(lambda: len(self.mqtt_events("dispatch")) > mqtt_seen, what="MQTT barrier")


@contextlib.asynccontextmanager
async def outputs(base: str, session: aiohttp.ClientSession, port: int) -> AsyncIterator[Outputs]:
    """A /ws client, a Socket.IO client and an MQTT subscriber, all following SYSTEM."""
    async with Subscriber(port, f"sunstream/{SYSTEM}/events") as mqtt:
        ws = await session.ws_connect(f"{base}/ws")
        assert (await receive(ws))["type"] == "connection_status"
        await ws.send_json({"type": "subscribe", "system_id": SYSTEM})
        while (await receive(ws))["type"] != "subscribed":
            pass
        channel = ChannelRecorder(ws)
        sio = SocketIORecorder()
        try:
            await sio.client.connect(base, auth={"token": ADMIN_TOKEN}, transports=["websocket"])
            ack = await sio.client.call("subscribe:device", SYSTEM, timeout=5)
            assert ack == {"ok": True, "system_id": SYSTEM, "alerts": []}
            yield Outputs(channel=channel, sio=sio, mqtt=mqtt)
        finally:
            await sio.client.disconnect()
            await channel.close()


async def _raised_everywhere(out: Outputs, in_ha: list[dict[str, Any]]) -> dict[str, Any]:
    await until(lambda: out.channel.of("alert"), within=20, what="the alert on /ws")
    raised = out.channel.of("alert")[0]
    assert raised["system_id"] == SYSTEM
    data = raised["data"]
    assert (data["alert_id"], data["rule"], data["state"]) == (ALERT_ID, RULE, "raised")
    assert (data["severity"], data["acknowledged"]) == ("critical", False)
    await until(lambda: out.sio.alerts, what="device:alerts")
    assert out.sio.alerts == _seen_on_ws(raised)
    await until(lambda: out.mqtt_events("alert"), what="the alert on MQTT")
    assert out.mqtt_events("alert") == [raised]
    assert [e["state"] for e in in_ha] == ["raised"]
    return raised


async def _acknowledged_in_ha(
    hass: HomeAssistant, session: aiohttp.ClientSession, base: str, in_ha: list[dict[str, Any]]
) -> None:
    async with session.post(f"{base}/api/alerts/{ALERT_ID}/acknowledge") as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    assert (body["alert"]["acknowledged"], body["alert"]["acknowledged_by"]) == (True, "token-1")
    await until(
        lambda: [e["state"] for e in in_ha] == ["raised", "acknowledged"],
        what="sunstream_alert acknowledged in HA",
    )
    assert (in_ha[-1]["alert_id"], in_ha[-1]["acknowledged"]) == (ALERT_ID, True)
    state = hass.states.get(sunstream_entities(hass, SYSTEM)["alert"])
    assert state is not None
    assert (state.attributes["event_type"], state.attributes["rule"]) == ("acknowledged", RULE)


async def test_alert_round_trip(ha_server: HomeAssistantServer, broker: Broker) -> None:
    hass = ha_server.hass
    await _alerts_at_once(ha_server)
    in_ha: list[dict[str, Any]] = []

    @callback
    def on_alert(event: Event[dict[str, Any]]) -> None:
        in_ha.append(dict(event.data))

    hass.bus.async_listen("sunstream_alert", on_alert)
    settings = Settings(
        source="ha",
        ha_url=ha_server.ws_url,
        ha_token=ha_server.token,
        host="127.0.0.1",
        port=free_port(),
        tokens=(ADMIN_TOKEN,),
        mqtt=MqttSettings(host="127.0.0.1", port=broker.port),
    )
    async with (
        serving(settings) as base,
        aiohttp.ClientSession(headers=bearer()) as session,
        outputs(base, session, broker.port) as out,
    ):
        # 1. A fault in HA raises the alert; every output hears it.
        await hass.services.async_call(
            "sunstream",
            "simulate_fault",
            {
                "device_id": system_device_id(hass, SYSTEM),
                "kind": "inverter_offline",
                "duration": {"seconds": 8},
            },
            blocking=True,
        )
        raised = await _raised_everywhere(out, in_ha)

        # 2. Acknowledged through the app's HTTP API, it reaches Home Assistant ...
        await _acknowledged_in_ha(hass, session, base, in_ha)
        # ... and comes back to every output once: HA's echo adds nothing.
        await out.barrier(hass)
        acknowledged = out.channel.of("alert_acknowledged")
        assert len(acknowledged) == 1
        assert acknowledged[0]["data"]["acknowledged_by"] == "token-1"
        assert acknowledged[0]["data"]["threshold"] == raised["data"]["threshold"]
        assert out.channel.of("alert") == [raised]
        assert out.sio.alerts == _seen_on_ws(raised, acknowledged[0])
        assert out.mqtt_events("alert", "alert_acknowledged") == [raised, acknowledged[0]]

        # 3. The fault ends: HA clears the alert, the app updates the same one.
        await until(lambda: len(out.channel.of("alert")) == 2, within=20, what="the clear")
        cleared = out.channel.of("alert")[1]["data"]
        assert (cleared["alert_id"], cleared["raised_at"]) == (
            ALERT_ID,
            raised["data"]["raised_at"],
        )
        assert (cleared["state"], cleared["acknowledged"]) == ("cleared", True)
        await until(lambda: len(out.sio.alerts) == 3, what="the clear on Socket.IO")
        await until(lambda: len(out.mqtt_events("alert")) == 2, what="the clear on MQTT")
        assert [e["state"] for e in in_ha] == ["raised", "acknowledged", "cleared"]
        async with session.get(f"{base}/api/alerts") as response:
            assert (await response.json())["alerts"] == [cleared]
        await out.barrier(hass)
        assert len(out.channel.of("alert_acknowledged")) == 1
        assert len(out.sio.alerts) == 3

"""Scale-out: replicas fed by the MQTT feed from one bridge, on a real Mosquitto."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from sunstream_monitor.bridge import MqttBridge
from sunstream_monitor.feeds.mqtt import MqttFeed
from sunstream_monitor.hub import Hub, HubEvent, System, SystemInfo
from sunstream_monitor.mqtt_topics import LEAVES, Topics

from .conftest import Broker
from .mqtt_support import (
    PREFIX,
    Relay,
    Subscriber,
    eventually,
    fast_backoff,
    mqtt_settings,
    running,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

SYSTEM = "sim-rooftop"
GARAGE = "sim/garage#2"  # MQTT's special characters survive the trip
T = Topics(PREFIX)


def document(system_id: str = SYSTEM, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "system_id": system_id,
        "name": "Rooftop",
        "source": "simulated",
        "status": "online",
        "current_generation_kw": 3.42,
        "battery": {"soc_percent": 76.0, "power_kw": -1.2},
        "last_updated": "2026-11-23T14:00:00+00:00",
    }
    doc.update(overrides)
    return doc


def source_hub() -> Hub:
    hub = Hub()
    hub.set_systems(
        [SystemInfo(system_id=SYSTEM, name="Rooftop", source="simulated", device_id="dev-1")]
    )
    hub.update_state(SYSTEM, document())
    return hub


class Seen:
    """A hub listener recording what a replica's outputs would be told."""

    def __init__(self, hub: Hub) -> None:
        self.systems = 0
        self.states: list[dict[str, Any] | None] = []
        self.events: list[dict[str, Any]] = []
        hub.add_listener(self)

    def on_systems(self, hub: Hub) -> None:
        self.systems += 1

    def on_state(self, system: System) -> None:
        self.states.append(system.document)

    def on_event(self, event: HubEvent) -> None:
        self.events.append(event.frame())


async def has_state(hub: Hub, system_id: str, expected: dict[str, Any]) -> None:
    def check() -> bool:
        system = hub.systems.get(system_id)
        return system is not None and system.document == expected

    await eventually(check)


async def has_events(seen: Seen, count: int) -> None:
    await eventually(lambda: len(seen.events) >= count)


class Replica:
    def __init__(self, port: int) -> None:
        self.hub = Hub()
        self.seen = Seen(self.hub)
        self.feed = MqttFeed(mqtt_settings(port), self.hub, backoff=fast_backoff())


async def test_two_replicas_see_the_same_systems_states_and_events(broker: Broker) -> None:
    hub = source_hub()
    source_events = Seen(hub)
    bridge = MqttBridge(mqtt_settings(broker.port), hub, None, backoff=fast_backoff())
    first, second = Replica(broker.port), Replica(broker.port)
    async with running(bridge.run()):
        await eventually(lambda: bridge.stats()["published"] >= 4)
        # Replicas joining later get the current picture from retained topics.
        async with running(first.feed.run()), running(second.feed.run()):
            for replica in (first, second):
                await has_state(replica.hub, SYSTEM, document())
                assert replica.hub.feed_connected
                info = replica.hub.systems[SYSTEM].info
                assert (info.name, info.source) == ("Rooftop", "simulated")
                assert replica.hub.systems[SYSTEM].connected is True
                # The same bytes dashboards of the source would get.
                assert replica.hub.systems[SYSTEM].frame("monitoring_data") == hub.systems[
                    SYSTEM
                ].frame("monitoring_data")

            # Live updates reach both.
            hub.update_state(SYSTEM, document(current_generation_kw=5.5))
            hub.publish_event("dispatch", SYSTEM, {"command": "charge", "power": 3000.0})
            alert = hub.raise_alert(SYSTEM, {"rule": "low_soc", "severity": "warning"})
            hub.acknowledge(alert.alert_id, "ops")
            hub.publish_event(
                "connectivity",
                SYSTEM,
                {"system_id": SYSTEM, "source": "simulated", "connected": False, "reason": "x"},
            )
            hub.set_systems(
                [
                    *(s.info for s in hub.systems.values()),
                    SystemInfo(system_id=GARAGE, name="Garage", source="winet"),
                ]
            )
            hub.update_state(GARAGE, document(GARAGE, name="Garage", source="winet"))
            assert len(source_events.events) == 4

            garage = document(GARAGE, name="Garage", source="winet")
            for replica in (first, second):
                await has_state(replica.hub, GARAGE, garage)
                await has_events(replica.seen, 4)
                assert replica.seen.events == source_events.events
                assert replica.hub.systems[SYSTEM].document == document(current_generation_kw=5.5)
                assert replica.hub.systems[SYSTEM].connected is False
                assert replica.hub.systems[GARAGE].info.source == "winet"
                booked = replica.hub.alerts.get(alert.alert_id)
                assert booked is not None
                assert booked.as_dict() == alert.as_dict()

            # A replica that joins now still finds every system (retained).
            third = Replica(broker.port)
            async with running(third.feed.run()):
                await eventually(lambda: set(third.hub.systems) == {SYSTEM, GARAGE})
                await eventually(lambda: third.hub.systems[GARAGE].document is not None)
                assert third.seen.events == []  # events are live only
        assert not first.hub.feed_connected


async def test_one_replica_follows_the_bridges_of_two_home_assistants(broker: Broker) -> None:
    """A fleet on one broker (bench/fleet): each bridge under its own prefix, one replica
    serving both; an id both bridges publish is served from the first prefix only."""
    first, second = source_hub(), Hub()
    garage = "sim-garage"
    second.set_systems(
        [
            SystemInfo(system_id=garage, name="Garage", source="simulated"),
            SystemInfo(system_id=SYSTEM, name="Other rooftop", source="simulated"),
        ]
    )
    second.update_state(garage, document(garage, name="Garage"))
    second.update_state(SYSTEM, document(name="Other rooftop", current_generation_kw=9.9))
    bridges = [
        MqttBridge(mqtt_settings(broker.port, prefix=prefix), hub, None, backoff=fast_backoff())
        for prefix, hub in (("fleet/ha1", first), ("fleet/ha2", second))
    ]
    replica = Hub()
    seen = Seen(replica)
    settings = mqtt_settings(broker.port, prefix="fleet/ha1", also_follow=("fleet/ha2",))
    feed = MqttFeed(settings, replica, backoff=fast_backoff())
    async with running(bridges[0].run()), running(bridges[1].run()), running(feed.run()):
        await has_state(replica, garage, document(garage, name="Garage"))
        await has_state(replica, SYSTEM, document())
        assert sorted(replica.systems) == sorted([SYSTEM, garage])
        assert replica.systems[SYSTEM].info.name == "Rooftop"

        # Live changes from both bridges; the second's copy of SYSTEM never gets in
        # (sent before the garage's change, so it has arrived when that has).
        second.update_state(SYSTEM, document(name="Other rooftop", current_generation_kw=7.7))
        second.update_state(garage, document(garage, name="Garage", current_generation_kw=1.5))
        first.update_state(SYSTEM, document(current_generation_kw=2.0))
        await has_state(replica, garage, document(garage, name="Garage", current_generation_kw=1.5))
        await has_state(replica, SYSTEM, document(current_generation_kw=2.0))

        # One bridge's list covers its own systems only: the garage goes, the rooftop stays.
        second.set_systems([SystemInfo(system_id=SYSTEM, name="Other", source="simulated")])
        await eventually(lambda: garage not in replica.systems)
        assert SYSTEM in replica.systems
    rooftop = [d for d in seen.states if d is not None and d["system_id"] == SYSTEM]
    assert {d["current_generation_kw"] for d in rooftop} == {3.42, 2.0}
    assert feed.rejected >= 1  # the duplicate, warned about


async def test_feed_mirrors_the_broker_link_and_resubscribes(broker: Broker) -> None:
    hub = source_hub()
    bridge = MqttBridge(mqtt_settings(broker.port), hub, None, backoff=fast_backoff())
    async with Relay(broker.port) as relay:
        replica = Hub()
        feed = MqttFeed(mqtt_settings(relay.port), replica, backoff=fast_backoff())
        async with running(bridge.run()), running(feed.run()):
            await eventually(lambda: replica.feed_connected and SYSTEM in replica.systems)

            relay.refuse()
            relay.sever()
            await eventually(lambda: not replica.feed_connected)
            hub.update_state(SYSTEM, document(current_generation_kw=7.0))  # while cut off

            await relay.admit()
            await eventually(lambda: replica.feed_connected)
            # The retained state caught up; new messages flow (subscriptions are back).
            await eventually(
                lambda: replica.systems[SYSTEM].document == document(current_generation_kw=7.0)
            )
            hub.publish_event("dispatch", SYSTEM, {"command": "stop"})
            seen = Seen(replica)
            await eventually(lambda: len(seen.events) == 1)


async def test_feed_waits_for_an_absent_broker(broker: Broker) -> None:
    await asyncio.to_thread(broker.stop)
    replica = Hub()
    feed = MqttFeed(mqtt_settings(broker.port), replica, backoff=fast_backoff())
    async with running(feed.run()):
        await asyncio.sleep(0.3)
        assert not replica.feed_connected
        await asyncio.to_thread(broker.start)
        await eventually(lambda: replica.feed_connected)


async def test_invalid_payloads_are_logged_once_and_skipped(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    replica = Hub()
    seen = Seen(replica)
    feed = MqttFeed(mqtt_settings(broker.port), replica, backoff=fast_backoff())
    good_systems = orjson.dumps([{"system_id": SYSTEM, "name": "Rooftop", "source": "simulated"}])
    garbage = [
        (T.systems, b"{not json"),
        (T.systems, b'{"system_id": "x"}'),
        (T.systems, b'[{"name": "no id"}]'),
        (T.systems, b"[42]"),
        (T.state(SYSTEM), b"[1, 2]"),
        (T.state(SYSTEM), b"\xff\xfe"),
        (T.availability(SYSTEM), b"maybe"),
        (T.events(SYSTEM), b"{}"),
        (T.events(SYSTEM), b'{"type": "dispatch", "data": "nope"}'),
        (T.events(SYSTEM), b'{"type": "alert", "data": {"rule": {"x": 1}, "value": "hot"}}'),
    ]
    with caplog.at_level(logging.WARNING, logger="sunstream_monitor.feeds.mqtt"):
        async with (
            running(feed.run()),
            Subscriber(broker.port, f"{PREFIX}/#") as publisher,
        ):
            await eventually(lambda: replica.feed_connected)
            await publisher.publish(T.systems, good_systems)
            await eventually(lambda: SYSTEM in replica.systems)
            for topic, payload in garbage:
                await publisher.publish(topic, payload)
            # Still alive, still applying good messages after the bad ones.
            await publisher.publish(T.state(SYSTEM), orjson.dumps(document()))
            await publisher.publish(T.availability(SYSTEM), b"offline")
            await eventually(lambda: replica.systems[SYSTEM].document == document())
            await eventually(lambda: replica.systems[SYSTEM].connected is False)
            assert replica.feed_connected

    assert SYSTEM in replica.systems  # bad system lists changed nothing
    # The alert with odd values was booked with what made sense (strings, no number).
    assert [e["type"] for e in seen.events] == ["alert"]
    assert feed.stats()["rejected"] == 9
    warnings = [r for r in caplog.records if "Ignoring invalid MQTT message" in r.getMessage()]
    warned = sorted(str(r.args[0]) for r in warnings if isinstance(r.args, tuple))
    assert warned == sorted([T.systems, T.state(SYSTEM), T.availability(SYSTEM), T.events(SYSTEM)])


async def test_retained_state_before_the_systems_list_is_kept(broker: Broker) -> None:
    replica = Hub()
    feed = MqttFeed(mqtt_settings(broker.port), replica, backoff=fast_backoff())
    async with Subscriber(broker.port) as publisher:
        await publisher.publish(T.state(SYSTEM), orjson.dumps(document()), retain=True)
        await publisher.publish(T.availability(SYSTEM), b"offline", retain=True)
        async with running(feed.run()):
            await eventually(lambda: replica.feed_connected)
            await asyncio.sleep(0.2)
            assert replica.systems == {}
            await publisher.publish(
                T.systems,
                orjson.dumps([{"system_id": SYSTEM, "name": "Rooftop", "source": "simulated"}]),
            )
            await eventually(lambda: SYSTEM in replica.systems)
            assert replica.systems[SYSTEM].document == document()
            # The later availability wins over the state's status.
            assert replica.systems[SYSTEM].connected is False


async def test_acknowledging_on_a_replica_reaches_the_source(broker: Broker) -> None:
    hub = source_hub()
    bridge = MqttBridge(
        mqtt_settings(broker.port, commands=True), hub, None, backoff=fast_backoff()
    )
    replica = Replica(broker.port)
    async with running(bridge.run()), running(replica.feed.run()):
        await eventually(lambda: SYSTEM in replica.hub.systems)
        alert = hub.raise_alert(SYSTEM, {"rule": "inverter_hot", "severity": "critical"})
        await eventually(lambda: replica.hub.alerts.get(alert.alert_id) is not None)

        assert replica.hub.acknowledge(alert.alert_id, "night-shift") is not None
        await eventually(lambda: alert.acknowledged)
        assert alert.acknowledged_by == "night-shift"
        await asyncio.sleep(0.3)  # the bridge's echo arrives, and changes nothing
        kinds = [event["type"] for event in replica.seen.events]
        assert kinds == ["alert", "alert_acknowledged"]


@pytest.mark.parametrize("system_id", ["plain", "a/b", "x+y#z", "100%", "%2F", "ç/☀", "bridge"])
def test_system_ids_round_trip_through_topics(system_id: str) -> None:
    for leaf in LEAVES:
        topic = T.system(system_id, leaf)
        assert topic.count("/") == 2
        assert not any(char in topic.split("/")[1] for char in "+#")
        match = T.parse(topic)
        assert match is not None
        assert (match.kind, match.system_id) == (leaf, system_id)
    assert T.parse(T.bridge_status) is not None
    assert T.parse(T.bridge_status).kind == "bridge"  # type: ignore[union-attr]
    assert T.parse(T.command_result(system_id)) is None
    assert T.parse("elsewhere/x/state") is None


@pytest.mark.parametrize("prefix", ["", "/a", "a/", "a/+", "a/#", "$SYS"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="MQTT prefix"):
        Topics(prefix)

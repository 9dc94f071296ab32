"""The MQTT bridge against a real Mosquitto: topics, QoS and retain flags, the
last will, waiting for an absent broker, buffering across a broker restart,
and commands."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from sunstream_monitor.bridge import MqttBridge
from sunstream_monitor.hub import Hub, SystemInfo
from sunstream_monitor.mqtt_link import INFLIGHT
from sunstream_monitor.mqtt_topics import Topics

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
DEVICE = "0123456789abcdef0123456789abcdef"
T = Topics(PREFIX)


def document(**overrides: Any) -> dict[str, Any]:
    """A MonitoringData document (only what the bridge looks at matters here)."""
    doc: dict[str, Any] = {
        "system_id": SYSTEM,
        "name": "Rooftop",
        "source": "simulated",
        "status": "online",
        "current_generation_kw": 3.42,
        "battery": {"soc_percent": 76.0, "power_kw": -1.2},
        "last_updated": "2026-11-23T14:00:00+00:00",
    }
    doc.update(overrides)
    return doc


def make_hub() -> Hub:
    hub = Hub()
    hub.set_systems(
        [
            SystemInfo(
                system_id=SYSTEM,
                name="Rooftop",
                source="simulated",
                device_id=DEVICE,
                config_entry_id="01SUNSTREAMROOFTOP000000000",
            )
        ]
    )
    hub.update_state(SYSTEM, document())
    return hub


def dispatch(n: int) -> dict[str, Any]:
    return {"command": "charge", "power": 1000 + n, "seq": n}


class Recorder:
    """``call_service`` as the HA feed offers it; records calls, fails on demand."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_with: Exception | None = None

    async def __call__(self, domain: str, service: str, data: dict[str, Any]) -> Any:
        self.calls.append((domain, service, data))
        if self.fail_with is not None:
            raise self.fail_with
        return {"context": {"id": "x"}}


async def test_publishes_retained_state_and_live_events(broker: Broker) -> None:
    hub = make_hub()
    bridge = MqttBridge(mqtt_settings(broker.port), hub, None, backoff=fast_backoff())
    async with running(bridge.run()):
        await eventually(lambda: bridge.stats()["connected"] and bridge.stats()["published"] >= 4)

        # A late subscriber gets the retained picture at once, at QoS 1.
        async with Subscriber(broker.port, f"{PREFIX}/#") as sub:
            status = await sub.take(T.bridge_status)
            assert (status.payload, status.retain, status.qos) == (b"online", True, 1)
            systems = await sub.take(T.systems)
            assert systems.retain
            assert orjson.loads(systems.payload) == [
                {"system_id": SYSTEM, "name": "Rooftop", "source": "simulated"}
            ]
            availability = await sub.take(T.availability(SYSTEM))
            assert (availability.payload, availability.retain) == (b"online", True)
            state = await sub.take(T.state(SYSTEM))
            assert state.retain
            assert state.qos == 1
            assert state.payload == hub.systems[SYSTEM].document_json
            assert orjson.loads(state.payload) == document()

            # Live: a new state (retained on the broker) and events (not retained).
            hub.update_state(SYSTEM, document(current_generation_kw=4.0))
            state = await sub.take(T.state(SYSTEM))
            assert orjson.loads(state.payload)["current_generation_kw"] == 4.0
            assert state.qos == 1

            event = hub.publish_event("dispatch", SYSTEM, dispatch(1))
            message = await sub.take(T.events(SYSTEM))
            assert (message.qos, message.retain) == (1, False)
            assert orjson.loads(message.payload) == event.frame()

            alert = hub.raise_alert(SYSTEM, {"rule": "low_soc", "severity": "warning"})
            frame = orjson.loads((await sub.take(T.events(SYSTEM))).payload)
            assert frame == {"type": "alert", "system_id": SYSTEM, "data": alert.as_dict()}
            hub.acknowledge(alert.alert_id, "tester")
            frame = orjson.loads((await sub.take(T.events(SYSTEM))).payload)
            assert frame["type"] == "alert_acknowledged"
            assert frame["data"]["acknowledged_by"] == "tester"

            # Connectivity moves the availability topic.
            hub.publish_event(
                "connectivity",
                SYSTEM,
                {"system_id": SYSTEM, "source": "simulated", "connected": False, "reason": "x"},
            )
            assert (await sub.take_json(T.events(SYSTEM)))["type"] == "connectivity"
            assert (await sub.take(T.availability(SYSTEM))).payload == b"offline"

        # Retained means retained: a fresh subscriber sees the latest values only.
        async with Subscriber(broker.port, f"{PREFIX}/+/state", f"{PREFIX}/+/events") as late:
            state = await late.take(T.state(SYSTEM))
            assert orjson.loads(state.payload)["current_generation_kw"] == 4.0
            await asyncio.sleep(0.3)
            assert late.on(T.events(SYSTEM)) == []

    stats = bridge.stats()
    assert stats["connected"] is False
    assert stats["dropped"] == 0
    assert stats["published"] >= 10


async def test_a_full_publish_window_is_not_a_warning(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: aiomqtt's "There are 12 pending publish calls." at WARNING, every few seconds
    with 50 systems (bench/fleet), for the in-flight window the bridge keeps on purpose."""
    hub = make_hub()
    bridge = MqttBridge(mqtt_settings(broker.port), hub, None, backoff=fast_backoff())
    async with running(bridge.run()):
        await eventually(lambda: bridge.stats()["connected"])
        published = bridge.stats()["published"]
        with caplog.at_level(logging.WARNING):
            for n in range(3 * INFLIGHT):
                hub.publish_event("dispatch", SYSTEM, dispatch(n))
            await eventually(lambda: bridge.stats()["published"] >= published + 3 * INFLIGHT)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_no_availability_is_guessed_before_anything_is_known(broker: Broker) -> None:
    """Was: a false retained "offline" at every start, flipped back a moment later."""
    hub = Hub()
    hub.set_systems([SystemInfo(system_id=SYSTEM, name="Rooftop", source="simulated")])
    bridge = MqttBridge(mqtt_settings(broker.port), hub, None, backoff=fast_backoff())
    async with (
        Subscriber(broker.port, T.availability(SYSTEM)) as sub,
        running(bridge.run()),
    ):
        await eventually(lambda: bridge.stats()["connected"])
        await asyncio.sleep(0.3)
        assert sub.on(T.availability(SYSTEM)) == []
        hub.update_state(SYSTEM, document())
        assert (await sub.take(T.availability(SYSTEM))).payload == b"online"


async def test_removed_system_clears_its_retained_topics(broker: Broker) -> None:
    hub = make_hub()
    bridge = MqttBridge(mqtt_settings(broker.port), hub, None, backoff=fast_backoff())
    async with running(bridge.run()), Subscriber(broker.port, f"{PREFIX}/#") as sub:
        await sub.take(T.state(SYSTEM))
        hub.set_systems([])
        cleared = await sub.take(T.state(SYSTEM), lambda m: m.payload == b"")
        assert cleared.qos == 1
        await sub.take(T.availability(SYSTEM), lambda m: m.payload == b"")
        assert orjson.loads((await sub.take(T.systems, lambda m: m.payload == b"[]")).payload) == []
    async with Subscriber(broker.port, f"{PREFIX}/+/state") as late:
        await asyncio.sleep(0.3)
        assert late.received == []


async def test_last_will_when_the_link_dies_and_resync_after(broker: Broker) -> None:
    hub = make_hub()
    async with Relay(broker.port) as relay:
        bridge = MqttBridge(mqtt_settings(relay.port), hub, None, backoff=fast_backoff())
        async with running(bridge.run()), Subscriber(broker.port, f"{PREFIX}/bridge/#") as sub:
            assert (await sub.take(T.bridge_status)).payload == b"online"

            relay.refuse()
            relay.sever()  # no DISCONNECT reaches the broker: it must publish the will
            will = await sub.take(T.bridge_status)
            assert (will.payload, will.qos) == (b"offline", 1)
            async with Subscriber(broker.port, T.bridge_status) as late:
                will = await late.take(T.bridge_status)
                assert (will.payload, will.retain) == (b"offline", True)

            await relay.admit()
            assert (await sub.take(T.bridge_status)).payload == b"online"  # reconnected
            await eventually(lambda: bridge.stats()["reconnects"] == 1)

        # A clean stop disconnects without the will, so the bridge says "offline" itself.
        async with Subscriber(broker.port, T.bridge_status) as late:
            assert (await late.take(T.bridge_status)).payload == b"offline"


async def test_waits_for_an_absent_broker(broker: Broker) -> None:
    await asyncio.to_thread(broker.stop)
    hub = make_hub()
    bridge = MqttBridge(mqtt_settings(broker.port), hub, None, backoff=fast_backoff())
    async with running(bridge.run()):
        await asyncio.sleep(0.5)  # several failed attempts
        hub.publish_event("dispatch", SYSTEM, dispatch(1))
        assert bridge.stats()["connected"] is False
        assert bridge.stats()["buffered"] == 1

        await asyncio.to_thread(broker.start)
        await eventually(lambda: bridge.stats()["connected"] and bridge.stats()["buffered"] == 0)
        async with Subscriber(broker.port, f"{PREFIX}/#") as sub:
            assert (await sub.take(T.bridge_status)).payload == b"online"
            state = await sub.take(T.state(SYSTEM))
            assert state.payload == hub.systems[SYSTEM].document_json
        assert bridge.stats()["reconnects"] == 0
        assert bridge.stats()["published"] == 5  # status, systems, availability, state, event


async def restart_while_publishing(
    broker: Broker, buffer: int, count: int, *, states: bool
) -> tuple[MqttBridge, Hub, list[dict[str, Any]]]:
    """Stop the broker, publish ``count`` events (and states), start it again,
    and collect what a subscriber gets once the bridge is let back in."""
    hub = make_hub()
    received: list[dict[str, Any]] = []
    async with Relay(broker.port) as relay:
        bridge = MqttBridge(
            mqtt_settings(relay.port, buffer=buffer), hub, None, backoff=fast_backoff()
        )
        async with running(bridge.run()):
            await eventually(lambda: bridge.stats()["connected"])
            relay.refuse()  # the bridge comes back only when we say so
            await asyncio.to_thread(broker.stop)
            await eventually(lambda: not bridge.stats()["connected"])

            for n in range(count):
                hub.publish_event("dispatch", SYSTEM, dispatch(n))
                if states:
                    hub.update_state(SYSTEM, document(current_generation_kw=float(n)))
            latest = hub.systems[SYSTEM].document_json
            await asyncio.to_thread(broker.start)

            # The restarted broker has no sessions and no retained messages.
            async with Subscriber(broker.port, f"{PREFIX}/#") as sub:
                await relay.admit()
                await eventually(lambda: bridge.stats()["connected"])
                await eventually(lambda: bridge.stats()["buffered"] == 0)
                events = await _drain(sub, T.events(SYSTEM))
                received = [orjson.loads(m.payload)["data"] for m in events]
                # The state came back too (resync), and it is the latest one.
                assert (await sub.take(T.state(SYSTEM))).payload == latest
                assert sub.on(T.state(SYSTEM)) == []  # coalesced, not one per update
    return bridge, hub, received


async def _drain(sub: Subscriber, topic: str) -> list[Any]:
    """Everything on ``topic`` until it has been quiet for a while."""
    before = -1
    while len(sub.on(topic)) != before:
        before = len(sub.on(topic))
        await asyncio.sleep(0.3)
    return sub.on(topic)


async def test_broker_restart_loses_no_event_within_the_buffer(broker: Broker) -> None:
    bridge, _, received = await restart_while_publishing(broker, buffer=100, count=20, states=True)
    assert received == [dispatch(n) for n in range(20)]
    assert bridge.stats()["dropped"] == 0
    assert bridge.stats()["reconnects"] == 1


async def test_buffer_bound_drops_the_oldest_and_counts(broker: Broker) -> None:
    bridge, _, received = await restart_while_publishing(broker, buffer=5, count=8, states=False)
    assert received == [dispatch(n) for n in range(3, 8)]
    assert bridge.stats()["dropped"] == 3


async def test_buffered_states_coalesce_but_events_do_not(broker: Broker) -> None:
    # Five places; the state of all 8 updates takes one, so 8 events keep their last 4.
    bridge, _, received = await restart_while_publishing(broker, buffer=5, count=8, states=True)
    assert received == [dispatch(n) for n in range(4, 8)]
    assert bridge.stats()["dropped"] == 4


async def test_commands_are_off_by_default(broker: Broker) -> None:
    hub = make_hub()
    calls = Recorder()
    bridge = MqttBridge(mqtt_settings(broker.port), hub, calls, backoff=fast_backoff())
    async with running(bridge.run()), Subscriber(broker.port, f"{PREFIX}/#") as sub:
        await sub.take(T.state(SYSTEM))
        await sub.publish(T.command(SYSTEM), orjson.dumps({"action": "stop"}))
        await sub.take(T.command(SYSTEM))  # our own publish came back: the broker has it
        await asyncio.sleep(0.5)
        assert calls.calls == []
        assert sub.on(T.command_result(SYSTEM)) == []


async def test_commands_call_the_service_and_report_errors(broker: Broker) -> None:
    hub = make_hub()
    calls = Recorder()
    bridge = MqttBridge(
        mqtt_settings(broker.port, commands=True), hub, calls, backoff=fast_backoff()
    )

    async with running(bridge.run()), Subscriber(broker.port, f"{PREFIX}/#") as sub:
        await sub.take(T.state(SYSTEM))

        async def command(payload: bytes | dict[str, Any], system: str = SYSTEM) -> Any:
            raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
            await sub.publish(T.command(system), raw)
            return await sub.take_json(T.command_result(system))

        result = await command({"action": "charge", "power": 3000, "id": "r1"})
        assert result == {"ok": True, "action": "charge", "id": "r1", "system_id": SYSTEM}
        assert calls.calls == [
            (
                "sunstream",
                "charge",
                {"device_id": DEVICE, "power": 3000, "target_soc": 100.0, "duration": 60.0},
            )
        ]

        result = await command(
            {"action": "discharge", "power": 2500, "target_soc": 30, "duration": 15}
        )
        assert result["ok"] is True
        assert calls.calls[-1] == (
            "sunstream",
            "discharge",
            {"device_id": DEVICE, "power": 2500, "target_soc": 30, "duration": 15},
        )
        assert (await command({"action": "stop", "id": 7}))["id"] == 7
        assert calls.calls[-1] == ("sunstream", "stop", {"device_id": DEVICE})

        calls.fail_with = RuntimeError("Power 999999 W is out of range")
        result = await command({"action": "charge", "power": 999999, "id": "r2"})
        assert result["ok"] is False
        assert result["id"] == "r2"
        assert result["error"] == {
            "code": "service_error",
            "message": "Power 999999 W is out of range",
        }
        calls.fail_with = None
        made = len(calls.calls)

        bad = {
            b"{not json": "bad_command",
            b"[1, 2]": "bad_command",
            orjson.dumps({"power": 1}): "bad_command",
            orjson.dumps({"action": "explode"}): "unknown_action",
            orjson.dumps({"action": "charge"}): "bad_command",
            orjson.dumps({"action": "charge", "power": "lots"}): "bad_command",
            orjson.dumps({"action": "charge", "power": True}): "bad_command",
            orjson.dumps({"action": "stop", "power": 1}): "bad_command",
            orjson.dumps({"action": "acknowledge_alert"}): "bad_command",
            orjson.dumps({"action": "acknowledge_alert", "alert_id": "nope"}): "unknown_alert",
        }
        for payload, code in bad.items():
            result = await command(payload)
            assert result["ok"] is False, payload
            assert result["error"]["code"] == code, (payload, result)
            assert result["error"]["message"]
        result = await command({"action": "stop"}, system="elsewhere")
        assert result["error"]["code"] == "unknown_system"
        assert len(calls.calls) == made  # none of those reached Home Assistant

        # Acknowledging goes through the hub, so every output hears of it.
        alert = hub.raise_alert(SYSTEM, {"rule": "inverter_hot", "severity": "critical"})
        await sub.take(T.events(SYSTEM))
        result = await command(
            {"action": "acknowledge_alert", "alert_id": alert.alert_id, "by": "ops"}
        )
        assert result["ok"] is True
        assert result["alert"]["acknowledged"] is True
        assert result["alert"]["acknowledged_by"] == "ops"
        assert hub.alerts.get(alert.alert_id) is not None
        assert hub.alerts.list()[0].acknowledged_by == "ops"
        frame = await sub.take_json(T.events(SYSTEM))
        assert frame["type"] == "alert_acknowledged"

        assert bridge.stats()["connected"] is True


async def test_commands_without_a_device_or_home_assistant(broker: Broker) -> None:
    hub = Hub()
    hub.set_systems([SystemInfo(system_id=SYSTEM, name="Rooftop", source="winet")])
    bridge = MqttBridge(
        mqtt_settings(broker.port, commands=True), hub, Recorder(), backoff=fast_backoff()
    )
    headless = MqttBridge(
        mqtt_settings(broker.port, commands=True, prefix="other"),
        make_hub(),
        None,
        backoff=fast_backoff(),
    )
    async with (
        running(bridge.run()),
        running(headless.run()),
        Subscriber(broker.port, f"{PREFIX}/+/command/result", "other/+/command/result") as sub,
    ):
        # Something published means the command subscription is in place.
        await eventually(lambda: bridge.stats()["published"] and headless.stats()["published"])
        await sub.publish(T.command(SYSTEM), orjson.dumps({"action": "stop"}))
        result = await sub.take_json(T.command_result(SYSTEM))
        assert result["error"]["code"] == "no_device"
        other = Topics("other")
        await sub.publish(other.command(SYSTEM), orjson.dumps({"action": "stop"}))
        result = await sub.take_json(other.command_result(SYSTEM))
        assert result["error"]["code"] == "unavailable"


async def test_commands_reach_real_home_assistant(broker: Broker, ha_server: Any) -> None:
    """The bridge's command payloads pass the real integration's action schema."""
    from homeassistant.helpers import device_registry as dr

    hass = ha_server.hass
    registry = dr.async_get(hass)
    device = dr.async_entries_for_config_entry(registry, ha_server.entry.entry_id)[0]
    dispatched: list[dict[str, Any]] = []
    hass.bus.async_listen("sunstream_dispatch", lambda event: dispatched.append(event.data))

    async def call_service(domain: str, service: str, data: dict[str, Any]) -> Any:
        return await hass.services.async_call(domain, service, data, blocking=True)

    hub = Hub()
    hub.set_systems(
        [
            SystemInfo(
                system_id=ha_server.system_id,
                name="Rooftop",
                source="simulated",
                device_id=device.id,
                config_entry_id=ha_server.entry.entry_id,
            )
        ]
    )
    bridge = MqttBridge(
        mqtt_settings(broker.port, commands=True), hub, call_service, backoff=fast_backoff()
    )
    result_topic = T.command_result(ha_server.system_id)
    async with running(bridge.run()), Subscriber(broker.port, result_topic) as sub:
        await eventually(lambda: bridge.stats()["published"])  # subscribed to commands
        command = {"action": "charge", "power": 2000, "target_soc": 90, "duration": 30}
        await sub.publish(T.command(ha_server.system_id), orjson.dumps(command))
        result = await sub.take_json(result_topic)
        assert result["ok"] is True, result
        await eventually(lambda: bool(dispatched))
        assert dispatched[-1]["command"] == "charge"

        command = {"action": "charge", "power": 2000, "duration": 100000}
        await sub.publish(T.command(ha_server.system_id), orjson.dumps(command))
        result = await sub.take_json(result_topic)
        assert result["ok"] is False
        assert result["error"]["code"] == "service_error"
        await hass.async_block_till_done()

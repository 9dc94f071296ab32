"""The app's MQTT bridge against Home Assistant's ``mqtt_statestream``, on the same HA (issue 7).

One Home Assistant (the test harness's, HTTP on a loopback port) with one
simulated system, a real Mosquitto on a loopback port, and one stream of
state changes (the system's coordinator refreshed at 1, 10, 50 per second and
flat out, each refresh changing most of its entities; see
``bench/peers/mqtt_stream.py``). Phases, in this order, each at every rate:

1. ``baseline``: neither consumer, for Home Assistant's own cost of the stream;
2. ``bridge``: the app (``python -m sunstream_monitor``, its own process)
   following HA over the WebSocket API and bridging to the broker;
3. ``both``: HA's ``mqtt`` integration set up against the same broker and
   ``mqtt_statestream`` publishing the system's entities, the app still running
   (same run, same stream, side by side);
4. ``statestream``: the app stopped (``mqtt_statestream`` cannot be unloaded,
   which decides the order).

A subscriber in its own process records every message's arrival; every
state change is recorded in HA as it happens. Per phase: messages and bytes
per state change, per-change latency (HA's ``last_updated`` to the subscriber
having the new value), the time to the complete picture of a refresh,
delivered changes per second, and the CPU of HA, the app and the broker.

Run with ``scripts/bench-peers -k mqtt``. Measurements, not pass/fail: the
assertions only guard against a broken set-up.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import os
from pathlib import Path
import time
from typing import Any

import aiomqtt
from homeassistant.components import mqtt
from homeassistant.components.mqtt.const import CONFIG_ENTRY_MINOR_VERSION, CONFIG_ENTRY_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from bench.peers.mqtt_stream import (
    BRIDGE_PREFIX,
    HISTOGRAM_EDGES_MS,
    STATESTREAM_BASE,
    Driver,
    Phase,
    Recorder,
    VirtualClock,
    analyse,
    book_cpu,
    cpu_snapshot,
    finish_subscriber,
    start_app,
    start_subscriber,
    stop_process,
)
from bench.test_refresh import _save
from tests.addon.conftest import (  # noqa: F401  (fixtures)
    MOSQUITTO,
    Broker,
    HomeAssistantServer,
    broker,
    free_port,
    ha_server,
)

RATES = os.environ.get("BENCH_MQTT_RATES", "1,10,50,max").split(",")
WINDOW = float(os.environ.get("BENCH_MQTT_SECONDS", "15"))
DRAIN = float(os.environ.get("BENCH_MQTT_DRAIN", "2"))
DRAIN_MAX = float(os.environ.get("BENCH_MQTT_DRAIN_MAX", "10"))
WARMUP = 1.0
ATTRIBUTES = os.environ.get("BENCH_STATESTREAM_ATTRIBUTES", "0") == "1"

pytestmark = [
    # Long runs (minutes): only through scripts/bench-peers, not every scripts/bench.
    pytest.mark.skipif(
        os.environ.get("BENCH_PEERS") != "1", reason="peer comparisons: run scripts/bench-peers"
    ),
    pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed"),
    pytest.mark.usefixtures("socket_enabled"),
]


async def _probe(port: int, topic: str, publish: Any, within: float = 60.0) -> float:
    """Seconds until a message on ``topic`` reaches a fresh subscriber (``publish`` pokes)."""
    start = time.monotonic()
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(within):
            messages = client.messages
            while True:
                await publish()
                try:
                    async with asyncio.timeout(1.0):
                        await anext(messages)
                    return time.monotonic() - start
                except TimeoutError:
                    continue


@pytest.fixture(autouse=True)
async def enable_event_loop_debug() -> None:
    """Run the loop as Home Assistant does in production: not in asyncio debug mode.

    The test harness turns debug mode on for every test (slow-callback
    warnings, a traceback kept for every task created); that multiplies the
    cost of task-heavy paths such as ``mqtt_statestream``'s publishes and
    would be measured as theirs.
    """
    asyncio.get_running_loop().set_debug(False)


@pytest.fixture
async def mqtt_entry(
    hass: HomeAssistant,
    broker: Broker,  # noqa: F811
    socket_enabled: None,
    mock_hass_config: None,
) -> MockConfigEntry:
    """Home Assistant's ``mqtt`` integration connected to the test broker.

    Set up before ``ha_server`` starts serving HTTP: ``mqtt`` needs
    ``file_upload``, which adds a view, and a served application's router is
    frozen. Idle until ``mqtt_statestream`` is set up (HA's birth message and
    its discovery subscription are all it does). ``mock_hass_config``: the
    integration reads ``configuration.yaml``, which the test harness has not.
    """
    assert await async_setup_component(hass, "http", {})
    entry = MockConfigEntry(
        domain=mqtt.DOMAIN,
        data={"broker": "127.0.0.1", "port": broker.port},
        version=CONFIG_ENTRY_VERSION,
        minor_version=CONFIG_ENTRY_MINOR_VERSION,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert await mqtt.async_wait_for_mqtt_client(hass)
    return entry


def _take_over(server: HomeAssistantServer) -> tuple[list[str], Recorder, Driver]:
    """Stop the system's own polling and hand its refreshes to a driver on a virtual clock."""
    coordinator = server.entry.runtime_data.coordinator
    # Only the driver refreshes from now on.
    coordinator.update_interval = timedelta(hours=1)
    clock = VirtualClock(coordinator.source.async_poll)
    coordinator.source.async_poll = clock.poll
    registry = er.async_get(server.hass)
    entity_ids = sorted(
        e.entity_id
        for e in er.async_entries_for_config_entry(registry, server.entry.entry_id)
        if e.disabled_by is None
    )
    recorder = Recorder(frozenset(entity_ids))
    return entity_ids, recorder, Driver(coordinator.async_refresh, recorder)


class _Phases:
    """Runs one phase at every rate: a warm-up, the window, a drain; books CPU per process."""

    def __init__(self, driver: Driver, pids: dict[str, int]) -> None:
        self.driver = driver
        self.pids = pids
        self.phases: list[Phase] = []

    async def run(self, name: str) -> None:
        for rate in RATES:
            await self.driver.run(Phase("warmup", rate), WARMUP)
            await asyncio.sleep(DRAIN)  # the warm-up's messages arrive before the window
            phase = Phase(name, rate)
            start = cpu_snapshot(self.pids)
            await self.driver.run(phase, WINDOW)
            window_end = cpu_snapshot(self.pids)
            await asyncio.sleep(DRAIN_MAX if rate == "max" else DRAIN)
            phase.t_drained = time.time()
            book_cpu(phase, self.pids, start, window_end, cpu_snapshot(self.pids))
            self.phases.append(phase)


@pytest.mark.timeout(1800)
async def test_bridge_vs_statestream(
    mqtt_entry: MockConfigEntry,
    ha_server: HomeAssistantServer,  # noqa: F811
    broker: Broker,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Both paths on one Home Assistant, one broker and one stream of changes."""
    hass = ha_server.hass
    system_id = ha_server.system_id
    entity_ids, recorder, driver = _take_over(ha_server)
    remove_recorder = recorder.attach(hass)
    out = tmp_path / "messages.jsonl"
    subscriber = start_subscriber(broker.port, out)
    assert broker.process is not None
    runner = _Phases(driver, {"home_assistant": os.getpid(), "broker": broker.process.pid})
    app = None
    notes: dict[str, Any] = {}

    async def refresh_once() -> None:
        await ha_server.entry.runtime_data.coordinator.async_refresh()

    try:
        await runner.run("baseline")

        app = start_app(ha_server.ws_url, ha_server.token, broker.url, free_port())
        runner.pids["app"] = app.pid
        notes["bridge_ready_s"] = round(
            await _probe(broker.port, f"{BRIDGE_PREFIX}/{system_id}/state", refresh_once), 2
        )
        await runner.run("bridge")

        statestream = {
            "base_topic": STATESTREAM_BASE,
            "publish_attributes": ATTRIBUTES,
            "include": {"entities": entity_ids},
        }
        assert await async_setup_component(
            hass, "mqtt_statestream", {"mqtt_statestream": statestream}
        )
        await hass.async_block_till_done()
        notes["statestream_ready_s"] = round(
            await _probe(broker.port, f"{STATESTREAM_BASE}/#", refresh_once), 2
        )
        await runner.run("both")

        stop_process(app)
        runner.pids.pop("app")
        await runner.run("statestream")
    finally:
        if app is not None:
            stop_process(app)
        messages, subscriber_cpu = finish_subscriber(subscriber, out)
        remove_recorder()
        await hass.async_block_till_done()

    results = {
        phase.key: analyse(phase, recorder.changes, messages, system_id) for phase in runner.phases
    }
    _save(
        "mqtt_peers_attributes" if ATTRIBUTES else "mqtt_peers",
        {
            "system_entities": len(entity_ids),
            "rates": RATES,
            "window_s": WINDOW,
            "drain_s": DRAIN,
            "drain_max_s": DRAIN_MAX,
            "statestream_publish_attributes": ATTRIBUTES,
            "virtual_seconds_per_refresh": 5,
            "subscriber_cpu_s": subscriber_cpu,
            "messages_recorded": len(messages),
            "histogram_edges_ms": HISTOGRAM_EDGES_MS,
            **notes,
            "phases": results,
        },
    )
    both = results[f"both@{RATES[0]}"]
    assert both["bridge"]["changes_delivered"] > 0, both
    assert both["statestream"]["changes_delivered"] > 0, both

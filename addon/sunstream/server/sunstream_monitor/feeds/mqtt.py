"""The MQTT feed: a scale-out replica fills its hub from the bridge's topics.

With ``--source mqtt`` a server holds no Home Assistant connection; it reads
what one bridge publishes (see :mod:`..mqtt_topics`). Subscriptions are
normal, not shared (``$share/...``): a shared subscription hands each
message to one member of a group, and every replica needs every message.
Retained topics (systems, states, availabilities) give a new or reconnected
replica the current picture at once; events are live only — a replica that
was disconnected misses the events of that time, not the state.

A replica may follow several bridges, one prefix each
(``MqttSettings.followed``): several Home Assistants on one broker. Each
bridge's retained systems list is that bridge's whole set, so the replica
keeps one list per prefix and serves their union; a system id that two
bridges both publish is served from the first prefix that named it, and
the other's copy is ignored (with one warning), so two systems never mix.

Anything malformed on the broker is logged once per topic and skipped: a
stray publisher must not take the replica down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiomqtt

from ..alert_book import ALERT, ALERT_ACKNOWLEDGED, Alert
from ..backoff import Backoff
from ..hub import Hub, HubEvent, SystemInfo
from ..mqtt_link import make_client
from ..mqtt_topics import (
    Leaf,
    PayloadError,
    Topics,
    decode_availability,
    decode_event,
    decode_state,
    decode_systems,
    encode_json,
)
from ..settings import MqttSettings

_LOGGER = logging.getLogger(__name__)

# States or availabilities kept for systems the systems list has not named yet.
MAX_PENDING = 1000
# Topics remembered as already warned about (then the memory starts again).
MAX_WARNED = 1000


class MqttFeed:
    """Subscribes to a bridge's topics and writes what it reads into the hub."""

    def __init__(self, mqtt: MqttSettings, hub: Hub, *, backoff: Backoff | None = None) -> None:
        """Prepare; nothing connects before :meth:`run`."""
        self._settings = mqtt
        self._hub = hub
        self.topics = Topics(mqtt.prefix)
        self._followed = [Topics(prefix) for prefix in mqtt.followed]
        self._backoff = backoff or Backoff(base=0.5, cap=30.0)
        self._client: aiomqtt.Client | None = None
        # Each prefix's latest systems list, and which prefix each served system comes from.
        self._lists: dict[str, list[SystemInfo]] = {}
        self._origin: dict[str, Topics] = {}
        # Retained values that arrived before the systems list named their system.
        self._pending_state: dict[tuple[str, str], dict[str, Any]] = {}
        self._pending_availability: dict[tuple[str, str], bool] = {}
        self._warned: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.messages = 0
        self.rejected = 0

    def stats(self) -> dict[str, int | bool]:
        """Counters for ``/health`` and logs."""
        return {
            "messages": self.messages,
            "rejected": self.rejected,
            "connected": self._client is not None,
        }

    async def run(self) -> None:
        """Follow the broker forever, reconnecting with backoff; cancel to stop."""
        if self._hub.acknowledge_upstream is None:
            self._hub.acknowledge_upstream = self._acknowledge_upstream
        failures = 0
        try:
            while True:
                client = make_client(self._settings, role="replica")
                try:
                    async with client:
                        await self._subscribe(client)
                        failures = 0
                        self._backoff.reset()
                        self._client = client
                        self._hub.set_feed_connected(True)
                        _LOGGER.info(
                            "MQTT feed following %s:%d under %s",
                            self._settings.host,
                            self._settings.port,
                            ", ".join(repr(t.prefix) for t in self._followed),
                        )
                        async for message in client.messages:
                            self.handle(message.topic.value, message.payload)
                except aiomqtt.MqttError as err:
                    failures += 1
                    log = _LOGGER.warning if failures == 1 else _LOGGER.debug
                    log("MQTT feed: broker unreachable or link lost: %s; retrying", err)
                finally:
                    self._client = None
                    self._hub.set_feed_connected(False)
                await asyncio.sleep(self._backoff.next_delay())
        finally:
            if self._hub.acknowledge_upstream == self._acknowledge_upstream:
                self._hub.acknowledge_upstream = None
            for task in tuple(self._tasks):
                task.cancel()

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        """The systems list first, so its retained value arrives before the states."""
        leaves: tuple[Leaf, ...] = ("state", "availability", "events")
        wanted: list[list[tuple[str, int]]] = [
            [(topics.systems, 1) for topics in self._followed],
            [(topics.wildcard(leaf), 1) for topics in self._followed for leaf in leaves],
        ]
        for topics in wanted:
            granted = await client.subscribe(topics)
            codes = [code if isinstance(code, int) else code.value for code in granted]
            for (topic, _), code in zip(topics, codes, strict=False):
                if code >= 0x80:  # SUBACK failure (an ACL, say)
                    raise aiomqtt.MqttError(f"broker refused the subscription to {topic}")

    # -- messages ---------------------------------------------------------

    def handle(self, topic: str, payload: bytes) -> None:
        """Apply one message to the hub; a bad one is logged (once per topic) and skipped."""
        found = next(
            ((topics, match) for topics in self._followed if (match := topics.parse(topic))),
            None,
        )
        if found is None:
            return
        topics, match = found
        self.messages += 1
        try:
            if match.kind == "systems":
                self._systems(topics, payload)
            elif match.system_id is None or not payload:
                return  # the bridge status, or a topic cleared for a removed system
            elif self._origin.get(match.system_id, topics) is not topics:
                return  # the same id from another bridge: not this system's data
            elif match.kind == "state":
                self._state(topics, match.system_id, decode_state(payload))
            elif match.kind == "availability":
                self._availability(topics, match.system_id, decode_availability(payload))
            elif match.kind == "events":
                self._event(decode_event(payload, match.system_id))
        except PayloadError as err:
            self._reject(topic, str(err))
        except Exception as err:  # a value the hub could not take
            self._reject(topic, f"{type(err).__name__}: {err}")

    def _reject(self, topic: str, reason: str) -> None:
        self.rejected += 1
        if topic in self._warned:
            return
        if len(self._warned) >= MAX_WARNED:
            self._warned.clear()
        self._warned.add(topic)
        _LOGGER.warning("Ignoring invalid MQTT message on %s: %s", topic, reason)

    def _systems(self, topics: Topics, payload: bytes) -> None:
        self._lists[topics.prefix] = decode_systems(payload)
        served: list[SystemInfo] = []
        origin: dict[str, Topics] = {}
        for each in self._followed:  # in the order given: the first prefix to name an id wins
            for info in self._lists.get(each.prefix, ()):
                if info.system_id not in origin:
                    origin[info.system_id] = each
                    served.append(info)
                elif origin[info.system_id] is not each:
                    self._reject(
                        each.state(info.system_id),
                        f"system {info.system_id!r} is also published under "
                        f"{origin[info.system_id].prefix!r}; serving that one",
                    )
        self._origin = origin
        self._hub.set_systems(served)
        for info in served:
            key = (origin[info.system_id].prefix, info.system_id)
            state = self._pending_state.pop(key, None)
            if state is not None:
                self._state(origin[info.system_id], info.system_id, state)
            available = self._pending_availability.pop(key, None)
            if available is not None:
                self._availability(origin[info.system_id], info.system_id, available)

    def _state(self, topics: Topics, system_id: str, document: dict[str, Any]) -> None:
        key = (topics.prefix, system_id)
        if system_id in self._hub.systems:
            self._hub.update_state(system_id, document)
        elif key in self._pending_state or len(self._pending_state) < MAX_PENDING:
            self._pending_state[key] = document

    def _availability(self, topics: Topics, system_id: str, available: bool) -> None:
        key = (topics.prefix, system_id)
        system = self._hub.systems.get(system_id)
        if system is not None:
            # The same flag the hub derives from states and connectivity events.
            system.connected = available
        elif key in self._pending_availability or len(self._pending_availability) < MAX_PENDING:
            self._pending_availability[key] = available

    def _event(self, event: HubEvent) -> None:
        if event.kind in (ALERT, ALERT_ACKNOWLEDGED):
            # What hub.raise_alert does, keeping the bridge's acknowledgement time
            # so the replica's frame is the bridge's frame. The bridge's frames
            # are whole alerts (state raised or cleared, the acknowledgement a
            # flag), so a replica that missed the raise still learns the alert.
            data = event.data
            if event.kind == ALERT_ACKNOWLEDGED:
                alert_id = data.get("alert_id")
                known = self._hub.alerts.get(alert_id) if isinstance(alert_id, str) else None
                if known is not None and known.acknowledged:
                    return  # acknowledged here first: the bridge's echo adds nothing
                data = {**data, "acknowledged": True}
            update = self._hub.alerts.apply(event.system_id, data)
            if update is None:
                return
            _keep_acknowledged_at(update.alert, data)
            self._hub.publish_event(event.kind, event.system_id, update.alert.as_dict())
        else:
            self._hub.publish_event(event.kind, event.system_id, event.data)

    # -- acknowledgements made on this replica ------------------------------

    def _acknowledge_upstream(self, alert: Alert, by: str | None) -> None:
        """Ask the bridge to acknowledge too (works when its commands are on)."""
        client = self._client
        if client is None:
            _LOGGER.info("Alert %s acknowledged locally only: broker unreachable", alert.alert_id)
            return
        command: dict[str, Any] = {"action": "acknowledge_alert", "alert_id": alert.alert_id}
        if by is not None:
            command["by"] = by
        task = asyncio.create_task(self._send_command(client, alert.system_id, command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_command(
        self, client: aiomqtt.Client, system_id: str, command: dict[str, Any]
    ) -> None:
        try:
            topics = self._origin.get(system_id, self.topics)
            await client.publish(topics.command(system_id), encode_json(command), qos=1)
        except aiomqtt.MqttError as err:
            _LOGGER.info("Could not forward %s for %s: %s", command["action"], system_id, err)


def _keep_acknowledged_at(alert: Alert, data: dict[str, Any]) -> None:
    """Show the bridge's acknowledgement time, not the moment this replica heard of it."""
    when = data.get("acknowledged_at")
    if alert.acknowledged and isinstance(when, str):
        alert.acknowledged_at = when

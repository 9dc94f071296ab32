"""The MQTT bridge: the hub's systems, states and events, published on a broker.

It is a hub listener. Every update becomes a QoS 1 message in a bounded
:class:`~.outbox.Outbox`, which a pump drains into the broker; while the
broker is away the outbox keeps the messages (coalescing retained ones) and
the bridge reconnects with backoff. After every (re)connect it republishes
the current status, systems list, availabilities and states before the
queued messages, so a broker that lost its retained store (no persistence,
a restart) is whole again at once. Topics are described in
:mod:`.mqtt_topics`.

Commands (``<prefix>/<system>/command``) are off unless
``MqttSettings.commands``: with them off the bridge does not even subscribe,
so nobody on the broker can reach Home Assistant's actions through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
import contextlib
import logging
from typing import Any

import aiomqtt

from .backoff import Backoff
from .hub import Hub, HubEvent, System
from .mqtt_link import INFLIGHT, make_client
from .mqtt_topics import (
    OFFLINE,
    ONLINE,
    PayloadError,
    Topics,
    decode_command,
    encode_event,
    encode_json,
    encode_systems,
)
from .outbox import Key, Message, Outbox
from .settings import MqttSettings

_LOGGER = logging.getLogger(__name__)

type CallService = Callable[[str, str, dict[str, Any]], Awaitable[Any]]

DOMAIN = "sunstream"
# Home Assistant's battery actions and their fields (services.yaml); None = required.
DISPATCH_FIELDS: dict[str, dict[str, float | None]] = {
    "charge": {"power": None, "target_soc": 100.0, "duration": 60.0},
    "discharge": {"power": None, "target_soc": 20.0, "duration": 60.0},
    "stop": {},
}
ACKNOWLEDGE = "acknowledge_alert"
ACTIONS = (*DISPATCH_FIELDS, ACKNOWLEDGE)
# Commands running at once, and waiting at most; more are refused with "busy".
COMMAND_CONCURRENCY = 4
MAX_PENDING_COMMANDS = 64
COMMAND_TIMEOUT = 30.0
# How long a clean shutdown waits to say "offline" before disconnecting.
GOODBYE_TIMEOUT = 2.0


class CommandError(Exception):
    """A command that cannot be carried out; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        """Keep the code next to the human message."""
        super().__init__(message)
        self.code = code


class MqttBridge:
    """Publishes the hub on the broker and (optionally) takes commands from it."""

    def __init__(
        self,
        mqtt: MqttSettings,
        hub: Hub,
        call_service: CallService | None,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        """Prepare; nothing connects before :meth:`run`."""
        self._settings = mqtt
        self._hub = hub
        self._call_service = call_service
        self.topics = Topics(mqtt.prefix)
        self._outbox = Outbox(mqtt.buffer)
        self._backoff = backoff or Backoff(base=0.5, cap=30.0)
        self._published = 0
        self._connections = 0
        self._connected = False
        # What each system's availability topic last said (or will say once sent).
        self._availability: dict[str, str] = {}
        # Systems whose topics we filled, so a removed one's retained topics get cleared.
        self._known: set[str] = set()
        self._commands: set[asyncio.Task[None]] = set()
        self._command_slots = asyncio.Semaphore(COMMAND_CONCURRENCY)

    def stats(self) -> dict[str, int | bool]:
        """Counters for ``/health`` and logs."""
        return {
            "published": self._published,
            "buffered": len(self._outbox),
            "dropped": self._outbox.dropped,
            "reconnects": max(0, self._connections - 1),
            "connected": self._connected,
        }

    # -- hub listener -----------------------------------------------------

    def on_systems(self, hub: Hub) -> None:
        """Publish the new systems list; clear the retained topics of removed systems."""
        current = set(hub.systems)
        for system_id in self._known - current:
            self._availability.pop(system_id, None)
            for topic in (self.topics.state(system_id), self.topics.availability(system_id)):
                self._outbox.put(Message(topic, b"", retain=True))
        self._known = current
        self._outbox.put(Message(self.topics.systems, self._systems_payload(), retain=True))
        for system in hub.systems.values():
            self._queue_availability(system)

    def on_state(self, system: System) -> None:
        """Publish the system's new document (the hub's cached JSON bytes)."""
        if system.document is None:
            return
        self._outbox.put(
            Message(self.topics.state(system.system_id), system.document_json, retain=True)
        )
        self._queue_availability(system)

    def on_event(self, event: HubEvent) -> None:
        """Publish the event on the system's events topic (never coalesced)."""
        self._outbox.put(Message(self.topics.events(event.system_id), encode_event(event)))
        if event.kind == "connectivity":
            system = self._hub.systems.get(event.system_id)
            if system is not None:
                self._queue_availability(system)

    def _systems_payload(self) -> bytes:
        return encode_systems(system.info for system in self._hub.systems.values())

    @staticmethod
    def _availability_of(system: System) -> str | None:
        """What the last connectivity event or document said; ``None`` until either.

        Publishing a guess would put a false, retained "offline" on the broker
        at every start, flipped back a moment later.
        """
        if system.connected is not None:
            return ONLINE if system.connected else OFFLINE
        status = system.document.get("status") if system.document is not None else None
        if status is None:
            return None
        return OFFLINE if status == OFFLINE else ONLINE

    def _queue_availability(self, system: System) -> None:
        value = self._availability_of(system)
        if value is not None and self._availability.get(system.system_id) != value:
            self._availability[system.system_id] = value
            self._outbox.put(
                Message(self.topics.availability(system.system_id), value.encode(), retain=True)
            )

    def _snapshot(self) -> list[Message]:
        """Everything retained, as of now: sent first after every connect."""
        messages = [
            Message(self.topics.bridge_status, ONLINE.encode(), retain=True),
            Message(self.topics.systems, self._systems_payload(), retain=True),
        ]
        self._known = set(self._hub.systems)
        for system in self._hub.systems.values():
            value = self._availability_of(system)
            if value is not None:
                self._availability[system.system_id] = value
                messages.append(
                    Message(self.topics.availability(system.system_id), value.encode(), retain=True)
                )
            if system.document is not None:
                messages.append(
                    Message(self.topics.state(system.system_id), system.document_json, retain=True)
                )
        return messages

    # -- connection -------------------------------------------------------

    async def run(self) -> None:
        """Publish forever, reconnecting with backoff; cancel to stop (says "offline")."""
        remove = self._hub.add_listener(self)
        self._known = set(self._hub.systems)
        will = aiomqtt.Will(self.topics.bridge_status, OFFLINE.encode(), qos=1, retain=True)
        failures = 0
        try:
            while True:
                client = make_client(self._settings, role="bridge", will=will)
                try:
                    async with client:
                        failures = 0
                        self._connections += 1
                        self._connected = True
                        self._backoff.reset()
                        self._log_connected()
                        try:
                            await self._session(client)
                        except asyncio.CancelledError:
                            await self._say_goodbye(client)
                            raise
                except aiomqtt.MqttError as err:
                    failures += 1
                    self._log_link_error(err, failures)
                except Exception:
                    # A bug here must not take the server down with it; retry.
                    failures += 1
                    _LOGGER.exception("MQTT bridge session failed")
                finally:
                    self._connected = False
                await asyncio.sleep(self._backoff.next_delay())
        finally:
            remove()
            for task in tuple(self._commands):
                task.cancel()

    def _log_connected(self) -> None:
        dropped = self._outbox.take_drop_report()
        _LOGGER.info(
            "MQTT bridge connected to %s:%d (%d messages queued)",
            self._settings.host,
            self._settings.port,
            len(self._outbox),
        )
        if dropped:
            _LOGGER.warning(
                "%d MQTT messages were dropped while the broker was unreachable "
                "(buffer of %d; raise mqtt_buffer to keep more)",
                dropped,
                self._outbox.limit,
            )

    def _log_link_error(self, err: aiomqtt.MqttError, failures: int) -> None:
        where = f"{self._settings.host}:{self._settings.port}"
        if failures == 1:
            _LOGGER.warning("MQTT broker %s unreachable or link lost: %s; retrying", where, err)
        else:
            _LOGGER.debug("MQTT broker %s still unreachable (attempt %d): %s", where, failures, err)

    async def _session(self, client: aiomqtt.Client) -> None:
        """One connection: resync and pump, while listening, until the link fails.

        aiomqtt does not fail a pending publish or subscribe when the link
        drops (it waits for its timeout); the listener does notice at once,
        and ends the session.
        """
        pump = asyncio.create_task(self._pump(client))
        listen = asyncio.create_task(self._listen(client))
        try:
            done, _ = await asyncio.wait((pump, listen), return_when=asyncio.FIRST_COMPLETED)
        finally:
            pump.cancel()
            listen.cancel()
            await asyncio.gather(pump, listen, return_exceptions=True)
        for task in done:
            task.result()  # raises the MqttError that ended the session

    async def _say_goodbye(self, client: aiomqtt.Client) -> None:
        """A clean disconnect suppresses the will, so say "offline" ourselves."""
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(GOODBYE_TIMEOUT):
                await client.publish(
                    self.topics.bridge_status, OFFLINE.encode(), qos=1, retain=True
                )

    async def _pump(self, client: aiomqtt.Client) -> None:
        """Subscribe, resync, then send queued messages (:data:`INFLIGHT` at a time)."""
        if self._settings.commands:
            await client.subscribe(self.topics.wildcard("command"), qos=1)
        snapshot = self._snapshot()
        self._outbox.discard_topics(message.topic for message in snapshot)
        await self._publish_all(client, ((None, message) for message in snapshot))
        while True:
            await self._outbox.wait()
            await self._publish_all(client, self._outbox.peek(INFLIGHT))

    async def _publish_all(
        self, client: aiomqtt.Client, items: Iterable[tuple[Key | None, Message]]
    ) -> None:
        """Publish in order (tasks start in creation order), then wait for every PUBACK."""
        tasks = [asyncio.create_task(self._publish(client, key, message)) for key, message in items]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _publish(self, client: aiomqtt.Client, key: Key | None, message: Message) -> None:
        await client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
        self._published += 1
        if key is not None:
            self._outbox.done(key, message)

    async def _listen(self, client: aiomqtt.Client) -> None:
        """Take commands; also how a lost link is noticed (the iterator raises)."""
        async for message in client.messages:
            match = self.topics.parse(message.topic.value)
            if match is None or match.kind != "command" or match.system_id is None:
                continue
            if not self._settings.commands:
                continue
            self._spawn_command(match.system_id, message.payload)

    # -- commands ---------------------------------------------------------

    def _spawn_command(self, system_id: str, payload: bytes) -> None:
        if len(self._commands) >= MAX_PENDING_COMMANDS:
            self._reply(system_id, {}, CommandError("busy", "too many commands pending; retry"))
            return
        task = asyncio.create_task(self._command(system_id, payload))
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    async def _command(self, system_id: str, payload: bytes) -> None:
        """Carry out one command and publish its outcome; never raises."""
        command: dict[str, Any] = {}
        try:
            try:
                command = decode_command(payload)
            except PayloadError as err:
                raise CommandError("bad_command", f"invalid command: {err}") from None
            async with self._command_slots:
                result = await self._execute(system_id, command)
        except CommandError as err:
            self._reply(system_id, command, err)
        except TimeoutError:
            self._reply(
                system_id,
                command,
                CommandError("timeout", f"no answer within {COMMAND_TIMEOUT:g} s"),
            )
        except Exception as err:  # whatever Home Assistant raised
            self._reply(
                system_id, command, CommandError("service_error", str(err) or type(err).__name__)
            )
        else:
            self._reply(system_id, command, result)

    async def _execute(self, system_id: str, command: dict[str, Any]) -> dict[str, Any]:
        action = command["action"]
        system = self._hub.systems.get(system_id)
        if system is None:
            raise CommandError("unknown_system", f"no system {system_id!r}")
        if action == ACKNOWLEDGE:
            return self._acknowledge(system_id, command)
        fields = DISPATCH_FIELDS.get(action)
        if fields is None:
            raise CommandError(
                "unknown_action", f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}"
            )
        data = _dispatch_data(action, fields, command)
        if self._call_service is None:
            raise CommandError("unavailable", "this bridge has no Home Assistant to call")
        if system.info.device_id is None:
            raise CommandError("no_device", f"system {system_id!r} has no Home Assistant device")
        data = {"device_id": system.info.device_id, **data}
        async with asyncio.timeout(COMMAND_TIMEOUT):
            await self._call_service(DOMAIN, action, data)
        return {}

    def _acknowledge(self, system_id: str, command: dict[str, Any]) -> dict[str, Any]:
        _check_fields(command, {"alert_id", "by"})
        alert_id, by = command.get("alert_id"), command.get("by", "mqtt")
        if not isinstance(alert_id, str) or not alert_id:
            raise CommandError("bad_command", "acknowledge_alert needs a string 'alert_id'")
        if not isinstance(by, str):
            raise CommandError("bad_command", "'by' must be a string")
        alert = self._hub.alerts.get(alert_id)
        if alert is None or alert.system_id != system_id:
            raise CommandError("unknown_alert", f"no alert {alert_id!r} on system {system_id!r}")
        acknowledged = self._hub.acknowledge(alert_id, by)
        return {"alert": acknowledged.as_dict() if acknowledged is not None else None}

    def _reply(
        self, system_id: str, command: dict[str, Any], outcome: dict[str, Any] | CommandError
    ) -> None:
        reply: dict[str, Any] = {"ok": not isinstance(outcome, CommandError)}
        action = command.get("action")
        reply["action"] = action if isinstance(action, str) else None
        request_id = command.get("id")
        if isinstance(request_id, str | int) and not isinstance(request_id, bool):
            reply["id"] = request_id
        reply["system_id"] = system_id
        if isinstance(outcome, CommandError):
            reply["error"] = {"code": outcome.code, "message": str(outcome)}
            _LOGGER.info("MQTT command on %s refused: %s", system_id, outcome)
        else:
            reply.update(outcome)
        self._outbox.put(Message(self.topics.command_result(system_id), encode_json(reply)))


def _check_fields(command: dict[str, Any], allowed: set[str]) -> None:
    unexpected = sorted(set(command) - allowed - {"action", "id"})
    if unexpected:
        raise CommandError("bad_command", f"unexpected field(s): {', '.join(unexpected)}")


def _dispatch_data(
    action: str, fields: dict[str, float | None], command: dict[str, Any]
) -> dict[str, Any]:
    """The action's fields from the command, with services.yaml's defaults."""
    _check_fields(command, set(fields))
    data: dict[str, Any] = {}
    for name, default in fields.items():
        value = command.get(name, default)
        if value is None:
            raise CommandError("bad_command", f"{action} needs '{name}'")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CommandError("bad_command", f"'{name}' must be a number")
        data[name] = value
    return data

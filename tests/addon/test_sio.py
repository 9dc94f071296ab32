"""The Socket.IO endpoint against the real python-socketio client, over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from datetime import datetime
import json
from typing import Any

import aiohttp
from aiohttp import web
import pytest
import socketio  # type: ignore[import-untyped]

from sunstream_monitor import sio, wire
from sunstream_monitor.auth import Authenticator
from sunstream_monitor.hub import Hub, SystemInfo
from sunstream_monitor.monitoring import iso_utc
from sunstream_monitor.settings import Settings

from .conftest import free_port

TOKEN = "sio-test-token"
SYSTEM = "sim-rooftop"
OTHER = "sim-garage"
WAIT = 5.0


def document(system_id: str = SYSTEM, **overrides: Any) -> dict[str, Any]:
    """A complete MonitoringData document with plausible numbers."""
    doc: dict[str, Any] = {
        "system_id": system_id,
        "name": "Rooftop" if system_id == SYSTEM else system_id,
        "source": "simulated",
        "status": "online",
        "current_generation_kw": 3.42,
        "today_generation_kwh": 12.5,
        "monthly_generation_kwh": 310.25,
        "total_generation_kwh": 10234.5,
        "today_savings": 10.63,
        "monthly_savings": 263.71,
        "total_savings": 8699.33,
        "currency": "BRL",
        "co2_offset_kg": 5117.25,
        "trees_planted_equivalent": 243.68,
        "battery": {
            "soc_percent": 76.0,
            "power_kw": -1.2,
            "charge_energy_kwh": 4.1,
            "discharge_energy_kwh": 2.3,
            "mode": "charging",
        },
        "grid": {"power_kw": -0.8, "import_energy_kwh": 3.2, "export_energy_kwh": 5.6},
        "load": {"power_kw": 1.42},
        "inverter": {"temperature_c": 41.5, "status": "running"},
        "chart_data": {
            "labels": [f"{hour:02d}:00" for hour in range(24)],
            "values": [round(max(0.0, 1.0 - abs(hour - 12) / 6) * 1.8, 3) for hour in range(24)],
        },
        "last_updated": "2026-11-23T14:00:00+00:00",
    }
    doc.update(overrides)
    return doc


def make_authenticator(**settings: Any) -> Authenticator:
    """The real authenticator, accepting :data:`TOKEN` as a configured token."""
    return Authenticator(Settings(tokens=(TOKEN,), **settings))


def make_hub() -> Hub:
    hub = Hub()
    hub.set_systems(
        [
            SystemInfo(system_id=SYSTEM, name="Rooftop", source="simulated"),
            SystemInfo(system_id=OTHER, name="Garage", source="simulated"),
        ]
    )
    hub.update_state(SYSTEM, document())
    hub.update_state(OTHER, document(OTHER))
    return hub


async def eventually(predicate: Callable[[], bool]) -> None:
    """Wait (bounded) until ``predicate()`` holds."""
    for _ in range(int(WAIT / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    pytest.fail("condition not met in time")


class Recorder:
    """A python-socketio client that queues every event it hears, by name."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.queues: dict[str, asyncio.Queue[Any]] = {}
        self.disconnected = asyncio.Event()
        for name in ("device:data", "device:alerts", "device:status", "device:dispatch", "error"):
            self.client.on(name, self._recorder(name))
        self.client.on("disconnect", self._on_disconnect)

    def _recorder(self, name: str) -> Callable[[Any], Awaitable[None]]:
        queue = self.queues.setdefault(name, asyncio.Queue())

        async def record(data: Any = None) -> None:
            await queue.put(data)

        return record

    async def _on_disconnect(self, *_args: Any) -> None:
        self.disconnected.set()

    async def next(self, name: str) -> Any:
        async with asyncio.timeout(WAIT):
            return await self.queues[name].get()

    async def nothing(self, name: str, within: float = 0.5) -> None:
        """Assert that no ``name`` event arrives for ``within`` seconds."""
        try:
            async with asyncio.timeout(within):
                data = await self.queues[name].get()
        except TimeoutError:
            return
        pytest.fail(f"unexpected {name}: {data!r}")

    async def call(self, event: str, data: Any) -> Any:
        return await self.client.call(event, data, timeout=WAIT)

    async def data(self) -> dict[str, Any]:
        """The next ``device:data``, read as existing dashboards do (docs/app-api.md):
        ``({ deviceId, data, timestamp }) => …`` — exactly those keys."""
        message = await self.next("device:data")
        assert set(message) == {"deviceId", "data", "timestamp"}
        device_id, data, timestamp = message["deviceId"], message["data"], message["timestamp"]
        assert device_id == data["system_id"]
        # Date.toJSON()'s form: what `new Date(timestamp)` parses.
        assert datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ")
        assert isinstance(data, dict)
        return data

    async def alerts(self) -> tuple[str, list[dict[str, Any]]]:
        """The next ``device:alerts``, read as ``({ deviceId, alerts }) => …``."""
        message = await self.next("device:alerts")
        assert set(message) == {"deviceId", "alerts"}
        assert isinstance(message["alerts"], list)
        return message["deviceId"], message["alerts"]


class Server:
    """An aiohttp app with the Socket.IO endpoint, on a free loopback port."""

    def __init__(self, hub: Hub, authenticator: Authenticator, **options: Any) -> None:
        self.hub = hub
        self.authenticator = authenticator
        self.app = web.Application()
        self.endpoint = sio.SocketIOEndpoint(hub, authenticator, **options).attach(self.app)
        self.runner = web.AppRunner(self.app)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def server(socket_enabled: None) -> AsyncGenerator[Server]:
    srv = Server(make_hub(), make_authenticator())
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def clients(server: Server) -> AsyncGenerator[Callable[..., Awaitable[Recorder]]]:
    """Connects recorders (authenticated unless told otherwise); disconnects them after."""
    async with AsyncExitStack() as stack:

        async def connect(**kwargs: Any) -> Recorder:
            kwargs.setdefault("auth", {"token": TOKEN})
            kwargs.setdefault("transports", ["websocket"])
            recorder = Recorder()
            await recorder.client.connect(server.url, wait_timeout=WAIT, **kwargs)
            stack.push_async_callback(recorder.client.disconnect)
            return recorder

        yield connect


async def refusal(server: Server, **kwargs: Any) -> Any:
    """Connect expecting a refusal; return what ``connect_error`` carried."""
    refusals: asyncio.Queue[Any] = asyncio.Queue()
    client = socketio.AsyncClient(reconnection=False)

    async def on_connect_error(data: Any) -> None:
        await refusals.put(data)

    client.on("connect_error", on_connect_error)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, transports=["websocket"], wait_timeout=WAIT, **kwargs)
        async with asyncio.timeout(WAIT):
            return await refusals.get()
    finally:
        await client.disconnect()


async def test_refused_without_token(server: Server) -> None:
    data = await refusal(server)
    assert data["message"].startswith("unauthorized: send a token")
    assert data["data"] == {"code": "unauthorized"}


async def test_refused_with_wrong_token(server: Server) -> None:
    data = await refusal(server, auth={"token": "nope"})
    assert data["message"] == "unauthorized: the token was not accepted"


async def test_repeated_failures_back_off(server: Server) -> None:
    for _ in range(5):
        assert (await refusal(server, auth={"token": "guess"}))["data"]["code"] == "unauthorized"
    # Now even the right token waits: the address is refused for a while.
    data = await refusal(server, auth={"token": TOKEN})
    assert data["data"]["code"] == "auth_backoff"
    assert data["data"]["retry_after"] >= 1
    assert "too many failed authentications" in data["message"]


async def test_refused_with_wrong_bearer_header(server: Server) -> None:
    data = await refusal(server, headers={"Authorization": "Bearer nope"})
    assert data["data"] == {"code": "unauthorized"}


async def test_accepted_with_auth_payload_over_polling(
    server: Server, clients: Callable[..., Awaitable[Recorder]]
) -> None:
    # socket.io-client's default: long-polling first, then the WebSocket upgrade.
    recorder = await clients(transports=["polling", "websocket"])
    assert recorder.client.connected
    assert server.endpoint.stats()["connections"] == 1


async def test_accepted_with_bearer_header(clients: Callable[..., Awaitable[Recorder]]) -> None:
    recorder = await clients(auth=None, headers={"Authorization": f"Bearer {TOKEN}"})
    ack = await recorder.call("subscribe:device", SYSTEM)
    assert ack["ok"] is True


async def test_subscribe_gets_data_now_and_on_change(
    server: Server, clients: Callable[..., Awaitable[Recorder]]
) -> None:
    recorder = await clients()
    ack = await recorder.call("subscribe:device", SYSTEM)
    assert ack == {"ok": True, "system_id": SYSTEM, "alerts": []}
    first = await recorder.data()
    assert first == document()

    server.hub.update_state(SYSTEM, document(current_generation_kw=4.75))
    changed = await recorder.data()
    assert changed["current_generation_kw"] == 4.75
    assert changed["system_id"] == SYSTEM
    # The other system's updates don't reach this room.
    server.hub.update_state(OTHER, document(OTHER, current_generation_kw=9.9))
    await recorder.nothing("device:data")
    assert server.endpoint.stats()["systems"] == {SYSTEM: 1}


async def test_values_are_sent_with_sensible_precision(
    server: Server, clients: Callable[..., Awaitable[Recorder]]
) -> None:
    """Was: device:data carried the document's binary noise (0.49739999999999995)."""
    recorder = await clients()
    await recorder.call("subscribe:device", SYSTEM)
    await recorder.data()
    noisy = 0.49739999999999995
    assert noisy != 0.4974
    server.hub.update_state(SYSTEM, document(today_savings=noisy, load={"power_kw": noisy}))
    data = await recorder.data()
    assert data["today_savings"] == 0.4974
    assert data["load"]["power_kw"] == 0.4974


async def test_subscribe_accepts_an_object_argument(
    clients: Callable[..., Awaitable[Recorder]],
) -> None:
    recorder = await clients()
    ack = await recorder.call("subscribe:device", {"deviceId": OTHER})
    assert ack["ok"] is True
    assert (await recorder.data())["system_id"] == OTHER


async def test_every_member_of_the_room_gets_the_update_encoded_once(
    server: Server, clients: Callable[..., Awaitable[Recorder]], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorders = [await clients() for _ in range(3)]
    for recorder in recorders:
        await recorder.call("subscribe:device", SYSTEM)
        await recorder.data()

    # Count packet encodings, and serializations of the document itself.
    packets: list[bytes] = []
    documents: list[Any] = []
    encode_packet, dumps = sio.event_packet, wire.dumps

    def counting_packet(event: str, payload: bytes) -> bytes:
        packets.append(packet := encode_packet(event, payload))
        return packet

    def counting_dumps(value: Any) -> bytes:
        if isinstance(value, dict) and "today_generation_kwh" in value:
            documents.append(value)
        return dumps(value)

    # And which members took Engine.IO's per-client queue instead of their WebSocket.
    engine = server.endpoint.server.eio
    queued: list[str] = []
    enqueue = engine.enqueue

    def counting_enqueue(sids: Iterable[str], text: str) -> None:
        queued.extend(sids := list(sids))
        enqueue(sids, text)

    monkeypatch.setattr(sio, "event_packet", counting_packet)
    monkeypatch.setattr(wire, "dumps", counting_dumps)
    monkeypatch.setattr(engine, "enqueue", counting_enqueue)
    server.hub.update_state(SYSTEM, document(today_generation_kwh=13.0))
    for recorder in recorders:
        assert (await recorder.data())["today_generation_kwh"] == 13.0
    # One packet for the three of them, around the one JSON the hub made of the document.
    assert len(packets) == 1
    assert len(documents) == 1
    # Each went straight to its WebSocket, not through Engine.IO's per-client queue.
    assert queued == []


async def join(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Engine.IO's OPEN, then the namespace CONNECT with the token, on a raw WebSocket."""
    assert (await ws.receive_str()).startswith("0{")
    await ws.send_str("40" + json.dumps({"token": TOKEN}))
    assert (await ws.receive_str()).startswith("40{")


async def test_frames_are_what_the_library_encodes(server: Server) -> None:
    """The wire bytes are python-socketio's for the same emit: ``42["device:data",{…}]``
    with the app's compact JSON — dashboards cannot tell the fast path from the library."""
    url = f"{server.url}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        async with asyncio.timeout(WAIT):
            await join(ws)
            await ws.send_str("421" + json.dumps(["subscribe:device", SYSTEM]))
            texts = [await ws.receive_str()]  # the current document, then status and the ack
            while not (await ws.receive_str()).startswith("431["):
                pass
            server.hub.update_state(SYSTEM, document(current_generation_kw=0.49739999999999995))
            texts.append(await ws.receive_str())
            server.hub.raise_alert(
                SYSTEM,
                {"rule": "battery_low", "severity": "warning", "value": 9.0, "threshold": 10.0},
            )
            texts.append(await ws.receive_str())
    system = server.hub.systems[SYSTEM]
    # The server's packet class: python-socketio's, with the app's JSON encoder.
    packet_class = server.endpoint.server.packet_class
    library = packet_class(
        socketio.packet.EVENT,
        data=[
            "device:data",
            {
                "deviceId": SYSTEM,
                "data": system.document,
                "timestamp": iso_utc(system.updated_at),
            },
        ],
    )
    assert texts[1] == "4" + library.encode()
    assert '"current_generation_kw":0.4974,' in texts[1]
    assert texts[0].startswith('42["device:data",{"deviceId":"sim-rooftop","data":{')
    event, message = json.loads(texts[2][2:])
    assert event == "device:alerts"
    library = packet_class(socketio.packet.EVENT, data=["device:alerts", message])
    assert texts[2] == "4" + library.encode()
    assert set(message) == {"deviceId", "alerts"}


async def test_polling_client_receives(
    server: Server, clients: Callable[..., Awaitable[Recorder]]
) -> None:
    """A client that never upgrades keeps python-socketio's path, and hears everything."""
    polling = await clients(transports=["polling"])
    websocket = await clients()
    for recorder in (polling, websocket):
        await recorder.call("subscribe:device", SYSTEM)
        await recorder.data()
    for number in range(5):
        server.hub.update_state(SYSTEM, document(current_generation_kw=float(number)))
    for recorder in (polling, websocket):
        heard = [(await recorder.data())["current_generation_kw"] for _ in range(5)]
        assert heard == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert len(server.endpoint.server.eio.websockets) == 1
    server.hub.raise_alert(
        SYSTEM, {"rule": "battery_low", "severity": "warning", "value": 9.0, "threshold": 10.0}
    )
    device_id, [raised] = await polling.alerts()
    assert (device_id, raised["rule"]) == (SYSTEM, "battery_low")


async def test_upgraded_client_hears_each_update_exactly_once(
    server: Server, clients: Callable[..., Awaitable[Recorder]]
) -> None:
    """python-socketio's client upgrades inside ``connect``; what it hears after is in order."""
    recorder = await clients(transports=["polling", "websocket"])
    await recorder.call("subscribe:device", SYSTEM)
    await recorder.data()
    for number in range(20):
        server.hub.update_state(SYSTEM, document(current_generation_kw=float(number)))
    heard = [(await recorder.data())["current_generation_kw"] for _ in range(20)]
    assert heard == [float(number) for number in range(20)]
    await recorder.nothing("device:data")
    assert recorder.client.transport() == "websocket"


def _numbers(payload: str) -> list[float]:
    """``current_generation_kw`` of each ``device:data`` in Engine.IO packets (``\x1e``-joined)."""
    numbers = []
    for packet in payload.split("\x1e"):
        if packet.startswith('42["device:data"'):
            numbers.append(json.loads(packet[2:])[1]["data"]["current_generation_kw"])
    return numbers


class Polling:
    """Raw Engine.IO long-polling requests on ``session``, as socket.io-client makes them."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.base = f"{url}/socket.io/?EIO=4&transport=polling"

    async def poll(self, sid: str) -> str:
        async with self.session.get(f"{self.base}&sid={sid}") as response:
            assert response.status == 200
            return await response.text()

    async def post(self, sid: str, packet: str) -> None:
        async with self.session.post(f"{self.base}&sid={sid}", data=packet) as response:
            assert response.status == 200

    async def open(self) -> str:
        """A new Engine.IO session; its id."""
        async with self.session.get(self.base) as response:
            sid: str = json.loads((await response.text())[1:])["sid"]
        return sid


async def test_upgrading_client_hears_each_update_exactly_once(server: Server) -> None:
    """socket.io-client's order: subscribe over long-polling, then the upgrade while
    updates pour in. None lost, none heard twice (once per transport), in order, and
    nothing but the probe's answer on the WebSocket before the upgrade is done (the
    client gives the upgrade up otherwise)."""
    async with aiohttp.ClientSession() as session:
        poll, post = (polling := Polling(session, server.url)).poll, polling.post

        async with asyncio.timeout(WAIT * 2):
            sid = await polling.open()
            await post(sid, "40" + json.dumps({"token": TOKEN}))
            assert (await poll(sid)).startswith("40{")
            await post(sid, "421" + json.dumps(["subscribe:device", SYSTEM]))
            while "431[" not in await poll(sid):
                pass
            count = 0
            heard: list[float] = []
            polling = asyncio.ensure_future(poll(sid))
            url = f"{server.url}/socket.io/?EIO=4&transport=websocket&sid={sid}"
            upgrade = asyncio.ensure_future(session.ws_connect(url))
            # Updates before, during and after the upgrade, one every event loop turn.
            while not upgrade.done() or count < 20:
                server.hub.update_state(SYSTEM, document(current_generation_kw=float(count)))
                count += 1
                await asyncio.sleep(0)
            ws = upgrade.result()
            await ws.send_str("2probe")
            while (await ws.receive_str()) != "3probe":
                pytest.fail("a packet on the WebSocket before the probe's answer")
            # The client waits for its poll to end (the server answers it), then upgrades.
            while True:
                payload = await polling
                heard += _numbers(payload)
                if "6" in payload.split("\x1e"):
                    break
                polling = asyncio.ensure_future(poll(sid))
            for _ in range(20):
                server.hub.update_state(SYSTEM, document(current_generation_kw=float(count)))
                count += 1
                await asyncio.sleep(0)
            await ws.send_str("5")
            for _ in range(20):
                server.hub.update_state(SYSTEM, document(current_generation_kw=float(count)))
                count += 1
                await asyncio.sleep(0)
            while len(heard) < count:
                heard += _numbers(await ws.receive_str())
            await ws.close()
    assert heard == [float(number) for number in range(count)]


async def test_alerts_reach_the_room_and_acknowledge(
    server: Server, clients: Callable[..., Awaitable[Recorder]]
) -> None:
    watcher, bystander = await clients(), await clients()
    await watcher.call("subscribe:device", SYSTEM)
    await bystander.call("subscribe:device", OTHER)

    alert = server.hub.raise_alert(
        SYSTEM, {"rule": "battery_low", "severity": "warning", "value": 9.0, "threshold": 10.0}
    )
    device_id, [raised] = await watcher.alerts()
    assert device_id == SYSTEM
    assert raised["alert_id"] == alert.alert_id
    assert raised["state"] == "raised"
    assert raised["acknowledged"] is False

    # A later subscriber learns of active alerts in the ack.
    late = await clients()
    ack = await late.call("subscribe:device", SYSTEM)
    assert [a["alert_id"] for a in ack["alerts"]] == [alert.alert_id]

    reply = await watcher.call("alert:acknowledge", alert.alert_id)
    assert reply["ok"] is True
    assert reply["alert"]["acknowledged"] is True
    device_id, [acknowledged] = await watcher.alerts()
    assert device_id == SYSTEM
    assert acknowledged["acknowledged"] is True
    assert acknowledged["acknowledged_by"] == "token-1"
    stored = server.hub.alerts.get(alert.alert_id)
    assert stored is not None
    assert stored.acknowledged
    await bystander.nothing("device:alerts")


async def test_acknowledge_unknown_alert(clients: Callable[..., Awaitable[Recorder]]) -> None:
    recorder = await clients()
    reply = await recorder.call("alert:acknowledge", {"alert_id": "no-such-alert"})
    assert reply["ok"] is False
    assert reply["error"]["code"] == "unknown_alert"
    assert (await recorder.next("error"))["code"] == "unknown_alert"


async def test_connectivity_reaches_the_room_as_device_status(
    server: Server, clients: Callable[..., Awaitable[Recorder]]
) -> None:
    recorder = await clients()
    await recorder.call("subscribe:device", SYSTEM)
    # Known state right away (the document says online).
    current = await recorder.next("device:status")
    assert current["connected"] is True

    server.hub.publish_event(
        "connectivity",
        SYSTEM,
        {"system_id": SYSTEM, "source": "simulated", "connected": False, "reason": "outage"},
    )
    status = await recorder.next("device:status")
    assert status == {
        "system_id": SYSTEM,
        "source": "simulated",
        "connected": False,
        "reason": "outage",
    }
    server.hub.publish_event("dispatch", SYSTEM, {"command": "charge", "power": 2000})
    assert (await recorder.next("device:dispatch"))["command"] == "charge"


async def test_unsubscribe_stops_updates(
    server: Server, clients: Callable[..., Awaitable[Recorder]]
) -> None:
    leaver, stayer = await clients(), await clients()
    for recorder in (leaver, stayer):
        await recorder.call("subscribe:device", SYSTEM)
        await recorder.data()
    assert (await leaver.call("unsubscribe:device", SYSTEM))["ok"] is True

    server.hub.update_state(SYSTEM, document(current_generation_kw=1.11))
    server.hub.raise_alert(SYSTEM, {"rule": "inverter_hot", "severity": "critical"})
    # The update was sent (the stayer hears it), just not to the leaver.
    assert (await stayer.data())["current_generation_kw"] == 1.11
    await stayer.alerts()
    await leaver.nothing("device:data")
    await leaver.nothing("device:alerts", within=0.1)
    assert server.endpoint.stats()["systems"] == {SYSTEM: 1}


async def test_unknown_system_is_an_error_event_not_a_crash(
    clients: Callable[..., Awaitable[Recorder]],
) -> None:
    recorder = await clients()
    reply = await recorder.call("subscribe:device", "no-such-system")
    assert reply["ok"] is False
    error = await recorder.next("error")
    assert error["code"] == "unknown_system"
    assert error["system_id"] == "no-such-system"
    assert SYSTEM in error["known"]
    # Still connected and still served.
    assert (await recorder.call("subscribe:device", SYSTEM))["ok"] is True
    assert (await recorder.data())["system_id"] == SYSTEM


@pytest.mark.parametrize(
    ("event", "args", "code"),
    [
        ("subscribe:device", (), "invalid_request"),
        ("subscribe:device", (42,), "invalid_request"),
        ("subscribe:device", ({"nope": 1},), "invalid_request"),
        ("unsubscribe:device", ([],), "invalid_request"),
        ("alert:acknowledge", (None,), "invalid_request"),
        ("launch:rocket", ("now",), "unknown_event"),
    ],
)
async def test_bad_events_get_clear_errors(
    clients: Callable[..., Awaitable[Recorder]], event: str, args: tuple[Any, ...], code: str
) -> None:
    recorder = await clients()
    data = args[0] if len(args) == 1 else (args or None)
    reply = await recorder.client.call(event, data, timeout=WAIT)
    assert reply["ok"] is False
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]
    assert (await recorder.next("error"))["code"] == code


async def test_malformed_packet_closes_only_that_client(
    server: Server, clients: Callable[..., Awaitable[Recorder]]
) -> None:
    healthy = await clients()
    await healthy.call("subscribe:device", SYSTEM)
    await healthy.data()

    url = f"{server.url}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        async with asyncio.timeout(WAIT):
            opening = await ws.receive_str()
            assert opening.startswith("0{")
            await ws.send_str("40" + json.dumps({"token": TOKEN}))
            assert (await ws.receive_str()).startswith("40{")
            await ws.send_str('42["subscribe:device"')  # truncated JSON
            texts = []
            while (message := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                texts.append(message.data)
            # Engine.IO's CLOSE packet, then the transport itself closes.
            assert texts[-1:] == ["1"]
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    server.hub.update_state(SYSTEM, document(current_generation_kw=2.5))
    assert (await healthy.data())["current_generation_kw"] == 2.5


async def test_oversized_packet_is_refused(
    server: Server, clients: Callable[..., Awaitable[Recorder]]
) -> None:
    url = f"{server.url}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        async with asyncio.timeout(WAIT):
            await ws.receive_str()
            await ws.send_str("40" + json.dumps({"token": TOKEN}))
            await ws.receive_str()
            await ws.send_str('42["subscribe:device","' + "x" * (sio.MAX_PACKET_BYTES + 1) + '"]')
            while (message := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                pass
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert (await clients()).client.connected


async def test_shutdown_disconnects_clients_and_leaves_the_hub(socket_enabled: None) -> None:
    srv = Server(make_hub(), make_authenticator())
    await srv.start()
    recorder = Recorder()
    try:
        await recorder.client.connect(
            srv.url, auth={"token": TOKEN}, transports=["websocket"], wait_timeout=WAIT
        )
        await recorder.call("subscribe:device", SYSTEM)
    finally:
        await srv.stop()
    async with asyncio.timeout(WAIT):
        await recorder.disconnected.wait()
    await recorder.client.disconnect()
    # No listener left behind: updates after shutdown go nowhere and raise nothing.
    assert srv.endpoint not in srv.hub._listeners
    srv.hub.update_state(SYSTEM, document(current_generation_kw=0.5))


async def test_ingress_is_trusted_from_the_proxy_only(socket_enabled: None) -> None:
    ingress_headers = {"X-Ingress-Path": "/api/hassio_ingress/abc", "X-Remote-User-Name": "ana"}
    # The proxy here is loopback, so the test's requests come "from the Supervisor".
    proxied = Server(make_hub(), make_authenticator(trusted_proxies=("127.0.0.1",)))
    elsewhere = Server(make_hub(), make_authenticator())
    await proxied.start()
    await elsewhere.start()
    recorder = Recorder()
    try:
        await recorder.client.connect(
            proxied.url, headers=ingress_headers, transports=["websocket"], wait_timeout=WAIT
        )
        alert = proxied.hub.raise_alert(SYSTEM, {"rule": "grid_sag"})
        assert (await recorder.call("alert:acknowledge", alert.alert_id))["ok"] is True
        assert alert.acknowledged_by == "ana"
        # The same headers from an address that is not the proxy are just headers.
        data = await refusal(elsewhere, headers=ingress_headers)
        assert data["data"] == {"code": "unauthorized"}
    finally:
        await recorder.client.disconnect()
        await proxied.stop()
        await elsewhere.stop()


async def test_origin_allow_list(socket_enabled: None) -> None:
    srv = Server(make_hub(), make_authenticator(), origins=["https://solar.example"])
    await srv.start()
    try:
        listed = Recorder()
        await listed.client.connect(
            srv.url,
            auth={"token": TOKEN},
            headers={"Origin": "https://solar.example"},
            transports=["websocket"],
            wait_timeout=WAIT,
        )
        assert listed.client.connected
        await listed.client.disconnect()

        # The server's own origin always passes (the page it serves).
        own = Recorder()
        await own.client.connect(
            srv.url,
            auth={"token": TOKEN},
            headers={"Origin": srv.url},
            transports=["websocket"],
            wait_timeout=WAIT,
        )
        assert own.client.connected
        await own.client.disconnect()

        stranger = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await stranger.connect(
                srv.url,
                auth={"token": TOKEN},
                headers={"Origin": "https://evil.example"},
                transports=["websocket"],
                wait_timeout=WAIT,
            )
        await stranger.disconnect()
        async with aiohttp.ClientSession() as session:
            url = f"{srv.url}/socket.io/?EIO=4&transport=polling"
            async with session.get(url, headers={"Origin": "https://evil.example"}) as response:
                assert response.status == 400
                assert "not an accepted origin" in await response.text()
    finally:
        await srv.stop()


async def test_served_by_the_whole_app(socket_enabled: None) -> None:
    """create_app mounts the endpoint beside /ws and reports it in the statistics."""
    from sunstream_monitor.web import create_app

    settings = Settings(tokens=(TOKEN,))
    hub = make_hub()
    app = create_app(settings, hub, Authenticator(settings))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    recorder = Recorder()
    try:
        await recorder.client.connect(
            url, auth={"token": TOKEN}, transports=["websocket"], wait_timeout=WAIT
        )
        await recorder.call("subscribe:device", SYSTEM)
        await recorder.data()
        hub.update_state(SYSTEM, document(current_generation_kw=5.5))
        assert (await recorder.data())["current_generation_kw"] == 5.5
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{url}/api/stats", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as response,
        ):
            stats = await response.json()
        assert stats["socketio"] == {
            "connections": 1,
            "refused": 0,
            "evicted": 0,
            "systems": {SYSTEM: 1},
        }
    finally:
        await recorder.client.disconnect()
        await runner.cleanup()
    assert not hub._listeners


async def test_connection_caps(socket_enabled: None) -> None:
    srv = Server(make_hub(), make_authenticator(), max_clients=3, max_clients_per_ip=2)
    await srv.start()
    connected: list[Recorder] = []
    try:
        for _ in range(2):
            recorder = Recorder()
            await recorder.client.connect(
                srv.url, auth={"token": TOKEN}, transports=["websocket"], wait_timeout=WAIT
            )
            connected.append(recorder)
        # A third from the same address is refused before any upgrade, with the reason.
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{srv.url}/socket.io/?EIO=4&transport=polling") as response,
        ):
            assert response.status == 401
            assert "too many connections from this address" in await response.text()
        assert srv.endpoint.stats()["refused"] == 1
        # Leaving frees the place.
        await connected.pop().client.disconnect()
        await eventually(lambda: srv.endpoint.stats()["connections"] == 1)
        again = Recorder()
        await again.client.connect(
            srv.url, auth={"token": TOKEN}, transports=["websocket"], wait_timeout=WAIT
        )
        connected.append(again)
    finally:
        for recorder in connected:
            await recorder.client.disconnect()
        await srv.stop()


async def test_connection_without_namespace_connect_is_closed(socket_enabled: None) -> None:
    authenticator = Authenticator(Settings(tokens=(TOKEN,)), auth_timeout=0.3)
    srv = Server(make_hub(), authenticator)
    await srv.start()
    try:
        url = f"{srv.url}/socket.io/?EIO=4&transport=websocket"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            async with asyncio.timeout(WAIT):
                assert (await ws.receive_str()).startswith("0{")
                # Never send the CONNECT packet: the server hangs up on its own.
                texts = []
                while (message := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                    texts.append(message.data)
                assert texts[-1:] == ["1"]
    finally:
        await srv.stop()


async def test_client_that_stops_reading_is_dropped(socket_enabled: None) -> None:
    srv = Server(make_hub(), make_authenticator(), client_queue=64)
    await srv.start()
    healthy = Recorder()
    try:
        await healthy.client.connect(
            srv.url, auth={"token": TOKEN}, transports=["websocket"], wait_timeout=WAIT
        )
        await healthy.call("subscribe:device", SYSTEM)
        url = f"{srv.url}/socket.io/?EIO=4&transport=websocket"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as stuck:
            async with asyncio.timeout(WAIT):
                await join(stuck)
                await stuck.send_str("42" + json.dumps(["subscribe:device", SYSTEM]))
            await eventually(lambda: srv.endpoint.stats()["systems"] == {SYSTEM: 2})
            # From here on the stuck client reads nothing while updates pour in:
            # far more than the socket buffers and its queue of 64 can hold.
            padding = "x" * 65_536
            last = 299
            for number in range(last + 1):
                srv.hub.update_state(
                    SYSTEM, document(current_generation_kw=float(number), padding=padding)
                )
                await asyncio.sleep(0.001)
            await eventually(lambda: srv.endpoint.stats()["evicted"] == 1)
            await eventually(lambda: srv.endpoint.stats()["connections"] == 1)
            # Everyone else was served throughout, up to the last update.
            async with asyncio.timeout(WAIT * 4):
                while (await healthy.data())["current_generation_kw"] != last:
                    pass
            assert healthy.client.connected
    finally:
        await healthy.client.disconnect()
        await srv.stop()


async def test_evicting_a_polling_client_leaves_its_connection_to_others(
    socket_enabled: None,
) -> None:
    """A long-polling client owns no connection: its requests ride keep-alive connections
    that carry other requests next (a browser's pool, Home Assistant's ingress proxy).
    Dropping it when it stops polling must not cut the connection its first request came on,
    here carrying another client's long-poll."""
    srv = Server(make_hub(), make_authenticator(), client_queue=8)
    await srv.start()
    # One connection for every request, as a proxy's pool may do.
    connector = aiohttp.TCPConnector(limit=1)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            poll, post = (polling := Polling(session, srv.url)).poll, polling.post

            async def joined(system_id: str) -> str:
                sid = await polling.open()
                await post(sid, "40" + json.dumps({"token": TOKEN}))
                assert (await poll(sid)).startswith("40{")
                await post(sid, "421" + json.dumps(["subscribe:device", system_id]))
                return sid

            async with asyncio.timeout(WAIT * 2):
                await joined(SYSTEM)  # then never polls again
                reader = await joined(OTHER)
                while "431[" not in await poll(reader):
                    pass
                waiting = asyncio.ensure_future(poll(reader))
                await asyncio.sleep(0.1)  # the reader's long-poll is on the one connection
                for number in range(20):
                    srv.hub.update_state(SYSTEM, document(current_generation_kw=float(number)))
                # Evicted and gone (its socket closed, its connection left alone).
                await eventually(lambda: srv.endpoint.stats()["connections"] == 1)
                assert srv.endpoint.stats()["evicted"] == 1
                srv.hub.update_state(OTHER, document(OTHER, current_generation_kw=7.0))
                assert _numbers(await waiting) == [7.0]
                await post(reader, "1")  # Engine.IO CLOSE: the reader leaves
    finally:
        await srv.stop()


async def test_frames_go_out_uncompressed(server: Server) -> None:
    """Browsers always offer permessage-deflate; accepting it would compress every
    frame once per client and keep ~50 KiB of zlib state per connection."""
    url = f"{server.url}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url, compress=15) as ws:
        async with asyncio.timeout(WAIT):
            assert (await ws.receive_str()).startswith("0{")
            assert ws.compress == 0
            await ws.send_str("40" + json.dumps({"token": TOKEN}))
            assert (await ws.receive_str()).startswith("40{")

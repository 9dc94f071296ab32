"""A fake WiNet gateway: the real protocol over real sockets, with fault knobs.

Built on the ``websockets`` asyncio server, whose ``process_request`` hook
also answers the few plain HTTP requests a client makes
(``/i18n/en_US.properties``, ``/about/list``), so one port serves both, as
the device does on 443. Payloads come from captured data
(``winet_data/*.json``, structure and keys copied from real captures of an
SH5.0RS, SH10RT and SH10RS, each file naming its sources) and keep every
recorded quirk: values as strings, ``"--"``, ``℃``/``kΩ``/``HZ``/``kVar``,
``dev_procotol``, misspelled keys, a new token after ``login``, pushed
``notice`` frames, one user at a time.

Battery commands (the ``param`` service, energy-management group ``"9"``)
are applied to a hybrid inverter's data: a forced charge or discharge shows
its power in ``real_battery`` on the next poll, a stop or self-consumption
returns the fixture's values.

Each hybrid inverter also keeps its own parameter groups ``"9"`` and ``"7"``
(``winet_data/params.json``: the SH5.0RS capture's forced-charging windows,
target SOCs and the feed-in limitation; one copy per hybrid, a hybrid added
later gets its own), served by ``GET /device/getParam`` for the ``dev_id``
asked, as the web UI reads them, with the capture's quirk: a child
parameter is listed only while its parent's value is in its ``relation``.
Writes are checked against each parameter's range or options and counted
per address (:attr:`FakeWinet.param_writes`) and per device and address
(:attr:`FakeWinet.device_param_writes`); an enabled feed-in limitation caps
the export power that inverter's ``real`` reports. The state of charge moves only when a test
sets it (:meth:`FakeWinet.set_value`). Which replies a real gateway gives to
a ``param`` write is inferred from the two clients that parse them
(docs/protocols/winet.md#battery-commands): a ``list`` of
``{param_id, param_pid, param_name, result}``, ``result`` 0 when set; an
unknown device or group answers ``391`` ``I18N_COMMON_SET_FAILED``.

Faults are attributes of :attr:`FakeWinet.faults` and may be changed while
the server runs (tests, a soak harness, ``scripts/develop``). Standalone::

    python -m sunstream_fakes.winet_fake --port 8082
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, defaultdict
import contextlib
from dataclasses import dataclass, field
import datetime as dt
import hashlib
import ipaddress
import json
import logging
from pathlib import Path
import ssl
import tempfile
from typing import Any
from urllib.parse import parse_qs, urlsplit
import uuid

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from custom_components.sunstream.pysunstream.winet.dispatch import rated_power_w
from custom_components.sunstream.pysunstream.winet.endpoint import WS_PATH, Ports

_LOGGER = logging.getLogger(__name__)

DATA_DIR = Path(__file__).with_name("winet_data")
FIXTURES = ("sh10rt", "sh5_0rs", "sh10rs", "multi")
DATA_SERVICES = frozenset({"real", "real_battery", "direct"})
HYBRID = 35
ENERGY_MANAGEMENT = "9"
FEED_IN = "7"
GROUPS = (ENERGY_MANAGEMENT, FEED_IN)
EMS_ADDRS = frozenset({33146, 33147, 33148})
FEED_IN_SWITCH, FEED_IN_VALUE = 31221, 31222
EXPORT_POWER = "I18N_COMMON_FEED_NETWORK_TOTAL_ACTIVE_POWER"
CHARGE, DISCHARGE, STOP = 0xAA, 0xBB, 0xCC
CHARGE_POWER, DISCHARGE_POWER = "I18N_CONFIG_KEY_3907", "I18N_CONFIG_KEY_3921"
CLOSE_TIMEOUT = 1.0
"""Seconds the server waits for a client to answer a close frame on stop."""
BINARY_NOISE = b"\x00\x9f\xff\xfe binary"
"""What the ``binary`` fault sends: not UTF-8, not JSON."""
LOGIN_FAILED_CODE = 102
"""No capture shows a failed login; this code and message are assumed."""


def load_fixture(name: str) -> dict[str, Any]:
    """A captured-data fixture by name (see :data:`FIXTURES`)."""
    data: dict[str, Any] = json.loads((DATA_DIR / f"{name}.json").read_text("utf-8"))
    return data


def load_params() -> dict[str, list[dict[str, Any]]]:
    """The parameter groups every hybrid inverter starts with, by ``type``."""
    data = json.loads((DATA_DIR / "params.json").read_text("utf-8"))
    return {group: data[group] for group in GROUPS}


def load_properties() -> str:
    """The translation file served at ``/i18n/en_US.properties``."""
    return (DATA_DIR / "en_US.properties").read_text("utf-8")


@dataclass
class Faults:
    """Fault knobs; counters ("next N") count down as they fire.

    * ``token_expiry_after``: a token answers this many requests, then 106;
    * ``read_failed``: next N data requests answer 301 READ_FAILED;
    * ``inter_abnormal``: next N replies are ``I18N_COMMON_INTER_ABNORMAL``;
    * ``stall``: next N requests get no reply at all;
    * ``drop``: next N requests close the socket instead of replying;
    * ``latency``: seconds before every reply;
    * ``garbage``: next N replies are preceded by a frame that is not JSON;
    * ``inject``: raw frames sent (once) before the next reply;
    * ``binary``: next N replies are preceded by a binary frame that is no
      text at all (:data:`BINARY_NOISE`);
    * ``binary_replies``: next N replies go out as binary frames, their text
      encoded as ``binary_encoding`` (``utf-8-sig`` adds a byte-order mark,
      ``gb18030`` turns the fixtures' ``℃`` into bytes that are not UTF-8);
    * ``notice_after``: push notice 100 "normal user limit" after N requests;
    * ``login_fails``: every login is refused;
    * ``idle_timeout``: close a socket idle for this many seconds;
    * ``reject_upgrade``: next N WebSocket upgrades answer HTTP 400 (as reported);
    * ``upgrade_delay``: seconds before accepting a connection (slow TLS, P030);
    * ``about_available``: whether ``/about/list`` answers;
    * ``single_user``: a new login kicks the previous session with a notice;
    * ``param_reject``: next N ``param`` writes answer every item as not set;
    * ``param_set_failed``: next N ``param`` writes answer ``391``;
    * ``param_ignore``: next N ``param`` writes answer success, change nothing;
    * ``getparam_failed``: next N ``getParam`` reads answer ``301``.
    """

    token_expiry_after: int | None = None
    read_failed: int = 0
    inter_abnormal: int = 0
    stall: int = 0
    drop: int = 0
    latency: float = 0.0
    garbage: int = 0
    inject: list[str] = field(default_factory=list)
    binary: int = 0
    binary_replies: int = 0
    binary_encoding: str = "utf-8"
    notice_after: int | None = None
    login_fails: bool = False
    idle_timeout: float | None = None
    reject_upgrade: int = 0
    upgrade_delay: float = 0.0
    about_available: bool = True
    single_user: bool = True
    param_reject: int = 0
    param_set_failed: int = 0
    param_ignore: int = 0
    getparam_failed: int = 0


@dataclass
class EnergyManagement:
    """The energy-management parameters of one hybrid inverter."""

    mode: int = 0
    command: int = STOP
    power_kw: float = 0.0

    @property
    def forced_power_kw(self) -> tuple[float, float]:
        """(charging, discharging) kW the inverter is forced to, if forced."""
        if self.mode != 2 or self.command == STOP:
            return (0.0, 0.0)
        if self.command == CHARGE:
            return (self.power_kw, 0.0)
        if self.command == DISCHARGE:
            return (0.0, self.power_kw)
        return (0.0, 0.0)


@dataclass
class _Token:
    logged_in: bool
    uses: int = 0
    connection: ServerConnection | None = None


class FakeWinet:
    """A WiNet gateway on 127.0.0.1.

    ``plain`` serves HTTP + WS on one port, ``tls`` HTTPS + WSS on another
    with a self-signed certificate generated at start (needs the
    ``cryptography`` package). Port 0 picks a free port; :attr:`ports` tells
    which.
    """

    def __init__(
        self,
        fixture: str | dict[str, Any] = "sh10rt",
        *,
        username: str = "admin",
        password: str = "pw8888",
        host: str = "127.0.0.1",
        plain: bool = True,
        tls: bool = False,
        plain_port: int = 0,
        tls_port: int = 0,
    ) -> None:
        self.fixture = load_fixture(fixture) if isinstance(fixture, str) else fixture
        self.devices: list[dict[str, Any]] = [dict(d) for d in self.fixture["devices"]]
        self.data: dict[str, dict[str, Any]] = json.loads(json.dumps(self.fixture["data"]))
        self.username = username
        self.password = password
        self.host = host
        self.faults = Faults()
        self.properties = load_properties()
        self._want_plain, self._want_tls = plain, tls
        self._plain_port, self._tls_port = plain_port, tls_port
        self._servers: list[Server] = []
        self._tokens: dict[str, _Token] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.connections: set[ServerConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.fingerprint: str | None = None
        self.certificate_pem: bytes | None = None
        # Observations for tests.
        self.connection_count = 0
        self.logins = 0
        self.requests: Counter[str] = Counter()
        self.http_requests: Counter[str] = Counter()
        self.param_requests: list[dict[str, Any]] = []
        self.param_writes: Counter[int] = Counter()
        """``param`` items received per address (refused ones included)."""
        self.device_param_writes: defaultdict[int, Counter[int]] = defaultdict(Counter)
        """The same per ``dev_id`` the write named (``devid_array``), then per address."""
        self.transcript: list[tuple[str, str]] | None = None
        """Set to a list to record every WebSocket frame: ("in" | "out", text)."""
        self.ems: dict[int, EnergyManagement] = {}
        self.params: dict[int, dict[str, dict[int, dict[str, Any]]]] = {}
        """Per hybrid ``dev_id``, per group, per address: the listed item."""
        self._self_consumption: dict[tuple[int, str], str] = {}
        for device in self.devices:
            self._keep_params(device)

    def _keep_params(self, device: dict[str, Any]) -> None:
        """Give a hybrid inverter its own energy management and parameter groups."""
        if device.get("dev_type") != HYBRID:
            return
        dev_id = device["dev_id"]
        self.ems[dev_id] = EnergyManagement()
        self.params[dev_id] = _params_for(device)
        for point in self.data.get(str(dev_id), {}).get("real_battery", []):
            if (name := point.get("data_name")) in {CHARGE_POWER, DISCHARGE_POWER}:
                self._self_consumption[dev_id, name] = point["data_value"]

    # -- life cycle -------------------------------------------------------------

    async def start(self) -> None:
        """Bind the servers."""
        if self._want_plain:
            server = await serve(
                self._handler,
                self.host,
                self._plain_port,
                process_request=self._http,
                close_timeout=CLOSE_TIMEOUT,
            )
            self._servers.append(server)
            self._plain_port = _port(server)
        if self._want_tls:
            context = self._tls_context()
            server = await serve(
                self._handler,
                self.host,
                self._tls_port,
                process_request=self._http,
                ssl=context,
                close_timeout=CLOSE_TIMEOUT,
            )
            self._servers.append(server)
            self._tls_port = _port(server)

    async def stop(self) -> None:
        """Close every connection and server."""
        for server in self._servers:
            server.close()
            await server.wait_closed()
        self._servers.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> FakeWinet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ports(self) -> Ports:
        """Ports for :class:`~..winet.endpoint.Ports` (HTTP and WS share one)."""
        return Ports(http=self._plain_port, ws=self._plain_port, https=self._tls_port)

    # -- runtime controls --------------------------------------------------------

    async def push_notice(
        self, code: int = 100, message: str = "normal user limit", *, close: bool = False
    ) -> None:
        """Push a ``notice`` to every open connection (optionally close them)."""
        frame = _reply(code, message, {"service": "notice"})
        for connection in list(self.connections):
            try:
                await connection.send(frame)
                if close:
                    await connection.close()
            except ConnectionClosed:
                pass

    def expire_tokens(self) -> None:
        """Forget every token: the next request on a session answers 106."""
        self._tokens.clear()

    async def drop_all(self) -> None:
        """Close every open connection, as a rebooting dongle does."""
        for connection in list(self.connections):
            await connection.close()

    def remove_device(self, dev_id: int) -> None:
        """Take a device off the bus (it vanishes from ``devicelist``)."""
        self.devices = [d for d in self.devices if d["dev_id"] != dev_id]

    def add_device(self, entry: dict[str, Any], data: dict[str, Any]) -> None:
        """Put a device on the bus with its per-service data lists."""
        self.devices.append(entry)
        self.data[str(entry["dev_id"])] = data
        if entry["dev_id"] not in self.params:
            self._keep_params(entry)

    def set_link(self, dev_id: int, status: int) -> None:
        """Change a device's ``link_status`` (1 online, 0 offline)."""
        for entry in self.devices:
            if entry["dev_id"] == dev_id:
                entry["link_status"] = status

    def param_value(self, dev_id: int, addr: int) -> str:
        """The value a hybrid inverter keeps at ``addr`` (listed or hidden)."""
        for group in self.params[dev_id].values():
            if addr in group:
                return str(group[addr]["param_value"])
        raise KeyError(addr)

    def set_param(self, dev_id: int, addr: int, value: str) -> None:
        """Change a parameter as the web UI would (no write is counted)."""
        for group in self.params[dev_id].values():
            if addr in group:
                group[addr]["param_value"] = value
                return
        raise KeyError(addr)

    def _device(self, dev_id: int) -> dict[str, Any]:
        return next(d for d in self.devices if d["dev_id"] == dev_id)

    def set_value(self, dev_id: int, service: str, name: str, value: str) -> None:
        """Change one ``data_value`` (still a string, as on the wire)."""
        for point in self.data[str(dev_id)][service]:
            if point.get("data_name") == name:
                point["data_value"] = value

    # -- HTTP ---------------------------------------------------------------------

    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        self.http_requests[url.path] += 1
        if self.faults.upgrade_delay:
            await asyncio.sleep(self.faults.upgrade_delay)
        if url.path == WS_PATH:
            if self.faults.reject_upgrade > 0:
                self.faults.reject_upgrade -= 1
                return connection.respond(400, "Bad Request\n")
            return None
        if url.path.startswith("/i18n/") and url.path.endswith(".properties"):
            return connection.respond(200, self.properties)
        if url.path == "/about/list" and self.faults.about_available:
            token = parse_qs(url.query).get("token", [""])[0]
            if token not in self._tokens:
                return _json_response(connection, _reply(106, "I18N_COMMON_INTER_ABNORMAL", {}))
            body = _reply(1, "success", {"list": self.fixture.get("about", [])})
            return _json_response(connection, body)
        if url.path == "/device/getParam":
            return _json_response(connection, self._getparam(parse_qs(url.query)))
        return connection.respond(404, "Not Found\n")

    def _getparam(self, query: dict[str, list[str]]) -> str:
        """A parameter group as the web UI reads it (children filtered)."""
        arg = {key: values[0] for key, values in query.items() if values}
        state = self._tokens.get(arg.get("token", ""))
        if state is None or not state.logged_in:
            return _reply(106, "I18N_COMMON_INTER_ABNORMAL", {})
        state.uses += 1
        if self.faults.getparam_failed > 0:
            self.faults.getparam_failed -= 1
            return _reply(301, "I18N_COMMON_READ_FAILED", {})
        device = self._addressed(arg.get("dev_id"), arg.get("dev_code"), arg.get("dev_type"))
        group = arg.get("type", "")
        if device is None or device["dev_id"] not in self.params or group not in GROUPS:
            return _reply(200, "", {})
        dev_id = device["dev_id"]
        items = self.params[dev_id][group]
        if group == ENERGY_MANAGEMENT:
            ems = self.ems[dev_id]
            for addr, value in zip(
                sorted(EMS_ADDRS), (ems.mode, ems.command, f"{ems.power_kw:.2f}"), strict=True
            ):
                items[addr]["param_value"] = str(value)
        listed = [item for item in items.values() if _visible(item, items)]
        return _reply(1, "success", {"list": listed})

    def _addressed(
        self, dev_id: object, dev_code: object, dev_type: object
    ) -> dict[str, Any] | None:
        """The device a request names by ``dev_id``, ``dev_code`` and ``dev_type``."""
        return next(
            (
                d
                for d in self.devices
                if str(d["dev_id"]) == dev_id
                and str(d.get("dev_code")) == dev_code
                and str(d.get("dev_type")) == dev_type
            ),
            None,
        )

    # -- WebSocket ------------------------------------------------------------------

    async def _handler(self, connection: ServerConnection) -> None:
        self.connection_count += 1
        self.connections.add(connection)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.faults.idle_timeout):
                        message = await connection.recv()
                except TimeoutError:
                    await connection.close(1000, "idle")
                    return
                await self._request(connection, message)
        except ConnectionClosed:
            pass
        finally:
            self.connections.discard(connection)
            for token in [t for t, s in self._tokens.items() if s.connection is connection]:
                del self._tokens[token]

    async def _request(self, connection: ServerConnection, message: str | bytes) -> None:
        faults = self.faults
        if self.transcript is not None:
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            self.transcript.append(("in", text))
        try:
            request = json.loads(message)
        except ValueError:
            return  # the device ignores what it cannot read (a bare "ping")
        if not isinstance(request, dict):
            return
        service = str(request.get("service", ""))
        self.requests[service] += 1
        if faults.stall > 0:
            faults.stall -= 1
            return
        if faults.drop > 0:
            faults.drop -= 1
            await connection.close()
            return
        if faults.latency:
            await asyncio.sleep(faults.latency)
        await self._noise(connection)
        reply = self._answer(connection, service, request)
        if reply is not None:
            if self.transcript is not None:
                self.transcript.append(("out", reply))
            if faults.binary_replies > 0:
                faults.binary_replies -= 1
                await connection.send(reply.encode(faults.binary_encoding, "replace"))
            else:
                await connection.send(reply)
        if faults.notice_after is not None and sum(self.requests.values()) >= faults.notice_after:
            faults.notice_after = None
            await connection.send(_reply(100, "normal user limit", {"service": "notice"}))

    async def _noise(self, connection: ServerConnection) -> None:
        """Frames that answer nothing, sent before a reply (garbage, inject, binary)."""
        faults = self.faults
        if faults.garbage > 0:
            faults.garbage -= 1
            await connection.send('{"result_code":1,"result_data":{"service":"re')
        while faults.inject:
            await connection.send(faults.inject.pop(0))
        if faults.binary > 0:
            faults.binary -= 1
            await connection.send(BINARY_NOISE)

    def _answer(
        self, connection: ServerConnection, service: str, request: dict[str, Any]
    ) -> str | None:
        faults = self.faults
        if service == "ping":
            return json.dumps({"result_code": 1, "result_msg": "success"})
        if faults.inter_abnormal > 0:
            faults.inter_abnormal -= 1
            return _reply(401, "I18N_COMMON_INTER_ABNORMAL", {"service": service})
        if service == "connect":
            token = str(uuid.uuid4())
            self._tokens[token] = _Token(logged_in=False, connection=connection)
            return _reply(
                1, "success", {"service": "connect", "token": token, **self.fixture["connect"]}
            )
        state = self._tokens.get(str(request.get("token", "")))
        if state is None:
            return _reply(106, "I18N_COMMON_INTER_ABNORMAL", {"service": service})
        state.uses += 1
        if faults.token_expiry_after is not None and state.uses > faults.token_expiry_after:
            self._tokens.pop(str(request.get("token")), None)
            return _reply(106, "I18N_COMMON_INTER_ABNORMAL", {"service": service})
        if service == "login":
            return self._login(connection, request)
        if not state.logged_in:
            return _reply(106, "I18N_COMMON_INTER_ABNORMAL", {"service": service})
        if service == "devicelist":
            items = [{**entry, "list": []} for entry in self.devices]
            return _reply(1, "success", {"service": service, "list": items, "count": len(items)})
        if service == "logout":
            return _reply(1, "success", {"service": service})
        if service in DATA_SERVICES:
            return self._data(service, request)
        if service == "param":
            return self._param(request)
        return _reply(200, "", {"service": service})

    def _param(self, request: dict[str, Any]) -> str:
        """Apply an energy-management write, answering per item."""
        self.param_requests.append(request)
        faults = self.faults
        ids = request.get("devid_array")
        device = (
            self._addressed(ids[0], request.get("dev_code"), request.get("dev_type"))
            if isinstance(ids, list) and len(ids) == 1
            else None
        )
        items = request.get("list")
        group = request.get("type")
        for raw in items if isinstance(items, list) else ():
            if isinstance(raw, dict) and isinstance(addr := raw.get("param_addr"), int):
                self.param_writes[addr] += 1
                if device is not None:
                    self.device_param_writes[device["dev_id"]][addr] += 1
        if (
            faults.param_set_failed > 0
            or device is None
            or device["dev_id"] not in self.ems
            or group not in GROUPS
            or not isinstance(items, list)
        ):
            faults.param_set_failed = max(0, faults.param_set_failed - 1)
            return _reply(391, "I18N_COMMON_SET_FAILED", {"service": "param"})
        reject = faults.param_reject > 0
        faults.param_reject = max(0, faults.param_reject - 1)
        ignore = faults.param_ignore > 0
        faults.param_ignore = max(0, faults.param_ignore - 1)
        ems = self.ems[device["dev_id"]]
        table = self.params[device["dev_id"]][str(group)]
        results = []
        for raw in items:
            item: dict[str, Any] = raw if isinstance(raw, dict) else {}
            addr = item.get("param_addr")
            if reject:
                ok = False
            elif ignore:
                ok = True
            elif group == ENERGY_MANAGEMENT and addr in EMS_ADDRS:
                ok = _apply(ems, item)
            else:
                ok = _set(table, item)
            results.append(
                {
                    "param_id": item.get("param_id"),
                    "param_pid": item.get("param_id", -1),
                    "param_name": item.get("param_name", ""),
                    "result": 0 if ok else 1,
                }
            )
        self._show(device["dev_id"], ems)
        return _reply(1, "success", {"service": "param", "list": results, "count": len(results)})

    def _show(self, dev_id: int, ems: EnergyManagement) -> None:
        """Make the inverter's battery powers tell what it was told to do."""
        if "real_battery" not in self.data.get(str(dev_id), {}):
            return
        charging, discharging = ems.forced_power_kw
        forced = ems.mode == 2
        for name, forced_kw in ((CHARGE_POWER, charging), (DISCHARGE_POWER, discharging)):
            if forced:
                value = f"{forced_kw:.3f}"
            else:
                value = self._self_consumption.get((dev_id, name), "0.000")
            self.set_value(dev_id, "real_battery", name, value)

    def _login(self, connection: ServerConnection, request: dict[str, Any]) -> str:
        if (
            self.faults.login_fails
            or request.get("username") != self.username
            or request.get("passwd") != self.password
        ):
            return _reply(LOGIN_FAILED_CODE, "I18N_COMMON_ACCOUNT_PSSWD_TIP", {"service": "login"})
        self._tokens.pop(str(request.get("token")), None)
        if self.faults.single_user:
            for token, state in list(self._tokens.items()):
                if state.logged_in and state.connection is not connection:
                    del self._tokens[token]
                    if state.connection is not None:
                        task = asyncio.get_running_loop().create_task(_kick(state.connection))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
        token = str(uuid.uuid4())
        self._tokens[token] = _Token(logged_in=True, connection=connection)
        self.logins += 1
        return _reply(1, "success", {"service": "login", "token": token, **self.fixture["login"]})

    def _data(self, service: str, request: dict[str, Any]) -> str | None:
        dev_id = str(request.get("dev_id", ""))
        device = next((d for d in self.devices if str(d["dev_id"]) == dev_id), None)
        lists = self.data.get(dev_id, {})
        if device is None or service not in lists:
            return None  # the device answers only for what it has
        if self.faults.read_failed > 0:
            self.faults.read_failed -= 1
            return _reply(301, "I18N_COMMON_READ_FAILED", {"service": service})
        items = lists[service]
        if service == "real" and device["dev_id"] in self.params:
            items = self._capped(device["dev_id"], items)
        return _reply(1, "success", {"service": service, "list": items, "count": len(items)})

    def _capped(self, dev_id: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``real`` with export power held to an enabled feed-in limitation."""
        if self.param_value(dev_id, FEED_IN_SWITCH) != "170":
            return items
        limit_kw = float(self.param_value(dev_id, FEED_IN_VALUE))
        capped = []
        for point in items:
            shown = point
            if point.get("data_name") == EXPORT_POWER:
                with contextlib.suppress(ValueError):
                    value = min(float(point["data_value"]), limit_kw)
                    shown = {**point, "data_value": f"{value:.2f}"}
            capped.append(shown)
        return capped

    # -- TLS ----------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        """A context with a fresh certificate shaped like the dongles' one."""
        cert_pem, key_pem = _self_signed()
        self.certificate_pem = cert_pem
        self._tmp = tempfile.TemporaryDirectory(prefix="winet-fake-")
        cert_file = Path(self._tmp.name, "cert.pem")
        key_file = Path(self._tmp.name, "key.pem")
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert_pem.decode())).hexdigest()
        return context


def _apply(ems: EnergyManagement, item: dict[str, Any]) -> bool:
    """Set one energy-management parameter; whether the value was valid."""
    value = item.get("param_value")
    if not isinstance(value, str):
        return False
    try:
        number = float(value)
    except ValueError:
        return False
    match item.get("param_addr"):
        case 33146 if number in {0, 2}:
            ems.mode = int(number)
        case 33147 if number in {CHARGE, DISCHARGE, STOP}:
            ems.command = int(number)
        case 33148 if 0 <= number <= 100:
            ems.power_kw = number
        case _:
            return False
    return True


def _params_for(device: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """A fresh copy of the parameter groups, the feed-in range at the rating."""
    groups = {
        group: {item["param_addr"]: dict(item) for item in items}
        for group, items in load_params().items()
    }
    rating = rated_power_w(str(device.get("dev_model", "")))
    if rating is not None:
        value = groups[FEED_IN][FEED_IN_VALUE]
        value["range"] = f"[0.00~{rating / 1000:.2f}]"
        value["param_value"] = f"{rating / 1000:.2f}"
    return groups


def _visible(item: dict[str, Any], items: dict[int, dict[str, Any]]) -> bool:
    """Whether the gateway lists ``item``: a child only while its parent matches."""
    parent_id = item.get("param_pid", -1)
    if parent_id == -1:
        return True
    parent = next((p for p in items.values() if p.get("param_id") == parent_id), None)
    relation = str(item.get("relation", "")).strip("[]").split(",")
    return parent is not None and str(parent.get("param_value")) in relation


def _set(table: dict[int, dict[str, Any]], item: dict[str, Any]) -> bool:
    """Set one listed parameter if the value fits its options or range."""
    addr = item.get("param_addr")
    listed = table.get(addr) if isinstance(addr, int) else None
    value = item.get("param_value")
    if listed is None or not isinstance(value, str):
        return False
    options = listed.get("options")
    if isinstance(options, list) and options:
        if value not in {str(option.get("value")) for option in options}:
            return False
        listed["param_value"] = value
        return True
    try:
        number = float(value)
    except ValueError:
        return False
    low, _, high = str(listed.get("range", "")).strip("[]").partition("~")
    with contextlib.suppress(ValueError):
        if not float(low) <= number <= float(high):
            return False
    listed["param_value"] = f"{number:.{int(listed.get('accuracy', 0))}f}"
    return True


async def _kick(connection: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        await connection.send(_reply(100, "normal user limit", {"service": "notice"}))


def _self_signed() -> tuple[bytes, bytes]:
    """Certificate and key like the shared WiNet one (CN=Sungrow, IP SANs).

    Raises :class:`ImportError` when ``cryptography`` is not installed.
    """
    from cryptography import x509  # noqa: PLC0415 - optional dependency
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "AnHui"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "HeFei"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Sungrow"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Sungrow"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    sans = [ipaddress.ip_address(ip) for ip in ("169.254.12.12", "11.11.11.1", "127.0.0.1")]
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip) for ip in sans]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def _reply(code: int, message: str, data: dict[str, Any]) -> str:
    payload: dict[str, Any] = {"result_code": code, "result_msg": message}
    if data:
        payload["result_data"] = data
    return json.dumps(payload, ensure_ascii=False)


def _json_response(connection: ServerConnection, body: str) -> Response:
    response = connection.respond(200, body)
    response.headers["Content-Type"] = "application/json"
    return response


def _port(server: Server) -> int:
    for sock in server.sockets:
        port: int = sock.getsockname()[1]
        return port
    raise RuntimeError("server has no socket")  # pragma: no cover


async def _serve_forever(args: argparse.Namespace) -> None:
    fake = FakeWinet(
        args.fixture,
        host=args.host,
        plain=args.port is not None,
        tls=args.tls_port is not None,
        plain_port=args.port or 0,
        tls_port=args.tls_port or 0,
    )
    fake.faults.latency = args.latency
    fake.faults.idle_timeout = args.idle_timeout
    async with fake:
        ports = fake.ports
        print(
            f"fake WiNet ({args.fixture}) on {args.host}: "
            f"http+ws port {ports.http or '-'}, https+wss port {ports.https or '-'}"
            + (f", fingerprint {fake.fingerprint}" if fake.fingerprint else ""),
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Run a fake gateway until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="plain HTTP + WS port")
    parser.add_argument("--tls-port", type=int, default=None, help="HTTPS + WSS port")
    parser.add_argument("--fixture", choices=FIXTURES, default="sh10rt")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before every reply (benchmarks)"
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=None, help="close sockets idle this many seconds"
    )
    args = parser.parse_args(argv)
    if args.port is None and args.tls_port is None:
        args.port = 8082
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args))


if __name__ == "__main__":
    main()

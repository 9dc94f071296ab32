"""WiNet frames: building requests and validating replies, free of I/O.

Requests are one JSON object per WebSocket text frame; replies carry
``result_code``, ``result_msg`` and ``result_data`` whose ``service`` names
the request they answer (there is no request id,
docs/protocols/winet.md#frames). Every parser here validates types field by
field and raises :class:`~.errors.WinetProtocolError` for anything it cannot
accept, never another exception, whatever the input.

Request quirks copied from working clients: ``dev_id``, ``type`` and
``is_check_token`` are sent as strings; ``time123456`` carries the time in
milliseconds; ``lang`` must be present. The ``param`` (write) request
follows the web UI's frame (docs/protocols/winet.md#battery-commands):
``dev_code`` and ``dev_type`` as strings, the device's ``dev_id`` in
``devid_array``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import json
from typing import Any
import uuid

from .device_types import DeviceInfo
from .errors import WinetProtocolError

CONNECT = "connect"
LOGIN = "login"
DEVICELIST = "devicelist"
NOTICE = "notice"
PING = "ping"
PARAM = "param"

RESULT_OK = 1
RESULT_USER_LIMIT = 100
RESULT_TOKEN_EXPIRED = 106
RESULT_READ_FAILED = 301
RESULT_SET_FAILED = 391
MSG_INTER_ABNORMAL = "I18N_COMMON_INTER_ABNORMAL"
MSG_READ_FAILED = "I18N_COMMON_READ_FAILED"
MSG_SET_FAILED = "I18N_COMMON_SET_FAILED"
MSG_USER_LIMIT = "normal user limit"

DEFAULT_LANG = "en_us"


# -- requests ---------------------------------------------------------------


def _dump(payload: Mapping[str, object]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def connect_request(*, lang: str = DEFAULT_LANG) -> str:
    """First frame on a new socket; the reply carries the first token."""
    return _dump({"lang": lang, "token": "", "service": CONNECT})


def login_request(token: str, username: str, password: str, *, lang: str = DEFAULT_LANG) -> str:
    """Log in with the ``connect`` token; the reply carries a *new* token."""
    return _dump(
        {
            "lang": lang,
            "token": token,
            "service": LOGIN,
            "passwd": password,
            "username": username,
        }
    )


def devicelist_request(token: str, *, lang: str = DEFAULT_LANG) -> str:
    """Ask for the devices on the dongle's bus."""
    return _dump(
        {
            "lang": lang,
            "token": token,
            "service": DEVICELIST,
            "type": "0",
            "is_check_token": "0",
        }
    )


def device_request(
    service: str, token: str, dev_id: int, now_ms: int, *, lang: str = DEFAULT_LANG
) -> str:
    """Ask one device for ``real``, ``real_battery`` or ``direct`` data."""
    return _dump(
        {
            "lang": lang,
            "token": token,
            "dev_id": str(dev_id),
            "service": service,
            "time123456": now_ms,
        }
    )


def ping_request(
    token: str = "", *, lang: str = DEFAULT_LANG, request_id: str | None = None
) -> str:
    """The web UI's keep-alive; its reply has no ``result_data``."""
    return _dump(
        {
            "lang": lang,
            "service": PING,
            "token": token,
            "id": request_id or str(uuid.uuid4()),
        }
    )


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a ``param`` write, as the web UI lists it.

    ``value`` is text on the wire; ``accuracy`` is the number of decimals
    the device applies to it (``"3.00"`` with accuracy 2 is 3 kW).
    """

    param_id: int
    addr: int
    name: str
    param_type: int
    value: str
    accuracy: int = 0

    def as_json(self) -> dict[str, object]:
        """The list item, keys in the captured order."""
        return {
            "accuracy": self.accuracy,
            "param_addr": self.addr,
            "param_id": self.param_id,
            "param_name": self.name,
            "param_type": self.param_type,
            "param_value": self.value,
        }


def param_request(
    token: str,
    device: DeviceInfo,
    params: Sequence[Param],
    now_ms: int,
    *,
    param_type: str,
    lang: str = DEFAULT_LANG,
) -> str:
    """Write ``params`` of group ``param_type`` to one device.

    The device is addressed by its *own* ``dev_code`` from the device list:
    one client hard-codes ``3344`` for its inverter, but real devices report
    other codes (SH5.0RS 3343, SH10RT 3599; docs/protocols/winet.md#devices)
    and the web UI sends the listed one. ``count`` is ``"1"`` whatever the
    number of items, as in the web UI's frame and both clients;
    ``park_serial`` repeats the time.
    """
    if device.dev_code is None:
        raise ValueError(f"device {device.dev_id} has no dev_code")
    return _dump(
        {
            "lang": lang,
            "token": token,
            "time123456": now_ms,
            "service": PARAM,
            "dev_code": str(device.dev_code),
            "dev_type": str(device.dev_type),
            "devid_array": [str(device.dev_id)],
            "type": param_type,
            "count": "1",
            "list": [param.as_json() for param in params],
            "current_pack_num": 1,
            "pack_num_total": 1,
            "park_serial": now_ms,
        }
    )


# -- replies ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """One validated reply or pushed message.

    ``service`` is ``None`` for replies without ``result_data`` (``ping``).
    """

    code: int
    message: str
    service: str | None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the gateway reports success."""
        return self.code == RESULT_OK


def as_int(value: object, what: str) -> int:
    """``value`` as an integer (the gateway sends some as text); ``what`` names it."""
    if isinstance(value, bool):
        raise WinetProtocolError(f"{what} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise WinetProtocolError(f"{what} is not an integer: {value!r:.40}")


def as_opt_int(value: object, what: str) -> int | None:
    """:func:`as_int`, ``None`` staying ``None``."""
    return None if value is None else as_int(value, what)


def as_text(value: object, what: str) -> str:
    """``value`` as text (numbers too); ``what`` names it in the error."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise WinetProtocolError(f"{what} is not a string: {value!r:.40}")


def parse_frame(raw: str | bytes) -> Frame:
    """Validate the envelope of one frame.

    Raises :class:`WinetProtocolError` for anything that is not a JSON
    object with an integer ``result_code`` and, if present, a
    ``result_data`` object whose ``service`` is a string.

    A binary frame is read as text too: a reply is a reply whichever frame
    type carries it. A byte-order mark is dropped and bytes that are not
    UTF-8 (a unit such as ``℃`` in another encoding) become U+FFFD, so one
    odd character costs that value's text, not the whole reply; the JSON
    structure itself is ASCII.
    """
    try:
        text = raw.decode("utf-8-sig", "replace") if isinstance(raw, bytes) else raw
        payload = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise WinetProtocolError(f"not JSON: {err}") from None
    if not isinstance(payload, dict):
        raise WinetProtocolError("frame is not a JSON object")
    if "result_code" not in payload:
        raise WinetProtocolError("frame has no result_code")
    code = as_int(payload["result_code"], "result_code")
    message = payload.get("result_msg")
    message = "" if message is None else as_text(message, "result_msg")
    data = payload.get("result_data")
    if data is None:
        return Frame(code, message, None, {})
    if not isinstance(data, dict):
        raise WinetProtocolError("result_data is not an object")
    service = data.get("service")
    if service is not None:
        service = as_text(service, "service")
    return Frame(code, message, service, data)


@dataclass(frozen=True, slots=True)
class ConnectReply:
    """What ``connect`` tells about the dongle.

    ``generation`` is a heuristic (docs/protocols/winet.md#login), good for logs and
    diagnostics only: 1 = WiNet-S, 2 = WiNet-S2 older firmware, 3 = newer.
    """

    token: str
    uid: int | None
    ip: str | None
    force_modify_password: bool
    generation: int


def parse_connect(data: Mapping[str, Any]) -> ConnectReply:
    """Validate a successful ``connect`` reply."""
    token = as_text(data.get("token"), "connect.token")
    if not token:
        raise WinetProtocolError("connect.token is empty")
    ip = data.get("ip")
    ip = None if ip is None else as_text(ip, "connect.ip")
    force = data.get("forceModifyPasswd")
    generation = 1 if ip is None else (3 if force is not None else 2)
    return ConnectReply(
        token=token,
        uid=as_opt_int(data.get("uid"), "connect.uid"),
        ip=ip,
        force_modify_password=bool(force) if isinstance(force, int) else False,
        generation=generation,
    )


def list_items(data: Mapping[str, Any], name: str) -> list[tuple[str, Mapping[str, Any]]]:
    """The objects of ``data["list"]``, each with its place (``name[index]``) for errors."""
    items = data.get("list")
    if not isinstance(items, list):
        raise WinetProtocolError(f"{name} list is not a list")
    result = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise WinetProtocolError(f"{name}[{index}] is not an object")
        result.append((f"{name}[{index}]", item))
    return result


def optional_text(item: Mapping[str, Any], key: str, where: str) -> str:
    """A text field that may be missing (empty then); raises if it is not text."""
    value = item.get(key)
    return "" if value is None else as_text(value, f"{where}.{key}")


def parse_login(data: Mapping[str, Any]) -> str:
    """Validate a successful ``login`` reply and return its new token."""
    token = as_text(data.get("token"), "login.token")
    if not token:
        raise WinetProtocolError("login.token is empty")
    return token


def _device(where: str, item: Mapping[str, Any]) -> DeviceInfo:
    return DeviceInfo(
        dev_id=as_int(item.get("dev_id"), f"{where}.dev_id"),
        dev_type=as_int(item.get("dev_type"), f"{where}.dev_type"),
        serial=optional_text(item, "dev_sn", where).strip(),
        model=optional_text(item, "dev_model", where).strip(),
        name=optional_text(item, "dev_name", where),
        dev_code=as_opt_int(item.get("dev_code"), f"{where}.dev_code"),
        link_status=as_opt_int(item.get("link_status"), f"{where}.link_status"),
        raw={key: value for key, value in item.items() if key != "list"},
    )


def parse_devicelist(data: Mapping[str, Any]) -> tuple[DeviceInfo, ...]:
    """Validate a ``devicelist`` reply.

    ``count`` is ignored: it does not always match the list
    (docs/protocols/winet.md#devices).
    Two entries with the same ``dev_id`` are a protocol error, since every
    later request addresses devices by it.
    """
    devices = tuple(_device(where, item) for where, item in list_items(data, "devicelist"))
    if len({device.dev_id for device in devices}) != len(devices):
        raise WinetProtocolError("devicelist repeats a dev_id")
    return devices


@dataclass(frozen=True, slots=True)
class DataPoint:
    """One ``{data_name, data_value, data_unit}`` entry, still raw text."""

    name: str
    value: str
    unit: str


def parse_data_points(data: Mapping[str, Any]) -> tuple[DataPoint, ...]:
    """Validate a ``real`` / ``real_battery`` reply."""
    return tuple(
        DataPoint(
            name=as_text(item.get("data_name"), f"{where}.data_name"),
            value=optional_text(item, "data_value", where),
            unit=optional_text(item, "data_unit", where),
        )
        for where, item in list_items(data, "data")
    )


@dataclass(frozen=True, slots=True)
class DirectItem:
    """One DC input (MPPT or string) of a ``direct`` reply, still raw text."""

    name: str
    voltage: str
    voltage_unit: str
    current: str
    current_unit: str


def parse_direct(data: Mapping[str, Any]) -> tuple[DirectItem, ...]:
    """Validate a ``direct`` reply."""
    return tuple(
        DirectItem(
            name=as_text(item.get("name"), f"{where}.name"),
            voltage=optional_text(item, "voltage", where),
            voltage_unit=optional_text(item, "voltage_unit", where) or "V",
            current=optional_text(item, "current", where),
            current_unit=optional_text(item, "current_unit", where) or "A",
        )
        for where, item in list_items(data, "direct")
    )


@dataclass(frozen=True, slots=True)
class ParamResult:
    """The outcome of one parameter of a ``param`` write.

    A client counts an item as failed when ``param_pid != -1 and result !=
    0`` (``param_pid`` -1 marks an item the device did not process as a
    parameter); another names the same four fields
    (docs/protocols/winet.md#battery-commands).
    """

    param_id: int | None
    param_pid: int
    name: str
    result: int

    @property
    def failed(self) -> bool:
        """Whether the device reports this parameter as not set."""
        return self.param_pid != -1 and self.result != 0


def parse_param_results(data: Mapping[str, Any]) -> tuple[ParamResult, ...]:
    """Validate a successful ``param`` reply.

    A reply without ``list`` carries no per-item verdict; a working client
    accepts it on ``result_msg`` alone, and so do we (an empty tuple).
    """
    if data.get("list") is None:
        return ()
    return tuple(
        ParamResult(
            param_id=as_opt_int(item.get("param_id"), f"{where}.param_id"),
            param_pid=as_int(item.get("param_pid"), f"{where}.param_pid"),
            name=optional_text(item, "param_name", where),
            result=as_int(item.get("result"), f"{where}.result"),
        )
        for where, item in list_items(data, "param")
    )

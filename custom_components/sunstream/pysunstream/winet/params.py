"""Reading a parameter group: the HTTP ``/device/getParam`` list, free of I/O.

The gateway's web UI reads a device's settings group by group with
``GET /device/getParam?token&lang&time123456&dev_id&dev_type&dev_code&type``
and writes them back with the WebSocket ``param`` service
(:func:`.messages.param_request`). Two captures of ``type=9`` (energy
management) on an SH5.0RS are the reference, 2022 firmware and 2024
firmware; ``docs/protocols/winet.md`` names them.

What a reply looks like (HTTP: ``result_data`` has no ``service``)::

    {"result_code": 1, "result_msg": "success", "result_data": {"list": [
      {"param_id": 27, "param_addr": 33214, "param_pid": 21, "param_type": 2,
       "accuracy": 0, "param_name": "I18N_CONFIG_KEY_2801", "param_value": "15",
       "unit": "%", "relation": "[170]", "regulation": "", "range": "[0~100]",
       "options": ""}, ...]}}

Quirks kept here:

* values are text with the parameter's ``accuracy`` decimals (``"3.00"``);
* ``range`` is text, ``"[0~23]"`` or ``"[0.00~500.00]"``, or empty;
* ``options`` is a list of ``{name, value}`` for a choice and ``""`` for
  a number;
* a child parameter (``param_pid`` ≠ -1) is listed only while its parent's
  value is in its ``relation`` (``"[170]"``): with Forced Charging off
  (85) the 2022 capture lists none of its windows, with it on (170) the
  2024 capture lists all of them. A missing parameter is therefore
  "hidden now", not "absent from this model";
* a unit may carry a UI hint after ``&`` (``"min&I18N_COMMON_PARAMS_SETTING_TIP"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .device_types import DeviceInfo
from .errors import WinetProtocolError
from .messages import Param, as_int, as_text, list_items, parse_frame

ENERGY_MANAGEMENT = "9"
"""``type`` of the energy-management group (EMS mode, charge windows)."""
FEED_IN = "7"
"""``type`` of the group that holds the feed-in limitation (31221, 31222)."""
GETPARAM_PATH = "/device/getParam"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamInfo:
    """One parameter as ``getParam`` lists it; ``value`` still text."""

    param_id: int
    addr: int
    pid: int
    param_type: int
    accuracy: int
    name: str
    value: str
    unit: str = ""
    relation: str = ""
    minimum: float | None = None
    maximum: float | None = None
    options: tuple[str, ...] = ()
    """The values a choice may take (empty for a number)."""

    def param(self, value: str, *, name: str | None = None) -> Param:
        """A ``param`` write item setting this parameter to ``value``."""
        return Param(
            self.param_id,
            self.addr,
            name or self.name,
            self.param_type,
            value,
            accuracy=self.accuracy,
        )

    def number(self) -> float | None:
        """The value as a number; ``None`` for ``"--"`` or text."""
        try:
            return float(self.value)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class ParamList:
    """A validated ``getParam`` reply; ``params`` empty unless ``code`` is 1."""

    code: int
    message: str
    params: tuple[ParamInfo, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the gateway answered with success."""
        return self.code == 1


def getparam_query(
    token: str, device: DeviceInfo, group: str, now_ms: int, *, lang: str
) -> dict[str, str]:
    """The query string the web UI sends, in its order."""
    if device.dev_code is None:
        raise ValueError(f"device {device.dev_id} has no dev_code")
    return {
        "token": token,
        "lang": lang,
        "time123456": str(now_ms),
        "dev_id": str(device.dev_id),
        "dev_type": str(device.dev_type),
        "dev_code": str(device.dev_code),
        "type": group,
    }


def _text(item: Mapping[str, Any], key: str) -> str:
    """A text field; missing or not text-like reads as empty (the UI shows it so)."""
    value = item.get(key)
    try:
        return "" if value is None else as_text(value, key)
    except WinetProtocolError:
        return ""


def parse_range(text: str) -> tuple[float | None, float | None]:
    """``"[0.00~500.00]"`` → (0.0, 500.0); anything else → (None, None)."""
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")) or "~" not in body:
        return (None, None)
    low, _, high = body[1:-1].partition("~")
    try:
        return (float(low), float(high))
    except ValueError:
        return (None, None)


def _options(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        str(option["value"])
        for option in value
        if isinstance(option, Mapping) and isinstance(option.get("value"), str | int)
    )


def parse_param_list(raw: str | bytes) -> ParamList:
    """Validate a ``getParam`` body; raises :class:`WinetProtocolError` only."""
    frame = parse_frame(raw)
    if not frame.ok:
        return ParamList(frame.code, frame.message)
    params = []
    for where, item in list_items(frame.data, "getParam"):
        minimum, maximum = parse_range(_text(item, "range"))
        params.append(
            ParamInfo(
                param_id=as_int(item.get("param_id"), f"{where}.param_id"),
                addr=as_int(item.get("param_addr"), f"{where}.param_addr"),
                pid=as_int(item.get("param_pid"), f"{where}.param_pid"),
                param_type=as_int(item.get("param_type"), f"{where}.param_type"),
                accuracy=as_int(item.get("accuracy", 0), f"{where}.accuracy"),
                name=_text(item, "param_name"),
                value=_text(item, "param_value").strip(),
                unit=_text(item, "unit").split("&", 1)[0],
                relation=_text(item, "relation"),
                minimum=minimum,
                maximum=maximum,
                options=_options(item.get("options")),
            )
        )
    return ParamList(frame.code, frame.message, tuple(params))

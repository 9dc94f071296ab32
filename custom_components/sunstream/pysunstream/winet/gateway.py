"""Who the gateway (the dongle itself) is.

The WebSocket protocol names the devices behind the dongle but not the
dongle; its serial and firmware come from the HTTP ``/about/list`` endpoint
(docs/protocols/winet.md#http-endpoints), which newer firmware only answers
with a token. When it is not available the caller falls back to a stable
substitute (see :func:`gateway_identity`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model import DeviceIdentity, DeviceKind
from .device_types import DeviceInfo
from .errors import WinetProtocolError
from .messages import Frame, parse_frame

SERIAL_KEY = "I18N_COMMON_DEVICE_SN"
FIRMWARE_KEY = "I18N_COMMON_APPLI_SOFT_VERSION"
VERSION_KEY = "I18N_COMMON_VERSION"


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    """What ``/about/list`` says; every field may be missing.

    ``module`` is the module version string, e.g. ``M_WiNet-S_V01_V01_A``;
    :attr:`model` derives "WiNet-S" / "WiNet-S2" from it.
    """

    serial: str | None = None
    firmware: str | None = None
    module: str | None = None

    @property
    def model(self) -> str:
        """``WiNet-S2`` for ``M_WiNet-S2_…``, ``WiNet-S`` otherwise."""
        if self.module and self.module.startswith("M_"):
            return self.module[2:].split("_", 1)[0]
        return "WiNet"


def parse_about(raw: str | bytes) -> GatewayInfo:
    """Parse an ``/about/list`` body (HTTP: no ``service`` in ``result_data``)."""
    frame: Frame = parse_frame(raw)
    if not frame.ok:
        raise WinetProtocolError(f"about/list: {frame.code} {frame.message}")
    items = frame.data.get("list")
    if not isinstance(items, list):
        raise WinetProtocolError("about/list: list is not a list")
    found: dict[str, str] = {}
    for item in items:
        if isinstance(item, Mapping):
            name, value = item.get("data_name"), item.get("data_value")
            if isinstance(name, str) and isinstance(value, str) and value.strip():
                found[name] = value.strip()
    return GatewayInfo(
        serial=found.get(SERIAL_KEY),
        firmware=found.get(FIRMWARE_KEY),
        module=found.get(VERSION_KEY),
    )


def gateway_identity(
    info: GatewayInfo | None,
    devices: tuple[DeviceInfo, ...] = (),
    *,
    serial: str | None = None,
) -> DeviceIdentity:
    """The snapshot identity of the gateway.

    The key must not change for the life of the installation, so the serial
    is chosen in this order: ``serial`` given by the caller (e.g. the one
    stored when the gateway was set up), the dongle's own serial, then the
    first device's serial prefixed with ``dev-`` (the dongle is rarely moved
    to another inverter; this is the fallback only).
    """
    chosen = serial or (info.serial if info else None)
    if not chosen:
        first = next((device.serial for device in devices if device.serial), None)
        chosen = f"dev-{first}" if first else "unknown"
    extra: dict[str, Any] = {}
    if info is not None:
        extra = {"firmware": info.firmware, "hardware": info.module}
    return DeviceIdentity(
        key=f"winet_gateway_{chosen}",
        kind=DeviceKind.GATEWAY,
        manufacturer="Sungrow",
        model=info.model if info else "WiNet",
        serial=chosen,
        **extra,
    )

"""Build the right source for a config entry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .const import (
    CONF_BATTERY_KWH,
    CONF_CONNECTION_TYPE,
    CONF_FINGERPRINT,
    CONF_MODEL,
    CONF_PROFILE,
    CONF_PV_PEAK_KW,
    CONF_SOURCE,
    CONF_TLS_MODE,
    CONF_UNIT_ID,
    DOMAIN,
    Profile,
    SourceType,
)
from .pysunstream.alphaess import STANDARD, AlphaEssSource
from .pysunstream.simulator import SimulatedSystem, SimulatorConfig
from .pysunstream.simulator.microgrid import MicrogridConfig, MicrogridSystem
from .pysunstream.source import Source
from .pysunstream.sungrow import Connection, SungrowModbusSource
from .pysunstream.winet import Ports, TlsConfig, TlsMode, WinetClient, WinetSource


def _simulated(hass: HomeAssistant, entry: ConfigEntry) -> SimulatedSystem | MicrogridSystem:
    location: tuple[float, float] | None = (hass.config.latitude, hass.config.longitude)
    if location == (0.0, 0.0):
        location = None  # no home location set: fall back to the demo curve
    if entry.data.get(CONF_PROFILE) == Profile.MICROGRID:
        return MicrogridSystem(
            MicrogridConfig(seed=entry.unique_id or entry.entry_id, location=location)
        )
    return SimulatedSystem(
        SimulatorConfig(
            pv_peak_kw=entry.data[CONF_PV_PEAK_KW],
            battery_kwh=entry.data.get(CONF_BATTERY_KWH, 0.0),
            seed=entry.unique_id or entry.entry_id,
            location=location,
        )
    )


def split_host(text: str) -> tuple[str, int | None]:
    """``host`` or ``host:port`` (``[v6]:port`` for IPv6) as typed by the user."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port.isdigit() else None
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return text, None


def winet_source(hass: HomeAssistant, data: Mapping[str, Any], serial: str | None) -> WinetSource:
    """A WiNet source for entry (or flow) data, on Home Assistant's HTTP session.

    A port in the host field serves every transport (a gateway behind port
    forwarding, or the fake gateway of the tests).
    """
    host, port = split_host(data[CONF_HOST])
    client = WinetClient(
        host,
        username=data[CONF_USERNAME],
        password=data[CONF_PASSWORD],
        session=async_get_clientsession(hass),
        tls=TlsConfig(
            mode=TlsMode(data.get(CONF_TLS_MODE, TlsMode.BYPASS.value)),
            fingerprint=data.get(CONF_FINGERPRINT) or None,
        ),
        ports=Ports(http=port, ws=port, https=port) if port else None,
    )
    return WinetSource(host, client=client, gateway_serial=serial)


def alphaess_source(data: Mapping[str, Any]) -> AlphaEssSource:
    """An AlphaESS unit over Modbus TCP, for entry (or flow) data."""
    return AlphaEssSource(
        data[CONF_HOST],
        int(data[CONF_PORT]),
        int(data[CONF_UNIT_ID]),
        model=data.get(CONF_MODEL, STANDARD),
    )


def sungrow_source(data: Mapping[str, Any]) -> SungrowModbusSource:
    """A Sungrow inverter over Modbus TCP (LAN port or WiNet-S), for entry (or flow) data."""
    return SungrowModbusSource(
        data[CONF_HOST],
        int(data[CONF_PORT]),
        int(data[CONF_UNIT_ID]),
        connection=Connection(data.get(CONF_CONNECTION_TYPE, Connection.LAN.value)),
    )


def create_source(hass: HomeAssistant, entry: ConfigEntry) -> Source:
    """The source an entry describes; unknown kinds stop the set-up for good."""
    kind = entry.data.get(CONF_SOURCE, SourceType.SIMULATED.value)
    if kind == SourceType.SIMULATED:
        return _simulated(hass, entry)
    if kind == SourceType.WINET:
        return winet_source(hass, entry.data, entry.unique_id)
    if kind == SourceType.MODBUS:
        return alphaess_source(entry.data)
    if kind == SourceType.SUNGROW_MODBUS:
        return sungrow_source(entry.data)
    raise ConfigEntryError(
        translation_domain=DOMAIN,
        translation_key="source_not_supported",
        translation_placeholders={"source": str(kind)},
    )

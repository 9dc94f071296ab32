"""Constants shared across the Sunstream integration."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "sunstream"
LOGGER = logging.getLogger(__package__)

CONF_SOURCE: Final = "source"
CONF_PV_PEAK_KW: Final = "pv_peak_kw"
CONF_BATTERY_KWH: Final = "battery_kwh"
CONF_UPDATE_INTERVAL: Final = "update_interval"
CONF_TARIFF: Final = "tariff"
CONF_CO2_FACTOR: Final = "co2_factor"
CONF_TLS_MODE: Final = "tls_mode"
CONF_FINGERPRINT: Final = "fingerprint"
CONF_SECURITY: Final = "security"
CONF_CONNECTION: Final = "connection"
CONF_UNIT_ID: Final = "unit_id"
CONF_MODEL: Final = "model"
CONF_CONNECTION_TYPE: Final = "connection_type"
CONF_PROFILE: Final = "profile"

DEFAULT_NAME: Final = "Simulated system"
DEFAULT_PV_PEAK_KW: Final = 5.5
DEFAULT_BATTERY_KWH: Final = 10.0

# (minimum, maximum) accepted for each numeric setting.
RANGES: Final[dict[str, tuple[float, float]]] = {
    CONF_PV_PEAK_KW: (0.1, 1000.0),
    CONF_BATTERY_KWH: (0.0, 1000.0),
    # The energy meter bridges gaps up to 15 min; 5 min keeps 3 samples in one.
    CONF_UPDATE_INTERVAL: (1, 300),
    CONF_TARIFF: (0.0, 100.0),
    CONF_CO2_FACTOR: (0.0, 5.0),
}
MODBUS_RANGES: Final[dict[str, tuple[int, int]]] = {
    "port": (1, 65535),
    "unit_id": (1, 247),
}

STORAGE_VERSION: Final = 1
STORAGE_SAVE_DELAY: Final = 10
OUTAGE_MAX: Final = timedelta(hours=24)

EVENT_CONNECTIVITY: Final = "sunstream_connectivity"
EVENT_DISPATCH: Final = "sunstream_dispatch"

ATTR_SYSTEM_ID: Final = "system_id"
ATTR_SOURCE: Final = "source"
ATTR_CONNECTED: Final = "connected"
ATTR_REASON: Final = "reason"
ATTR_COMMAND: Final = "command"
ATTR_POWER: Final = "power"
ATTR_TARGET_SOC: Final = "target_soc"
ATTR_DURATION: Final = "duration"
ATTR_EXPIRES_AT: Final = "expires_at"


class Profile(StrEnum):
    """What a simulated system simulates."""

    RESIDENTIAL = "residential"
    MICROGRID = "microgrid"


class SourceType(StrEnum):
    """The kinds of system a config entry can talk to."""

    SIMULATED = "simulated"
    WINET = "winet"
    MODBUS = "modbus"
    SUNGROW_MODBUS = "sungrow_modbus"

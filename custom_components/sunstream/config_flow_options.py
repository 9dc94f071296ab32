"""What every system's forms share: the options and their range checks.

The options (update interval, tariff, CO2 factor, alert thresholds) are
asked when a simulated system is added and in every system's options flow;
a WiNet or AlphaESS entry starts with :func:`default_options`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_NAME
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
)
import probatio as vol

from .const import CONF_CO2_FACTOR, CONF_TARIFF, CONF_UPDATE_INTERVAL, RANGES
from .pysunstream.winet import MIN_POLL_INTERVAL as WINET_MIN_INTERVAL
from .shared_modbus import (
    CONF_SHARED_HOST,
    CONF_SHARED_MODBUS,
    CONF_SHARED_PORT,
    CONF_WRITABLE,
    DEFAULT_HOST,
    PORT_RANGE,
)
from .system_alerts import ALERT_OPTIONS, CONF_ALERTS
from .system_options import DEFAULT_OPTIONS, SystemOptions


def number_field(unit: str, step: float) -> NumberSelector:
    """A number box; no min/max on it.

    A value out of range must come back as our translated field error
    (which names the range), not as a bare schema error.
    """
    return NumberSelector(
        NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=step, unit_of_measurement=unit)
    )


OPTION_FIELDS: dict[vol.Marker, Any] = {
    vol.Required(CONF_UPDATE_INTERVAL, default=DEFAULT_OPTIONS.update_interval): number_field(
        "s", 1
    ),
    vol.Required(CONF_TARIFF, default=DEFAULT_OPTIONS.tariff): number_field("/kWh", 0.01),
    vol.Required(CONF_CO2_FACTOR, default=DEFAULT_OPTIONS.co2_factor): number_field("kg/kWh", 0.01),
}
ALERT_UNITS = {
    "soc_low": ("%", 1),
    "inverter_temperature_high": ("°C", 1),
    "nominal_voltage": ("V", 1),
    "nominal_frequency": ("Hz", 10),
    "thd_high": ("%", 0.5),
    "communication_loss_minutes": ("min", 1),
}
ALERTS_SECTION = section(
    vol.Schema(
        {
            vol.Required(key, default=default): number_field(*ALERT_UNITS[key])
            for key, (default, _, _) in ALERT_OPTIONS.items()
        }
    ),
    {"collapsed": True},
)
# Alert thresholds are optional: an options call without the section (an
# older client, a script) keeps the defaults rather than failing.
OPTIONS_SCHEMA = vol.Schema({**OPTION_FIELDS, vol.Optional(CONF_ALERTS): ALERTS_SECTION})
# A Modbus system can share its one connection (docs/configuration.md#options).
SHARED_SECTION = section(
    vol.Schema(
        {
            vol.Required(CONF_SHARED_PORT, default=0): number_field("", 1),
            vol.Required(CONF_SHARED_HOST, default=DEFAULT_HOST): TextSelector(),
            vol.Optional(CONF_WRITABLE, default=""): TextSelector(),
        }
    ),
    {"collapsed": True},
)
MODBUS_OPTIONS_SCHEMA = OPTIONS_SCHEMA.extend({vol.Optional(CONF_SHARED_MODBUS): SHARED_SECTION})

PLACEHOLDERS = {
    f"{key}_{end}": f"{value:g}"
    for key, bounds in RANGES.items()
    for end, value in zip(("min", "max"), bounds, strict=True)
} | {
    "winet_min_interval": str(WINET_MIN_INTERVAL),
    "shared_port_min": str(PORT_RANGE[0]),
    "shared_port_max": str(PORT_RANGE[1]),
}


def validate_ranges(user_input: Mapping[str, Any]) -> dict[str, str]:
    """Field errors for values outside their ranges (or a blank name)."""
    errors: dict[str, str] = {}
    if CONF_NAME in user_input and not str(user_input[CONF_NAME]).strip():
        errors[CONF_NAME] = "name_required"
    for key, (low, high) in RANGES.items():
        if key in user_input and not low <= float(user_input[key]) <= high:
            errors[key] = f"{key}_out_of_range"
    interval = user_input.get(CONF_UPDATE_INTERVAL)
    if interval is not None and CONF_UPDATE_INTERVAL not in errors and interval != int(interval):
        errors[CONF_UPDATE_INTERVAL] = "update_interval_not_whole"
    return errors


def alert_error(user_input: Mapping[str, Any]) -> dict[str, str] | None:
    """Placeholders naming the first alert threshold out of range, if any."""
    for key, value in (user_input.get(CONF_ALERTS) or {}).items():
        _, low, high = ALERT_OPTIONS[key]
        if not low <= float(value) <= high:
            return {"alert_field": key, "alert_min": f"{low:g}", "alert_max": f"{high:g}"}
    return None


def options_from_input(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's options from a validated form."""
    options = SystemOptions(
        update_interval=int(user_input[CONF_UPDATE_INTERVAL]),
        tariff=float(user_input[CONF_TARIFF]),
        co2_factor=float(user_input[CONF_CO2_FACTOR]),
    ).as_options()
    if CONF_ALERTS in user_input:
        options[CONF_ALERTS] = {key: float(v) for key, v in user_input[CONF_ALERTS].items()}
    if CONF_SHARED_MODBUS in user_input:
        shared = user_input[CONF_SHARED_MODBUS]
        options[CONF_SHARED_MODBUS] = {
            CONF_SHARED_PORT: int(shared.get(CONF_SHARED_PORT, 0)),
            CONF_SHARED_HOST: str(shared.get(CONF_SHARED_HOST, DEFAULT_HOST)).strip(),
            CONF_WRITABLE: str(shared.get(CONF_WRITABLE, "")).strip(),
        }
    return options


def default_options(update_interval: int) -> dict[str, Any]:
    """The options of a new hardware entry: the source's poll interval, default prices."""
    return SystemOptions(update_interval=update_interval).as_options()

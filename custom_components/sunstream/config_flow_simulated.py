"""The simulated system's form: what it simulates, and how big it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_NAME
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import probatio as vol

from .config_flow_options import OPTION_FIELDS, number_field, options_from_input
from .const import (
    CONF_BATTERY_KWH,
    CONF_PROFILE,
    CONF_PV_PEAK_KW,
    CONF_SOURCE,
    DEFAULT_BATTERY_KWH,
    DEFAULT_NAME,
    DEFAULT_PV_PEAK_KW,
    Profile,
    SourceType,
)

SYSTEM_FIELDS: dict[vol.Marker, Any] = {
    vol.Required(CONF_PV_PEAK_KW, default=DEFAULT_PV_PEAK_KW): number_field("kWp", 0.1),
    vol.Required(CONF_BATTERY_KWH, default=DEFAULT_BATTERY_KWH): number_field("kWh", 0.1),
}
SIMULATED_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_NAME, default=DEFAULT_NAME): TextSelector(),
        vol.Required(CONF_PROFILE, default=Profile.RESIDENTIAL.value): SelectSelector(
            SelectSelectorConfig(
                options=[profile.value for profile in Profile],
                translation_key=CONF_PROFILE,
                mode=SelectSelectorMode.LIST,
            )
        ),
        **SYSTEM_FIELDS,
        **OPTION_FIELDS,
    }
)
RECONFIGURE_SCHEMA = vol.Schema(SYSTEM_FIELDS)


def hardware(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """The simulated hardware (PV peak, battery size) from a validated form."""
    return {
        CONF_PV_PEAK_KW: float(user_input[CONF_PV_PEAK_KW]),
        CONF_BATTERY_KWH: float(user_input[CONF_BATTERY_KWH]),
    }


def split_simulated(user_input: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Entry data (what the system is) and options (how we treat it)."""
    data = {CONF_SOURCE: SourceType.SIMULATED.value, **hardware(user_input)}
    # Residential is what entries made before profiles existed simulate, so
    # only the other profile needs to be written down.
    if user_input.get(CONF_PROFILE, Profile.RESIDENTIAL) != Profile.RESIDENTIAL:
        data[CONF_PROFILE] = user_input[CONF_PROFILE]
    return data, options_from_input(user_input)

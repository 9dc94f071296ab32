"""Config, options and reconfigure flows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_NAME
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
)
from homeassistant.util import slugify
import probatio as vol

from .const import (
    CONF_BATTERY_KWH,
    CONF_CO2_FACTOR,
    CONF_PV_PEAK_KW,
    CONF_SOURCE,
    CONF_TARIFF,
    CONF_UPDATE_INTERVAL,
    DEFAULT_BATTERY_KWH,
    DEFAULT_CO2_FACTOR,
    DEFAULT_NAME,
    DEFAULT_PV_PEAK_KW,
    DEFAULT_TARIFF,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    RANGES,
    SourceType,
)
from .coordinator import SunstreamConfigEntry


def _number(unit: str, step: float) -> NumberSelector:
    # No min/max on the selector: a value out of range must come back as our
    # translated field error (which names the range), not a bare schema error.
    return NumberSelector(
        NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=step, unit_of_measurement=unit)
    )


SYSTEM_FIELDS: dict[vol.Marker, Any] = {
    vol.Required(CONF_PV_PEAK_KW, default=DEFAULT_PV_PEAK_KW): _number("kWp", 0.1),
    vol.Required(CONF_BATTERY_KWH, default=DEFAULT_BATTERY_KWH): _number("kWh", 0.1),
}
OPTION_FIELDS: dict[vol.Marker, Any] = {
    vol.Required(CONF_UPDATE_INTERVAL, default=DEFAULT_UPDATE_INTERVAL): _number("s", 1),
    vol.Required(CONF_TARIFF, default=DEFAULT_TARIFF): _number("/kWh", 0.01),
    vol.Required(CONF_CO2_FACTOR, default=DEFAULT_CO2_FACTOR): _number("kg/kWh", 0.01),
}
SIMULATED_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_NAME, default=DEFAULT_NAME): TextSelector(),
        **SYSTEM_FIELDS,
        **OPTION_FIELDS,
    }
)
RECONFIGURE_SCHEMA = vol.Schema(SYSTEM_FIELDS)
OPTIONS_SCHEMA = vol.Schema(OPTION_FIELDS)

PLACEHOLDERS = {
    f"{key}_{end}": f"{value:g}"
    for key, bounds in RANGES.items()
    for end, value in zip(("min", "max"), bounds, strict=True)
}


def _validate(user_input: Mapping[str, Any]) -> dict[str, str]:
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


def _split(user_input: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Entry data (what the system is) and options (how we treat it)."""
    data = {
        CONF_SOURCE: SourceType.SIMULATED.value,
        CONF_PV_PEAK_KW: float(user_input[CONF_PV_PEAK_KW]),
        CONF_BATTERY_KWH: float(user_input[CONF_BATTERY_KWH]),
    }
    return data, _options(user_input)


def _options(user_input: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_UPDATE_INTERVAL: int(user_input[CONF_UPDATE_INTERVAL]),
        CONF_TARIFF: float(user_input[CONF_TARIFF]),
        CONF_CO2_FACTOR: float(user_input[CONF_CO2_FACTOR]),
    }


class SunstreamConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a Sunstream system."""

    VERSION = 1
    MINOR_VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask what kind of system to add."""
        return self.async_show_menu(
            step_id="user",
            menu_options=[SourceType.SIMULATED.value, "winet", "alphaess"],
        )

    async def async_step_simulated(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A simulated PV + battery system: no hardware needed."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = _validate(user_input)
            if not errors:
                name = str(user_input[CONF_NAME]).strip()
                await self.async_set_unique_id(f"sim-{slugify(name)}")
                self._abort_if_unique_id_configured()
                data, options = _split(user_input)
                return self.async_create_entry(title=name, data=data, options=options)
        return self.async_show_form(
            step_id="simulated",
            data_schema=self.add_suggested_values_to_schema(SIMULATED_SCHEMA, user_input),
            errors=errors,
            description_placeholders=PLACEHOLDERS,
        )

    async def async_step_winet(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Sungrow WiNet gateways: not yet available."""
        return self.async_abort(reason="winet_coming_soon")

    async def async_step_alphaess(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """AlphaESS over Modbus TCP: not yet available."""
        return self.async_abort(reason="alphaess_coming_soon")

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the simulated hardware: array size and battery."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = _validate(user_input)
            if not errors:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={
                        CONF_PV_PEAK_KW: float(user_input[CONF_PV_PEAK_KW]),
                        CONF_BATTERY_KWH: float(user_input[CONF_BATTERY_KWH]),
                    },
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                RECONFIGURE_SCHEMA, user_input or entry.data
            ),
            errors=errors,
            description_placeholders=PLACEHOLDERS,
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: SunstreamConfigEntry) -> SunstreamOptionsFlow:
        """Tariff, CO2 factor and update interval."""
        return SunstreamOptionsFlow()


class SunstreamOptionsFlow(OptionsFlowWithReload):
    """Change how often the system is read and what its energy is worth."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and save the options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = _validate(user_input)
            if not errors:
                return self.async_create_entry(data=_options(user_input))
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA, user_input or self.config_entry.options
            ),
            errors=errors,
            description_placeholders=PLACEHOLDERS,
        )

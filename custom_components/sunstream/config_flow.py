"""Config, options and reconfigure flows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util import slugify
import probatio as vol

from .const import (
    CONF_BATTERY_KWH,
    CONF_CO2_FACTOR,
    CONF_CONNECTION,
    CONF_FINGERPRINT,
    CONF_MODEL,
    CONF_PROFILE,
    CONF_PV_PEAK_KW,
    CONF_SECURITY,
    CONF_SOURCE,
    CONF_TARIFF,
    CONF_TLS_MODE,
    CONF_UNIT_ID,
    CONF_UPDATE_INTERVAL,
    DEFAULT_BATTERY_KWH,
    DEFAULT_CO2_FACTOR,
    DEFAULT_NAME,
    DEFAULT_PV_PEAK_KW,
    DEFAULT_TARIFF,
    DEFAULT_UPDATE_INTERVAL,
    DEFAULT_WINET_PASSWORD,
    DEFAULT_WINET_USERNAME,
    DOMAIN,
    LOGGER,
    MODBUS_DEFAULT_INTERVAL,
    MODBUS_RANGES,
    RANGES,
    WINET_DEFAULT_INTERVAL,
    WINET_MIN_INTERVAL,
    Profile,
    SourceType,
)
from .pysunstream.alphaess import DEFAULT_PORT, DEFAULT_UNIT, MODELS, STANDARD, UnitBusy
from .pysunstream.errors import CommandRejected, SourceUnavailable
from .pysunstream.winet import (
    AuthenticationFailed,
    CertificateMismatch,
    GatewayDescription,
    TlsMode,
    async_fetch_fingerprint,
    normalise_fingerprint,
)
from .runtime import SunstreamConfigEntry
from .sources import alphaess_source, split_host, winet_source
from .system_alerts import ALERT_OPTIONS, CONF_ALERTS


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
            vol.Required(key, default=default): _number(*ALERT_UNITS[key])
            for key, (default, _, _) in ALERT_OPTIONS.items()
        }
    ),
    {"collapsed": True},
)
# Alert thresholds are optional: an options call without the section (an
# older client, a script) keeps the defaults rather than failing.
OPTIONS_SCHEMA = vol.Schema({**OPTION_FIELDS, vol.Optional(CONF_ALERTS): ALERTS_SECTION})

# What tells one Modbus unit from another on the network.
ADDRESS_KEYS = (CONF_HOST, CONF_PORT, CONF_UNIT_ID)

PLACEHOLDERS = {
    f"{key}_{end}": f"{value:g}"
    for key, bounds in RANGES.items()
    for end, value in zip(("min", "max"), bounds, strict=True)
} | {"winet_min_interval": str(WINET_MIN_INTERVAL)}


WINET_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): TextSelector(),
        vol.Required(CONF_USERNAME, default=DEFAULT_WINET_USERNAME): TextSelector(),
        vol.Required(CONF_PASSWORD, default=DEFAULT_WINET_PASSWORD): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
        vol.Required(CONF_SECURITY): section(
            vol.Schema(
                {
                    vol.Required(CONF_TLS_MODE, default=TlsMode.BYPASS.value): SelectSelector(
                        SelectSelectorConfig(
                            options=[mode.value for mode in TlsMode],
                            translation_key=CONF_TLS_MODE,
                            mode=SelectSelectorMode.DROPDOWN,
                        )
                    ),
                    vol.Optional(CONF_FINGERPRINT): TextSelector(),
                }
            ),
            {"collapsed": True},
        ),
    }
)
REAUTH_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_USERNAME): TextSelector(),
        vol.Required(CONF_PASSWORD): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
    }
)


def _flatten_winet(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Entry data from the WiNet form.

    Raises :class:`ValueError` for a fingerprint that is not 64 hex digits.
    """
    security = user_input.get(CONF_SECURITY, {})
    fingerprint = str(security.get(CONF_FINGERPRINT) or "").strip()
    return {
        CONF_HOST: str(user_input[CONF_HOST]).strip(),
        CONF_USERNAME: user_input[CONF_USERNAME],
        CONF_PASSWORD: user_input[CONF_PASSWORD],
        CONF_TLS_MODE: security.get(CONF_TLS_MODE, TlsMode.BYPASS.value),
        CONF_FINGERPRINT: normalise_fingerprint(fingerprint) if fingerprint else "",
    }


def _nest_winet(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_HOST: data.get(CONF_HOST),
        CONF_USERNAME: data.get(CONF_USERNAME),
        CONF_PASSWORD: data.get(CONF_PASSWORD),
        CONF_SECURITY: {
            CONF_TLS_MODE: data.get(CONF_TLS_MODE, TlsMode.BYPASS.value),
            CONF_FINGERPRINT: data.get(CONF_FINGERPRINT) or "",
        },
    }


async def _async_identify_winet(
    hass: HomeAssistant, data: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str], GatewayDescription | None]:
    """Connect, log in and name the gateway; or say, translated, why not."""
    source = winet_source(hass, data, None)
    try:
        return {}, {}, await source.async_identify()
    except AuthenticationFailed:
        return {"base": "invalid_auth"}, {}, None
    except CertificateMismatch:
        return {"base": "certificate_mismatch"}, {}, None
    except SourceUnavailable as err:
        return {"base": "cannot_connect"}, {"reason": err.reason}, None
    # Defensive: the library maps every failure it knows to SourceUnavailable,
    # so only a bug lands here; the user still gets a form, not a traceback.
    except Exception:  # pragma: no cover
        LOGGER.exception("Unexpected error talking to WiNet gateway %s", data.get(CONF_HOST))
        return {"base": "unknown"}, {}, None
    finally:
        await source.async_close()


ALPHAESS_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): TextSelector(),
        vol.Required(CONF_CONNECTION): section(
            vol.Schema(
                {
                    vol.Required(CONF_PORT, default=DEFAULT_PORT): _number("", 1),
                    vol.Required(CONF_UNIT_ID, default=DEFAULT_UNIT): _number("", 1),
                    vol.Required(CONF_MODEL, default=STANDARD): SelectSelector(
                        SelectSelectorConfig(
                            options=list(MODELS),
                            translation_key=CONF_MODEL,
                            mode=SelectSelectorMode.DROPDOWN,
                        )
                    ),
                }
            ),
            {"collapsed": True},
        ),
    }
)
MODBUS_PLACEHOLDERS = {
    f"{key}_{end}": str(value)
    for key, bounds in MODBUS_RANGES.items()
    for end, value in zip(("min", "max"), bounds, strict=True)
}


def _flatten_alphaess(user_input: Mapping[str, Any]) -> dict[str, Any]:
    connection = user_input.get(CONF_CONNECTION, {})
    return {
        CONF_HOST: str(user_input[CONF_HOST]).strip(),
        CONF_PORT: connection.get(CONF_PORT, DEFAULT_PORT),
        CONF_UNIT_ID: connection.get(CONF_UNIT_ID, DEFAULT_UNIT),
        CONF_MODEL: connection.get(CONF_MODEL, STANDARD),
    }


def _nest_alphaess(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        CONF_HOST: data.get(CONF_HOST),
        CONF_CONNECTION: {
            CONF_PORT: data.get(CONF_PORT, DEFAULT_PORT),
            CONF_UNIT_ID: data.get(CONF_UNIT_ID, DEFAULT_UNIT),
            CONF_MODEL: data.get(CONF_MODEL, STANDARD),
        },
    }


def _validate_modbus(data: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not data[CONF_HOST]:
        errors[CONF_HOST] = "host_required"
    for key, (low, high) in MODBUS_RANGES.items():
        value = float(data[key])
        if value != int(value) or not low <= value <= high:
            errors["base"] = f"{key}_out_of_range"
        else:
            data[key] = int(value)
    return errors


async def _async_identify_alphaess(
    data: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, str], str | None]:
    """Read the unit's serial; or say, translated, why not."""
    source = alphaess_source(data)
    try:
        return {}, {}, await source.identify()
    except SourceUnavailable as err:
        # A unit held by another client is told apart: the fix is different.
        error = "unit_busy" if isinstance(err, UnitBusy) else "cannot_connect_unit"
        return {"base": error}, {"reason": err.reason}, None
    except CommandRejected:
        return {"base": "no_serial"}, {}, None
    finally:
        await source.async_close()


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
    # Residential is what entries made before profiles existed simulate, so
    # only the other profile needs to be written down.
    if user_input.get(CONF_PROFILE, Profile.RESIDENTIAL) != Profile.RESIDENTIAL:
        data[CONF_PROFILE] = user_input[CONF_PROFILE]
    return data, _options(user_input)


def _options(user_input: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        CONF_UPDATE_INTERVAL: int(user_input[CONF_UPDATE_INTERVAL]),
        CONF_TARIFF: float(user_input[CONF_TARIFF]),
        CONF_CO2_FACTOR: float(user_input[CONF_CO2_FACTOR]),
    }
    if CONF_ALERTS in user_input:
        options[CONF_ALERTS] = {key: float(v) for key, v in user_input[CONF_ALERTS].items()}
    return options


def _alert_error(user_input: Mapping[str, Any]) -> dict[str, str] | None:
    """Placeholders naming the first alert threshold out of range, if any."""
    for key, value in (user_input.get(CONF_ALERTS) or {}).items():
        _, low, high = ALERT_OPTIONS[key]
        if not low <= float(value) <= high:
            return {"alert_field": key, "alert_min": f"{low:g}", "alert_max": f"{high:g}"}
    return None


class SunstreamConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a Sunstream system."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing pending."""
        self._winet: dict[str, Any] = {}

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
                # Hardware is known by its serial; a simulated system by its name.
                self._abort_if_unique_id_configured(error="name_in_use")
                data, options = _split(user_input)
                return self.async_create_entry(title=name, data=data, options=options)
        return self.async_show_form(
            step_id="simulated",
            data_schema=self.add_suggested_values_to_schema(SIMULATED_SCHEMA, user_input),
            errors=errors,
            description_placeholders=PLACEHOLDERS,
        )

    async def async_step_winet(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A Sungrow WiNet / WiNet-S / WiNet-S2 gateway on the local network."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            try:
                data = _flatten_winet(user_input)
            except ValueError:
                # Said at the section the fingerprint is in; the form keeps what was typed.
                errors[CONF_SECURITY] = "fingerprint_invalid"
                return self._winet_form(user_input, errors, placeholders)
            if data[CONF_TLS_MODE] == TlsMode.PINNED and not data.get(CONF_FINGERPRINT):
                # Offer to pin what the gateway presents right now.
                host, port = split_host(data[CONF_HOST])
                try:
                    fingerprint = await async_fetch_fingerprint(host, port or 443)
                except SourceUnavailable as err:
                    errors["base"] = "cannot_connect"
                    placeholders["reason"] = err.reason
                else:
                    self._winet = {**data, CONF_FINGERPRINT: fingerprint}
                    return await self.async_step_pin_certificate()
            else:
                return await self._async_finish_winet(data)
        return self._winet_form(user_input, errors, placeholders)

    async def async_step_pin_certificate(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the gateway's certificate fingerprint and pin it on confirmation."""
        if user_input is not None:
            return await self._async_finish_winet(self._winet)
        return self.async_show_form(
            step_id="pin_certificate",
            description_placeholders={"fingerprint": self._winet[CONF_FINGERPRINT]},
        )

    def _winet_form(
        self,
        user_input: Mapping[str, Any] | None,
        errors: dict[str, str],
        placeholders: dict[str, str],
    ) -> ConfigFlowResult:
        return self.async_show_form(
            step_id="winet",
            data_schema=self.add_suggested_values_to_schema(WINET_SCHEMA, user_input),
            errors=errors,
            description_placeholders={"reason": "", **placeholders},
        )

    async def _async_finish_winet(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Test the connection, then create the entry or update the one reconfigured."""
        errors, placeholders, gateway = await _async_identify_winet(self.hass, data)
        if gateway is None:
            return self._winet_form(_nest_winet(data), errors, placeholders)
        await self.async_set_unique_id(gateway.serial)
        if self.source == SOURCE_RECONFIGURE:
            self._abort_if_unique_id_mismatch(reason="wrong_gateway")
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), data_updates=data
            )
        self._abort_if_unique_id_configured(updates={CONF_HOST: data[CONF_HOST]})
        return self.async_create_entry(
            title=gateway.identity.model or "WiNet",
            data={CONF_SOURCE: SourceType.WINET.value, **data},
            options={
                CONF_UPDATE_INTERVAL: WINET_DEFAULT_INTERVAL,
                CONF_TARIFF: DEFAULT_TARIFF,
                CONF_CO2_FACTOR: DEFAULT_CO2_FACTOR,
            },
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The gateway refused our credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the gateway's user name and password again."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"reason": ""}
        if user_input is not None:
            data = {**entry.data, **user_input}
            errors, found, gateway = await _async_identify_winet(self.hass, data)
            placeholders |= found
            if gateway is not None:
                await self.async_set_unique_id(gateway.serial)
                self._abort_if_unique_id_mismatch(reason="wrong_gateway")
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(
                REAUTH_SCHEMA, user_input or {CONF_USERNAME: entry.data.get(CONF_USERNAME)}
            ),
            errors=errors,
            description_placeholders={"name": entry.title, **placeholders},
        )

    async def async_step_alphaess(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """An AlphaESS unit reached over Modbus TCP."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"reason": ""}
        if user_input is not None:
            data = _flatten_alphaess(user_input)
            errors = _validate_modbus(data)
            if not errors and self.source == SOURCE_RECONFIGURE:
                entry = self._get_reconfigure_entry()
                if all(entry.data.get(key) == data[key] for key in ADDRESS_KEYS):
                    # Same address, same unit: asking it again would be
                    # refused as "busy" by the entry's own running session.
                    return self.async_update_reload_and_abort(entry, data_updates=data)
            if not errors and self.source != SOURCE_RECONFIGURE:
                # A configured unit keeps its one Modbus slot taken: asking
                # it again would be refused, by our own session, as "busy".
                self._async_abort_entries_match({key: data[key] for key in ADDRESS_KEYS})
            if not errors:
                errors, found, serial = await _async_identify_alphaess(data)
                placeholders |= found
                if serial is not None:
                    await self.async_set_unique_id(serial)
                    if self.source == SOURCE_RECONFIGURE:
                        self._abort_if_unique_id_mismatch(reason="wrong_unit")
                        return self.async_update_reload_and_abort(
                            self._get_reconfigure_entry(), data_updates=data
                        )
                    # Found by its serial at another address: that address now.
                    self._abort_if_unique_id_configured(
                        updates={key: data[key] for key in ADDRESS_KEYS}
                    )
                    return self.async_create_entry(
                        title=f"AlphaESS {serial}",
                        data={CONF_SOURCE: SourceType.MODBUS.value, **data},
                        options={
                            CONF_UPDATE_INTERVAL: MODBUS_DEFAULT_INTERVAL,
                            CONF_TARIFF: DEFAULT_TARIFF,
                            CONF_CO2_FACTOR: DEFAULT_CO2_FACTOR,
                        },
                    )
        return self.async_show_form(
            step_id="alphaess",
            data_schema=self.add_suggested_values_to_schema(ALPHAESS_SCHEMA, user_input),
            errors=errors,
            description_placeholders=placeholders | MODBUS_PLACEHOLDERS,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change a simulated system's hardware, or a gateway's address and TLS."""
        entry = self._get_reconfigure_entry()
        if entry.data.get(CONF_SOURCE) == SourceType.WINET:
            # The same form as adding one; the gateway's serial must not change.
            return self._winet_form(_nest_winet(entry.data), {}, {})
        if entry.data.get(CONF_SOURCE) == SourceType.MODBUS:
            return self.async_show_form(
                step_id="alphaess",
                data_schema=self.add_suggested_values_to_schema(
                    ALPHAESS_SCHEMA, _nest_alphaess(entry.data)
                ),
                description_placeholders={"reason": ""} | MODBUS_PLACEHOLDERS,
            )
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
        placeholders = dict(PLACEHOLDERS) | {
            "alert_field": "",
            "alert_min": "",
            "alert_max": "",
        }
        if user_input is not None:
            errors = _validate(user_input)
            if (
                not errors
                and self.config_entry.data.get(CONF_SOURCE) == SourceType.WINET
                and user_input[CONF_UPDATE_INTERVAL] < WINET_MIN_INTERVAL
            ):
                errors[CONF_UPDATE_INTERVAL] = "update_interval_too_fast"
            if not errors and (alert_error := _alert_error(user_input)) is not None:
                errors["base"] = "alert_threshold_out_of_range"
                placeholders |= alert_error
            if not errors:
                return self.async_create_entry(data=_options(user_input))
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA, user_input or self.config_entry.options
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

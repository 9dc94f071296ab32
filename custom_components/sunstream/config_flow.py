"""Config, options and reconfigure flows.

Each source's form (schema, conversion, validation, connection test) lives
beside it in ``config_flow_<source>.py``; what all forms share (the options)
in ``config_flow_options.py``, what the Modbus forms share in
``config_flow_modbus.py``. The steps are here, where Home Assistant
looks for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT, CONF_USERNAME
from homeassistant.core import callback
from homeassistant.util import slugify
import probatio as vol

from .config_flow_alphaess import ALPHAESS_FORM, async_identify_alphaess
from .config_flow_modbus import ADDRESS_KEYS, MODBUS_PLACEHOLDERS, validate_modbus
from .config_flow_options import (
    MODBUS_OPTIONS_SCHEMA,
    OPTIONS_SCHEMA,
    PLACEHOLDERS,
    alert_error,
    default_options,
    options_from_input,
    validate_ranges,
)
from .config_flow_simulated import (
    RECONFIGURE_SCHEMA,
    SIMULATED_SCHEMA,
    hardware,
    split_simulated,
)
from .config_flow_sungrow import SUNGROW_FORM, async_identify_sungrow
from .config_flow_winet import (
    REAUTH_SCHEMA,
    WINET_SCHEMA,
    async_identify_winet,
    flatten_winet,
    nest_winet,
)
from .const import (
    CONF_FINGERPRINT,
    CONF_SECURITY,
    CONF_SOURCE,
    CONF_TLS_MODE,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
    SourceType,
)
from .pysunstream.alphaess import DEFAULT_POLL_INTERVAL as MODBUS_DEFAULT_INTERVAL
from .pysunstream.errors import SourceUnavailable
from .pysunstream.winet import (
    DEFAULT_POLL_INTERVAL as WINET_DEFAULT_INTERVAL,
    MIN_POLL_INTERVAL as WINET_MIN_INTERVAL,
    TlsMode,
    async_fetch_fingerprint,
)
from .runtime import SunstreamConfigEntry
from .shared_modbus import CONF_SHARED_MODBUS, SharedModbusOptions, validate_shared
from .sources import split_host

STEP_WINET = "winet"
STEP_ALPHAESS = "alphaess"
STEP_SUNGROW = SourceType.SUNGROW_MODBUS.value
# The form of each connection step, and the placeholders it always shows.
CONNECTION_FORMS: dict[str, tuple[vol.Schema, dict[str, str]]] = {
    STEP_WINET: (WINET_SCHEMA, {}),
    STEP_ALPHAESS: (ALPHAESS_FORM.schema(), MODBUS_PLACEHOLDERS),
    STEP_SUNGROW: (SUNGROW_FORM.schema(), MODBUS_PLACEHOLDERS),
}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a Modbus device said it is: its serial (the unique id) and the entry's title."""

    serial: str
    title: str


type Identified = tuple[dict[str, str], dict[str, str], Identity | None]


async def _identify_alphaess(data: Mapping[str, Any]) -> Identified:
    errors, placeholders, serial = await async_identify_alphaess(data)
    return errors, placeholders, Identity(serial, f"AlphaESS {serial}") if serial else None


async def _identify_sungrow(data: Mapping[str, Any]) -> Identified:
    errors, placeholders, found = await async_identify_sungrow(data)
    if found is None:
        return errors, placeholders, None
    serial, model = found
    return errors, placeholders, Identity(serial, f"Sungrow {model.name}")


@dataclass(frozen=True, slots=True)
class ModbusKind:
    """One kind of Modbus system: its entry type, form conversion and identification."""

    source_type: SourceType
    flatten: Callable[[Mapping[str, Any]], dict[str, Any]]
    identify: Callable[[Mapping[str, Any]], Awaitable[Identified]]


MODBUS_SOURCES = frozenset({SourceType.MODBUS, SourceType.SUNGROW_MODBUS})
MODBUS_KINDS: dict[str, ModbusKind] = {
    STEP_ALPHAESS: ModbusKind(SourceType.MODBUS, ALPHAESS_FORM.flatten, _identify_alphaess),
    STEP_SUNGROW: ModbusKind(SourceType.SUNGROW_MODBUS, SUNGROW_FORM.flatten, _identify_sungrow),
}


def _is_its_shared_endpoint(entry: SunstreamConfigEntry, data: Mapping[str, Any]) -> bool:
    """Whether ``data`` points at ``entry``'s own shared Modbus endpoint.

    The device found there is ``entry``'s (same serial) and the port is the
    one Sunstream serves for it (shared_modbus.py), not the device's own.
    """
    shared = SharedModbusOptions.of(entry.options).port
    return shared != 0 and data[CONF_PORT] == shared != entry.data.get(CONF_PORT)


def _reads_its_device(entry: SunstreamConfigEntry) -> bool:
    """Whether ``entry`` is loaded and its latest reading succeeded."""
    return (
        entry.state is ConfigEntryState.LOADED
        and entry.runtime_data.coordinator.last_update_success
    )


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
            menu_options=[SourceType.SIMULATED.value, STEP_WINET, STEP_ALPHAESS, STEP_SUNGROW],
        )

    async def async_step_simulated(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A simulated PV + battery system: no hardware needed."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = validate_ranges(user_input)
            if not errors:
                name = str(user_input[CONF_NAME]).strip()
                await self.async_set_unique_id(f"sim-{slugify(name)}")
                # Hardware is known by its serial; a simulated system by its name.
                self._abort_if_unique_id_configured(error="name_in_use")
                data, options = split_simulated(user_input)
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
                data = flatten_winet(user_input)
            except ValueError:
                # Said at the section the fingerprint is in; the form keeps what was typed.
                errors[CONF_SECURITY] = "fingerprint_invalid"
                return self._connection_form(STEP_WINET, user_input, errors, placeholders)
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
        return self._connection_form(STEP_WINET, user_input, errors, placeholders)

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

    def _connection_form(
        self,
        step_id: str,
        user_input: Mapping[str, Any] | None,
        errors: dict[str, str],
        placeholders: dict[str, str],
    ) -> ConfigFlowResult:
        """The WiNet or AlphaESS form, saying why the connection test failed if it did."""
        schema, fixed = CONNECTION_FORMS[step_id]
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={"reason": "", **placeholders, **fixed},
        )

    async def _async_finish_winet(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Test the connection, then create the entry or update the one reconfigured."""
        errors, placeholders, gateway = await async_identify_winet(self.hass, data)
        if gateway is None:
            return self._connection_form(STEP_WINET, nest_winet(data), errors, placeholders)
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
            options=default_options(WINET_DEFAULT_INTERVAL),
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
            errors, found, gateway = await async_identify_winet(self.hass, data)
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
        return await self._async_modbus(STEP_ALPHAESS, user_input)

    async def async_step_sungrow_modbus(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A Sungrow inverter reached over Modbus TCP (its LAN port or a WiNet-S)."""
        return await self._async_modbus(STEP_SUNGROW, user_input)

    async def _async_modbus(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Check the address, identify the device, then create or update the entry."""
        kind = MODBUS_KINDS[step_id]
        if user_input is None:
            return self._connection_form(step_id, user_input, {}, {})
        data = kind.flatten(user_input)
        errors = validate_modbus(data)
        if not errors and self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            if all(entry.data.get(key) == data[key] for key in ADDRESS_KEYS):
                # Same address, same device: asking it again would be
                # refused as "busy" by the entry's own running session.
                return self.async_update_reload_and_abort(entry, data_updates=data)
        if not errors and self.source != SOURCE_RECONFIGURE:
            # A configured device keeps its one Modbus slot taken: asking
            # it again would be refused, by our own session, as "busy".
            self._async_abort_entries_match({key: data[key] for key in ADDRESS_KEYS})
        if errors:
            return self._connection_form(step_id, user_input, errors, {})
        errors, placeholders, identity = await kind.identify(data)
        if identity is None:
            return self._connection_form(step_id, user_input, errors, placeholders)
        await self.async_set_unique_id(identity.serial)
        existing = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, identity.serial
        )
        if existing is not None and _is_its_shared_endpoint(existing, data):
            # Sunstream's own endpoint in front of a system it already reads:
            # one Home Assistant needs it once
            # (docs/configuration.md#sharing-the-modbus-connection).
            return self.async_abort(
                reason="shared_endpoint", description_placeholders={"name": existing.title}
            )
        if self.source == SOURCE_RECONFIGURE:
            self._abort_if_unique_id_mismatch(reason="wrong_unit")
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), data_updates=data
            )
        if existing is not None and _reads_its_device(existing):
            # The device answers its entry at the old address: this one is a
            # way to the same device (a shared Modbus port, a proxy), not a move.
            self._abort_if_unique_id_configured()
        # Found by its serial at another address: that address now.
        self._abort_if_unique_id_configured(updates={key: data[key] for key in ADDRESS_KEYS})
        return self.async_create_entry(
            title=identity.title,
            data={CONF_SOURCE: kind.source_type.value, **data},
            options=default_options(MODBUS_DEFAULT_INTERVAL),
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change a simulated system's hardware, or a gateway's address and TLS."""
        entry = self._get_reconfigure_entry()
        if entry.data.get(CONF_SOURCE) == SourceType.WINET:
            # The same form as adding one; the gateway's serial must not change.
            return self._connection_form(STEP_WINET, nest_winet(entry.data), {}, {})
        if entry.data.get(CONF_SOURCE) == SourceType.MODBUS:
            return self._connection_form(STEP_ALPHAESS, ALPHAESS_FORM.nest(entry.data), {}, {})
        if entry.data.get(CONF_SOURCE) == SourceType.SUNGROW_MODBUS:
            return self._connection_form(STEP_SUNGROW, SUNGROW_FORM.nest(entry.data), {}, {})
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = validate_ranges(user_input)
            if not errors:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates=hardware(user_input),
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
            errors = validate_ranges(user_input)
            if (
                not errors
                and self.config_entry.data.get(CONF_SOURCE) == SourceType.WINET
                and user_input[CONF_UPDATE_INTERVAL] < WINET_MIN_INTERVAL
            ):
                errors[CONF_UPDATE_INTERVAL] = "update_interval_too_fast"
            if not errors and CONF_SHARED_MODBUS in user_input:
                errors = validate_shared(user_input[CONF_SHARED_MODBUS])
            if not errors and (alert_problem := alert_error(user_input)) is not None:
                errors["base"] = "alert_threshold_out_of_range"
                placeholders |= alert_problem
            if not errors:
                return self.async_create_entry(data=options_from_input(user_input))
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                MODBUS_OPTIONS_SCHEMA
                if self.config_entry.data.get(CONF_SOURCE) in MODBUS_SOURCES
                else OPTIONS_SCHEMA,
                user_input or self.config_entry.options,
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

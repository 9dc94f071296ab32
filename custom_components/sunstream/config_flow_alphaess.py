"""The AlphaESS unit's form: address, port, unit id and model, and the connection test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import probatio as vol

from .config_flow_options import number_field
from .const import CONF_CONNECTION, CONF_MODEL, CONF_UNIT_ID, MODBUS_RANGES
from .pysunstream.alphaess import DEFAULT_PORT, DEFAULT_UNIT, MODELS, STANDARD, UnitBusy
from .pysunstream.errors import CommandRejected, SourceUnavailable
from .sources import alphaess_source

ALPHAESS_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): TextSelector(),
        vol.Required(CONF_CONNECTION): section(
            vol.Schema(
                {
                    vol.Required(CONF_PORT, default=DEFAULT_PORT): number_field("", 1),
                    vol.Required(CONF_UNIT_ID, default=DEFAULT_UNIT): number_field("", 1),
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

# What tells one Modbus unit from another on the network.
ADDRESS_KEYS = (CONF_HOST, CONF_PORT, CONF_UNIT_ID)


def flatten_alphaess(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Entry data from the AlphaESS form."""
    connection = user_input.get(CONF_CONNECTION, {})
    return {
        CONF_HOST: str(user_input[CONF_HOST]).strip(),
        CONF_PORT: connection.get(CONF_PORT, DEFAULT_PORT),
        CONF_UNIT_ID: connection.get(CONF_UNIT_ID, DEFAULT_UNIT),
        CONF_MODEL: connection.get(CONF_MODEL, STANDARD),
    }


def nest_alphaess(data: Mapping[str, Any]) -> dict[str, Any]:
    """The AlphaESS form filled from entry data (the inverse of :func:`flatten_alphaess`)."""
    return {
        CONF_HOST: data.get(CONF_HOST),
        CONF_CONNECTION: {
            CONF_PORT: data.get(CONF_PORT, DEFAULT_PORT),
            CONF_UNIT_ID: data.get(CONF_UNIT_ID, DEFAULT_UNIT),
            CONF_MODEL: data.get(CONF_MODEL, STANDARD),
        },
    }


def validate_modbus(data: dict[str, Any]) -> dict[str, str]:
    """Errors for a blank host or a port / unit id out of range; whole numbers made ints."""
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


class Identifies[T](Protocol):
    """A Modbus source that can tell who it is before it is set up."""

    async def identify(self) -> T:
        """Read the device's identity; raise as the source says."""
        ...

    async def async_close(self) -> None:
        """Release the Modbus session."""
        ...


async def identify_modbus[T](
    source: Identifies[T],
) -> tuple[dict[str, str], dict[str, str], T | None]:
    """What ``source`` says it is; or say, translated, why not (any Modbus device)."""
    try:
        return {}, {}, await source.identify()
    except SourceUnavailable as err:
        # A device held by another client is told apart: the fix is different.
        error = "unit_busy" if isinstance(err, UnitBusy) else "cannot_connect_unit"
        return {"base": error}, {"reason": err.reason}, None
    except CommandRejected:
        return {"base": "no_serial"}, {}, None
    finally:
        await source.async_close()


async def async_identify_alphaess(
    data: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, str], str | None]:
    """Read the unit's serial; or say, translated, why not."""
    return await identify_modbus(alphaess_source(data))

"""The Sungrow Modbus form: address, port, unit id and connection type, and the connection test.

The model is not asked: the inverter names it by its device type code
(docs/protocols/sungrow-modbus.md#device-type-codes). The connection type
decides the WiNet-S limits (docs/protocols/sungrow-modbus.md#limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import probatio as vol

from .config_flow_modbus import identify_modbus
from .config_flow_options import number_field
from .const import CONF_CONNECTION, CONF_CONNECTION_TYPE, CONF_UNIT_ID
from .pysunstream.modbus.client import DEFAULT_PORT
from .pysunstream.sungrow import DEFAULT_UNIT, Connection, Model
from .sources import sungrow_source

SUNGROW_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): TextSelector(),
        vol.Required(CONF_CONNECTION): section(
            vol.Schema(
                {
                    vol.Required(CONF_CONNECTION_TYPE, default=Connection.LAN.value): (
                        SelectSelector(
                            SelectSelectorConfig(
                                options=[c.value for c in Connection],
                                translation_key=CONF_CONNECTION_TYPE,
                                mode=SelectSelectorMode.LIST,
                            )
                        )
                    ),
                    vol.Required(CONF_PORT, default=DEFAULT_PORT): number_field("", 1),
                    vol.Required(CONF_UNIT_ID, default=DEFAULT_UNIT): number_field("", 1),
                }
            ),
            {"collapsed": False},
        ),
    }
)


def flatten_sungrow(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Entry data from the Sungrow form."""
    connection = user_input.get(CONF_CONNECTION, {})
    return {
        CONF_HOST: str(user_input[CONF_HOST]).strip(),
        CONF_PORT: connection.get(CONF_PORT, DEFAULT_PORT),
        CONF_UNIT_ID: connection.get(CONF_UNIT_ID, DEFAULT_UNIT),
        CONF_CONNECTION_TYPE: connection.get(CONF_CONNECTION_TYPE, Connection.LAN.value),
    }


def nest_sungrow(data: Mapping[str, Any]) -> dict[str, Any]:
    """The Sungrow form filled from entry data (the inverse of :func:`flatten_sungrow`)."""
    return {
        CONF_HOST: data.get(CONF_HOST),
        CONF_CONNECTION: {
            CONF_PORT: data.get(CONF_PORT, DEFAULT_PORT),
            CONF_UNIT_ID: data.get(CONF_UNIT_ID, DEFAULT_UNIT),
            CONF_CONNECTION_TYPE: data.get(CONF_CONNECTION_TYPE, Connection.LAN.value),
        },
    }


async def async_identify_sungrow(
    data: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, str], tuple[str, Model] | None]:
    """Read the inverter's serial and model; or say, translated, why not."""
    return await identify_modbus(sungrow_source(data))

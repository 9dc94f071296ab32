"""The AlphaESS unit's form: address, port, unit id and model, and the connection test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.helpers.selector import SelectSelectorMode

from .config_flow_modbus import ModbusForm, identify_modbus
from .const import CONF_MODEL
from .pysunstream.alphaess import DEFAULT_PORT, DEFAULT_UNIT, MODELS, STANDARD
from .sources import alphaess_source

ALPHAESS_FORM = ModbusForm(
    port=DEFAULT_PORT,
    unit=DEFAULT_UNIT,
    choice=CONF_MODEL,
    options=tuple(MODELS),
    default=STANDARD,
    mode=SelectSelectorMode.DROPDOWN,
    choice_first=False,
    collapsed=True,
)


async def async_identify_alphaess(
    data: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, str], str | None]:
    """Read the unit's serial; or say, translated, why not."""
    return await identify_modbus(alphaess_source(data))

"""The Sungrow Modbus form: address, port, unit id and connection type, and the connection test.

The model is not asked: the inverter names it by its device type code
(docs/protocols/sungrow-modbus.md#device-type-codes). The connection type
decides the WiNet-S limits (docs/protocols/sungrow-modbus.md#limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.helpers.selector import SelectSelectorMode

from .config_flow_modbus import ModbusForm, identify_modbus
from .const import CONF_CONNECTION_TYPE
from .pysunstream.modbus.client import DEFAULT_PORT
from .pysunstream.sungrow import DEFAULT_UNIT, Connection, Model
from .sources import sungrow_source

# The connection type comes first and open: it decides the WiNet-S limits.
SUNGROW_FORM = ModbusForm(
    port=DEFAULT_PORT,
    unit=DEFAULT_UNIT,
    choice=CONF_CONNECTION_TYPE,
    options=tuple(c.value for c in Connection),
    default=Connection.LAN.value,
    mode=SelectSelectorMode.LIST,
    choice_first=True,
    collapsed=False,
)


async def async_identify_sungrow(
    data: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, str], tuple[str, Model] | None]:
    """Read the inverter's serial and model; or say, translated, why not."""
    return await identify_modbus(sungrow_source(data))

"""What every Modbus form shares: host, port and unit id, their checks, and the connection test.

A Modbus source's form (``config_flow_alphaess.py``, ``config_flow_sungrow.py``)
is a host plus a "connection" section holding the port, the unit id and one
choice of that source's own (the AlphaESS model, the Sungrow connection
type); entry data stores them flat. Each source describes its form once, as
a :class:`ModbusForm`, which builds the schema, flattens the form into entry
data and fills it back from the entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
from .const import CONF_CONNECTION, CONF_UNIT_ID, MODBUS_RANGES
from .pysunstream.errors import CommandRejected, SourceUnavailable
from .pysunstream.modbus.errors import UnitBusy

MODBUS_PLACEHOLDERS = {
    f"{key}_{end}": str(value)
    for key, bounds in MODBUS_RANGES.items()
    for end, value in zip(("min", "max"), bounds, strict=True)
}

# What tells one Modbus unit from another on the network.
ADDRESS_KEYS = (CONF_HOST, CONF_PORT, CONF_UNIT_ID)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModbusForm:
    """One Modbus source's form: port and unit id defaults, and its own choice."""

    port: int
    unit: int
    # The source's own choice: its entry-data key (also its translation key),
    # the values offered and the one preselected.
    choice: str
    options: tuple[str, ...]
    default: str
    mode: SelectSelectorMode
    # Whether the choice comes before the port and unit id, and whether the
    # section opens collapsed (when the defaults nearly always fit).
    choice_first: bool
    collapsed: bool

    def defaults(self) -> dict[str, Any]:
        """The section's fields and their defaults, in entry-data order."""
        return {CONF_PORT: self.port, CONF_UNIT_ID: self.unit, self.choice: self.default}

    def schema(self) -> vol.Schema:
        """The host, then the ``connection`` section."""
        address: dict[vol.Marker, Any] = {
            vol.Required(CONF_PORT, default=self.port): number_field("", 1),
            vol.Required(CONF_UNIT_ID, default=self.unit): number_field("", 1),
        }
        choice: dict[vol.Marker, Any] = {
            vol.Required(self.choice, default=self.default): SelectSelector(
                SelectSelectorConfig(
                    options=list(self.options), translation_key=self.choice, mode=self.mode
                )
            )
        }
        fields = {**choice, **address} if self.choice_first else {**address, **choice}
        return vol.Schema(
            {
                vol.Required(CONF_HOST): TextSelector(),
                vol.Required(CONF_CONNECTION): section(
                    vol.Schema(fields), {"collapsed": self.collapsed}
                ),
            }
        )

    def flatten(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        """Entry data from the form."""
        connection = user_input.get(CONF_CONNECTION, {})
        return {
            CONF_HOST: str(user_input[CONF_HOST]).strip(),
            **{key: connection.get(key, default) for key, default in self.defaults().items()},
        }

    def nest(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The form filled from entry data (the inverse of :meth:`flatten`)."""
        return {
            CONF_HOST: data.get(CONF_HOST),
            CONF_CONNECTION: {
                key: data.get(key, default) for key, default in self.defaults().items()
            },
        }


def validate_modbus(data: dict[str, Any]) -> dict[str, str]:
    """Errors for a blank host or a port / unit id out of range; whole numbers made ints."""
    errors: dict[str, str] = {}
    if not data[CONF_HOST]:
        errors[CONF_HOST] = "host_required"
    for key, (low, high) in MODBUS_RANGES.items():
        value = float(data[key])
        # The range first: it also refuses inf and NaN, which int() cannot take.
        if not low <= value <= high or value != int(value):
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

"""The shared Modbus endpoint of a Modbus system: its options and its life with the entry.

Off by default. When the user gives it a port, an AlphaESS or Sungrow Modbus
system serves a Modbus TCP endpoint there
(:class:`.pysunstream.modbus.endpoint.SharedEndpoint`): other tools read
through Sunstream's one connection, and write only the register ranges the
user allows (default: none). A port that cannot be opened is a repair
issue, not a failed system: the system's own readings go on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import logging
import re
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .pysunstream.capabilities import HoldsModbus
from .pysunstream.modbus.endpoint import EndpointPolicy, SharedEndpoint
from .runtime import SunstreamConfigEntry

_LOGGER = logging.getLogger(__name__)

CONF_SHARED_MODBUS = "shared_modbus"
CONF_SHARED_PORT = "port"
CONF_SHARED_HOST = "host"
CONF_WRITABLE = "writable"
#: Every interface: the other tools run elsewhere on the network.
DEFAULT_HOST = "0.0.0.0"
PORT_RANGE = (1, 65535)
ISSUE = "shared_modbus_port"
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedModbusOptions:
    """The endpoint's options; ``port`` 0 means off."""

    port: int = 0
    host: str = DEFAULT_HOST
    writable: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> SharedModbusOptions:
        """Read from an entry's options; missing means off."""
        shared = options.get(CONF_SHARED_MODBUS) or {}
        return cls(
            port=int(shared.get(CONF_SHARED_PORT, 0)),
            host=str(shared.get(CONF_SHARED_HOST, DEFAULT_HOST)),
            writable=parse_ranges(str(shared.get(CONF_WRITABLE, ""))) or (),
        )


def parse_ranges(text: str) -> tuple[tuple[int, int], ...] | None:
    """``"13049-13051, 13057"`` as ranges; ``None`` when the text is not such a list."""
    ranges: list[tuple[int, int]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _RANGE.match(part)
        if match is None:
            return None
        first = int(match[1])
        last = int(match[2]) if match[2] else first
        if not 0 <= first <= last <= 0xFFFF:
            return None
        ranges.append((first, last))
    return tuple(ranges)


def validate_shared(shared: Mapping[str, Any]) -> dict[str, str]:
    """Errors for the endpoint section: a port out of range, a bad write list."""
    errors: dict[str, str] = {}
    port = float(shared.get(CONF_SHARED_PORT, 0))
    if port != 0 and (port != int(port) or not PORT_RANGE[0] <= port <= PORT_RANGE[1]):
        errors[CONF_SHARED_MODBUS] = "shared_port_out_of_range"
    elif parse_ranges(str(shared.get(CONF_WRITABLE, ""))) is None:
        errors[CONF_SHARED_MODBUS] = "writable_invalid"
    return errors


async def async_start_shared(
    hass: HomeAssistant, entry: SunstreamConfigEntry, source: object
) -> None:
    """Serve the endpoint the entry's options ask for, until the entry unloads."""
    issue_id = f"{ISSUE}_{entry.entry_id}"
    options = SharedModbusOptions.of(entry.options)
    if not options.port or not isinstance(source, HoldsModbus):
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    endpoint = SharedEndpoint(
        source.modbus_client,
        host=options.host,
        port=options.port,
        policy=EndpointPolicy(writable=options.writable),
    )
    try:
        await endpoint.start()
    except OSError as err:
        _LOGGER.error(
            "%s: cannot open the shared Modbus port %s: %s", entry.title, options.port, err
        )
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE,
            translation_placeholders={
                "name": entry.title,
                "port": str(options.port),
                "detail": str(err),
            },
        )
        return
    ir.async_delete_issue(hass, DOMAIN, issue_id)
    entry.async_on_unload(endpoint.stop)

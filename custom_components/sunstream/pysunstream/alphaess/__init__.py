"""AlphaESS home batteries over Modbus TCP (port 502, unit 85).

Layers, from pure to I/O:

* :mod:`.registers` — the register map as data (address, type, scale,
  unit, sign, canonical metric, cadence, device part);
* :mod:`.quirks` — model/firmware quirks as data (scales, readable
  ranges, FC06 vs FC16, dispatch support) folded into a ``UnitProfile``;
* :mod:`..modbus.planner` — registers → the fewest block reads (≤ 100
  registers, gaps bridged only inside readable ranges);
* :mod:`..modbus.decode` — words ↔ values (high word first here);
* :mod:`.dispatch` — the 0x0880 block: encoding, decoding, refresh lease;
* :mod:`.settings` — reserve, charge limit, export limit and time-of-use
  windows kept in flash: decoding, validation, the writes that differ;
* :mod:`.mapping` — decoded values → :class:`~..model.Snapshot`;
* :mod:`..modbus.client` — the one persistent pymodbus session (spacing,
  failure classification, reconnects spaced by the shared :mod:`..backoff`);
* :mod:`.source` — :class:`AlphaEssSource`, the
  :class:`~..source.Source` the integration uses.

Typical use::

    source = AlphaEssSource("192.168.1.50")          # port 502, unit 85
    serial = await source.identify()                  # config flow unique id
    snapshot = await source.async_poll(now)           # every scan interval
    await source.async_dispatch(Command(kind=CommandKind.CHARGE, ...))
    source.settings_spec, source.reported_settings()  # after the first poll
    await source.async_write_setting(SettingChange(setting=Setting.RESERVE_SOC, value=30))
    await source.async_close()
"""

from __future__ import annotations

from ..backoff import Backoff
from ..modbus.client import DEFAULT_PORT, DEFAULT_SPACING, DEFAULT_TIMEOUT, ModbusClient
from .errors import DispatchNotApplied, ModbusError, UnitBusy
from .mapping import UNITS
from .quirks import MODELS, STANDARD, UnitProfile, resolve_profile
from .source import DEFAULT_POLL_INTERVAL, DEFAULT_UNIT, SOURCE_TYPE, AlphaEssSource

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_PORT",
    "DEFAULT_SPACING",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UNIT",
    "MODELS",
    "SOURCE_TYPE",
    "STANDARD",
    "UNITS",
    "AlphaEssSource",
    "Backoff",
    "DispatchNotApplied",
    "ModbusClient",
    "ModbusError",
    "UnitBusy",
    "UnitProfile",
    "resolve_profile",
]

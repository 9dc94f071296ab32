"""Sungrow residential hybrid (SH) and string (SG) inverters over Modbus TCP (port 502, unit 1).

Through the inverter's own LAN port or the WiNet-S dongle's port 502
(docs/protocols/sungrow-modbus.md). Layers, from pure to I/O:

* :mod:`.registers` — the register map as data (input 4953.., 5000.., 13000..;
  holding 13049.., 33046..), low word first;
* :mod:`.models` — device type code → model, and model/connection quirks
  (scales, the WiNet-S 38-register and spacing limits) folded into a ``Profile``;
* :mod:`..modbus.planner` — rows → the fewest block reads the connection allows;
* :mod:`.mapping` — decoded values → :class:`~..model.Snapshot`;
* :mod:`.source` — :class:`SungrowModbusSource`, the :class:`~..source.Source`
  (and :class:`~..controls.Configurable`) the integration uses, on
  :class:`..modbus.client.ModbusClient`.

Typical use::

    source = SungrowModbusSource("192.168.1.60", connection=Connection.WINET)
    serial, model = await source.identify()          # config flow unique id
    snapshot = await source.async_poll(now)          # every scan interval
    await source.async_close()
"""

from __future__ import annotations

from .mapping import UNITS
from .models import (
    MODELS,
    Connection,
    Family,
    Model,
    PowerUnit,
    Profile,
    model_of,
    resolve_profile,
)
from .source import DEFAULT_POLL_INTERVAL, DEFAULT_UNIT, SOURCE_TYPE, SungrowModbusSource

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_UNIT",
    "MODELS",
    "SOURCE_TYPE",
    "UNITS",
    "Connection",
    "Family",
    "Model",
    "PowerUnit",
    "Profile",
    "SungrowModbusSource",
    "model_of",
    "resolve_profile",
]

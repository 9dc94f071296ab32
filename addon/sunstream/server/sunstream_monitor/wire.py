"""JSON as the app writes it: one encoder for every document, message and answer.

Numbers computed in binary floating point carry noise in their last digits:
a unit conversion, a sum of hourly statistics, a price × energy product the
integration reports as ``0.49739999999999995`` where ``0.4974`` was meant.
Every float is rounded to :data:`DECIMALS` decimal places here, when it is
written — so HTTP answers, WebSocket frames, Socket.IO events and MQTT
payloads all read the same, and code that computes values never has to
remember to round them.

Six decimals are finer than anything the app reports (energies to the Wh
are three decimals of a kWh, powers to the mW six of a kW) and coarser than
float noise for any value below a billion.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

DECIMALS: Final = 6


def tidy(value: Any) -> Any:
    """``value`` with every float in it rounded to :data:`DECIMALS` places."""
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, dict):
        return {key: tidy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [tidy(item) for item in value]
    return value


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, floats rounded (see the module docstring)."""
    return orjson.dumps(tidy(value))


class SocketIOJson:
    """The ``json`` module python-socketio and Engine.IO are given: the same encoder.

    They call ``dumps``/``loads`` with the standard library's keyword
    arguments (``separators``), which compact JSON makes moot.
    """

    @staticmethod
    def dumps(value: Any, **_options: Any) -> str:
        """``value`` as JSON text."""
        return dumps(value).decode()

    @staticmethod
    def loads(text: str | bytes, **_options: Any) -> Any:
        """Parse JSON text."""
        return orjson.loads(text)

"""Values and units as WiNet sends them, and what they mean.

Every ``data_value`` arrives as a string, numbers included; ``"--"`` means
the device does not know the value right now; enumerations arrive as
``I18N_*`` keys. Units are spelled inconsistently across models and
firmware (``℃``, ``HZ`` next to ``Hz``, ``kVar`` for an apparent power that
another model labels ``kVA``). This module turns both into something a
program can compare, without guessing: text that is not a number stays
text, and an unknown unit is passed through unchanged.
"""

from __future__ import annotations

import math
import re

from ..model import Value

UNKNOWN = "--"
"""The device's spelling of "no value right now"."""

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

# Spellings seen in captures (or obvious case variants) → one canonical unit.
# The canonical forms are Home Assistant's unit strings so a caller can pass
# them through, but nothing here depends on Home Assistant.
_UNITS: dict[str, str] = {
    "℃": "°C",
    "°c": "°C",
    "℉": "°F",
    "°f": "°F",
    "hz": "Hz",
    "kvar": "kvar",
    "var": "var",
    "kva": "kVA",
    "va": "VA",
    "kw": "kW",
    "w": "W",
    "kwh": "kWh",
    "wh": "Wh",
    "mwh": "MWh",
    "kwp": "kWp",
    "v": "V",
    "a": "A",
    "kω": "kΩ",
    "ω": "Ω",
    "mω": "MΩ",
    "dbm": "dBm",
    "h": "h",
    "min": "min",
    "s": "s",
}

# Keys whose unit the device misspells in a way only the key can resolve:
# SH10RT sends "kVar" for the maximum *apparent* power, SH5.0RS "kVA" for
# the same key (docs/protocols/winet.md#values-and-units).
_APPARENT_POWER_MARKER = "APPARENT_POWER"


def normalise_unit(unit: str, key: str = "") -> str:
    """Return the canonical spelling of ``unit`` (sent with data point ``key``).

    The OHM SIGN (U+2126) is folded into GREEK CAPITAL OMEGA (U+03A9) first,
    so both spellings of kΩ compare equal. Unknown units come back stripped
    but otherwise untouched.
    """
    text = unit.strip().replace("\u2126", "\u03a9")
    canonical = _UNITS.get(text.lower(), text)
    if canonical in {"kvar", "kVA"} and _APPARENT_POWER_MARKER in key:
        return "kVA"
    if canonical in {"var", "VA"} and _APPARENT_POWER_MARKER in key:
        return "VA"
    return canonical


def parse_value(raw: object) -> Value:
    """Parse one ``data_value`` into a float, a string or ``None``.

    ``"--"`` and empty strings are ``None`` (unknown). A string that is a
    plain decimal number becomes a float (``"-0.28"`` → ``-0.28``); ``nan``
    and ``inf`` are not numbers here, since no device means them. Anything
    else (``I18N_*`` enumeration keys, free text) is kept as text. Firmware
    that sends JSON numbers instead of strings is accepted too.
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        number = float(raw)
        return number if math.isfinite(number) else None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or text == UNKNOWN:
        return None
    if _NUMBER.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else None
    return text


_SCALE: dict[tuple[str, str], float] = {
    ("kW", "W"): 1000.0,
    ("W", "W"): 1.0,
    ("kWh", "kWh"): 1.0,
    ("Wh", "kWh"): 0.001,
    ("MWh", "kWh"): 1000.0,
    ("V", "V"): 1.0,
    ("A", "A"): 1.0,
    ("%", "%"): 1.0,
    ("Hz", "Hz"): 1.0,
    ("°C", "°C"): 1.0,
    ("kΩ", "kΩ"): 1.0,
    ("MΩ", "kΩ"): 1000.0,
    ("kvar", "var"): 1000.0,
    ("var", "var"): 1.0,
    ("kVA", "VA"): 1000.0,
    ("VA", "VA"): 1.0,
}


def convert(value: Value, unit: str, target: str) -> float | None:
    """Return ``value`` (in canonical ``unit``) expressed in ``target``.

    ``None`` when the value is unknown, not a number, or the units are not
    commensurable: a mapping must rather leave a metric unknown than report
    a kilowatt figure as watts.
    """
    if not isinstance(value, float):
        return None
    if unit == "°F" and target == "°C":
        return round((value - 32) * 5 / 9, 2)
    factor = _SCALE.get((unit, target))
    if factor is None:
        return None
    # Round away binary noise introduced by scaling ("0.666" kW → 666.0 W).
    return round(value * factor, 6)

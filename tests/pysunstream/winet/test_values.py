"""Value and unit parsing: strings, "--", unit spellings."""

from __future__ import annotations

import pytest

from custom_components.sunstream.pysunstream.winet.values import (
    convert,
    normalise_unit,
    parse_value,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7.5", 7.5),
        ("-0.28", -0.28),
        ("1107", 1107.0),
        (" 30 ", 30.0),
        ("--", None),
        ("", None),
        (None, None),
        ("nan", "nan"),
        ("inf", "inf"),
        ("I18N_COMMON_DISPATCH_RUN", "I18N_COMMON_DISPATCH_RUN"),
        ("Grid-connected operation", "Grid-connected operation"),
        (12, 12.0),
        (1.5, 1.5),
        (True, None),
        (float("nan"), None),
        ("1e400", None),
        ([], None),
    ],
)
def test_parse_value(raw: object, expected: object) -> None:
    assert parse_value(raw) == expected


@pytest.mark.parametrize(
    ("unit", "key", "expected"),
    [
        ("℃", "", "°C"),
        ("kΩ", "", "kΩ"),
        ("k\u2126", "", "kΩ"),  # OHM SIGN folds into GREEK OMEGA
        ("HZ", "", "Hz"),
        ("Hz", "", "Hz"),
        ("kVar", "I18N_COMMON_TOTAL_REACTIVE_POWER", "kvar"),
        ("kvar", "", "kvar"),
        ("kVar", "I18N_COMMON_MAXIMUM_APPARENT_POWER_SIWHFGQY", "kVA"),
        ("kVA", "I18N_COMMON_MAXIMUM_APPARENT_POWER_SIWHFGQY", "kVA"),
        ("KW", "", "kW"),
        (" kWh ", "", "kWh"),
        ("", "", ""),
        ("%", "", "%"),
        ("furlongs", "", "furlongs"),
    ],
)
def test_normalise_unit(unit: str, key: str, expected: str) -> None:
    assert normalise_unit(unit, key) == expected


def test_convert() -> None:
    assert convert(0.666, "kW", "W") == 666.0
    assert convert(1500.0, "Wh", "kWh") == 1.5
    assert convert(-0.05, "kvar", "var") == -50.0
    assert convert(77.0, "°F", "°C") == 25.0
    # Incommensurable units or unknown values never produce a number.
    assert convert(1.0, "kWh", "W") is None
    assert convert(None, "kW", "W") is None
    assert convert("I18N_COMMON_STANDBY", "", "W") is None

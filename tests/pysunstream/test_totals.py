"""LifetimeTotals: the highest value per total, saved and restored."""

from __future__ import annotations

from custom_components.sunstream.pysunstream.totals import LifetimeTotals


def test_a_lower_reading_is_held_until_the_source_catches_up() -> None:
    totals = LifetimeTotals()
    assert totals.last("pv") is None
    assert totals.hold("pv", 10.0) == 10.0
    assert totals.hold("pv", 9.5) == 10.0
    assert totals.hold("grid", 1.0) == 1.0  # each total on its own
    assert totals.hold("pv", 10.5) == 10.5
    assert totals.last("pv") == 10.5


def test_round_trip_drops_what_is_not_a_number() -> None:
    totals = LifetimeTotals()
    totals.hold("pv", 3)
    restored = LifetimeTotals.from_dict({**totals.as_dict(), "bad": "x", "flag": True})
    assert restored == LifetimeTotals({"pv": 3.0})
    assert isinstance(restored.highest["pv"], float)

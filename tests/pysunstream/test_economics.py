"""Savings and CO2 booked from PV energy."""

from __future__ import annotations

from datetime import datetime, timedelta
import json
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunstream.pysunstream.economics import Economics

TZ = ZoneInfo("America/Sao_Paulo")
START = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)


def test_first_reading_only_sets_the_baseline() -> None:
    economics = Economics()
    economics.book(1000.0, START, tariff=0.85, co2_factor=0.5)
    # A lifetime counter's past was not produced under our watch.
    assert economics.savings.total == 0
    assert economics.co2_kg.total == 0
    assert economics.pv_high_water == 1000.0


def test_savings_are_energy_times_tariff() -> None:
    economics = Economics()
    readings = [100.0, 100.5, 101.75, 101.75, 104.0]
    for minutes, reading in enumerate(readings):
        economics.book(reading, START + timedelta(minutes=minutes), 0.85, 0.4)
    produced = readings[-1] - readings[0]
    assert economics.savings.total == pytest.approx(produced * 0.85)
    assert economics.savings.today == pytest.approx(produced * 0.85)
    assert economics.co2_kg.total == pytest.approx(produced * 0.4)
    assert economics.pv_high_water == 104.0


def test_tariff_change_does_not_rewrite_the_past() -> None:
    economics = Economics()
    economics.book(10.0, START, 0.50, 0.4)
    economics.book(12.0, START + timedelta(hours=1), 0.50, 0.4)  # 2 kWh at 0.50
    economics.book(15.0, START + timedelta(hours=2), 1.20, 0.1)  # 3 kWh at 1.20
    assert economics.savings.total == pytest.approx(2 * 0.50 + 3 * 1.20)
    assert economics.co2_kg.total == pytest.approx(2 * 0.4 + 3 * 0.1)


def test_glitching_source_is_not_paid_twice() -> None:
    economics = Economics()
    tariff = 1.0
    at = START
    for reading in [10.0, 12.0, 3.0, 0.0, 11.0, 12.0, 13.0]:
        economics.book(reading, at, tariff, 0.5)
        at += timedelta(minutes=1)
    # Paid: 10 → 12, then only 12 → 13; the dip and the climb back are free.
    assert economics.savings.total == pytest.approx(3.0)
    assert economics.pv_high_water == 13.0


def test_missing_reading_books_nothing_but_rolls_the_day() -> None:
    economics = Economics()
    economics.book(10.0, START, 1.0, 0.5)
    economics.book(12.0, START + timedelta(hours=1), 1.0, 0.5)
    economics.book(None, START + timedelta(days=1), 1.0, 0.5)
    assert economics.savings.today == 0
    assert economics.co2_kg.today == 0
    assert economics.savings.total == pytest.approx(2.0)
    assert economics.pv_high_water == 12.0


def test_none_before_any_reading_keeps_no_baseline() -> None:
    economics = Economics()
    economics.book(None, START, 1.0, 0.5)
    assert economics.pv_high_water is None
    economics.book(5.0, START + timedelta(minutes=1), 1.0, 0.5)
    assert economics.pv_high_water == 5.0
    assert economics.savings.total == 0


def test_month_rollover() -> None:
    economics = Economics()
    end_of_month = datetime(2026, 11, 30, 23, 0, tzinfo=TZ)
    economics.book(0.0, end_of_month, 1.0, 0.5)
    economics.book(4.0, end_of_month + timedelta(minutes=30), 1.0, 0.5)
    economics.book(5.0, end_of_month + timedelta(hours=2), 1.0, 0.5)
    assert economics.savings.month == pytest.approx(1.0)
    assert economics.savings.total == pytest.approx(5.0)


def test_round_trip_continues_identically() -> None:
    original = Economics()
    original.book(10.0, START, 0.85, 0.5)
    original.book(13.5, START + timedelta(hours=3), 0.85, 0.5)
    restored = Economics.from_dict(json.loads(json.dumps(original.as_dict())))
    assert restored == original
    for economics in (original, restored):
        economics.book(12.0, START + timedelta(hours=4), 0.85, 0.5)  # glitch
        economics.book(14.0, START + timedelta(hours=5), 0.85, 0.5)
    assert restored == original
    assert restored.savings.total == pytest.approx(4.0 * 0.85)


def test_from_empty_dict() -> None:
    economics = Economics.from_dict({})
    assert economics == Economics()
    assert economics.pv_high_water is None

"""Day / month / lifetime counters."""

from __future__ import annotations

from datetime import date, datetime
import json
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunstream.pysunstream.periods import PeriodCounter

TZ = ZoneInfo("America/Sao_Paulo")


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def test_new_counter_is_empty() -> None:
    counter = PeriodCounter()
    assert (counter.today, counter.month, counter.total, counter.day) == (0, 0, 0, None)


def test_first_roll_only_sets_the_day() -> None:
    counter = PeriodCounter(today=1.0, month=2.0, total=3.0)
    counter.roll(at(2026, 5, 10))
    assert counter.day == date(2026, 5, 10)
    assert (counter.today, counter.month, counter.total) == (1.0, 2.0, 3.0)


def test_add_books_on_all_three_views() -> None:
    counter = PeriodCounter()
    counter.add(1.25, at(2026, 5, 10, 9))
    counter.add(0.5, at(2026, 5, 10, 15))
    assert counter.today == counter.month == counter.total == pytest.approx(1.75)
    assert counter.day == date(2026, 5, 10)


@pytest.mark.parametrize("amount", [0.0, -0.5])
def test_non_positive_amounts_ignored_but_still_roll(amount: float) -> None:
    counter = PeriodCounter()
    counter.add(2.0, at(2026, 5, 10))
    counter.add(amount, at(2026, 5, 11, 0, 1))
    assert counter.day == date(2026, 5, 11)
    assert counter.today == 0.0
    assert counter.month == counter.total == 2.0


def test_new_day_resets_today_only() -> None:
    counter = PeriodCounter()
    counter.add(2.0, at(2026, 5, 10, 23, 59))
    counter.add(0.75, at(2026, 5, 11, 0, 0))
    assert counter.today == 0.75
    assert counter.month == counter.total == pytest.approx(2.75)


def test_skipped_days_reset_today_once() -> None:
    counter = PeriodCounter()
    counter.add(2.0, at(2026, 5, 10))
    counter.add(1.0, at(2026, 5, 20))
    assert counter.today == 1.0
    assert counter.month == counter.total == 3.0


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (at(2026, 5, 31, 23, 59), at(2026, 6, 1, 0, 0)),
        (at(2026, 12, 31, 23, 59), at(2027, 1, 1, 0, 0)),
        # Same month number a year later: still a new month.
        (at(2026, 1, 15), at(2027, 1, 15)),
        (at(2026, 2, 28), at(2026, 3, 1)),
    ],
)
def test_new_month_resets_today_and_month(first: datetime, second: datetime) -> None:
    counter = PeriodCounter()
    counter.add(4.0, first)
    counter.add(1.5, second)
    assert counter.today == counter.month == 1.5
    assert counter.total == 5.5
    assert counter.day == second.date()


def test_late_sample_of_an_earlier_day_never_resets() -> None:
    counter = PeriodCounter()
    counter.add(1.0, at(2026, 5, 11))
    counter.add(0.5, at(2026, 5, 10))
    assert counter.day == date(2026, 5, 11)
    assert counter.today == counter.month == counter.total == 1.5


def test_days_follow_the_wall_clock_of_the_datetime() -> None:
    # 22:00 in São Paulo is 01:00 UTC the next day: the local day decides.
    counter = PeriodCounter()
    counter.add(1.0, at(2026, 5, 10, 12))
    counter.add(1.0, at(2026, 5, 10, 22))
    assert counter.today == 2.0
    assert counter.day == date(2026, 5, 10)


@pytest.mark.parametrize(
    "counter",
    [
        PeriodCounter(),
        PeriodCounter(today=1.5, month=12.25, total=1234.125, day=date(2026, 2, 28)),
    ],
)
def test_round_trip_through_json(counter: PeriodCounter) -> None:
    data = json.loads(json.dumps(counter.as_dict()))
    assert PeriodCounter.from_dict(data) == counter


def test_from_empty_dict_is_a_new_counter() -> None:
    assert PeriodCounter.from_dict({}) == PeriodCounter()


def test_restored_counter_keeps_rolling() -> None:
    counter = PeriodCounter()
    counter.add(3.0, at(2026, 5, 31))
    restored = PeriodCounter.from_dict(counter.as_dict())
    restored.add(1.0, at(2026, 6, 1))
    assert (restored.today, restored.month, restored.total) == (1.0, 1.0, 4.0)

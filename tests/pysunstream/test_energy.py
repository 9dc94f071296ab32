"""Trapezoidal energy metering, midnight splits, gaps and persistence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import json
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunstream.pysunstream.energy import DEFAULT_MAX_GAP, EnergyMeter

TZ = ZoneInfo("America/Sao_Paulo")
BERLIN = ZoneInfo("Europe/Berlin")
J_PER_KWH = 3_600_000


def linear(p0: float, slope: float, start: datetime) -> Callable[[datetime], float]:
    """Power that rises ``slope`` W per second from ``p0`` at ``start``."""
    return lambda t: p0 + slope * (t - start).total_seconds()


def linear_kwh(p0: float, slope: float, start: datetime, a: datetime, b: datetime) -> float:
    """Exact ∫ of :func:`linear` from ``a`` to ``b``, in kWh (antiderivative)."""

    def antiderivative(t: datetime) -> float:
        s = (t - start).total_seconds()
        return p0 * s + slope * s * s / 2

    return (antiderivative(b) - antiderivative(a)) / J_PER_KWH


def test_first_sample_books_nothing() -> None:
    meter = EnergyMeter(channels=("pv",))
    booked = meter.sample(datetime(2026, 5, 10, 12, tzinfo=TZ), {"pv": 3000.0})
    assert booked == {"pv": 0.0}
    assert meter.counters["pv"].total == 0


def test_constant_power_for_an_hour() -> None:
    meter = EnergyMeter(channels=("pv",))
    start = datetime(2026, 5, 10, 12, tzinfo=TZ)
    for minute in range(61):
        meter.sample(start + timedelta(minutes=minute), {"pv": 1500.0})
    assert meter.counters["pv"].total == pytest.approx(1.5, rel=1e-12)


def test_trapezoid_is_exact_for_linear_ramps_at_irregular_intervals() -> None:
    start = datetime(2026, 5, 10, 9, tzinfo=TZ)
    power = linear(200.0, 0.75, start)
    offsets = [0, 7, 19, 60, 61, 300, 301.5, 900, 1500, 2399.25, 3000]
    meter = EnergyMeter(channels=("pv",))
    for offset in offsets:
        t = start + timedelta(seconds=offset)
        booked = meter.sample(t, {"pv": power(t)})
    last = start + timedelta(seconds=offsets[-2])
    end = start + timedelta(seconds=offsets[-1])
    assert booked["pv"] == pytest.approx(linear_kwh(200.0, 0.75, start, last, end), rel=1e-12)
    assert meter.counters["pv"].total == pytest.approx(
        linear_kwh(200.0, 0.75, start, start, end), rel=1e-12
    )


def test_channels_are_independent_and_missing_ones_read_zero() -> None:
    meter = EnergyMeter(channels=("pv", "load", "grid"))
    start = datetime(2026, 5, 10, 12, tzinfo=TZ)
    meter.sample(start, {"pv": 1000.0, "load": 400.0})
    booked = meter.sample(start + timedelta(minutes=6), {"pv": 2000.0, "load": 400.0})
    assert booked["pv"] == pytest.approx(1500 * 360 / J_PER_KWH)
    assert booked["load"] == pytest.approx(400 * 360 / J_PER_KWH)
    assert booked["grid"] == 0.0
    assert meter.counters["grid"].total == 0.0


def test_negative_power_is_clamped_to_zero() -> None:
    meter = EnergyMeter(channels=("pv",))
    start = datetime(2026, 5, 10, 12, tzinfo=TZ)
    meter.sample(start, {"pv": -1000.0})
    assert meter.last_power == {"pv": 0.0}
    booked = meter.sample(start + timedelta(seconds=60), {"pv": 1000.0})
    # From 0 (not -1000) to 1000 W: a triangle, never a net negative.
    assert booked["pv"] == pytest.approx(500 * 60 / J_PER_KWH)
    booked = meter.sample(start + timedelta(seconds=120), {"pv": -5000.0})
    assert booked["pv"] == pytest.approx(500 * 60 / J_PER_KWH)
    assert meter.counters["pv"].total == pytest.approx(1000 * 60 / J_PER_KWH)


def test_gap_longer_than_max_gap_is_not_bridged() -> None:
    meter = EnergyMeter(channels=("pv",))
    start = datetime(2026, 5, 10, 10, tzinfo=TZ)
    meter.sample(start, {"pv": 2000.0})
    after_gap = start + DEFAULT_MAX_GAP + timedelta(seconds=1)
    assert meter.sample(after_gap, {"pv": 2000.0}) == {"pv": 0.0}
    # Metering resumes from the sample after the gap.
    booked = meter.sample(after_gap + timedelta(seconds=90), {"pv": 4000.0})
    assert booked["pv"] == pytest.approx(3000 * 90 / J_PER_KWH)
    assert meter.counters["pv"].total == pytest.approx(booked["pv"])


def test_gap_of_exactly_max_gap_is_bridged() -> None:
    meter = EnergyMeter(channels=("pv",), max_gap=timedelta(minutes=5))
    start = datetime(2026, 5, 10, 10, tzinfo=TZ)
    meter.sample(start, {"pv": 1200.0})
    booked = meter.sample(start + timedelta(minutes=5), {"pv": 1200.0})
    assert booked["pv"] == pytest.approx(0.1)
    assert meter.sample(start + timedelta(minutes=10, seconds=1), {"pv": 1200.0}) == {"pv": 0.0}


def test_default_max_gap_is_a_quarter_hour() -> None:
    assert timedelta(minutes=15) == DEFAULT_MAX_GAP
    assert EnergyMeter(channels=()).max_gap == DEFAULT_MAX_GAP


@pytest.mark.parametrize("back", [timedelta(0), timedelta(seconds=-30)])
def test_repeated_or_backwards_sample_books_nothing(back: timedelta) -> None:
    meter = EnergyMeter(channels=("pv",))
    start = datetime(2026, 5, 10, 10, tzinfo=TZ)
    meter.sample(start, {"pv": 1000.0})
    meter.sample(start + timedelta(minutes=1), {"pv": 1000.0})
    total = meter.counters["pv"].total
    assert meter.sample(start + timedelta(minutes=1) + back, {"pv": 1000.0}) == {"pv": 0.0}
    assert meter.counters["pv"].total == total


def test_gap_still_rolls_the_day() -> None:
    meter = EnergyMeter(channels=("pv",))
    evening = datetime(2026, 5, 10, 18, tzinfo=TZ)
    meter.sample(evening, {"pv": 100.0})
    meter.sample(evening + timedelta(minutes=1), {"pv": 100.0})
    assert meter.counters["pv"].today > 0
    meter.sample(datetime(2026, 5, 11, 8, tzinfo=TZ), {"pv": 100.0})
    assert meter.counters["pv"].today == 0
    assert meter.counters["pv"].total > 0


# -- local midnight ----------------------------------------------------------------

P0, SLOPE = 1200.0, 2.0
BEFORE_MIDNIGHT = timedelta(seconds=400)
AFTER_MIDNIGHT = timedelta(seconds=250)


def _cross_midnight(midnight: datetime) -> tuple[EnergyMeter, dict[str, float], float, float]:
    """Sample a linear ramp 400 s before and 250 s after ``midnight``."""
    t0, t1 = midnight - BEFORE_MIDNIGHT, midnight + AFTER_MIDNIGHT
    power = linear(P0, SLOPE, t0)
    meter = EnergyMeter(channels=("pv",))
    meter.sample(t0, {"pv": power(t0)})
    booked = meter.sample(t1, {"pv": power(t1)})
    before = linear_kwh(P0, SLOPE, t0, t0, midnight)
    after = linear_kwh(P0, SLOPE, t0, midnight, t1)
    return meter, booked, before, after


def test_interval_across_midnight_books_its_whole_integral() -> None:
    meter, booked, before, after = _cross_midnight(datetime(2026, 5, 11, tzinfo=TZ))
    assert before == pytest.approx(0.17778, rel=1e-4)  # sanity of the set-up
    assert booked["pv"] == pytest.approx(before + after, rel=1e-12)
    assert meter.counters["pv"].total == pytest.approx(before + after, rel=1e-12)
    assert meter.counters["pv"].day == datetime(2026, 5, 11).date()


def test_new_day_gets_only_the_share_after_midnight() -> None:
    meter, _, before, after = _cross_midnight(datetime(2026, 5, 11, tzinfo=TZ))
    assert meter.counters["pv"].today == pytest.approx(after, rel=1e-12)
    assert meter.counters["pv"].month == pytest.approx(before + after, rel=1e-12)


def test_new_month_gets_only_the_share_after_midnight() -> None:
    meter, _, before, after = _cross_midnight(datetime(2026, 6, 1, tzinfo=TZ))
    assert meter.counters["pv"].total == pytest.approx(before + after, rel=1e-12)
    assert meter.counters["pv"].month == pytest.approx(after, rel=1e-12)
    assert meter.counters["pv"].today == pytest.approx(after, rel=1e-12)


def test_midnight_is_that_of_the_samples_time_zone() -> None:
    # Midnight UTC is 21:00 in São Paulo: in local time nothing resets there.
    meter = EnergyMeter(channels=("pv",))
    start = datetime(2026, 5, 10, 23, 50, tzinfo=UTC).astimezone(TZ)
    for minute in range(21):
        meter.sample(start + timedelta(minutes=minute), {"pv": 600.0})
    counter = meter.counters["pv"]
    assert counter.today == counter.total == pytest.approx(0.2)
    assert counter.day == datetime(2026, 5, 10).date()


def test_day_of_samples_books_everything_and_resets_at_midnight() -> None:
    meter = EnergyMeter(channels=("load",))
    start = datetime(2026, 5, 10, tzinfo=TZ)
    day_end = start + timedelta(days=1)
    t = start
    while t <= day_end:
        meter.sample(t, {"load": 500.0})
        if t == day_end - timedelta(minutes=5):
            assert meter.counters["load"].today == pytest.approx(0.5 * (24 - 5 / 60))
        t += timedelta(minutes=5)
    counter = meter.counters["load"]
    assert counter.total == pytest.approx(12.0)
    assert counter.day == day_end.date()


# -- daylight saving time ----------------------------------------------------------


def _constant_over_local_day(day: datetime, watts: float) -> EnergyMeter:
    """Sample ``watts`` every 60 s of real time from local 00:00 to 23:59."""
    meter = EnergyMeter(channels=("load",))
    ts = day.timestamp()
    end = (day + timedelta(days=1)).timestamp()
    while ts < end:
        meter.sample(datetime.fromtimestamp(ts, BERLIN), {"load": watts})
        ts += 60
    return meter


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (datetime(2026, 3, 28, tzinfo=BERLIN), 24),
        (datetime(2026, 3, 29, tzinfo=BERLIN), 23),
        (datetime(2026, 10, 25, tzinfo=BERLIN), 25),
    ],
)
def test_real_length_of_local_days(day: datetime, hours: int) -> None:
    # Guards the DST tests' assumptions about the zone database.
    next_day = (day + timedelta(days=1)).timestamp()
    assert next_day - day.timestamp() == hours * 3600


def test_ordinary_berlin_day_is_metered_in_full() -> None:
    meter = _constant_over_local_day(datetime(2026, 3, 28, tzinfo=BERLIN), 1000.0)
    assert meter.counters["load"].today == pytest.approx((24 * 60 - 1) / 60, rel=1e-9)


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (datetime(2026, 3, 29, tzinfo=BERLIN), 23),
        (datetime(2026, 10, 25, tzinfo=BERLIN), 25),
    ],
)
def test_dst_day_is_metered_over_real_time(day: datetime, hours: int) -> None:
    meter = _constant_over_local_day(day, 1000.0)
    counter = meter.counters["load"]
    assert counter.today == pytest.approx((hours * 60 - 1) / 60, rel=1e-9)
    assert counter.total == counter.today


def test_dst_day_totals_stay_sane() -> None:
    # Whatever the DST handling, the day never gains energy it did not see
    # and loses at most one poll interval.
    for day, hours in (
        (datetime(2026, 3, 29, tzinfo=BERLIN), 23),
        (datetime(2026, 10, 25, tzinfo=BERLIN), 25),
    ):
        counter = _constant_over_local_day(day, 1000.0).counters["load"]
        assert (hours * 60 - 2) / 60 - 1e-9 <= counter.today <= (hours * 60 - 1) / 60 + 1e-9


# -- persistence ---------------------------------------------------------------------


def test_round_trip_continues_identically() -> None:
    start = datetime(2026, 5, 31, 23, 0, tzinfo=TZ)
    pv = linear(300.0, 0.5, start)
    original = EnergyMeter(channels=("pv", "load"))
    for minute in range(0, 50, 5):
        t = start + timedelta(minutes=minute)
        original.sample(t, {"pv": pv(t), "load": 450.0})

    restored = EnergyMeter(channels=("pv", "load"))
    restored.restore(json.loads(json.dumps(original.as_dict())))
    assert restored.counters == original.counters
    assert restored.last_power == original.last_power
    assert restored.last_at == original.last_at

    # Across midnight and into a new month, both go on in lock step.
    for minute in range(50, 120, 5):
        t = start + timedelta(minutes=minute)
        expected = original.sample(t, {"pv": pv(t), "load": 450.0})
        assert restored.sample(t, {"pv": pv(t), "load": 450.0}) == expected
    assert restored.counters == original.counters


def test_restore_ignores_unknown_channels() -> None:
    meter = EnergyMeter(channels=("pv",))
    meter.restore(
        {
            "counters": {
                "pv": {"today": 1.0, "month": 2.0, "total": 3.0, "day": "2026-05-10"},
                "wind": {"today": 9.0, "month": 9.0, "total": 9.0, "day": "2026-05-10"},
            },
            "last_at": "2026-05-10T12:00:00-03:00",
            "last_power": {"pv": 800, "wind": 5000},
        }
    )
    assert set(meter.counters) == {"pv"}
    assert meter.counters["pv"].total == 3.0
    assert meter.last_power == {"pv": 800.0}
    booked = meter.sample(datetime(2026, 5, 10, 12, 1, tzinfo=TZ), {"pv": 800.0})
    assert booked["pv"] == pytest.approx(800 * 60 / J_PER_KWH)


def test_restore_from_empty_dict_forgets_the_last_sample() -> None:
    meter = EnergyMeter(channels=("pv",))
    start = datetime(2026, 5, 10, 12, tzinfo=TZ)
    meter.sample(start, {"pv": 800.0})
    meter.sample(start + timedelta(minutes=1), {"pv": 800.0})
    total = meter.counters["pv"].total
    meter.restore({})
    assert meter.last_at is None
    assert meter.last_power == {}
    assert meter.counters["pv"].total == total
    assert meter.sample(start + timedelta(minutes=2), {"pv": 800.0}) == {"pv": 0.0}


def test_as_dict_of_a_new_meter() -> None:
    data = EnergyMeter(channels=("pv",)).as_dict()
    assert data["last_at"] is None
    assert data["last_power"] == {}
    assert data["counters"]["pv"]["total"] == 0.0

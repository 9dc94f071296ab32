"""Generation, consumption and weather profiles of the simulated house."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunstream.pysunstream.simulator.curves import (
    ambient_temperature,
    cloud_transmittance,
    daylight_fraction,
    efficiency,
    house_load,
    pv_power,
)
from custom_components.sunstream.pysunstream.simulator.sun import (
    clear_sky_fraction,
    fallback_fraction,
    solar_elevation,
)

TZ = ZoneInfo("America/Sao_Paulo")
LOCATION = (-23.55, -46.63)
OVERHEAD = (-20.4, -45.0)  # under the late-November sun, near São Paulo's meridian
PEAK_W = 5500.0
SEED = "profiles"
DAY = datetime(2026, 11, 23, tzinfo=TZ)


def every(start: datetime, step: timedelta, count: int) -> list[datetime]:
    return [start + i * step for i in range(count)]


def test_cloud_transmittance_between_30_and_100_percent() -> None:
    values = [cloud_transmittance(SEED, 1_780_000_000 + 45.0 * i) for i in range(20_000)]
    assert all(0.3 <= v <= 1.0 for v in values)
    # Clear spells and thick cloud both happen.
    assert max(values) == 1.0
    assert min(values) < 0.6


def test_efficiency_between_85_and_100_percent() -> None:
    values = [efficiency(SEED, 1_780_000_000 + 45.0 * i) for i in range(10_000)]
    assert all(0.85 <= v <= 1.0 for v in values)
    assert max(values) - min(values) > 0.1


def test_daylight_fraction_with_and_without_location() -> None:
    for when in every(DAY, timedelta(minutes=47), 31):
        assert daylight_fraction(when, None) == fallback_fraction(when)
        assert daylight_fraction(when, LOCATION) == clear_sky_fraction(
            solar_elevation(*LOCATION, when)
        )


@pytest.mark.parametrize("location", [LOCATION, None])
def test_no_pv_at_night(location: tuple[float, float] | None) -> None:
    for hour in (0, 1, 2, 3, 4, 21, 22, 23):
        assert pv_power(DAY + timedelta(hours=hour), location, PEAK_W, SEED) == 0.0


@pytest.mark.parametrize("location", [LOCATION, OVERHEAD, None])
def test_pv_never_exceeds_peak_and_is_never_negative(
    location: tuple[float, float] | None,
) -> None:
    values = [pv_power(t, location, PEAK_W, SEED) for t in every(DAY, timedelta(minutes=3), 480)]
    assert all(0 <= v <= PEAK_W for v in values)
    assert max(values) > 0.25 * PEAK_W


def test_pv_without_location_is_peak_times_efficiency_times_clouds_at_noon() -> None:
    noon = DAY.replace(hour=12)
    seconds = noon.timestamp()
    expected = PEAK_W * efficiency(SEED, seconds) * cloud_transmittance(SEED, seconds)
    assert pv_power(noon, None, PEAK_W, SEED) == pytest.approx(expected)


def test_pv_clear_sky_share_is_capped_at_one_sun() -> None:
    # With the sun overhead the clear sky gives more than 1000 W/m²;
    # the panel's output still tops out at its peak rating.
    noon = max(
        every(DAY.replace(hour=11), timedelta(minutes=1), 120),
        key=lambda t: solar_elevation(*OVERHEAD, t),
    )
    assert daylight_fraction(noon, OVERHEAD) > 1
    seconds = noon.timestamp()
    expected = PEAK_W * efficiency(SEED, seconds) * cloud_transmittance(SEED, seconds)
    assert pv_power(noon, OVERHEAD, PEAK_W, SEED) == pytest.approx(expected)


def test_pv_scales_with_peak_power() -> None:
    for when in every(DAY.replace(hour=7), timedelta(minutes=29), 20):
        small = pv_power(when, LOCATION, 1000.0, SEED)
        assert pv_power(when, LOCATION, 3000.0, SEED) == pytest.approx(3 * small)


def test_pv_follows_the_sun_on_average() -> None:
    # Averaged over several days the clouds wash out and the noon hours win.
    def mean_at(hour: int) -> float:
        days = [DAY + timedelta(days=d, hours=hour) for d in range(20)]
        return sum(pv_power(t, LOCATION, PEAK_W, SEED) for t in days) / len(days)

    assert mean_at(12) > mean_at(9) > mean_at(7) > 0


def test_pv_depends_on_the_seed() -> None:
    times = every(DAY.replace(hour=9), timedelta(minutes=10), 36)
    first = [pv_power(t, LOCATION, PEAK_W, "one") for t in times]
    second = [pv_power(t, LOCATION, PEAK_W, "two") for t in times]
    assert first != second


def test_house_load_is_positive_and_bounded() -> None:
    values = [house_load(t, SEED) for t in every(DAY, timedelta(minutes=2), 7 * 720)]
    # Base 250 W ± 20 %, up to the sum of all peaks + 20 %.
    assert min(values) >= 0.8 * 250 - 1e-9
    assert max(values) <= 1.2 * (250 + 800 + 300 + 1500)


def test_house_load_has_an_evening_peak() -> None:
    def mean_at(hour: float) -> float:
        days = [DAY + timedelta(days=d, hours=hour) for d in range(30)]
        return sum(house_load(t, SEED) for t in days) / len(days)

    night, breakfast, evening = mean_at(3), mean_at(7.5), mean_at(19.5)
    assert evening > breakfast > night
    assert evening > 4 * night


def test_house_load_wraps_around_midnight() -> None:
    # The evening bump reaches past midnight as smoothly as it reaches 23:00.
    before = house_load(DAY - timedelta(seconds=1), SEED)
    after = house_load(DAY, SEED)
    assert after == pytest.approx(before, rel=0.01)


def test_house_load_depends_on_the_seed() -> None:
    when = DAY.replace(hour=19)
    assert house_load(when, "one") != house_load(when, "two")


@pytest.mark.parametrize(("hour", "expected"), [(3, 7.0), (9, 15.0), (15, 23.0), (21, 15.0)])
def test_ambient_temperature_warmest_mid_afternoon(hour: int, expected: float) -> None:
    assert ambient_temperature(DAY.replace(hour=hour)) == pytest.approx(expected)


def test_ambient_temperature_range() -> None:
    values = [ambient_temperature(t) for t in every(DAY, timedelta(minutes=7), 300)]
    assert all(7 - 1e-9 <= v <= 23 + 1e-9 for v in values)

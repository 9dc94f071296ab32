"""Solar position and clear-sky light, checked against astronomy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import itertools
import math
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunstream.pysunstream.simulator.sun import (
    clear_sky_fraction,
    fallback_fraction,
    solar_elevation,
)

# Solar declination near noon UTC on a few 2026 dates (Astronomical Almanac:
# solstices 2026-06-21 08:24 and 2026-12-21 20:50 UTC, equinoxes 2026-03-20
# 14:46 and 2026-09-23 00:05 UTC; the declination moves ≈0.39°/day around an
# equinox and ≈0 around a solstice).
JUNE_SOLSTICE = (date(2026, 6, 21), 23.44)
DECEMBER_SOLSTICE = (date(2026, 12, 21), -23.43)
MARCH_EQUINOX = (date(2026, 3, 20), -0.04)
SEPTEMBER_EQUINOX = (date(2026, 9, 22), 0.19)


def day_scan(
    latitude: float, longitude: float, day: date, step: timedelta = timedelta(minutes=1)
) -> list[tuple[datetime, float]]:
    """Elevation over a whole UTC day."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    count = int(timedelta(days=1) / step)
    return [
        (start + i * step, solar_elevation(latitude, longitude, start + i * step))
        for i in range(count)
    ]


def solar_noon(latitude: float, longitude: float, day: date) -> tuple[datetime, float]:
    """The moment (to the minute) and height of the day's highest sun."""
    return max(day_scan(latitude, longitude, day), key=lambda item: item[1])


@pytest.mark.parametrize(
    ("latitude", "longitude", "day_decl"),
    [
        (0.0, 0.0, MARCH_EQUINOX),
        (52.5, 13.4, JUNE_SOLSTICE),  # Berlin at midsummer: ≈61°
        (52.5, 13.4, DECEMBER_SOLSTICE),  # ... and at midwinter: ≈14°
        (-23.55, -46.63, DECEMBER_SOLSTICE),  # São Paulo: sun almost overhead
        (-33.87, 151.21, JUNE_SOLSTICE),  # Sydney in winter (noon ≈ 02:00 UTC)
        (40.0, -74.0, SEPTEMBER_EQUINOX),
        (0.0, 0.0, JUNE_SOLSTICE),
    ],
)
def test_noon_elevation_is_90_minus_latitude_minus_declination(
    latitude: float, longitude: float, day_decl: tuple[date, float]
) -> None:
    day, declination = day_decl
    _, highest = solar_noon(latitude, longitude, day)
    assert highest == pytest.approx(90 - abs(latitude - declination), abs=0.5)


def test_berlin_midsummer_noon_is_about_61_degrees() -> None:
    # 13:07 CEST is Berlin's solar noon on 21 June.
    when = datetime(2026, 6, 21, 13, 7, tzinfo=ZoneInfo("Europe/Berlin"))
    assert solar_elevation(52.52, 13.405, when) == pytest.approx(60.9, abs=1.0)


@pytest.mark.parametrize(
    ("day", "noon_utc_minutes"),
    [
        # Greenwich solar noon = 12:00 minus the equation of time.
        (date(2026, 2, 11), 12 * 60 + 14.2),  # the sun at its slowest: −14.2 min
        (date(2026, 11, 3), 12 * 60 - 16.4),  # and at its fastest: +16.4 min
        (date(2026, 4, 15), 12 * 60 + 0.0),
        (date(2026, 7, 26), 12 * 60 + 6.5),
    ],
)
def test_solar_noon_follows_the_equation_of_time(day: date, noon_utc_minutes: float) -> None:
    when, _ = solar_noon(30.0, 0.0, day)
    assert when.hour * 60 + when.minute == pytest.approx(noon_utc_minutes, abs=2)


@pytest.mark.parametrize("longitude", [-90.0, -46.63, 15.0, 120.0])
def test_solar_noon_moves_four_minutes_per_degree(longitude: float) -> None:
    day = date(2026, 4, 15)
    greenwich, _ = solar_noon(10.0, 0.0, day)
    local, _ = solar_noon(10.0, longitude, day)
    shift = (greenwich - local).total_seconds() / 60
    assert shift == pytest.approx(4 * longitude, abs=1.5)


@pytest.mark.parametrize("hours_from_noon", [-6, -5, -3, -1, 0, 1, 2, 4, 6])
def test_equinox_sun_at_the_equator_climbs_15_degrees_an_hour(hours_from_noon: int) -> None:
    # With the declination ≈0 the sun moves along the prime vertical, so at
    # latitude 0 its elevation is 90° minus the hour angle.
    noon, _ = solar_noon(0.0, 0.0, MARCH_EQUINOX[0])
    when = noon + timedelta(hours=hours_from_noon)
    expected = 90 - 15 * abs(hours_from_noon)
    assert solar_elevation(0.0, 0.0, when) == pytest.approx(expected, abs=0.5)


@pytest.mark.parametrize(
    ("latitude", "longitude", "zone"),
    [
        (52.52, 13.405, "Europe/Berlin"),
        (-23.55, -46.63, "America/Sao_Paulo"),
        (35.68, 139.69, "Asia/Tokyo"),
    ],
)
@pytest.mark.parametrize("day", [date(2026, 3, 20), date(2026, 6, 21), date(2026, 12, 21)])
def test_below_the_horizon_at_local_midnight(
    latitude: float, longitude: float, zone: str, day: date
) -> None:
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    assert solar_elevation(latitude, longitude, midnight) < -10


def test_polar_night_and_midnight_sun() -> None:
    winter = [e for _, e in day_scan(80.0, 0.0, DECEMBER_SOLSTICE[0])]
    summer = [e for _, e in day_scan(80.0, 0.0, JUNE_SOLSTICE[0])]
    assert max(winter) < 0
    assert max(winter) == pytest.approx(90 - 80 - 23.44, abs=0.5)
    assert min(summer) > 0
    # At solar midnight the sun is as far below the pole as it is high above.
    assert min(summer) == pytest.approx(80 + 23.44 - 90, abs=0.5)


def test_elevation_depends_on_the_instant_not_its_time_zone() -> None:
    instant = datetime(2026, 8, 14, 15, 37, 12, 500_000, tzinfo=UTC)
    reference = solar_elevation(48.1, 11.6, instant)
    for zone in ("Europe/Berlin", "America/Sao_Paulo", "Pacific/Kiritimati"):
        assert solar_elevation(48.1, 11.6, instant.astimezone(ZoneInfo(zone))) == reference


def test_elevation_moves_smoothly_within_the_second() -> None:
    base = datetime(2026, 8, 14, 9, 0, tzinfo=UTC)
    values = [solar_elevation(0, 0, base + timedelta(milliseconds=250 * i)) for i in range(8)]
    steps = [b - a for a, b in itertools.pairwise(values)]
    # The morning sun climbs ≈15°/h, i.e. ≈0.001° per quarter second.
    assert all(0 < step < 0.002 for step in steps)


# -- clear sky ----------------------------------------------------------------------


@pytest.mark.parametrize("elevation", [-90.0, -10.0, -0.001, 0.0])
def test_no_clear_sky_light_below_the_horizon(elevation: float) -> None:
    assert clear_sky_fraction(elevation) == 0.0


def test_clear_sky_light_rises_with_the_sun() -> None:
    elevations = [0.25 * i for i in range(1, 361)]
    values = [clear_sky_fraction(e) for e in elevations]
    assert all(b > a for a, b in itertools.pairwise(values))
    assert values[0] > 0


def test_clear_sky_light_overhead_is_about_one_sun() -> None:
    assert 0.9 <= clear_sky_fraction(90.0) <= 1.1


@pytest.mark.parametrize(
    ("elevation", "low", "high"),
    [
        # Typical clear-sky global horizontal irradiance, W/m² / 1000.
        (2.0, 0.0, 0.05),
        (30.0, 0.35, 0.60),
        (60.0, 0.75, 0.95),
    ],
)
def test_clear_sky_light_is_plausible(elevation: float, low: float, high: float) -> None:
    assert low <= clear_sky_fraction(elevation) <= high


def test_air_mass_makes_low_sun_weaker_than_geometry_alone() -> None:
    # Horizontal irradiance falls faster than sin(elevation): more atmosphere.
    overhead = clear_sky_fraction(90.0)
    for elevation in (5.0, 15.0, 30.0, 45.0):
        assert clear_sky_fraction(elevation) < overhead * math.sin(math.radians(elevation))


# -- the curve for systems without a location --------------------------------------------


def _local(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 6, 21, hour, minute, second, tzinfo=ZoneInfo("America/Sao_Paulo"))


def test_fallback_curve_landmarks() -> None:
    assert fallback_fraction(_local(6)) == pytest.approx(0, abs=1e-12)
    assert fallback_fraction(_local(18)) == pytest.approx(0, abs=1e-12)
    assert fallback_fraction(_local(12)) == pytest.approx(1)
    assert fallback_fraction(_local(9)) == pytest.approx(math.sqrt(2) / 2)


@pytest.mark.parametrize(("hour", "minute"), [(0, 0), (3, 0), (5, 59), (18, 1), (23, 59)])
def test_fallback_curve_is_zero_at_night(hour: int, minute: int) -> None:
    assert fallback_fraction(_local(hour, minute)) == 0.0


def test_fallback_curve_is_symmetric_about_noon_and_uses_seconds() -> None:
    for minutes in range(0, 6 * 60, 17):
        morning = _local(12) - timedelta(minutes=minutes, seconds=30)
        afternoon = _local(12) + timedelta(minutes=minutes, seconds=30)
        assert fallback_fraction(morning) == pytest.approx(fallback_fraction(afternoon))
    assert fallback_fraction(_local(7, 0, 30)) > fallback_fraction(_local(7, 0, 0))

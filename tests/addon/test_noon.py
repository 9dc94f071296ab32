"""The app tests' and benchmarks' Home Assistant places its simulated system where it is noon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.sunstream.pysunstream.simulator.sun import solar_elevation

from .conftest import longitude_at_noon

# The latitude of the test Home Assistant (tests/addon/conftest.py, São Paulo).
LATITUDE = -23.55


def test_the_sun_is_high_wherever_the_run_is_made() -> None:
    """At any hour of a summer's or a winter's day the system's sun is well up."""
    for day in (datetime(2026, 12, 5, tzinfo=UTC), datetime(2026, 6, 21, tzinfo=UTC)):
        for minutes in range(0, 24 * 60, 17):
            when = day + timedelta(minutes=minutes)
            elevation = solar_elevation(LATITUDE, longitude_at_noon(when), when)
            # Noon in June at 23.55° S is 43° up; the hour's fraction and the
            # equation of time move it a few degrees.
            assert elevation > 38, (when, elevation)

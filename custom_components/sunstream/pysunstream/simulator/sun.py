"""Where the sun is and how much light reaches a panel under a clear sky.

Solar position uses NOAA's general solar position equations (accurate to a
fraction of a degree, plenty for a simulated roof); clear-sky irradiance uses
Meinel's air-mass attenuation with Kasten & Young's air mass.
"""

from __future__ import annotations

from datetime import UTC, datetime
import math

SOLAR_CONSTANT = 1353.0  # W/m², as used by Meinel's model
STC_IRRADIANCE = 1000.0  # W/m², the irradiance a panel's peak power refers to


def solar_elevation(latitude: float, longitude: float, when: datetime) -> float:
    """Sun elevation above the horizon in degrees (negative at night)."""
    utc = when.astimezone(UTC)
    hours = utc.hour + utc.minute / 60 + (utc.second + utc.microsecond / 1e6) / 3600
    gamma = 2 * math.pi / 365 * (utc.timetuple().tm_yday - 1 + (hours - 12) / 24)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    true_solar_minutes = hours * 60 + eqtime + 4 * longitude
    hour_angle = math.radians(true_solar_minutes / 4 - 180)
    lat = math.radians(latitude)
    cos_zenith = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(
        hour_angle
    )
    return 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def clear_sky_fraction(elevation: float) -> float:
    """Global horizontal irradiance under a clear sky, as a fraction of STC."""
    if elevation <= 0:
        return 0.0
    air_mass = 1 / (math.sin(math.radians(elevation)) + 0.50572 * (elevation + 6.07995) ** -1.6364)
    direct = SOLAR_CONSTANT * 0.7 ** (air_mass**0.678)
    # About a tenth of the light on a horizontal panel arrives diffuse.
    global_horizontal = 1.1 * direct * math.sin(math.radians(elevation))
    return float(global_horizontal / STC_IRRADIANCE)


def fallback_fraction(local: datetime) -> float:
    """The original demo's daylight curve, for systems with no location.

    ``sin((hour - 6) / 12 · π)``: zero at 06:00 and 18:00 local time, one at
    noon.
    """
    hour = local.hour + local.minute / 60 + local.second / 3600
    return max(0.0, math.sin((hour - 6) / 12 * math.pi))

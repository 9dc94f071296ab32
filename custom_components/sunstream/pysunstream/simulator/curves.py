"""Generation and consumption profiles of the simulated house."""

from __future__ import annotations

from datetime import datetime
import math

from .noise import value_noise
from .sun import clear_sky_fraction, fallback_fraction, solar_elevation

CLOUD_PERIOD_SLOW = 1800.0
CLOUD_PERIOD_FAST = 300.0
EFFICIENCY_PERIOD = 600.0
LOAD_PERIOD = 900.0


def cloud_transmittance(seed: str, seconds: float) -> float:
    """Share of clear-sky light that gets through the clouds (0.3–1)."""
    cover = 0.7 * value_noise(seed, "cloud-slow", seconds, CLOUD_PERIOD_SLOW)
    cover += 0.3 * value_noise(seed, "cloud-fast", seconds, CLOUD_PERIOD_FAST)
    cloudiness = min(1.0, max(0.0, (cover - 0.45) / 0.45))
    return 1 - 0.7 * cloudiness


def efficiency(seed: str, seconds: float) -> float:
    """System efficiency (soiling, heat, inverter), drifting in 85–100 %."""
    return 0.85 + 0.15 * value_noise(seed, "efficiency", seconds, EFFICIENCY_PERIOD)


def daylight_fraction(local: datetime, location: tuple[float, float] | None) -> float:
    """Clear-sky output as a share of peak power."""
    if location is None:
        return fallback_fraction(local)
    return clear_sky_fraction(solar_elevation(location[0], location[1], local))


def pv_power(
    local: datetime,
    location: tuple[float, float] | None,
    peak_w: float,
    seed: str,
) -> float:
    """Photovoltaic output in W at ``local`` (a time-zone aware datetime)."""
    seconds = local.timestamp()
    fraction = daylight_fraction(local, location)
    if fraction <= 0:
        return 0.0
    return (
        peak_w * min(1.0, fraction) * efficiency(seed, seconds) * cloud_transmittance(seed, seconds)
    )


def _bump(hour: float, centre: float, width: float) -> float:
    distance = min(abs(hour - centre), 24 - abs(hour - centre))
    return math.exp(-((distance / width) ** 2) / 2)


def house_load(local: datetime, seed: str) -> float:
    """Household consumption in W: base load, breakfast and evening peaks."""
    hour = local.hour + local.minute / 60 + local.second / 3600
    shape = (
        250
        + 800 * _bump(hour, 7.5, 1.0)
        + 300 * _bump(hour, 13.0, 2.0)
        + 1500 * _bump(hour, 19.5, 1.5)
    )
    return shape * (0.8 + 0.4 * value_noise(seed, "load", local.timestamp(), LOAD_PERIOD))


def ambient_temperature(local: datetime) -> float:
    """Outdoor temperature in °C: 15 °C mean, warmest mid-afternoon."""
    hour = local.hour + local.minute / 60
    return 15 + 8 * math.sin((hour - 9) / 24 * 2 * math.pi)

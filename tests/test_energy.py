"""Energy counters: integral accuracy, local-midnight rollover, monotonic totals."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunstream.const import CONF_UPDATE_INTERVAL, DOMAIN
from custom_components.sunstream.pysunstream.simulator.curves import pv_power

from .conftest import LOCATION, TIME_ZONE, advance, entry_options, float_state, setup_entry

TZ = ZoneInfo(TIME_ZONE)
PV_TODAY = "sensor.rooftop_pv_energy_today"
PV_MONTH = "sensor.rooftop_pv_energy_this_month"
PV_TOTAL = "sensor.rooftop_pv_energy_total"


def _reference_kwh(start: datetime, end: datetime, peak_w: float, seed: str) -> float:
    """∫ PV power dt by a fine midpoint rule, independent of the integration."""
    step = 5.0
    total = 0.0
    t = start + timedelta(seconds=step / 2)
    while t < end:
        total += pv_power(t, LOCATION, peak_w, seed) * step
        t += timedelta(seconds=step)
    return total / 3_600_000


async def test_day_integral_and_rollover(
    located_hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A simulated day: the counter matches ∫power, then resets at local midnight."""
    hass = located_hass
    # The last day of a month, so the month total must reset too.
    start = datetime(2026, 11, 30, 0, 0, 0, tzinfo=TZ)
    freezer.move_to(start)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Rooftop",
        unique_id="sim-rooftop",
        data={"source": "simulated", "pv_peak_kw": 5.5, "battery_kwh": 10.0},
        options=entry_options(**{CONF_UPDATE_INTERVAL: 60}),
    )
    await setup_entry(hass, entry)
    month_before = float_state(hass, PV_MONTH)

    # 21:00 local is midnight UTC: nothing may reset there.
    await advance(hass, freezer, 21 * 3600 + 30, step=60)
    assert float_state(hass, PV_TODAY) > 1.0

    end_of_day = start + timedelta(hours=23, minutes=59)
    await advance(hass, freezer, (end_of_day - datetime.now(TZ)).total_seconds(), step=60)
    today = float_state(hass, PV_TODAY)
    reference = _reference_kwh(start, end_of_day, 5500, "sim-rooftop")
    assert reference > 5
    assert abs(today - reference) / reference < 0.005, (today, reference)
    assert float_state(hass, PV_MONTH) >= month_before + today - 0.002
    total_before_midnight = float_state(hass, PV_TOTAL)

    await advance(hass, freezer, 90, step=60)  # now 00:00:30 on 1 December
    assert datetime.now(TZ).day == 1
    assert float_state(hass, PV_TODAY) == 0.0
    assert float_state(hass, PV_MONTH) == 0.0
    assert float_state(hass, PV_TOTAL) == total_before_midnight
    savings_today = hass.states.get("sensor.rooftop_savings_today")
    assert savings_today is not None
    assert float(savings_today.state) == 0.0
    assert savings_today.attributes["last_reset"] == "2026-12-01T00:00:00-03:00"
    assert float_state(hass, "sensor.rooftop_savings_total") == pytest.approx(
        0.85 * total_before_midnight, abs=0.005
    )


async def test_totals_survive_reload(
    located_hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> None:
    hass = located_hass
    await setup_entry(hass, config_entry)
    await advance(hass, frozen, 600)
    total = float_state(hass, PV_TOTAL)
    assert total > 0

    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert float_state(hass, PV_TOTAL) >= total
    await advance(hass, frozen, 60)
    assert float_state(hass, PV_TOTAL) > total


async def test_total_never_goes_backwards_after_glitch(
    located_hass: HomeAssistant,
    config_entry: MockConfigEntry,
    frozen: FrozenDateTimeFactory,
    hass_storage: dict[str, dict[str, object]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The source loses its counters across a restart: the sensor holds the highest value.

    The highest value is saved with the system (its store), not taken from
    the state Home Assistant remembers for the entity id (tests/test_totals.py).
    """
    hass = located_hass
    await setup_entry(hass, config_entry)
    await advance(hass, frozen, 600)
    total = float_state(hass, PV_TOTAL)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()

    saved = hass_storage[f"{DOMAIN}.{config_entry.entry_id}"]["data"]
    assert isinstance(saved, dict)
    assert saved["totals"]["pv_energy_total"] == total
    saved["source"]["meter"]["counters"]["pv"]["total"] = 0.0  # the glitch

    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await advance(hass, frozen, 60)
    assert float_state(hass, PV_TOTAL) == total
    assert caplog.text.count("went backwards") == 1


async def test_no_location_uses_daylight_curve(
    hass: HomeAssistant, config_entry: MockConfigEntry, frozen: FrozenDateTimeFactory
) -> None:
    """Without a home location the seed's sin((hour − 6)/12·π) curve drives PV."""
    await hass.config.async_update(latitude=0.0, longitude=0.0, time_zone=TIME_ZONE)
    await setup_entry(hass, config_entry)
    now = datetime.now(TZ)
    shown = float_state(hass, "sensor.rooftop_pv_power")
    assert shown == round(pv_power(now, None, 5500, "sim-rooftop"), 1)
    assert shown != round(pv_power(now, (0.0, 0.0), 5500, "sim-rooftop"), 1)

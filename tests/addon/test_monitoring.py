"""MonitoringData: the document against a real Home Assistant's states and statistics,
and the builder's rules on their own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import math
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.components.recorder import Recorder, get_instance
from homeassistant.components.recorder.db_schema import StatisticsShortTerm
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import async_import_statistics
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from sunstream_monitor.hub import SystemInfo
from sunstream_monitor.monitoring import (
    ChartData,
    EntityState,
    build_document,
    chart_window,
    hourly_chart,
    iso_utc,
    system_status,
)

from .conftest import HomeAssistantServer
from .ha_feed_support import (
    expected_chart,
    expected_document,
    running_feed,
    sunstream_entities,
    until,
)

# -- against Home Assistant ---------------------------------------------------------


async def test_unknown_and_odd_values(ha_server: HomeAssistantServer) -> None:
    """unknown, unavailable and non-numbers are null; units are converted."""
    hass = ha_server.hass
    entities = sunstream_entities(hass, ha_server.system_id)
    # Stop polling so the coordinator doesn't overwrite what the test writes.
    await ha_server.entry.runtime_data.coordinator.async_shutdown()
    async with running_feed(ha_server) as run:

        def put(key: str, state: str, **attributes: Any) -> None:
            entity_id = entities[key]
            old = hass.states.get(entity_id)
            assert old is not None
            hass.states.async_set(entity_id, state, {**old.attributes, **attributes})

        put("grid_power", "unknown")
        put("inverter_temperature", "104", unit_of_measurement="°F")
        put("pv_power", "not a number")
        put("battery_soc", "unavailable")
        put("battery_mode", "unknown")
        put("load_power", "2.5", unit_of_measurement="kW")
        put("battery_power", "-1500")
        system = run.hub.systems[ha_server.system_id]
        await until(
            lambda: system.document == expected_document(hass, ha_server.system_id),
            what="the document to match hass.states",
        )
        document = system.document
        assert document is not None
        assert document["grid"]["power_kw"] is None
        assert document["current_generation_kw"] is None
        assert document["battery"]["soc_percent"] is None
        assert document["battery"]["mode"] is None
        assert document["battery"]["power_kw"] == -1.5
        assert document["load"]["power_kw"] == 2.5
        assert document["inverter"]["temperature_c"] == 40.0
        assert document["status"] == "online"


class TestChartFromRecorder:
    """chart_data comes from the recorder's hourly (and 5-minute) statistics."""

    @pytest.fixture(autouse=True)
    def auto_enable_custom_integrations(
        self, recorder_mock: Recorder, enable_custom_integrations: None
    ) -> None:
        """The recorder must start before Home Assistant."""

    async def test_chart_data(self, ha_server: HomeAssistantServer) -> None:
        hass = ha_server.hass
        now = datetime.now(UTC)
        next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if (next_hour - now).total_seconds() < 5:
            await asyncio.sleep((next_hour - now).total_seconds() + 0.1)  # don't straddle hours
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        statistic_id = sunstream_entities(hass, ha_server.system_id)["pv_energy_total"]
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=None,
            source="recorder",
            statistic_id=statistic_id,
            unit_class="energy",
            unit_of_measurement="kWh",
        )
        # Lifetime sums by hours ago; 30 and 25 are before the window, the
        # gaps are hours without statistics.
        sums = {30: 100.0, 25: 101.5, 23: 102.0, 20: 103.25, 5: 110.0, 1: 112.5}
        async_import_statistics(
            hass,
            metadata,
            [
                StatisticData(start=hour - timedelta(hours=ago), state=total, sum=total)
                for ago, total in sums.items()
            ],
        )
        # The running hour has no hourly row yet: 5-minute rows fill it.
        get_instance(hass).async_import_statistics(
            metadata,
            [
                StatisticData(start=hour - timedelta(minutes=5), state=112.5, sum=112.5),
                StatisticData(start=hour, state=113.0, sum=113.0),
            ],
            StatisticsShortTerm,
        )
        await async_wait_recording_done(hass)

        # What HA's "change" means: this hour's sum minus the previous known one.
        values = {
            hour - timedelta(hours=23): 0.5,
            hour - timedelta(hours=20): 1.25,
            hour - timedelta(hours=5): 6.75,
            hour - timedelta(hours=1): 2.5,
            hour: 0.5,
        }
        async with running_feed(ha_server) as run:
            system = run.hub.systems[ha_server.system_id]
            await until(
                lambda: (
                    system.document is not None
                    and system.document["chart_data"]
                    == expected_chart(
                        hass, values, today_kwh=system.document["today_generation_kwh"]
                    )
                ),
                what="the chart from statistics",
            )
            await until(
                lambda: (
                    system.document
                    == expected_document(hass, ha_server.system_id, chart_values=values)
                ),
                what="the whole document",
            )
        chart = system.document["chart_data"]
        assert len(chart["labels"]) == 24
        assert chart["labels"][-1] == hour.astimezone(ZoneInfo(hass.config.time_zone)).strftime(
            "%H:00"
        )


# -- the builder's rules ----------------------------------------------------------

INFO = SystemInfo(system_id="s1", name="Roof", source="simulated")
NOW = datetime(2026, 11, 23, 14, 30, 5, tzinfo=UTC)
EMPTY = ChartData(labels=("00:00",) * 24, values=(0.0,) * 24)


def _state(value: str, unit: str | None = None, updated: float | None = None) -> EntityState:
    attributes = {"unit_of_measurement": unit} if unit else {}
    return EntityState(value, attributes, last_changed=updated, last_updated=updated)


def _document(states: dict[str, EntityState], **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"has_battery": True, "currency": "EUR", "chart": EMPTY, "now": NOW}
    return build_document(INFO, states, **(options | kwargs))


@pytest.mark.parametrize(
    ("state", "unit", "expected"),
    [
        ("1234", "W", 1.234),
        ("1.5", "kW", 1.5),
        ("0.002", "MW", 2.0),
        ("-800", None, -0.8),  # no unit: the integration's own (W)
        ("unknown", "W", None),
        ("unavailable", "W", None),
        ("", "W", None),
        ("on", "W", None),
        ("nan", "W", None),
        ("inf", "W", None),
        ("5", "BTU/h", None),  # a unit we can't convert: null, not a wrong number
    ],
)
def test_power_in_kw(state: str, unit: str | None, expected: float | None) -> None:
    document = _document({"pv_power": _state(state, unit)})
    assert document["current_generation_kw"] == expected


@pytest.mark.parametrize(
    ("state", "unit", "expected"),
    [("12.5", "kWh", 12.5), ("12500", "Wh", 12.5), ("0.0125", "MWh", 12.5), ("45", "MJ", 12.5)],
)
def test_energy_in_kwh(state: str, unit: str, expected: float) -> None:
    document = _document({"pv_energy_total": _state(state, unit)})
    assert math.isclose(document["total_generation_kwh"], expected)


@pytest.mark.parametrize(
    ("state", "unit", "expected"),
    [("40", "°C", 40.0), ("104", "°F", 40.0), ("313.15", "K", 40.0), ("40", "°X", None)],
)
def test_temperature_in_celsius(state: str, unit: str, expected: float | None) -> None:
    document = _document({"inverter_temperature": _state(state, unit)})
    value = document["inverter"]["temperature_c"]
    assert value == expected if expected is None else math.isclose(value, expected)


def test_mass_and_plain_numbers() -> None:
    document = _document(
        {
            "co2_offset": _state("2.5", "t"),
            "trees_equivalent": _state("3.25", "trees"),
            "savings_total": _state("99.5", "EUR"),
        }
    )
    assert document["co2_offset_kg"] == 2500.0
    assert document["trees_planted_equivalent"] == 3.25
    assert document["total_savings"] == 99.5
    assert document["currency"] == "EUR"


@pytest.mark.parametrize(
    ("connectivity", "entry_state", "expected"),
    [
        ("on", None, "online"),
        ("off", None, "offline"),
        ("off", "not_loaded", "offline"),
        ("unavailable", "not_loaded", "maintenance"),
        ("unavailable", None, "maintenance"),
        (None, "setup_error", "maintenance"),
        (None, "setup_retry", "offline"),
        ("unavailable", "setup_retry", "offline"),
        ("unknown", "loaded", "maintenance"),
    ],
)
def test_status(connectivity: str | None, entry_state: str | None, expected: str) -> None:
    state = _state(connectivity) if connectivity is not None else None
    assert system_status(state, entry_state) == expected


def test_battery_block_only_with_a_battery() -> None:
    assert _document({}, has_battery=False)["battery"] is None
    assert _document({})["battery"] == {
        "soc_percent": None,
        "power_kw": None,
        "charge_energy_kwh": None,
        "discharge_energy_kwh": None,
        "mode": None,
    }


def test_empty_system_document_is_complete_and_null() -> None:
    document = _document({}, has_battery=False, currency=None)
    assert document == {
        "system_id": "s1",
        "name": "Roof",
        "source": "simulated",
        "status": "maintenance",
        "current_generation_kw": None,
        "today_generation_kwh": None,
        "monthly_generation_kwh": None,
        "total_generation_kwh": None,
        "today_savings": None,
        "monthly_savings": None,
        "total_savings": None,
        "currency": None,
        "co2_offset_kg": None,
        "trees_planted_equivalent": None,
        "battery": None,
        "grid": {"power_kw": None, "import_energy_kwh": None, "export_energy_kwh": None},
        "load": {"power_kw": None},
        "inverter": {"temperature_c": None, "status": None},
        "chart_data": {"labels": list(EMPTY.labels), "values": list(EMPTY.values)},
        "last_updated": "2026-11-23T14:30:05.000Z",
    }


def test_last_updated_is_the_newest_state() -> None:
    older = NOW.timestamp() - 60
    newer = NOW.timestamp() - 5.25
    document = _document(
        {"pv_power": _state("1", "W", older), "grid_power": _state("2", "W", newer)}
    )
    assert document["last_updated"] == "2026-11-23T14:29:59.750Z"
    # Same states, later clock: the same document (nothing to send).
    assert (
        _document(
            {"pv_power": _state("1", "W", older), "grid_power": _state("2", "W", newer)},
            now=NOW + timedelta(minutes=5),
        )
        == document
    )
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"


def test_chart_window_and_labels_across_dst() -> None:
    """Europe/Berlin leaves summer time on 2026-10-25: 02:00 local happens twice."""
    zone = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 10, 25, 12, 10, tzinfo=UTC)
    window = chart_window(now)
    assert window[-1] == datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    assert window[0] == datetime(2026, 10, 24, 13, 0, tzinfo=UTC)
    chart = hourly_chart(now, zone)
    assert len(chart.labels) == 24
    assert chart.labels[-1] == "13:00"
    assert chart.labels.count("02:00") == 2
    assert chart.values == (0.0,) * 24


def test_chart_values_from_rows() -> None:
    zone = ZoneInfo("America/Sao_Paulo")
    now = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    window = chart_window(now)

    def ms(moment: datetime) -> int:
        return int(moment.timestamp() * 1000)

    hourly = [
        {"start": ms(window[0]), "end": 0, "change": 0.25},
        {"start": ms(window[10]), "end": 0, "change": 1.5004},
        {"start": ms(window[0] - timedelta(hours=1)), "end": 0, "change": 9.0},  # not shown
        {"start": ms(window[12]), "end": 0, "change": None},
    ]
    five_minute = [
        {"start": ms(window[-1]), "change": 0.1},
        {"start": ms(window[-1] + timedelta(minutes=5)), "change": 0.2},
        {"start": ms(window[-1] - timedelta(minutes=5)), "change": 7.0},  # last hour's
    ]
    chart = hourly_chart(now, zone, hourly, five_minute)
    expected = [0.0] * 24
    expected[0], expected[10], expected[23] = 0.25, 1.5, 0.3
    assert list(chart.values) == expected
    assert chart.labels[0] == "12:00"  # 15:00 UTC the day before, at UTC-3
    assert chart.labels[-1] == "11:00"
    # An hourly row for the running hour wins over the 5-minute rows.
    with_hour = hourly_chart(now, zone, [{"start": ms(window[-1]), "change": 2.0}], five_minute)
    assert with_hour.values[-1] == 2.0


def test_chart_includes_the_current_unfinished_hour() -> None:
    """Was: a new system showed "Today 0.1 kWh" over a chart of zeros (no statistics yet)."""
    zone = ZoneInfo("America/Sao_Paulo")  # UTC-3: today began at 03:00 UTC
    now = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    chart = hourly_chart(now, zone)
    new = _document({"pv_energy_today": _state("0.1", "kWh")}, chart=chart, zone=zone, now=now)
    assert new["today_generation_kwh"] == 0.1
    assert new["chart_data"]["values"] == [0.0] * 23 + [0.1]

    # Hours with statistics keep them; the running hour gets what they do not account for.
    window = chart_window(now)
    hourly = [
        {"start": int(window[8].timestamp() * 1000), "change": 9.0},  # 20:00 local, yesterday
        {"start": int(window[20].timestamp() * 1000), "change": 1.25},  # 08:00 local, today
        {"start": int(window[22].timestamp() * 1000), "change": 2.5},
    ]
    five_minute = [{"start": int(window[23].timestamp() * 1000), "change": 0.5}]
    chart = hourly_chart(now, zone, hourly, five_minute)
    doc = _document({"pv_energy_today": _state("4750", "Wh")}, chart=chart, zone=zone, now=now)
    values = doc["chart_data"]["values"]
    midnight = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    today = [v for start, v in zip(window, values, strict=True) if start >= midnight]
    assert values[23] == 1.0
    assert sum(today) == pytest.approx(doc["today_generation_kwh"])
    assert values[8] == 9.0
    # Statistics ahead of the live total (a counter reset) are never cut back.
    behind = _document({"pv_energy_today": _state("1", "kWh")}, chart=chart, zone=zone, now=now)
    assert behind["chart_data"]["values"][23] == 0.5
    # Without a today total, or with a chart of an hour ago, the chart is as computed.
    unknown = _document({}, chart=chart, zone=zone, now=now)
    assert unknown["chart_data"]["values"][23] == 0.5
    later = now + timedelta(hours=1)
    stale = _document({"pv_energy_today": _state("9", "kWh")}, chart=chart, zone=zone, now=later)
    assert stale["chart_data"] == chart.as_dict()

"""Helpers for the Home Assistant feed tests: a running feed, a hub recorder,
and the MonitoringData document computed independently from ``hass.states``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr, entity_registry as er

from sunstream_monitor.feeds.ha import HomeAssistantFeed
from sunstream_monitor.hub import Hub, HubEvent, System
from sunstream_monitor.settings import Settings

from .conftest import HomeAssistantServer


@dataclass
class HubRecorder:
    """A hub listener that keeps everything it hears."""

    events: list[HubEvent] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    systems_changes: int = 0

    def on_systems(self, hub: Hub) -> None:
        self.systems_changes += 1

    def on_state(self, system: System) -> None:
        assert system.document is not None
        self.states.append(system.document)

    def on_event(self, event: HubEvent) -> None:
        self.events.append(event)

    def of_kind(self, kind: str) -> list[HubEvent]:
        return [event for event in self.events if event.kind == kind]


async def until(
    predicate: Callable[[], object], *, within: float = 5.0, what: str = "condition"
) -> None:
    """Wait (polling the loop) until ``predicate()`` is true; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class RunningFeed:
    """A feed running against the test's Home Assistant."""

    feed: HomeAssistantFeed
    hub: Hub
    recorder: HubRecorder
    task: asyncio.Task[None]


@asynccontextmanager
async def running_feed(
    ha: HomeAssistantServer, *, token: str | None = None, ready: bool = True
) -> AsyncIterator[RunningFeed]:
    """Run a feed against ``ha``; wait until it is in sync unless ``ready`` is False."""
    hub = Hub()
    recorder = HubRecorder()
    hub.add_listener(recorder)
    settings = Settings(ha_url=ha.ws_url, ha_token=token or ha.token)
    async with aiohttp.ClientSession() as session:
        feed = HomeAssistantFeed(settings, hub, session)
        task = asyncio.create_task(feed.run())
        try:
            if ready:
                await until(
                    lambda: hub.feed_connected and ha.system_id in hub.systems,
                    what="the feed to connect",
                )
            yield RunningFeed(feed=feed, hub=hub, recorder=recorder, task=task)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# -- the document, computed independently ---------------------------------------


def sunstream_entities(hass: HomeAssistant, system_id: str) -> dict[str, str]:
    """Entity id by key (unique id minus the system id) for one system."""
    registry = er.async_get(hass)
    prefix = f"{system_id}_"
    return {
        entry.unique_id.removeprefix(prefix): entry.entity_id
        for entry in registry.entities.values()
        if entry.platform == "sunstream" and entry.unique_id.startswith(prefix)
    }


def system_device(hass: HomeAssistant, system_id: str) -> dr.DeviceEntry:
    entry = next(
        e
        for e in hass.config_entries.async_entries("sunstream")
        if (e.unique_id or e.entry_id) == system_id
    )
    device = dr.async_get(hass).async_get_device_by_identifier(
        ("sunstream", system_id), config_entry_id=entry.entry_id
    )
    assert device is not None
    return device


def system_device_id(hass: HomeAssistant, system_id: str) -> str:
    return system_device(hass, system_id).id


def _number(state: State | None, divisor: float = 1.0) -> float | None:
    if state is None or state.state in ("unknown", "unavailable"):
        return None
    try:
        return float(state.state) / divisor
    except ValueError:
        return None


def _kilo(state: State | None, base_unit: str) -> float | None:
    """W → kW, Wh → kWh; kW or kWh as they are."""
    if state is None:
        return None
    unit = state.attributes.get("unit_of_measurement")
    if unit == base_unit:
        return _number(state, 1000.0)
    assert unit == f"k{base_unit}", f"{state.entity_id} has unit {unit}"
    return _number(state)


def _celsius(state: State | None) -> float | None:
    value = _number(state)
    if value is None or state is None:
        return None
    unit = state.attributes.get("unit_of_measurement")
    assert unit in ("°C", "°F"), f"{state.entity_id} has unit {unit}"
    return (value - 32.0) * 5.0 / 9.0 if unit == "°F" else value


def _text(state: State | None) -> str | None:
    if state is None or state.state in ("unknown", "unavailable"):
        return None
    return state.state


def expected_chart(
    hass: HomeAssistant,
    values: dict[datetime, float] | None = None,
    *,
    today_kwh: float | None = None,
) -> dict[str, list[Any]]:
    """24 hours ending with the current one; ``values`` by UTC hour start.

    With ``today_kwh``, the current hour also holds whatever of today's
    generation the hours of today before it do not (never less than its own
    value), so the hours of today add up to today's total.
    """
    values = values or {}
    zone = ZoneInfo(hass.config.time_zone)
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    starts = [hour - timedelta(hours=23 - i) for i in range(24)]
    shown = [round(values.get(start, 0.0), 3) for start in starts]
    if today_kwh is not None:
        midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        earlier = sum(
            v for start, v in zip(starts[:-1], shown[:-1], strict=True) if start >= midnight
        )
        shown[-1] = round(max(shown[-1], today_kwh - earlier), 3)
    return {
        "labels": [start.astimezone(zone).strftime("%H:%M") for start in starts],
        "values": shown,
    }


def expected_document(
    hass: HomeAssistant,
    system_id: str,
    *,
    chart_values: dict[datetime, float] | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """The MonitoringData document ``hass.states`` calls for right now."""
    entities = sunstream_entities(hass, system_id)
    states = {key: hass.states.get(entity_id) for key, entity_id in entities.items()}

    def get(key: str) -> State | None:
        return states.get(key)

    connectivity = get("connectivity")
    if status is None:
        status = {"on": "online", "off": "offline"}.get(
            connectivity.state if connectivity else "", "maintenance"
        )
    device = system_device(hass, system_id)
    known = [
        state.last_updated
        for key, state in states.items()
        if state is not None and (key in DOCUMENT_KEYS)
    ]
    newest = max(known).astimezone(UTC)
    return {
        "system_id": system_id,
        "name": device.name_by_user or device.name,
        "source": "simulated",
        "status": status,
        "current_generation_kw": _kilo(get("pv_power"), "W"),
        "today_generation_kwh": _kilo(get("pv_energy_today"), "Wh"),
        "monthly_generation_kwh": _kilo(get("pv_energy_month"), "Wh"),
        "total_generation_kwh": _kilo(get("pv_energy_total"), "Wh"),
        "today_savings": _number(get("savings_today")),
        "monthly_savings": _number(get("savings_month")),
        "total_savings": _number(get("savings_total")),
        "currency": hass.config.currency,
        "co2_offset_kg": _number(get("co2_offset")),
        "trees_planted_equivalent": _number(get("trees_equivalent")),
        "battery": {
            "soc_percent": _number(get("battery_soc")),
            "power_kw": _kilo(get("battery_power"), "W"),
            "charge_energy_kwh": _kilo(get("battery_charge_energy"), "Wh"),
            "discharge_energy_kwh": _kilo(get("battery_discharge_energy"), "Wh"),
            "mode": _text(get("battery_mode")),
        },
        "grid": {
            "power_kw": _kilo(get("grid_power"), "W"),
            "import_energy_kwh": _kilo(get("grid_import_energy"), "Wh"),
            "export_energy_kwh": _kilo(get("grid_export_energy"), "Wh"),
        },
        "load": {"power_kw": _kilo(get("load_power"), "W")},
        "inverter": {
            "temperature_c": _celsius(get("inverter_temperature")),
            "status": _text(get("status")),
        },
        "chart_data": expected_chart(
            hass, chart_values, today_kwh=_kilo(get("pv_energy_today"), "Wh")
        ),
        "last_updated": newest.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }


# The entity keys MonitoringData reads (written out here, not imported, so a
# key the builder forgot fails the comparison).
DOCUMENT_KEYS = frozenset(
    {
        "connectivity",
        "pv_power",
        "pv_energy_today",
        "pv_energy_month",
        "pv_energy_total",
        "load_power",
        "grid_power",
        "grid_import_energy",
        "grid_export_energy",
        "battery_power",
        "battery_soc",
        "battery_charge_energy",
        "battery_discharge_energy",
        "battery_mode",
        "inverter_temperature",
        "status",
        "savings_today",
        "savings_month",
        "savings_total",
        "co2_offset",
        "trees_equivalent",
    }
)

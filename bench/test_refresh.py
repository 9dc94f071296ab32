"""Event-loop cost of Sunstream's polling, measured in a real Home Assistant.

Run with ``scripts/bench``; results go to ``bench/results/*.json`` and the
summary is printed. These are measurements, not pass/fail tests: the only
assertions guard against a broken set-up.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import platform
import statistics
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunstream.const import DOMAIN
from custom_components.sunstream.entity import SunstreamEntity
from tests.conftest import NOON_ISH, entry_data, entry_options

# SIDE_BY_SIDE_RESULTS: where a side-by-side run (bench/side_by_side.py) collects each side's
# results.
RESULTS = Path(os.environ.get("SIDE_BY_SIDE_RESULTS") or Path(__file__).parent / "results")
REFRESHES = int(os.environ.get("BENCH_REFRESHES", "2000"))
SYSTEMS = int(os.environ.get("BENCH_SYSTEMS", "100"))
DURATION = float(os.environ.get("BENCH_SECONDS", "30"))


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
    }


def _save(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    result["machine"] = _machine()
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{name}: {json.dumps(result, indent=2)}")


def _coordinator(entry: MockConfigEntry) -> DataUpdateCoordinator[Any]:
    """The entry's coordinator, in this code and in a baseline's.

    Up to commit 5bee5e3 the runtime data was the coordinator itself; this
    file also measures such a commit's code (``BENCH_BASELINE``, see
    bench/side_by_side.py).
    """
    data = entry.runtime_data
    if isinstance(data, DataUpdateCoordinator):
        return data
    coordinator: DataUpdateCoordinator[Any] = data.coordinator
    return coordinator


def _busy_seconds() -> float | None:
    """CPU seconds all of the machine's cores have spent busy since boot (``/proc/stat``)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal: all but idle and iowait.
    ticks = [int(value) for value in fields[:8]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _entry(index: int, interval: int) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"System {index}",
        unique_id=f"sim-system-{index}",
        data=entry_data(),
        options=entry_options(update_interval=interval),
    )


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_refresh_cost(
    located_hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, freezer: FrozenDateTimeFactory
) -> None:
    """Median event-loop time of one refresh, all entities enabled.

    The clock moves 5 s (the default interval) between refreshes, in
    daylight, so values really change as they would in use.
    """
    hass = located_hass
    freezer.move_to(NOON_ISH)
    writes = 0
    original = SunstreamEntity.async_write_ha_state

    def counting_write(self: SunstreamEntity) -> None:
        nonlocal writes
        writes += 1
        original(self)

    monkeypatch.setattr(SunstreamEntity, "async_write_ha_state", counting_write)
    changes = 0

    @callback
    def count_change(event: Event) -> None:
        nonlocal changes
        changes += 1

    entry = _entry(0, 3600)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = _coordinator(entry)
    entities = len(hass.states.async_all())
    hass.bus.async_listen(EVENT_STATE_CHANGED, count_change)
    writes = 0

    # The frozen clock also stops perf_counter; the event loop's own CPU time
    # (thread_time) is what a refresh costs the loop anyway.
    durations = []
    for _ in range(REFRESHES):
        freezer.tick(5)
        start = time.thread_time()
        await coordinator.async_refresh()
        durations.append(time.thread_time() - start)
        await hass.async_block_till_done()
    durations.sort()
    _save(
        "refresh",
        {
            "refreshes": REFRESHES,
            "entities": entities,
            "median_ms": round(statistics.median(durations) * 1000, 3),
            "p95_ms": round(durations[int(len(durations) * 0.95)] * 1000, 3),
            "state_writes_per_refresh": round(writes / REFRESHES, 2),
            "state_changes_per_refresh": round(changes / REFRESHES, 2),
        },
    )
    assert writes > 0


async def test_many_systems_cpu(located_hass: HomeAssistant) -> None:
    """CPU share of Home Assistant's process with many systems at 1 s."""
    hass = located_hass
    entries = [_entry(index, 1) for index in range(SYSTEMS)]
    for entry in entries:
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    before = hass.states.async_all()

    refreshes = 0

    @callback
    def count_refresh() -> None:
        nonlocal refreshes
        refreshes += 1

    unsubs = [_coordinator(entry).async_add_listener(count_refresh) for entry in entries]
    busy_start = _busy_seconds()
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    await asyncio.sleep(DURATION)
    cpu = time.process_time() - cpu_start
    wall = time.perf_counter() - wall_start
    busy_end = _busy_seconds()
    for unsub in unsubs:
        unsub()
    # What the rest of the machine (other processes) kept busy meanwhile, in
    # cores: a run beside other work measures less than the code.
    rest = None
    if busy_start is not None and busy_end is not None:
        rest = round(max(0.0, busy_end - busy_start - cpu) / wall, 3)
    _save(
        "many_systems",
        {
            "systems": SYSTEMS,
            "interval_s": 1,
            "entities": len(before),
            "seconds": round(wall, 1),
            "refreshes": refreshes,
            "refreshes_per_second": round(refreshes / wall, 1),
            "cpu_percent_of_one_core": round(100 * cpu / wall, 1),
            "cpu_ms_per_refresh": round(1000 * cpu / max(refreshes, 1), 3),
            "rest_of_machine_cores": rest,
        },
    )
    assert refreshes > 0

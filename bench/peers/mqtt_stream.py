"""The MQTT peer comparison's parts: the stream of changes, the processes, the analysis.

``bench/test_peers_mqtt.py`` runs one Home Assistant (the test
harness's, HTTP on a loopback port) with one simulated Sunstream system, a
real Mosquitto, and two ways of getting the system's changes onto MQTT:

* **bridge**: the app (``python -m sunstream_monitor``) in its own process,
  following Home Assistant over its WebSocket API and publishing one
  MonitoringData document per system change on ``sunstream/<system>/state``
  (plus ``availability``/``events`` when they change);
* **statestream**: Home Assistant's built-in ``mqtt_statestream`` (through
  HA's ``mqtt`` integration, connected to the same broker), publishing each
  entity's new state on ``statestream/<domain>/<object_id>/state``.

The stream: the system's coordinator refreshed at a chosen rate by
:class:`Driver`, its simulator fed a virtual clock that moves 5 s per
refresh through daylight, so each refresh changes most of the system's
entities, as a 5 s poll does in use. Every state change is recorded where it
happens (a ``state_changed`` listener in Home Assistant: entity, value,
``last_updated``); a subscriber in its own process (``mqtt_subscriber``)
records what arrives and when. :func:`analyse` joins the two.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
import math
import os
from pathlib import Path
import statistics
import subprocess
import sys
import time
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback

REPO = Path(__file__).resolve().parent.parent.parent
SERVER_PATH = REPO / "addon" / "sunstream" / "server"
BRIDGE_PREFIX = "sunstream"
STATESTREAM_BASE = "statestream"
# The virtual clock: 5 s per refresh (the integration's default interval), from 10:00 local
# time in São Paulo (where the test harness puts Home Assistant), wrapping after six hours.
VIRTUAL_START_UTC_HOUR = 13
VIRTUAL_STEP = timedelta(seconds=5)
VIRTUAL_SPAN = timedelta(hours=6)
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a whole process (all threads), from ``/proc``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_kib(pid: int) -> int:
    """Resident set size of a process, KiB."""
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page_kib


# -- the stream -------------------------------------------------------------------------------


class VirtualClock:
    """Wraps a source's ``async_poll`` so each poll sees the clock 5 s later, in daylight."""

    def __init__(self, poll: Callable[[datetime], Any]) -> None:
        """Take over ``poll``; call :meth:`poll` instead."""
        self._poll = poll
        today = datetime.now(UTC).replace(
            hour=VIRTUAL_START_UTC_HOUR, minute=0, second=0, microsecond=0
        )
        self._start = today
        self._k = 0

    async def poll(self, _now: datetime) -> Any:
        """The wrapped poll at the next virtual instant."""
        self._k += 1
        offset = (self._k * VIRTUAL_STEP) % VIRTUAL_SPAN
        return await self._poll(self._start + offset)


@dataclass(slots=True)
class Change:
    """One state change as Home Assistant made it."""

    phase: str
    refresh: int
    entity_id: str
    state: str
    t: float  # new_state.last_updated, Unix seconds
    attributes: int  # how many attributes the new state has


@dataclass(slots=True)
class Recorder:
    """A ``state_changed`` listener that notes the system's changes, per refresh."""

    entity_ids: frozenset[str]
    changes: list[Change] = field(default_factory=list)
    phase: str = ""
    refresh: int = -1

    def attach(self, hass: HomeAssistant) -> Callable[[], None]:
        """Listen on ``hass``'s bus; returns the remover."""

        @callback
        def on_change(event: Event[EventStateChangedData]) -> None:
            new_state = event.data["new_state"]
            if new_state is None or event.data["entity_id"] not in self.entity_ids:
                return
            self.changes.append(
                Change(
                    self.phase,
                    self.refresh,
                    new_state.entity_id,
                    new_state.state,
                    new_state.last_updated_timestamp,
                    len(new_state.attributes),
                )
            )

        return hass.bus.async_listen(EVENT_STATE_CHANGED, on_change)


@dataclass(slots=True)
class Phase:
    """One measuring window: which consumers ran, at what rate, what it cost."""

    name: str  # "baseline", "bridge", "statestream", "both"
    rate: str  # refreshes per second, or "max"
    t0: float = 0.0  # wall clock, window start
    t1: float = 0.0  # wall clock, window end (the stream stops)
    t_drained: float = 0.0  # wall clock, end of the drain that follows
    refreshes: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds, t0..t1
    cpu_total: dict[str, float] = field(default_factory=dict)  # the same, t0..t_drained
    rss_kib: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``name@rate``."""
        return f"{self.name}@{self.rate}"


class Driver:
    """Refreshes the coordinator at a rate (open loop), or as fast as the loop allows."""

    def __init__(self, refresh: Callable[[], Any], recorder: Recorder) -> None:
        """``refresh``: the coordinator's ``async_refresh``."""
        self._refresh = refresh
        self._recorder = recorder
        self._count = 0

    async def run(self, phase: Phase, seconds: float) -> None:
        """Drive the stream for ``seconds``; fills ``phase.t0``, ``t1`` and ``refreshes``."""
        self._recorder.phase = phase.key
        rate = None if phase.rate == "max" else float(phase.rate)
        start = time.monotonic()
        phase.t0 = time.time()
        k = 0
        while time.monotonic() - start < seconds:
            if rate is None:
                await asyncio.sleep(0)  # one refresh per turn of the loop
            else:
                await asyncio.sleep(max(0.0, start + k / rate - time.monotonic()))
            self._recorder.refresh = self._count
            await self._refresh()
            self._count += 1
            k += 1
        phase.t1 = time.time()
        phase.refreshes = k
        self._recorder.phase = ""


# -- processes --------------------------------------------------------------------------------


def python_env() -> dict[str, str]:
    """The environment for our Python children: the repo and the app's package importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(SERVER_PATH)])
    return env


def start_subscriber(port: int, out: Path) -> subprocess.Popen[str]:
    """The subscriber process, subscribed to both prefixes (``READY`` already read)."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "bench.peers.mqtt_subscriber", "--port", str(port)),
            *("--topic", f"{BRIDGE_PREFIX}/#", "--topic", f"{STATESTREAM_BASE}/#"),
            *("--out", str(out)),
        ],
        cwd=REPO,
        env=python_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "READY":
        stop_process(proc)
        raise RuntimeError(f"subscriber said {line!r}")
    return proc


def finish_subscriber(proc: subprocess.Popen[str], out: Path) -> tuple[list[Any], float]:
    """Close its stdin, wait for it to write its records; returns them and its CPU seconds."""
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.close()
    tail = proc.stdout.read()
    proc.wait(60)
    done = [line for line in tail.splitlines() if line.startswith("DONE")]
    cpu = float(done[-1].split()[2]) if done else math.nan
    with out.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines], cpu


def start_app(ha_url: str, ha_token: str, broker_url: str, port: int) -> subprocess.Popen[str]:
    """The app (``python -m sunstream_monitor``): HA feed, web server and MQTT bridge."""
    return subprocess.Popen(
        [
            *(
                sys.executable,
                "-m",
                "sunstream_monitor",
                "--ha-url",
                ha_url,
                "--ha-token",
                ha_token,
            ),
            *("--host", "127.0.0.1", "--port", str(port), "--token", "bench-bridge"),
            *("--mqtt-url", broker_url, "--mqtt-prefix", BRIDGE_PREFIX, "--log-level", "warning"),
        ],
        cwd=REPO,
        env=python_env(),
        stdin=subprocess.DEVNULL,
        text=True,
    )


def stop_process(proc: subprocess.Popen[Any], grace: float = 15.0) -> int:
    """SIGTERM, then SIGKILL after ``grace`` seconds: this process only, by its id."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


# -- analysis ---------------------------------------------------------------------------------


def _ms_of_iso(text: str) -> int:
    """Milliseconds since the epoch of an ISO-8601 time (``...Z`` or ``+00:00``)."""
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 3)

    return {
        "p50": pick(0.50),
        "p90": pick(0.90),
        "p99": pick(0.99),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def _histogram(values: list[float], edges: list[float]) -> list[int]:
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[bisect_left(edges, value)] += 1
    return counts


# Latency histogram edges (ms) kept in the results, for the report's distribution plots.
HISTOGRAM_EDGES_MS = [round(0.25 * 1.15**i, 3) for i in range(60)]


def analyse(
    phase: Phase,
    changes: list[Change],
    messages: list[list[Any]],
    system_id: str,
) -> dict[str, Any]:
    """Per-phase figures for both paths: messages, bytes, latency, throughput."""
    mine = [c for c in changes if c.phase == phase.key]
    by_refresh: dict[int, list[int]] = defaultdict(list)
    for index, change in enumerate(mine):
        by_refresh[change.refresh].append(index)
    start_ns, end_ns = int(phase.t0 * 1e9), int(phase.t_drained * 1e9)
    live = [m for m in messages if not m[2] and start_ns <= m[0] <= end_ns]
    state_topic = f"{BRIDGE_PREFIX}/{system_id}/state"
    statestream = [m for m in live if m[1].startswith(f"{STATESTREAM_BASE}/")]
    bridge = [m for m in live if m[1].startswith(f"{BRIDGE_PREFIX}/")]
    documents = [m for m in bridge if m[1] == state_topic]
    window = phase.t1 - phase.t0
    result: dict[str, Any] = {
        "phase": phase.name,
        "rate": phase.rate,
        "window_s": round(window, 3),
        "refreshes": phase.refreshes,
        "refreshes_per_s": round(phase.refreshes / window, 2) if window else None,
        "state_changes": len(mine),
        "state_changes_per_refresh": round(len(mine) / phase.refreshes, 2)
        if phase.refreshes
        else None,
        "attribute_messages_if_publish_attributes": sum(c.attributes for c in mine),
        # Share of one core while the stream ran, and CPU per refresh including the drain
        # (work a flat-out stream leaves queued is done then).
        "cpu_percent": {
            name: round(100 * seconds / window, 1) for name, seconds in phase.cpu.items()
        },
        "cpu_ms_per_refresh": {
            name: round(1000 * seconds / phase.refreshes, 3)
            for name, seconds in phase.cpu_total.items()
        }
        if phase.refreshes
        else {},
        "rss_kib": phase.rss_kib,
    }
    if statestream:
        result["statestream"] = _statestream_figures(mine, by_refresh, statestream, phase)
    if bridge:
        result["bridge"] = _bridge_figures(mine, by_refresh, bridge, documents, phase)
    return result


def _delivery_figures(
    changes: list[Change],
    latencies: dict[int, float],
    pictures: list[float],
    phase: Phase,
    received_by: dict[int, float],
) -> dict[str, Any]:
    """Latency and throughput from per-change receipt times (seconds since the epoch)."""
    values = [v * 1000 for v in latencies.values()]
    in_window = sum(1 for t in received_by.values() if t <= phase.t1)
    return {
        "changes_delivered": len(latencies),
        "changes_missing": len(changes) - len(latencies),
        "delivered_in_window_per_s": round(in_window / (phase.t1 - phase.t0), 1),
        "latency_ms": _quantiles(values),
        "latency_histogram": _histogram(values, HISTOGRAM_EDGES_MS),
        "complete_picture_ms": _quantiles([v * 1000 for v in pictures]),
    }


def _statestream_figures(
    changes: list[Change],
    by_refresh: dict[int, list[int]],
    messages: list[list[Any]],
    phase: Phase,
) -> dict[str, Any]:
    """One message per entity state: match each to its change (entity, value, in order)."""
    pending: dict[str, deque[tuple[int, Change]]] = defaultdict(deque)
    for index, change in enumerate(changes):
        pending[change.entity_id].append((index, change))
    received: dict[int, float] = {}
    latencies: dict[int, float] = {}
    state_messages = 0
    other = 0
    size = 0
    for t_ns, topic, _retain, payload in messages:
        size += len(topic) + len(payload.encode())
        parts = topic.split("/")
        if len(parts) != 4 or parts[3] != "state":
            other += 1
            continue
        state_messages += 1
        queue = pending.get(f"{parts[1]}.{parts[2]}")
        if not queue:
            continue
        # Per entity the messages come in order: the first pending change with this value is
        # the one; pending changes before it were never published. A value no pending change
        # has is a message from before the window (or a repeat): not ours.
        found = next((n for n, (_i, c) in enumerate(queue) if c.state == payload), None)
        if found is None:
            continue
        for _ in range(found):
            queue.popleft()
        index, change = queue.popleft()
        received[index] = t_ns / 1e9
        latencies[index] = t_ns / 1e9 - change.t
    pictures = []
    for indices in by_refresh.values():
        if all(i in received for i in indices):
            first = min(changes[i].t for i in indices)
            pictures.append(max(received[i] for i in indices) - first)
    figures = _delivery_figures(changes, latencies, pictures, phase, received)
    figures |= {
        "messages": state_messages + other,
        "state_messages": state_messages,
        "other_messages": other,
        "messages_per_state_change": round(state_messages / len(changes), 3) if changes else None,
        "messages_per_refresh": round(state_messages / phase.refreshes, 2)
        if phase.refreshes
        else None,
        "bytes_per_state_change": round(size / len(changes), 1) if changes else None,
    }
    return figures


def _bridge_figures(
    changes: list[Change],
    by_refresh: dict[int, list[int]],
    messages: list[list[Any]],
    documents: list[list[Any]],
    phase: Phase,
) -> dict[str, Any]:
    """One document per system change: a change is delivered by the first document as new."""
    received_at = [m[0] / 1e9 for m in documents]
    newest: list[int] = []
    best = -1
    for _t, _topic, _retain, payload in documents:
        stamp = json.loads(payload).get("last_updated")
        best = max(best, _ms_of_iso(stamp) if stamp else -1)
        newest.append(best)

    def first_covering(t: float) -> int | None:
        # The first document whose newest state is at least as new as t (ms resolution).
        wanted = math.floor(t * 1000)
        index = bisect_left(newest, wanted)
        return index if index < len(newest) else None

    received: dict[int, float] = {}
    latencies: dict[int, float] = {}
    for index, change in enumerate(changes):
        found = first_covering(change.t)
        if found is not None:
            received[index] = received_at[found]
            latencies[index] = received_at[found] - change.t
    pictures = []
    for indices in by_refresh.values():
        found = first_covering(max(changes[i].t for i in indices))
        if found is not None:
            pictures.append(received_at[found] - min(changes[i].t for i in indices))
    size = sum(len(m[1]) + len(m[3].encode()) for m in messages)
    figures = _delivery_figures(changes, latencies, pictures, phase, received)
    figures |= {
        "messages": len(messages),
        "state_messages": len(documents),
        "other_messages": len(messages) - len(documents),
        "messages_per_state_change": round(len(messages) / len(changes), 3) if changes else None,
        "messages_per_refresh": round(len(documents) / phase.refreshes, 2)
        if phase.refreshes
        else None,
        "bytes_per_state_change": round(size / len(changes), 1) if changes else None,
        "document_bytes": round(statistics.fmean(len(m[3]) for m in documents), 1)
        if documents
        else None,
    }
    return figures


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def book_cpu(
    phase: Phase,
    pids: dict[str, int],
    start: dict[str, float],
    window_end: dict[str, float],
    drained: dict[str, float],
) -> None:
    """Fill ``phase.cpu``, ``cpu_total`` and ``rss_kib`` from three snapshots."""
    phase.cpu = {name: window_end[name] - start[name] for name in pids}
    phase.cpu_total = {name: drained[name] - start[name] for name in pids}
    phase.rss_kib = {name: rss_kib(pid) for name, pid in pids.items()}

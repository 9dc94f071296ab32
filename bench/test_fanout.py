"""Fan-out of the app's monitoring server against a minimal Node ``ws`` server (issue 5).

N clients watch one system on ``/ws/monitoring/{system_id}``; each server
runs in its own process with an in-process ticker changing the system's
state (``hub.update_state`` in the app, the reference's twin in Node), and
one load-generator process measures receipt. Same machine, same run, same
document, alternating servers. See ``bench/fanout/harness.py`` for how, and
``bench/README.md`` ("App fan-out") for the recorded figures.

Run with ``scripts/bench -k fanout``. Measurements, not pass/fail: the
assertions only guard against a broken set-up (clients that never
connected, a stream that never arrived).
"""

from __future__ import annotations

import os
from pathlib import Path
import statistics
from typing import Any

import pytest

from bench.fanout.harness import NODE, Scenario, run
from bench.test_refresh import _save
from tests.addon.conftest import HomeAssistantServer, ha_server  # noqa: F401  (fixture)

CLIENTS = [int(n) for n in os.environ.get("BENCH_FANOUT_CLIENTS", "1000,5000").split(",")]
# Paced streams, updates per second of the one system: 1/s is Home Assistant's
# simulated system; 10/s a busy one. Each also runs flat out ("max").
RATES = [*os.environ.get("BENCH_FANOUT_RATES", "1,10").split(","), "max"]
WINDOW = float(os.environ.get("BENCH_FANOUT_SECONDS", "10"))
REPEAT = int(os.environ.get("BENCH_FANOUT_REPEAT", "3"))
IDLE_CLIENTS = int(os.environ.get("BENCH_FANOUT_IDLE", "10000"))
SERVERS = ("app", "node")

pytestmark = [
    pytest.mark.skipif(
        not (Path(NODE).exists() and Path("/usr/share/nodejs/ws").is_dir()),
        reason="needs node and Debian's node-ws (scripts/lib/provision.sh installs them)",
    ),
    pytest.mark.usefixtures("socket_enabled"),
]

_FIGURES = (
    "deliveries_per_s",
    "deliveries_per_server_cpu_s",
    "server_cpu_percent",
    "server_sys_percent",
    "loadgen_cpu_percent",
    "others_cpu_percent",
)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-figure medians of repeated runs (each figure on its own)."""
    summary: dict[str, Any] = {
        key: statistics.median(r[key] or 0 for r in runs) for key in _FIGURES
    }
    for key in ("p50", "p90", "p99", "max"):
        summary[f"latency_{key}_ms"] = statistics.median(r["latency_ms"][key] for r in runs)
    summary["closed_during_window"] = sum(r["closed_during_window"] for r in runs)
    summary["skipped"] = sum(r["skipped"] for r in runs)
    return summary


def _check(result: dict[str, Any], scenario: Scenario) -> None:
    assert result["connected"] == scenario.clients, result["failures"]
    if scenario.rate != "0":
        assert result["deliveries"] > 0, result
        assert result["unparsed"] == 0, result


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("clients", CLIENTS)
def test_fanout(clients: int) -> None:
    """Deliveries/s, latency and server CPU at paced streams and flat out."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for repeat in range(REPEAT):
        # Alternate which server goes first, so drift in the machine's load
        # does not always favour the same one.
        servers = SERVERS if repeat % 2 == 0 else SERVERS[::-1]
        for rate in RATES:
            for server in servers:
                scenario = Scenario(server, clients, rate, seconds=WINDOW)
                result = run(scenario)
                _check(result, scenario)
                runs.setdefault(f"{server}@{rate}", []).append(result)
    _save(
        f"fanout_{clients}",
        {
            "clients": clients,
            "rates": RATES,
            "window_s": WINDOW,
            "repeats": REPEAT,
            "median": {key: _median(value) for key, value in runs.items()},
            "runs": runs,
        },
    )


@pytest.mark.timeout(600)
def test_idle_memory() -> None:
    """RSS per idle connection with ``IDLE_CLIENTS`` clients of one system."""
    results = {}
    for server in SERVERS:
        scenario = Scenario(server, IDLE_CLIENTS, "0", seconds=2, warmup=5)
        result = run(scenario)
        _check(result, scenario)
        results[server] = result
    _save(
        "fanout_idle",
        {
            "clients": IDLE_CLIENTS,
            "kib_per_connection": {s: r["rss_per_connection_kib"] for s, r in results.items()},
            "runs": results,
        },
    )


@pytest.mark.timeout(900)
async def test_fanout_from_home_assistant(
    ha_server: HomeAssistantServer,  # noqa: F811  (the fixture imported above)
) -> None:
    """End to end: a state change in a real Home Assistant to the app's clients.

    The simulated system refreshes every second; the app follows it through
    the real feed (``subscribe_entities``), and latency runs from the
    document's ``last_updated`` (Home Assistant's time of the newest state in
    it) to receipt. Only the app: the Node reference has no Home Assistant
    feed. The harness blocks, so it runs in an executor thread while Home
    Assistant's loop keeps serving.
    """
    # ha_server places the system where it is solar noon: by night its values
    # sit still (0.2 documents/s measured at 19:30 in São Paulo).
    results = {}
    for clients in CLIENTS:
        scenario = Scenario(
            "app",
            clients,
            "ha",
            seconds=WINDOW,
            ha_url=ha_server.ws_url,
            ha_token=ha_server.token,
        )
        result = await ha_server.hass.async_add_executor_job(run, scenario)
        _check(result, scenario)
        results[str(clients)] = result
    _save("fanout_ha", {"window_s": WINDOW, "runs": results})

"""Socket.IO fan-out: the app's python-socketio endpoint against a Node socket.io server (issue 7).

N Socket.IO clients subscribe (``subscribe:device``) to one system and hear
``device:data``; each server runs in its own process with the same
in-process ticker as the WebSocket fan-out (``bench/fanout``), and one Node
load-generator process speaks the Socket.IO protocol on raw sockets and
measures receipt. Same machine, same run, same document, alternating
servers. One extra pair of runs uses the real socket.io-client for every
client, to show both servers serve it unchanged and what it costs the
measuring side. See ``bench/peers/sio_harness.py`` for how and
``docs/performance.md`` for the recorded figures.

Run with ``scripts/bench-peers -k sio`` (installs the reference's npm packages
first). Measurements, not pass/fail: the assertions only guard against a
broken set-up.
"""

from __future__ import annotations

import os
from pathlib import Path
import statistics
from typing import Any

import pytest

from bench.fanout.harness import NODE
from bench.peers.sio_harness import SioScenario, reference_installed, run
from bench.test_refresh import _save

CLIENTS = [int(n) for n in os.environ.get("BENCH_SIO_CLIENTS", "1000,5000").split(",")]
RATES = [*os.environ.get("BENCH_SIO_RATES", "1,10").split(","), "max"]
WINDOW = float(os.environ.get("BENCH_SIO_SECONDS", "10"))
REPEAT = int(os.environ.get("BENCH_SIO_REPEAT", "2"))
IDLE_CLIENTS = int(os.environ.get("BENCH_SIO_IDLE", "5000"))
REAL_CLIENTS = int(os.environ.get("BENCH_SIO_REAL_CLIENTS", "1000"))
# socket.io-client's own default: long-polling first, then the upgrade to WebSocket.
REAL_TRANSPORTS = os.environ.get("BENCH_SIO_TRANSPORTS", "polling,websocket")
SERVERS = ("app", "node")

pytestmark = [
    # Long runs (minutes): only through scripts/bench-peers, not every scripts/bench.
    pytest.mark.skipif(
        os.environ.get("BENCH_PEERS") != "1", reason="peer comparisons: run scripts/bench-peers"
    ),
    pytest.mark.skipif(
        not (Path(NODE).exists() and reference_installed()),
        reason="needs node and bench/reference/socketio/node_modules (scripts/bench-peers)",
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
    "connect_seconds",
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant needed here: the servers and clients are processes of their own."""


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-figure medians of repeated runs (each figure on its own)."""
    summary: dict[str, Any] = {
        key: statistics.median(r[key] or 0 for r in runs) for key in _FIGURES
    }
    for key in ("p50", "p90", "p99", "max"):
        summary[f"latency_{key}_ms"] = statistics.median(r["latency_ms"][key] or 0 for r in runs)
    summary["closed_during_window"] = sum(r["closed_during_window"] for r in runs)
    # Runs the rest of the machine disturbed (the bound is bench/noise.py's).
    summary["noisy_runs"] = sum(bool(r.get("noisy")) for r in runs)
    summary["skipped"] = sum(r["skipped"] for r in runs)
    summary["rss_window_end_kib"] = statistics.median(r["server_rss_window_end_kib"] for r in runs)
    return summary


def _check(result: dict[str, Any], scenario: SioScenario) -> None:
    assert result["connected"] == scenario.clients, result["failures"]
    if scenario.rate != "0":
        assert result["deliveries"] > 0, result
        assert result["unparsed"] == 0, result


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("clients", CLIENTS)
def test_sio_stream(clients: int) -> None:
    """Deliveries/s, latency and server CPU at paced streams and flat out."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for repeat in range(REPEAT):
        # Alternate which server goes first, so drift in the machine's load
        # does not always favour the same one.
        servers = SERVERS if repeat % 2 == 0 else SERVERS[::-1]
        for rate in RATES:
            for server in servers:
                scenario = SioScenario(server, clients, rate, seconds=WINDOW)
                result = run(scenario)
                _check(result, scenario)
                runs.setdefault(f"{server}@{rate}", []).append(result)
    _save(
        f"sio_fanout_{clients}",
        {
            "clients": clients,
            "rates": RATES,
            "window_s": WINDOW,
            "repeats": REPEAT,
            "median": {key: _median(value) for key, value in runs.items()},
            "runs": runs,
        },
    )


@pytest.mark.timeout(900)
def test_sio_memory() -> None:
    """RSS per idle subscribed connection with ``IDLE_CLIENTS`` clients of one system."""
    results = {}
    for server in SERVERS:
        scenario = SioScenario(server, IDLE_CLIENTS, "0", seconds=2, warmup=5)
        result = run(scenario)
        _check(result, scenario)
        results[server] = result
    _save(
        "sio_idle",
        {
            "clients": IDLE_CLIENTS,
            "kib_per_connection": {s: r["rss_per_connection_kib"] for s, r in results.items()},
            "runs": results,
        },
    )


@pytest.mark.skipif(REAL_CLIENTS <= 0, reason="BENCH_SIO_REAL_CLIENTS=0: no real-client run")
@pytest.mark.timeout(900)
def test_sio_real_client() -> None:
    """The same 10/s stream to ``REAL_CLIENTS`` real socket.io-client clients.

    Proves both servers serve socket.io-client unchanged — by default as it
    connects out of the box, long-polling first and then the upgrade — and
    shows what a full client costs the measuring side next to the
    raw-protocol clients.
    """
    runs: dict[str, list[dict[str, Any]]] = {}
    for repeat in range(REPEAT):
        # Alternating, like the raw-client runs: p99 of one run each is mostly the run's luck.
        for server in SERVERS if repeat % 2 == 0 else SERVERS[::-1]:
            scenario = SioScenario(
                server, REAL_CLIENTS, "10", seconds=WINDOW, impl="sio", transports=REAL_TRANSPORTS
            )
            result = run(scenario)
            _check(result, scenario)
            runs.setdefault(server, []).append(result)
    _save(
        "sio_real_client",
        {
            "clients": REAL_CLIENTS,
            "rate": "10",
            "transports": REAL_TRANSPORTS,
            "repeats": REPEAT,
            "median": {server: _median(value) for server, value in runs.items()},
            "runs": runs,
        },
    )

"""Run one Socket.IO fan-out scenario: a server process, a load-generator process, the figures.

The method of ``bench/fanout/harness.py`` (whose process and ``/proc``
helpers this imports), applied to Socket.IO: the server under test runs in
its own process so its CPU time and RSS are its own, pinned to CPU 0 with
the load generator (``sio_loadgen.js``) on CPU 1 when both may be used; the
load generator prints a JSON line when every client is subscribed, when its
window starts and ends, and its result; the harness samples the server in
between. Everything is bounded in time and stopped by process id.

Servers:

* ``app``: the app's server (``python -m bench.fanout.app_server``: the
  package's ``create_app`` with python-socketio at ``/socket.io/``, fed by
  the same in-process ticker the WebSocket fan-out uses);
* ``node``: ``bench/reference/socketio/server.js`` (socket.io 4.8, seed
  003's stack), the same document, ticker and stamp.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import json
import os
from pathlib import Path
import sys
import time
from typing import Any

from bench.fanout.harness import (
    CLIENT_CPU,
    DOCUMENT,
    NODE,
    QUIET_WAIT,
    SERVER_CPU,
    SYSTEM,
    TOKEN,
    BenchError,
    _readline,
    _started,
    cpu_seconds,
    cpu_times,
    free_port,
    machine_cpu_seconds,
    pinning,
    raise_fd_limit,
    rss_kib,
    wait_for_quiet,
)

BENCH = Path(__file__).resolve().parent.parent
REFERENCE_DIR = BENCH / "reference" / "socketio"
REFERENCE = REFERENCE_DIR / "server.js"
LOADGEN = Path(__file__).resolve().parent / "sio_loadgen.js"


def reference_installed() -> bool:
    """Whether ``npm ci`` has put socket.io and socket.io-client next to the reference."""
    modules = REFERENCE_DIR / "node_modules"
    return (modules / "socket.io").is_dir() and (modules / "socket.io-client").is_dir()


@dataclass(frozen=True, slots=True)
class SioScenario:
    """One run: which server, how many clients, what stream, which client, how long."""

    server: str  # "app" or "node"
    clients: int
    rate: str  # updates per second, "0" (idle) or "max"
    seconds: float = 10.0
    warmup: float = 2.0
    impl: str = "raw"  # "raw" protocol clients or the real socket.io-client


def _server_command(scenario: SioScenario, port: int) -> list[str]:
    common = ["--port", str(port), "--token", TOKEN, "--system", SYSTEM]
    common += ["--document", str(DOCUMENT), "--rate", scenario.rate]
    if scenario.server == "app":
        return [sys.executable, "-m", "bench.fanout.app_server", *common]
    if scenario.server == "node":
        return [NODE, str(REFERENCE), *common]
    raise ValueError(f"unknown server {scenario.server!r}")


def run(scenario: SioScenario) -> dict[str, Any]:
    """Run ``scenario`` and return its figures (server, clients, and the machine's load)."""
    raise_fd_limit(scenario.clients * 2 + 1024)
    pinned = pinning()
    port = free_port()
    busy_before = wait_for_quiet(max_wait=float(os.environ.get("BENCH_QUIET_WAIT", QUIET_WAIT)))
    with _started(_server_command(scenario, port), SERVER_CPU if pinned else None) as server:
        line = _readline(server, time.monotonic() + 60)
        if not line.startswith("READY"):
            raise BenchError(f"server said {line!r}")
        time.sleep(0.5)
        rss_idle = rss_kib(server.pid)
        loadgen = [NODE, str(LOADGEN), "--port", str(port), "--token", TOKEN]
        loadgen += ["--system", SYSTEM, "--clients", str(scenario.clients)]
        loadgen += ["--warmup", str(scenario.warmup), "--seconds", str(scenario.seconds)]
        loadgen += ["--impl", scenario.impl]
        samples: dict[str, Any] = {}
        result: dict[str, Any] | None = None
        deadline = time.monotonic() + 150 + scenario.seconds + scenario.warmup
        with _started(loadgen, CLIENT_CPU if pinned else None) as clients:
            while result is None:
                event = json.loads(_readline(clients, deadline))
                kind = event.pop("event")
                if kind == "connected":
                    samples["connect"] = event
                    samples["rss_connected_kib"] = rss_kib(server.pid)
                    # Start the stream now that every client is in (the warm-up follows).
                    server.stdin.write("start\n")  # type: ignore[union-attr]
                    server.stdin.flush()  # type: ignore[union-attr]
                elif kind == "window_start":
                    (user0, sys0), wall0 = cpu_times(server.pid), time.monotonic()
                    client_cpu0 = cpu_seconds(clients.pid)
                    machine0 = machine_cpu_seconds()
                elif kind == "window_end":
                    wall = time.monotonic() - wall0
                    user1, sys1 = cpu_times(server.pid)
                    server_user, server_sys = user1 - user0, sys1 - sys0
                    server_cpu = server_user + server_sys
                    client_cpu = cpu_seconds(clients.pid) - client_cpu0
                    others = machine_cpu_seconds() - machine0 - server_cpu - client_cpu
                    samples["rss_window_end_kib"] = rss_kib(server.pid)
                elif kind == "result":
                    result = event
    connected = max(result["connected"], 1)
    rss_end = samples["rss_window_end_kib"]
    return {
        "scenario": asdict(scenario),
        "pinned": pinned,
        "others_busy_before": busy_before,
        "others_cpu_percent": round(100 * max(others, 0.0) / wall, 1),
        "connect_seconds": round(samples["connect"]["seconds"], 2),
        "connected": result["connected"],
        "failed": result["failed"],
        "failures": result["failures"],
        "closed_during_window": result["closed_during_window"],
        "close_codes": result["close_codes"],
        "deliveries": result["deliveries"],
        "deliveries_per_s": round(result["deliveries_per_s"]),
        "repeats": result["repeats"],
        "skipped": result["skipped"],
        "unparsed": result["unparsed"],
        "other_events": result["other_events"],
        "frame_bytes": result["frame_bytes"],
        "latency_ms": {k: _round(v) for k, v in result["latency_ms"].items()},
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_percent": round(100 * server_cpu / wall, 1),
        "server_sys_percent": round(100 * server_sys / wall, 1),
        "server_user_percent": round(100 * server_user / wall, 1),
        "deliveries_per_server_cpu_s": round(result["deliveries"] / server_cpu)
        if server_cpu
        else None,
        "loadgen_cpu_percent": round(100 * client_cpu / wall, 1),
        "server_rss_idle_kib": rss_idle,
        "server_rss_connected_kib": samples["rss_connected_kib"],
        "server_rss_window_end_kib": rss_end,
        # Meaningful for the idle scenario: every client subscribed, nothing in flight.
        "rss_per_connection_kib": round((rss_end - rss_idle) / connected, 2),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main(argv: list[str]) -> None:
    """``python -m bench.peers.sio_harness app|node CLIENTS RATE [SECONDS] [raw|sio]``."""
    if len(argv) not in (3, 4, 5):
        raise SystemExit(
            "usage: python -m bench.peers.sio_harness app|node CLIENTS RATE|max|0 "
            "[SECONDS] [raw|sio]"
        )
    seconds = float(argv[3]) if len(argv) >= 4 else 10.0
    impl = argv[4] if len(argv) == 5 else "raw"
    print(
        json.dumps(run(SioScenario(argv[0], int(argv[1]), argv[2], seconds, impl=impl)), indent=2)
    )


if __name__ == "__main__":
    main(sys.argv[1:])

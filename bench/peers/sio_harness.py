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
from typing import Any

from bench.fanout.harness import (
    DOCUMENT,
    NODE,
    QUIET_WAIT,
    SYSTEM,
    TOKEN,
    free_port,
    measure,
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
    # The real client's transports: "polling,websocket" (its default: polling, then the upgrade).
    transports: str = "websocket"


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
    port = free_port()
    return measure(
        _server_command(scenario, port),
        port,
        [NODE, str(LOADGEN)],
        ["--system", SYSTEM, "--impl", scenario.impl, "--transports", scenario.transports],
        clients=scenario.clients,
        warmup=scenario.warmup,
        seconds=scenario.seconds,
        scenario=asdict(scenario),
        slack=150.0,
        quiet_wait=float(os.environ.get("BENCH_QUIET_WAIT", QUIET_WAIT)),
    )


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

"""The fan-out's two load generators read the same stream the same way.

``bench/fanout/loadgen.c`` replaced ``loadgen.js`` in the ticker-fed fan-out
runs; both are pointed here at the app's benchmark server (a real process,
loopback) and must agree on what a client received: every client connected,
every update parsed, none skipped, frames of the same size.
"""

from __future__ import annotations

from pathlib import Path
import shutil
from typing import Any

import pytest

from bench.fanout import harness
from bench.fanout.harness import LOADGEN, NODE, Scenario, c_loadgen, free_port, measure

CLIENTS = 20

pytestmark = pytest.mark.skipif(
    not (Path(NODE).exists() and shutil.which("cc") and Path("/usr/include/stdio.h").exists()),
    reason="needs node and a C compiler with libc headers (scripts/lib/provision.sh installs them)",
)


def _run(program: list[str]) -> dict[str, Any]:
    scenario = Scenario("app", CLIENTS, "10", seconds=1.0, warmup=0.5)
    port = free_port()
    return measure(
        harness._server_command(scenario, port),
        port,
        program,
        ["--path", f"/ws/monitoring/{harness.SYSTEM}", "--stamp", "bench"],
        clients=CLIENTS,
        warmup=scenario.warmup,
        seconds=scenario.seconds,
        scenario={"server": "app"},
        quiet_wait=0,
    )


@pytest.mark.usefixtures("socket_enabled")
def test_the_c_and_javascript_generators_agree() -> None:
    by_c = _run([str(c_loadgen())])
    by_js = _run([NODE, str(LOADGEN)])
    for result in (by_c, by_js):
        assert (result["connected"], result["failed"]) == (CLIENTS, 0)
        # Updates arrive (an update may straddle the window's edges, so not a multiple of 20).
        assert result["deliveries"] >= CLIENTS
        assert (result["skipped"], result["unparsed"], result["closed_during_window"]) == (0, 0, 0)
        assert result["latency_ms"]["p50"] is not None
        assert result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    # The same document, stamped with numbers of the same width: the same frame sizes.
    assert by_c["frame_bytes"] == by_js["frame_bytes"]


def test_the_c_generator_is_built_once_per_source() -> None:
    first = c_loadgen()
    assert first.exists()
    assert c_loadgen() == first

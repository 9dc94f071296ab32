"""A fleet on one broker (issue 12, item 9): ``scripts/bench -k fleet``.

Home Assistants with simulated systems bridge into one Mosquitto; ``--source
mqtt`` replicas serve WebSocket clients spread over every system. Sizes
come from ``BENCH_FLEET_*`` (bench/README.md); ``bench/fleet/run.py`` says
how it is laid out and measured. A measurement, not pass/fail: the
assertions only guard against a broken set-up (clients that never
connected, a stream that never arrived).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fanout.harness import NODE
from bench.fleet.run import Options, run
from bench.soak.procs import MOSQUITTO

pytestmark = [
    pytest.mark.skipif(
        not Path(NODE).exists() or MOSQUITTO is None,
        reason="needs node and mosquitto (scripts/lib/provision.sh installs them)",
    ),
    pytest.mark.usefixtures("socket_enabled"),
]


@pytest.mark.timeout(1800)
def test_fleet() -> None:
    """Deliveries/s, p99 from Home Assistant to client, CPU and RSS of every process."""
    options = Options.from_env()
    figures = run(options)
    print(f"\nfleet: {figures}")
    assert figures["connected"] == options.clients, figures["failures"]
    assert figures["deliveries"] > 0, figures
    assert figures["unparsed"] == 0, figures

"""``python -m bench.fleet [--homes H] [--systems S] [--replicas R] [--clients N] [--seconds T]``.

Also ``--interval`` (each system's update interval, s) and ``--quiet-wait``.

Defaults come from ``BENCH_FLEET_*`` (bench/README.md), then the issue's fleet:
2 Home Assistants × 50 systems, 2 replicas, 10,000 clients, a 60 s window.
Writes ``bench/results/fleet.json``; ``scripts/bench-report`` draws it.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json

from .run import Options, run


def main() -> None:
    """Parse the knobs, run once, print the figures."""
    defaults = Options.from_env()
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--homes", type=int, default=defaults.homes)
    parser.add_argument("--systems", type=int, default=defaults.systems)
    parser.add_argument("--replicas", type=int, default=defaults.replicas)
    parser.add_argument("--clients", type=int, default=defaults.clients)
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--interval", type=int, default=defaults.interval)
    parser.add_argument("--quiet-wait", type=float, default=defaults.quiet_wait)
    args = parser.parse_args()
    options = replace(defaults, **vars(args))
    print(json.dumps(run(options), indent=2))


if __name__ == "__main__":
    main()

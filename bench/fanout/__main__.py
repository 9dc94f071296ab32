"""Run one scenario by hand: ``python -m bench.fanout app 5000 10 [seconds]``.

Prints the scenario's figures as JSON; ``bench/test_fanout.py`` runs the set
recorded in ``bench/README.md``.
"""

from __future__ import annotations

import json
import sys

from .harness import Scenario, run


def main(argv: list[str]) -> None:
    """``SERVER CLIENTS RATE [SECONDS]`` → one scenario's figures on stdout."""
    if len(argv) not in (3, 4):
        raise SystemExit("usage: python -m bench.fanout app|node CLIENTS RATE|max|0 [SECONDS]")
    server, clients, rate = argv[0], int(argv[1]), argv[2]
    seconds = float(argv[3]) if len(argv) == 4 else 10.0
    print(json.dumps(run(Scenario(server, clients, rate, seconds=seconds)), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])

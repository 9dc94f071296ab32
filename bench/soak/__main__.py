"""``python -m bench.soak``: see :mod:`bench.soak.run` and ``docs/reliability.md``."""

from __future__ import annotations

import sys

from .run import main

if __name__ == "__main__":
    sys.exit(main())

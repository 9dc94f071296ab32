"""When a benchmark run is too noisy to be a result.

The machine's other work ("rest of machine": its busy CPU time minus the
benchmark's own processes, from ``/proc/stat``) lands in the measured
latencies and steals the measured processes' time slices. A run during
which it used more than :data:`NOISY_CORE_PERCENT` of one core is marked
in every generated table (``bench/report.py``), so a noisy comparison
cannot pass for a result: repeat it on a quiet machine.
"""

from __future__ import annotations

import os

# BENCH_NOISY_PERCENT moves the bound, e.g. to see what a stricter one would mark.
NOISY_CORE_PERCENT = float(os.environ.get("BENCH_NOISY_PERCENT", "30"))
NOTE = (
    f"Rows marked **noisy**: the rest of the machine used more than {NOISY_CORE_PERCENT:g} % "
    "of one core during the window, so they are not results; repeat them on a quiet machine."
)


def noisy(others_cpu_percent: float | None) -> bool:
    """Whether a run with this rest-of-machine load is too noisy to count."""
    return others_cpu_percent is not None and others_cpu_percent > NOISY_CORE_PERCENT


def mark(others_cpu_percent: float | None, shown: str) -> str:
    """The rest-of-machine cell: ``shown``, flagged when the run is noisy."""
    return f"{shown} **noisy**" if noisy(others_cpu_percent) else shown

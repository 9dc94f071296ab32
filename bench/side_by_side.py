"""The many-systems benchmark of this code beside a baseline commit's, alternating.

``BENCH_BASELINE=<commit> scripts/bench -k many_systems`` exports that
commit's tree to ``.bench-baseline/<commit>/`` inside this checkout (where
the sid root sees it), copies this checkout's ``bench/test_refresh.py`` and
``bench/conftest.py`` into it, so the same harness measures both codes, and
runs this module. Each repeat runs ``test_many_systems_cpu`` once for each
side, each in a process of its own, who goes first alternating; each window
records how many cores the rest of the machine kept busy
(``rest_of_machine_cores``). A run above the bound of ``bench/noise.py``
(``BENCH_NOISY_PERCENT``, the same for every benchmark) is marked noisy
and left out of the medians (they fall back to every run, and say so, when
no run is quiet). ``scripts/bench-report`` turns
``bench/results/many_systems_side_by_side.json`` into the table of
docs/performance.md, section 3.

Knobs: ``BENCH_BASELINE`` (the commit), ``BENCH_REPEATS`` (3), and the
benchmark's own ``BENCH_SYSTEMS`` (100) and ``BENCH_SECONDS`` (30).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.noise import NOISY_CORE_PERCENT, noisy

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
NAME = "many_systems_side_by_side"


def _run(tree: Path, results: Path) -> dict[str, Any]:
    """One ``test_many_systems_cpu`` in ``tree``, in a process of its own."""
    env = os.environ | {"SIDE_BY_SIDE_RESULTS": str(results)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "bench/test_refresh.py",
        "-k",
        "many_systems",
        "-p",
        "no:cacheprovider",
        "-q",
        "-s",
        "--timeout=900",
    ]
    done = subprocess.run(command, cwd=tree, env=env, check=False)
    path = results / "many_systems.json"
    if done.returncode != 0 or not path.exists():
        raise SystemExit(f"the benchmark failed in {tree} (exit {done.returncode})")
    result: dict[str, Any] = json.loads(path.read_text())
    path.unlink()
    return result


def _summary(runs: list[dict[str, Any]], side: str) -> dict[str, Any]:
    mine = [run for run in runs if run["side"] == side]
    quiet = [run for run in mine if not run["noisy"]]
    used = quiet or mine
    cpu = [run["cpu_percent_of_one_core"] for run in used]
    return {
        "runs": len(mine),
        "quiet_runs": len(quiet),
        "medians_of": "quiet runs" if quiet else "all runs (none was quiet)",
        "cpu_percent_of_one_core": round(statistics.median(cpu), 1),
        "cpu_percent_range": [min(cpu), max(cpu)],
        "cpu_ms_per_refresh": statistics.median(run["cpu_ms_per_refresh"] for run in used),
        "refreshes_per_second": statistics.median(run["refreshes_per_second"] for run in used),
        "entities": mine[0]["entities"],
    }


def main() -> int:
    """Run both sides ``BENCH_REPEATS`` times, alternating, and save the results."""
    baseline = os.environ["BENCH_BASELINE"]
    tree = Path(os.environ["SIDE_BY_SIDE_TREE"])
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    bound = NOISY_CORE_PERCENT / 100
    sides = {"current": REPO, "baseline": tree}
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(1, repeats + 1):
            order = ["current", "baseline"] if repeat % 2 else ["baseline", "current"]
            for position, side in enumerate(order, start=1):
                print(f"\n== repeat {repeat}/{repeats}: {side} ({sides[side]})", flush=True)
                started = time.time()
                result = _run(sides[side], Path(scratch))
                rest = result.get("rest_of_machine_cores")
                runs.append(
                    {
                        "side": side,
                        "repeat": repeat,
                        "position": position,
                        "started": round(started, 1),
                        "noisy": rest is None or noisy(100 * rest),
                        **{key: value for key, value in result.items() if key != "machine"},
                    }
                )
                machine = result["machine"]
    current, base = _summary(runs, "current"), _summary(runs, "baseline")
    saved = {
        "baseline": baseline,
        "current": os.environ.get("SIDE_BY_SIDE_CURRENT", "working tree"),
        "systems": runs[0]["systems"],
        "seconds": runs[0]["seconds"],
        "repeats": repeats,
        "noise_bound_cores": bound,
        "summary": {
            "current": current,
            "baseline": base,
            "cpu_ratio": round(
                current["cpu_percent_of_one_core"] / base["cpu_percent_of_one_core"], 2
            ),
        },
        "runs": runs,
        "machine": machine,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{NAME}.json").write_text(json.dumps(saved, indent=2) + "\n")
    print(f"\n{NAME}: {json.dumps(saved['summary'], indent=2)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Every benchmark knob bench/README.md documents reaches its benchmark through the scripts.

The knobs are environment variables read by the benchmarks (``bench/``);
``scripts/bench`` and ``scripts/bench-peers`` run the benchmarks in a clean
environment, so a knob only arrives if the script passes it on. Issue 12
found ``scripts/bench`` passing three variables and dropping the
``BENCH_FANOUT_*`` knobs the README documented. These tests run each
script's own forwarding line with every documented knob set, and hold the
README's knob table and the code to the same list.
"""

from __future__ import annotations

from pathlib import Path
import re
import subprocess

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "bench" / "README.md"
# scripts/bench-report too: it marks noisy rows by BENCH_NOISY_PERCENT when writing the tables.
SCRIPTS = ("scripts/bench", "scripts/bench-peers", "scripts/bench-report")
# A row of the README's knob table: | `BENCH_X` | default | benchmark | what |
_ROW = re.compile(r"^\| `(BENCH_[A-Z0-9_]+)` \|", re.MULTILINE)
# A knob read in the code: the variable's name as a string literal.
_READ = re.compile(r"""["'](BENCH_[A-Z0-9_]*[A-Z0-9])["']""")
# How each script collects the BENCH_* variables of its environment.
_FORWARD = re.compile(r"^while IFS= read -r line; do knobs\+=.*$", re.MULTILINE)


def documented() -> set[str]:
    return set(_ROW.findall(README.read_text(encoding="utf-8")))


def read_by_benchmarks() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "bench").rglob("*"):
        if path.suffix in (".py", ".js") and "node_modules" not in path.parts:
            names |= set(_READ.findall(path.read_text(encoding="utf-8")))
    return names


def test_the_table_and_the_code_name_the_same_knobs() -> None:
    table, code = documented(), read_by_benchmarks()
    assert table, "bench/README.md has no knob table"
    assert sorted(code - table) == [], "read by a benchmark but not in bench/README.md's table"
    assert sorted(table - code) == [], "in bench/README.md's table but read by no benchmark"


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_script_passes_every_documented_knob_on(script: str) -> None:
    text = (ROOT / script).read_text(encoding="utf-8")
    forwarding = _FORWARD.findall(text)
    assert len(forwarding) == 1, f"{script}: expected one line collecting the BENCH_* knobs"
    knobs = {name: f"value-of-{name.lower()}" for name in documented()}
    # The script's own line, run as written, in an environment holding every knob.
    shell = f'knobs=()\n{forwarding[0]}\nprintf "%s\\n" "${{knobs[@]}}"\n'
    result = subprocess.run(
        ["bash", "-c", shell],
        env={"PATH": "/usr/bin:/bin", **knobs},
        capture_output=True,
        text=True,
        check=True,
    )
    passed = set(result.stdout.splitlines())
    missing = sorted(name for name, value in knobs.items() if f"{name}={value}" not in passed)
    assert missing == [], f"{script} does not pass these knobs on"

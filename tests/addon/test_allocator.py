"""The app restarts itself once under mimalloc (``sunstream_monitor.allocator``)."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import sysconfig

import pytest

from sunstream_monitor.allocator import should_switch

SERVER = Path(__file__).parents[2] / "addon" / "sunstream" / "server"
SCRIPT = (
    "import os; from sunstream_monitor.allocator import prefer_mimalloc; "
    "prefer_mimalloc(); print(os.environ.get('PYTHONMALLOC'))"
)


def test_an_explicit_choice_or_a_python_without_mimalloc_is_left_alone() -> None:
    assert should_switch({}, has_mimalloc=True)
    assert not should_switch({"PYTHONMALLOC": "pymalloc"}, has_mimalloc=True)
    assert not should_switch({}, has_mimalloc=False)


def _run(**env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"}
    environ.update(PYTHONPATH=str(SERVER), **env)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=environ, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(
    not sysconfig.get_config_var("WITH_MIMALLOC"), reason="this Python has no mimalloc"
)
def test_the_process_restarts_in_place_under_mimalloc() -> None:
    # Printed by the re-executed run: the variable was set before its interpreter started.
    assert _run() == "mimalloc"
    assert _run(PYTHONMALLOC="pymalloc") == "pymalloc"

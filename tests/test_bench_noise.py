"""A benchmark run on a busy machine cannot pass for a result in docs/performance.md.

``scripts/bench-report`` (``bench/report.py``) writes the tables from
``bench/results/*.json``; every table with a rest-of-machine figure marks a
run whose rest of machine exceeded the bound (``bench/noise.py``) as noisy.
These tests feed the real table code results from a quiet and a busy run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.fanout import report as fanout_report
from bench.fleet import report as fleet_report
from bench.noise import NOISY_CORE_PERCENT, NOTE


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for module in (report, fanout_report, fleet_report):
        monkeypatch.setattr(module, "RESULTS", tmp_path)
    return tmp_path


def _median(others: float) -> dict[str, Any]:
    return {
        "deliveries_per_s": 10_000,
        "deliveries_per_server_cpu_s": 100_000,
        "server_cpu_percent": 10.0,
        "server_sys_percent": 6.0,
        "loadgen_cpu_percent": 18.0,
        "others_cpu_percent": others,
        "latency_p50_ms": 11.8,
        "latency_p90_ms": 20.0,
        "latency_p99_ms": 35.5,
        "latency_max_ms": 50.0,
        "connect_seconds": 1.0,
    }


def _fanout(others: dict[str, float]) -> dict[str, Any]:
    return {
        "repeats": 3,
        "window_s": 10,
        "rates": ["10"],
        "median": {f"{server}@10": _median(value) for server, value in others.items()},
    }


def _row(lines: list[str], label: str) -> str:
    return next(line for line in lines if line.startswith(f"| {label} |"))


def test_fanout_and_socketio_tables_mark_the_busy_run(results: Path) -> None:
    busy = NOISY_CORE_PERCENT + 25.8
    data = _fanout({"app": 12.0, "node": busy})
    (results / "fanout_1000.json").write_text(json.dumps(data))
    (results / "sio_fanout_1000.json").write_text(json.dumps(data))
    for lines, app, node in (
        (fanout_report.fanout_table(1000), "app", "Node ws"),
        (report.table_sio(), "app (python-socketio)", "Node socket.io"),
    ):
        assert "noisy" not in _row(lines, app)
        assert _row(lines, node).endswith(f"{busy:g} **noisy** |")
        assert NOTE in lines


def test_a_quiet_run_carries_no_note(results: Path) -> None:
    (results / "fanout_1000.json").write_text(json.dumps(_fanout({"app": 3.0, "node": 29.9})))
    lines = fanout_report.fanout_table(1000)
    assert not any("noisy" in line for line in lines)


@pytest.mark.parametrize(("others", "marked"), [(12.5, False), (NOISY_CORE_PERCENT + 0.1, True)])
def test_fleet_table_marks_the_busy_run(results: Path, others: float, marked: bool) -> None:
    fleet = {
        "options": {"homes": 2, "systems": 3, "replicas": 2, "clients": 200, "interval": 1},
        "window_s": 10.0,
        "connected": 200,
        "failed": 0,
        "deliveries_per_s": 200,
        "documents_per_client_per_s": 1.0,
        "latency_ms": {"p50": 6.0, "p90": 9.6, "p99": 12.3, "max": 15.1},
        "processes": {"hass1": {"cpu_percent": 0.7, "rss_mib": 239.8}},
        "others_cpu_percent": others,
        "noisy": others > NOISY_CORE_PERCENT,
    }
    (results / "fleet.json").write_text(json.dumps(fleet))
    lines = fleet_report.table("now")
    assert (f"{others:g} **noisy** |" in lines[4]) is marked
    assert (NOTE in lines) is marked


def test_only_rewrites_the_named_blocks(results: Path, tmp_path: Path) -> None:
    """``--only`` replaces its blocks and leaves every other block's last run in place."""
    doc = tmp_path / "performance.md"
    kept = "Measured 2026-12-01 22:38 UTC: a table from an earlier run"
    doc.write_text(
        f"<!-- generated:fanout -->\n{kept}\n<!-- /generated:fanout -->\n"
        "<!-- generated:figures -->\nold\n<!-- /generated:figures -->\n",
        encoding="utf-8",
    )
    assert report.rewrite_doc(doc, only=frozenset({"figures"})) == ["figures"]
    text = doc.read_text(encoding="utf-8")
    assert kept in text
    assert "old" not in text
    assert "scripts/bench-report --figure" in text
    # Without --only, a block with no results says so instead of keeping a stale table.
    assert report.rewrite_doc(doc) == ["fanout", "figures"]
    assert kept not in doc.read_text(encoding="utf-8")

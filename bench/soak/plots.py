"""The soak's figures, from a run directory alone.

``python -m bench.soak.plots RUN_DIR [--figure recovery|rss|all] [--out DIR]``

* ``soak-recovery.png`` — the recovery timeline: each fault from injection
  to clear (dark) and from clear to recovered (light) on its lane's row, the
  unavailability windows under them (grey when a fault explains them, red
  when nothing does), and the connected dashboard clients below;
* ``soak-rss.png`` — RSS and CPU over time of Home Assistant, the app, the
  broker (and, thinner, the fakes, the load generator and the soak itself),
  with the end of the warm-up and the app/broker restarts marked.

matplotlib is installed into the venv on first use if it is missing (it is
not a test requirement).
"""

from __future__ import annotations

import argparse
import importlib
from itertools import pairwise
import json
from pathlib import Path
import subprocess
import sys
from typing import Any

from .common import read_jsonl

LANE_COLOURS = {"infra": "#1f77b4", "winet": "#2ca02c", "alphaess": "#9467bd"}
MAIN = ("hass", "app", "broker")


def ensure_matplotlib() -> None:
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        print("[soak] installing matplotlib into the venv (plots only)", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "matplotlib",
            ],
            check=True,
        )


def _pyplot() -> Any:
    ensure_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def recovery(run: Path, out: Path) -> Path:
    plt = _pyplot()
    report = json.loads((run / "report.json").read_text())
    meta = report["meta"]
    t0 = meta["t0"]
    faults = read_jsonl(run / "faults.jsonl")
    load = [r for r in read_jsonl(run / "load-stats.jsonl") if not r.get("final")]
    windows = report["unavailability"]["windows"]
    kinds = sorted({w["kind"] for w in windows})
    lanes = [
        lane for lane in ("infra", "winet", "alphaess") if any(f["lane"] == lane for f in faults)
    ]
    rows = [f"faults: {lane}" for lane in lanes] + kinds
    fig, (ax, ax2) = plt.subplots(
        2,
        1,
        figsize=(13, 2.2 + 0.42 * len(rows)),
        sharex=True,
        gridspec_kw={"height_ratios": [max(3, len(rows)), 2]},
    )
    for i, lane in enumerate(lanes):
        y = len(rows) - 1 - i
        for f in faults:
            if f["lane"] != lane:
                continue
            start, clear = f["start"] - t0, (f.get("clear") or f["start"]) - t0
            colour = LANE_COLOURS.get(lane, "k")
            ax.barh(y, max(clear - start, 0.6), left=start, height=0.6, color=colour)
            if f.get("recovered_at"):
                ax.barh(
                    y,
                    max(f["recovered_at"] - f["clear"], 0.3),
                    left=clear,
                    height=0.6,
                    color=colour,
                    alpha=0.35,
                )
            else:
                ax.plot([clear], [y], marker="x", color="red", markersize=9)
            ax.text(
                start,
                y + 0.36,
                f["kind"].split(".", 1)[1],
                fontsize=6,
                rotation=30,
                ha="left",
                va="bottom",
            )
    for j, kind in enumerate(kinds):
        y = len(rows) - 1 - len(lanes) - j
        for w in windows:
            if w["kind"] != kind:
                continue
            ax.barh(
                y,
                max(w["seconds"], 0.4),
                left=w["start"] - t0,
                height=0.5,
                color="#888888" if w["faults"] else "#d62728",
            )
    ax.set_yticks(range(len(rows)), list(reversed(rows)), fontsize=8)
    for x, label in (
        (meta["warmup_end"] - t0, "warm-up ends"),
        (meta["chaos_end"] - t0, "faults end"),
    ):
        ax.axvline(x, color="k", linestyle=":", linewidth=0.8)
        ax.text(x, len(rows) - 0.3, label, fontsize=7, ha="center")
    ax.set_title(
        f"Soak {meta['started_at']}: faults (dark: injected, light: until recovered, x: not "
        "recovered) and unavailability windows (grey: explained by a fault, red: not)",
        fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    ts = [r["t"] - t0 for r in load]
    ax2.plot(
        ts, [r["connected"] for r in load], color="#1f77b4", linewidth=1, label="clients connected"
    )
    ax2.axhline(meta["clients"]["total"], color="#1f77b4", linestyle=":", linewidth=0.7)
    rates = [0.0] + [
        (b["msgs"] - a["msgs"]) / max(1e-3, b["t"] - a["t"]) for a, b in pairwise(load)
    ]
    ax3 = ax2.twinx()
    ax3.plot(ts, rates, color="#ff7f0e", linewidth=0.6, alpha=0.7, label="messages/s received")
    ax2.set_ylabel("clients", fontsize=8)
    ax3.set_ylabel("messages/s", fontsize=8)
    ax2.set_xlabel("seconds since the soak started")
    ax2.legend(loc="lower left", fontsize=7)
    ax3.legend(loc="lower right", fontsize=7)
    ax2.set_xlim(0, meta["duration"])
    fig.tight_layout()
    path = out / "soak-recovery.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def rss(run: Path, out: Path) -> Path:
    plt = _pyplot()
    meta = json.loads((run / "meta.json").read_text())
    t0 = meta["t0"]
    samples = [s for s in read_jsonl(run / "resources.jsonl") if s["name"] != "machine"]
    machine = [s for s in read_jsonl(run / "resources.jsonl") if s["name"] == "machine"]
    faults = read_jsonl(run / "faults.jsonl")
    names = [n for n in (*MAIN, "fakes", "loadgen", "soak") if any(s["name"] == n for s in samples)]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    for name in names:
        rows = sorted((s for s in samples if s["name"] == name), key=lambda s: s["t"])
        width, alpha = (1.4, 1.0) if name in MAIN else (0.8, 0.6)
        ax.plot(
            [s["t"] - t0 for s in rows],
            [s["rss"] / 1048576 for s in rows],
            label=name,
            linewidth=width,
            alpha=alpha,
        )
        cpu_t, cpu = [], []
        for a, b in pairwise(rows):
            if a["pid"] == b["pid"] and b["t"] > a["t"]:
                cpu_t.append(b["t"] - t0)
                cpu.append(100 * (b["cpu"] - a["cpu"]) / (b["t"] - a["t"]))
        ax2.plot(cpu_t, cpu, label=name, linewidth=width * 0.8, alpha=alpha)
    if len(machine) > 1:
        mt, mb = [], []
        for a, b in pairwise(machine):
            total = b["total"] - a["total"]
            if total > 0:
                mt.append(b["t"] - t0)
                mb.append(100 * (b["busy"] - a["busy"]) / total)
        ax2b = ax2.twinx()
        ax2b.plot(
            mt,
            mb,
            color="k",
            linewidth=0.6,
            alpha=0.35,
            label="whole machine, every user (right axis)",
        )
        ax2b.set_ylim(0, 105)
        ax2b.set_ylabel(f"machine busy (% of all {meta['machine']['cpus']} cores)", fontsize=8)
        ax2b.legend(loc="upper right", fontsize=7)
    for axis in (ax, ax2):
        axis.axvline(meta["warmup_end"] - t0, color="k", linestyle=":", linewidth=0.8)
        for f in faults:
            if f["scope"] in ("app", "broker"):
                axis.axvline(
                    f["start"] - t0,
                    color="red" if f["scope"] == "app" else "orange",
                    linewidth=0.6,
                    alpha=0.6,
                )
        axis.grid(alpha=0.3)
    ax.set_ylabel("RSS (MiB)")
    ax2.set_ylabel("CPU (% of one core)")
    ax2.set_xlabel(
        "seconds since the soak started (dotted: warm-up ends; red: app restarts; "
        "orange: broker restarts)"
    )
    ax.set_title(
        f"Soak {meta['started_at']}: memory and CPU per process "
        f"({meta['machine']['cpus']} cores shared by everything)",
        fontsize=10,
    )
    ax.legend(fontsize=8, ncol=3)
    ax2.legend(loc="upper left", fontsize=7, ncol=3)
    ax.set_xlim(0, meta["duration"])
    fig.tight_layout()
    path = out / "soak-rss.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw(run: Path, out: Path | None = None, figure: str = "all") -> list[Path]:
    out = out or run
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    if figure in ("all", "recovery"):
        paths.append(recovery(run, out))
    if figure in ("all", "rss"):
        paths.append(rss(run, out))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run directory (bench/results/soak-…)")
    parser.add_argument("--figure", choices=("all", "recovery", "rss"), default="all")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: RUN)")
    args = parser.parse_args(argv)
    if not (args.run / "report.json").exists():
        from . import analysis

        analysis.write(args.run)
    for path in draw(args.run, args.out, args.figure):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The fleet's table and figure for ``docs/performance.md`` (drawn by ``bench/report.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.noise import NOTE, mark

RESULTS = Path(__file__).resolve().parent.parent / "results"
COMMAND = "scripts/bench -k fleet"
# Process name prefix → what it is, in the order of the data's path.
ROLES = {
    "hass": "Home Assistant",
    "bridge": "bridge (app, `--source ha`)",
    "mosquitto": "Mosquitto",
    "replica": "replica (app, `--source mqtt`)",
    "loadgen": "load generator (Node)",
}
COLOURS = {
    "hass": "#ff7f0e",
    "bridge": "#2ca02c",
    "mosquitto": "#7f7f7f",
    "replica": "#1f77b4",
    "loadgen": "#bcbd22",
}


def load() -> dict[str, Any] | None:
    """``bench/results/fleet.json``, or None."""
    path = RESULTS / "fleet.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _role(name: str) -> str:
    return next(role for role in ROLES if name.startswith(role))


def _ordered(processes: dict[str, Any]) -> list[str]:
    return sorted(processes, key=lambda name: (list(ROLES).index(_role(name)), name))


def describe(data: dict[str, Any]) -> str:
    """One line: the fleet's size."""
    o = data["options"]
    return (
        f"{o['homes']} Home Assistants × {o['systems']} simulated systems (updated every "
        f"{o['interval']} s), one Mosquitto, {o['replicas']} replicas, "
        f"{o['clients']:,} `/ws/monitoring` clients spread over the "
        f"{o['homes'] * o['systems']} systems; {data['window_s']:g} s window"
    )


def table(stamp: str) -> list[str]:
    """Delivery and latency, then CPU and memory per process."""
    data = load()
    if data is None:
        return [f"*Not measured yet. Run `{COMMAND}`, then `scripts/bench-report`.*"]
    lat = data["latency_ms"]
    lines = [
        f"{describe(data)}; measured {stamp}.",
        "",
        "| Clients connected (failed) | Deliveries/s | Documents per client per s "
        "| p50 ms | p90 ms | p99 ms | max ms | Rest of machine CPU % |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {data['connected']:,} ({data['failed']}) | {data['deliveries_per_s']:,} "
        f"| {data['documents_per_client_per_s']:g} | {lat['p50']:g} | {lat['p90']:g} "
        f"| {lat['p99']:g} | {lat['max']:g} "
        f"| {mark(data['others_cpu_percent'], format(data['others_cpu_percent'], 'g'))} |",
        "",
        "| Process | What it is | CPU % of one core | RSS MiB |",
        "| --- | --- | ---: | ---: |",
    ]
    processes = data["processes"]
    for name in _ordered(processes):
        figures = processes[name]
        lines.append(
            f"| {name} | {ROLES[_role(name)]} | {figures['cpu_percent']:g} "
            f"| {figures['rss_mib']:g} |"
        )
    total_cpu = sum(p["cpu_percent"] for p in processes.values())
    total_rss = sum(p["rss_mib"] for p in processes.values())
    lines.append(f"| all | | **{total_cpu:.1f}** | {total_rss:.0f} |")
    if data.get("noisy"):
        lines += ["", NOTE]
    return lines


def figure(plt: Any) -> Any | None:
    """CPU and RSS per process, and the latency percentiles, in one figure."""
    data = load()
    if data is None:
        return None
    processes = data["processes"]
    names = _ordered(processes)
    colours = [COLOURS[_role(name)] for name in names]
    fig, (cpu, rss, latency) = plt.subplots(1, 3, figsize=(13, 4.2))
    cpu.bar(names, [processes[n]["cpu_percent"] for n in names], color=colours)
    cpu.set_ylabel("% of one core (window)")
    cpu.set_title("CPU per process")
    rss.bar(names, [processes[n]["rss_mib"] for n in names], color=colours)
    rss.set_ylabel("RSS, MiB (end of window)")
    rss.set_title("Memory per process")
    for ax in (cpu, rss):
        ax.tick_params(axis="x", labelrotation=45)
    ticks = ("p50", "p90", "p99", "max")
    latency.bar(ticks, [data["latency_ms"][t] for t in ticks], color="#1f77b4")
    latency.set_ylabel("ms, HA state change to client")
    latency.set_title(f"Latency ({data['deliveries_per_s']:,} deliveries/s)")
    o = data["options"]
    noisy = "\nNOISY: the rest of the machine was busy, not a result" if data.get("noisy") else ""
    fig.suptitle(
        f"Fleet on one broker: {o['homes']} Home Assistants × {o['systems']} systems, "
        f"{o['replicas']} replicas, {o['clients']:,} clients{noisy}",
        fontsize=10,
    )
    return fig

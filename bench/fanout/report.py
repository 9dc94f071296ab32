"""Markdown tables of the fan-out results: ``python -m bench.fanout.report``.

Reads what ``bench/test_fanout.py`` wrote to ``bench/results/fanout_*.json``
and prints the tables ``bench/README.md`` records, so the README is copied
from a run, not typed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.noise import NOTE, mark, noisy

RESULTS = Path(__file__).resolve().parent.parent / "results"
_SERVERS = {"app": "app", "node": "Node ws"}


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _rate(rate: str) -> str:
    return "flat out" if rate == "max" else f"{rate}/s"


def fanout_table(clients: int) -> list[str]:
    """One row per server and stream: medians of the repeats."""
    data = _load(f"fanout_{clients}")
    if data is None:
        return [f"(no bench/results/fanout_{clients}.json)"]
    # Which program the clients were (bench/fanout/harness.py); runs before it was recorded: JS.
    programs = sorted(
        {
            run["scenario"].get("loadgen", "loadgen.js")
            for runs in data.get("runs", {}).values()
            for run in runs
        }
    )
    clients_note = "; clients: " + ", ".join(f"`bench/fanout/{p}`" for p in programs)
    lines = [
        f"**{clients} clients** ({data['repeats']} runs each, medians; window "
        f"{data['window_s']:g} s{clients_note if programs else ''})",
        "",
        "| Server | Stream | Deliveries/s | Deliveries per server CPU-s | p50 ms | p99 ms "
        "| Server CPU % (kernel) | Load gen CPU % | Rest of machine CPU % |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rate in data["rates"]:
        for server, label in _SERVERS.items():
            m = data["median"].get(f"{server}@{rate}")
            if m is None:
                continue
            lines.append(
                f"| {label} | {_rate(rate)} | {m['deliveries_per_s']:,.0f} "
                f"| {m['deliveries_per_server_cpu_s']:,.0f} | {m['latency_p50_ms']:g} "
                f"| {m['latency_p99_ms']:g} | {m['server_cpu_percent']:g} "
                f"({m['server_sys_percent']:g}) | {m['loadgen_cpu_percent']:g} "
                f"| {mark(m['others_cpu_percent'], format(m['others_cpu_percent'], 'g'))} |"
            )
    if any(noisy(m["others_cpu_percent"]) for m in data["median"].values()):
        lines += ["", NOTE]
    return lines


def idle_table() -> list[str]:
    """RSS per idle connection."""
    data = _load("fanout_idle")
    if data is None:
        return ["(no bench/results/fanout_idle.json)"]
    lines = [
        f"**{data['clients']} idle clients**",
        "",
        "| Server | RSS before | RSS with the clients | KiB per connection |",
        "| --- | ---: | ---: | ---: |",
    ]
    for server, label in _SERVERS.items():
        run = data["runs"][server]
        lines.append(
            f"| {label} | {run['server_rss_idle_kib'] / 1024:.1f} MiB "
            f"| {run['server_rss_window_end_kib'] / 1024:.1f} MiB "
            f"| {run['rss_per_connection_kib']:g} |"
        )
    return lines


def ha_table() -> list[str]:
    """The app fed end to end by a real Home Assistant."""
    data = _load("fanout_ha")
    if data is None:
        return ["(no bench/results/fanout_ha.json)"]
    lines = [
        "| Clients | Documents/s | Deliveries/s | p50 ms | p99 ms | Server CPU % |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for clients, run in data["runs"].items():
        per_client = run["deliveries_per_s"] / max(run["connected"], 1)
        lines.append(
            f"| {clients} | {per_client:.2f} | {run['deliveries_per_s']:,} "
            f"| {run['latency_ms']['p50']:g} | {run['latency_ms']['p99']:g} "
            f"| {run['server_cpu_percent']:g} |"
        )
    return lines


def main() -> None:
    """Print every table there are results for."""
    clients = sorted(
        int(path.stem.removeprefix("fanout_"))
        for path in RESULTS.glob("fanout_*.json")
        if path.stem.removeprefix("fanout_").isdigit()
    )
    for count in clients:
        print("\n".join(fanout_table(count)), end="\n\n")
    print("\n".join(idle_table()), end="\n\n")
    print("\n".join(ha_table()))


if __name__ == "__main__":
    main()

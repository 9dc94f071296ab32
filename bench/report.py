"""Figures and tables of ``docs/performance.md`` from ``bench/results/*.json``.

``python -m bench.report`` (or ``scripts/bench-report``, which installs
matplotlib first) draws every figure there are results for into
``docs/img/performance/`` and rewrites each block of ``docs/performance.md``
between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` from the
same results, so the document is copied from a run, not typed. A figure or
table whose results are missing says so, with the command that makes them.

``--figure NAME`` draws one figure; ``--list`` names them with the command
that measures their data; ``--check`` lists what is missing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
import json
import math
from pathlib import Path
import re
import sys
from typing import Any

from bench.fleet import report as _fleet
from bench.noise import NOTE as NOISY_NOTE, mark, noisy

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
FIGURES = REPO / "docs" / "img" / "performance"
DOC = REPO / "docs" / "performance.md"

FANOUT_CMD = "scripts/bench -k fanout"
SIO_CMD = "scripts/bench-peers -k sio"
MQTT_CMD = "scripts/bench-peers -k mqtt"
POLL_CMD = "scripts/bench -k 'refresh or many_systems or alphaess or winet'"
SUNGROW_CMD = "scripts/bench -k sungrow"
SIDE_BY_SIDE_CMD = "BENCH_BASELINE=5bee5e3 BENCH_REPEATS=3 scripts/bench -k many_systems"

# Colours per server, the same in every figure.
COLOURS = {
    "ws:app": "#1f77b4",
    "ws:node": "#aec7e8",
    "sio:app": "#d62728",
    "sio:node": "#ff9896",
    "bridge": "#2ca02c",
    "statestream": "#9467bd",
    "baseline": "#7f7f7f",
}
LABELS = {
    "ws:app": "app WebSocket (aiohttp)",
    "ws:node": "Node ws",
    "sio:app": "app Socket.IO (python-socketio)",
    "sio:node": "Node socket.io",
    "bridge": "app MQTT bridge",
    "statestream": "HA mqtt_statestream",
}


def load(name: str) -> dict[str, Any] | None:
    """``bench/results/<name>.json``, or None."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _stamp(name: str) -> str:
    path = RESULTS / f"{name}.json"
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _client_counts(prefix: str) -> list[int]:
    return sorted(
        int(p.stem.removeprefix(prefix))
        for p in RESULTS.glob(f"{prefix}*.json")
        if p.stem.removeprefix(prefix).isdigit()
    )


def _fanout_medians() -> dict[str, dict[int, dict[str, Any]]]:
    """``{"ws:app@10": {1000: median, ...}, "sio:node@max": {...}, ...}``."""
    series: dict[str, dict[int, dict[str, Any]]] = {}
    for kind, prefix in (("ws", "fanout_"), ("sio", "sio_fanout_")):
        for clients in _client_counts(prefix):
            data = load(f"{prefix}{clients}")
            assert data is not None
            for key, median in data["median"].items():
                series.setdefault(f"{kind}:{key}", {})[clients] = median
    return series


def _missing(what: str, command: str) -> str:
    return f"*Not measured yet: {what}. Run `{command}`, then `scripts/bench-report`.*"


# -- figures ----------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3})
    return plt


def _save(fig: Any, name: str) -> Path:
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path)
    fig.clf()
    return path


def _machine_note() -> str:
    for name in ("mqtt_peers", "sio_fanout_1000", "fanout_1000", "winet_poll"):
        data = load(name)
        if data and "machine" in data:
            m = data["machine"]
            return f"{m['cores']} vCPU {m['cpu']}, Python {m['python']}, shared with other work"
    return "shared 2-core machine"


def fig_fanout_throughput() -> Path | None:
    """Deliveries per second flat out, and per server CPU-second, against clients."""
    series = _fanout_medians()
    servers = [s for s in ("ws:app", "ws:node", "sio:app", "sio:node") if f"{s}@max" in series]
    if not servers:
        return None
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for server in servers:
        points = sorted(series[f"{server}@max"].items())
        xs = [c for c, _ in points]
        style = {"color": COLOURS[server], "marker": "o", "label": LABELS[server]}
        left.plot(xs, [m["deliveries_per_s"] for _, m in points], **style)
        right.plot(xs, [m["deliveries_per_server_cpu_s"] for _, m in points], **style)
    left.set_title("Flat-out stream: deliveries per second")
    right.set_title("Deliveries per server CPU-second (efficiency)")
    for ax in (left, right):
        ax.set_xlabel("clients subscribed to one system")
        ax.set_xscale("log")
        ax.set_xticks(sorted({c for s in servers for c in series[f"{s}@max"]}))
        ax.get_xaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    left.legend(fontsize=8)
    fig.suptitle(f"Fan-out throughput vs clients (medians of repeats; {_machine_note()})")
    return _save(fig, "fanout_throughput")


def fig_fanout_latency() -> Path | None:
    """Latency percentiles at the paced 10/s stream, per server and client count."""
    series = _fanout_medians()
    servers = [s for s in ("ws:app", "ws:node", "sio:app", "sio:node") if f"{s}@10" in series]
    if not servers:
        return None
    counts = sorted({c for s in servers for c in series[f"{s}@10"]})
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(counts), figsize=(5 * len(counts), 4), squeeze=False)
    ticks = ("p50", "p90", "p99", "max")
    for ax, clients in zip(axes[0], counts, strict=True):
        for server in servers:
            median = series[f"{server}@10"].get(clients)
            if median is None:
                continue
            values = [median[f"latency_{t}_ms"] for t in ticks]
            ax.plot(ticks, values, marker="o", color=COLOURS[server], label=LABELS[server])
        ax.set_yscale("log")
        ax.set_ylabel("ms from state change to client")
        ax.set_title(f"{clients:,} clients, 10 updates/s")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Fan-out latency distribution (percentiles; medians of repeats)")
    return _save(fig, "fanout_latency")


def fig_fanout_memory() -> Path | None:
    """Server RSS with N clients connected (paced 1/s runs and the idle runs)."""
    points: dict[str, dict[int, float]] = {}
    for kind, prefix in (("ws", "fanout_"), ("sio", "sio_fanout_")):
        for clients in _client_counts(prefix):
            data = load(f"{prefix}{clients}")
            assert data is not None
            for server in ("app", "node"):
                runs = data["runs"].get(f"{server}@1", [])
                if runs:
                    rss = sorted(r["server_rss_connected_kib"] for r in runs)[len(runs) // 2]
                    points.setdefault(f"{kind}:{server}", {})[clients] = rss / 1024
                    idle = sorted(r["server_rss_idle_kib"] for r in runs)[len(runs) // 2]
                    points[f"{kind}:{server}"].setdefault(0, idle / 1024)
        idle_data = load("fanout_idle" if kind == "ws" else "sio_idle")
        if idle_data:
            for server, run in idle_data["runs"].items():
                series = points.setdefault(f"{kind}:{server}", {})
                series[idle_data["clients"]] = run["server_rss_connected_kib"] / 1024
                series.setdefault(0, run["server_rss_idle_kib"] / 1024)
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for server, values in sorted(points.items()):
        xs = sorted(values)
        ax.plot(
            xs, [values[x] for x in xs], marker="o", color=COLOURS[server], label=LABELS[server]
        )
    ax.set_xlabel("clients connected (and subscribed)")
    ax.set_ylabel("server RSS, MiB")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title("Server memory vs clients (RSS after every client connected)")
    return _save(fig, "fanout_memory")


def _cdf(histogram: list[int], edges: list[float]) -> tuple[list[float], list[float]]:
    total = sum(histogram)
    xs, ys, seen = [], [], 0
    for edge, count in zip([*edges, edges[-1] * 1.15], histogram, strict=True):
        seen += count
        xs.append(edge)
        ys.append(seen / total if total else 0.0)
    return xs, ys


def fig_mqtt_latency() -> Path | None:
    """CDF of per-change latency, HA state change to MQTT subscriber, each path on its own."""
    data = load("mqtt_peers")
    if data is None:
        return None
    edges = data["histogram_edges_ms"]
    rates = [r for r in data["rates"] if r != "max"]
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(rates), figsize=(4.2 * len(rates), 4), squeeze=False)
    for ax, rate in zip(axes[0], rates, strict=True):
        for path in ("bridge", "statestream"):
            for phase, style in ((path, "-"), ("both", ":")):
                figures = data["phases"].get(f"{phase}@{rate}", {}).get(path)
                if not figures or not figures["changes_delivered"]:
                    continue
                xs, ys = _cdf(figures["latency_histogram"], edges)
                label = LABELS[path] + (" (both running)" if phase == "both" else "")
                ax.step(xs, ys, where="post", linestyle=style, color=COLOURS[path], label=label)
        ax.set_xscale("log")
        ax.set_xlabel("ms from HA state change to subscriber")
        ax.set_title(f"{rate} refresh/s (~13 state changes each)")
        ax.set_ylim(0, 1.01)
    axes[0][0].set_ylabel("share of state changes delivered")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle("MQTT latency distribution: app bridge vs mqtt_statestream, same Home Assistant")
    return _save(fig, "mqtt_latency")


def fig_mqtt_cost() -> Path | None:
    """Messages per system change, and CPU above the baseline per rate."""
    data = load("mqtt_peers")
    if data is None:
        return None
    phases = data["phases"]
    rates = data["rates"]
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    paced = [r for r in rates if r != "max"]
    width = 0.38
    for offset, path in ((-width / 2, "bridge"), (width / 2, "statestream")):
        values = [phases[f"{path}@{r}"][path]["messages_per_refresh"] for r in paced]
        xs = [i + offset for i in range(len(paced))]
        left.bar(xs, values, width, color=COLOURS[path], label=LABELS[path])
        if path == "statestream":
            attributes = [
                phases[f"{path}@{r}"]["attribute_messages_if_publish_attributes"]
                / phases[f"{path}@{r}"]["refreshes"]
                for r in paced
            ]
            left.bar(
                xs,
                attributes,
                width,
                bottom=values,
                color=COLOURS[path],
                alpha=0.35,
                label="+ with publish_attributes: true (counted from the states)",
            )
    left.set_xticks(range(len(paced)), [f"{r}/s" for r in paced])
    left.set_xlabel("system refreshes per second")
    left.set_ylabel("MQTT messages per system change")
    left.set_title("Messages per system change (one refresh)")
    left.legend(fontsize=7)

    def extra(path: str, rate: str) -> tuple[float, float]:
        base = phases[f"baseline@{rate}"]["cpu_percent"]["home_assistant"]
        cpu = phases[f"{path}@{rate}"]["cpu_percent"]
        return max(cpu["home_assistant"] - base, 0.0), cpu.get("app", 0.0)

    for offset, path in ((-width / 2, "bridge"), (width / 2, "statestream")):
        ha, app = zip(*(extra(path, r) for r in paced), strict=True)
        xs = [i + offset for i in range(len(paced))]
        right.bar(xs, ha, width, color=COLOURS[path], label=f"{LABELS[path]}: in Home Assistant")
        if any(app):
            right.bar(
                xs, app, width, bottom=ha, color=COLOURS[path], alpha=0.35, label="… in the app"
            )
    right.set_xticks(range(len(paced)), [f"{r}/s" for r in paced])
    right.set_xlabel("system refreshes per second")
    right.set_ylabel("% of one core above Home Assistant's own")
    right.set_title("CPU the path adds (HA above baseline + app process)")
    right.legend(fontsize=7)
    return _save(fig, "mqtt_cost")


def fig_mqtt_throughput() -> Path | None:
    """Delivered state changes per second and p99 latency against the offered stream."""
    data = load("mqtt_peers")
    if data is None:
        return None
    phases = data["phases"]
    rates = data["rates"]
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    labels = [f"{r}/s" if r != "max" else "flat out" for r in rates]
    for path in ("bridge", "statestream"):
        offered = [
            phases[f"{path}@{r}"]["state_changes"] / phases[f"{path}@{r}"]["window_s"]
            for r in rates
        ]
        delivered = [phases[f"{path}@{r}"][path]["delivered_in_window_per_s"] for r in rates]
        p99 = [phases[f"{path}@{r}"][path]["latency_ms"]["p99"] for r in rates]
        left.plot(
            labels, delivered, marker="o", color=COLOURS[path], label=f"{LABELS[path]}: delivered"
        )
        left.plot(
            labels,
            offered,
            marker="x",
            linestyle=":",
            color=COLOURS[path],
            label="… changes HA made",
        )
        right.plot(labels, p99, marker="o", color=COLOURS[path], label=LABELS[path])
    left.set_yscale("log")
    left.set_ylabel("state changes per second")
    left.set_title("Throughput (inside the window)")
    left.legend(fontsize=7)
    right.set_yscale("log")
    right.set_ylabel("p99 ms, state change to subscriber")
    right.set_title("p99 latency vs offered stream")
    right.legend(fontsize=7)
    fig.suptitle("MQTT paths alone on the same Home Assistant (flat out: HA's loop saturated)")
    return _save(fig, "mqtt_throughput")


def fig_polls() -> Path | None:
    """AlphaESS requests per poll, WiNet poll wall time vs its floor, refresh cost."""
    alpha, winet, refresh = load("alphaess_poll"), load("winet_poll"), load("refresh")
    if not (alpha or winet or refresh):
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    ax = axes[0]
    if alpha:
        bars = {
            "Sunstream\n(planned blocks)": alpha["requests_per_realtime_poll"],
            "with slow rows\n(1 poll in 12)": alpha["requests_max_incl_slow_rows"],
            "one register\nper request": alpha["one_register_per_request_equivalent"],
        }
        ax.bar(list(bars), list(bars.values()), color=["#2ca02c", "#98df8a", "#7f7f7f"])
        for i, v in enumerate(bars.values()):
            ax.text(i, v, f"{v:g}", ha="center", va="bottom")
        ax.set_ylabel("Modbus requests per poll")
        ax.set_title("AlphaESS: requests per poll")
    ax = axes[1]
    if winet:
        labels = ["floor\n(4 × 100 ms)", "median", "p95", "target\n(floor + 5 %)"]
        values = [winet["floor_s"], winet["wall_median_s"], winet["wall_p95_s"], winet["target_s"]]
        ax.bar(
            labels, [v * 1000 for v in values], color=["#7f7f7f", "#1f77b4", "#aec7e8", "#d62728"]
        )
        ax.set_ylim(min(values) * 1000 * 0.9, max(values) * 1000 * 1.03)
        ax.set_ylabel("ms per poll cycle")
        ax.set_title("WiNet: poll cycle wall time")
    ax = axes[2]
    if refresh:
        labels = ["median", "p95"]
        ax.bar(labels, [refresh["median_ms"], refresh["p95_ms"]], color=["#1f77b4", "#aec7e8"])
        ax.axhline(2.0, color="#d62728", linestyle="--", label="target ≤ 2 ms")
        ax.set_ylabel("event-loop ms per refresh")
        ax.set_title(f"Refresh cost ({refresh['entities']} entities)")
        ax.legend(fontsize=7)
    fig.suptitle("Polling benchmarks (scripts/bench)")
    return _save(fig, "polls")


def fig_fleet() -> Path | None:
    """The fleet on one broker: CPU and RSS per process, latency percentiles."""
    if _fleet.load() is None:
        return None
    fig = _fleet.figure(_pyplot())
    return None if fig is None else _save(fig, "fleet")


@dataclass(frozen=True)
class Figure:
    """One figure: how to draw it and how to measure its data."""

    draw: Callable[[], Path | None]
    data: str  # the command that writes its results
    needs: tuple[str, ...]  # results files (any of them)


FIGURE_SET: dict[str, Figure] = {
    "fanout_throughput": Figure(
        fig_fanout_throughput, f"{FANOUT_CMD}; {SIO_CMD}", ("fanout_1000", "sio_fanout_1000")
    ),
    "fanout_latency": Figure(
        fig_fanout_latency, f"{FANOUT_CMD}; {SIO_CMD}", ("fanout_1000", "sio_fanout_1000")
    ),
    "fanout_memory": Figure(
        fig_fanout_memory,
        f"{FANOUT_CMD}; {SIO_CMD}",
        ("fanout_1000", "fanout_idle", "sio_fanout_1000", "sio_idle"),
    ),
    "mqtt_latency": Figure(fig_mqtt_latency, MQTT_CMD, ("mqtt_peers",)),
    "mqtt_cost": Figure(fig_mqtt_cost, MQTT_CMD, ("mqtt_peers",)),
    "mqtt_throughput": Figure(fig_mqtt_throughput, MQTT_CMD, ("mqtt_peers",)),
    "polls": Figure(fig_polls, POLL_CMD, ("alphaess_poll", "winet_poll", "refresh")),
    "fleet": Figure(fig_fleet, _fleet.COMMAND, ("fleet",)),
}


# -- tables -----------------------------------------------------------------------------------


def _g(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, int) or (isinstance(value, float) and value >= 1000):
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _rate(rate: str) -> str:
    return "flat out" if rate == "max" else f"{rate}/s"


def _versus(data: dict[str, Any]) -> str:
    """The app against Node at each stream: throughput ratio and p99s."""
    parts = []
    for rate in data["rates"]:
        app, node = data["median"].get(f"app@{rate}"), data["median"].get(f"node@{rate}")
        if app is None or node is None:
            continue
        ratio = app["deliveries_per_s"] / max(node["deliveries_per_s"], 1)
        parts.append(
            f"{_rate(rate)} {ratio:.2f}× the deliveries, p99 {_g(app['latency_p99_ms'])} vs "
            f"{_g(node['latency_p99_ms'])} ms"
        )
    return f"App against Node: {'; '.join(parts)}." if parts else ""


def table_sio() -> list[str]:
    """One table per client count: both Socket.IO servers at every stream."""
    counts = _client_counts("sio_fanout_")
    if not counts:
        return [_missing("Socket.IO fan-out", SIO_CMD)]
    lines: list[str] = []
    for clients in counts:
        data = load(f"sio_fanout_{clients}")
        assert data is not None
        lines += [
            f"**{clients:,} Socket.IO clients** ({data['repeats']} runs each, medians; "
            f"{data['window_s']:g} s windows; measured {_stamp(f'sio_fanout_{clients}')})",
            "",
            "| Server | Stream | Deliveries/s | per server CPU-s | p50 ms | p99 ms | max ms "
            "| Server CPU % (kernel) | Connect s | Load gen CPU % | Rest of machine CPU % |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for rate in data["rates"]:
            for server, label in (("app", "app (python-socketio)"), ("node", "Node socket.io")):
                m = data["median"].get(f"{server}@{rate}")
                if m is None:
                    continue
                lines.append(
                    f"| {label} | {_rate(rate)} | {_g(m['deliveries_per_s'])} "
                    f"| {_g(m['deliveries_per_server_cpu_s'])} | {_g(m['latency_p50_ms'])} "
                    f"| {_g(m['latency_p99_ms'])} | {_g(m['latency_max_ms'])} "
                    f"| {_g(m['server_cpu_percent'])} ({_g(m['server_sys_percent'])}) "
                    f"| {_g(m['connect_seconds'])} | {_g(m['loadgen_cpu_percent'])} "
                    f"| {mark(m['others_cpu_percent'], _g(m['others_cpu_percent']))} |"
                )
        lines.append("")
        versus = _versus(data)
        if versus:
            lines += [versus, ""]
        if any(noisy(m["others_cpu_percent"]) for m in data["median"].values()):
            lines += [NOISY_NOTE, ""]
    return lines


def table_sio_memory() -> list[str]:
    """RSS per idle subscribed Socket.IO connection, and the real-client runs."""
    idle, real = load("sio_idle"), load("sio_real_client")
    lines: list[str] = []
    if idle is None:
        lines.append(_missing("Socket.IO idle memory", f"{SIO_CMD}_memory"))
    else:
        lines += [
            f"**{idle['clients']:,} idle subscribed Socket.IO clients** "
            f"(measured {_stamp('sio_idle')})",
            "",
            "| Server | RSS before | RSS with the clients | KiB per connection | Connect s |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for server, label in (("app", "app (python-socketio)"), ("node", "Node socket.io")):
            run = idle["runs"][server]
            lines.append(
                f"| {label} | {run['server_rss_idle_kib'] / 1024:.1f} MiB "
                f"| {run['server_rss_window_end_kib'] / 1024:.1f} MiB "
                f"| {run['rss_per_connection_kib']:.1f} | {run['connect_seconds']:.1f} |"
            )
    lines.append("")
    if real is None:
        lines.append(_missing("real socket.io-client runs", f"{SIO_CMD}_real_client"))
    else:
        lines += [
            f"**{real['clients']:,} real socket.io-client clients, 10 updates/s** "
            f"(transports {real.get('transports', 'websocket')}; "
            f"{real['repeats']} runs each, medians; measured {_stamp('sio_real_client')})",
            "",
            "| Server | Deliveries/s | p50 ms | p99 ms | Server CPU % | Load gen CPU % "
            "| Rest of machine CPU % |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for server, label in (("app", "app (python-socketio)"), ("node", "Node socket.io")):
            median = real["median"][server]
            others = median["others_cpu_percent"]
            lines.append(
                f"| {label} | {_g(median['deliveries_per_s'])} "
                f"| {_g(median['latency_p50_ms'])} | {_g(median['latency_p99_ms'])} "
                f"| {_g(median['server_cpu_percent'])} | {_g(median['loadgen_cpu_percent'])} "
                f"| {mark(others, _g(others))} |"
            )
        p99 = {server: real["median"][server]["latency_p99_ms"] for server in ("app", "node")}
        lines += ["", f"App against Node: p99 {_g(p99['app'])} vs {_g(p99['node'])} ms."]
        if any(m["noisy_runs"] for m in real["median"].values()):
            lines += ["", NOISY_NOTE]
    return lines


def table_fanout() -> list[str]:
    """The WebSocket fan-out helper's tables (``bench.fanout.report``), when there are results."""
    if not _client_counts("fanout_"):
        return [
            "**Lead: fill in.** No WebSocket fan-out results were present when this document was "
            f"generated. Run `{FANOUT_CMD}` (writes `bench/results/fanout_*.json`), then "
            "`scripts/bench-report`.",
        ]
    try:
        from bench.fanout import report as fanout
    except ImportError as err:
        return [f"*bench/fanout/report.py could not be imported ({err}).*"]
    lines: list[str] = []
    try:
        for clients in _client_counts("fanout_"):
            lines += [f"Measured {_stamp(f'fanout_{clients}')}:", ""]
            lines += [*fanout.fanout_table(clients), ""]
        lines += [*fanout.idle_table(), ""]
        lines += [
            "**Fed by a real Home Assistant** (app only; latency from HA's state time; clients: "
            "`bench/fanout/loadgen.js`, which reads that stamp)",
            "",
        ]
        lines += fanout.ha_table()
    except (AttributeError, KeyError, TypeError) as err:
        # bench/fanout/report.py belongs to the WebSocket benchmark; say so rather than fail.
        return [f"*bench/fanout/report.py could not render its tables ({err!r}).*"]
    return lines


def table_mqtt() -> list[str]:
    """The MQTT comparison, one row per path and rate."""
    data = load("mqtt_peers")
    if data is None:
        return [_missing("the MQTT comparison", MQTT_CMD)]
    phases = data["phases"]
    lines = [
        f"{data['system_entities']} enabled entities; {data['window_s']:g} s windows; "
        f"statestream `publish_attributes: {str(data['statestream_publish_attributes']).lower()}`; "
        f"measured {_stamp('mqtt_peers')}.",
        "",
        "| Path (phase) | Stream | State changes/s | Msgs per change | Msgs per system change "
        "| Bytes per change | Latency p50 / p99 ms | Complete picture p50 / p99 ms "
        "| Delivered/s | HA CPU % (baseline) | App CPU % | Broker CPU % |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in ("bridge", "statestream", "both"):
        for rate in data["rates"]:
            phase = phases.get(f"{name}@{rate}")
            if phase is None:
                continue
            base = phases.get(f"baseline@{rate}", {}).get("cpu_percent", {}).get("home_assistant")
            paths = ("bridge", "statestream") if name == "both" else (name,)
            for path in paths:
                f = phase.get(path)
                if f is None:
                    continue
                lat, pic = f["latency_ms"], f["complete_picture_ms"]
                cpu = phase["cpu_percent"]
                label = LABELS[path] + (" (both running)" if name == "both" else "")
                lines.append(
                    _row(
                        label,
                        _rate(rate),
                        _g(phase["state_changes"] / phase["window_s"]),
                        _g(f["messages_per_state_change"], 3),
                        _g(f["messages_per_refresh"], 2),
                        _g(f["bytes_per_state_change"]),
                        f"{_g(lat['p50'])} / {_g(lat['p99'])}",
                        f"{_g(pic['p50'])} / {_g(pic['p99'])}",
                        _g(f["delivered_in_window_per_s"]),
                        f"{_g(cpu.get('home_assistant'))} ({_g(base)})",
                        _g(cpu.get("app")),
                        _g(cpu.get("broker")),
                    )
                )
    attributes = [
        phases[f"statestream@{r}"]["attribute_messages_if_publish_attributes"]
        / max(phases[f"statestream@{r}"]["state_changes"], 1)
        for r in data["rates"]
        if f"statestream@{r}" in phases
    ]
    if attributes and not data["statestream_publish_attributes"]:
        lines += [
            "",
            "With `publish_attributes: true` statestream would add one message per attribute "
            f"of each new state: {sum(attributes) / len(attributes):.2f} more per state change "
            "in this stream (counted from the states themselves, not measured).",
        ]
    return lines + _attributes_table()


def _attributes_table() -> list[str]:
    """statestream alone with ``publish_attributes: true``, when that run exists."""
    data = load("mqtt_peers_attributes")
    if data is None:
        return [
            "",
            "statestream with `publish_attributes: true` measured: "
            + _missing("that run", f"BENCH_STATESTREAM_ATTRIBUTES=1 {MQTT_CMD}"),
        ]
    lines = [
        "",
        f"**statestream with `publish_attributes: true`**, alone (same set-up, separate run; "
        f"measured {_stamp('mqtt_peers_attributes')}):",
        "",
        _row(
            "Stream",
            "Msgs per change",
            "Msgs per system change",
            "Bytes per change",
            "Latency p50 / p99 ms",
            "Complete picture p50 / p99 ms",
            "Delivered/s",
            "HA CPU % (baseline)",
        ),
        _row("---", *["---:"] * 7),
    ]
    for rate in data["rates"]:
        phase = data["phases"].get(f"statestream@{rate}")
        if phase is None or "statestream" not in phase:
            continue
        f = phase["statestream"]
        lat, pic = f["latency_ms"], f["complete_picture_ms"]
        base = data["phases"].get(f"baseline@{rate}", {}).get("cpu_percent", {})
        lines.append(
            _row(
                _rate(rate),
                _g(f["messages"] / max(phase["state_changes"], 1), 2),
                _g(f["messages"] / max(phase["refreshes"], 1), 1),
                _g(f["bytes_per_state_change"]),
                f"{_g(lat['p50'])} / {_g(lat['p99'])}",
                f"{_g(pic['p50'])} / {_g(pic['p99'])}",
                _g(f["delivered_in_window_per_s"]),
                f"{_g(phase['cpu_percent'].get('home_assistant'))} "
                f"({_g(base.get('home_assistant'))})",
            )
        )
    return lines


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def table_polls() -> list[str]:
    """The polling benchmarks in one table."""
    alpha, winet = load("alphaess_poll"), load("winet_poll")
    refresh, many = load("refresh"), load("many_systems")
    lines = [_row("Figure", "Target", "Measured", "Results"), _row("---", "---", "---", "---")]
    if alpha:
        per_register = alpha["one_register_per_request_equivalent"]
        spacing = alpha["command_spacing_s"]
        lines += [
            _row(
                "AlphaESS requests per real-time poll",
                "≤ 5",
                f"**{alpha['requests_per_realtime_poll']:g}** "
                f"({alpha['requests_max_incl_slow_rows']} with the slow rows, 1 poll in 12)",
                f"`alphaess_poll.json`, {_stamp('alphaess_poll')}",
            ),
            _row(
                "AlphaESS one-register-per-request, same data",
                "—",
                f"{per_register} requests ({per_register * spacing:.1f} s at "
                f"{spacing * 1000:.0f} ms spacing)",
                "counted from the register map",
            ),
            _row(
                "AlphaESS poll wall time, median",
                f"≤ {alpha['wall_target_s']:g} s",
                f"**{alpha['wall_median_s']} s** (floor {alpha['wall_floor_s']:g} s)",
                "",
            ),
        ]
    else:
        lines.append(_row("AlphaESS", "", _missing("AlphaESS poll", POLL_CMD), ""))
    if winet:
        lines += [
            _row(
                "WiNet requests per cycle",
                "—",
                f"**{winet['requests_per_cycle']:g}**",
                f"`winet_poll.json`, {_stamp('winet_poll')}",
            ),
            _row(
                "WiNet poll wall time, median (p95)",
                f"≤ {winet['target_s']} s",
                f"**{winet['wall_median_s']} s** ({winet['wall_p95_s']} s); floor "
                f"{winet['floor_s']} s, +{winet['overhead_pct']} %",
                "",
            ),
            _row("WiNet client CPU per cycle, median", "—", f"{winet['cpu_median_ms']} ms", ""),
        ]
    else:
        lines.append(_row("WiNet", "", _missing("WiNet poll", POLL_CMD), ""))
    if refresh:
        lines.append(
            _row(
                "Refresh, median (p95)",
                "≤ 2 ms",
                f"**{refresh['median_ms']} ms** ({refresh['p95_ms']} ms), "
                f"{refresh['entities']} entities",
                f"`refresh.json`, {_stamp('refresh')}",
            )
        )
    else:
        lines.append(_row("Refresh", "≤ 2 ms", _missing("refresh cost", POLL_CMD), ""))
    if many:
        lines.append(
            _row(
                f"{many['systems']} systems at 1 s: CPU",
                "—",
                f"**{many['cpu_percent_of_one_core']} % of one core** "
                f"({many['cpu_ms_per_refresh']} ms per refresh)",
                f"`many_systems.json`, {_stamp('many_systems')}",
            )
        )
    return lines


def table_side_by_side() -> list[str]:
    """Home Assistant's CPU with many systems: this code beside a baseline commit's."""
    result = load("many_systems_side_by_side")
    if not result:
        return [_missing("many systems beside the baseline", SIDE_BY_SIDE_CMD)]
    summary = result["summary"]
    lines = [
        f"{result['systems']} simulated systems polled every second for {result['seconds']:g} s "
        f"per run, in a real Home Assistant; this code (`{result['current']}`) and commit "
        f"`{result['baseline']}` each in a process of its own, {result['repeats']} repeats, "
        f"who goes first alternating; measured {_stamp('many_systems_side_by_side')}. A run "
        f"while the rest of the machine kept more than {result['noise_bound_cores']:g} cores "
        "busy is marked noisy and left out of the medians.",
        "",
        _row(
            "Code",
            "Entities",
            "CPU, % of one core (median, range)",
            "ms per refresh",
            "Refreshes/s",
            "Medians of",
        ),
        _row("---", "---:", "---:", "---:", "---:", "---"),
    ]
    for side, name in (("current", "this code"), ("baseline", f"`{result['baseline']}`")):
        row = summary[side]
        low, high = row["cpu_percent_range"]
        lines.append(
            _row(
                name,
                _g(row["entities"]),
                f"**{row['cpu_percent_of_one_core']:.1f}** ({low:.1f}–{high:.1f})",
                f"{row['cpu_ms_per_refresh']:.3f}",
                f"{row['refreshes_per_second']:.1f}",
                f"{row['medians_of']}, {row['quiet_runs']} of {row['runs']} quiet",
            )
        )
    per_refresh = (
        summary["current"]["cpu_ms_per_refresh"] / summary["baseline"]["cpu_ms_per_refresh"]
    )
    lines += [
        "",
        f"Per refresh, this code costs **{per_refresh:.2f}×** the baseline's CPU; the whole "
        f"process, **{summary['cpu_ratio']:.2f}×**.",
        "",
        _row("Repeat", "Code", "Went", "CPU, % of one core", "ms per refresh", "Rest of machine"),
        _row("---:", "---", "---:", "---:", "---:", "---"),
    ]
    for run in result["runs"]:
        rest = run.get("rest_of_machine_cores")
        rest_cell = "—" if rest is None else f"{rest:.2f} cores"
        if run["noisy"]:
            rest_cell += " (**noisy**)"
        lines.append(
            _row(
                str(run["repeat"]),
                "this code" if run["side"] == "current" else f"`{result['baseline']}`",
                "first" if run["position"] == 1 else "second",
                f"{run['cpu_percent_of_one_core']:.1f}",
                f"{run['cpu_ms_per_refresh']:.3f}",
                rest_cell,
            )
        )
    return lines


def _load(result: dict[str, Any]) -> str:
    """The machine's 1-minute load average before and after a run, when recorded."""
    load = result.get("load_average")
    if not load:
        return ""
    cores = result.get("machine", {}).get("cores", "?")
    return f" (load average {load[0]:.1f} → {load[1]:.1f} on {cores} cores)"


def table_sungrow() -> list[str]:
    """Sungrow requests and wall time per poll against row by row; the endpoint's latency."""
    polls, endpoint = load("sungrow_poll"), load("sungrow_endpoint")
    lines: list[str] = []
    if polls:
        lines += [
            f"{polls['model']} against the fake inverter, {polls['lan']['polls']} polls each, "
            f"alternating; slow rows on 1 poll in {polls['slow_every']}; measured "
            f"{_stamp('sungrow_poll')}{_load(polls)}.",
            "",
            _row(
                "Connection",
                "Reader",
                "Requests per poll",
                "With the slow rows",
                "Wall time per poll, median",
                "Floor (spacing × gaps)",
            ),
            _row("---", "---", "---:", "---:", "---:", "---:"),
        ]
        for key, name in (("lan", "LAN port"), ("winet", "WiNet-S")):
            run = polls[key]
            where = (
                f"{name} ({run['spacing_s'] * 1000:.0f} ms spacing, "
                f"≤ {run['max_count']} registers per read)"
            )
            lines += [
                _row(
                    where,
                    "Sunstream (planned blocks)",
                    f"**{run['requests_realtime']:g}**",
                    f"{run['requests_with_slow_rows']:g}",
                    f"**{run['wall_realtime_median_s']} s**",
                    f"{(run['requests_realtime'] - 1) * run['spacing_s']:.2f} s",
                ),
                _row(
                    where,
                    "one request per register row",
                    f"{run['baseline_requests_realtime']:g}",
                    f"{run['baseline_requests_with_slow_rows']:g}",
                    f"{run['baseline_wall_realtime_median_s']} s",
                    f"{(run['baseline_requests_realtime'] - 1) * run['spacing_s']:.2f} s",
                ),
            ]
    else:
        lines.append(_missing("Sungrow poll", SUNGROW_CMD))
    lines.append("")
    if endpoint:
        lines += [
            f"Reading {endpoint['registers']} input registers (5002..5035), "
            f"{endpoint['reads']} reads each, in turn; measured "
            f"{_stamp('sungrow_endpoint')}{_load(endpoint)}.",
            "",
            _row("Path", "Median ms", "p95 ms", "Added to direct, median ms"),
            _row("---", "---:", "---:", "---:"),
        ]
        for key, name in (
            ("direct", "straight from the device"),
            ("cached", "through the endpoint, answered from the latest poll"),
            ("forwarded", "through the endpoint, forwarded over Sunstream's session"),
        ):
            run = endpoint[key]
            added = run.get("added_median_ms")
            lines.append(
                _row(
                    name,
                    f"{run['median_ms']:.2f}",
                    f"{run['p95_ms']:.2f}",
                    "—" if added is None else f"{added:+.2f}",
                )
            )
    else:
        lines.append(_missing("shared endpoint latency", SUNGROW_CMD))
    return lines


def table_figures() -> list[str]:
    """Each figure with the commands that reproduce it."""
    lines = ["| Figure | Measure | Draw |", "| --- | --- | --- |"]
    for name, figure in FIGURE_SET.items():
        lines.append(
            f"| `docs/img/performance/{name}.png` | `{figure.data}` "
            f"| `scripts/bench-report --figure {name}` |"
        )
    return lines


TABLES: dict[str, Callable[[], list[str]]] = {
    "sio": table_sio,
    "sio_memory": table_sio_memory,
    "fanout": table_fanout,
    "mqtt": table_mqtt,
    "polls": table_polls,
    "many_systems_side_by_side": table_side_by_side,
    "sungrow": table_sungrow,
    "fleet": lambda: _fleet.table(_stamp("fleet")),
    "figures": table_figures,
}
_BLOCK = re.compile(r"(<!-- generated:(\w+) -->\n)(.*?)(<!-- /generated:\2 -->)", re.DOTALL)


def rewrite_doc(doc: Path = DOC, only: frozenset[str] | None = None) -> list[str]:
    """Rewrite the generated blocks of ``doc`` (those named in ``only``, if given).

    ``only`` lets one benchmark's fresh results replace its own tables while every other
    block keeps the run it was made from (each carries its own "Measured …" stamp), so a
    machine that holds some of the results never blanks the rest. Returns the names rewritten.
    """
    text = doc.read_text(encoding="utf-8")
    done: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        table = TABLES.get(name)
        if table is None or (only is not None and name not in only):
            return match.group(0)
        done.append(name)
        body = "\n".join(table()).rstrip("\n")
        return f"{match.group(1)}{body}\n{match.group(4)}"

    doc.write_text(_BLOCK.sub(replace, text), encoding="utf-8")
    return done


def main(argv: list[str] | None = None) -> int:
    """Draw the figures, rewrite the tables; ``--figure``, ``--list``, ``--check``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--figure", choices=sorted(FIGURE_SET), help="draw only this figure")
    parser.add_argument("--list", action="store_true", help="name the figures and their commands")
    parser.add_argument("--check", action="store_true", help="list the results that are missing")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument(
        "--only",
        type=lambda value: frozenset(value.split(",")),
        help=f"rewrite only these blocks (comma-separated: {', '.join(TABLES)})",
    )
    args = parser.parse_args(argv)
    if args.list:
        for name, figure in FIGURE_SET.items():
            print(f"{name}: measure with `{figure.data}`")
        return 0
    if args.check:
        missing = [
            (name, figure.data)
            for name, figure in FIGURE_SET.items()
            if not any((RESULTS / f"{need}.json").is_file() for need in figure.needs)
        ]
        for name, command in missing:
            print(f"{name}: no results; run `{command}`")
        return 1 if missing else 0
    names = [args.figure] if args.figure else list(FIGURE_SET)
    for name in names:
        path = FIGURE_SET[name].draw()
        if path is None:
            print(f"{name}: no results; run `{FIGURE_SET[name].data}`", file=sys.stderr)
        else:
            print(f"{name}: {path.relative_to(REPO)}")
    if not args.figure and not args.no_doc and DOC.is_file():
        unknown = sorted((args.only or frozenset()) - TABLES.keys())
        if unknown:
            parser.error(f"unknown block(s): {', '.join(unknown)}")
        done = rewrite_doc(only=args.only)
        print(f"docs/performance.md: rewrote {', '.join(done) or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

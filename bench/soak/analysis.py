"""Turn a run directory into ``report.json`` and ``report.md``.

``python -m bench.soak.analysis RUN_DIR`` redoes it from the files alone
(``meta.json``, ``timeline.jsonl``, ``faults.jsonl``, ``load-events.jsonl``,
``load-stats.jsonl``, ``resources.jsonl`` and the logs), so the figures can
be recomputed, and checked, after the fact.

Definitions (also in ``docs/reliability.md``):

* an *unavailability window* is an interval where something a user sees is
  not right: the app not serving (``app_down``), its Home Assistant feed
  down (``feed_down``), a system not ``online`` as the app reports it
  (``app_offline:<system>``) or as Home Assistant's connectivity sensor says
  (``ha_offline:<system>``), the bridge not online on the broker
  (``mqtt_unavailable``), dashboard clients not all connected
  (``clients_missing``) or connected but not receiving the 5-second
  document (``clients_stalled``), or no new document of the simulated
  system (it changes every 5 s) for 15 s although the app says all is well
  (``updates_stalled:<system>``: stale data shown as live);
* it is *explained* when it overlaps a fault that can cause it (see
  :data:`CAUSES`), from the fault's start to its recovery plus
  :data:`GRACE`; otherwise it counts against the stack;
* a client disconnect is explained only by an app fault (the app's
  process restarting); every other disconnect counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import pairwise
import json
from pathlib import Path
import re
import statistics
import sys
import time
from typing import Any

from .common import read_jsonl

GRACE = 10.0
SETTLE = 5.0
# window kind (prefix) -> fault scopes that can cause it
CAUSES: dict[str, tuple[str, ...]] = {
    "app_down": ("app",),
    "feed_down": ("ha_link", "app"),
    "app_offline": ("device", "ha_link", "app"),
    "ha_offline": ("device",),
    "mqtt_unavailable": ("broker", "app"),
    "clients_missing": ("app",),
    "clients_stalled": ("app",),
    "updates_stalled": ("device", "ha_link", "app"),
}
# The simulated system's document changes every 5 s; no new one for this long is a stall.
UPDATE_STALL = 15.0
GROWTH_LIMIT = 5.0
# The app's RSS after a crowd left, in % of its idle RSS (issue 12: back within 20 %).
MEMORY_RETURN_LIMIT = 120.0
TRACEBACK = "Traceback (most recent call last)"
# A traceback through any of these is Sunstream's, whenever it happened.
OURS = (
    "custom_components/sunstream",
    "custom_components.sunstream",
    "sunstream_monitor",
    "pysunstream",
)
_UNHANDLED = re.compile(
    r"Task exception was never retrieved|Exception in callback|Unhandled exception|"
    r"Error doing job|Uncaught exception|Future exception was never retrieved"
)
_LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")


# -- windows ---------------------------------------------------------------------------


def intervals(points: list[tuple[float, bool]], start: float, end: float) -> list[list[float]]:
    """Intervals in [start, end] where the last point said "bad"."""
    points = sorted(points, key=lambda p: p[0])
    bad = False
    opened: float | None = None
    out: list[list[float]] = []
    for t, value in points:
        if t <= start:
            bad = value
            continue
        if t >= end:
            break
        if value and not bad:
            opened = t
        elif bad and not value:
            out.append([opened if opened is not None else start, t])
            opened = None
        bad = value
    if bad:
        out.append([opened if opened is not None else start, end])
    return [w for w in out if w[1] > w[0]]


def unavailability(
    timeline: list[dict[str, Any]],
    load: list[dict[str, Any]],
    systems: list[str],
    target: int,
    start: float,
    end: float,
    sim_systems: tuple[str, ...] = (),
) -> dict[str, list[list[float]]]:
    """Every kind of unavailability window, clipped to the soak."""
    health = [r for r in timeline if r.get("src") == "health"]
    kinds: dict[str, list[list[float]]] = {
        "app_down": intervals([(r["t"], not r["up"]) for r in health], start, end),
        "feed_down": intervals(
            [(r["t"], bool(r["up"]) and r["feed"] is False) for r in health], start, end
        ),
    }
    observer = [
        r for r in timeline if r.get("src") == "observer" and r["what"] in ("status", "link")
    ]
    for system in systems:
        points = []
        for r in observer:
            if r["what"] == "link":
                if not r["up"]:
                    points.append((r["t"], False))  # the app is down: app_down covers it
            else:
                points.append((r["t"], (r.get("systems") or {}).get(system) != "online"))
        kinds[f"app_offline:{system}"] = intervals(points, start, end)
        ha = [
            (r["t"], r["state"] != "on")
            for r in timeline
            if r.get("src") == "ha" and r.get("what") == "connectivity" and r["system"] == system
        ]
        kinds[f"ha_offline:{system}"] = intervals(ha, start, end)
    mqtt_points: list[tuple[float, bool]] = []
    link_up, bridge = False, "offline"
    for r in timeline:
        if r.get("src") != "mqtt" or r.get("what") not in ("link", "bridge"):
            continue
        if r["what"] == "link":
            link_up = bool(r["up"])
        else:
            bridge = r["value"]
        mqtt_points.append((r["t"], not link_up or bridge != "online"))
    kinds["mqtt_unavailable"] = intervals(mqtt_points, start, end)
    for system in sim_systems:
        times = sorted(
            r["t"]
            for r in timeline
            if r.get("src") == "observer" and r.get("what") == "update" and r["system"] == system
        )
        stalls = [
            [a + UPDATE_STALL, b]
            for a, b in zip([start, *times], [*times, end], strict=False)
            if b - a > UPDATE_STALL
        ]
        kinds[f"updates_stalled:{system}"] = [
            [max(a, start), min(b, end)] for a, b in stalls if min(b, end) > max(a, start)
        ]
    kinds["clients_missing"] = intervals(
        [(r["t"], int(r["connected"]) < target) for r in load if not r.get("final")], start, end
    )
    kinds["clients_stalled"] = intervals(
        [(r["t"], int(r.get("stalled", 0)) > 0) for r in load if not r.get("final")], start, end
    )
    return kinds


def _union(spans: list[list[float]]) -> list[list[float]]:
    merged: list[list[float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        elif b > a:
            merged.append([a, b])
    return merged


def _intersect(xs: list[list[float]], ys: list[list[float]]) -> list[list[float]]:
    out = []
    for a, b in xs:
        for c, d in ys:
            if min(b, d) > max(a, c):
                out.append([max(a, c), min(b, d)])
    return _union(out)


def _length(spans: list[list[float]]) -> float:
    return sum(b - a for a, b in spans)


def fault_span(fault: dict[str, Any], recovery_timeout: float) -> tuple[float, float]:
    """From the fault's start to its recovery (or the recovery deadline) plus the grace."""
    end = fault.get("recovered_at") or (fault.get("clear") or fault["start"]) + recovery_timeout
    return fault["start"] - 2.0, end + GRACE


def _causes(kind: str, fault: dict[str, Any]) -> bool:
    prefix, _, system = kind.partition(":")
    scope = fault["scope"]
    allowed = CAUSES.get(prefix, ())
    if scope.startswith("device:"):
        return "device" in allowed and (not system or scope == f"device:{system}")
    return scope in allowed


def attribute(
    windows: dict[str, list[list[float]]], faults: list[dict[str, Any]], recovery_timeout: float
) -> list[dict[str, Any]]:
    """Each window with the faults that explain it (none: unexplained)."""
    out = []
    for kind, spans in windows.items():
        for a, b in spans:
            causes = [
                f["id"]
                for f in faults
                if _causes(kind, f)
                and (span := fault_span(f, recovery_timeout))[0] < b
                and a < span[1]
            ]
            out.append(
                {"kind": kind, "start": a, "end": b, "seconds": round(b - a, 3), "faults": causes}
            )
    return sorted(out, key=lambda w: w["start"])


# -- clients ---------------------------------------------------------------------------


def disconnects(
    events: list[dict[str, Any]],
    faults: list[dict[str, Any]],
    start: float,
    end: float,
    recovery_timeout: float,
) -> dict[str, Any]:
    app_spans = [fault_span(f, recovery_timeout) for f in faults if f["scope"] == "app"]

    def explained(t: float) -> bool:
        return any(a <= t <= b for a, b in app_spans)

    kinds = ("disconnect", "auth_refused", "handshake_failed", "connect_failed")
    result: dict[str, Any] = {}
    for ev in kinds:
        rows = [e for e in events if e.get("ev") == ev and start <= e["t"] <= end]
        bad = [e for e in rows if not explained(e["t"])]
        reasons = Counter(f"code={e.get('code')} {e.get('error') or ''}".strip() for e in bad)
        result[ev] = {
            "total": len(rows),
            "during_app_faults": len(rows) - len(bad),
            "unexplained": len(bad),
            "unexplained_reasons": dict(reasons.most_common(10)),
            "unexplained_times": [round(e["t"] - start, 1) for e in bad[:20]],
        }
    reconnects = [e["after"] for e in events if e.get("ev") == "reconnected" and start <= e["t"]]
    result["reconnect_seconds"] = _dist(reconnects)
    return result


# -- MQTT ------------------------------------------------------------------------------


def _key(frame: dict[str, Any]) -> str:
    return json.dumps(frame, sort_keys=True, separators=(",", ":"))


def mqtt_check(
    timeline: list[dict[str, Any]], faults: list[dict[str, Any]], recovery_timeout: float
) -> dict[str, Any]:
    """Events the app emitted (seen on ``/ws``) vs events an MQTT subscriber received."""
    emitted = [r for r in timeline if r.get("src") == "observer" and r.get("what") == "event"]
    received = [r for r in timeline if r.get("src") == "mqtt" and r.get("what") == "event"]
    got = Counter(_key(r["frame"]) for r in received)
    app_spans = [
        (f["start"] - 5.0, (f.get("clear") or f["start"]) + 5.0)
        for f in faults
        if f["scope"] == "app"
    ]
    lost, lost_with_app = [], []
    remaining = Counter(got)
    for r in emitted:
        key = _key(r["frame"])
        if remaining[key] > 0:
            remaining[key] -= 1
            continue
        if any(a <= r["t"] <= b for a, b in app_spans):
            lost_with_app.append(r)
        else:
            lost.append(r)
    sent = Counter(_key(r["frame"]) for r in emitted)
    extra = sum((got - sent).values())
    states = [r for r in timeline if r.get("src") == "mqtt" and r.get("what") == "state"]
    updates = [r for r in timeline if r.get("src") == "observer" and r.get("what") == "update"]
    ha_events = [r for r in timeline if r.get("src") == "ha" and r.get("what") == "event"]
    return {
        "events_emitted_by_app": len(emitted),
        "events_received_on_mqtt": len(received),
        "events_lost": len(lost),
        "events_lost_with_app_process": len(lost_with_app),
        "events_only_on_mqtt": extra,
        "lost_samples": [{"t": r["t"], "frame": r["frame"]} for r in lost[:10]],
        "events_by_type": dict(Counter(r["frame"].get("type") for r in emitted)),
        "ha_events_fired": len(ha_events),
        "ha_events_by_type": dict(Counter(r.get("event_type") for r in ha_events)),
        "state_documents_on_ws": len(updates),
        "state_messages_on_mqtt": len(states),
    }


def false_offline(
    timeline: list[dict[str, Any]],
    start: float,
    end: float,
    faults: list[dict[str, Any]],
    recovery_timeout: float,
) -> dict[str, Any]:
    """``offline`` said (MQTT availability, ``/ws`` status) while Home Assistant said online.

    Home Assistant's connectivity sensor is the truth; a system it has had
    ``on`` for :data:`SETTLE` seconds before and after was online, whatever
    the app was going through. Not counted: while the Home Assistant link is
    cut or stalled (the app can only repeat what it last knew), and retained
    messages the broker hands a new subscription (its store may predate the
    bridge's reconnection). Counted: anything the app says live, including
    while it restarts — a restarting app knows nothing yet, and should say
    nothing rather than "offline".
    """
    blind = [fault_span(f, recovery_timeout) for f in faults if f["scope"] == "ha_link"]
    ha: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for r in timeline:
        if r.get("src") == "ha" and r.get("what") == "connectivity":
            ha[r["system"]].append((r["t"], r["state"] == "on"))

    def surely_online(system: str, t: float) -> bool:
        points = ha.get(system, [])
        last = [v for when, v in points if when <= t]
        if not last or not last[-1]:
            return False
        # No change around t: not a real transition being reported late or early.
        return not any(t - SETTLE <= when <= t + SETTLE for when, _ in points)

    found: list[dict[str, Any]] = []
    for r in timeline:
        if not start <= r["t"] <= end or any(a <= r["t"] <= b for a, b in blind):
            continue
        if (
            r.get("src") == "mqtt"
            and r.get("what") == "availability"
            and r["value"] == "offline"
            and not r.get("retain")
        ):
            if surely_online(r["system"], r["t"]):
                found.append({"t": r["t"], "where": "mqtt availability", "system": r["system"]})
        elif r.get("src") == "observer" and r.get("what") == "status":
            for system, status in (r.get("systems") or {}).items():
                if status == "offline" and surely_online(system, r["t"]):
                    found.append({"t": r["t"], "where": "/ws connection_status", "system": system})
    return {
        "count": len(found),
        "by_where": dict(Counter(f["where"] for f in found)),
        "samples": [{**f, "at": round(f["t"] - start, 2)} for f in found[:20]],
    }


def ha_to_app(
    timeline: list[dict[str, Any]],
    windows: dict[str, list[list[float]]],
    faults: list[dict[str, Any]],
    recovery_timeout: float,
) -> dict[str, Any]:
    """Connectivity and dispatch events fired in HA that never reached the app."""
    app_frames = Counter(
        _key(r["frame"].get("data") or {})
        for r in timeline
        if r.get("src") == "observer"
        and r.get("what") == "event"
        and r["frame"].get("type") in ("connectivity", "dispatch")
    )
    down = windows.get("app_down", []) + windows.get("feed_down", [])
    # Home Assistant's WebSocket API has no replay: what it fires while the link is
    # cut or stalled, or the app is restarting, is gone for the app.
    down += [
        list(fault_span(f, recovery_timeout)) for f in faults if f["scope"] in ("ha_link", "app")
    ]
    missed_down, missed = 0, []
    for r in timeline:
        if r.get("src") != "ha" or r.get("what") != "event":
            continue
        if r.get("event_type") not in ("sunstream_connectivity", "sunstream_dispatch"):
            continue
        key = _key(r.get("data") or {})
        if app_frames[key] > 0:
            app_frames[key] -= 1
        elif any(a - 3 <= r["t"] <= b + 3 for a, b in down):
            missed_down += 1
        else:
            missed.append({"t": r["t"], "type": r.get("event_type"), "data": r.get("data")})
    return {
        "missed_while_feed_down": missed_down,
        "missed_otherwise": len(missed),
        "missed_samples": missed[:10],
    }


# -- resources -------------------------------------------------------------------------


def resources(
    samples: list[dict[str, Any]], start: float, warm: float, end: float, window: float = 30.0
) -> dict[str, Any]:
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in samples:
        by_name[s["name"]].append(s)
    out: dict[str, Any] = {}
    machine = by_name.pop("machine", [])
    if len(machine) > 1:
        inside = [m for m in machine if start <= m["t"] <= end]
        if len(inside) > 1:
            busy = inside[-1]["busy"] - inside[0]["busy"]
            total = inside[-1]["total"] - inside[0]["total"]
            out["machine_busy_percent_of_all_cores"] = round(100 * busy / max(1, total), 1)
    for name, rows in by_name.items():
        rows.sort(key=lambda r: r["t"])
        cpu_points = []
        for a, b in pairwise(rows):
            if a["pid"] == b["pid"] and b["t"] > a["t"]:
                cpu_points.append((b["t"], 100 * (b["cpu"] - a["cpu"]) / (b["t"] - a["t"])))
        in_soak = [c for t, c in cpu_points if start <= t <= end]
        base = [r["rss"] for r in rows if warm <= r["t"] <= warm + window]
        final = [r["rss"] for r in rows if end - window <= r["t"] <= end]
        pids = []
        for r in rows:
            if not pids or pids[-1] != r["pid"]:
                pids.append(r["pid"])
        entry: dict[str, Any] = {
            "cpu_percent_mean": round(statistics.fmean(in_soak), 1) if in_soak else None,
            "cpu_percent_p95": _pct(in_soak, 95),
            "rss_mib_after_warmup": _mib(statistics.median(base)) if base else None,
            "rss_mib_final": _mib(statistics.median(final)) if final else None,
            "rss_mib_peak": _mib(max(r["rss"] for r in rows if start <= r["t"] <= end))
            if any(start <= r["t"] <= end for r in rows)
            else None,
            "incarnations": len(pids),
        }
        if base and final:
            growth = (
                100 * (statistics.median(final) - statistics.median(base)) / statistics.median(base)
            )
            entry["rss_growth_percent"] = round(growth, 2)
            entry["growth_ok"] = growth < GROWTH_LIMIT
        # The longest-lived incarnation on its own (a restart resets the heap).
        longest = _longest(rows, warm, end, window)
        if longest is not None:
            entry["longest_incarnation"] = longest
        out[name] = entry
    return out


def _longest(rows: list[dict[str, Any]], warm: float, end: float, window: float) -> Any:
    spans: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        spans[r["pid"]].append(r)
    best = max(spans.values(), key=lambda rs: rs[-1]["t"] - rs[0]["t"])
    first, last = best[0]["t"], best[-1]["t"]
    settle = max(first + 60.0, warm)
    base = [r["rss"] for r in best if settle <= r["t"] <= settle + window]
    final = [r["rss"] for r in best if last - window <= r["t"] <= min(last, end)]
    if not base or not final or last - settle < 2 * window:
        return None
    b, f = statistics.median(base), statistics.median(final)
    return {
        "pid": best[0]["pid"],
        "seconds": round(last - first),
        "from_mib": _mib(b),
        "to_mib": _mib(f),
        "growth_percent": round(100 * (f - b) / b, 2),
    }


def _mib(value: float) -> float:
    return round(value / 1048576, 1)


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 1)


def _dist(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 3),
        "p95": _pct(values, 95),
        "max": round(max(values), 3),
    }


# -- logs ------------------------------------------------------------------------------


_MARKER = re.compile(r"===== soak: starting \S+ at ([0-9.]+) =====")


def _stamp(line: str) -> float | None:
    """The local-time stamp a log line starts with, as epoch seconds."""
    try:
        return time.mktime(time.strptime(line[:19].replace("T", " "), "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return None


def scan_log(path: Path, t0: float | None = None) -> dict[str, Any]:
    """Tracebacks and unhandled-exception lines, split into set-up (before ``t0``) and soak.

    A process may log in another time zone than this one: the soak writes a
    marker with the epoch time before each start, and the first stamped line
    after it gives the offset (rounded to the half hour).
    """
    if not path.exists():
        return {"missing": True}
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    offset = 0.0
    for k, line in enumerate(lines):
        if (marker := _MARKER.search(line)) is not None:
            for later in lines[k + 1 : k + 50]:
                if _LOG_LINE.match(later) and (stamp := _stamp(later)) is not None:
                    offset = round((float(marker.group(1)) - stamp) / 1800) * 1800
                    break
            break
    soak: Counter[str] = Counter()
    setup: Counter[str] = Counter()
    unhandled: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    last_header, last_time = "", None
    i = 0
    while i < len(lines):
        line = lines[i]
        if _LOG_LINE.match(line):
            last_header = line
            stamp = _stamp(line)
            last_time = None if stamp is None else stamp + offset
            in_soak = t0 is None or last_time is None or last_time >= t0
            if in_soak and (" ERROR " in line or " CRITICAL " in line):
                errors[_strip_time(line)[:160]] += 1
            if in_soak and _UNHANDLED.search(line):
                unhandled[_strip_time(line)[:160]] += 1
        if TRACEBACK in line:
            j = i + 1
            while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
                j += 1
            final = lines[j] if j < len(lines) else "?"
            signature = f"{_strip_time(last_header)[:120]} || {final[:160]}"
            in_soak = t0 is None or last_time is None or last_time >= t0
            text = "\n".join([last_header, *lines[i:j]])
            ours = any(mark in text for mark in OURS)
            (soak if in_soak or ours else setup)[signature] += 1
            i = j
        i += 1
    return {
        "tracebacks": sum(soak.values()),
        "traceback_signatures": dict(soak.most_common(20)),
        "setup_tracebacks": sum(setup.values()),
        "setup_traceback_signatures": dict(setup.most_common(10)),
        "unhandled": sum(unhandled.values()),
        "unhandled_lines": dict(unhandled.most_common(10)),
        "error_lines": sum(errors.values()),
        "error_signatures": dict(errors.most_common(15)),
    }


def _strip_time(line: str) -> str:
    return re.sub(r"^\S+ \S+ ", "", line) if _LOG_LINE.match(line) else line


# -- the report ------------------------------------------------------------------------


def analyse(run: Path) -> dict[str, Any]:
    meta = json.loads((run / "meta.json").read_text())
    timeline = read_jsonl(run / "timeline.jsonl")
    faults = read_jsonl(run / "faults.jsonl")
    load = read_jsonl(run / "load-stats.jsonl")
    events = read_jsonl(run / "load-events.jsonl")
    samples = read_jsonl(run / "resources.jsonl")
    start, end, warm = meta["t0"], meta["t_end"], meta["warmup_end"]
    timeout = meta["recovery_timeout"]
    systems = list(meta["systems"])
    target = meta["clients"]["total"]

    sims = tuple(s for s, info in meta["systems"].items() if info.get("source") == "simulated")
    windows = unavailability(timeline, load, systems, target, start, end, sims)
    attributed = attribute(windows, faults, timeout)
    unexplained = [w for w in attributed if not w["faults"]]

    by_kind: dict[str, dict[str, Any]] = {}
    for f in faults:
        row = by_kind.setdefault(
            f["kind"],
            {"injected": 0, "recovered": 0, "ttr": [], "impact_seconds": 0.0, "notes": []},
        )
        row["injected"] += 1
        if f.get("ttr") is not None:
            row["recovered"] += 1
            row["ttr"].append(f["ttr"])
        if f.get("note"):
            row["notes"].append(f["note"])
        row["impact_seconds"] += sum(w["seconds"] for w in attributed if f["id"] in w["faults"])
    faults_table = {
        kind: {
            "injected": row["injected"],
            "recovered": row["recovered"],
            "ttr_p50": round(statistics.median(row["ttr"]), 2) if row["ttr"] else None,
            "ttr_max": round(max(row["ttr"]), 2) if row["ttr"] else None,
            "impact_seconds": round(row["impact_seconds"], 1),
            "notes": sorted(set(row["notes"]))[:3],
        }
        for kind, row in sorted(by_kind.items())
    }
    window_totals: dict[str, dict[str, Any]] = {}
    for w in attributed:
        kind = w["kind"]
        total = window_totals.setdefault(
            kind, {"windows": 0, "seconds": 0.0, "unexplained": 0, "unexplained_seconds": 0.0}
        )
        total["windows"] += 1
        total["seconds"] = round(total["seconds"] + w["seconds"], 2)
        if not w["faults"]:
            total["unexplained"] += 1
            total["unexplained_seconds"] = round(total["unexplained_seconds"] + w["seconds"], 2)

    fault_spans = [[max(start, f["start"]), min(end, f.get("clear") or f["start"])] for f in faults]
    recovery_spans = [list(fault_span(f, timeout)) for f in faults]
    all_windows = [[w["start"], w["end"]] for w in attributed]
    union_all = _union(all_windows)
    overlap = {
        "soak_seconds": round(end - start, 1),
        "faults_active_seconds": round(_length(_union(fault_spans)), 1),
        "unavailable_seconds": round(_length(union_all), 1),
        "unavailable_inside_fault_spans": round(
            _length(_intersect(union_all, _union(recovery_spans))), 1
        ),
    }
    overlap["unavailable_outside_fault_spans"] = round(
        overlap["unavailable_seconds"] - overlap["unavailable_inside_fault_spans"], 1
    )
    clients = disconnects(events, faults, start, end, timeout)
    load_final = next((r for r in reversed(load) if r.get("final")), load[-1] if load else {})
    logs = {name: scan_log(run / name, start) for name in meta["logs"]}
    res = resources(samples, start, warm, end)

    mqtt = mqtt_check(timeline, faults, timeout)
    mqtt["final_state_matches"] = meta.get("final_state_matches")
    report = {
        "meta": meta,
        "faults": {
            "injected": len(faults),
            "recovered": sum(1 for f in faults if f.get("ttr") is not None),
            "kinds_covered": len(faults_table),
            "kinds_available": meta.get("kinds_available"),
            "by_kind": faults_table,
            "ttr_all": _dist([f["ttr"] for f in faults if f.get("ttr") is not None]),
        },
        "unavailability": {
            "overlap": overlap,
            "totals": window_totals,
            "unexplained": unexplained,
            "windows": attributed,
        },
        "clients": {**clients, "loadgen_final": load_final},
        "mqtt": mqtt,
        "ha_to_app": ha_to_app(timeline, windows, faults, timeout),
        "false_offline": false_offline(timeline, start, end, faults, timeout),
        "resources": res,
        "logs": logs,
    }
    report["unexpected_exits"] = [
        {"name": r["name"], "at": round(r["t"] - start, 1)}
        for r in timeline
        if r.get("src") == "soak" and r.get("what") == "exit"
    ]
    report["memory_return"] = memory_return(meta)
    report["verdict"] = verdict(report)
    return report


def memory_return(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The app's RSS a while after a crowd left, against its idle RSS after start-up."""
    phase = meta.get("memory_return")
    idle = meta.get("app_idle") or {}
    if not phase or phase.get("rss_after_kib") is None or not idle.get("rss_kib"):
        return None
    baseline = idle["rss_kib"]
    return {
        "crowd": phase["crowd"],
        "connected": phase.get("connected"),
        "settle_s": phase["settle"],
        "idle_mib": _mib(baseline * 1024),
        "before_crowd_mib": _mib((phase.get("rss_before_kib") or 0) * 1024),
        "with_crowd_mib": _mib(phase["rss_with_crowd_kib"] * 1024),
        "after_mib": _mib(phase["rss_after_kib"] * 1024),
        "after_over_idle": round(phase["rss_after_kib"] / baseline, 3),
        # The idle figure belongs to the first app process; a restart in between makes it moot.
        "same_process": idle.get("pid") == phase.get("pid") == phase.get("pid_after"),
    }


def verdict(report: dict[str, Any]) -> dict[str, Any]:
    """Each target of issue 7, met or not."""
    res = report["resources"]
    growth = {
        name: res[name].get("rss_growth_percent")
        for name in ("hass", "app", "broker")
        if name in res
    }
    tracebacks = sum(
        v.get("tracebacks", 0) + v.get("unhandled", 0) for v in report["logs"].values()
    )
    checks = {
        "every fault recovered": report["faults"]["recovered"] == report["faults"]["injected"],
        "0 unexplained unavailability windows": not report["unavailability"]["unexplained"],
        "0 QoS-1 events lost (bridge)": report["mqtt"]["events_lost"] == 0,
        "0 client disconnects not caused by faults": report["clients"]["disconnect"]["unexplained"]
        == 0,
        "RSS growth < 5 % after warm-up (HA, app, broker)": all(
            g is not None and g < GROWTH_LIMIT for g in growth.values()
        ),
        "0 tracebacks / unhandled exceptions in any log": tracebacks == 0,
        "no process exited on its own": not report["unexpected_exits"],
        "(extra) 0 'offline' said while the system was online": not report["false_offline"][
            "count"
        ],
    }
    memory = report.get("memory_return")
    if memory is not None:
        checks[
            f"app RSS within {MEMORY_RETURN_LIMIT - 100:g} % of idle {memory['settle_s']:g} s "
            f"after {memory['crowd']} clients left"
        ] = 100 * memory["after_over_idle"] <= MEMORY_RETURN_LIMIT
    return {"checks": checks, "rss_growth_percent": growth, "tracebacks": tracebacks}


def markdown(report: dict[str, Any]) -> str:
    meta = report["meta"]
    lines = [
        f"# Soak report — {meta['started_at']}",
        "",
        f"Duration {meta['duration']:.0f} s (warm-up {meta['warmup']:.0f} s, cool-down "
        f"{meta['cooldown']:.0f} s), {meta['clients']['total']} WebSocket clients "
        f"({meta['clients']['monitoring']} on /ws/monitoring, "
        f"{meta['clients']['channel']} on /ws), "
        f"seed {meta['seed']}, Home Assistant: {meta['ha_mode']}.",
        "",
        *([f"**Ended early: {meta['aborted']}.**", ""] if meta.get("aborted") else []),
        "## Verdict",
        "",
        "| Target | Met |",
        "| --- | --- |",
    ]
    for name, ok in report["verdict"]["checks"].items():
        lines.append(f"| {name} | {'yes' if ok else '**no**'} |")
    f = report["faults"]
    lines += [
        "",
        f"## Faults: {f['injected']} injected, {f['recovered']} recovered, "
        f"{f['kinds_covered']} of {f['kinds_available']} kinds; time to recover "
        f"p50 {f['ttr_all'].get('p50')} s, max {f['ttr_all'].get('max')} s",
        "",
        "| Fault | Injected | Recovered | TTR p50 (s) | TTR max (s) "
        "| Unavailability it explains (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, row in f["by_kind"].items():
        lines.append(
            f"| `{kind}` | {row['injected']} | {row['recovered']} | {_fmt(row['ttr_p50'])} | "
            f"{_fmt(row['ttr_max'])} | {row['impact_seconds']} |"
        )
    u = report["unavailability"]
    lines += [
        "",
        "## Unavailability windows",
        "",
        f"Soak {u['overlap']['soak_seconds']} s; some fault active "
        f"{u['overlap']['faults_active_seconds']} s; something unavailable "
        f"{u['overlap']['unavailable_seconds']} s, of which "
        f"{u['overlap']['unavailable_inside_fault_spans']} s inside a fault's span (injection "
        f"to recovery + {GRACE:g} s) and {u['overlap']['unavailable_outside_fault_spans']} s "
        "outside any.",
        "",
        "| Window | Count | Seconds | Unexplained | Unexplained seconds |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, row in sorted(u["totals"].items()):
        lines.append(
            f"| `{kind}` | {row['windows']} | {row['seconds']} | {row['unexplained']} | "
            f"{row['unexplained_seconds']} |"
        )
    c = report["clients"]
    m = report["mqtt"]
    lines += [
        "",
        "## Clients and MQTT",
        "",
        "| Figure | Value |",
        "| --- | ---: |",
        f"| Client disconnects (all) | {c['disconnect']['total']} |",
        f"| … during app restarts | {c['disconnect']['during_app_faults']} |",
        f"| … not caused by a fault | {c['disconnect']['unexplained']} |",
        f"| Refused handshakes / auth outside app faults | "
        f"{c['handshake_failed']['unexplained'] + c['auth_refused']['unexplained']} |",
        f"| Reconnect time p50 / p95 / max (s) | {c['reconnect_seconds'].get('p50')} / "
        f"{c['reconnect_seconds'].get('p95')} / {c['reconnect_seconds'].get('max')} |",
        f"| Messages received by the clients | {c['loadgen_final'].get('msgs')} |",
        f"| QoS-1 events emitted by the app (seen on /ws) | {m['events_emitted_by_app']} |",
        f"| … received by the MQTT subscriber | {m['events_received_on_mqtt']} |",
        f"| … lost by the bridge | {m['events_lost']} |",
        f"| … lost with a killed/restarted app process | {m['events_lost_with_app_process']} |",
        f"| State documents on /ws vs state messages on MQTT (coalesced) | "
        f"{m['state_documents_on_ws']} / {m['state_messages_on_mqtt']} |",
        f"| Final MQTT state equals final /ws document | {m.get('final_state_matches')} |",
        f"| HA events missed by the app while its feed was down or stalled | "
        f"{report['ha_to_app']['missed_while_feed_down']} |",
        f"| HA events missed by the app otherwise | {report['ha_to_app']['missed_otherwise']} |",
        f"| 'offline' said live while Home Assistant had the system online | "
        f"{report['false_offline']['count']} {report['false_offline']['by_where'] or ''} |",
        "",
        "## Resources",
        "",
        f"Whole machine busy: {report['resources'].get('machine_busy_percent_of_all_cores')} % "
        "of all cores during the soak (other work on the machine included).",
        "",
        "| Process | CPU mean % | CPU p95 % | RSS after warm-up (MiB) | RSS final (MiB) | Growth % "
        "| Incarnations | Longest incarnation: growth % over s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in report["resources"].items():
        if not isinstance(row, dict):
            continue
        lines.append(
            f"| {name} | {_fmt(row['cpu_percent_mean'])} | {_fmt(row['cpu_percent_p95'])} | "
            f"{_fmt(row['rss_mib_after_warmup'])} | {_fmt(row['rss_mib_final'])} | "
            f"{_fmt(row.get('rss_growth_percent'))} | {row['incarnations']} | "
            + (
                f"{row['longest_incarnation']['growth_percent']} over "
                f"{row['longest_incarnation']['seconds']} |"
                if row.get("longest_incarnation")
                else "— |"
            )
        )
    memory = report.get("memory_return")
    if memory is not None:
        lines += [
            "",
            f"## Memory return: {memory['crowd']} clients came and went",
            "",
            "After the soak its clients left; then a crowd connected "
            f"({memory['connected']} counted by the app), stayed and left. App RSS, MiB:",
            "",
            "| Idle after start-up | Before the crowd | With the crowd | "
            f"{memory['settle_s']:g} s after it left | After / idle |",
            "| ---: | ---: | ---: | ---: | ---: |",
            f"| {memory['idle_mib']} | {memory['before_crowd_mib']} | "
            f"{memory['with_crowd_mib']} | {memory['after_mib']} | "
            f"{memory['after_over_idle']:.2f} |",
            *(
                []
                if memory["same_process"]
                else [
                    "",
                    "The app was restarted during the soak: the idle figure is its first run's.",
                ]
            ),
        ]
    lines += [
        "",
        "## Logs",
        "",
        "Tracebacks during the soak, plus any mentioning Sunstream at any time; set-up ones "
        "from other integrations are listed apart.",
        "",
        "| Log | Tracebacks | Unhandled | ERROR lines (soak) | Set-up tracebacks (not ours) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, row in report["logs"].items():
        lines.append(
            f"| {name} | {row.get('tracebacks')} | {row.get('unhandled')} | "
            f"{row.get('error_lines')} | {row.get('setup_tracebacks')} |"
        )
    for name, row in report["logs"].items():
        for signature, count in (row.get("traceback_signatures") or {}).items():
            lines.append(f"- {name}: {count}× `{signature}`")
        for signature, count in (row.get("setup_traceback_signatures") or {}).items():
            lines.append(f"- {name} (set-up, not Sunstream): {count}× `{signature}`")
    if u["unexplained"]:
        lines += ["", "## Unexplained windows", ""]
        for w in u["unexplained"][:30]:
            lines.append(
                f"- `{w['kind']}` at +{w['start'] - meta['t0']:.1f} s for {w['seconds']:.1f} s"
            )
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    return "—" if value is None else str(value)


def write(run: Path) -> dict[str, Any]:
    report = analyse(run)
    (run / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    (run / "report.md").write_text(markdown(report))
    return report


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.soak.analysis RUN_DIR", file=sys.stderr)
        return 2
    report = write(Path(args[0]))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

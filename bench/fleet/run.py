"""One fleet run: the processes, the clients, the figures.

Layout (all loopback, every process its own, each stopped by its id)::

    hass1 ─WS─ bridge1 ─┐                      ┌─ replica1 ─┐
    hass2 ─WS─ bridge2 ─┴─ MQTT ─ mosquitto ───┴─ replica2 ─┴─ load generator (N clients)

* **Home Assistant** ×H (``homes.py``), each with S simulated systems
  polled every ``interval`` seconds;
* **bridge** ×H: the app (``python -m sunstream_monitor``) following one
  Home Assistant over its WebSocket API and publishing under its own
  prefix ``sunstream/ha<k>`` (a prefix carries one bridge: its retained
  ``systems`` list is that bridge's whole set, see
  ``addon/sunstream/server/sunstream_monitor/mqtt_topics.py``);
* **Mosquitto**, one broker;
* **replica** ×R: the app with ``--source mqtt`` and one ``--mqtt-prefix``
  per bridge, so every replica serves every system's
  ``/ws/monitoring/{system_id}``;
* **load generator**: ``bench/fanout/loadgen.js``, N raw-socket
  WebSocket clients spread evenly over every (system, replica serving it)
  pair, from several loopback source addresses (the app admits at most
  1,000 connections per address).

Latency runs from the document's ``last_updated`` (Home Assistant's time of
the newest state in it, millisecond resolution) to receipt, on the one wall
clock the machine has: Home Assistant → bridge → broker → replica → client.
CPU (user + system, every thread) and RSS of each process come from
``/proc``, read when the load generator opens and closes its window; the
rest of the machine is ``/proc/stat``'s busy time minus all of ours.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
import json
import math
import os
from pathlib import Path
import platform
import shutil
import subprocess
import sys
import time
from typing import Any
import urllib.request

from bench.fanout.harness import (
    LOADGEN,
    NODE,
    BenchError,
    _readline,
    _stop,
    cpu_seconds,
    free_port,
    machine_cpu_seconds,
    raise_fd_limit,
    rss_kib,
    wait_for_quiet,
)
from bench.noise import noisy
from bench.soak.procs import MOSQUITTO, Proc, mosquitto_config, wait_for_port

from .homes import Home, set_up, start_home

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
SERVER_SRC = REPO / "addon" / "sunstream" / "server"
RESULTS = BENCH / "results"
WORK = RESULTS / "fleet-work"
TOKEN = "bench-fleet-token"
# The app admits this many connections per client address (settings.py).
PER_ADDRESS = 1000


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """The fleet's size and the measuring window; defaults are the issue's fleet."""

    homes: int = 2
    systems: int = 50  # per Home Assistant
    replicas: int = 2
    clients: int = 10_000
    seconds: float = 60.0
    warmup: float = 5.0
    interval: int = 1  # each simulated system's update interval, s
    quiet_wait: float = 15.0

    @classmethod
    def from_env(cls) -> Options:
        """``BENCH_FLEET_*`` from the environment (bench/README.md lists them)."""
        d = cls()
        return cls(
            homes=_env_int("BENCH_FLEET_HA", d.homes),
            systems=_env_int("BENCH_FLEET_SYSTEMS", d.systems),
            replicas=_env_int("BENCH_FLEET_REPLICAS", d.replicas),
            clients=_env_int("BENCH_FLEET_CLIENTS", d.clients),
            seconds=float(os.environ.get("BENCH_FLEET_SECONDS", d.seconds)),
            interval=_env_int("BENCH_FLEET_INTERVAL", d.interval),
            quiet_wait=float(os.environ.get("BENCH_FLEET_QUIET_WAIT", d.quiet_wait)),
        )

    def check(self) -> None:
        """Refuse a fleet that cannot be laid out."""
        if min(self.homes, self.systems, self.replicas, self.clients) < 1:
            raise ValueError(f"every count must be at least 1: {self}")


def _app(name: str, work: Path, *args: str, env: dict[str, str] | None = None) -> Proc:
    """``python -m sunstream_monitor`` with ``args``, logging to ``work/<name>.log``."""
    argv = [sys.executable, "-m", "sunstream_monitor", "--host", "127.0.0.1", "--token", TOKEN]
    environment = {**os.environ, "PYTHONPATH": str(SERVER_SRC), **(env or {})}
    argv += [*args, "--log-level", "warning"]
    return Proc(name, argv, work / f"{name}.log", env=environment, cwd=REPO)


def _systems(port: int) -> list[dict[str, Any]]:
    """A replica's ``GET /api/systems`` (empty while it is not up)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/systems", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            systems: list[dict[str, Any]] = json.load(response)["systems"]
    except OSError:
        return []
    return systems


def _wait_for_systems(replicas: dict[str, tuple[Proc, int]], systems: int, limit: float) -> None:
    """Until every replica serves ``systems`` systems, each with a document."""
    deadline = time.monotonic() + limit
    while True:
        counts = {}
        for name, (proc, port) in replicas.items():
            if not proc.check():
                raise BenchError(f"{name} exited (log: {proc.log})")
            counts[name] = sum(1 for s in _systems(port) if s.get("last_updated"))
        if all(count >= systems for count in counts.values()):
            return
        if time.monotonic() > deadline:
            raise BenchError(f"replicas still missing systems after {limit:g} s: {counts}")
        time.sleep(1.0)


class Fleet:
    """Every process of one run, started in order and stopped in reverse."""

    def __init__(self, options: Options) -> None:
        """Plan ports and the work directory; nothing starts yet."""
        options.check()
        self.options = options
        self.procs: dict[str, Proc] = {}
        self.homes: list[Home] = []
        self.replica_ports: dict[str, int] = {}
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        self.broker_port = free_port()

    def start(self) -> None:
        """Broker, Home Assistants (set up together), bridges, replicas."""
        o = self.options
        if MOSQUITTO is None:
            raise BenchError("mosquitto is not installed (scripts/lib/provision.sh installs it)")
        broker = Proc(
            "mosquitto",
            [MOSQUITTO, "-c", str(mosquitto_config(WORK, self.broker_port))],
            WORK / "mosquitto.out",
        )
        self.procs["mosquitto"] = broker
        broker.start()
        wait_for_port(self.broker_port, 30.0, broker)
        self.homes = [start_home(k, free_port(), WORK) for k in range(1, o.homes + 1)]
        self.procs.update({home.proc.name: home.proc for home in self.homes})
        began = time.monotonic()
        asyncio.run(self._set_up_homes())
        print(
            f"[fleet] {o.homes} Home Assistants with {o.systems} systems each set up in "
            f"{time.monotonic() - began:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        broker_url = f"mqtt://127.0.0.1:{self.broker_port}"
        for home in self.homes:
            bridge = _app(
                f"bridge{home.index}",
                WORK,
                *("--source", "ha", "--ha-url", home.ws_url, "--port", str(free_port())),
                *("--mqtt-url", broker_url, "--mqtt-prefix", home.prefix),
                env={"HA_TOKEN": home.token},
            )
            self.procs[bridge.name] = bridge
            bridge.start()
        replicas: dict[str, tuple[Proc, int]] = {}
        follow = [arg for home in self.homes for arg in ("--mqtt-prefix", home.prefix)]
        for r in range(o.replicas):
            port = free_port()
            replica = _app(
                f"replica{r + 1}",
                WORK,
                *("--source", "mqtt", "--port", str(port), "--max-clients", str(o.clients)),
                *("--mqtt-url", broker_url, *follow),
            )
            self.procs[replica.name] = replica
            replicas[replica.name] = (replica, port)
            self.replica_ports[replica.name] = port
            replica.start()
        _wait_for_systems(replicas, o.homes * o.systems, 180.0)

    async def _set_up_homes(self) -> None:
        o = self.options
        await asyncio.gather(*(set_up(home, o.systems, o.interval) for home in self.homes))

    def targets(self) -> list[str]:
        """``port/path`` for every (system, replica serving it): the clients' spread."""
        targets = []
        for port in self.replica_ports.values():
            for system in _systems(port):
                targets.append(f"{port}/ws/monitoring/{system['system_id']}")
        return targets

    def stop(self) -> None:
        """Every process, in reverse order of start, by its id."""
        for proc in reversed(self.procs.values()):
            proc.stop(timeout=30.0)


def _address_count(options: Options, targets: int) -> int:
    """Source addresses enough that no replica sees more than PER_ADDRESS clients from one.

    The load generator gives client i target i mod T and address i mod A: with A and T
    coprime every target's clients cycle through every address, so each replica's share
    spreads evenly; half the limit leaves room for rounding.
    """
    per_replica = -(-options.clients // options.replicas)
    count = max(1, -(-per_replica // (PER_ADDRESS // 2)))
    while math.gcd(count, targets) != 1:
        count += 1
    return count


def _sample(pids: dict[str, int]) -> dict[str, tuple[float, int]]:
    return {name: (cpu_seconds(pid), rss_kib(pid)) for name, pid in pids.items()}


def measure(fleet: Fleet) -> dict[str, Any]:
    """Connect the clients, measure one window; the figures of every process."""
    o = fleet.options
    targets = fleet.targets()
    addresses = [f"127.0.0.{2 + i}" for i in range(_address_count(o, len(targets)))]
    busy_before = wait_for_quiet(max_wait=o.quiet_wait)
    command = [NODE, str(LOADGEN), "--clients", str(o.clients), "--token", TOKEN]
    command += ["--targets", ",".join(targets), "--addresses", ",".join(addresses)]
    command += ["--stamp", "last_updated", "--warmup", str(o.warmup), "--seconds", str(o.seconds)]
    pids = {name: proc.pid for name, proc in fleet.procs.items() if proc.pid is not None}
    load = subprocess.Popen(
        command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    pids["loadgen"] = load.pid
    result: dict[str, Any] | None = None
    connect: dict[str, Any] = {}
    deadline = time.monotonic() + 180 + o.warmup + o.seconds
    try:
        while result is None:
            event = json.loads(_readline(load, deadline))
            kind = event.pop("event")
            if kind == "connected":
                connect = event
            elif kind == "window_start":
                before, machine0, wall0 = _sample(pids), machine_cpu_seconds(), time.monotonic()
            elif kind == "window_end":
                wall = time.monotonic() - wall0
                after, machine = _sample(pids), machine_cpu_seconds() - machine0
            elif kind == "result":
                result = event
    finally:
        _stop(load)
    processes = {
        name: {
            "cpu_percent": round(100 * (after[name][0] - before[name][0]) / wall, 1),
            "rss_mib": round(after[name][1] / 1024, 1),
        }
        for name in pids
    }
    ours = sum(after[name][0] - before[name][0] for name in pids)
    others = round(100 * max(machine - ours, 0.0) / wall, 1)
    return {
        "options": asdict(o),
        "targets": len(targets),
        "source_addresses": len(addresses),
        "connect_seconds": round(connect.get("seconds", 0.0), 1),
        "connected": result["connected"],
        "failed": result["failed"],
        "failures": result["failures"],
        "closed_during_window": result["closed_during_window"],
        "window_s": round(wall, 1),
        "deliveries": result["deliveries"],
        "deliveries_per_s": round(result["deliveries_per_s"]),
        "documents_per_client_per_s": round(
            result["deliveries_per_s"] / max(result["connected"], 1), 3
        ),
        "unparsed": result["unparsed"],
        "latency_ms": {
            k: None if v is None else round(v, 1) for k, v in result["latency_ms"].items()
        },
        "processes": processes,
        "others_busy_before": busy_before,
        "others_cpu_percent": others,
        "noisy": noisy(others),
        "machine": {
            "cores": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "load_average": os.getloadavg()[0],
        },
    }


def run(options: Options) -> dict[str, Any]:
    """Start the fleet, measure, stop everything; write ``bench/results/fleet.json``."""
    raise_fd_limit(options.clients * 2 + 4096)
    began = time.monotonic()
    fleet = Fleet(options)
    try:
        fleet.start()
        figures = measure(fleet)
    finally:
        fleet.stop()
    figures["total_seconds"] = round(time.monotonic() - began)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fleet.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures

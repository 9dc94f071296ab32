"""Run one fan-out scenario: a server process, a load-generator process, the figures.

Each server runs in its own process so its CPU time and RSS are its own
(read from ``/proc/<pid>/stat`` and ``/proc/<pid>/status``, all threads
included). By default the server is pinned to CPU 0 and the load generator
to CPU 1: both servers get one core, whatever else the machine does with
the other, and a server that would use more (Node's GC threads) cannot
borrow the clients' core. ``BENCH_FANOUT_PIN=0`` turns that off.

The load generator (``loadgen.c``, built here with the system's ``cc`` on
first use; ``loadgen.js`` for the Home-Assistant-fed run, or with
``BENCH_FANOUT_LOADGEN=js``) prints a JSON line when every client is
connected, when its measuring window starts and ends, and its result; the
harness samples the server between those lines. Everything is bounded in
time and every process is stopped by its id on the way out.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from dataclasses import asdict, dataclass
import hashlib
import json
import os
from pathlib import Path
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from typing import IO, Any

from bench.noise import NOISY_CORE_PERCENT, noisy

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
DOCUMENT = BENCH / "fanout" / "document.json"
LOADGEN = BENCH / "fanout" / "loadgen.js"
LOADGEN_C = BENCH / "fanout" / "loadgen.c"
# Where the C load generator is built, one binary per version of its source (not committed).
BUILD = BENCH / "fanout" / ".build"
# "c" (default) or "js": which program loads the servers in the ticker-fed scenarios.
LOADGEN_KIND = os.environ.get("BENCH_FANOUT_LOADGEN", "c")
REFERENCE = Path(os.environ.get("BENCH_FANOUT_REFERENCE", BENCH / "reference" / "server.js"))
NODE = os.environ.get("BENCH_NODE", "/usr/bin/node")
TOKEN = "bench-fanout-token"
SYSTEM = "sim-rooftop"
SERVER_CPU = 0
CLIENT_CPU = 1
# The rest of the machine may use this many cores when a scenario starts.
QUIET_BUSY = 0.3
QUIET_WAIT = float(os.environ.get("BENCH_FANOUT_QUIET_WAIT", "15"))
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True, slots=True)
class Scenario:
    """One run: which server, how many clients, what stream, how long."""

    server: str  # "app" or "node"
    clients: int
    rate: str  # updates per second, "0" (idle), "max", or "ha" (a real Home Assistant)
    seconds: float = 10.0
    warmup: float = 2.0
    ha_url: str | None = None  # with rate "ha": the app follows this Home Assistant
    ha_token: str | None = None


class BenchError(RuntimeError):
    """The set-up broke (a process died, a deadline passed): no figure to record."""


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit (children inherit it); return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pinning() -> bool:
    """Whether servers and clients get a core each (needs two CPUs we may use)."""
    if os.environ.get("BENCH_FANOUT_PIN", "1") == "0":
        return False
    return {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0)


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system (kernel) CPU time of a whole process, all threads."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a whole process."""
    return sum(cpu_times(pid))


def machine_cpu_seconds() -> float:
    """CPU time every CPU of the machine spent busy since boot (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    guest = sum(fields[8:10])  # already counted in user and nice
    return (sum(fields) - idle - guest) / _TICKS


def wait_for_quiet(max_busy: float = QUIET_BUSY, max_wait: float = QUIET_WAIT) -> float:
    """Wait (bounded) until the rest of the machine uses under ``max_busy`` cores.

    Other work on the two cores (a test suite running next to us) would be
    measured as our latency. Returns the busy cores seen last; the run goes
    ahead after ``max_wait`` whatever the load, and the figure is recorded.
    """
    deadline = time.monotonic() + max_wait
    while True:
        before = machine_cpu_seconds()
        time.sleep(1.0)
        busy = machine_cpu_seconds() - before
        if busy <= max_busy or time.monotonic() >= deadline:
            return round(busy, 2)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, KiB."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KIB


def _server_command(scenario: Scenario, port: int) -> list[str]:
    common = ["--port", str(port), "--token", TOKEN, "--system", SYSTEM]
    common += ["--document", str(DOCUMENT), "--rate", scenario.rate]
    if scenario.server == "app":
        if scenario.ha_url and scenario.ha_token:
            common += ["--ha-url", scenario.ha_url, "--ha-token", scenario.ha_token]
        return [sys.executable, "-m", "bench.fanout.app_server", *common]
    if scenario.server == "node":
        return [NODE, str(REFERENCE), *common]
    raise ValueError(f"unknown server {scenario.server!r}")


def _spawn(command: list[str], cpu: int | None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "addon" / "sunstream" / "server")])

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=pin,  # noqa: PLW1509 - affinity must be set before exec, for every thread
    )


def _readline(proc: subprocess.Popen[str], deadline: float) -> str:
    """The process's next stdout line, or :class:`BenchError` at the deadline or exit."""
    stream: IO[str] = proc.stdout  # type: ignore[assignment]
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError(f"{str(proc.args)[:120]} said nothing in time")
        ready, _, _ = select.select([stream], [], [], remaining)
        if ready:
            line = stream.readline()
            if not line:
                raise BenchError(f"{str(proc.args)[:120]} exited with {proc.wait()}")
            return line


def _stop(proc: subprocess.Popen[str], grace: float = 15.0) -> None:
    """Close stdin, then SIGTERM, then SIGKILL: this process only, by its id."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(1.0)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def _started(command: list[str], cpu: int | None) -> Iterator[subprocess.Popen[str]]:
    proc = _spawn(command, cpu)
    try:
        yield proc
    finally:
        _stop(proc)


def c_loadgen() -> Path:
    """The C load generator, built from ``loadgen.c`` unless this version of it already was."""
    digest = hashlib.sha256(LOADGEN_C.read_bytes()).hexdigest()[:16]
    binary = BUILD / f"loadgen-{digest}"
    if not binary.exists():
        BUILD.mkdir(exist_ok=True)
        # Its own name per build, so that two runs building at once do not share a file.
        partial = BUILD / f".loadgen-{digest}-{os.getpid()}"
        try:
            built = subprocess.run(
                ["cc", "-O2", "-Wall", "-o", str(partial), str(LOADGEN_C), "-lm"],
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError as err:
            raise BenchError(f"no C compiler (cc) to build {LOADGEN_C.name}: {err}") from err
        if built.returncode:
            raise BenchError(f"cc could not build {LOADGEN_C.name}: {built.stderr[-500:]}")
        os.replace(partial, binary)
    return binary


def loadgen_command(ha_fed: bool) -> list[str]:
    """The program loading the servers: C by default, JavaScript when the run needs it.

    The C one reads only the ticker's stamp; the Home-Assistant-fed run's
    stamp (``last_updated``) is read by ``loadgen.js``.
    """
    if ha_fed or LOADGEN_KIND == "js":
        return [NODE, str(LOADGEN)]
    if LOADGEN_KIND != "c":
        raise BenchError(f"BENCH_FANOUT_LOADGEN is c or js, not {LOADGEN_KIND!r}")
    return [str(c_loadgen())]


def run(scenario: Scenario) -> dict[str, Any]:
    """Run ``scenario`` and return its figures (server, clients, and the machine's load)."""
    ha_fed = scenario.ha_url is not None
    loadgen = ["--path", f"/ws/monitoring/{SYSTEM}"]
    loadgen += ["--stamp", "last_updated" if ha_fed else "bench"]
    program = loadgen_command(ha_fed)
    port = free_port()
    return measure(
        _server_command(scenario, port),
        port,
        program,
        loadgen,
        clients=scenario.clients,
        warmup=scenario.warmup,
        seconds=scenario.seconds,
        scenario={
            **{k: v for k, v in asdict(scenario).items() if k != "ha_token"},
            "loadgen": "loadgen.js" if program[0] == NODE else "loadgen.c",
        },
    )


def measure(
    server_command: list[str],
    port: int,
    loadgen_program: list[str],
    loadgen_args: list[str],
    *,
    clients: int,
    warmup: float,
    seconds: float,
    scenario: dict[str, Any],
    slack: float = 90.0,
    quiet_wait: float = QUIET_WAIT,
) -> dict[str, Any]:
    """Run a server and a load generator on their own cores; return the figures.

    Shared by every fan-out comparison (WebSocket, Socket.IO), so each
    measures the same window the same way: CPU of the server, the load
    generator and the rest of the machine, RSS idle / connected / at the end.
    """
    raise_fd_limit(clients * 2 + 1024)
    pinned = pinning()
    busy_before = wait_for_quiet(max_wait=quiet_wait)
    with _started(server_command, SERVER_CPU if pinned else None) as server:
        line = _readline(server, time.monotonic() + 60)
        if not line.startswith("READY"):
            raise BenchError(f"server said {line!r}")
        time.sleep(0.5)
        rss_idle = rss_kib(server.pid)
        loadgen = [*loadgen_program, "--port", str(port), "--token", TOKEN]
        loadgen += ["--clients", str(clients), *loadgen_args]
        loadgen += ["--warmup", str(warmup), "--seconds", str(seconds)]
        samples: dict[str, Any] = {}
        result: dict[str, Any] | None = None
        deadline = time.monotonic() + slack + seconds + warmup
        with _started(loadgen, CLIENT_CPU if pinned else None) as load:
            while result is None:
                event = json.loads(_readline(load, deadline))
                kind = event.pop("event")
                if kind == "connected":
                    samples["connect"] = event
                    samples["rss_connected_kib"] = rss_kib(server.pid)
                    # Start the stream now that every client is in (the warm-up follows).
                    server.stdin.write("start\n")  # type: ignore[union-attr]
                    server.stdin.flush()  # type: ignore[union-attr]
                elif kind == "window_start":
                    (user0, sys0), wall0 = cpu_times(server.pid), time.monotonic()
                    client_cpu0 = cpu_seconds(load.pid)
                    machine0 = machine_cpu_seconds()
                elif kind == "window_end":
                    wall = time.monotonic() - wall0
                    user1, sys1 = cpu_times(server.pid)
                    server_user, server_sys = user1 - user0, sys1 - sys0
                    server_cpu = server_user + server_sys
                    client_cpu = cpu_seconds(load.pid) - client_cpu0
                    others = machine_cpu_seconds() - machine0 - server_cpu - client_cpu
                    samples["rss_window_end_kib"] = rss_kib(server.pid)
                elif kind == "result":
                    result = event
    connected = max(result["connected"], 1)
    rss_end = samples["rss_window_end_kib"]
    extra = {"other_events": result["other_events"]} if "other_events" in result else {}
    return {
        "scenario": scenario,
        "pinned": pinned,
        # Cores the rest of the machine used just before, and during the window.
        "others_busy_before": busy_before,
        "others_cpu_percent": round(100 * max(others, 0.0) / wall, 1),
        # The bound is bench/noise.py's; reports mark the run from others_cpu_percent.
        "noisy_above_percent": NOISY_CORE_PERCENT,
        "noisy": noisy(100 * others / wall),
        "connect_seconds": round(samples["connect"]["seconds"], 2),
        "connected": result["connected"],
        "failed": result["failed"],
        "failures": result["failures"],
        "closed_during_window": result["closed_during_window"],
        "close_codes": result["close_codes"],
        "deliveries": result["deliveries"],
        "deliveries_per_s": round(result["deliveries_per_s"]),
        "repeats": result["repeats"],
        "skipped": result["skipped"],
        "unparsed": result["unparsed"],
        **extra,
        "frame_bytes": result["frame_bytes"],
        "latency_ms": {k: _round(v) for k, v in result["latency_ms"].items()},
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_percent": round(100 * server_cpu / wall, 1),
        # Kernel share: on loopback, send() also runs the receiving side's TCP stack.
        "server_sys_percent": round(100 * server_sys / wall, 1),
        "server_user_percent": round(100 * server_user / wall, 1),
        "deliveries_per_server_cpu_s": round(result["deliveries"] / server_cpu)
        if server_cpu
        else None,
        "loadgen_cpu_percent": round(100 * client_cpu / wall, 1),
        "server_rss_idle_kib": rss_idle,
        "server_rss_connected_kib": samples["rss_connected_kib"],
        "server_rss_window_end_kib": rss_end,
        # Meaningful for the idle scenario: every client connected, nothing in flight.
        "rss_per_connection_kib": round((rss_end - rss_idle) / connected, 2),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)

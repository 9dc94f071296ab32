"""The soak itself: set everything up, load it, break it at random, measure, tear it down.

Order of events (all on 127.0.0.1, free ports chosen at start):

1. Mosquitto (persistence on, so the observer's session survives restarts);
2. the fake devices process (:mod:`bench.soak.fakes`);
3. a real ``hass`` process in a throw-away config dir, onboarded and given
   the simulated system, the fake WiNet gateway and the fake AlphaESS unit
   through the config flow (:mod:`bench.soak.home_assistant`); a long-lived token;
4. the relay to Home Assistant (:mod:`bench.soak.relay`) and the app,
   ``python -m sunstream_monitor`` pointed at the relay, the broker and a
   configured token;
5. the observers (:mod:`bench.soak.observe`) and the dashboard load
   (:mod:`bench.soak.loadgen`), ramped up before the clock starts;
6. ``duration`` seconds: warm-up without faults, the fault lanes
   (:mod:`bench.soak.chaos`), a cool-down without faults;
7. the final-state check;
8. the memory return (``--crowd``): the soak's clients leave, a crowd of
   5,000 comes, stays and goes, and the app's RSS a minute later is
   compared with the one it had idle after start-up;
9. every process stopped by its id (also on
   Ctrl-C, SIGTERM or any error), the throw-away config dir removed, and
   the report (:mod:`bench.soak.analysis`) and figures (:mod:`bench.soak.plots`)
   written to the run directory.

If the app or the broker dies on its own outside a fault, it is restarted
as the Supervisor's watchdog would, and the exit is recorded; if Home
Assistant or the fakes die, the soak ends early and the report says so.
Every child also gets SIGTERM should the soak itself be killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

import aiohttp

from . import analysis
from .chaos import KINDS, Chaos, FakesControl, Stack
from .common import REPO, RESULTS, SERVER_SRC, JsonLines, free_port, now, say
from .home_assistant import HaWatch, bootstrap, finish_setup, hass_process, write_config
from .observe import ChannelObserver, Health, HealthProbe, LoadWatch, MqttObserver, Sampler
from .procs import MOSQUITTO, Proc, mosquitto_config, sample, wait_for_port
from .relay import Relay

TOKEN = "sunstream-soak-token"
# WebSocket connections of the app that stay through the memory-return phase: the /ws observer.
OBSERVERS = 1
# Seconds the app is left alone after start-up before its idle RSS is read.
IDLE_SETTLE = 5.0
SETUP_TIMEOUT = 1200.0


@dataclass
class Options:
    duration: float
    warmup: float
    cooldown: float
    monitoring: int
    channel: int
    ha_clients: int
    ramp: float
    seed: int
    recovery_timeout: float
    pause: tuple[float, float]
    out: Path
    plots: bool
    figures: Path | None
    lanes: tuple[str, ...]
    kinds: tuple[str, ...]
    crowd: int
    crowd_hold: float
    crowd_settle: float


def options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="Soak and chaos run of Sunstream (Home Assistant, fakes, app, Mosquitto).",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds of soak after set-up (default 600; --quick: 120)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="~2 minutes with fewer clients, for development"
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=None,
        help="WebSocket clients in all (default 4000; --quick: 1000); "
        "two thirds on /ws/monitoring/{id}, one third on /ws",
    )
    parser.add_argument("--ramp", type=float, default=250.0, help="new clients per second")
    parser.add_argument("--seed", type=int, default=None, help="fault schedule seed")
    parser.add_argument(
        "--lanes",
        default="infra,winet,alphaess",
        help="fault lanes to run (comma-separated; '' for none)",
    )
    parser.add_argument(
        "--kinds",
        default="",
        help="only these fault kinds (comma-separated, e.g. ha.blackhole,app.kill)",
    )
    parser.add_argument(
        "--crowd",
        type=int,
        default=None,
        help="after the soak: clients that come and go to check the app's memory comes back "
        "(default 5000; --quick: 1000; 0: skip)",
    )
    parser.add_argument(
        "--crowd-hold", type=float, default=30.0, help="seconds the crowd stays connected"
    )
    parser.add_argument(
        "--crowd-settle",
        type=float,
        default=60.0,
        help="seconds after the crowd left at which the app's RSS is compared with its idle one",
    )
    parser.add_argument("--out", type=Path, default=None, help="run directory")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.add_argument(
        "--figures",
        type=Path,
        default=None,
        help="also write the PNG figures here (docs/img for docs/reliability.md)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(filter(None, args.kinds.split(","))) - set(KINDS))
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(unknown)}; known: {', '.join(KINDS)}")
    quick = args.quick
    duration = args.duration if args.duration is not None else (120.0 if quick else 600.0)
    clients = args.clients if args.clients is not None else (1000 if quick else 4000)
    warmup = max(20.0, min(90.0, 0.15 * duration))
    cooldown = max(20.0, min(60.0, 0.1 * duration))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or RESULTS / f"soak-{stamp}{'-quick' if quick else ''}"
    monitoring = clients * 2 // 3
    return Options(
        duration=duration,
        warmup=warmup,
        cooldown=cooldown,
        monitoring=monitoring,
        channel=clients - monitoring,
        ha_clients=min(10, clients - monitoring),
        ramp=args.ramp,
        seed=seed,
        recovery_timeout=60.0 if quick else 120.0,
        pause=(3.0, 10.0) if quick else (4.0, 12.0),
        out=out,
        plots=not args.no_plots,
        figures=args.figures,
        lanes=tuple(lane for lane in args.lanes.split(",") if lane),
        kinds=tuple(kind for kind in args.kinds.split(",") if kind),
        crowd=args.crowd if args.crowd is not None else (1000 if quick else 5000),
        crowd_hold=args.crowd_hold,
        crowd_settle=args.crowd_settle,
    )


class Soak:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.run_dir = opts.out
        self.procs: dict[str, Proc] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="sunstream-soak-"))
        self.relay: Relay | None = None
        self.watch: HaWatch | None = None
        self.fakes: FakesControl | None = None
        self.tasks: list[asyncio.Task[Any]] = []
        self.meta: dict[str, Any] = {}
        self.chaos: Chaos | None = None
        self.infra_busy = False

    # -- set-up ----------------------------------------------------------------------

    def _python(self, module: str, *args: str) -> list[str]:
        return [sys.executable, "-u", "-m", module, *args]

    async def setup(self) -> None:
        o, run = self.opts, self.run_dir
        run.mkdir(parents=True, exist_ok=True)
        self.timeline = JsonLines(run / "timeline.jsonl")
        ports = {name: free_port() for name in ("ha", "relay", "app", "broker", "control")}
        ports["winet"], ports["alphaess"] = free_port(), free_port()
        self.ports = ports
        self.meta = {
            "started_at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "seed": o.seed,
            "duration": o.duration,
            "warmup": o.warmup,
            "cooldown": o.cooldown,
            "recovery_timeout": o.recovery_timeout,
            "clients": {
                "monitoring": o.monitoring,
                "channel": o.channel,
                "ha_token_clients": o.ha_clients,
                "total": o.monitoring + o.channel,
            },
            "ports": ports,
            "lanes": list(o.lanes),
            "kinds_available": sum(
                1
                for kind, (lane, _, _) in KINDS.items()
                if lane in o.lanes and (not o.kinds or kind in o.kinds)
            ),
            "ha_mode": "a real `hass` process (as scripts/develop starts it), lean configuration",
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "kernel": platform.release(),
                "cpu": _cpu_model(),
            },
            "logs": [
                "hass.log",
                "app.log",
                "mosquitto.log",
                "broker-console.log",
                "fakes.log",
                "loadgen.log",
            ],
        }
        say(f"run directory {run}, seed {o.seed}")
        await self._start_devices()
        await self._start_hass()
        await self._start_app()
        await self._start_observers()
        await self._start_load()

    async def _start_devices(self) -> None:
        """Mosquitto and the fake devices."""
        run, ports = self.run_dir, self.ports
        broker = Proc(
            "broker",
            [MOSQUITTO or "mosquitto", "-c", str(mosquitto_config(run, ports["broker"]))],
            run / "broker-console.log",
        )
        self.procs["broker"] = broker
        broker.start()
        await asyncio.to_thread(wait_for_port, ports["broker"], 30.0, broker)
        say(f"Mosquitto on {ports['broker']}")

        fakes = Proc(
            "fakes",
            self._python(
                "bench.soak.fakes",
                "--winet-port",
                str(ports["winet"]),
                "--alphaess-port",
                str(ports["alphaess"]),
                "--control-port",
                str(ports["control"]),
            ),
            run / "fakes.log",
            cwd=REPO,
        )
        self.procs["fakes"] = fakes
        fakes.start()
        ready = await self._wait_line(fakes, '"ready": true', 180.0)
        self.fakes = FakesControl(ports["control"])
        self.winet_devices = json.loads(ready)["winet_devices"]
        say(f"fakes up: WiNet on {ports['winet']}, AlphaESS on {ports['alphaess']}")

    async def _start_hass(self) -> None:
        """Home Assistant, onboarded, with the three systems; the direct observer."""
        run, ports = self.run_dir, self.ports
        config = self.tmp / "config"
        write_config(config, ports["ha"])
        hass = hass_process(config, run / "hass.log")
        self.procs["hass"] = hass
        hass.start()
        say(f"Home Assistant starting on {ports['ha']} (config {config})")
        url = f"http://127.0.0.1:{ports['ha']}"
        assert hass.pid is not None
        access = await bootstrap(
            url,
            run / "hass.log",
            hass.pid,
            ("127.0.0.1", ports["winet"]),
            ("127.0.0.1", ports["alphaess"]),
        )
        ws_url = f"ws://127.0.0.1:{ports['ha']}/api/websocket"
        self.ha_token = await finish_setup(ws_url, access)
        self.watch = HaWatch(ws_url, self.ha_token, self.timeline)
        await self.watch.start()
        self.systems = await self._systems()
        await self.watch.follow()
        await self._until(
            lambda: all(self.watch.connected.get(s) for s in self.systems),
            120.0,
            "every system connected in Home Assistant",
            fatal=False,
        )
        self.meta["systems"] = self.systems
        say(
            f"Home Assistant ready with {len(self.systems)} systems: "
            + ", ".join(f"{s} ({i['source']})" for s, i in self.systems.items())
        )

    async def _start_app(self) -> None:
        """The relay to Home Assistant and the app behind it."""
        run, ports = self.run_dir, self.ports
        self.relay = Relay(ports["relay"], ports["ha"])
        await self.relay.start()
        env = {**os.environ, "PYTHONPATH": str(SERVER_SRC), "HA_TOKEN": self.ha_token}
        app = Proc(
            "app",
            self._python(
                "sunstream_monitor",
                "--ha-url",
                f"ws://127.0.0.1:{ports['relay']}/api/websocket",
                "--mqtt-url",
                f"mqtt://127.0.0.1:{ports['broker']}",
                "--token",
                TOKEN,
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["app"]),
                "--log-level",
                "info",
            ),
            run / "app.log",
            env=env,
            cwd=REPO,
        )
        self.procs["app"] = app
        app.start()
        await asyncio.to_thread(wait_for_port, ports["app"], 60.0, app)
        await self._app_knows_systems(90.0)
        say(f"app serving on {ports['app']}")
        await asyncio.sleep(IDLE_SETTLE)
        self.meta["app_idle"] = {"pid": app.pid, "rss_kib": self._app_rss_kib()}

    async def _start_observers(self) -> None:
        o, run, ports = self.opts, self.run_dir, self.ports
        self.health = Health(clients_target=o.monitoring + o.channel)
        self.channel = ChannelObserver(ports["app"], TOKEN, self.health, self.timeline)
        self.mqtt = MqttObserver(ports["broker"], self.health, self.timeline)
        self.resources = JsonLines(run / "resources.jsonl")
        self.tasks += [
            asyncio.create_task(HealthProbe(ports["app"], self.health, self.timeline).run()),
            asyncio.create_task(self.channel.run()),
            asyncio.create_task(self.mqtt.run()),
            asyncio.create_task(Sampler(lambda: list(self.procs.values()), self.resources).run()),
        ]
        await self._until(
            lambda: self.health.mqtt_up and self.health.observer_up, 30.0, "observers connected"
        )

    async def _start_load(self) -> None:
        o, run = self.opts, self.run_dir
        load = self._loadgen(
            "loadgen",
            "load",
            (o.monitoring, o.channel, o.ha_clients),
            o.duration + (o.monitoring + o.channel) / o.ramp + 300,
        )
        self.procs["loadgen"] = load
        load.start()
        self.tasks.append(
            asyncio.create_task(LoadWatch(run / "load-stats.jsonl", self.health).run())
        )
        target = o.monitoring + o.channel
        await self._until(
            lambda: self.health.clients >= target,
            target / o.ramp + 90.0,
            f"{target} clients connected",
            fatal=False,
        )
        say(f"{self.health.clients} of {target} clients connected")

    def _loadgen(
        self, name: str, files: str, clients: tuple[int, int, int], seconds: float
    ) -> Proc:
        """A load generator (not started) of ``clients`` = (monitoring, channel, with a HA token).

        It writes ``<files>-events.jsonl`` and ``<files>-stats.jsonl`` and stops
        by itself after ``seconds``.
        """
        o, run = self.opts, self.run_dir
        monitoring, channel, ha_clients = clients
        return Proc(
            name,
            self._python(
                "bench.soak.loadgen",
                "--port",
                str(self.ports["app"]),
                "--token",
                TOKEN,
                "--ha-token",
                self.ha_token,
                "--systems",
                ",".join(self.systems),
                "--monitoring",
                str(monitoring),
                "--channel",
                str(channel),
                "--ha-clients",
                str(ha_clients),
                "--ramp",
                str(o.ramp),
                "--events",
                str(run / f"{files}-events.jsonl"),
                "--stats",
                str(run / f"{files}-stats.jsonl"),
                "--until",
                str(now() + seconds),
                "--seed",
                str(o.seed),
            ),
            run / f"{name}.log",
            cwd=REPO,
        )

    async def _wait_line(self, proc: Proc, text: str, within: float) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not proc.check():
                raise RuntimeError(f"{proc.name} exited during start-up (log: {proc.log})")
            for line in proc.log.read_text(errors="replace").splitlines():
                if text in line:
                    return line
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{proc.name} did not say {text!r} within {within:g} s")

    async def _until(self, check: Any, within: float, what: str, *, fatal: bool = True) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if check():
                return True
            await asyncio.sleep(0.2)
        if fatal:
            raise TimeoutError(f"not reached within {within:g} s: {what}")
        say(f"warning: not reached within {within:g} s: {what}")
        return False

    async def _systems(self) -> dict[str, dict[str, Any]]:
        assert self.watch is not None
        deadline = time.monotonic() + 120.0
        systems: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            systems = await self.watch.discover()
            sources = {info["source"] for info in systems.values()}
            if {"simulated", "winet", "modbus"} <= sources and all(
                info["connectivity"] for info in systems.values()
            ):
                return systems
            await asyncio.sleep(2.0)
        say(f"warning: systems found: {systems}")
        if not systems:
            raise RuntimeError("no Sunstream system in Home Assistant")
        return systems

    async def _app_knows_systems(self, within: float) -> None:
        url = f"http://127.0.0.1:{self.ports['app']}/api/systems"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                    async with session.get(url, headers=headers) as resp:
                        body = await resp.json()
                        ids = {s.get("system_id") for s in body.get("systems", [])}
                        if set(self.systems) <= ids:
                            return
                await asyncio.sleep(0.5)
        raise TimeoutError(f"the app did not list every system within {within:g} s")

    # -- the soak ----------------------------------------------------------------------

    async def soak(self) -> None:
        o = self.opts
        t0 = now()
        self.meta.update(
            t0=t0,
            warmup_end=t0 + o.warmup,
            chaos_end=t0 + o.duration - o.cooldown,
            t_end=t0 + o.duration,
        )
        self._write_meta()
        assert self.relay is not None
        assert self.fakes is not None
        assert self.watch is not None
        stack = Stack(
            relay=self.relay,
            broker=self.procs["broker"],
            broker_port=self.ports["broker"],
            app=self.procs["app"],
            app_port=self.ports["app"],
            fakes=self.fakes,
            call=self.watch.call,
            health=self.health,
            ha_connected=self.watch.connected,
            systems=self.systems,
            winet_devices=self.winet_devices,
            reauth=lambda data: self.watch.finish_reauth(  # type: ignore[union-attr]
                f"http://127.0.0.1:{self.ports['ha']}", data
            ),
        )
        faults_out = JsonLines(self.run_dir / "faults.jsonl")
        self.chaos = Chaos(
            stack,
            random.Random(o.seed),
            faults_out,
            chaos_end=self.meta["chaos_end"],
            recovery_timeout=o.recovery_timeout,
            pause=o.pause,
            lanes=o.lanes,
            kinds=o.kinds,
        )
        say(
            f"soak started: {o.duration:.0f} s, warm-up {o.warmup:.0f} s, "
            f"faults until +{o.duration - o.cooldown:.0f} s"
        )

        async def chaos_after_warmup() -> None:
            await asyncio.sleep(o.warmup)
            assert self.chaos is not None
            await self.chaos.run()

        chaos_task = asyncio.create_task(chaos_after_warmup())
        try:
            await self._run_until_end(t0, chaos_task)
        finally:
            if not chaos_task.done():
                chaos_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chaos_task
        faults_out.close()
        self.meta["final_state_matches"] = await self._final_state()

    async def _run_until_end(self, t0: float, chaos_task: asyncio.Task[None]) -> None:
        assert self.chaos is not None
        next_note = t0 + 30
        while now() < self.meta["t_end"]:
            await asyncio.sleep(0.5)
            if (lost := self._watchdog()) is not None:
                say(f"{lost} exited on its own: ending the soak early (see the report)")
                self.meta["aborted"] = f"{lost} exited on its own at +{now() - t0:.0f} s"
                self.meta["t_end"] = now()
                break
            if now() >= next_note:
                next_note += 30
                say(
                    f"+{now() - t0:.0f} s: {self.health.clients} clients, app "
                    f"{'up' if self.health.app_up else 'DOWN'}, feed {self.health.feed}, "
                    f"mqtt {self.health.bridge}, faults {len(self.chaos.faults)}"
                )
        if not chaos_task.done():
            say("soak time is up; ending the fault lanes")

    def _watchdog(self) -> str | None:
        """Restart the app or the broker if they died outside a fault; name a lost core part."""
        for name in ("hass", "fakes"):
            proc = self.procs.get(name)
            if proc is not None and proc.popen is not None and not proc.check():
                self.timeline.write({"t": now(), "src": "soak", "what": "exit", "name": name})
                return name
        busy = self.chaos is not None and self.chaos.infra_busy
        for name in ("app", "broker"):
            proc = self.procs[name]
            if busy or proc.popen is None:
                continue
            if not proc.check():
                say(f"{name} died outside a fault: restarting it (watchdog)")
                self.timeline.write({"t": now(), "src": "soak", "what": "exit", "name": name})
                proc.start()
        return None

    async def _final_state(self) -> dict[str, bool]:
        """The last state each system has on MQTT equals the last document on /ws."""
        deadline = time.monotonic() + 15.0
        result: dict[str, bool] = {}
        while time.monotonic() < deadline:
            result = {
                s: self.mqtt.last_state.get(s) == self.channel.last_document.get(s)
                for s in self.systems
            }
            if all(result.values()):
                break
            await asyncio.sleep(0.2)
        return result

    # -- memory return -------------------------------------------------------------------

    def _app_rss_kib(self) -> int | None:
        app = self.procs["app"]
        got = sample(app.pid) if app.pid is not None else None
        return None if got is None else got[1] // 1024

    async def _app_connections(self) -> int | None:
        """WebSocket connections the app counts (the seed's ``GET /ws/monitoring``)."""
        url = f"http://127.0.0.1:{self.ports['app']}/ws/monitoring"
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError, KeyError):
            async with (
                aiohttp.ClientSession() as session,
                session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as resp,
            ):
                return int((await resp.json())["stats"]["total_connections"])
        return None

    async def _connections_reach(self, check: Any, within: float, what: str) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            count = await self._app_connections()
            if count is not None and check(count):
                return True
            await asyncio.sleep(1.0)
        say(f"warning: not reached within {within:g} s: {what}")
        return False

    async def memory_return(self) -> None:
        """A crowd of clients comes and goes; the app's RSS must come back near its idle one.

        The soak's own clients leave first. Then ``crowd`` clients (two
        thirds on ``/ws/monitoring``, one third on ``/ws``, as the soak's)
        connect, stay ``crowd_hold`` seconds and leave; ``crowd_settle``
        seconds later the app's RSS is read and compared, in the report, with
        the RSS it had idle right after start-up.
        """
        o = self.opts
        if o.crowd <= 0 or not self.procs["app"].alive():
            return
        say(f"memory return: the soak's clients leave, then {o.crowd} clients come and go")
        load = self.procs.get("loadgen")
        if load is not None:
            await asyncio.to_thread(load.stop, 30.0)
        await self._connections_reach(lambda n: n <= OBSERVERS, 60.0, "the soak's clients gone")
        phase: dict[str, Any] = {
            "crowd": o.crowd,
            "hold": o.crowd_hold,
            "settle": o.crowd_settle,
            "pid": self.procs["app"].pid,
            "t_start": now(),
            "rss_before_kib": self._app_rss_kib(),
        }
        self.meta["memory_return"] = phase
        monitoring = o.crowd * 2 // 3
        crowd = self._loadgen(
            "crowd",
            "crowd",
            (monitoring, o.crowd - monitoring, 0),
            o.crowd / o.ramp + o.crowd_hold + 300,
        )
        self.procs["crowd"] = crowd
        crowd.start()
        await self._connections_reach(
            lambda n: n >= OBSERVERS + o.crowd * 0.95,
            o.crowd / o.ramp + 90.0,
            f"{o.crowd} clients connected",
        )
        phase["connected"] = (await self._app_connections() or OBSERVERS) - OBSERVERS
        phase["t_crowd_in"] = now()
        peak = 0
        for _ in range(max(1, round(o.crowd_hold / 2))):
            await asyncio.sleep(2.0)
            peak = max(peak, self._app_rss_kib() or 0)
        phase["rss_with_crowd_kib"] = peak
        await asyncio.to_thread(crowd.stop, 30.0)
        await self._connections_reach(lambda n: n <= OBSERVERS, 60.0, "the crowd gone")
        phase["t_crowd_gone"] = now()
        say(f"memory return: crowd gone; RSS read again in {o.crowd_settle:g} s")
        await asyncio.sleep(o.crowd_settle)
        phase["t_check"] = now()
        phase["rss_after_kib"] = self._app_rss_kib()
        phase["pid_after"] = self.procs["app"].pid
        self._write_meta()

    # -- tear-down -----------------------------------------------------------------------

    async def teardown(self) -> None:
        load = self.procs.get("loadgen")
        if load is not None:
            await asyncio.to_thread(load.stop, 30.0)
        await asyncio.sleep(1.0)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for name in ("app",):
            if name in self.procs:
                await asyncio.to_thread(self.procs[name].stop, 30.0)
        if self.relay is not None:
            await self.relay.close()
        if self.watch is not None:
            with contextlib.suppress(Exception):
                await self.watch.close()
        if self.fakes is not None:
            await self.fakes.close()
        self.stop_all()

    def stop_all(self) -> None:
        """Stop every process still running, in reverse order of start; idempotent."""
        for name in ("crowd", "loadgen", "app", "hass", "fakes", "broker"):
            proc = self.procs.get(name)
            if proc is not None and proc.popen is not None:
                proc.stop(90.0 if name == "hass" else 30.0)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _write_meta(self) -> None:
        self.meta["processes"] = {name: proc.describe() for name, proc in self.procs.items()}
        (self.run_dir / "meta.json").write_text(json.dumps(self.meta, indent=1, default=str))


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


async def _main(opts: Options) -> Path:
    soak = Soak(opts)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, task.cancel)
    try:
        async with asyncio.timeout(SETUP_TIMEOUT):
            await soak.setup()
        await soak.soak()
        await soak.memory_return()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(soak.teardown())
        soak.stop_all()
        if soak.meta:
            soak._write_meta()
    return soak.run_dir


def main(argv: list[str] | None = None) -> int:
    opts = options(argv)
    try:
        run = asyncio.run(_main(opts))
    except KeyboardInterrupt:
        say("interrupted; every process was stopped")
        return 130
    except asyncio.CancelledError:
        say("stopped by a signal; every process was stopped")
        return 143
    say("analysing")
    report = analysis.write(run)
    if opts.plots:
        from . import plots

        plots.ensure_matplotlib()
        for path in plots.draw(run):
            say(f"figure {path}")
        if opts.figures is not None:
            for path in plots.draw(run, opts.figures):
                say(f"figure {path}")
    print(analysis.markdown(report))
    say(f"report: {run / 'report.md'}")
    failed = [name for name, ok in report["verdict"]["checks"].items() if not ok]
    if failed:
        say("targets missed: " + "; ".join(failed))
    # Exit 1 when a target of issue 7 is missed; the "(extra)" checks only inform.
    return 1 if any(not name.startswith("(extra)") for name in failed) else 0

"""Random faults, in lanes, each waited out until the stack has recovered.

Three lanes run side by side, each one fault at a time: ``infra`` (the
Home Assistant link through the relay, the broker, the app process),
``winet`` (the fake gateway's knobs) and ``alphaess`` (the fake unit's
knobs, and the simulated system's own outage). A lane draws its next fault
from a shuffled deck of its kinds — every kind once before any repeats —
with random parameters from the run's seed, injects it, holds it, clears it,
then waits for the fault's scope to be healthy again (its *time to
recover*, from the clear) before a random pause and the next draw.

Scopes and what "recovered" means:

* a device fault: the system's connectivity sensor in Home Assistant is
  ``on`` again (read straight from Home Assistant, not through the app);
* a Home Assistant link fault: the app's feed is connected (``/health`` and
  the ``/ws`` observer's ``connection_status`` agree; over a new connection
  if the fault cut it) and a fresh document of the simulated system (it
  changes every 5 s) has reached ``/ws`` since the fault ended;
* a broker fault: the MQTT observer is connected and the bridge has said
  ``online`` live since the broker came back;
* an app fault: :meth:`Health.app_whole` — serving, fed, every dashboard
  client reconnected, bridge re-announced.

Each fault becomes one line of ``faults.jsonl``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import json
import random
import time
from typing import Any

from .common import JsonLines, now, say
from .observe import Health
from .procs import Proc, wait_for_port
from .relay import Relay


class FakesControl:
    """The fakes process's control port (see :mod:`bench.soak.fakes`)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, **message: Any) -> Any:
        async with self._lock:
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
            assert self._reader is not None
            self._writer.write((json.dumps(message) + "\n").encode())
            await self._writer.drain()
            answer = json.loads(await self._reader.readline())
        if not answer.get("ok"):
            raise RuntimeError(f"fakes control: {answer.get('error')}")
        return answer.get("result")

    async def set(self, fake: str, **attrs: Any) -> None:
        await self.request(op="set", fake=fake, attrs=attrs)

    async def get(self, fake: str, name: str) -> Any:
        return await self.request(op="get", fake=fake, name=name)

    async def call(self, fake: str, method: str, *args: Any) -> Any:
        return await self.request(op="call", fake=fake, method=method, args=list(args))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


@dataclass
class Fault:
    """One injected fault, as reported."""

    id: int
    lane: str
    kind: str
    scope: str  # "device:<system>", "ha_link", "broker", "app"
    params: dict[str, Any] = field(default_factory=dict)
    start: float = 0.0
    clear: float | None = None
    recovered_at: float | None = None
    ttr: float | None = None
    note: str = ""

    def record(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class Stack:
    """Everything a fault may touch."""

    relay: Relay
    broker: Proc
    broker_port: int
    app: Proc
    app_port: int
    fakes: FakesControl
    call: Callable[[str, str, dict[str, Any]], Awaitable[str]]
    health: Health
    ha_connected: dict[str, bool | None]
    systems: dict[str, dict[str, Any]]  # id -> {source, device_id, ...}
    winet_devices: list[int]
    reauth: Callable[[dict[str, Any]], Awaitable[list[str]]]

    def system(self, source: str) -> str | None:
        return next((s for s, info in self.systems.items() if info["source"] == source), None)


type Injector = Callable[["Chaos", Fault], Awaitable[None]]


class Chaos:
    """The lanes and their faults."""

    def __init__(
        self,
        stack: Stack,
        rng: random.Random,
        out: JsonLines,
        *,
        chaos_end: float,
        recovery_timeout: float,
        pause: tuple[float, float],
        lanes: tuple[str, ...] = ("infra", "winet", "alphaess"),
        kinds: tuple[str, ...] = (),
    ) -> None:
        self.stack = stack
        self.rng = rng
        self.out = out
        self.chaos_end = chaos_end
        self.recovery_timeout = recovery_timeout
        self.pause = pause
        self.lanes = lanes
        self.only = frozenset(kinds)
        self.faults: list[Fault] = []
        self._ids = 0
        # An infra fault is stopping or starting a process: the watchdog keeps off.
        self.infra_busy = False

    # -- lanes -------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(*(self._lane(lane) for lane in self.lanes))

    def _deck(self, lane: str) -> list[str]:
        kinds = [
            kind
            for kind, (k_lane, _, _) in KINDS.items()
            if k_lane == lane and (not self.only or kind in self.only)
        ]
        if lane == "winet" and self.stack.system("winet") is None:
            return []
        if lane == "alphaess" and self.stack.system("modbus") is None:
            kinds = [k for k in kinds if k.startswith("sim.")]
        self.rng.shuffle(kinds)
        return kinds

    async def _lane(self, lane: str) -> None:
        deck: list[str] = []
        # Lanes start staggered so their first faults do not coincide.
        await asyncio.sleep(self.rng.uniform(0, self.pause[1]))
        while now() < self.chaos_end:
            if not deck:
                deck = self._deck(lane)
                if not deck:
                    return
            kind = deck.pop()
            await self._one(lane, kind)
            await asyncio.sleep(self.rng.uniform(*self.pause))

    def hold(self, low: float, high: float) -> float:
        """A random hold between ``low`` and ``high`` s, cut to what is left of the window."""
        return max(1.0, min(self.rng.uniform(low, high), self.chaos_end - now()))

    async def _one(self, lane: str, kind: str) -> None:
        _, scope, injector = KINDS[kind]
        self._ids += 1
        if scope == "device":
            source = "modbus" if kind.startswith("alphaess.") else kind.split(".", maxsplit=1)[0]
            source = "simulated" if source == "sim" else source
            system = self.stack.system(source)
            scope = f"device:{system}"
        fault = Fault(self._ids, lane, kind, scope, start=now())
        self.faults.append(fault)
        say(f"fault #{fault.id} {kind} ({lane})")
        try:
            if lane == "infra":
                self.infra_busy = True
            try:
                await injector(self, fault)
            except Exception as err:  # an injection that failed is reported, not fatal
                fault.note = f"injection failed: {type(err).__name__}: {err}"[:300]
                say(f"fault #{fault.id} {kind}: {fault.note}")
                _still_wanted()
            finally:
                if lane == "infra":
                    self.infra_busy = False
            if fault.clear is None:
                fault.clear = now()
            await self._await_recovery(fault)
        except asyncio.CancelledError:
            fault.note = (fault.note + " the soak ended before it recovered").strip()
            raise
        finally:
            fault.params = {k: _plain(v) for k, v in fault.params.items()}
            self.out.write(fault.record())
        ttr = "not recovered" if fault.ttr is None else f"recovered in {fault.ttr:.1f} s"
        say(f"fault #{fault.id} {kind}: {ttr}")

    def healthy(self, fault: Fault) -> bool:
        health, scope = self.stack.health, fault.scope
        if scope.startswith("device:"):
            return self.stack.ha_connected.get(scope.split(":", 1)[1]) is True
        if scope == "ha_link":
            assert fault.clear is not None
            fed = health.feed is True and health.observer_feed is True
            # Data flows again: a new document of the simulated system (every 5 s) on /ws.
            sim = self.stack.system("simulated")
            fed = fed and (sim is None or health.update_at.get(sim, 0.0) > fault.clear)
            if not fault.params.get("connections"):
                return fed  # nothing was cut (a blackhole the link may have survived)
            # Cut: fed again over a new connection, as a probe after it says.
            last = self.stack.relay.last_accept
            return fed and last > fault.start and health.probe_at > last
        if scope == "broker":
            assert fault.clear is not None
            return health.mqtt_up and health.bridge_live_online_at > fault.clear
        if scope == "app":
            assert fault.clear is not None
            return health.app_whole(fault.clear)
        return True

    async def _await_recovery(self, fault: Fault) -> None:
        assert fault.clear is not None
        deadline = time.monotonic() + self.recovery_timeout
        while time.monotonic() < deadline:
            if self.healthy(fault):
                fault.recovered_at = now()
                fault.ttr = round(fault.recovered_at - fault.clear, 3)
                return
            await asyncio.sleep(0.1)
        fault.note = (fault.note + f" not recovered within {self.recovery_timeout:g} s").strip()


def _still_wanted() -> None:
    """Re-raise a cancellation that a clean-up step's own error replaced (the soak is ending)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None) | list) else str(value)


# -- the faults ------------------------------------------------------------------------


async def _held(chaos: Chaos, fault: Fault, seconds: float) -> None:
    fault.params["hold"] = round(seconds, 2)
    await asyncio.sleep(seconds)


async def ha_reset(chaos: Chaos, fault: Fault) -> None:
    fault.params["connections"] = chaos.stack.relay.reset()


async def ha_outage(chaos: Chaos, fault: Fault) -> None:
    seconds = chaos.hold(5, 30)
    fault.params["hold"] = round(seconds, 2)
    fault.params["connections"] = await chaos.stack.relay.outage(seconds)


async def ha_blackhole(chaos: Chaos, fault: Fault) -> None:
    seconds = chaos.hold(10, 50)
    fault.params["hold"] = round(seconds, 2)
    await chaos.stack.relay.blackhole(seconds)


async def _broker(chaos: Chaos, fault: Fault, *, kill: bool) -> None:
    stack = chaos.stack
    seconds = chaos.hold(1, 15)
    fault.params["down"] = round(seconds, 2)
    await asyncio.to_thread(stack.broker.stop, 15.0, kill=kill)
    try:
        await asyncio.sleep(seconds)
    finally:
        stack.broker.start()
        fault.clear = now()  # recovery counts from the moment it is started again
    await asyncio.to_thread(wait_for_port, stack.broker_port, 30.0, stack.broker)


async def broker_restart(chaos: Chaos, fault: Fault) -> None:
    await _broker(chaos, fault, kill=False)


async def broker_kill(chaos: Chaos, fault: Fault) -> None:
    await _broker(chaos, fault, kill=True)


async def _app(chaos: Chaos, fault: Fault, *, kill: bool) -> None:
    stack = chaos.stack
    seconds = chaos.rng.uniform(0.5, 3.0)
    fault.params["down"] = round(seconds, 2)
    rc = await asyncio.to_thread(stack.app.stop, 30.0, kill=kill)
    fault.params["exit_code"] = rc
    try:
        await asyncio.sleep(seconds)
    finally:
        stack.app.start()
        fault.clear = now()  # recovery counts from the moment it is started again
    await asyncio.to_thread(wait_for_port, stack.app_port, 60.0, stack.app)


async def app_restart(chaos: Chaos, fault: Fault) -> None:
    await _app(chaos, fault, kill=False)


async def app_kill(chaos: Chaos, fault: Fault) -> None:
    await _app(chaos, fault, kill=True)


# WiNet: the knobs of FakeWinet.faults and its runtime controls.


async def _counted(chaos: Chaos, fault: Fault, knob: str, low: int, high: int) -> None:
    """A "next N requests" knob: set it, wait until the fake used it up (or 60 s)."""
    n = chaos.rng.randint(low, high)
    fault.params[knob] = n
    await chaos.stack.fakes.set("winet", **{knob: n})
    # The fake counts down as it fires; a 10 s poll uses one request or a few.
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        if not await chaos.stack.fakes.get("winet", knob):
            return
    fault.params["left"] = await chaos.stack.fakes.get("winet", knob)
    await chaos.stack.fakes.set("winet", **{knob: 0})


async def _window(
    chaos: Chaos,
    fault: Fault,
    fake: str,
    on: dict[str, Any],
    off: dict[str, Any],
    low: float,
    high: float,
    *,
    kick: bool = False,
) -> None:
    fault.params.update(on)
    await chaos.stack.fakes.set(fake, **on)
    if kick:  # make the integration reconnect through the fault
        await chaos.stack.fakes.call("winet", "drop_all")
    try:
        await _held(chaos, fault, chaos.hold(low, high))
    finally:
        await chaos.stack.fakes.set(fake, **off)


async def winet_stall(chaos: Chaos, fault: Fault) -> None:
    await _counted(chaos, fault, "stall", 1, 3)


async def winet_drop(chaos: Chaos, fault: Fault) -> None:
    await _counted(chaos, fault, "drop", 1, 3)


async def winet_read_failed(chaos: Chaos, fault: Fault) -> None:
    await _counted(chaos, fault, "read_failed", 1, 5)


async def winet_inter_abnormal(chaos: Chaos, fault: Fault) -> None:
    await _counted(chaos, fault, "inter_abnormal", 1, 5)


async def winet_garbage(chaos: Chaos, fault: Fault) -> None:
    await _counted(chaos, fault, "garbage", 1, 3)


async def winet_inject(chaos: Chaos, fault: Fault) -> None:
    frames = [
        "not json at all",
        '{"result_code":1,"result_msg":"success","result_data":{"service":"mystery"}}',
        '{"result_code":1,"result_msg":"success"}',
    ]
    chosen = chaos.rng.sample(frames, chaos.rng.randint(1, len(frames)))
    fault.params["frames"] = len(chosen)
    await chaos.stack.fakes.set("winet", inject=chosen)
    deadline = time.monotonic() + 60.0
    # Polls another process's knob: there is no event to wait on.
    while time.monotonic() < deadline and await chaos.stack.fakes.get("winet", "inject"):  # noqa: ASYNC110
        await asyncio.sleep(0.5)


async def winet_token_expiry(chaos: Chaos, fault: Fault) -> None:
    n = chaos.rng.randint(1, 4)
    await _window(
        chaos, fault, "winet", {"token_expiry_after": n}, {"token_expiry_after": None}, 20, 45
    )


async def winet_expire_tokens(chaos: Chaos, fault: Fault) -> None:
    await chaos.stack.fakes.call("winet", "expire_tokens")


async def winet_latency(chaos: Chaos, fault: Fault) -> None:
    seconds = round(chaos.rng.uniform(1.0, 8.0), 2)
    await _window(chaos, fault, "winet", {"latency": seconds}, {"latency": 0.0}, 15, 40)


async def winet_notice(chaos: Chaos, fault: Fault) -> None:
    close = chaos.rng.random() < 0.5
    fault.params["close"] = close
    await chaos.stack.fakes.call("winet", "push_notice", close)


async def winet_notice_after(chaos: Chaos, fault: Fault) -> None:
    stats = await chaos.stack.fakes.request(op="stats")
    n = stats["winet"]["requests"] + chaos.rng.randint(1, 5)
    fault.params["notice_after"] = n
    await chaos.stack.fakes.set("winet", notice_after=n)
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline and await chaos.stack.fakes.get("winet", "notice_after"):  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    await chaos.stack.fakes.set("winet", notice_after=None)


async def winet_login_fails(chaos: Chaos, fault: Fault) -> None:
    """Logins refused: the integration asks for the password again (a reauth flow) and
    stops polling, by design; the soak then does what the user would: fills the form."""
    await _window(
        chaos, fault, "winet", {"login_fails": True}, {"login_fails": False}, 10, 35, kick=True
    )
    fault.clear = now()
    for _ in range(20):
        answers = await chaos.stack.reauth({"username": "admin", "password": "pw8888"})
        if answers:
            fault.params["reauth"] = answers
            fault.params["reauth_after"] = round(now() - fault.clear, 2)
            return
        if chaos.stack.ha_connected.get(fault.scope.split(":", 1)[1]):
            return  # it recovered without asking
        await asyncio.sleep(1.0)


async def winet_idle_timeout(chaos: Chaos, fault: Fault) -> None:
    seconds = round(chaos.rng.uniform(2.0, 6.0), 2)
    await _window(chaos, fault, "winet", {"idle_timeout": seconds}, {"idle_timeout": None}, 25, 45)


async def winet_reject_upgrade(chaos: Chaos, fault: Fault) -> None:
    n = chaos.rng.randint(1, 3)
    fault.params["reject_upgrade"] = n
    await chaos.stack.fakes.set("winet", reject_upgrade=n)
    await chaos.stack.fakes.call("winet", "drop_all")
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline and await chaos.stack.fakes.get("winet", "reject_upgrade"):  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    await chaos.stack.fakes.set("winet", reject_upgrade=0)


async def winet_upgrade_delay(chaos: Chaos, fault: Fault) -> None:
    seconds = round(chaos.rng.uniform(2.0, 9.0), 2)
    await _window(
        chaos, fault, "winet", {"upgrade_delay": seconds}, {"upgrade_delay": 0.0}, 15, 35, kick=True
    )


async def winet_about_unavailable(chaos: Chaos, fault: Fault) -> None:
    await _window(
        chaos,
        fault,
        "winet",
        {"about_available": False},
        {"about_available": True},
        15,
        35,
        kick=True,
    )


async def winet_drop_all(chaos: Chaos, fault: Fault) -> None:
    await chaos.stack.fakes.call("winet", "drop_all")


async def winet_device_offline(chaos: Chaos, fault: Fault) -> None:
    dev = chaos.rng.choice(chaos.stack.winet_devices)
    fault.params["dev_id"] = dev
    await chaos.stack.fakes.call("winet", "set_link", dev, 0)
    try:
        await _held(chaos, fault, chaos.hold(20, 40))
    finally:
        await chaos.stack.fakes.call("winet", "set_link", dev, 1)


async def winet_device_removed(chaos: Chaos, fault: Fault) -> None:
    dev = chaos.rng.choice(chaos.stack.winet_devices)
    fault.params["dev_id"] = dev
    await chaos.stack.fakes.call("winet", "remove_device", dev)
    try:
        await _held(chaos, fault, chaos.hold(20, 40))
    finally:
        await chaos.stack.fakes.call("winet", "restore_device", dev)


async def _dispatch(chaos: Chaos, fault: Fault, source: str) -> None:
    """A charge command followed by a stop, through Home Assistant."""
    system = chaos.stack.system(source)
    device = chaos.stack.systems[system]["device_id"] if system else None
    if device is None:
        fault.note = "no device to command"
        return
    fault.params["charge"] = await chaos.stack.call(
        "sunstream", "charge", {"device_id": device, "power": 1500, "target_soc": 90, "duration": 5}
    )
    await asyncio.sleep(chaos.hold(8, 15))
    fault.params["stop"] = await chaos.stack.call("sunstream", "stop", {"device_id": device})


async def winet_param_reject(chaos: Chaos, fault: Fault) -> None:
    await chaos.stack.fakes.set("winet", param_reject=1)
    try:
        await _dispatch(chaos, fault, "winet")
    finally:
        await chaos.stack.fakes.set("winet", param_reject=0)


async def winet_param_set_failed(chaos: Chaos, fault: Fault) -> None:
    await chaos.stack.fakes.set("winet", param_set_failed=1)
    try:
        await _dispatch(chaos, fault, "winet")
    finally:
        await chaos.stack.fakes.set("winet", param_set_failed=0)


# AlphaESS: the fake unit's attributes and controls.


async def alphaess_silent(chaos: Chaos, fault: Fault) -> None:
    await _window(chaos, fault, "alphaess", {"silent": True}, {"silent": False}, 10, 40)


async def alphaess_delay(chaos: Chaos, fault: Fault) -> None:
    seconds = round(chaos.rng.uniform(0.5, 4.0), 2)
    await _window(chaos, fault, "alphaess", {"delay": seconds}, {"delay": 0.0}, 15, 40)


async def alphaess_illegal(chaos: Chaos, fault: Fault) -> None:
    # battery SOC, grid power (both words): registers every poll reads.
    addresses = chaos.rng.choice([[0x0102], [0x0021, 0x0022], [0x0102, 0x0021, 0x0022]])
    await _window(chaos, fault, "alphaess", {"illegal": addresses}, {"illegal": []}, 15, 40)


async def alphaess_exception(chaos: Chaos, fault: Fault) -> None:
    code = chaos.rng.choice([6, 11])
    await _window(chaos, fault, "alphaess", {"exception": code}, {"exception": None}, 10, 35)


async def alphaess_ignore_dispatch(chaos: Chaos, fault: Fault) -> None:
    await chaos.stack.fakes.set("alphaess", ignore_dispatch=True)
    try:
        await _dispatch(chaos, fault, "modbus")
    finally:
        await chaos.stack.fakes.set("alphaess", ignore_dispatch=False)


async def alphaess_drop_link(chaos: Chaos, fault: Fault) -> None:
    await chaos.stack.fakes.call("alphaess", "drop_link")


async def alphaess_link_down(chaos: Chaos, fault: Fault) -> None:
    await chaos.stack.fakes.call("alphaess", "set_link_down", True)
    try:
        await _held(chaos, fault, chaos.hold(5, 30))
    finally:
        await chaos.stack.fakes.call("alphaess", "set_link_down", False)


async def alphaess_squat(chaos: Chaos, fault: Fault) -> None:
    seconds = chaos.hold(15, 40)
    fault.params["hold"] = round(seconds, 2)
    await chaos.stack.fakes.call("alphaess", "squat", seconds)
    await asyncio.sleep(seconds)


async def sim_outage(chaos: Chaos, fault: Fault) -> None:
    system = chaos.stack.system("simulated")
    device = chaos.stack.systems[system]["device_id"] if system else None
    seconds = int(chaos.hold(15, 40))
    fault.params["duration"] = seconds
    fault.params["result"] = await chaos.stack.call(
        "sunstream", "simulate_outage", {"device_id": device, "duration": {"seconds": seconds}}
    )
    await asyncio.sleep(seconds)


async def sim_dispatch(chaos: Chaos, fault: Fault) -> None:
    await _dispatch(chaos, fault, "simulated")


# kind -> (lane, scope, injector)
KINDS: dict[str, tuple[str, str, Injector]] = {
    "ha.reset": ("infra", "ha_link", ha_reset),
    "ha.outage": ("infra", "ha_link", ha_outage),
    "ha.blackhole": ("infra", "ha_link", ha_blackhole),
    "broker.restart": ("infra", "broker", broker_restart),
    "broker.kill": ("infra", "broker", broker_kill),
    "app.restart": ("infra", "app", app_restart),
    "app.kill": ("infra", "app", app_kill),
    "winet.stall": ("winet", "device", winet_stall),
    "winet.drop": ("winet", "device", winet_drop),
    "winet.read_failed": ("winet", "device", winet_read_failed),
    "winet.inter_abnormal": ("winet", "device", winet_inter_abnormal),
    "winet.garbage": ("winet", "device", winet_garbage),
    "winet.inject": ("winet", "device", winet_inject),
    "winet.token_expiry_after": ("winet", "device", winet_token_expiry),
    "winet.expire_tokens": ("winet", "device", winet_expire_tokens),
    "winet.latency": ("winet", "device", winet_latency),
    "winet.notice": ("winet", "device", winet_notice),
    "winet.notice_after": ("winet", "device", winet_notice_after),
    "winet.login_fails": ("winet", "device", winet_login_fails),
    "winet.idle_timeout": ("winet", "device", winet_idle_timeout),
    "winet.reject_upgrade": ("winet", "device", winet_reject_upgrade),
    "winet.upgrade_delay": ("winet", "device", winet_upgrade_delay),
    "winet.about_unavailable": ("winet", "device", winet_about_unavailable),
    "winet.drop_all": ("winet", "device", winet_drop_all),
    "winet.device_offline": ("winet", "device", winet_device_offline),
    "winet.device_removed": ("winet", "device", winet_device_removed),
    "winet.param_reject": ("winet", "device", winet_param_reject),
    "winet.param_set_failed": ("winet", "device", winet_param_set_failed),
    "alphaess.silent": ("alphaess", "device", alphaess_silent),
    "alphaess.delay": ("alphaess", "device", alphaess_delay),
    "alphaess.illegal": ("alphaess", "device", alphaess_illegal),
    "alphaess.exception": ("alphaess", "device", alphaess_exception),
    "alphaess.ignore_dispatch": ("alphaess", "device", alphaess_ignore_dispatch),
    "alphaess.drop_link": ("alphaess", "device", alphaess_drop_link),
    "alphaess.link_down": ("alphaess", "device", alphaess_link_down),
    "alphaess.squat": ("alphaess", "device", alphaess_squat),
    "sim.outage": ("alphaess", "device", sim_outage),
    "sim.dispatch": ("alphaess", "device", sim_dispatch),
}

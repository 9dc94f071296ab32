"""Dashboard load: thousands of WebSocket clients of the app, reconnecting like seed 000.

``python -m bench.soak.loadgen --port P --token T --systems a,b,c
--monitoring N --channel M --events E.jsonl --stats S.jsonl --until EPOCH``

* ``N`` clients on ``/ws/monitoring/{system}`` (systems round-robin), half
  authenticating with ``Authorization: Bearer``, half with the browsers'
  first message ``{"type": "auth", …}``;
* ``M`` clients on ``/ws``: first-message auth, ``subscribe`` to one system
  (every tenth to ``"*"``), a ``ping`` every ~30 s like seed 001;
* ``--ha-clients K`` of the channel clients authenticate with a Home
  Assistant long-lived token instead (``--ha-token``), which the app checks
  against Home Assistant.

Clients spread over source addresses 127.0.0.2… (``--per-address``) so the
app's per-address cap does not apply. Every client that loses its socket
records why (close code, error) in ``E`` and reconnects after ~1 s, backing
off to 5 s (seed 000's dashboard, docs/protocols/app-seeds.md#seed-000).
Once a second a line of totals goes to
``S``: connected clients, messages and bytes received, and "stalled" ones (a
monitoring client that heard nothing for 12 s although the server repeats
the document every 5 s). Stops at ``--until`` or on SIGTERM, closing every
socket itself (those closes are not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import signal
import sys
import time
from typing import Any

import aiohttp

from .common import JsonLines, now

STALL_AFTER = 12.0
AUTH_TIMEOUT = 10.0
PING_EVERY = 30.0


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stopping = False
        self.events = JsonLines(args.events)
        self.stats_out = JsonLines(args.stats)
        self.connected: dict[int, aiohttp.ClientWebSocketResponse] = {}
        self.kind: dict[int, str] = {}
        self.last_rx: dict[int, float] = {}
        self.msgs = 0
        self.bytes = 0
        self.errors = 0
        self.disconnects = 0
        self.connect_failures = 0
        self.reconnects = 0
        self.error_samples: list[str] = []
        self.sessions: list[aiohttp.ClientSession] = []
        self.rng = random.Random(args.seed)

    def session_for(self, cid: int) -> aiohttp.ClientSession:
        return self.sessions[cid // self.args.per_address % len(self.sessions)]

    async def run(self) -> None:
        a = self.args
        total = a.monitoring + a.channel
        addresses = max(1, -(-total // a.per_address))
        for i in range(addresses):
            connector = aiohttp.TCPConnector(
                local_addr=(f"127.0.0.{i + 2}", 0), limit=0, force_close=True
            )
            self.sessions.append(aiohttp.ClientSession(connector=connector))
        systems = a.systems.split(",")
        tasks = []
        stats = asyncio.create_task(self.report_loop())
        pinger = asyncio.create_task(self.ping_loop())
        started = time.monotonic()
        for cid in range(total):
            if self.stopping:
                break
            if cid < a.monitoring:
                kind, system = "monitoring", systems[cid % len(systems)]
                auth = "bearer" if cid % 2 == 0 else "message"
            else:
                j = cid - a.monitoring
                kind = "channel"
                system = "*" if j % 10 == 0 else systems[j % len(systems)]
                auth = "ha" if j < a.ha_clients else "message"
            self.kind[cid] = kind
            tasks.append(asyncio.create_task(self.client(cid, kind, system, auth)))
            # Ramp: --ramp new clients per second.
            delay = started + (cid + 1) / a.ramp - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        with contextlib.suppress(asyncio.CancelledError):
            while not self.stopping:  # noqa: ASYNC110 (set from a signal handler)
                await asyncio.sleep(0.2)
        await self.close_all()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stats.cancel()
        pinger.cancel()
        await asyncio.gather(stats, pinger, return_exceptions=True)
        self.report(final=True)
        for session in self.sessions:
            await session.close()
        self.events.close()
        self.stats_out.close()

    async def close_all(self) -> None:
        sockets = list(self.connected.values())
        self.connected.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    async def client(self, cid: int, kind: str, system: str, auth: str) -> None:
        """Connect, follow, and reconnect after every loss, until the load stops."""
        attempt = 0
        lost_at: float | None = None
        while not self.stopping:
            ws = await self.open(cid, kind, system, auth, attempt)
            if ws is None:
                attempt += 1
                await asyncio.sleep(_backoff(attempt, self.rng))
                continue
            connected_at = now()
            self.connected[cid] = ws
            self.last_rx[cid] = time.monotonic()
            if lost_at is not None:
                self.reconnects += 1
                self.events.write(
                    {
                        "t": connected_at,
                        "ev": "reconnected",
                        "cid": cid,
                        "kind": kind,
                        "after": round(connected_at - lost_at, 3),
                        "attempts": attempt,
                    }
                )
            attempt = 0
            error = await self.receive(cid, ws)
            self.connected.pop(cid, None)
            if self.stopping:
                return
            lost_at = now()
            self.disconnects += 1
            self.events.write(
                {
                    "t": lost_at,
                    "ev": "disconnect",
                    "cid": cid,
                    "kind": kind,
                    "system": system,
                    "code": ws.close_code,
                    "error": error,
                    "up_for": round(lost_at - connected_at, 3),
                }
            )
            attempt = 1
            await asyncio.sleep(_backoff(attempt, self.rng))

    async def open(
        self, cid: int, kind: str, system: str, auth: str, attempt: int
    ) -> aiohttp.ClientWebSocketResponse | None:
        """One connection attempt, authenticated and subscribed; None (recorded) if it failed."""
        a = self.args
        path = f"/ws/monitoring/{system}" if kind == "monitoring" else "/ws"
        token = a.ha_token if auth == "ha" else a.token
        headers = {"Authorization": f"Bearer {token}"} if auth == "bearer" else {}
        base = {"cid": cid, "kind": kind}
        try:
            ws = await self.session_for(cid).ws_connect(
                f"http://127.0.0.1:{a.port}{path}",
                headers=headers,
                autoping=True,
                heartbeat=None,
                max_msg_size=4 * 1024 * 1024,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                compress=0,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            if not self.stopping:
                self.connect_failures += 1
                if attempt % 10 == 0:
                    self.events.write(
                        {
                            "t": now(),
                            "ev": "connect_failed",
                            **base,
                            "attempt": attempt,
                            "error": _short(err),
                        }
                    )
            return None
        try:
            if auth != "bearer" and not await self.authenticate(ws, token):
                self.events.write(
                    {"t": now(), "ev": "auth_refused", **base, "auth": auth, "code": ws.close_code}
                )
                await ws.close()
                return None
            if kind == "channel":
                await ws.send_str(json.dumps({"type": "subscribe", "system_id": system}))
        except (aiohttp.ClientError, OSError, TimeoutError, RuntimeError) as err:
            self.events.write({"t": now(), "ev": "handshake_failed", **base, "error": _short(err)})
            with contextlib.suppress(Exception):
                await ws.close()
            return None
        return ws

    async def authenticate(self, ws: aiohttp.ClientWebSocketResponse, token: str) -> bool:
        async with asyncio.timeout(AUTH_TIMEOUT):
            first = await ws.receive()
            if first.type is not aiohttp.WSMsgType.TEXT or "auth_required" not in first.data:
                return False
            await ws.send_str(json.dumps({"type": "auth", "access_token": token}))
            answer = await ws.receive()
        return answer.type is aiohttp.WSMsgType.TEXT and '"auth_ok"' in answer.data

    async def receive(self, cid: int, ws: aiohttp.ClientWebSocketResponse) -> str | None:
        last_rx = self.last_rx
        try:
            while True:
                msg = await ws.receive()
                kind = msg.type
                if kind is aiohttp.WSMsgType.TEXT:
                    self.msgs += 1
                    data = msg.data
                    self.bytes += len(data)
                    last_rx[cid] = time.monotonic()
                    if '"type":"error"' in data:
                        self.errors += 1
                        if len(self.error_samples) < 20:
                            self.error_samples.append(data[:300])
                elif kind is aiohttp.WSMsgType.ERROR:
                    return _short(ws.exception() or msg.data)
                elif kind in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                ):
                    return None if msg.extra is None else str(msg.extra)[:200]
        except (aiohttp.ClientError, OSError) as err:
            return _short(err)
        finally:
            last_rx.pop(cid, None)

    async def ping_loop(self) -> None:
        """Each connected channel client sends a ``ping`` about every 30 s."""
        tick = 1.0
        while True:
            await asyncio.sleep(tick)
            share = tick / PING_EVERY
            for cid, ws in list(self.connected.items()):
                if self.kind[cid] == "channel" and self.rng.random() < share:
                    with contextlib.suppress(Exception):
                        await ws.send_str('{"type":"ping"}')

    async def report_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.report()

    def report(self, *, final: bool = False) -> None:
        mono = time.monotonic()
        stalled = sum(
            1
            for cid, seen in self.last_rx.items()
            if self.kind[cid] == "monitoring" and mono - seen > STALL_AFTER
        )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        record: dict[str, Any] = {
            "t": now(),
            "connected": len(self.connected),
            "monitoring": sum(1 for c in self.connected if self.kind[c] == "monitoring"),
            "msgs": self.msgs,
            "bytes": self.bytes,
            "errors": self.errors,
            "disconnects": self.disconnects,
            "connect_failures": self.connect_failures,
            "reconnects": self.reconnects,
            "stalled": stalled,
            "cpu": usage.ru_utime + usage.ru_stime,
        }
        if final:
            record["final"] = True
            record["error_samples"] = self.error_samples
        self.stats_out.write(record)


def _backoff(attempt: int, rng: random.Random) -> float:
    """Seed 000's reconnect (docs/protocols/app-seeds.md#seed-000), with jitter."""
    return min(5.0, 1.0 * 1.5 ** max(0, attempt - 1)) * rng.uniform(0.8, 1.2)


def _short(value: object) -> str:
    return (
        f"{type(value).__name__}: {value}"[:200]
        if isinstance(value, BaseException)
        else str(value)[:200]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--ha-token", default="")
    parser.add_argument("--systems", required=True)
    parser.add_argument("--monitoring", type=int, default=2000)
    parser.add_argument("--channel", type=int, default=1000)
    parser.add_argument("--ha-clients", type=int, default=0)
    parser.add_argument("--per-address", type=int, default=500)
    parser.add_argument("--ramp", type=float, default=300.0, help="new clients per second")
    parser.add_argument("--events", required=True)
    parser.add_argument("--stats", required=True)
    parser.add_argument("--until", type=float, required=True, help="epoch seconds to stop at")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.ha_token:
        args.ha_clients = 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.monitoring + args.channel + 1024
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    from pathlib import Path

    args.events = Path(args.events)
    args.stats = Path(args.stats)
    load = Load(args)

    async def main_async() -> None:
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        assert main_task is not None

        def stop() -> None:
            load.stopping = True

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop)
        loop.call_later(max(0.0, args.until - now()), stop)
        await load.run()

    asyncio.run(main_async())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The fake devices as one process, with a control port for their fault knobs.

``python -m bench.soak.fakes --winet-port W --alphaess-port A --control-port C``
runs :class:`FakeWinet` (plain HTTP + WS) and :class:`FakeAlphaEss` (Modbus
TCP, unit 85) from ``sunstream_fakes/`` on loopback, exactly as
``scripts/develop --fakes`` does, plus a JSON-lines control server on
``C``: one request object per line, one answer per line.

* ``{"op": "set", "fake": "winet", "attrs": {"stall": 2}}`` — a field of
  ``FakeWinet.faults``; for ``alphaess`` an attribute of the fake
  (``silent``, ``delay``, ``illegal``, ``exception``, ``ignore_dispatch``);
* ``{"op": "call", "fake": …, "method": …, "args": [...]}`` — one of the
  runtime controls listed in :data:`CALLS`, plus ``squat`` (another Modbus
  client takes the unit for N seconds) and ``restore_device``;
* ``{"op": "stats"}`` — counters of both fakes.

The fakes are test equipment shipped with the integration; this module only
drives them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import logging
import signal
import sys
from typing import Any

from pymodbus.constants import ExcCodes

from sunstream_fakes.alphaess_fake import FakeAlphaEss
from sunstream_fakes.winet_fake import FakeWinet

_LOGGER = logging.getLogger("soak.fakes")

WINET_CALLS = frozenset(
    {"expire_tokens", "drop_all", "push_notice", "set_link", "remove_device", "set_value"}
)
ALPHAESS_CALLS = frozenset({"drop_link", "set_link_down"})
ALPHAESS_ATTRS = frozenset({"silent", "delay", "illegal", "exception", "ignore_dispatch"})


class Fakes:
    """Both fakes and what the control port may do to them."""

    def __init__(self, winet: FakeWinet, alphaess: FakeAlphaEss) -> None:
        self.winet = winet
        self.alphaess = alphaess
        self._removed: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._squatters: set[asyncio.Task[None]] = set()

    async def handle(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        if op == "stats":
            return self.stats()
        if op == "devices":
            return self.winet.devices
        fake = request.get("fake")
        if op == "get":
            target = self.winet.faults if fake == "winet" else self.alphaess
            value = getattr(target, str(request.get("name")))
            return sorted(value) if isinstance(value, set) else value
        if op == "set":
            attrs = request.get("attrs") or {}
            for name, value in attrs.items():
                self._set(fake, name, value)
            return {"set": sorted(attrs)}
        if op == "call":
            return await self._call(fake, request.get("method"), request.get("args") or [])
        raise ValueError(f"unknown op {op!r}")

    def _set(self, fake: Any, name: str, value: Any) -> None:
        if fake == "winet":
            if not hasattr(self.winet.faults, name):
                raise ValueError(f"WiNet has no fault knob {name!r}")
            setattr(self.winet.faults, name, value)
        elif fake == "alphaess":
            if name not in ALPHAESS_ATTRS:
                raise ValueError(f"AlphaESS has no knob {name!r}")
            if name == "illegal":
                value = set(value)
            elif name == "exception" and value is not None:
                value = ExcCodes(int(value))
            setattr(self.alphaess, name, value)
        else:
            raise ValueError(f"unknown fake {fake!r}")

    async def _call(self, fake: Any, method: Any, args: list[Any]) -> Any:
        if fake == "winet" and method == "restore_device":
            return self._restore(int(args[0]))
        if fake == "winet" and method == "remove_device":
            dev_id = int(args[0])
            entry = next(d for d in self.winet.devices if d["dev_id"] == dev_id)
            self._removed[dev_id] = (copy.deepcopy(entry), self.winet.data[str(dev_id)])
        if fake == "winet" and method == "push_notice":
            await self.winet.push_notice(close=bool(args[0]) if args else False)
            return None
        if fake == "alphaess" and method == "squat":
            return await self._squat(float(args[0]))
        allowed = WINET_CALLS if fake == "winet" else ALPHAESS_CALLS if fake == "alphaess" else ()
        if method not in allowed:
            raise ValueError(f"{fake!r} has no control {method!r}")
        target = self.winet if fake == "winet" else self.alphaess
        result = getattr(target, method)(*args)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    def _restore(self, dev_id: int) -> bool:
        saved = self._removed.pop(dev_id, None)
        if saved is None:
            return False
        if all(d["dev_id"] != dev_id for d in self.winet.devices):
            self.winet.add_device(*saved)
        return True

    async def _squat(self, seconds: float) -> dict[str, Any]:
        """Another Modbus client takes the unit: drop the current one and hold the slot."""
        fake = self.alphaess
        fake.drop_link()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        # pymodbus forgets the dropped client a moment later; no event says when.
        while fake.handlers and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        _reader, writer = await asyncio.open_connection(fake.host, fake.port)

        async def hold() -> None:
            try:
                await asyncio.sleep(seconds)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

        task = asyncio.create_task(hold())
        self._squatters.add(task)
        task.add_done_callback(self._squatters.discard)
        return {"refusals_before": fake.refusals}

    def stats(self) -> dict[str, Any]:
        w, a = self.winet, self.alphaess
        return {
            "winet": {
                "connections": w.connection_count,
                "logins": w.logins,
                "requests": sum(w.requests.values()),
                "open": len(w.connections),
            },
            "alphaess": {
                "connections": a.connections,
                "refusals": a.refusals,
                "requests": len(a.requests),
                "clients": len(a.handlers),
            },
        }


async def _serve(args: argparse.Namespace) -> None:
    winet = FakeWinet(args.fixture, host="127.0.0.1", plain=True, plain_port=args.winet_port)
    alphaess = FakeAlphaEss(host="127.0.0.1", port=args.alphaess_port, model=args.model)
    fakes = Fakes(winet, alphaess)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    answer = {"ok": True, "result": await fakes.handle(json.loads(line))}
                except Exception as err:  # an answer, not a crash: the caller logs it
                    answer = {"ok": False, "error": f"{type(err).__name__}: {err}"}
                writer.write((json.dumps(answer, default=str) + "\n").encode())
                await writer.drain()
        finally:
            writer.close()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with winet:
        await alphaess.start()
        control = await asyncio.start_server(client, "127.0.0.1", args.control_port)
        print(
            json.dumps(
                {
                    "ready": True,
                    "winet_port": winet.ports.http,
                    "alphaess_port": alphaess.port,
                    "control_port": args.control_port,
                    "winet_devices": [d["dev_id"] for d in winet.devices],
                }
            ),
            flush=True,
        )
        await stop.wait()
        control.close()
        await alphaess.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--winet-port", type=int, required=True)
    parser.add_argument("--alphaess-port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--fixture", default="sh10rt")
    parser.add_argument("--model", default="standard")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())

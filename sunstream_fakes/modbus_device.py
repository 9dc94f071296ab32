"""What every fake Modbus TCP device shares: a real pymodbus server and the connection quirks.

A device fake (``alphaess_fake.py``, ``sungrow_fake.py``) subclasses
:class:`FakeModbusDevice`, says which register blocks it serves
(:meth:`FakeModbusDevice.simdata`) and answers requests in
:meth:`FakeModbusDevice.action`. This base gives it, the same for every
device:

* one TCP client at a time: a second one is closed at once (``"close"``)
  or accepted and never answered (``"silent"``), see :attr:`refuse_style`
  (docs/protocols/alphaess.md#one-client-at-a-time,
  docs/protocols/sungrow-modbus.md#one-client-at-a-time);
* fault knobs, changeable at run time: :attr:`silent` (no answers),
  :attr:`delay` (slow answers), :meth:`drop_link` (TCP reset of the
  current client), :meth:`set_link_down` (stop listening: connects are
  refused);
* every request logged in :attr:`requests` so tests can count them;
* the clock of a running model (:meth:`elapsed`, ``speed`` times faster
  than real time), the battery's state of charge (:meth:`charge`) and
  lifetime counters that only count up (:meth:`count_energy`), over the
  device's :meth:`get` / :meth:`set` of raw register values.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass
import time
from typing import Self, cast

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import SimData, SimDevice

from custom_components.sunstream.pysunstream.modbus.endpoint import listen


@dataclass(frozen=True, slots=True)
class Request:
    """One request the fake received (answered or not)."""

    function_code: int
    address: int
    count: int
    at: float


class _Handler(ServerRequestHandler):
    """One client connection; applies the connection-level knobs."""

    fake: FakeModbusDevice
    refused: bool = False

    def callback_connected(self) -> None:
        super().callback_connected()
        fake = self.fake
        if fake.one_client and any(not h.refused for h in fake.handlers):
            fake.refusals += 1
            if fake.refuse_style == "close":
                self.refused = True
                cast(asyncio.Transport, self.transport).abort()
                return
            self.refused = True
        fake.handlers.append(self)
        fake.connections += 1

    def callback_disconnected(self, exc: Exception | None) -> None:
        super().callback_disconnected(exc)
        if self in self.fake.handlers:
            self.fake.handlers.remove(self)

    async def handle_request(self) -> None:
        pdu = self.last_pdu
        if pdu is None:
            return
        fake = self.fake
        count = len(pdu.registers) if pdu.function_code in (6, 16) else pdu.count
        request = Request(pdu.function_code, pdu.address, count, time.monotonic())
        previous = fake.requests[-1] if fake.requests else None
        fake.requests.append(request)
        if self.refused or fake.silent or fake.ignores(pdu, request, previous):
            return
        if fake.delay:
            await asyncio.sleep(fake.delay)
        await super().handle_request()  # type: ignore[no-untyped-call]


class _Server(ModbusTcpServer):
    fake: FakeModbusDevice

    def callback_new_connection(self) -> _Handler:
        handler = _Handler(self, self.trace_packet, self.trace_pdu, self.trace_connect)  # type: ignore[no-untyped-call]
        handler.fake = self.fake
        return handler


class FakeModbusDevice:
    """A device listening on ``host:port`` (port 0 picks a free one) for unit ``unit``."""

    def __init__(
        self,
        *,
        unit: int,
        host: str = "127.0.0.1",
        port: int = 0,
        one_client: bool = True,
        refuse_style: str = "close",
        speed: float = 1.0,
    ) -> None:
        self.unit = unit
        self.speed = speed
        self.host = host
        self.port = port
        self.one_client = one_client
        self.refuse_style = refuse_style
        self.silent = False
        self.delay = 0.0
        self.requests: list[Request] = []
        self.handlers: list[_Handler] = []
        self.connections = 0
        self.refusals = 0
        self._server: _Server | None = None
        self._last_step = time.monotonic()
        self._fractions: dict[str, float] = {}

    # --- what a device says --------------------------------------------------

    def simdata(self) -> list[SimData] | tuple[list[SimData], ...]:
        """The register blocks pymodbus serves (shared, or per table)."""
        raise NotImplementedError

    async def action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Answer one request: fill ``registers`` or return an exception code."""
        raise NotImplementedError

    def ignores(self, pdu: ModbusPDU, request: Request, previous: Request | None) -> bool:
        """Whether the device leaves this request unanswered (a model quirk)."""
        return False

    def started(self) -> None:
        """The device's clock starts when it listens."""
        self._last_step = time.monotonic()

    def get(self, key: str) -> int:
        """A numeric register's raw value, by the key of the device's map."""
        raise NotImplementedError

    def set(self, key: str, raw: int | str) -> None:
        """Store a raw value for a register of the device's map."""
        raise NotImplementedError

    # --- the running model -----------------------------------------------------

    @property
    def soc(self) -> float:
        """State of charge in percent (``battery_soc`` is 0.1 % on every device)."""
        return self.get("battery_soc") / 10

    def elapsed(self, now: float | None) -> tuple[float, float]:
        """``now`` (monotonic, default the present) and the model seconds since the last step."""
        now = time.monotonic() if now is None else now
        seconds = (now - self._last_step) * self.speed
        self._last_step = now
        return now, seconds

    def charge(
        self, battery: float, hours: float, capacity_kwh: float, floor: float, ceiling: float
    ) -> None:
        """Move the SOC by ``battery`` W (+ discharge) for ``hours``, stopping at floor/ceiling.

        A coarse step must not carry the charge past where the device stops.
        """
        soc = self.soc - battery * hours / 1000 / capacity_kwh * 100
        if battery > 0:
            soc = max(soc, min(floor, self.soc))
        elif battery < 0:
            soc = min(soc, max(ceiling, self.soc))
        self.set("battery_soc", round(max(0.0, min(100.0, soc)) * 10))

    def count_energy(self, key: str, kwh: float, scale: float) -> None:
        """Add ``kwh`` to the counter ``key`` (``scale`` kWh per step), keeping the fraction."""
        total = self._fractions.get(key, 0.0) + kwh / scale
        whole = int(total)
        self._fractions[key] = total - whole
        if whole:
            self.set(key, self.get(key) + whole)

    # --- the pymodbus side ---------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host:port``; a port of 0 becomes the free port chosen."""
        device = SimDevice(self.unit, simdata=self.simdata(), action=self.action)  # type: ignore[arg-type]
        server = _Server(device, address=(self.host, self.port))
        server.fake = self
        self.started()
        self.port = await listen(server, self.host, self.port)
        self._server = server

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._server is not None:
            for handler in list(self.handlers):
                cast(asyncio.Transport, handler.transport).abort()
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None
            await asyncio.sleep(0)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # --- knobs ---------------------------------------------------------------

    def drop_link(self) -> None:
        """Reset the TCP connection of every client (the device rebooted, a cable glitch)."""
        for handler in list(self.handlers):
            cast(asyncio.Transport, handler.transport).abort()

    async def set_link_down(self, down: bool) -> None:
        """Stop listening and drop clients (connects refused), or listen again on the same port."""
        if down:
            await self.stop()
        elif self._server is None:
            await self.start()

    def reset_counters(self) -> None:
        """Forget the logged requests."""
        self.requests.clear()


def command_line(doc: str | None, port: int) -> argparse.ArgumentParser:
    """The options every fake's command line has (``--host``, ``--port``, ``--speed``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--speed", type=float, default=1.0)
    return parser


def serve(fake: FakeModbusDevice, banner: str) -> None:
    """Run ``fake`` until interrupted, saying where it listens."""

    async def run() -> None:
        await fake.start()
        print(f"{banner} on {fake.host}:{fake.port}, unit {fake.unit}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await fake.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())

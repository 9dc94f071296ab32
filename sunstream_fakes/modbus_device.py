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
* every request logged in :attr:`requests` so tests can count them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import time
from typing import Self, cast

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import SimData, SimDevice


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
    ) -> None:
        self.unit = unit
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
        """Called once the server listens (reset the device's clock here)."""

    # --- the pymodbus side ---------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host:port``; a port of 0 becomes the free port chosen."""
        device = SimDevice(self.unit, simdata=self.simdata(), action=self.action)  # type: ignore[arg-type]
        server = _Server(device, address=(self.host, self.port))
        server.fake = self
        self.started()
        await server.serve_forever(background=True)
        listener = cast(asyncio.Server, server.transport)
        self.port = listener.sockets[0].getsockname()[1]
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

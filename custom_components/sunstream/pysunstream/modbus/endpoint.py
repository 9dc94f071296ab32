"""One Modbus connection, shared: a Modbus TCP endpoint in front of Sunstream's own session.

AlphaESS units and Sungrow WiNet-S dongles serve one Modbus TCP client at a
time (docs/protocols/alphaess.md#one-client-at-a-time,
docs/protocols/sungrow-modbus.md#one-client-at-a-time). Sunstream holds that
client; :class:`SharedEndpoint` lets other tools (evcc, a second
integration, a maker's tool) talk to the device through it, so the device
still sees exactly one client and its documented spacing:

* **reads** (FC03, FC04) are answered from the words Sunstream's own polls
  read (:attr:`..modbus.client.ModbusClient.cache`) when every word asked
  for is at most :attr:`EndpointPolicy.max_age` seconds old, and otherwise
  forwarded through Sunstream's session, in its request schedule (the same
  lock and spacing as its polls);
* **writes** (FC06, FC16) are forwarded only when every register written
  lies in :attr:`EndpointPolicy.writable` (default: none, read-only), and
  logged; any other write gets exception 2 (illegal data address);
* a request for another unit id gets exception 0x0B (gateway target did
  not respond: nothing is behind the endpoint on that id); a count out of the
  Modbus limits gets pymodbus's own exception; a device failure behind a
  forwarded request is passed on as its exception code (0x04 for a code
  Modbus does not define), or 0x0B when the device did not answer;
* forwarded requests are limited to :attr:`EndpointPolicy.forwards_per_second`
  for all clients together, so a flood cannot crowd out Sunstream's own
  polls: beyond it a request gets exception 6 (device busy).

Only loopback or the user's chosen address is listened on; nothing here
starts by itself.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
import logging
import time
from typing import cast

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ..errors import SourceUnavailable
from .client import ModbusClient, WriteCode
from .errors import ModbusError
from .registers import Table

_LOGGER = logging.getLogger(__name__)

#: Every address a table has; the endpoint decides per request what answers.
_ALL = SimData(0, count=0x10000, values=0, datatype=DataType.REGISTERS)
_NO_BITS = SimData(0, values=False, datatype=DataType.BITS)
_WRITES = frozenset({6, 16})


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointPolicy:
    """What the shared endpoint lets other clients do."""

    #: Holding-register ranges (both ends inclusive) other clients may write.
    writable: tuple[tuple[int, int], ...] = ()
    #: How old a polled word may be and still answer a read, in seconds.
    max_age: float = 5.0
    #: Requests forwarded to the device per second, for all clients together.
    forwards_per_second: float = 2.0

    def may_write(self, first: int, last: int) -> bool:
        """Whether every register ``first..last`` lies in one writable range."""
        return any(lo <= first and last <= hi for lo, hi in self.writable)


#: Forwarded writes kept in :attr:`EndpointStats.recent_writes`: the endpoint
#: runs for months, so only the latest are kept (``written`` counts them all).
RECENT_WRITES = 20


@dataclass(slots=True)
class EndpointStats:
    """Counters for diagnostics and tests."""

    from_cache: int = 0
    forwarded: int = 0
    refused: int = 0
    written: int = 0
    recent_writes: deque[tuple[int, tuple[int, ...]]] = field(
        default_factory=lambda: deque(maxlen=RECENT_WRITES)
    )


class SharedEndpoint:
    """A Modbus TCP server on ``host:port`` answering for ``client``'s device."""

    def __init__(
        self,
        client: ModbusClient,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        policy: EndpointPolicy | None = None,
    ) -> None:
        self.client = client
        self.host = host
        self.port = port
        self.policy = policy or EndpointPolicy()
        self.stats = EndpointStats()
        self._server: ModbusTcpServer | None = None
        self._window_start = 0.0
        self._window_count = 0.0

    async def start(self) -> None:
        """Listen; a port of 0 becomes the free port chosen.

        Raises :class:`OSError` when the address cannot be listened on (a port
        in use).
        """
        tables = ([_NO_BITS], [_NO_BITS], [_ALL], [_ALL])
        devices = [
            SimDevice(self.client.unit, simdata=tables, action=self._answer),
            # Every other unit id (0: "all devices not defined"): nothing behind us.
            SimDevice(0, simdata=tables, action=_no_such_unit),
        ]
        server = ModbusTcpServer(devices, address=(self.host, self.port))
        self.port = await listen(server, self.host, self.port)
        self._server = server

    async def stop(self) -> None:
        """Stop listening and drop every client."""
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    # --- one request -------------------------------------------------------

    async def _answer(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if values is not None:
            return await self._write(address, [int(v) for v in values], function_code)
        if function_code in _WRITES:
            # pymodbus reads a write's registers back to echo them: they hold
            # the words just forwarded, nothing to ask the device.
            return None
        table = Table.INPUT if function_code == 4 else Table.HOLDING
        words = self.client.cached(table, address, count, self.policy.max_age)
        if words is None:
            if not self._may_forward():
                self.stats.refused += 1
                return ExcCodes.DEVICE_BUSY
            try:
                words = await self.client.read(address, count, table)
            except ModbusError as err:
                return passed_on(err.exception_code)
            except SourceUnavailable:
                return ExcCodes.GATEWAY_NO_RESPONSE
            self.stats.forwarded += 1
        else:
            self.stats.from_cache += 1
        offset = address - start_address
        registers[offset : offset + count] = words
        return None

    async def _write(self, address: int, words: list[int], function_code: int) -> ExcCodes | None:
        last = address + len(words) - 1
        if not self.policy.may_write(address, last):
            self.stats.refused += 1
            _LOGGER.warning(
                "Refused a write through the shared Modbus endpoint to %s..%s: not allowed",
                address,
                last,
            )
            return ExcCodes.ILLEGAL_ADDRESS
        if not self._may_forward():
            self.stats.refused += 1
            return ExcCodes.DEVICE_BUSY
        code = WriteCode.FC06 if function_code == 6 else WriteCode.FC16
        try:
            await self.client.write(address, words, code)
        except ModbusError as err:
            return passed_on(err.exception_code)
        except SourceUnavailable:
            return ExcCodes.GATEWAY_NO_RESPONSE
        self.stats.forwarded += 1
        self.stats.written += 1
        self.stats.recent_writes.append((address, tuple(words)))
        _LOGGER.info(
            "Forwarded a write through the shared Modbus endpoint: %s = %s", address, words
        )
        return None

    def _may_forward(self) -> bool:
        """A one-second window shared by every client of the endpoint."""
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            self._window_start = now
            self._window_count = 0
        if self._window_count >= self.policy.forwards_per_second:
            return False
        self._window_count += 1
        return True


def passed_on(exception_code: int) -> ExcCodes:
    """The exception the endpoint answers for the device's ``exception_code``.

    The device's own code when Modbus defines it; a code outside the
    standard (some firmware sends its own) becomes 0x04, device failure,
    which is what it says: the device could not carry the request out.
    """
    try:
        return ExcCodes(exception_code)
    except ValueError:
        return ExcCodes.DEVICE_FAILURE


async def _no_such_unit(*_request: object) -> ExcCodes:
    # Whatever the request: no device answers for this unit id.
    return ExcCodes.GATEWAY_NO_RESPONSE


async def listen(server: ModbusTcpServer, host: str, port: int) -> int:
    """Start ``server`` in the background; the port it listens on (0 picks one).

    Raises :class:`OSError` when ``host:port`` cannot be listened on.
    """
    try:
        await server.serve_forever(background=True)
    except RuntimeError as err:  # pymodbus's "Could not start listen"
        raise OSError(f"cannot listen on {host}:{port}") from err
    listener = cast(asyncio.Server, server.transport)
    return int(listener.sockets[0].getsockname()[1])

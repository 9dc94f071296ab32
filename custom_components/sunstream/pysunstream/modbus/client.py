"""One persistent Modbus TCP session to a device: the only I/O layer of a Modbus source.

Thin on purpose: it reads and writes words, keeps the device's command
spacing, classifies failures and spaces reconnects. What the words mean is
decided by the device package (its registers, decoder and dispatch).

Why one persistent connection: AlphaESS units and Sungrow WiNet-S dongles
serve one TCP client at a time, so opening a connection per poll races every
other client for the slot (docs/protocols/alphaess.md#one-client-at-a-time,
docs/protocols/sungrow-modbus.md#one-client-at-a-time). Why spacing: the
AlphaESS document asks for "command interval > 100 ms" on TCP
(docs/protocols/alphaess.md#transport) and a WiNet-S needs about as much
(docs/protocols/sungrow-modbus.md#limits); the gap is measured from the end
of one exchange to the start of the next.

pymodbus's own reconnect loop is switched off (``reconnect_delay=0``, as
another integration does) and retries are 0: a failed exchange tears the
socket down and the next request reconnects, spaced by
:class:`..backoff.Backoff`, so the caller sees each failure with its own
reason instead of a silent retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
import time
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from ..backoff import Backoff
from ..errors import Reason, SourceUnavailable
from ..model import Value
from .decode import Decoding, decode_block
from .errors import (
    CLOSED_AFTER_CONNECT,
    CONNECT_REFUSED,
    SILENT_AFTER_CONNECT,
    ModbusError,
    UnitBusy,
)
from .planner import ReadBlock
from .registers import Table

DEFAULT_PORT = 502
#: The exception a device answers for an address it lacks
#: (docs/protocols/alphaess.md#block-reads).
ILLEGAL_ADDRESS = 2
DEFAULT_TIMEOUT = 5.0
DEFAULT_SPACING = 0.1
#: A unit that dropped us usually answers again within seconds (a reboot,
#: another client letting go), so retry sooner and cap lower than WiNet.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
# Time a unit needs to notice a closed session and free its slot.
CLOSE_GRACE = 0.2


@dataclass(slots=True)
class ClientStats:
    """Counters for diagnostics and tests (requests include failed ones)."""

    requests: int = 0
    connects: int = 0
    connect_attempts: int = 0


class WriteCode(StrEnum):
    """Which Modbus function writes a single register.

    "Many AlphaESS inverters reject FC16 for individual registers with
    exception code 2", so single registers use FC06; the SMILE-B3 never
    answers FC06, so it needs FC16 throughout
    (docs/protocols/alphaess.md#function-codes).
    """

    FC06 = "fc06"
    FC16 = "fc16"


class ModbusClient:
    """Reads and writes registers on one device, one request at a time.

    Raises :class:`~..errors.SourceUnavailable` (see :mod:`.errors` for the
    reasons) on any failure. A Modbus exception reply raises
    :class:`.errors.ModbusError` and keeps the session, since the unit is
    there and answering.
    """

    def __init__(
        self,
        host: str,
        port: int,
        unit: int,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        spacing: float = DEFAULT_SPACING,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.port = port
        self.unit = unit
        self.timeout = timeout
        self.spacing = spacing
        self.backoff = backoff or Backoff(base=BACKOFF_BASE, cap=BACKOFF_CAP)
        self.stats = ClientStats()
        self._clock = clock
        self._client: AsyncModbusTcpClient | None = None
        self._lost = asyncio.Event()
        self._answered = False
        self._last_done = -float("inf")
        self._last_error: SourceUnavailable | None = None
        self._retry_at = -float("inf")
        self._lock = asyncio.Lock()
        # Every word read, and when: what a shared endpoint answers from.
        self._cache: dict[Table, dict[int, tuple[int, float]]] = {t: {} for t in Table}

    @property
    def connected(self) -> bool:
        """Whether a session is open (it may still turn out refused)."""
        return self._client is not None and self._client.connected

    async def read(self, address: int, count: int, table: Table = Table.HOLDING) -> list[int]:
        """FC03 (holding) or FC04 (input): ``count`` registers from ``address``."""
        if table is Table.INPUT:
            code = 4
            response = await self._exchange(
                code,
                address,
                lambda c: c.read_input_registers(address, count=count, device_id=self.unit),
            )
        else:
            code = 3
            response = await self._exchange(
                code,
                address,
                lambda c: c.read_holding_registers(address, count=count, device_id=self.unit),
            )
        if len(response.registers) != count:
            raise SourceUnavailable(
                Reason.PROTOCOL,
                f"FC{code:02d} at {address}: asked {count} words, got {len(response.registers)}",
            )
        words = list(response.registers)
        at = self._clock()
        cache = self._cache[table]
        for offset, word in enumerate(words):
            cache[address + offset] = (word, at)
        return words

    def cached(self, table: Table, address: int, count: int, max_age: float) -> list[int] | None:
        """The words last read at ``address..``, if all were read within ``max_age`` seconds."""
        cache = self._cache[table]
        oldest = self._clock() - max_age
        words: list[int] = []
        for a in range(address, address + count):
            entry = cache.get(a)
            if entry is None or entry[1] < oldest:
                return None
            words.append(entry[0])
        return words

    async def write(self, address: int, words: Sequence[int], single: WriteCode) -> None:
        """Write ``words`` at ``address``: FC06 for one word when ``single`` says so, else FC16."""
        values = list(words)
        for offset in range(len(values)):
            # What was read there is no longer what the device holds.
            self._cache[Table.HOLDING].pop(address + offset, None)
        if len(values) == 1 and single is WriteCode.FC06:
            await self._exchange(
                6, address, lambda c: c.write_register(address, values[0], device_id=self.unit)
            )
        else:
            await self._exchange(
                16, address, lambda c: c.write_registers(address, values, device_id=self.unit)
            )

    async def close(self) -> None:
        """Close the session; the next request reconnects.

        A unit frees its single Modbus slot only once it has seen the
        connection close: a reload that reconnects at once would be refused
        as "busy" by our own departing session, so give the close a moment.
        """
        async with self._lock:
            was_open = self._client is not None
            self._drop()
            if was_open:
                await asyncio.sleep(CLOSE_GRACE)

    # --- connection ------------------------------------------------------

    async def _connect(self) -> None:
        now = self._clock()
        if now < self._retry_at:
            raise self._again(self._retry_at - now)
        self.stats.connect_attempts += 1
        self._lost = asyncio.Event()
        lost = self._lost
        client = AsyncModbusTcpClient(
            self.host,
            port=self.port,
            timeout=self.timeout,
            retries=0,
            reconnect_delay=0,
            trace_connect=lambda up: None if up else lost.set(),
        )
        errors = _record_connect_errors(client)
        try:
            ok = await client.connect()
        except OSError as exc:  # pragma: no cover - pymodbus catches these itself
            errors.append(exc)
            ok = False
        if not ok:
            client.close()
            err = errors[0] if errors else None
            if isinstance(err, ConnectionRefusedError):
                raise self._fail(
                    UnitBusy(CONNECT_REFUSED, f"{self.host}:{self.port} refused the connection")
                )
            raise self._fail(
                SourceUnavailable(
                    Reason.UNREACHABLE, f"{self.host}:{self.port}: {err or 'connect timed out'}"
                )
            )
        if not client.connected or lost.is_set():
            client.close()
            raise self._fail(
                UnitBusy(
                    CLOSED_AFTER_CONNECT, f"{self.host}:{self.port} closed the connection at once"
                )
            )
        self._client = client
        self._answered = False
        self.stats.connects += 1

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _fail(self, err: SourceUnavailable) -> SourceUnavailable:
        self._drop()
        self._retry_at = self._clock() + self.backoff.next_delay()
        self._last_error = err
        return err

    def _hung(self) -> bool:
        """Whether the last failure was a session that stopped answering."""
        return self._last_error is not None and self._last_error.reason == Reason.TIMEOUT

    def _again(self, wait: float) -> SourceUnavailable:
        last = self._last_error or SourceUnavailable(Reason.UNREACHABLE, "not connected")
        detail = f"{last.detail} (next attempt in {wait:.1f} s)"
        if isinstance(last, UnitBusy):
            return UnitBusy(last.signature, detail)
        return SourceUnavailable(last.reason, detail)

    # --- one exchange ----------------------------------------------------

    async def _exchange(
        self,
        function_code: int,
        address: int,
        call: Callable[[AsyncModbusTcpClient], Awaitable[ModbusPDU]],
    ) -> ModbusPDU:
        async with self._lock:
            if not self.connected:
                self._drop()
                await self._connect()
            client = self._client
            assert client is not None
            wait = self._last_done + self.spacing - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            self.stats.requests += 1
            response = await self._send(client, call)
            self._last_done = self._clock()
            if response is None:
                link_lost = self._lost.is_set() or not client.connected
                what = f"FC{function_code:02d} at 0x{address:04X}"
                if not self._answered and not link_lost and self._hung():
                    # Silent since the last session timed out: the unit hangs;
                    # calling it "held by another client" would mislead.
                    raise self._fail(
                        SourceUnavailable(
                            Reason.TIMEOUT, f"{what}: still no answer in {self.timeout} s"
                        )
                    )
                if not self._answered:
                    signature = CLOSED_AFTER_CONNECT if link_lost else SILENT_AFTER_CONNECT
                    raise self._fail(
                        UnitBusy(
                            signature,
                            f"{what}: the unit accepted the connection but did not serve it",
                        )
                    )
                if link_lost:
                    raise self._fail(
                        SourceUnavailable(Reason.DISCONNECTED, f"{what}: connection lost")
                    )
                raise self._fail(
                    SourceUnavailable(Reason.TIMEOUT, f"{what}: no answer in {self.timeout} s")
                )
            self._answered = True
            self._last_error = None
            self.backoff.reset()
            self._retry_at = -float("inf")
            if response.isError():
                raise ModbusError(function_code, address, response.exception_code)
            return response

    async def _send(
        self,
        client: AsyncModbusTcpClient,
        call: Callable[[AsyncModbusTcpClient], Awaitable[ModbusPDU]],
    ) -> ModbusPDU | None:
        """The answer, or ``None`` when none came (timeout or link lost)."""

        async def request() -> ModbusPDU:
            return await call(client)

        task = asyncio.ensure_future(request())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait(
                {task, lost}, timeout=self.timeout + 1, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            lost.cancel()
        if task in done and task.exception() is None:
            return task.result()
        task.cancel()
        with suppress(ModbusException, asyncio.CancelledError):
            await task
        return None


def _record_connect_errors(client: AsyncModbusTcpClient) -> list[OSError]:
    """Keep the OSError pymodbus swallows on connect, to tell refused from unreachable.

    pymodbus 3.13 ``connect()`` only returns ``False``; the errno is what
    separates "nothing listens / slot taken" (ECONNREFUSED) from a host
    that does not answer. Wraps the transport's connection factory.
    """
    errors: list[OSError] = []
    ctx = client.ctx
    create: Callable[[], Coroutine[Any, Any, Any]] = ctx.call_create

    async def recording() -> Any:
        try:
            return await create()
        except OSError as err:
            errors.append(err)
            raise

    ctx.call_create = recording
    return errors


async def read_block(
    client: ModbusClient,
    block: ReadBlock,
    profile: Decoding,
    unsupported: set[str],
    table: Table = Table.HOLDING,
) -> tuple[dict[str, Value], bool]:
    """Read and decode ``block``; also whether it had to be split.

    A block answered with exception 2 touches a register the device lacks,
    and fails as a whole: it is read again register by register, once, the
    keys that still fail go into ``unsupported`` and what answered is kept.
    The caller re-plans when the block was split, so the next poll skips the
    missing registers. Any other failure propagates.
    """
    try:
        words = await client.read(block.start, block.count, table)
    except ModbusError as err:
        if err.exception_code != ILLEGAL_ADDRESS:
            raise
        if len(block.registers) == 1:
            unsupported.add(block.registers[0].key)
            return {}, True
        values: dict[str, Value] = {}
        for reg in block.registers:
            single = ReadBlock(reg.address, reg.length, (reg,))
            values.update((await read_block(client, single, profile, unsupported, table))[0])
        return values, True
    return decode_block(block, words, profile), False

"""``ModbusPoller``: what to read when, and which registers a device lacks, for every Modbus source.

A Modbus source (``alphaess/source.py``, ``sungrow/source.py``) reads its
map at three cadences (:class:`.registers.Cadence`):

* identity once per connection, and again after a reconnect (the device
  may have been restarted, updated or swapped behind the same address, so
  its model and firmware quirks are read afresh);
* slow rows (settings in flash, lifetime counters) on the first poll and
  every ``slow_every`` polls;
* real-time rows on every poll.

Each cadence is read in the blocks its maker's pure planner
(:class:`RowPlanner`, usually :func:`.planner.plan_cadence`) chooses, through
:func:`.client.read_block`: a block answered with exception 2 is read again
register by register, the keys that still fail are kept in
:attr:`ModbusPoller.unsupported`, and the plans are made again without them.

What differs per maker stays with the source: its profile (scales, word
order, limits), its planner, whether the registers learned missing are
asked for again (:meth:`ModbusPoller.reprobe`) or forgotten on the next
identity read, and what it does between the reads (a dispatch lease, a
forced command to end).
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import Protocol

from ..model import Value
from .client import ILLEGAL_ADDRESS, ModbusClient, read_block
from .decode import Decoding
from .errors import ModbusError
from .planner import Plan
from .registers import Cadence, Register, Table


class RowPlanner(Protocol):
    """A maker's pure plan of one cadence and table, given the keys the device lacks."""

    def __call__(self, cadence: Cadence, table: Table, unsupported: Set[str]) -> Plan:
        """The block reads for ``cadence`` in ``table``."""
        ...


class ModbusPoller:
    """The cadence bookkeeping and planned block reads of one Modbus device.

    ``planner`` plans for the source's current profile; the source calls
    :meth:`forget_plans` when its profile changes. ``tables`` are read in
    order for each cadence.
    """

    def __init__(
        self,
        client: ModbusClient,
        planner: RowPlanner,
        *,
        tables: tuple[Table, ...],
        slow_every: int,
    ) -> None:
        self.client = client
        self.slow_every = max(1, slow_every)
        self.identity_values: dict[str, Value] = {}
        self.slow_values: dict[str, Value] = {}
        #: Keys answered with exception 2, left out of every plan.
        self.unsupported: set[str] = set()
        self._planner = planner
        self._tables = tables
        self._plans: dict[tuple[Cadence, Table], Plan] = {}
        self._polls = 0
        self._connects_seen = -1

    @property
    def identity_due(self) -> bool:
        """Whether identity is unread, or the client reconnected since it was read."""
        return self._connects_seen != self.client.stats.connects or not self.identity_values

    @property
    def slow_due(self) -> bool:
        """Whether this poll reads the slow rows (the first poll, then every ``slow_every``)."""
        return self._polls % self.slow_every == 0 or not self.slow_values

    def identified(self, values: dict[str, Value]) -> None:
        """Keep the identity just read, on the connection it was read on."""
        self.identity_values = values
        self._connects_seen = self.client.stats.connects

    def plan(self, cadence: Cadence, table: Table) -> Plan:
        """The block reads of one cadence and table (planned once, until forgotten)."""
        key = (cadence, table)
        if key not in self._plans:
            self._plans[key] = self._planner(cadence, table, self.unsupported)
        return self._plans[key]

    def forget_plans(self) -> None:
        """Plan again on the next read (the profile or the missing registers changed)."""
        self._plans.clear()

    async def read(
        self, cadence: Cadence, profile: Decoding, planner: RowPlanner | None = None
    ) -> dict[str, Value]:
        """Read one cadence's blocks of every table.

        ``planner`` replaces the source's own for this read, planned afresh
        and not kept (the identity read, before the model is known).
        """
        values: dict[str, Value] = {}
        for table in self._tables:
            plan = (
                self.plan(cadence, table)
                if planner is None
                else planner(cadence, table, self.unsupported)
            )
            for block in plan.blocks:
                read, split = await read_block(self.client, block, profile, self.unsupported, table)
                values.update(read)
                if split:
                    self._plans.clear()
        return values

    async def read_due(self, profile: Decoding) -> dict[str, Value]:
        """The slow rows when due (into :attr:`slow_values`), then the real-time rows; one poll.

        Returns the real-time values.
        """
        if self.slow_due:
            self.slow_values = await self.read(Cadence.SLOW, profile)
        values = await self.read(Cadence.REALTIME, profile)
        self._polls += 1
        return values

    async def reprobe(self, rows: Iterable[Register], table: Table = Table.HOLDING) -> None:
        """Ask again, one request each, for the ``rows`` learned missing; plan those that answer.

        ``rows`` is the device's map; an unsupported key no longer in it
        (saved by an older version) is dropped without a request.
        """
        by_key = {reg.key: reg for reg in rows}
        back: set[str] = set()
        for key in sorted(self.unsupported):
            reg = by_key.get(key)
            if reg is None:
                back.add(key)
                continue
            try:
                await self.client.read(reg.address, reg.length, table)
            except ModbusError as err:
                if err.exception_code != ILLEGAL_ADDRESS:
                    raise
                continue
            back.add(key)
        if back:
            self.unsupported -= back
            self._plans.clear()

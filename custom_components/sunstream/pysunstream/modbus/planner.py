"""Group registers into as few block reads as the device allows.

Other clients read one register per request (tens per poll) or hand-grouped
blocks (docs/protocols/alphaess.md#block-reads,
docs/protocols/sungrow-modbus.md#limits). Here the blocks follow from the
map: registers are taken in address order and a block grows to take the
next one while

* the block stays at most ``max_count`` registers (100 on an AlphaESS unit,
  the cap other clients use "to stay within inverter limits"; 38 through a
  Sungrow WiNet-S dongle), and
* the whole span, bridged gap included, lies in one range the device
  answers (:meth:`Readable.is_readable`); a block touching one unanswered
  address fails as a whole.

Registers of different tables (input, holding) never share a block: plan
each table's rows on their own.

Pure: no I/O, deterministic, cheap enough to run per poll.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass
from typing import Protocol

from .registers import Cadence, Register

MAX_REGISTERS_PER_READ = 100


class Readable(Protocol):
    """Which address spans one read may cover on a device."""

    def is_readable(self, first: int, last: int) -> bool:
        """Whether one read of ``first..last`` stays inside one answered range."""
        ...


@dataclass(frozen=True, slots=True)
class Spans:
    """Answered address ranges of one table, both ends inclusive (a :class:`Readable`)."""

    spans: tuple[tuple[int, int], ...]

    def is_readable(self, first: int, last: int) -> bool:
        """Whether one read of ``first..last`` stays inside one answered range."""
        return any(lo <= first and last <= hi for lo, hi in self.spans)


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` registers from ``start``, and what they hold."""

    start: int
    count: int
    registers: tuple[Register, ...]

    @property
    def end(self) -> int:
        """The last address read."""
        return self.start + self.count - 1


@dataclass(frozen=True, slots=True)
class Plan:
    """The blocks to read and the registers the device cannot answer."""

    blocks: tuple[ReadBlock, ...]
    skipped: tuple[Register, ...] = ()


def plan_reads(
    registers: Iterable[Register],
    readable: Readable,
    *,
    max_count: int = MAX_REGISTERS_PER_READ,
) -> Plan:
    """Plan the fewest block reads covering ``registers`` on a device.

    Greedy in address order, which is optimal here: a block can only be
    extended forward, and closing it later never costs a request.
    Registers outside every readable range are returned in ``skipped``.
    """
    blocks: list[ReadBlock] = []
    skipped: list[Register] = []
    current: list[Register] = []
    start = 0
    for reg in sorted(registers, key=lambda r: r.address):
        if reg.length > max_count or not readable.is_readable(reg.address, reg.end):
            skipped.append(reg)
            continue
        if current:
            end = max(r.end for r in current)
            if max(end, reg.end) - start + 1 <= max_count and readable.is_readable(
                start, max(end, reg.end)
            ):
                current.append(reg)
                continue
            blocks.append(_block(start, current))
        current = [reg]
        start = reg.address
    if current:
        blocks.append(_block(start, current))
    return Plan(tuple(blocks), tuple(skipped))


def _block(start: int, registers: list[Register]) -> ReadBlock:
    end = max(r.end for r in registers)
    return ReadBlock(start, end - start + 1, tuple(registers))


def without(
    ranges: Iterable[tuple[int, int]], holes: Iterable[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """``ranges`` with the ``holes`` cut out (both inclusive)."""
    result = list(ranges)
    for hole_lo, hole_hi in holes:
        cut: list[tuple[int, int]] = []
        for lo, hi in result:
            if hi < hole_lo or lo > hole_hi:
                cut.append((lo, hi))
                continue
            if lo < hole_lo:
                cut.append((lo, hole_lo - 1))
            if hi > hole_hi:
                cut.append((hole_hi + 1, hi))
        result = cut
    return tuple(result)


def plan_cadence(
    rows: Iterable[Register],
    cadence: Cadence,
    unsupported: Set[str],
    spans: Iterable[tuple[int, int]],
    *,
    max_count: int = MAX_REGISTERS_PER_READ,
) -> Plan:
    """Plan one cadence's ``rows`` of one table, leaving out the keys learned ``unsupported``.

    ``rows`` are every row of the table, whatever their cadence: a register
    the device lacks is a hole no block may bridge, even one read at another
    cadence, or the block would fail on every poll.
    """
    rows = tuple(rows)
    wanted = [r for r in rows if r.cadence is cadence and r.key not in unsupported]
    holes = [(r.address, r.end) for r in rows if r.key in unsupported]
    return plan_reads(wanted, Spans(without(spans, holes)), max_count=max_count)

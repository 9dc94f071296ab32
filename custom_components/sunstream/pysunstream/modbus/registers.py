"""One register row, the same shape for every Modbus device Sunstream reads.

A device's map (``alphaess/registers.py``, ``sungrow/registers.py``) is a
tuple of :class:`Register` rows: where a value is, which table holds it,
how its words decode, the documented scale, its unit, its sign relative to
the canonical model and the canonical :class:`~..model.Metric` it feeds.
Nothing here does I/O; :mod:`.planner` groups rows into requests and
:mod:`.decode` turns words into values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ..model import Metric


class RegType(StrEnum):
    """How a register's words decode (16-bit words; the word order is the device's)."""

    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    S32 = "s32"
    ASCII = "ascii"


class Table(StrEnum):
    """Which Modbus table a register lives in: FC04 reads input, FC03 holding."""

    HOLDING = "holding"
    INPUT = "input"


class Cadence(StrEnum):
    """How often a register is worth reading.

    ``realtime`` rows are read on every poll, ``slow`` rows every few polls
    (settings, lifetime counters that move slowly), ``identity`` rows once
    per connection.
    """

    REALTIME = "realtime"
    SLOW = "slow"
    IDENTITY = "identity"


class Part(StrEnum):
    """Which Home Assistant device a value belongs to."""

    SYSTEM = "system"
    BATTERY = "battery"


_WIDTH = {RegType.U16: 1, RegType.S16: 1, RegType.U32: 2, RegType.S32: 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Register:
    """One value in a device's registers.

    ``scale`` is the documented factor (raw × scale = value in ``unit``); a
    device profile may override it per model or firmware. ``options`` names
    the states of an enumerated register; its value is then the state's
    name instead of a number.
    """

    key: str
    address: int
    type: RegType
    scale: float = 1.0
    unit: str | None = None
    metric: Metric | None = None
    sign: int = 1
    cadence: Cadence = Cadence.REALTIME
    part: Part = Part.SYSTEM
    table: Table = Table.HOLDING
    length: int = 0
    options: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Derive the word count from the type (ASCII rows state it)."""
        if self.type is RegType.ASCII:
            if self.length <= 0:
                raise ValueError(f"{self.key}: ASCII registers need a length")
        else:
            object.__setattr__(self, "length", _WIDTH[self.type])

    @property
    def end(self) -> int:
        """The last address this register occupies."""
        return self.address + self.length - 1


def row(
    key: str,
    address: int,
    type_: RegType,
    scale: float = 1.0,
    unit: str | None = None,
    *,
    metric: Metric | None = None,
    sign: int = 1,
    cadence: Cadence = Cadence.REALTIME,
    part: Part = Part.SYSTEM,
    table: Table = Table.HOLDING,
    length: int = 0,
    options: Mapping[int, str] | None = None,
) -> Register:
    """A :class:`Register` in the positional shorthand the maps are written in."""
    return Register(
        key=key,
        address=address,
        type=type_,
        scale=scale,
        unit=unit,
        metric=metric,
        sign=sign,
        cadence=cadence,
        part=part,
        table=table,
        length=length,
        options=options or {},
    )

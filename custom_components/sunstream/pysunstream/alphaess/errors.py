"""AlphaESS errors: the shared Modbus failure reasons and a dispatch the unit did not apply.

Why a unit did not answer is the same for every Modbus device
(:mod:`..modbus.errors`); only :class:`DispatchNotApplied` is AlphaESS's own.
"""

from __future__ import annotations

from ..errors import CommandFailed
from ..modbus.errors import (
    CLOSED_AFTER_CONNECT,
    CONNECT_REFUSED,
    SILENT_AFTER_CONNECT,
    ModbusError,
    UnitBusy,
)

__all__ = [
    "CLOSED_AFTER_CONNECT",
    "CONNECT_REFUSED",
    "SILENT_AFTER_CONNECT",
    "DispatchNotApplied",
    "ModbusError",
    "UnitBusy",
]


class DispatchNotApplied(CommandFailed):
    """The dispatch block read back differs from what was written.

    Key ``dispatch_not_applied``; placeholders ``expected`` and ``actual``
    (the nine words). Seen in the field on units that ignore dispatch
    writes (docs/protocols/alphaess.md#write-sequences).
    """

    def __init__(self, expected: tuple[int, ...], actual: tuple[int, ...]) -> None:
        super().__init__(
            "dispatch_not_applied", expected=str(list(expected)), actual=str(list(actual))
        )
        self.expected = expected
        self.actual = actual

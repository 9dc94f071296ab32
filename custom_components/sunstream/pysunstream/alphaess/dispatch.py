"""The 0x0880 dispatch block: encoding, decoding and the refresh lease.

Layout (docs/protocols/alphaess.md#dispatch)::

    0x0880      start        1 = dispatch on, 0 = off
    0x0881-82   active P     u32, 1 W/bit, offset 32000: charge < 32000 < discharge
    0x0883-84   reactive Q   u32, same offset (32000 = 0 var)
    0x0885      mode         Note7; 2 = "State of Charge control"
    0x0886      SOC          0.4 %/bit (100 % = 250)
    0x0887-88   time         u32 seconds; static, never counts down

Charge and discharge use mode 2, the only mode that honours both power and
SOC: the unit stops at the target SOC. Stop writes the idle block exactly as
a unit at rest reads it (a SMILE-B3 dump: start 0, P 32000, Q 32000, mode 0,
SOC 0, time 0), so the unit is back in its own control and a read-back
proves it.

Pure functions plus :class:`DispatchLease`, a small clock-driven record of
what was sent, deciding when to re-send so a long command never outlives a
crashed controller by more than one lease (a working controller uses 90 s
leases re-sent every 60 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import math

from ..dispatch import Command, CommandKind
from ..model import BatteryMode

DISPATCH_ADDRESS = 0x0880
DISPATCH_COUNT = 9
POWER_OFFSET = 32000
MODE_SOC_CONTROL = 2
MODE_IDLE = 0

#: The block as an idle unit reads it (docs/protocols/alphaess.md#dispatch).
IDLE_WORDS: tuple[int, ...] = (0, 0, POWER_OFFSET, 0, POWER_OFFSET, MODE_IDLE, 0, 0, 0)

#: Field-by-field order for units that take one field per write
#: (docs/protocols/alphaess.md#write-sequences):
#: (offset in the block, word count) for start, power, time, SOC, mode.
FIELD_ORDER: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (7, 2), (6, 1), (5, 1))


def _u32(value: int) -> list[int]:
    return [(value >> 16) & 0xFFFF, value & 0xFFFF]


def soc_to_raw(soc: float, step: float = 0.4) -> int:
    """Dispatch SOC percent → register value (doc: 0.4 %/bit, 100 % = 250)."""
    return max(0, min(255, round(soc / step)))


def encode_dispatch(
    kind: CommandKind,
    *,
    power_w: float = 0.0,
    target_soc: float = 0.0,
    seconds: int = 0,
    soc_step: float = 0.4,
) -> tuple[int, ...]:
    """The nine words for 0x0880..0x0888 that carry out ``kind``.

    Charge: ``32000 − W``; discharge: ``32000 + W``; both mode 2 with the
    SOC target. Stop: :data:`IDLE_WORDS`.
    """
    if kind is CommandKind.STOP:
        return IDLE_WORDS
    watts = round(power_w)
    if watts < 0 or seconds <= 0:
        raise ValueError("power must be ≥ 0 and time > 0")
    active = POWER_OFFSET - watts if kind is CommandKind.CHARGE else POWER_OFFSET + watts
    if active < 0 or active > 0xFFFF_FFFF:
        raise ValueError(f"power {watts} W does not fit the dispatch register")
    return (
        1,
        *_u32(active),
        *_u32(POWER_OFFSET),
        MODE_SOC_CONTROL,
        soc_to_raw(target_soc, soc_step),
        *_u32(seconds),
    )


@dataclass(frozen=True, slots=True)
class DispatchState:
    """What the dispatch block says, decoded."""

    active: bool
    power_w: float
    """Battery setpoint, + discharge / − charge (the canonical sign)."""
    mode: int
    soc: float
    seconds: int

    @property
    def battery_mode(self) -> BatteryMode:
        """Who drives the battery according to this block."""
        if not self.active:
            return BatteryMode.SELF_CONSUMPTION
        if self.power_w < 0:
            return BatteryMode.FORCED_CHARGE
        if self.power_w > 0:
            return BatteryMode.FORCED_DISCHARGE
        return BatteryMode.IDLE


def decode_dispatch(words: Sequence[int], soc_step: float = 0.4) -> DispatchState:
    """Decode the nine words read from 0x0880."""
    if len(words) < DISPATCH_COUNT:
        raise ValueError(f"dispatch block needs {DISPATCH_COUNT} words")
    active_raw = (words[1] << 16) | words[2]
    return DispatchState(
        active=words[0] == 1,
        power_w=float(active_raw - POWER_OFFSET) if words[0] == 1 else 0.0,
        mode=words[5],
        soc=round(words[6] * soc_step, 1),
        seconds=(words[7] << 16) | words[8],
    )


@dataclass(slots=True)
class DispatchLease:
    """A forced command kept alive by re-sending it in shorter leases.

    The unit holds a dispatch for the seconds written, then returns to its
    own control. Writing the whole duration at once would leave the battery
    forced for hours if Sunstream stopped; writing ``lease`` seconds and
    re-sending within ``margin`` of the lease's end bounds that to one
    lease, and lets a duration longer than one write holds
    (:attr:`.quirks.UnitProfile.dispatch_max_seconds`) run to its end.
    """

    command: Command
    sent_at: datetime
    sent_seconds: int

    @property
    def lease_ends(self) -> datetime:
        """When the unit drops the dispatch unless it is re-sent."""
        return self.sent_at + timedelta(seconds=self.sent_seconds)

    def due(self, now: datetime, margin: timedelta) -> bool:
        """Whether to re-send now: the command outlasts the lease and the lease is nearly over."""
        if not self.command.active(now):
            return False
        return self.command.expires_at > self.lease_ends and now >= self.lease_ends - margin


def lease_seconds(command: Command, now: datetime, lease: timedelta, max_seconds: int) -> int:
    """Seconds to write now: the rest of the command, at most one lease."""
    remaining = (command.expires_at - now).total_seconds()
    return max(1, min(math.ceil(remaining), int(lease.total_seconds()), max_seconds))

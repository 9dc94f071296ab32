"""The 0x0880 block byte for byte, and the lease that refreshes long commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.sunstream.pysunstream.alphaess.dispatch import (
    IDLE_WORDS,
    DispatchLease,
    decode_dispatch,
    encode_dispatch,
    lease_seconds,
    soc_to_raw,
)
from custom_components.sunstream.pysunstream.dispatch import Command, CommandKind
from custom_components.sunstream.pysunstream.model import BatteryMode

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _wire(words: tuple[int, ...]) -> bytes:
    return b"".join(w.to_bytes(2, "big") for w in words)


def test_charge_block_byte_for_byte() -> None:
    words = encode_dispatch(CommandKind.CHARGE, power_w=3000, target_soc=90, seconds=3600)
    # start, P = 32000 − 3000, Q = 32000, mode 2, SOC 90 / 0.4, time 3600 s
    assert words == (1, 0, 29000, 0, 32000, 2, 225, 0, 3600)
    assert _wire(words).hex() == "00010000714800007d00000200e100000e10"


def test_discharge_block_byte_for_byte() -> None:
    # A published example: 37000 = 5 kW discharge, 20 % → 50, 2.5 h = 9000 s
    # (docs/protocols/alphaess.md#write-sequences).
    words = encode_dispatch(CommandKind.DISCHARGE, power_w=5000, target_soc=20, seconds=9000)
    assert words == (1, 0, 37000, 0, 32000, 2, 50, 0, 9000)
    assert _wire(words).hex() == "00010000908800007d000002003200002328"


def test_stop_is_the_idle_block() -> None:
    words = encode_dispatch(CommandKind.STOP)
    assert words == IDLE_WORDS == (0, 0, 32000, 0, 32000, 0, 0, 0, 0)
    assert _wire(words).hex() == "000000007d0000007d000000000000000000"


def test_long_time_uses_the_high_word() -> None:
    words = encode_dispatch(CommandKind.CHARGE, power_w=1, target_soc=100, seconds=70000)
    assert words[7:] == (1, 70000 - 65536)


def test_soc_scaling() -> None:
    assert soc_to_raw(100) == 250  # doc: 0.4 %/bit
    assert soc_to_raw(38) == 95  # doc example "Send SOC=95 … 38 %"
    assert soc_to_raw(100, 0.392) == 255  # the 0.392 camp (docs/protocols/alphaess.md#dispatch)
    assert soc_to_raw(0) == 0


def test_invalid_encodings() -> None:
    with pytest.raises(ValueError, match="power"):
        encode_dispatch(CommandKind.CHARGE, power_w=1000, seconds=0)
    with pytest.raises(ValueError, match="does not fit"):
        encode_dispatch(CommandKind.CHARGE, power_w=40000, seconds=10)


def test_decode_states() -> None:
    assert decode_dispatch(IDLE_WORDS).battery_mode is BatteryMode.SELF_CONSUMPTION
    charge = decode_dispatch((1, 0, 29000, 0, 32000, 2, 225, 0, 3600))
    assert charge.power_w == -3000
    assert charge.soc == 90.0
    assert charge.seconds == 3600
    assert charge.battery_mode is BatteryMode.FORCED_CHARGE
    assert decode_dispatch((1, 0, 37000, 0, 32000, 2, 50, 0, 9)).battery_mode is (
        BatteryMode.FORCED_DISCHARGE
    )
    assert decode_dispatch((1, 0, 32000, 0, 32000, 2, 125, 0, 90)).battery_mode is BatteryMode.IDLE


def test_lease_refresh_schedule() -> None:
    command = Command(
        kind=CommandKind.CHARGE,
        issued_at=T0,
        power_w=2000,
        target_soc=90,
        duration=timedelta(hours=2),
    )
    first = lease_seconds(command, T0, timedelta(minutes=10), 65535)
    assert first == 600
    lease = DispatchLease(command, T0, first)
    margin = timedelta(minutes=2)
    assert not lease.due(T0 + timedelta(minutes=7), margin)
    assert lease.due(T0 + timedelta(minutes=8), margin)
    # Near the end only the rest of the command is written.
    late = T0 + timedelta(hours=1, minutes=55)
    assert lease_seconds(command, late, timedelta(minutes=10), 65535) == 300
    last = DispatchLease(command, late, 300)
    assert not last.due(late + timedelta(minutes=4), margin)  # ends with the command
    assert not last.due(T0 + timedelta(hours=3), margin)  # expired


def test_lease_respects_what_one_write_holds() -> None:
    command = Command(
        kind=CommandKind.DISCHARGE,
        issued_at=T0,
        power_w=1000,
        target_soc=20,
        duration=timedelta(hours=24),
    )
    assert lease_seconds(command, T0, timedelta(hours=48), 65535) == 65535

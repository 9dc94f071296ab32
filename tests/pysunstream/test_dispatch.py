"""Dispatch commands and the rules that admit or reject them."""

from __future__ import annotations

from datetime import datetime, timedelta
import json
import math
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunstream.pysunstream.dispatch import (
    MAX_DURATION,
    BatteryLimits,
    Command,
    CommandKind,
    validate_command,
)
from custom_components.sunstream.pysunstream.errors import CommandRejected
from custom_components.sunstream.pysunstream.model import PartKey

TZ = ZoneInfo("America/Sao_Paulo")
NOW = datetime(2026, 11, 23, 10, 30, tzinfo=TZ)
# Unequal limits, so a test can tell which one a command was checked against.
LIMITS = BatteryLimits(capacity_kwh=10.0, max_charge_w=3000.0, max_discharge_w=5000.0)


def _command(
    kind: CommandKind = CommandKind.CHARGE,
    power_w: float = 1000.0,
    target_soc: float = 80.0,
    duration: timedelta = timedelta(hours=1),
) -> Command:
    return Command(
        kind=kind, issued_at=NOW, power_w=power_w, target_soc=target_soc, duration=duration
    )


def _rejection(command: Command, limits: BatteryLimits | None = LIMITS) -> CommandRejected:
    with pytest.raises(CommandRejected) as caught:
        validate_command(command, limits)
    return caught.value


# -- no battery --------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CommandKind))
def test_everything_rejected_without_battery(kind: CommandKind) -> None:
    assert _rejection(_command(kind), None).key == "no_battery"


@pytest.mark.parametrize("capacity", [0.0, -1.0])
def test_zero_capacity_counts_as_no_battery(capacity: float) -> None:
    limits = BatteryLimits(capacity_kwh=capacity, max_charge_w=3000, max_discharge_w=3000)
    assert _rejection(_command(CommandKind.STOP), limits).key == "no_battery"


# -- stop --------------------------------------------------------------------


def test_stop_accepted_with_battery_whatever_its_numbers() -> None:
    # A stop carries no power, target or duration; none of the rules apply.
    validate_command(
        _command(CommandKind.STOP, power_w=0, target_soc=-5, duration=timedelta(0)), LIMITS
    )


# -- power -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "power", "max_power"),
    [
        (CommandKind.CHARGE, 0.0, "3000"),
        (CommandKind.CHARGE, -100.0, "3000"),
        (CommandKind.CHARGE, 3000.5, "3000"),
        # 4000 W is fine for a discharge but not for a charge.
        (CommandKind.CHARGE, 4000.0, "3000"),
        (CommandKind.DISCHARGE, 0.0, "5000"),
        (CommandKind.DISCHARGE, 5001.0, "5000"),
        (CommandKind.CHARGE, math.nan, "3000"),
    ],
)
def test_power_out_of_range(kind: CommandKind, power: float, max_power: str) -> None:
    err = _rejection(_command(kind, power_w=power))
    assert err.key == "power_out_of_range"
    assert err.placeholders == {"power": f"{power:g}", "max_power": max_power}


@pytest.mark.parametrize(
    ("kind", "power"),
    [
        (CommandKind.CHARGE, 0.1),
        (CommandKind.CHARGE, 3000.0),
        (CommandKind.DISCHARGE, 4000.0),
        (CommandKind.DISCHARGE, 5000.0),
    ],
)
def test_power_within_range_accepted(kind: CommandKind, power: float) -> None:
    validate_command(_command(kind, power_w=power), LIMITS)


# -- state of charge -------------------------------------------------------------


@pytest.mark.parametrize("soc", [-0.1, -50.0, 100.1, 150.0, math.nan])
@pytest.mark.parametrize("kind", [CommandKind.CHARGE, CommandKind.DISCHARGE])
def test_soc_out_of_range(kind: CommandKind, soc: float) -> None:
    err = _rejection(_command(kind, target_soc=soc))
    assert err.key == "soc_out_of_range"
    assert err.placeholders == {"soc": f"{soc:g}"}


@pytest.mark.parametrize("soc", [0.0, 50.0, 100.0])
@pytest.mark.parametrize("kind", [CommandKind.CHARGE, CommandKind.DISCHARGE])
def test_soc_bounds_inclusive(kind: CommandKind, soc: float) -> None:
    validate_command(_command(kind, target_soc=soc), LIMITS)


# -- duration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "minutes"),
    [
        (timedelta(0), "0"),
        (timedelta(seconds=59), f"{59 / 60:g}"),
        (timedelta(minutes=-5), "-5"),
        (timedelta(hours=24, seconds=1), f"{(24 * 3600 + 1) / 60:g}"),
        (timedelta(days=2), "2880"),
    ],
)
def test_duration_out_of_range(duration: timedelta, minutes: str) -> None:
    err = _rejection(_command(duration=duration))
    assert err.key == "duration_out_of_range"
    assert err.placeholders == {
        "duration": minutes,
        "min_duration": "1",
        "max_duration": "1440",
    }


@pytest.mark.parametrize(
    "duration", [timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=24)]
)
def test_duration_within_range_accepted(duration: timedelta) -> None:
    validate_command(_command(CommandKind.DISCHARGE, duration=duration), LIMITS)


def test_max_duration_is_a_day() -> None:
    assert timedelta(hours=24) == MAX_DURATION


def test_rules_checked_power_first_then_soc_then_duration() -> None:
    everything_wrong = _command(power_w=0, target_soc=200, duration=timedelta(0))
    assert _rejection(everything_wrong).key == "power_out_of_range"
    assert _rejection(_command(target_soc=200, duration=timedelta(0))).key == ("soc_out_of_range")


# -- the command itself ----------------------------------------------------------


def test_expires_at_and_active_window() -> None:
    command = _command(duration=timedelta(minutes=90))
    assert command.expires_at == datetime(2026, 11, 23, 12, 0, tzinfo=TZ)
    assert command.active(NOW)
    assert command.active(command.expires_at - timedelta(microseconds=1))
    assert not command.active(command.expires_at)
    assert not command.active(command.expires_at + timedelta(hours=1))


def test_stop_is_never_active() -> None:
    stop = _command(CommandKind.STOP, duration=timedelta(hours=1))
    assert not stop.active(NOW)
    assert not stop.active(NOW + timedelta(minutes=1))


@pytest.mark.parametrize("kind", list(CommandKind))
def test_command_round_trip_through_json(kind: CommandKind) -> None:
    command = Command(
        kind=kind,
        issued_at=NOW,
        power_w=2345.5,
        target_soc=42.5,
        duration=timedelta(minutes=37, seconds=12.5),
    )
    data = json.loads(json.dumps(command.as_dict()))
    assert data["kind"] == kind.value
    assert data["duration_s"] == 37 * 60 + 12.5
    restored = Command.from_dict(data)
    assert restored == command
    assert restored.expires_at == command.expires_at
    assert restored.issued_at.utcoffset() == NOW.utcoffset()


def test_the_battery_a_command_names_survives_json() -> None:
    command = Command(kind=CommandKind.STOP, issued_at=NOW, battery=PartKey("winet_A1_battery"))
    restored = Command.from_dict(json.loads(json.dumps(command.as_dict())))
    assert restored.battery == "winet_A1_battery"
    assert "battery" not in Command(kind=CommandKind.STOP, issued_at=NOW).as_dict()


def test_command_defaults() -> None:
    stop = Command(kind=CommandKind.STOP, issued_at=NOW)
    assert stop.power_w == 0
    assert stop.target_soc == 0
    assert stop.expires_at == NOW

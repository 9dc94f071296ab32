"""Battery dispatch over the WiNet ``param`` service, free of I/O.

What the gateway offers (docs/protocols/winet.md#battery-commands):
the energy-management group (``type`` ``"9"``) of a hybrid inverter
(``dev_type`` 35) holds three parameters that force the battery:

====== ======= ============================== =====================================
id     address name                           values
====== ======= ============================== =====================================
1      33146   Energy Management Mode         0 self-consumption, 2 forced
2      33147   Charging/Discharging Command   170 (0xAA) charge, 187 (0xBB)
                                              discharge, 204 (0xCC) stop
3      33148   Charging/Discharging Power     kW as text, accuracy 2 (``"3.00"``)
====== ======= ============================== =====================================

What it does *not* offer: a target state of charge or a duration for a
forced command. The inverter holds forced mode until told otherwise, so
Sunstream keeps both limits itself (:func:`command_finished`, checked by
the source after every poll) and returns the inverter to self-consumption
when either is reached. A charge or discharge whose target is already met
is not written at all.

Stop writes the energy-management mode back to self-consumption (0) and the
command to stop (204): the inverter is back under its own control, and a
later switch to forced mode by someone else does not resume our charge. No
other parameter is ever written (the power only with a charge or
discharge).

The battery mode Sunstream shows is read back from the inverter, never
taken from what it last wrote (:func:`battery_mode`): the two parameters
are part of the energy-management group the source reads after each write
and on its settings cadence, so a command from the Sungrow app shows too;
with several hybrids each battery's mode is its own inverter's.
Energy-management modes other than 0 and 2 (the inverter lists 3, 4 and 8)
mean someone else drives the battery: the mode is then unknown, as is a
forced mode with a command not in the table.

Capabilities are read from the device list: only ``dev_type`` 35 takes these
parameters (PV-only inverters have no battery to force). With several hybrid
inverters behind one gateway a command names the battery it is for
(:func:`dispatch_target`) and goes to that inverter only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
import re

from ..dispatch import Command, CommandKind, validate_target
from ..errors import CommandRejected
from ..model import BatteryMode, PartKey
from .device_types import DeviceInfo
from .messages import Param

ADDR_EMS_MODE = 33146
ADDR_COMMAND = 33147
ADDR_POWER = 33148

EMS_SELF_CONSUMPTION = 0
EMS_FORCED = 2
COMMAND_CHARGE = 0xAA
COMMAND_DISCHARGE = 0xBB
COMMAND_STOP = 0xCC
POWER_ACCURACY = 2
"""Decimals of the power parameter, in kW: 10 W steps."""

_COMMANDS = {CommandKind.CHARGE: COMMAND_CHARGE, CommandKind.DISCHARGE: COMMAND_DISCHARGE}
_FORCED_MODES = {
    COMMAND_CHARGE: BatteryMode.FORCED_CHARGE,
    COMMAND_DISCHARGE: BatteryMode.FORCED_DISCHARGE,
    COMMAND_STOP: BatteryMode.IDLE,
}
_SH_RATING = re.compile(r"^SH(\d+(?:\.\d+)?)", re.IGNORECASE)
_SBR_CAPACITY = re.compile(r"^SBR(\d{3})", re.IGNORECASE)


def _mode(value: int) -> Param:
    return Param(1, ADDR_EMS_MODE, "Energy Management Mode", 1, str(value))


def _command(value: int) -> Param:
    return Param(2, ADDR_COMMAND, "Charging/Discharging Command", 1, str(value))


def battery_mode(ems_mode: float | None, command: float | None) -> BatteryMode | None:
    """The mode the listed Energy Management Mode and Command say.

    Forced mode with the stop command holds the battery idle. ``None`` for
    a mode Sunstream does not choose (external scheduling and the like) and
    when the parameters were not listed.
    """
    if ems_mode == EMS_SELF_CONSUMPTION:
        return BatteryMode.SELF_CONSUMPTION
    if ems_mode == EMS_FORCED and command is not None:
        return _FORCED_MODES.get(int(command))
    return None


def format_power(power_w: float) -> str:
    """Watts → the power parameter's text: kW with two decimals."""
    return f"{round(power_w / 1000, POWER_ACCURACY):.{POWER_ACCURACY}f}"


def command_params(command: Command) -> tuple[Param, ...]:
    """The parameters that carry out ``command``, in the web UI's order."""
    if command.kind is CommandKind.STOP:
        return (_mode(EMS_SELF_CONSUMPTION), _command(COMMAND_STOP))
    return (
        _mode(EMS_FORCED),
        _command(_COMMANDS[command.kind]),
        Param(
            3,
            ADDR_POWER,
            "Charging/Discharging Power",
            2,
            format_power(command.power_w),
            accuracy=POWER_ACCURACY,
        ),
    )


def rated_power_w(model: str) -> float | None:
    """An SH inverter's rating from its model name (``SH10RT`` → 10 kW).

    Sungrow names hybrid inverters by their nominal AC power (SH5.0RS,
    SH8.0RT, SH10RT, SH25T); the gateway reports no rating otherwise.
    ``None`` for a name that does not follow the pattern.
    """
    match = _SH_RATING.match(model.strip())
    if match is None:
        return None
    rating = float(match[1]) * 1000
    return rating if rating > 0 else None


def battery_capacity_kwh(model: str) -> float | None:
    """An SBR stack's capacity from its model name (``SBR096`` → 9.6 kWh)."""
    match = _SBR_CAPACITY.match(model.strip())
    if match is None:
        return None
    capacity = int(match[1]) / 10
    return capacity if capacity > 0 else None


def dispatch_target(devices: Iterable[DeviceInfo], battery: PartKey | None = None) -> DeviceInfo:
    """The hybrid inverter whose battery ``battery`` is.

    With one hybrid inverter every battery of the gateway is its own (an SBR
    stack, or the battery it reports without a device). With several, a
    command names one inverter's battery part
    (:attr:`~.device_types.DeviceInfo.battery_key`); without one it is
    refused (``dispatch_ambiguous``): splitting one command between
    batteries of unknown size would be a guess. Raises
    ``CommandRejected("not_supported")`` when the gateway lists no hybrid
    inverter (or one without the ``dev_code`` a write must carry) and
    ``CommandRejected("unknown_battery")`` for a battery no hybrid has.
    """
    devices = tuple(devices)
    hybrids = [device for device in devices if device.hybrid]
    if not hybrids:
        models = ", ".join(sorted({d.model for d in devices if d.model})) or "?"
        raise CommandRejected("not_supported", model=models)
    if len(hybrids) == 1:
        target = hybrids[0]
    elif battery is None:
        raise CommandRejected("dispatch_ambiguous", count=str(len(hybrids)))
    else:
        found = next((d for d in hybrids if d.battery_key == battery), None)
        if found is None:
            raise CommandRejected("unknown_battery", battery=battery)
        target = found
    if target.dev_code is None:
        raise CommandRejected("not_supported", model=target.model or "?")
    return target


def check_command(command: Command, soc: float | None, max_power_w: float | None) -> None:
    """Raise :class:`CommandRejected` unless the inverter can carry ``command`` out.

    The rules and keys of :func:`..dispatch.validate_command`, except that
    the battery is known by its state of charge (WiNet reports no capacity)
    and the power limit is the inverter's rating when its model tells it.
    A power that rounds to 0.00 kW is out of range too. A stop is always
    accepted: ending a forced command must not depend on a reading.
    """
    if command.kind is CommandKind.STOP:
        return
    if soc is None:
        raise CommandRejected("no_battery")
    limit = f"{max_power_w:g}" if max_power_w is not None else "?"
    if (
        not command.power_w > 0
        or format_power(command.power_w) == format_power(0)
        or (max_power_w is not None and command.power_w > max_power_w)
    ):
        raise CommandRejected("power_out_of_range", power=f"{command.power_w:g}", max_power=limit)
    validate_target(command)


def target_reached(command: Command, soc: float | None) -> bool:
    """Whether ``soc`` has reached ``command``'s target from the right side."""
    if soc is None or command.kind is CommandKind.STOP:
        return False
    if command.kind is CommandKind.CHARGE:
        return soc >= command.target_soc
    return soc <= command.target_soc


def command_finished(command: Command, soc: float | None, now: datetime) -> bool:
    """Whether a forced ``command`` must end: its time is up or its target met."""
    return not command.active(now) or target_reached(command, soc)

"""The settings an AlphaESS unit keeps in flash: decode, validate, plan writes.

Registers (see :data:`.registers.NUMBER_REGISTERS` and
:data:`.registers.WINDOW_REGISTERS`)::

    0x0800      max feed-in              % of PV power (export limit); 100 = no limit
    0x084F      time-period control      bit 0: charge windows on, bit 1: discharge windows on
    0x0850      discharge cut-off SOC    reserve, % (0.1 %/bit on the SMILE-T10)
    0x0851-54   discharge window 1, 2    start hour, end hour
    0x0855      charge cut-off SOC       grid-charge target, % (0.1 %/bit on the SMILE-T10)
    0x0856-59   charge window 1, 2       start hour, end hour
    0x085A-5D   discharge window 1, 2    start minute, end minute
    0x085E-61   charge window 1, 2       start minute, end minute

How the contract's per-window ``enabled`` maps onto one bit per kind:

* a window reads as enabled when its kind's bit is set **and** it is not
  empty (start ≠ end: an empty window never runs, so an empty window asked
  for as enabled is written like a disabled one);
* enabling a window sets the bit (its partner, if not empty, runs too: the
  unit cannot tell them apart);
* disabling a window whose partner runs empties it (end := start) and keeps
  the bit; disabling the last running window of a kind clears the bit and
  keeps its times.

Pure: :func:`plan_setting_writes` validates a
:class:`~..controls.SettingChange` against the spec and the values the unit
reported, raises :class:`~..errors.CommandRejected` before anything is
written, and returns only the registers whose value changes (the settings
live in flash), ordered so the unit never holds a window that ends before
it starts or runs a window whose times are half written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import time

from ..controls import (
    DeviceSettings,
    Setting,
    SettingChange,
    SettingsSpec,
    Window,
    sharing_storage,
)
from ..errors import CommandRejected
from ..model import Value
from ..setting_rules import check_order, check_whole_minutes, checked_number, only_switches_off
from .quirks import UnitProfile
from .registers import (
    NUMBER_REGISTERS,
    TIME_PERIOD_CONTROL,
    WINDOW_REGISTERS,
    Register,
    WindowRegisters,
)

WRITE_GROUPS = sharing_storage(
    {
        **{setting: (reg.address,) for setting, reg in NUMBER_REGISTERS.items()},
        **{
            setting: (TIME_PERIOD_CONTROL.address, *(reg.address for reg in regs.times))
            for setting, regs in WINDOW_REGISTERS.items()
        },
    }
)
"""Every window writes the time-period control register 0x084F: one write budget."""


@dataclass(frozen=True, slots=True)
class RegisterWrite:
    """One register to write: its row and the raw word."""

    register: Register
    raw: int


def raw_of(reg: Register, values: Mapping[str, Value], profile: UnitProfile) -> int | None:
    """The raw word behind a decoded value (``None`` when not read)."""
    value = values.get(reg.key)
    if not isinstance(value, float | int) or isinstance(value, bool):
        return None
    return round(value / profile.scale(reg.key, reg.scale))


def _has(values: Mapping[str, Value], *regs: Register) -> bool:
    return all(isinstance(values.get(reg.key), float | int) for reg in regs)


def has_minutes(values: Mapping[str, Value], regs: WindowRegisters) -> bool:
    """Whether the unit answered the window's minute registers."""
    return _has(values, regs.start_minute, regs.end_minute)


def settings_spec(profile: UnitProfile, values: Mapping[str, Value]) -> SettingsSpec:
    """What this unit keeps: the model's settings whose registers it answered."""
    ranges = {
        setting: profile.setting_ranges[setting]
        for setting, reg in NUMBER_REGISTERS.items()
        if setting in profile.settings and _has(values, reg)
    }
    windows = frozenset(
        setting
        for setting, regs in WINDOW_REGISTERS.items()
        if setting in profile.settings
        and _has(values, TIME_PERIOD_CONTROL, regs.start_hour, regs.end_hour)
    )
    return SettingsSpec(
        ranges=ranges,
        windows=windows,
        export_limit_switch=False,
        windows_may_overlap=profile.windows_may_overlap,
        write_groups=WRITE_GROUPS,
    )


def _clock(hour: int, minute: int) -> time | None:
    return time(hour, minute) if 0 <= hour <= 23 and 0 <= minute <= 59 else None


def _read_window(
    values: Mapping[str, Value], regs: WindowRegisters, profile: UnitProfile
) -> Window | None:
    """A window as the unit reports it; ``None`` if not read or not a time of day."""
    flag, start_hour, end_hour = (
        raw_of(reg, values, profile)
        for reg in (TIME_PERIOD_CONTROL, regs.start_hour, regs.end_hour)
    )
    if flag is None or start_hour is None or end_hour is None:
        return None
    start_minute = raw_of(regs.start_minute, values, profile) or 0
    end_minute = raw_of(regs.end_minute, values, profile) or 0
    start, end = _clock(start_hour, start_minute), _clock(end_hour, end_minute)
    if start is None or end is None:
        return None
    return Window(start=start, end=end, enabled=bool(flag & regs.bit) and start != end)


def decode_settings(
    values: Mapping[str, Value], spec: SettingsSpec, profile: UnitProfile
) -> DeviceSettings:
    """The settings in ``values`` (one poll's decoded registers) that ``spec`` lists."""
    numbers: dict[Setting, float] = {}
    for setting in spec.ranges:
        value = values.get(NUMBER_REGISTERS[setting].key)
        if isinstance(value, float | int):
            numbers[setting] = float(value)
    windows = {
        setting: window
        for setting in spec.windows
        if (window := _read_window(values, WINDOW_REGISTERS[setting], profile)) is not None
    }
    return DeviceSettings(
        reserve_soc=numbers.get(Setting.RESERVE_SOC),
        charge_limit_soc=numbers.get(Setting.CHARGE_LIMIT_SOC),
        export_limit=numbers.get(Setting.EXPORT_LIMIT),
        windows=windows,
    )


def plan_setting_writes(
    change: SettingChange,
    spec: SettingsSpec,
    values: Mapping[str, Value],
    profile: UnitProfile,
) -> tuple[RegisterWrite, ...]:
    """The writes that carry out ``change``, in order; empty when nothing changes.

    Raises :class:`~..errors.CommandRejected` (``setting_unsupported``,
    ``setting_out_of_range``, ``window_end_before_start``,
    ``window_whole_hours``, ``window_whole_minutes``, ``windows_overlap``)
    for a change the unit cannot take.
    """
    setting, value = change.setting, change.value
    if setting in NUMBER_REGISTERS:
        return _plan_number(setting, checked_number(spec, change), values, profile)
    if setting not in spec.windows or not isinstance(value, Window):
        raise CommandRejected("setting_unsupported", setting=setting.value)
    return _plan_window(setting, value, spec, values, profile)


def _plan_number(
    setting: Setting, value: float, values: Mapping[str, Value], profile: UnitProfile
) -> tuple[RegisterWrite, ...]:
    reg = NUMBER_REGISTERS[setting]
    raw = round(value / profile.scale(reg.key, reg.scale))
    if raw == raw_of(reg, values, profile):
        return ()
    return (RegisterWrite(reg, raw),)


def _validate_window(window: Window, minutes: bool, old: Window | None) -> None:
    start, end = window.start, window.end
    check_whole_minutes(window)
    if not only_switches_off(old, window):
        check_order(window)
    if not minutes and (start.minute or end.minute):
        raise CommandRejected("window_whole_hours")


def _plan_window(
    setting: Setting,
    window: Window,
    spec: SettingsSpec,
    values: Mapping[str, Value],
    profile: UnitProfile,
) -> tuple[RegisterWrite, ...]:
    regs = WINDOW_REGISTERS[setting]
    minutes = has_minutes(values, regs)
    reported = {
        other: read
        for other in spec.windows
        if (read := _read_window(values, WINDOW_REGISTERS[other], profile)) is not None
    }
    old = reported.get(setting)
    _validate_window(window, minutes, old)
    flag = raw_of(TIME_PERIOD_CONTROL, values, profile) or 0
    partner = reported.get(regs.partner)
    start, end = window.start, window.end
    if window.enabled and start != end:
        new_flag = flag | regs.bit
    elif partner is not None and partner.enabled:
        new_flag, end = flag, start  # the bit stays for the partner: empty this one
    else:
        new_flag = flag & ~regs.bit
    schedule = dict(reported)
    schedule[setting] = Window(
        start=start, end=end, enabled=bool(new_flag & regs.bit) and start != end
    )
    touched = {setting}
    if partner is not None:
        schedule[regs.partner] = replace(
            partner, enabled=bool(new_flag & regs.bit) and partner.start != partner.end
        )
        if schedule[regs.partner].enabled != partner.enabled:
            touched.add(regs.partner)  # the shared bit switches it on too
    if not spec.windows_may_overlap:
        _refuse_overlap(frozenset(touched), schedule)

    times = [
        RegisterWrite(reg, raw)
        for reg, raw in (
            (regs.start_hour, start.hour),
            (regs.start_minute, start.minute),
            (regs.end_hour, end.hour),
            (regs.end_minute, end.minute),
        )
        if (minutes or reg not in (regs.start_minute, regs.end_minute))
        and raw != raw_of(reg, values, profile)
    ]
    if old is not None and end > old.end:
        # Moving later: the end goes first, so start ≤ end on the unit throughout.
        times.sort(key=lambda w: w.register in (regs.start_hour, regs.start_minute))
    flag_write = [RegisterWrite(TIME_PERIOD_CONTROL, new_flag)] if new_flag != flag else []
    # Switching on: times first, so the unit never runs half-written times;
    # switching off: the bit first, for the same reason.
    return tuple(flag_write + times if new_flag < flag else times + flag_write)


def _refuse_overlap(touched: frozenset[Setting], schedule: Mapping[Setting, Window]) -> None:
    """Refuse when a window the change runs overlaps another running window.

    Only pairs the change touches count: an overlap the unit already holds
    (set in the app) does not block an unrelated change.
    """
    running = sorted((s, w) for s, w in schedule.items() if w.enabled)
    for i, (first, a) in enumerate(running):
        for second, b in running[i + 1 :]:
            if first not in touched and second not in touched:
                continue
            if a.start < b.end and b.start < a.end:
                this, other = (a, b) if first in touched else (b, a)
                raise CommandRejected(
                    "windows_overlap",
                    start=f"{this.start:%H:%M}",
                    end=f"{this.end:%H:%M}",
                    other_start=f"{other.start:%H:%M}",
                    other_end=f"{other.end:%H:%M}",
                )

"""The rules every source applies to a :class:`~.controls.SettingChange`.

:mod:`.controls` says what a source must refuse before writing; this module
is that refusal, once, for every source (the simulator, AlphaESS, WiNet) and
for the integration, which checks a change before it reaches the source so a
refused value never costs a write. Pure functions over the contract's types:

* a number outside its :class:`~.controls.NumberRange` → ``setting_out_of_range``;
* a window start or end with seconds → ``window_whole_minutes``: every
  device stores whole minutes, and dropping the seconds would store a time
  the user did not ask for;
* a window whose end precedes its start → ``window_end_before_start``. A
  window with start = end is empty (it never runs); a window across midnight
  is two windows (22:00–23:59 and 00:00–06:00), as the devices store them.
  Switching a window off is always possible (:func:`only_switches_off`),
  even one across midnight that the maker's app stored;
* two enabled windows sharing a minute where the device forbids it →
  ``windows_overlap``;
* a setting the device does not keep, or a value of the wrong kind →
  ``setting_unsupported``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import time

from .controls import DeviceSettings, Setting, SettingChange, SettingsSpec, Window
from .errors import CommandRejected

NUMBERS: frozenset[Setting] = frozenset(
    {Setting.RESERVE_SOC, Setting.CHARGE_LIMIT_SOC, Setting.EXPORT_LIMIT}
)
"""Settings with a :class:`~.controls.NumberRange`."""


def supports(spec: SettingsSpec, setting: Setting) -> bool:
    """Whether a device with ``spec`` keeps ``setting`` (and gets an entity for it)."""
    if setting in NUMBERS:
        return setting in spec.ranges
    if setting is Setting.EXPORT_LIMIT_ENABLED:
        return spec.export_limit_switch
    return setting in spec.windows


def reported_value(settings: DeviceSettings, setting: Setting) -> float | bool | Window | None:
    """What the device reported for ``setting``; ``None`` if it did not."""
    match setting:
        case Setting.RESERVE_SOC:
            return settings.reserve_soc
        case Setting.CHARGE_LIMIT_SOC:
            return settings.charge_limit_soc
        case Setting.EXPORT_LIMIT:
            return settings.export_limit
        case Setting.EXPORT_LIMIT_ENABLED:
            return settings.export_limit_enabled
    if setting in settings.windows_untimed:
        return False  # off, its times not shown
    return settings.windows.get(setting)


def applied(settings: DeviceSettings, change: SettingChange) -> DeviceSettings:
    """``settings`` with ``change`` made (``change`` passed :func:`validate_change`)."""
    value = change.value
    if isinstance(value, Window):
        return replace(settings, windows={**settings.windows, change.setting: value})
    if isinstance(value, bool):
        if change.setting is not Setting.EXPORT_LIMIT_ENABLED:
            return settings  # an untimed window: the device applies it (see controls)
        return replace(settings, export_limit_enabled=value)
    match change.setting:
        case Setting.RESERVE_SOC:
            return replace(settings, reserve_soc=float(value))
        case Setting.CHARGE_LIMIT_SOC:
            return replace(settings, charge_limit_soc=float(value))
    return replace(settings, export_limit=float(value))


def stored_clock(hour: float | None, minute: float | None) -> time | None:
    """A time a device stores as hour and minute; ``None`` if missing or not a clock time.

    Sungrow devices end a window at 24:00 (the end of the day), which a
    :class:`~datetime.time` cannot hold: it is shown as 23:59, and
    :func:`stored_end` writes 23:59 back as 24:00, so an unchanged window is
    never rewritten.
    """
    if hour is None or minute is None:
        return None
    h, m = int(hour), int(minute)
    if (h, m) == (24, 0):
        return time(23, 59)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return time(h, m)


def stored_end(end: time) -> tuple[int, int]:
    """Hour and minute to store for a window ``end``: 23:59 as the device's 24:00."""
    return (24, 0) if (end.hour, end.minute) == (23, 59) else (end.hour, end.minute)


def _clock(value: time) -> str:
    return value.strftime("%H:%M")


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _overlap(a: Window, b: Window) -> bool:
    """Whether two enabled, non-empty windows share a minute."""
    if not (a.enabled and b.enabled):
        return False
    return _minutes(a.start) < _minutes(b.end) and _minutes(b.start) < _minutes(a.end)


def only_switches_off(old: Window | None, new: Window) -> bool:
    """Whether ``new`` turns the reported window ``old`` off and keeps its times.

    Such a change is never refused for its times: a window across midnight
    set in the maker's app (which Sunstream would not set) can still be
    switched off from Home Assistant.
    """
    return old is not None and not new.enabled and (old.start, old.end) == (new.start, new.end)


def checked_number(spec: SettingsSpec, change: SettingChange) -> float:
    """``change``'s value: a number within the range the device gives its setting.

    Raises ``setting_unsupported`` for a setting without a range or a value
    that is not a number, ``setting_out_of_range`` for one outside the range.
    """
    value, limits = change.value, spec.ranges.get(change.setting)
    if limits is None or isinstance(value, bool) or not isinstance(value, float | int):
        raise CommandRejected("setting_unsupported", setting=change.setting.value)
    if not limits.minimum <= value <= limits.maximum:
        raise CommandRejected(
            "setting_out_of_range",
            value=f"{value:g}",
            minimum=f"{limits.minimum:g}",
            maximum=f"{limits.maximum:g}",
            unit=limits.unit,
        )
    return float(value)


def check_whole_minutes(window: Window) -> None:
    """Raise ``window_whole_minutes`` for a start or end with seconds."""
    if any(t.second or t.microsecond for t in (window.start, window.end)):
        raise CommandRejected("window_whole_minutes")


def check_order(window: Window) -> None:
    """Raise ``window_end_before_start`` for a window ending (in minutes) before it starts."""
    if _minutes(window.end) < _minutes(window.start):
        raise CommandRejected(
            "window_end_before_start", start=_clock(window.start), end=_clock(window.end)
        )


def validate_change(spec: SettingsSpec, settings: DeviceSettings, change: SettingChange) -> None:
    """Raise :class:`CommandRejected` unless a device with ``spec`` can take ``change``.

    ``settings`` is what the device reports now; a window is checked against
    the other windows as they would be after the change.
    """
    setting, value = change.setting, change.value
    if not supports(spec, setting):
        raise CommandRejected("setting_unsupported", setting=setting.value)
    if setting in NUMBERS:
        checked_number(spec, change)
        return
    if setting is Setting.EXPORT_LIMIT_ENABLED or setting in settings.windows_untimed:
        # An untimed window is switched keeping the device's times: nothing to check.
        if not isinstance(value, bool):
            raise CommandRejected("setting_unsupported", setting=setting.value)
        return
    if not isinstance(value, Window):
        raise CommandRejected("setting_unsupported", setting=setting.value)
    check_whole_minutes(value)
    if not only_switches_off(settings.windows.get(setting), value):
        check_order(value)
    if spec.windows_may_overlap:
        return
    for other_setting, other in settings.windows.items():
        if other_setting != setting and _overlap(value, other):
            raise CommandRejected(
                "windows_overlap",
                start=_clock(value.start),
                end=_clock(value.end),
                other_start=_clock(other.start),
                other_end=_clock(other.end),
            )


def window_holds(window: Window | None, moment: time) -> bool:
    """Whether an enabled ``window`` covers the wall-clock ``moment``."""
    if window is None or not window.enabled:
        return False
    return _minutes(window.start) <= _minutes(moment) < _minutes(window.end)

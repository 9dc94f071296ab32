"""Forced-charging windows of a Sungrow hybrid over Modbus TCP, as :mod:`..controls` settings. Pure.

Holding 33207..33218 (documented 33208..33219, hybrid protocol V1.1.2;
docs/protocols/sungrow-modbus.md#forced-charging-windows), one word each:

====== ===================== =====================================
offset word                  values
====== ===================== =====================================
0      forced charging       0xAA on, 0x55 off (both windows)
1      valid days            0 weekdays only, 1 every day
2-5    window 1 start h/min, h 0-23 (end 0-24), min 0-59
       end h/min
6      window 1 target SOC   % 0-100
7-11   window 2              as window 1
====== ===================== =====================================

The same parameters a WiNet gateway lists (``pysunstream/winet/settings.py``),
and the same rules:

* one switch runs both windows: a window's ``enabled`` is that switch, and
  switching one window changes the other;
* a window is daily: switching on also sets the valid days to every day;
* a window end of 24:00 is shown as 23:59, and 23:59 is written as 24:00,
  so an unchanged window is never rewritten;
* the target SOCs are the device's (set in the maker's app): Sunstream
  writes times and the switch, never a target.

An inverter without the schedule answers exception 2 for these registers;
it then has no window settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..controls import Setting, Window, sharing_storage
from ..model import Value, as_number
from ..setting_rules import stored_clock, stored_end
from .registers import SCHEDULE_ADDRESS

ENABLE = 0xAA
DISABLE = 0x55
EVERY_DAY = 1
SWITCH = "forced_charge"
DAYS = "forced_charge_days"


def _keys(n: int) -> tuple[str, str, str, str]:
    name = f"forced_charge_{n}"
    return (f"{name}_start_h", f"{name}_start_m", f"{name}_end_h", f"{name}_end_m")


#: The value keys of each window's start h, start min, end h, end min.
WINDOW_KEYS: Mapping[Setting, tuple[str, str, str, str]] = MappingProxyType(
    {Setting.CHARGE_WINDOW_1: _keys(1), Setting.CHARGE_WINDOW_2: _keys(2)}
)

#: Offsets of the words inside the block, by value key.
OFFSETS: Mapping[str, int] = MappingProxyType(
    {
        key: offset
        for offset, key in enumerate(
            (
                SWITCH,
                DAYS,
                *WINDOW_KEYS[Setting.CHARGE_WINDOW_1],
                "forced_charge_1_target_soc",
                *WINDOW_KEYS[Setting.CHARGE_WINDOW_2],
                "forced_charge_2_target_soc",
            )
        )
    }
)

#: Both windows write the one switch: one write budget.
WRITE_GROUPS = sharing_storage(
    {
        setting: (*(SCHEDULE_ADDRESS + OFFSETS[k] for k in keys), SCHEDULE_ADDRESS)
        for setting, keys in WINDOW_KEYS.items()
    }
)


def switch(values: Mapping[str, Value]) -> bool | None:
    """The forced-charging switch read back; ``None`` when not read or not 0xAA/0x55."""
    word = as_number(values.get(SWITCH))
    return {ENABLE: True, DISABLE: False}.get(int(word)) if word is not None else None


def windows(values: Mapping[str, Value]) -> dict[Setting, Window]:
    """Each window whose times read back as a clock time; none without the switch."""
    enabled = switch(values)
    if enabled is None:
        return {}
    found: dict[Setting, Window] = {}
    for setting, keys in WINDOW_KEYS.items():
        sh, sm, eh, em = (as_number(values.get(k)) for k in keys)
        start, end = stored_clock(sh, sm), stored_clock(eh, em)
        if start is not None and end is not None:
            found[setting] = Window(start=start, end=end, enabled=enabled)
    return found


def planned_words(setting: Setting, window: Window) -> dict[int, int]:
    """Offset → word for ``window``, which :func:`~..setting_rules.validate_change` accepted."""
    clock = (window.start.hour, window.start.minute, *stored_end(window.end))
    words = {OFFSETS[k]: part for k, part in zip(WINDOW_KEYS[setting], clock, strict=True)}
    if window.enabled:
        words[OFFSETS[DAYS]] = EVERY_DAY
    words[OFFSETS[SWITCH]] = ENABLE if window.enabled else DISABLE
    return words

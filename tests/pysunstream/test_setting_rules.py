"""The rules every source applies to a setting change (setting_rules.py)."""

from __future__ import annotations

from datetime import time

import pytest

from custom_components.sunstream.pysunstream.controls import (
    DeviceSettings,
    Setting,
    SettingChange,
    SettingsSpec,
    Window,
)
from custom_components.sunstream.pysunstream.errors import CommandRejected
from custom_components.sunstream.pysunstream.setting_rules import reported_value, validate_change

SPEC = SettingsSpec(windows=frozenset({Setting.CHARGE_WINDOW_1, Setting.CHARGE_WINDOW_2}))
OVERNIGHT = Window(start=time(22), end=time(6), enabled=True)
"""A window across midnight, as the maker's app may store it."""


def _check(settings: DeviceSettings, value: bool | Window) -> None:
    validate_change(SPEC, settings, SettingChange(setting=Setting.CHARGE_WINDOW_1, value=value))


def test_an_overnight_window_can_be_switched_off_but_not_changed() -> None:
    settings = DeviceSettings(windows={Setting.CHARGE_WINDOW_1: OVERNIGHT})
    _check(settings, Window(start=time(22), end=time(6), enabled=False))
    for moved in (
        Window(start=time(23), end=time(6), enabled=False),  # new times: checked
        OVERNIGHT,  # switched (kept) on
    ):
        with pytest.raises(CommandRejected) as caught:
            _check(settings, moved)
        assert caught.value.key == "window_end_before_start"
    with pytest.raises(CommandRejected):  # a window not reported is no switch-off
        _check(DeviceSettings(), Window(start=time(22), end=time(6), enabled=False))


def test_an_untimed_window_is_off_and_switched_with_a_bool() -> None:
    settings = DeviceSettings(windows_untimed=frozenset({Setting.CHARGE_WINDOW_1}))
    assert reported_value(settings, Setting.CHARGE_WINDOW_1) is False
    assert reported_value(settings, Setting.CHARGE_WINDOW_2) is None
    _check(settings, True)
    with pytest.raises(CommandRejected) as caught:
        _check(DeviceSettings(), True)  # a window with known times takes a Window
    assert caught.value.key == "setting_unsupported"

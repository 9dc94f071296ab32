"""Settings in flash, pure: decode per model, spec, validation, the writes planned."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

import pytest

from custom_components.sunstream.pysunstream.alphaess.quirks import (
    QUIRKS,
    Quirk,
    UnitProfile,
    resolve_profile,
)
from custom_components.sunstream.pysunstream.alphaess.registers import (
    WINDOW_REGISTERS,
    Cadence,
    registers_for,
)
from custom_components.sunstream.pysunstream.alphaess.settings import (
    decode_settings,
    plan_setting_writes,
    settings_spec,
)
from custom_components.sunstream.pysunstream.controls import (
    WINDOWS,
    Setting,
    SettingChange,
    Window,
)
from custom_components.sunstream.pysunstream.errors import CommandRejected
from custom_components.sunstream.pysunstream.modbus.decode import decode_dump
from custom_components.sunstream.pysunstream.modbus.planner import plan_reads
from custom_components.sunstream.pysunstream.model import Value
from sunstream_fakes.alphaess_fake import FakeAlphaEss

C1, C2, D1, D2 = (
    Setting.CHARGE_WINDOW_1,
    Setting.CHARGE_WINDOW_2,
    Setting.DISCHARGE_WINDOW_1,
    Setting.DISCHARGE_WINDOW_2,
)


def _unit(model: str = "standard", /, **raw: int) -> tuple[dict[str, Value], UnitProfile]:
    """The slow registers of a fake unit of ``model`` as a poll decodes them."""
    fake = FakeAlphaEss(model=model)
    for key, value in raw.items():
        fake.set(key, value)
    profile = resolve_profile(model)
    return decode_dump(registers_for(Cadence.SLOW), fake.words, profile), profile


def _plan(
    setting: Setting,
    value: float | Window,
    model: str = "standard",
    /,
    **raw: int,
) -> list[tuple[str, int]]:
    values, profile = _unit(model, **raw)
    spec = settings_spec(profile, values)
    writes = plan_setting_writes(SettingChange(setting=setting, value=value), spec, values, profile)
    return [(w.register.key, w.raw) for w in writes]


def _window(start: str, end: str, enabled: bool = True) -> Window:
    return Window(start=time.fromisoformat(start), end=time.fromisoformat(end), enabled=enabled)


# --- reading -------------------------------------------------------------


@pytest.mark.parametrize("model", ["standard", "smile-b3", "smile-hi10", "ems2.5", "smile-t10"])
def test_every_model_reports_its_settings_at_its_scale(model: str) -> None:
    # The T10 fixture holds 100 and 500 (0.1 %/bit), the others 10 and 50.
    values, profile = _unit(model)
    spec = settings_spec(profile, values)
    assert set(spec.ranges) == {
        Setting.RESERVE_SOC,
        Setting.CHARGE_LIMIT_SOC,
        Setting.EXPORT_LIMIT,
    }
    assert spec.windows == frozenset(WINDOWS)
    assert spec.export_limit_switch is False  # 0x0800 = 100 % is "no limit"
    assert spec.windows_may_overlap is False
    assert spec.ranges[Setting.EXPORT_LIMIT].unit == "%"
    settings = decode_settings(values, spec, profile)
    assert (settings.reserve_soc, settings.charge_limit_soc, settings.export_limit) == (
        10.0,
        50.0,
        100.0,
    )
    assert settings.export_limit_enabled is None
    assert settings.windows[C1] == _window("00:00", "00:00", enabled=False)


def test_t10_reads_raw_tenths() -> None:
    values, profile = _unit("smile-t10", discharge_cutoff_soc=155, charge_cutoff_soc=905)
    settings = decode_settings(values, settings_spec(profile, values), profile)
    assert (settings.reserve_soc, settings.charge_limit_soc) == (15.5, 90.5)
    # The same words on a standard unit would be nonsense percentages.
    values, profile = _unit("standard", discharge_cutoff_soc=155)
    assert decode_settings(values, settings_spec(profile, values), profile).reserve_soc == 155


def test_windows_decode_hours_minutes_and_the_shared_bit() -> None:
    values, profile = _unit(
        time_period_control=1,  # charge windows on, discharge windows off
        charge_window_1_start_hour=1,
        charge_window_1_start_minute=30,
        charge_window_1_end_hour=5,
        charge_window_1_end_minute=15,
        discharge_window_1_start_hour=17,
        discharge_window_1_end_hour=21,
    )
    windows = decode_settings(values, settings_spec(profile, values), profile).windows
    assert windows[C1] == _window("01:30", "05:15")
    assert windows[C2] == _window("00:00", "00:00", enabled=False)  # empty: never runs
    assert windows[D1] == _window("17:00", "21:00", enabled=False)  # its bit is off


def test_a_window_the_unit_reports_out_of_a_day_is_not_shown() -> None:
    values, profile = _unit(charge_window_2_end_hour=24)
    windows = decode_settings(values, settings_spec(profile, values), profile).windows
    assert C2 not in windows
    assert C1 in windows


def test_missing_registers_and_models_shrink_the_spec() -> None:
    values, profile = _unit()
    # Hour registers the unit did not answer: that window has no entity.
    partial = {k: v for k, v in values.items() if k != "discharge_window_2_start_hour"}
    assert settings_spec(profile, partial).windows == frozenset({C1, C2, D1})
    # A model row can drop a setting.
    quirks = (
        *QUIRKS,
        Quirk(
            source="test",
            models=frozenset({"x"}),
            settings_absent=frozenset({Setting.EXPORT_LIMIT}),
        ),
    )
    x = resolve_profile("x", quirks=quirks)
    assert Setting.EXPORT_LIMIT not in settings_spec(x, values).ranges
    assert Setting.RESERVE_SOC in settings_spec(x, values).ranges
    # Nothing read yet: nothing to show.
    assert settings_spec(profile, {}).ranges == {}
    assert settings_spec(profile, {}).windows == frozenset()


def test_settings_stay_in_the_slow_reads() -> None:
    profile = resolve_profile("standard")
    blocks = plan_reads(registers_for(Cadence.SLOW), profile).blocks
    # Still three requests: 0x0800.., the whole time-period block, 0x08D0...
    assert [(b.start, b.end) for b in blocks] == [
        (0x0800, 0x0805),
        (0x084F, 0x0861),
        (0x08D0, 0x08D5),
    ]
    assert len(plan_reads(registers_for(Cadence.REALTIME), profile).blocks) == 5


# --- numbers -------------------------------------------------------------


def test_a_number_is_one_write_only_when_it_changes() -> None:
    assert _plan(Setting.RESERVE_SOC, 30) == [("discharge_cutoff_soc", 30)]
    assert _plan(Setting.RESERVE_SOC, 10) == []  # what the unit holds
    assert _plan(Setting.CHARGE_LIMIT_SOC, 90) == [("charge_cutoff_soc", 90)]
    assert _plan(Setting.EXPORT_LIMIT, 0) == [("max_feed_in", 0)]


def test_t10_writes_tenths() -> None:
    assert _plan(Setting.RESERVE_SOC, 25, "smile-t10") == [("discharge_cutoff_soc", 250)]
    assert _plan(Setting.CHARGE_LIMIT_SOC, 50, "smile-t10") == []  # raw 500 already
    assert _plan(Setting.CHARGE_LIMIT_SOC, 50, "standard", charge_cutoff_soc=500) == [
        ("charge_cutoff_soc", 50)
    ]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        (Setting.RESERVE_SOC, 3),
        (Setting.RESERVE_SOC, 101),
        (Setting.CHARGE_LIMIT_SOC, 5),
        (Setting.EXPORT_LIMIT, -1),
        (Setting.EXPORT_LIMIT, 100.5),
    ],
)
def test_out_of_range_is_rejected(setting: Setting, value: float) -> None:
    with pytest.raises(CommandRejected) as err:
        _plan(setting, value)
    assert err.value.key == "setting_out_of_range"
    assert err.value.placeholders["unit"] == "%"


def test_a_setting_the_unit_lacks_is_rejected() -> None:
    with pytest.raises(CommandRejected) as err:
        _plan(Setting.EXPORT_LIMIT_ENABLED, True)
    assert err.value.key == "setting_unsupported"
    assert err.value.placeholders == {"setting": "export_limit_enabled"}
    with pytest.raises(CommandRejected) as err:  # a window where a number belongs
        _plan(Setting.RESERVE_SOC, _window("01:00", "02:00"))
    assert err.value.key == "setting_unsupported"
    values, profile = _unit()
    spec = settings_spec(profile, values)
    spec = replace(spec, windows=spec.windows - {D2})
    with pytest.raises(CommandRejected) as err:
        plan_setting_writes(
            SettingChange(setting=D2, value=_window("10:00", "11:00")), spec, values, profile
        )
    assert err.value.key == "setting_unsupported"


# --- windows -------------------------------------------------------------


def test_enabling_a_window_writes_its_times_then_the_bit() -> None:
    # From 00:00–00:00: the end moves later, so it goes first.
    assert _plan(C1, _window("01:30", "05:00")) == [
        ("charge_window_1_end_hour", 5),
        ("charge_window_1_start_hour", 1),
        ("charge_window_1_start_minute", 30),
        ("time_period_control", 1),
    ]
    # Discharge windows are bit 1; the charge bit stays as it was.
    assert _plan(D2, _window("18:00", "21:00"), time_period_control=1)[-1] == (
        "time_period_control",
        3,
    )


def test_disabling_the_only_window_clears_the_bit_first_and_keeps_the_times() -> None:
    raw = {"time_period_control": 3, "charge_window_1_start_hour": 1, "charge_window_1_end_hour": 5}
    assert _plan(C1, _window("01:00", "05:00", enabled=False), **raw) == [
        ("time_period_control", 2)
    ]


def test_disabling_one_of_two_running_windows_empties_it() -> None:
    raw = {
        "time_period_control": 1,
        "charge_window_1_start_hour": 1,
        "charge_window_1_end_hour": 5,
        "charge_window_2_start_hour": 13,
        "charge_window_2_end_hour": 15,
    }
    # The bit also runs window 2, so window 1 becomes empty (end := start).
    assert _plan(C1, _window("01:00", "05:00", enabled=False), **raw) == [
        ("charge_window_1_end_hour", 1)
    ]


def test_moving_a_window_later_writes_the_end_first() -> None:
    raw = {"time_period_control": 1, "charge_window_1_start_hour": 1, "charge_window_1_end_hour": 3}
    assert _plan(C1, _window("04:00", "06:00"), **raw) == [
        ("charge_window_1_end_hour", 6),
        ("charge_window_1_start_hour", 4),
    ]
    raw = {"time_period_control": 1, "charge_window_1_start_hour": 4, "charge_window_1_end_hour": 6}
    assert _plan(C1, _window("01:00", "03:00"), **raw) == [
        ("charge_window_1_start_hour", 1),
        ("charge_window_1_end_hour", 3),
    ]


def test_an_unchanged_window_writes_nothing() -> None:
    raw = {"time_period_control": 1, "charge_window_1_start_hour": 1, "charge_window_1_end_hour": 5}
    assert _plan(C1, _window("01:00", "05:00"), **raw) == []
    assert _plan(C2, _window("00:00", "00:00", enabled=False), **raw) == []


@pytest.mark.parametrize(
    ("window", "key"),
    [
        (_window("05:00", "01:00"), "window_end_before_start"),
        (_window("05:00", "01:00", enabled=False), "window_end_before_start"),
        (_window("01:00:30", "05:00"), "window_whole_minutes"),
    ],
)
def test_bad_windows_are_rejected(window: Window, key: str) -> None:
    with pytest.raises(CommandRejected) as err:
        _plan(C1, window)
    assert err.value.key == key


def test_an_empty_window_never_runs_so_it_does_not_set_the_bit() -> None:
    # Asked for as enabled, 05:00–05:00 runs nothing: written like a disabled window.
    assert _plan(C1, _window("05:00", "05:00")) == [
        ("charge_window_1_end_hour", 5),
        ("charge_window_1_start_hour", 5),
    ]


def test_a_window_the_unit_holds_across_midnight_can_be_turned_off() -> None:
    raw = {
        "time_period_control": 1,
        "charge_window_1_start_hour": 22,
        "charge_window_1_end_hour": 6,
    }
    assert _plan(C1, _window("22:00", "06:00", enabled=False), **raw) == [
        ("time_period_control", 0)
    ]
    with pytest.raises(CommandRejected):  # but not rewritten as one
        _plan(C1, _window("23:00", "06:00", enabled=False), **raw)


def test_without_minute_registers_windows_take_whole_hours() -> None:
    values, profile = _unit()
    regs = WINDOW_REGISTERS[C1]
    hours_only = {
        k: v for k, v in values.items() if k not in (regs.start_minute.key, regs.end_minute.key)
    }
    spec = settings_spec(profile, hours_only)
    assert C1 in spec.windows
    with pytest.raises(CommandRejected) as err:
        plan_setting_writes(
            SettingChange(setting=C1, value=_window("01:30", "05:00")), spec, hours_only, profile
        )
    assert err.value.key == "window_whole_hours"
    writes = plan_setting_writes(
        SettingChange(setting=C1, value=_window("01:00", "05:00")), spec, hours_only, profile
    )
    assert [w.register.key for w in writes] == [
        "charge_window_1_end_hour",
        "charge_window_1_start_hour",
        "time_period_control",
    ]


def test_overlapping_windows_are_rejected() -> None:
    raw = {
        "time_period_control": 2,
        "discharge_window_1_start_hour": 17,
        "discharge_window_1_end_hour": 21,
    }
    with pytest.raises(CommandRejected) as err:
        _plan(C1, _window("20:00", "22:00"), **raw)
    assert err.value.key == "windows_overlap"
    assert err.value.placeholders == {
        "start": "20:00",
        "end": "22:00",
        "other_start": "17:00",
        "other_end": "21:00",
    }
    # Touching is not overlapping, and a disabled window overlaps nothing.
    assert _plan(C1, _window("21:00", "23:00"), **raw)[-1] == ("time_period_control", 3)
    assert _plan(C1, _window("20:00", "22:00", enabled=False), **raw) != []


def test_enabling_a_window_checks_the_partner_it_switches_on() -> None:
    # Charge window 2 holds 18:00–20:00 but the charge bit is off; enabling
    # window 1 would run window 2 inside the running discharge window.
    raw = {
        "time_period_control": 2,
        "charge_window_2_start_hour": 18,
        "charge_window_2_end_hour": 20,
        "discharge_window_1_start_hour": 17,
        "discharge_window_1_end_hour": 21,
    }
    with pytest.raises(CommandRejected) as err:
        _plan(C1, _window("01:00", "05:00"), **raw)
    assert err.value.key == "windows_overlap"


def test_an_overlap_already_on_the_unit_does_not_block_other_changes() -> None:
    raw = {
        "time_period_control": 3,
        "charge_window_1_start_hour": 17,
        "charge_window_1_end_hour": 19,
        "discharge_window_1_start_hour": 18,
        "discharge_window_1_end_hour": 21,
    }
    assert _plan(D2, _window("05:00", "06:00"), **raw) != []


def test_overlap_allowed_when_the_model_says_so() -> None:
    values, profile = _unit(
        time_period_control=2, discharge_window_1_start_hour=17, discharge_window_1_end_hour=21
    )
    profile = replace(profile, windows_may_overlap=True)
    spec = settings_spec(profile, values)
    writes = plan_setting_writes(
        SettingChange(setting=C1, value=_window("20:00", "22:00")), spec, values, profile
    )
    assert writes

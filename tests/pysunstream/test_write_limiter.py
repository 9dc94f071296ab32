"""How often one stored value may be written, and which settings share one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.sunstream.pysunstream.alphaess.settings import (
    WRITE_GROUPS as ALPHAESS_GROUPS,
)
from custom_components.sunstream.pysunstream.controls import (
    WINDOWS,
    Setting,
    SettingsSpec,
    sharing_storage,
)
from custom_components.sunstream.pysunstream.winet.settings import WRITE_GROUPS as WINET_GROUPS
from custom_components.sunstream.pysunstream.write_limiter import WriteLimiter

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_three_writes_a_minute_per_setting() -> None:
    limiter = WriteLimiter()
    for second in (0, 10, 20):
        assert limiter.wait(Setting.RESERVE_SOC, T0 + timedelta(seconds=second)) == timedelta(0)
        limiter.record(Setting.RESERVE_SOC, T0 + timedelta(seconds=second))
    # The fourth within the minute waits until the first one is a minute old.
    assert limiter.wait(Setting.RESERVE_SOC, T0 + timedelta(seconds=30)) == timedelta(seconds=30)
    # Another setting has its own budget.
    assert limiter.wait(Setting.EXPORT_LIMIT, T0 + timedelta(seconds=30)) == timedelta(0)
    assert limiter.wait(Setting.RESERVE_SOC, T0 + timedelta(seconds=60)) == timedelta(0)


def test_a_sliding_window() -> None:
    limiter = WriteLimiter(max_writes=1, period=timedelta(seconds=20))
    limiter.record(Setting.CHARGE_WINDOW_1, T0)
    assert limiter.wait(Setting.CHARGE_WINDOW_1, T0 + timedelta(seconds=5)) == timedelta(seconds=15)
    assert limiter.wait(Setting.CHARGE_WINDOW_1, T0 + timedelta(seconds=20)) == timedelta(0)


def test_settings_sharing_an_address_share_a_group() -> None:
    groups = sharing_storage(
        {
            Setting.CHARGE_WINDOW_2: (2, 3),
            Setting.CHARGE_WINDOW_1: (1, 2),
            Setting.DISCHARGE_WINDOW_1: (3, 4),  # through window 2
            Setting.RESERVE_SOC: (5,),
        }
    )
    assert set(groups.values()) == {"reserve_soc", "charge_window_1"}
    assert groups[Setting.DISCHARGE_WINDOW_1] == "charge_window_1"


def test_a_setting_not_listed_is_its_own_group() -> None:
    assert SettingsSpec().write_group(Setting.RESERVE_SOC) == "reserve_soc"


def test_winet_charge_windows_share_their_switch_the_limit_does_not() -> None:
    spec = SettingsSpec(write_groups=WINET_GROUPS)
    assert spec.write_group(Setting.CHARGE_WINDOW_1) == spec.write_group(Setting.CHARGE_WINDOW_2)
    assert spec.write_group(Setting.CHARGE_LIMIT_SOC) != spec.write_group(Setting.CHARGE_WINDOW_1)
    assert spec.write_group(Setting.EXPORT_LIMIT) != spec.write_group(Setting.EXPORT_LIMIT_ENABLED)


def test_alphaess_windows_share_the_time_period_control_register() -> None:
    spec = SettingsSpec(write_groups=ALPHAESS_GROUPS)
    assert len({spec.write_group(window) for window in WINDOWS}) == 1
    numbers = (Setting.RESERVE_SOC, Setting.CHARGE_LIMIT_SOC, Setting.EXPORT_LIMIT)
    assert len({spec.write_group(setting) for setting in numbers}) == 3

"""How often one setting may be written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.sunstream.pysunstream.controls import Setting
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

"""Watchdog arithmetic (the back-off it works with: tests/pysunstream/test_backoff.py)."""

from __future__ import annotations

from custom_components.sunstream.pysunstream.winet.watchdog import Watchdog


def test_watchdog_trips_after_five() -> None:
    watchdog = Watchdog()
    assert [watchdog.failure() for _ in range(5)] == [False] * 4 + [True]
    assert not watchdog.failure()
    watchdog.success()
    assert [watchdog.failure() for _ in range(5)][-1]

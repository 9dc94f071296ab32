"""Back-off and watchdog arithmetic."""

from __future__ import annotations

import pytest

from custom_components.sunstream.pysunstream.winet.backoff import Backoff
from custom_components.sunstream.pysunstream.winet.watchdog import Watchdog


def test_backoff_doubles_caps_and_resets() -> None:
    backoff = Backoff(base=5, cap=60, jitter=0.2, rand=lambda: 0.0)
    assert [backoff.next_delay() for _ in range(6)] == [5, 10, 20, 40, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 5


def test_backoff_jitter_stays_below_the_ceiling() -> None:
    low = Backoff(base=10, jitter=0.2, rand=lambda: 0.999999)
    assert 8.0 <= low.next_delay() < 8.01
    high = Backoff(base=10, jitter=0.2, rand=lambda: 0.0)
    assert high.next_delay() == 10
    many = Backoff(base=1, cap=300)
    for _ in range(200):
        assert many.next_delay() <= 300


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="back-off"):
        Backoff(base=10, cap=5)


def test_watchdog_trips_after_five() -> None:
    watchdog = Watchdog()
    assert [watchdog.failure() for _ in range(5)] == [False] * 4 + [True]
    assert not watchdog.failure()
    watchdog.success()
    assert [watchdog.failure() for _ in range(5)][-1]

"""Reconnect spacing: exponential, capped, jittered, reset on success."""

from __future__ import annotations

from custom_components.sunstream.pysunstream.alphaess.backoff import Backoff


def test_exponential_and_capped() -> None:
    backoff = Backoff(initial=1, cap=8, jitter=0)
    assert [backoff.failed(0) for _ in range(6)] == [1, 2, 4, 8, 8, 8]


def test_ready_follows_the_wait() -> None:
    backoff = Backoff(initial=2, cap=60, jitter=0)
    assert backoff.ready(0)
    backoff.failed(10)
    assert not backoff.ready(11.9)
    assert backoff.ready(12)


def test_jitter_stays_within_bounds() -> None:
    low = Backoff(initial=10, cap=60, jitter=0.2, rand=lambda: 1.0)
    high = Backoff(initial=10, cap=60, jitter=0.2, rand=lambda: 0.0)
    assert low.failed(0) == 8.0
    assert high.failed(0) == 10.0


def test_success_resets() -> None:
    backoff = Backoff(initial=1, cap=60, jitter=0)
    for _ in range(4):
        backoff.failed(0)
    backoff.succeeded()
    assert backoff.ready(0)
    assert backoff.failed(100) == 1

"""Reconnect spacing shared by the WiNet and AlphaESS clients."""

from __future__ import annotations

import inspect
import random

import pytest

from custom_components.sunstream.pysunstream.alphaess import Backoff as AlphaEssBackoff
from custom_components.sunstream.pysunstream.backoff import Backoff
from custom_components.sunstream.pysunstream.winet import Backoff as WinetBackoff
from sunstream_monitor.backoff import Backoff as AppBackoff


def test_one_policy_for_every_source() -> None:
    assert AlphaEssBackoff is Backoff
    assert WinetBackoff is Backoff


def test_doubles_then_caps() -> None:
    backoff = Backoff(base=5, cap=60, jitter=0)
    assert [backoff.next_delay() for _ in range(7)] == [5, 10, 20, 40, 60, 60, 60]
    assert backoff.failures == 7


def test_other_factor() -> None:
    backoff = Backoff(base=1, factor=3, cap=100, jitter=0)
    assert [backoff.next_delay() for _ in range(5)] == [1, 3, 9, 27, 81]


def test_success_starts_over() -> None:
    backoff = Backoff(base=1, cap=60, jitter=0)
    for _ in range(4):
        backoff.next_delay()
    assert backoff.peek() == 16
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay() == 1


def test_jitter_only_shortens_the_wait() -> None:
    # rand → 0: the full ceiling; rand → 1: at most `jitter` shorter.
    assert Backoff(base=10, jitter=0.2, rand=lambda: 0.0).next_delay() == 10
    shortest = Backoff(base=10, jitter=0.2, rand=lambda: 0.999999).next_delay()
    assert 8.0 <= shortest < 8.01


def test_jittered_delays_stay_inside_the_band_and_under_the_cap() -> None:
    rng = random.Random(4)
    backoff = Backoff(base=1, cap=300, jitter=0.3, rand=rng.random)
    delays = []
    for _ in range(200):
        ceiling = backoff.peek()
        delay = backoff.next_delay()
        assert ceiling * 0.7 <= delay <= ceiling <= 300
        delays.append(delay)
    # Jitter actually spreads capped delays apart (two clients do not retry in step).
    assert len({round(d, 6) for d in delays[-50:]}) > 40


def test_long_outage_does_not_overflow() -> None:
    backoff = Backoff(base=1, factor=10, cap=300, jitter=0)
    for _ in range(5000):
        backoff.next_delay()
    assert backoff.next_delay() == 300


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": 10, "cap": 5},
        {"base": -1},
        {"factor": 0.5},
        {"jitter": 1.5},
        {"jitter": -0.1},
    ],
)
def test_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="back-off"):
        Backoff(**kwargs)


def test_the_app_copy_stays_in_step() -> None:
    """The app ships its own copy (it is installed without the integration): same arithmetic."""
    for name in ("peek", "next_delay", "reset"):
        assert inspect.getsource(getattr(AppBackoff, name)) == inspect.getsource(
            getattr(Backoff, name)
        )
    draws = iter([0.0, 0.5, 0.99, 0.25] * 4)
    ours = Backoff(base=0.5, factor=3, cap=30, jitter=0.4, rand=lambda: next(draws))
    draws_app = iter([0.0, 0.5, 0.99, 0.25] * 4)
    theirs = AppBackoff(base=0.5, factor=3, cap=30, jitter=0.4, rand=lambda: next(draws_app))
    assert [ours.next_delay() for _ in range(8)] == [theirs.next_delay() for _ in range(8)]
    with pytest.raises(ValueError, match="invalid back-off parameters"):
        AppBackoff(base=2, cap=1)

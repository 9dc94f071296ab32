"""Seeded value noise: deterministic, bounded and smooth."""

from __future__ import annotations

import itertools
import math

import pytest

from custom_components.sunstream.pysunstream.simulator.noise import value_noise

PERIOD = 300.0


def test_same_inputs_same_value() -> None:
    for seconds in (0.0, 1.5, 1_780_000_000.25, -42.0):
        first = value_noise("seed", "cloud", seconds, PERIOD)
        assert value_noise("seed", "cloud", seconds, PERIOD) == first


def test_value_does_not_depend_on_sampling_history() -> None:
    times = [1_780_000_000 + 37.5 * i for i in range(200)]
    forward = [value_noise("s", "c", t, PERIOD) for t in times]
    backward = [value_noise("s", "c", t, PERIOD) for t in reversed(times)]
    assert forward == backward[::-1]


def test_range_is_zero_to_one() -> None:
    values = [value_noise("s", "c", -50_000 + 13.7 * i, PERIOD) for i in range(10_000)]
    assert all(0 <= v < 1 for v in values)
    # It does wander over most of the range.
    assert min(values) < 0.1
    assert max(values) > 0.9


def test_lattice_values_are_roughly_uniform() -> None:
    # At whole multiples of the period the value is one hashed draw.
    draws = [value_noise("uniform", "c", k * PERIOD, PERIOD) for k in range(4000)]
    mean = sum(draws) / len(draws)
    assert mean == pytest.approx(0.5, abs=0.03)
    below_quarter = sum(d < 0.25 for d in draws) / len(draws)
    assert below_quarter == pytest.approx(0.25, abs=0.03)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("seed-a", "cloud"), ("seed-b", "cloud")),
        (("seed", "cloud"), ("seed", "load")),
    ],
)
def test_seed_and_channel_each_change_the_process(a: tuple[str, str], b: tuple[str, str]) -> None:
    times = [1_780_000_000 + PERIOD * 0.37 * i for i in range(50)]
    first = [value_noise(*a, t, PERIOD) for t in times]
    second = [value_noise(*b, t, PERIOD) for t in times]
    assert sum(x != y for x, y in zip(first, second, strict=True)) >= 45


def test_continuous_with_bounded_slope() -> None:
    # Cosine easing between draws in [0, 1): |dv/dt| ≤ π / (2 · period).
    bound = math.pi / (2 * PERIOD)
    dt = 0.5
    t = 1_780_000_000.0
    worst = 0.0
    for _ in range(6000):
        change = abs(value_noise("s", "c", t + dt, PERIOD) - value_noise("s", "c", t, PERIOD))
        worst = max(worst, change / dt)
        t += 1.3
    assert worst <= bound * (1 + 1e-6)
    assert worst > 0


def test_continuous_across_bucket_boundaries() -> None:
    for k in range(-5, 50):
        edge = k * PERIOD
        left = value_noise("s", "edge", edge - 1e-6, PERIOD)
        right = value_noise("s", "edge", edge, PERIOD)
        assert left == pytest.approx(right, abs=1e-7)


def test_monotone_within_each_bucket() -> None:
    for k in range(30):
        samples = [value_noise("s", "mono", (k + i / 40) * PERIOD, PERIOD) for i in range(41)]
        steps = [b - a for a, b in itertools.pairwise(samples)]
        assert all(s >= 0 for s in steps) or all(s <= 0 for s in steps)


def test_period_stretches_time() -> None:
    for i in range(100):
        t = 123.4 * i
        assert value_noise("s", "c", t, 60) == pytest.approx(value_noise("s", "c", 10 * t, 600))


def test_flat_at_each_draw() -> None:
    # Cosine easing leaves and reaches each draw with zero slope, so the
    # process has no kinks: near a lattice point the change is second order,
    # |v(k·p ± δ) − v(k·p)| ≤ (π·δ/p)² / 4.
    delta = 0.01 * PERIOD
    bound = (math.pi * delta / PERIOD) ** 2 / 4
    for k in range(1, 200):
        at_draw = value_noise("s", "flat", k * PERIOD, PERIOD)
        for side in (-delta, delta):
            change = abs(value_noise("s", "flat", k * PERIOD + side, PERIOD) - at_draw)
            assert change <= bound + 1e-12

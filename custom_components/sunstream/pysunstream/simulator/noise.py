"""Smooth, seeded pseudo-random processes that are pure functions of time.

Weather and household behaviour must look random yet come out identical for
the same seed and clock, whatever the poll rate or restart history. So a
process is value noise: one hashed random number per bucket of ``period``
seconds, eased between buckets with a cosine. The value at a given instant
never depends on when it was last sampled.
"""

from __future__ import annotations

import hashlib
import math


def _lattice(seed: str, channel: str, index: int) -> float:
    digest = hashlib.blake2b(f"{seed}/{channel}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


def value_noise(seed: str, channel: str, seconds: float, period: float) -> float:
    """A value in ``[0, 1)`` that drifts smoothly with ``seconds``."""
    position = seconds / period
    index = math.floor(position)
    ease = (1 - math.cos((position - index) * math.pi)) / 2
    a = _lattice(seed, channel, index)
    b = _lattice(seed, channel, index + 1)
    return a + (b - a) * ease

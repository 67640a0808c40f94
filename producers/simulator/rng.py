"""Deterministic random streams, one per purpose and dossier.

Each decision draws from its own stream keyed by ``(seed, purpose, dossier, ...)``, so changing
one rate changes only the decisions of that kind: the arrivals, lifecycles and other faults of the
same seed stay as they were. Keys are hashed (BLAKE2b), never Python's salted ``hash()``.
"""

from __future__ import annotations

import hashlib
import math
import random


def _key(seed: int, parts: tuple[object, ...]) -> int:
    text = "\x1f".join(map(str, (seed, *parts)))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def stream(seed: int, *parts: object) -> random.Random:
    """A ``random.Random`` of its own for ``parts`` (e.g. ``"lifecycle", 42``)."""
    return random.Random(_key(seed, parts))


def chance(seed: int, *parts: object) -> float:
    """One uniform draw in [0, 1) for ``parts``, cheaper than a whole stream."""
    return _key(seed, parts) / 2**64


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    """Many short values, a few long ones: how lags and delays are spread in practice."""
    if low <= 0 or high <= low:
        return low
    return math.exp(rng.uniform(math.log(low), math.log(high)))

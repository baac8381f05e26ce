"""The anchor workload shared by the LDP tests and the anchor benchmark against multi-freq-ldpy.

Users' values drawn with frequencies ∝ 1, 2, …, k (a skewed but full-support
distribution), and the one adaptation the reference library needs on current ``xxhash``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def skewed_values(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` values in 0 … k−1 with probabilities ∝ 1, 2, …, k."""
    w = np.arange(1, k + 1, dtype=float)
    return rng.choice(k, size=n, p=w / w.sum())


def encoded_xxh32(real: Callable[..., Any]) -> Callable[..., Any]:
    """multi-freq-ldpy hashes ``str`` values, which xxhash >= 3 refuses: encode them first (same hash)."""
    return lambda s, seed: real(s.encode(), seed=int(seed) % 2**32)

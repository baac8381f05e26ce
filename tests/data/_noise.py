"""A shared check for the noise-scale tests of the data layer's DP releases."""

from __future__ import annotations

import numpy as np
from scipy import stats


def assert_gaussian_scale(draws: np.ndarray, sigma2: float) -> None:
    """Noise draws (noisy − true) have variance ``sigma2`` (χ², 99.9%) and mean zero (4 se)."""
    draws = np.asarray(draws, dtype=np.float64).ravel()
    k = draws.size - 1
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], k) / k
    assert lo < draws.var(ddof=1) / sigma2 < hi
    assert abs(draws.mean()) < 4 * np.sqrt(sigma2 / draws.size)

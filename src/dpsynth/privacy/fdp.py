"""f-DP for Gaussian compositions: μ-GDP, trade-off curve, ε(δ) and the separation κ.

Gaussian differential privacy (Dong, Roth, Su 2022): a mechanism is μ-GDP when telling
neighbouring datasets apart is at least as hard as telling N(0, 1) from N(μ, 1). Its
trade-off curve (type II error as a function of type I error α) is
f(α) = Φ(Φ⁻¹(1 − α) − μ). Gaussian mechanisms compose as μ = √(Σ μᵢ²).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special, stats

from dpsynth.errors import check_positive

_SQRT2 = math.sqrt(2.0)


def _phi(x: float | np.ndarray) -> float | np.ndarray:
    return 0.5 * special.erfc(-np.asarray(x, dtype=np.float64) / _SQRT2)


def tradeoff(alpha: float | np.ndarray, mu: float) -> np.ndarray:
    """The μ-GDP trade-off curve f(α) = Φ(Φ⁻¹(1 − α) − μ).

    Args:
        alpha: Type I error(s) in [0, 1].
        mu: The GDP parameter (≥ 0).

    Returns:
        The smallest achievable type II error at each α.
    """
    check_positive(mu, "mu", "tradeoff", allow_zero=True)
    a = np.clip(np.asarray(alpha, dtype=np.float64), 0.0, 1.0)
    return np.asarray(stats.norm.cdf(stats.norm.ppf(1.0 - a) - mu))


def separation(mu: float) -> float:
    """κ: the largest distance between the trade-off curve and the random-guessing line.

    κ = max over α of (1 − α − f(α)) / √2 = (2Φ(μ/2) − 1) / √2, attained at α = Φ(−μ/2).
    It is 0 for perfect privacy and tends to 1/√2 as μ grows.
    """
    check_positive(mu, "mu", "separation", allow_zero=True)
    return float((2.0 * _phi(mu / 2.0) - 1.0) / _SQRT2)


def delta_for_epsilon(epsilon: float, mu: float) -> float:
    """The tight δ(ε) of μ-GDP: Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2) (Dong et al., Cor. 2.13)."""
    check_positive(mu, "mu", "delta_for_epsilon")
    check_positive(epsilon, "epsilon", "delta_for_epsilon", allow_zero=True)
    a = float(_phi(-epsilon / mu + mu / 2.0))
    # e^ε Φ(x) computed in log space so that large ε does not overflow.
    b = math.exp(epsilon + float(stats.norm.logcdf(-epsilon / mu - mu / 2.0)))
    return max(0.0, a - b)


def epsilon_for_delta(delta: float, mu: float) -> float:
    """The smallest ε such that μ-GDP implies (ε, δ)-DP."""
    check_positive(delta, "delta", "epsilon_for_delta")
    check_positive(mu, "mu", "epsilon_for_delta")
    if delta_for_epsilon(0.0, mu) <= delta:
        return 0.0
    hi = 1.0
    while delta_for_epsilon(hi, mu) > delta:
        hi *= 2.0
    return float(optimize.brentq(lambda e: delta_for_epsilon(e, mu) - delta, 0.0, hi, xtol=1e-12))


def mu_for_epsilon(epsilon: float, delta: float) -> float:
    """The largest μ such that μ-GDP implies (ε, δ)-DP (to calibrate Gaussian noise)."""
    check_positive(epsilon, "epsilon", "mu_for_epsilon")
    check_positive(delta, "delta", "mu_for_epsilon")
    hi = 1.0
    while delta_for_epsilon(epsilon, hi) < delta:
        hi *= 2.0
    return float(
        optimize.brentq(lambda m: delta_for_epsilon(epsilon, m) - delta, 1e-9, hi, xtol=1e-12)
    )


def compose(mus: list[float] | np.ndarray) -> float:
    """μ of the composition of Gaussian mechanisms with parameters ``mus``."""
    return float(np.sqrt(np.sum(np.square(np.asarray(mus, dtype=np.float64)))))


def tradeoff_from_profile(
    alpha: float | np.ndarray, epsilons: np.ndarray | list[float], deltas: np.ndarray | list[float]
) -> np.ndarray:
    """The trade-off curve implied by a privacy profile δ(ε) known on a grid of ε ≥ 0.

    A mechanism that is (ε, δ(ε))-DP for every ε is f-DP with
    f(α) = sup_ε max(0, 1 − δ(ε) − e^ε α, e^{−ε}(1 − δ(ε) − α))
    (Dong, Roth, Su 2022, Prop. 2.12). Taking the supremum over a finite grid only lowers
    f, so the curve is a sound (slightly conservative) guarantee.

    Args:
        alpha: Type I error(s) in [0, 1].
        epsilons: Grid of ε ≥ 0.
        deltas: δ(ε) at each grid point (e.g. from a privacy-loss distribution).

    Returns:
        The type II error lower bound at each α.
    """
    a = np.clip(np.asarray(alpha, dtype=np.float64), 0.0, 1.0)[:, None]
    e = np.asarray(epsilons, dtype=np.float64)[None, :]
    d = np.clip(np.asarray(deltas, dtype=np.float64), 0.0, 1.0)[None, :]
    one = 1.0 - d - np.exp(np.minimum(e, 700.0)) * a
    two = np.exp(-e) * (1.0 - d - a)
    out = np.max(np.maximum(0.0, np.maximum(one, two)), axis=1)
    return np.asarray(out if np.ndim(alpha) else out[0])


def separation_of_curve(alpha: np.ndarray, beta: np.ndarray) -> float:
    """κ of a numerically given trade-off curve: max over α of (1 − α − f(α)) / √2."""
    gap = 1.0 - np.asarray(alpha, dtype=np.float64) - np.asarray(beta, dtype=np.float64)
    return float(max(0.0, float(np.max(gap))) / _SQRT2)

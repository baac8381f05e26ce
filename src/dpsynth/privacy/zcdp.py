"""Conversions between zero-concentrated DP (ρ-zCDP) and (ε, δ)-DP.

Uses the tight conversion of Canonne, Kamath, Steinke (2020), Prop. 12 (also Asoodeh et al.):
ρ-zCDP implies (ε, δ)-DP with
δ = inf over α > 1 of exp((α − 1)(αρ − ε)) / (α − 1) · (1 − 1/α)^α,
which is the conversion the AIM and MST papers budget with.
"""

from __future__ import annotations

import functools
import math

from scipy import optimize

from dpsynth.errors import InvalidParameterError, check_positive


def delta_for(rho: float, epsilon: float) -> float:
    """The δ at which ρ-zCDP gives (ε, δ)-DP."""
    check_positive(rho, "rho", "zcdp.delta_for", allow_zero=True)
    check_positive(epsilon, "epsilon", "zcdp.delta_for", allow_zero=True)
    if rho == 0.0:
        return 0.0

    def log_delta(alpha: float) -> float:
        return (
            (alpha - 1.0) * (alpha * rho - epsilon)
            + alpha * math.log1p(-1.0 / alpha)
            - math.log(alpha - 1.0)
        )

    # log δ(α) is convex in α; its minimiser lies in (1, (ε + 1)/(2ρ) + 2).
    hi = (epsilon + 1.0) / (2.0 * rho) + 2.0
    res = optimize.minimize_scalar(
        log_delta, bounds=(1.0 + 1e-9, hi), method="bounded", options={"xatol": 1e-10}
    )
    return float(min(1.0, math.exp(min(0.0, res.fun))))


@functools.lru_cache(maxsize=1024)
def epsilon_for(rho: float, delta: float) -> float:
    """The smallest ε such that ρ-zCDP implies (ε, δ)-DP."""
    check_positive(rho, "rho", "zcdp.epsilon_for", allow_zero=True)
    _check_delta(delta)
    if rho == 0.0:
        return 0.0
    hi = rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta)) + 1.0  # the simple bound, an upper end
    if delta_for(rho, 0.0) <= delta:
        return 0.0
    return float(optimize.brentq(lambda e: delta_for(rho, e) - delta, 0.0, hi, xtol=1e-12))


@functools.lru_cache(maxsize=1024)
def rho_for(epsilon: float, delta: float) -> float:
    """The largest ρ such that ρ-zCDP implies (ε, δ)-DP (the budget a zCDP method may spend)."""
    check_positive(epsilon, "epsilon", "zcdp.rho_for")
    _check_delta(delta)
    hi = epsilon  # ρ ≤ ε always suffices as an upper end: δ(ε, ρ=ε) > any useful δ
    while delta_for(hi, epsilon) < delta:
        hi *= 2.0
    return float(
        optimize.brentq(lambda r: delta_for(r, epsilon) - delta, 1e-15, hi, xtol=1e-15, rtol=1e-12)
    )


def _check_delta(delta: float) -> None:
    if isinstance(delta, bool) or not isinstance(delta, int | float) or not 0.0 < delta < 1.0:
        raise InvalidParameterError(
            f"zCDP accounting needs 0 < delta < 1. Got delta={delta!r}; pure ε-DP (delta=0) is not "
            "reachable with Gaussian noise."
        )

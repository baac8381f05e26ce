"""The privacy arithmetic of Private Evolution.

Each PE round releases one vote histogram; one private record moves one bin by one vote,
so the histogram has L2 sensitivity 1 and continuous Gaussian noise of standard deviation σ
would make it (1/σ)-GDP; T rounds would compose to μ-GDP with μ = √T/σ (Dong, Roth, Su 2022,
Cor. 3.3), the accounting of Lin et al. (ICLR 2024, Sec. 4.3) and of the Aug-PE budget
notebook. dpsynth's votes get *discrete* Gaussian noise, which is close to but not exactly
GDP, so the μ-GDP formulas here are a planning approximation.

Two calibrations live here:

* :func:`sigma_for_epsilon` — σ from the exact μ-GDP curve (what the PE papers use);
* :func:`sigma_for_rho` — σ from a zCDP budget ρ, which is how dpsynth's
  :class:`~dpsynth.privacy.Accountant` composes and refuses charges. A fit charges in the
  accountant's currency, so it uses this one; its privacy report also states ``epsilon_gdp``,
  the ε at δ of the exact privacy-loss distribution of the discrete-Gaussian rounds, which is
  smaller than the headline zCDP ε.
"""

from __future__ import annotations

import math

from dpsynth.errors import InvalidParameterError, check_positive
from dpsynth.privacy import fdp


def _check_rounds(rounds: object) -> int:
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InvalidParameterError(f"The 'rounds' parameter of Private Evolution must be an integer >= 1. Got {rounds!r}.")
    return rounds


def mu_for_sigma(sigma: float, rounds: int) -> float:
    """μ of ``rounds`` unit-sensitivity Gaussian histograms at noise σ: √T/σ."""
    check_positive(sigma, "sigma", "mu_for_sigma")
    return math.sqrt(_check_rounds(rounds)) / sigma


def epsilon_for_sigma(sigma: float, rounds: int, delta: float) -> float:
    """ε at δ of ``rounds`` PE rounds at noise σ (exact μ-GDP conversion)."""
    return fdp.epsilon_for_delta(delta, mu_for_sigma(sigma, rounds))


def sigma_for_epsilon(epsilon: float, delta: float, rounds: int) -> float:
    """The σ for which ``rounds`` PE rounds are exactly (ε, δ)-DP through μ-GDP."""
    return math.sqrt(_check_rounds(rounds)) / fdp.mu_for_epsilon(epsilon, delta)


def sigma_for_rho(rho: float, rounds: int) -> float:
    """The σ for which ``rounds`` unit-sensitivity Gaussian releases cost ρ in zCDP: √(T/(2ρ))."""
    check_positive(rho, "rho", "sigma_for_rho")
    return math.sqrt(_check_rounds(rounds) / (2.0 * rho))


def aug_pe_delta(n: int | float) -> float:
    """The δ = 1/(N ln N) the Aug-PE experiments use for a private set of N records."""
    check_positive(n, "n", "aug_pe_delta")
    if n <= math.e:
        raise InvalidParameterError(f"aug_pe_delta needs N > e. Got {n!r}.")
    return 1.0 / (n * math.log(n))

"""PE's budget arithmetic: the Aug-PE notebook's figures, cross-checked with PLD."""

import math

import dp_accounting
import pytest

from dpsynth.errors import InvalidParameterError
from dpsynth.pe import accounting
from dpsynth.privacy import GaussianMechanism, PrivacyBudget, zcdp
from dpsynth.privacy.accounting import Accountant, pld_epsilon

# (σ, T, N) → ε at δ = 1/(N ln N), from the Aug-PE budget notebook (Xie et al., ICML 2024).
AUG_PE = [(11.60, 10, 8_396, 1.000), (13.26, 10, 75_316, 0.999), (15.34, 10, 1_940_000, 1.0045)]


@pytest.mark.parametrize(("sigma", "rounds", "n", "epsilon"), AUG_PE)
def test_aug_pe_budget_vectors(sigma, rounds, n, epsilon):
    delta = accounting.aug_pe_delta(n)
    assert delta == pytest.approx(1 / (n * math.log(n)))
    got = accounting.epsilon_for_sigma(sigma, rounds, delta)
    assert got == pytest.approx(epsilon, abs=6e-4)
    # Second method: dp-accounting's PLD accountant on T Gaussian events (tight up to its
    # discretisation, so it may only exceed the exact GDP figure by a little).
    pld = pld_epsilon([dp_accounting.GaussianDpEvent(sigma)] * rounds, delta)
    assert pld == pytest.approx(got, abs=5e-3)


@pytest.mark.parametrize(("epsilon", "delta", "rounds"), [(1.0, 1e-5, 10), (4.0, 1e-6, 5), (10.0, 1e-9, 20)])
def test_sigma_for_epsilon_inverts_epsilon_for_sigma(epsilon, delta, rounds):
    sigma = accounting.sigma_for_epsilon(epsilon, delta, rounds)
    assert accounting.epsilon_for_sigma(sigma, rounds, delta) == pytest.approx(epsilon, rel=1e-6)
    assert accounting.mu_for_sigma(sigma, rounds) == pytest.approx(math.sqrt(rounds) / sigma)


def test_sigma_for_rho_fills_the_accountant_exactly():
    budget = PrivacyBudget(1.0, 1e-6)
    rounds = 7
    sigma = accounting.sigma_for_rho(budget.rho, rounds)
    acc = Accountant(budget)
    for _ in range(rounds):
        acc.charge(GaussianMechanism(sigma), step="pe.votes")
    assert acc.epsilon() == pytest.approx(1.0, rel=1e-6)
    report = acc.report()
    # μ now summarises the exact discrete-Gaussian PLD (cross-checked against a brute-force
    # sum in tests/privacy/test_accounting.py): close to, not exactly, the continuous √T/σ.
    assert report.mu == pytest.approx(math.sqrt(rounds) / sigma, rel=1e-4)
    # zCDP calibration is conservative: the exact GDP ε of the same σ is lower, and GDP
    # calibration would allow a smaller σ.
    assert report.epsilon_gdp < report.epsilon
    assert accounting.sigma_for_epsilon(1.0, 1e-6, rounds) < sigma
    assert zcdp.epsilon_for(rounds / (2 * sigma**2), 1e-6) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_rounds_and_sigma(bad):
    with pytest.raises(InvalidParameterError, match="rounds"):
        accounting.mu_for_sigma(1.0, bad)
    with pytest.raises(InvalidParameterError):
        accounting.epsilon_for_sigma(-1.0, 3, 1e-6)
    with pytest.raises(InvalidParameterError, match="epsilon"):
        accounting.sigma_for_epsilon(0.0, 1e-6, 3)

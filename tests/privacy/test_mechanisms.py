import math

import dp_accounting
import numpy as np
import pytest
from scipy import stats

from dpsynth.errors import InvalidParameterError
from dpsynth.privacy import ExponentialMechanism, GaussianMechanism, LaplaceMechanism, NoiseSource


def test_gaussian_mechanism_noise_is_at_the_claimed_scale():
    mech = GaussianMechanism(sigma=5.0)
    counts = np.full(200_000, 17.0)
    noisy = mech.release(counts, NoiseSource(0))
    resid = noisy - counts
    # Variance of the discrete Gaussian at sigma=5 equals 25 up to ~1e-100; standard error of
    # the sample variance is sigma² * sqrt(2/n).
    se = 25.0 * math.sqrt(2 / resid.size)
    assert abs(resid.var() - 25.0) < 4 * se
    assert abs(resid.mean()) < 4 * 5.0 / math.sqrt(resid.size)


def test_gaussian_mechanism_costs():
    mech = GaussianMechanism(sigma=2.0, sensitivity=1.0)
    assert mech.rho == pytest.approx(1 / 8)
    assert mech.mu == pytest.approx(0.5)
    assert isinstance(mech.event, dp_accounting.GaussianDpEvent)
    assert mech.event.noise_multiplier == pytest.approx(2.0)


def test_real_valued_gaussian_charges_the_lattice_snapping():
    mech = GaussianMechanism(sigma=2.0, integer=False, dim=10_000)
    assert mech.effective_sensitivity > 1.0
    assert mech.effective_sensitivity < 1.0 + 1e-3
    x = np.linspace(0, 1, 10_000)
    resid = mech.release(x, NoiseSource(1)) - x
    assert stats.kstest(resid, "norm", args=(0, 2.0)).pvalue > 1e-3


def test_discrete_mechanisms_refuse_non_integer_queries():
    with pytest.raises(InvalidParameterError):
        GaussianMechanism(sigma=1.0).release(np.array([0.5]), NoiseSource(0))
    with pytest.raises(InvalidParameterError):
        LaplaceMechanism(scale=1.0).release(np.array([0.5]), NoiseSource(0))


def test_laplace_mechanism_noise_and_cost():
    mech = LaplaceMechanism(scale=2.0, sensitivity=1.0)
    assert mech.epsilon == pytest.approx(0.5)
    assert mech.rho == pytest.approx(0.125)
    resid = mech.release(np.zeros(100_000), NoiseSource(2))
    # Discrete Laplace with P(x) ∝ exp(-|x|/2): variance 2e^{-1/2}/(1-e^{-1/2})².
    p = math.exp(-0.5)
    var = 2 * p / (1 - p) ** 2
    se = math.sqrt((np.mean(resid**4) - var**2) / resid.size)
    assert abs(resid.var() - var) < 4 * se


def test_exponential_mechanism_selects_with_softmax_probabilities():
    mech = ExponentialMechanism(epsilon=1.0, sensitivity=1.0)
    scores = np.array([0.0, 1.0, 2.0, 4.0])
    noise = NoiseSource(3)
    picks = np.array([mech.select(scores, noise) for _ in range(20_000)])
    probs = np.exp(scores / 2) / np.exp(scores / 2).sum()
    observed = np.bincount(picks, minlength=4)
    assert stats.chisquare(observed, probs * picks.size).pvalue > 1e-3
    assert mech.rho == pytest.approx(1 / 8)
    assert ExponentialMechanism.from_rho(mech.rho).epsilon == pytest.approx(1.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianMechanism(sigma=0),
        lambda: GaussianMechanism(sigma=-1),
        lambda: GaussianMechanism(sigma=1, sensitivity=float("nan")),
        lambda: LaplaceMechanism(scale=0),
        lambda: ExponentialMechanism(epsilon=0),
        lambda: ExponentialMechanism(epsilon=-2),
    ],
)
def test_bad_parameters_are_refused(make):
    with pytest.raises(InvalidParameterError, match="must be"):
        make()


def test_exponential_mechanism_refuses_empty_or_nan_scores():
    mech = ExponentialMechanism(epsilon=1.0)
    with pytest.raises(InvalidParameterError):
        mech.select(np.array([]), NoiseSource(0))
    with pytest.raises(InvalidParameterError):
        mech.select(np.array([1.0, np.nan]), NoiseSource(0))

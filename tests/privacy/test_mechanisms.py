import math

import dp_accounting
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dpsynth.errors import InvalidParameterError
from dpsynth.privacy import ExponentialMechanism, GaussianMechanism, LaplaceMechanism, NoiseSource
from dpsynth.privacy.mechanisms import DiscreteGaussianDpEvent


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
    assert mech.mu is None  # the discrete Gaussian is not exactly 0.5-GDP
    assert mech.event == DiscreteGaussianDpEvent(sigma=2.0, shifts=1)
    assert isinstance(mech.event, dp_accounting.DpEvent)


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


# -- the exact discrete-Gaussian tail -------------------------------------------------------------
def _exact_tail(sigma, k, digits=60):
    """P(Z ≥ k) by summing the discrete Gaussian's mass function in 60-digit decimals (independent)."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = digits
        n = int(60 * sigma) + 60  # mass beyond is below exp(-1800)
        s2 = 2 * Decimal(repr(sigma)) ** 2
        w = {x: (-(Decimal(x) ** 2) / s2).exp() for x in range(-n, n + 1)}
        return float(sum(v for x, v in w.items() if x >= k) / sum(w.values()))


@pytest.mark.parametrize("sigma", [0.3, 0.47, 1.0, 2.0, 9.117, 40.0])
def test_discrete_gaussian_tail_is_the_exact_sum_of_the_mass_function(sigma):
    from dpsynth.privacy.mechanisms import discrete_gaussian_tail

    for k in sorted({-3, 0, 1, 2, int(3 * sigma) + 1, int(7 * sigma) + 2}):
        assert discrete_gaussian_tail(sigma, k) == pytest.approx(_exact_tail(sigma, k), rel=1e-12, abs=1e-300)
    if sigma < 1:  # far from the continuous tail there (orders of magnitude)
        k = int(3 * sigma) + 1
        assert discrete_gaussian_tail(sigma, k) != pytest.approx(stats.norm.sf(k - 1, scale=sigma), rel=0.5)


@pytest.mark.parametrize("sigma", [0.3, 0.47, 0.9, 2.0, 9.117, 40.0])
@pytest.mark.parametrize("delta", [1e-10, 1.7e-11, 1e-6])
def test_discrete_gaussian_threshold_is_the_smallest_k_with_tail_at_most_delta(sigma, delta):
    from dpsynth.privacy.mechanisms import discrete_gaussian_threshold

    k = discrete_gaussian_threshold(sigma, delta)
    assert _exact_tail(sigma, k) <= delta < _exact_tail(sigma, k - 1)


def test_discrete_gaussian_threshold_refuses_bad_input():
    from dpsynth.privacy.mechanisms import discrete_gaussian_tail, discrete_gaussian_threshold

    for bad in (lambda: discrete_gaussian_threshold(0.0, 1e-9), lambda: discrete_gaussian_threshold(1.0, 0.0),
                lambda: discrete_gaussian_threshold(1.0, 1.5), lambda: discrete_gaussian_tail(-1.0, 3)):
        with pytest.raises(InvalidParameterError):
            bad()


_SCORES = st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(
    scores=_SCORES,
    slack=st.lists(st.one_of(st.floats(0, 1e4), st.just(0.0), st.just(math.inf)), min_size=40, max_size=40),
    ties=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    epsilon=st.floats(1e-3, 10.0),
)
def test_lazy_selection_picks_what_full_selection_picks(scores, slack, ties, seed, epsilon):
    # Any valid bounds (u ≥ q, some tight, some infinite), ties included: the same index
    # for the same noise, and the noise source is left in the same state.
    q = np.round(np.array(scores), 0 if ties else 6)
    upper = q + np.array(slack[: q.size])
    mech = ExponentialMechanism(epsilon=epsilon, sensitivity=2.0)
    full_noise, lazy_noise = NoiseSource(seed), NoiseSource(seed)
    full = mech.select(q, full_noise)
    asked: list[int] = []

    def score(i: int) -> float:
        asked.append(i)
        return float(q[i])

    lazy, evaluated = mech.select_lazy(upper, score, lazy_noise)
    assert lazy == full
    assert evaluated == len(asked) == len(set(asked))
    assert full_noise.uniform(3).tolist() == lazy_noise.uniform(3).tolist()


def test_lazy_selection_skips_candidates_bounded_out_and_survives_wrong_bounds():
    mech = ExponentialMechanism(epsilon=1.0)
    q = np.array([0.0] * 50 + [500.0])
    asked: list[int] = []
    idx, evaluated = mech.select_lazy(q + 1.0, lambda i: (asked.append(i), float(q[i]))[1], NoiseSource(4))
    # Gumbel noise of scale 2 cannot bridge a gap of 250 in the logits: one score suffices.
    assert (idx, evaluated, asked) == (50, 1, [50])
    # Bounds found wrong (a score above its bound) make it score everything.
    low = q - 1.0
    idx, evaluated = mech.select_lazy(low, lambda i: float(q[i]), NoiseSource(4))
    assert (idx, evaluated) == (50, 51)
    assert idx == mech.select(q, NoiseSource(4))


def test_lazy_selection_refuses_bad_input():
    mech = ExponentialMechanism(epsilon=1.0)
    with pytest.raises(InvalidParameterError):
        mech.select_lazy(np.array([]), lambda i: 0.0, NoiseSource(0))
    with pytest.raises(InvalidParameterError):
        mech.select_lazy(np.array([1.0, np.nan]), lambda i: 0.0, NoiseSource(0))
    with pytest.raises(InvalidParameterError):
        mech.select_lazy(np.array([np.inf]), lambda i: np.nan, NoiseSource(0))


@settings(max_examples=100, deadline=None)
@given(
    scores=_SCORES,
    excluded=st.lists(st.booleans(), min_size=40, max_size=40),
    seed=st.integers(0, 2**32 - 1),
    epsilon=st.floats(1e-3, 10.0),
)
def test_excluded_candidates_are_never_selected_lazily_or_not(scores, excluded, seed, epsilon):
    # A score of -inf excludes a candidate (a public restriction such as AIM's size limit):
    # both paths skip it and agree on the rest, drawing the same noise.
    q = np.array(scores)
    out = np.array(excluded[: q.size])
    out[int(np.argmin(q))] = False  # at least one candidate left
    q_ex = np.where(out, -np.inf, q)
    mech = ExponentialMechanism(epsilon=epsilon, sensitivity=1.0)
    full_noise, lazy_noise = NoiseSource(seed), NoiseSource(seed)
    full = mech.select(q_ex, full_noise)
    lazy, _ = mech.select_lazy(q + 1.0, lambda i: float(q_ex[i]), lazy_noise)
    assert full == lazy and not out[full]
    assert full_noise.uniform(2).tolist() == lazy_noise.uniform(2).tolist()


def test_exclusion_leaves_the_others_at_their_exponential_mechanism_odds():
    # Candidates 0..3 with scores 0, 1, 2, 3 and ε = 2 (Δ = 1): among 0, 2, 3 alone the
    # probabilities are ∝ e^0, e^2, e^3; candidate 1 is excluded and never picked.
    mech = ExponentialMechanism(epsilon=2.0)
    q = np.array([0.0, -np.inf, 2.0, 3.0])
    noise = NoiseSource(11)
    n = 20_000
    picks = np.bincount([mech.select(q, noise) for _ in range(n)], minlength=4)
    p = np.exp([0.0, 2.0, 3.0]) / np.exp([0.0, 2.0, 3.0]).sum()
    assert picks[1] == 0
    assert stats.chisquare(picks[[0, 2, 3]], n * p).pvalue > 1e-4


def test_all_candidates_excluded_is_a_clear_error():
    mech = ExponentialMechanism(epsilon=1.0)
    with pytest.raises(InvalidParameterError, match="no candidate left"):
        mech.select(np.array([-np.inf, -np.inf]), NoiseSource(0))
    with pytest.raises(InvalidParameterError, match="no candidate left"):
        mech.select_lazy(np.array([1.0, 1.0]), lambda i: -math.inf, NoiseSource(0))
    with pytest.raises(InvalidParameterError, match="finite"):
        mech.select(np.array([np.inf, 0.0]), NoiseSource(0))

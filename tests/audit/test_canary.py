import math

import numpy as np
import pytest
from scipy.stats import beta, binom

from dpsynth.audit.canary import (
    audit_one_run,
    laplace_canary_release,
    one_run_epsilon,
    one_run_p_value,
)
from dpsynth.errors import InvalidParameterError


def test_one_run_pinned():
    """1,000 canaries, 100 guesses, 90 correct, 95% confidence → ε ≥ 1.6308.

    The figure is the issue's "≥ 1.63", recomputed here with the exact p-value of Steinke,
    Nasr, Jagielski (NeurIPS 2023), Theorem 5.2 as written out in their Appendix D (the
    stored copies of the paper available to us show the algorithm, not a table with this
    number). With δ = 1e-5 the δ term of the theorem lowers it to 1.6261.
    """
    assert one_run_epsilon(1000, 100, 90) == pytest.approx(1.6308232, abs=1e-6)
    assert one_run_epsilon(1000, 100, 90, delta=1e-5) == pytest.approx(1.6261435, abs=1e-6)


def test_one_run_cross_checked():
    # Second method (δ = 0): the bound is the logit of the one-sided 95% Clopper-Pearson
    # lower bound on the guess accuracy, since P[Bin(r, q) >= v] = 0.05 defines both.
    q = beta.ppf(0.05, 90, 100 - 90 + 1)
    assert one_run_epsilon(1000, 100, 90) == pytest.approx(math.log(q / (1 - q)), abs=1e-8)
    # ... and the p-value at the bound is the level.
    eps = one_run_epsilon(1000, 100, 90)
    assert one_run_p_value(1000, 100, 90, eps) == pytest.approx(0.05, rel=1e-6)
    # The δ term by brute force: 2mδ · max_i P[v - i <= Bin < v] / i.
    qq = 1 / (1 + math.exp(-1.0))
    brute = max(
        sum(binom.pmf(j, 100, qq) for j in range(90 - i, 90)) / i for i in range(1, 91)
    )
    expected = binom.sf(89, 100, qq) + 2 * 1000 * 1e-6 * brute
    assert one_run_p_value(1000, 100, 90, 1.0, 1e-6) == pytest.approx(expected, rel=1e-9)


def test_one_run_monotone():
    assert one_run_epsilon(1000, 100, 50) == 0.0
    assert one_run_epsilon(1000, 100, 80) < one_run_epsilon(1000, 100, 90)
    assert one_run_epsilon(1000, 1000, 900) > one_run_epsilon(1000, 100, 90)
    assert one_run_epsilon(1000, 100, 90, delta=1e-3) < one_run_epsilon(1000, 100, 90)


def _canaries(seed, m=1000):
    return np.random.default_rng(seed).random(m) < 0.5


def test_negative_control_laplace_at_claimed_epsilon():
    # dpsynth's Laplace mechanism at ε = 1 on one count per canary: the bound stays <= 1 at
    # 95% confidence; over 20 independent runs it may exceed 1 in at most ~5% of them.
    over = 0
    bounds = []
    for seed in range(20):
        inc = _canaries(seed)
        scores = laplace_canary_release(inc, epsilon=1.0, random_state=100 + seed)
        res = audit_one_run(scores, inc, k_pos=50, epsilon_claimed=1.0)
        bounds.append(res.epsilon_lb)
        over += res.verdict == "violation"
    # P(Bin(20, 0.05) >= 4) = 1.6%: more than 3 exceedances means the bound is not valid.
    assert over <= 3
    # The audit has power: it finds a clearly positive bound most of the time.
    assert np.median(bounds) > 0.2


def test_positive_controls():
    inc = _canaries(1)
    # Non-private: release the inclusion bits themselves.
    res = audit_one_run(inc.astype(float), inc, k_pos=50, epsilon_claimed=1.0)
    assert res.v == res.r == 100
    assert res.epsilon_lb > 3.0 and res.verdict == "violation"
    # A bug: noise for ε = 4 while claiming ε = 1.
    scores = laplace_canary_release(inc, epsilon=4.0, random_state=5)
    res = audit_one_run(scores, inc, k_pos=100, epsilon_claimed=1.0)
    assert res.epsilon_lb > 1.0 and res.verdict == "violation"
    assert res.to_dict()["verdict"] == "violation"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scores": [], "included": []},
        {"scores": [1.0, np.nan], "included": [True, False]},
        {"scores": [1.0, 2.0], "included": [True]},
        {"scores": [1.0, 2.0], "included": ["a", "b"]},
        {"scores": [1.0, 2.0], "included": [True, False], "k_pos": 2},
        {"scores": [1.0, 2.0], "included": [True, False], "k_pos": 0, "k_neg": 0},
    ],
)
def test_bad_input(kwargs):
    kwargs.setdefault("k_pos", 1)
    with pytest.raises(InvalidParameterError):
        audit_one_run(**kwargs)


def test_bad_counts_and_levels():
    with pytest.raises(InvalidParameterError):
        one_run_epsilon(10, 20, 5)
    with pytest.raises(InvalidParameterError):
        one_run_epsilon(10, 5, 5, alpha=0.0)
    with pytest.raises(InvalidParameterError):
        one_run_p_value(10, 5, 5, -1.0)
    with pytest.raises(InvalidParameterError):
        laplace_canary_release([True], epsilon=0.0)
    with pytest.raises(InvalidParameterError):
        audit_one_run([1.0, 0.0], [True, False], k_pos=1, epsilon_claimed=0.0)

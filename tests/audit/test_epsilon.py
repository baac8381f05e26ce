import math

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from dpsynth.audit.epsilon import (
    bayesian_epsilon,
    clopper_pearson_epsilon,
    clopper_pearson_upper,
    epsilon_from_scores,
    implied_epsilon,
    max_dp_auc,
    verdict,
)
from dpsynth.errors import InvalidParameterError


def test_clopper_pearson_pinned():
    # Two-sided 95% CP interval per rate (each upper bound at 97.5%), as statsmodels'
    # proportion_confint(method="beta") used by Jagielski et al. / TAPAS.
    assert clopper_pearson_epsilon(95, 5, 5, 95, delta=0.0, alpha=0.05) == pytest.approx(
        2.0621053, abs=1e-6
    )
    # One-sided bounds at 95% would give 2.1724 (alpha=0.1 in this convention).
    assert clopper_pearson_epsilon(95, 5, 5, 95, alpha=0.1) == pytest.approx(2.1724340, abs=1e-6)


def test_clopper_pearson_cross_checked():
    u = clopper_pearson_upper(5, 100, 0.975)
    # Second method: the exact binomial CI from scipy, and the defining tail equation.
    assert u == pytest.approx(binomtest(5, 100).proportion_ci(0.95, method="exact").high, rel=1e-9)
    assert binom.cdf(5, 100, u) == pytest.approx(0.025, rel=1e-6)
    assert clopper_pearson_epsilon(95, 5, 5, 95) == pytest.approx(math.log((1 - u) / u), rel=1e-12)


def test_delta_lowers_the_bound():
    assert clopper_pearson_epsilon(95, 5, 5, 95, delta=0.1) < clopper_pearson_epsilon(95, 5, 5, 95)


def test_useless_attack_gives_zero():
    assert clopper_pearson_epsilon(50, 50, 50, 50) == 0.0
    assert bayesian_epsilon(50, 50, 50, 50) == 0.0


def test_bayesian_below_point_estimate_and_finite():
    point = implied_epsilon(0.05, 0.05)
    assert point == pytest.approx(math.log(0.95 / 0.05))
    b = bayesian_epsilon(95, 5, 5, 95, random_state=1)
    assert math.isfinite(b) and 0 < b < point
    assert b == bayesian_epsilon(95, 5, 5, 95, random_state=1)
    # Perfect separation: point estimate infinite, posterior bound finite.
    assert math.isfinite(bayesian_epsilon(100, 0, 0, 100))
    # More evidence at the same rates tightens the bound towards the point estimate.
    assert bayesian_epsilon(950, 50, 50, 950) > b


def _randomised_response(eps, n, rng):
    members = rng.random(n) < 0.5
    keep = rng.random(n) < math.exp(eps) / (1 + math.exp(eps))
    guess = np.where(keep, members, ~members)
    tp = int((guess & members).sum())
    fn = int((~guess & members).sum())
    fp = int((guess & ~members).sum())
    tn = int((~guess & ~members).sum())
    return tp, fn, fp, tn


def test_randomised_response_negative_control():
    # Randomised response on one bit is exactly eps-DP; the best test is the released bit.
    rng = np.random.default_rng(0)
    for _ in range(5):
        counts = _randomised_response(1.0, 20_000, rng)
        assert clopper_pearson_epsilon(*counts) <= 1.0
        # ...and the bound is tight, so the check has power.
        assert clopper_pearson_epsilon(*counts) > 0.85


def test_randomised_response_bayesian():
    # The Bayesian bound is a credible bound, not a frequentist one: on a lucky draw it can
    # exceed the true eps (seen: 1.009 at 20,000 trials). At the expected counts it must not.
    q = 1 / (1 + math.e)
    n = 10_000
    fn = fp = round(q * n)
    assert 0.9 < bayesian_epsilon(n - fn, fn, fp, n - fp) <= 1.0
    # Over repeated audits it exceeds the truth rarely (alpha = 5% per ordering, two orderings).
    rng = np.random.default_rng(2)
    over = sum(
        bayesian_epsilon(*_randomised_response(1.0, 4000, rng), n_samples=20_000) > 1.0
        for _ in range(40)
    )
    assert over <= 8  # P(Bin(40, 0.1) > 8) < 5%


def test_randomised_response_at_higher_epsilon_is_caught():
    counts = _randomised_response(2.0, 20_000, np.random.default_rng(1))
    assert clopper_pearson_epsilon(*counts) > 1.0
    assert verdict(clopper_pearson_epsilon(*counts), 1.0, 0.0) == "violation"


def test_threshold_choices():
    rng = np.random.default_rng(0)
    members = rng.random(400) < 0.5
    scores = members + rng.normal(0, 0.4, 400)
    scan = epsilon_from_scores(scores, members, choice="scan")
    bonf = epsilon_from_scores(scores, members, choice="bonferroni")
    hold = epsilon_from_scores(scores, members, choice="holdout", random_state=3)
    assert not scan.valid and bonf.valid and hold.valid
    assert 0 < bonf.epsilon_lb < scan.epsilon_lb
    assert 0 < hold.epsilon_lb < scan.epsilon_lb
    assert bonf.tp + bonf.fn == members.sum()
    assert hold.tp + hold.fn + hold.fp + hold.tn == 200
    bayes = epsilon_from_scores(scores, members, method="bayes")
    assert 0 < bayes.epsilon_lb < math.inf
    assert set(bonf.to_dict()) >= {"epsilon_lb", "threshold", "valid"}


def test_scores_without_signal():
    rng = np.random.default_rng(5)
    members = rng.random(300) < 0.5
    res = epsilon_from_scores(rng.normal(size=300), members)
    assert res.epsilon_lb < 0.5


def test_max_dp_auc():
    import math

    assert max_dp_auc(1.0) == pytest.approx(math.e / (1 + math.e))  # 0.731
    assert max_dp_auc(0.0) == pytest.approx(0.5)
    assert max_dp_auc(1.0, 1e-2) > max_dp_auc(1.0)
    assert max_dp_auc(50.0) == pytest.approx(1.0)
    # Brute force: area above the (ε, δ) trade-off curve.
    a = np.linspace(0, 1, 200_001)
    f = np.maximum.reduce([np.zeros_like(a), 1 - 0.05 - np.exp(0.7) * a, np.exp(-0.7) * (1 - 0.05 - a)])
    assert max_dp_auc(0.7, 0.05) == pytest.approx(1 - np.trapezoid(f, a), abs=1e-6)
    with pytest.raises(InvalidParameterError):
        max_dp_auc(-1.0)


def test_a_positive_control_with_few_games_is_not_called_consistent():
    from dpsynth.audit.metrics import evaluate_attack

    # 100 games, AUC ≈ 0.8 (beyond the 0.731 an ε = 1 mechanism allows) but no Clopper-Pearson
    # bound above 1 yet: the verdict must not be "consistent".
    rng = np.random.default_rng(0)
    members = rng.random(100) < 0.5
    scores = rng.normal(size=100) + 1.2 * members
    res = evaluate_attack(scores, members, epsilon_claimed=1.0, delta=1e-6)
    assert 0.72 < res.auc < 0.9 and res.epsilon_lb <= 1.0
    assert res.verdict == "inconclusive"


def test_verdict():
    assert verdict(2.0, 1.0, 0.5) == "violation"
    assert verdict(0.5, 1.0, 0.1) == "consistent"
    assert verdict(0.5, 1.0, 0.4) == "inconclusive"
    assert verdict(0.5, 1.0, float("nan")) == "inconclusive"
    assert verdict(0.5, 1.0, 0.1, eps_lb_max=0.9) == "inconclusive"  # no game count could show it
    assert verdict(0.5, 1.0, 0.1, eps_lb_max=2.0, auc_high=0.75) == "inconclusive"  # > 0.731
    assert verdict(0.5, 1.0, 0.1, eps_lb_max=2.0, auc_high=0.70) == "consistent"
    with pytest.raises(InvalidParameterError):
        verdict(0.5, 0.0, 0.1)


@pytest.mark.parametrize(
    "args",
    [(-1, 5, 5, 95), (0, 0, 5, 95), (95, 5, 0, 0), (95.0, 5, 5, 95)],
)
def test_bad_counts(args):
    with pytest.raises(InvalidParameterError):
        clopper_pearson_epsilon(*args)


def test_bad_levels():
    with pytest.raises(InvalidParameterError):
        clopper_pearson_epsilon(95, 5, 5, 95, alpha=1.5)
    with pytest.raises(InvalidParameterError):
        bayesian_epsilon(95, 5, 5, 95, delta=1.0)
    with pytest.raises(InvalidParameterError):
        epsilon_from_scores([1.0, 2.0], [True])

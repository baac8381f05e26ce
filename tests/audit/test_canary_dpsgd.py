"""One-run Dirac-canary audit of the DP-SGD trainer: controls, Bonferroni over k, refusals."""

import math

import numpy as np
import pytest

from dpsynth.audit import DPSGDCanaryAudit, audit_dpsgd_canaries, default_k_values, one_run_epsilon
from dpsynth.errors import DpsynthError, InvalidParameterError
from dpsynth.privacy import PrivacyBudget

BUDGET = PrivacyBudget(1.0, 1e-5)


@pytest.fixture(scope="module")
def honest() -> DPSGDCanaryAudit:
    # 1,000 canaries, q = 0.5, T = 20, σ calibrated to (1, 1e-5) by the production planner.
    return audit_dpsgd_canaries(BUDGET, random_state=7, threads=1)


@pytest.fixture(scope="module")
def misscaled() -> DPSGDCanaryAudit:
    # Same run and seed, but the trainer adds σ = 1 while the claim is for the calibrated σ (≈ 8.5).
    return audit_dpsgd_canaries(BUDGET, random_state=7, threads=1, actual_noise_multiplier=1.0)


def test_positive_control_misscaled_noise_is_a_violation(misscaled):
    assert misscaled.actual_noise_multiplier == 1.0
    assert misscaled.noise_multiplier > 5.0  # what ε = 1 needs at q = 0.5, T = 20
    assert misscaled.epsilon_claimed == pytest.approx(1.0, rel=1e-3)
    # The trainer charged what it really did (σ = 1), to its own unlimited ledger.
    assert misscaled.epsilon_charged > 10.0
    assert misscaled.verdict == "violation"
    assert misscaled.epsilon_lb > 2.0 > misscaled.epsilon_claimed
    assert "VIOLATION" in misscaled.interpretation


def test_negative_control_at_the_claimed_epsilon_is_consistent(honest):
    assert honest.actual_noise_multiplier == honest.noise_multiplier
    # The claim is the accountant's ε after the trainer's charge: the budget, spent exactly.
    assert honest.epsilon_claimed == pytest.approx(1.0, rel=1e-3)
    assert honest.epsilon_charged == honest.epsilon_claimed
    assert honest.verdict == "consistent"
    assert honest.epsilon_lb <= 1.0
    assert "does not show the claim is tight" in honest.interpretation


def test_bound_is_bonferroni_over_the_k_grid(honest):
    assert honest.k_values == default_k_values(1000) == (10, 25, 50, 100, 250, 500)
    assert [a.k_pos for a in honest.audits] == list(honest.k_values)
    level = honest.alpha / len(honest.k_values)
    for a in honest.audits:
        assert a.alpha == pytest.approx(level)
        assert a.k_neg == a.k_pos and a.r == 2 * a.k_pos and a.m == 1000
        # Each k's bound is the one-run bound of its own counts at the split level.
        assert a.epsilon_lb == pytest.approx(
            one_run_epsilon(1000, a.r, a.v, delta=1e-5, alpha=level)
        )
    assert honest.epsilon_lb == max(a.epsilon_lb for a in honest.audits)
    assert honest.audit in honest.audits


def test_deterministic_with_a_seed_and_the_seed_matters():
    kw = dict(m=200, n_ordinary=30, sample_rate=1.0, steps=5, threads=1, observe="all_steps")
    a = audit_dpsgd_canaries((2.0, 1e-5), random_state=3, **kw)
    b = audit_dpsgd_canaries((2.0, 1e-5), random_state=3, **kw)
    c = audit_dpsgd_canaries((2.0, 1e-5), random_state=4, **kw)
    assert a.audits == b.audits and a.noise_multiplier == b.noise_multiplier
    assert [x.v for x in a.audits] != [x.v for x in c.audits]


def test_clipping_engines_agree_on_the_canaries():
    # The canary gradients are exactly C·e_j, so every engine gives the same run.
    kw = dict(m=100, sample_rate=1.0, steps=3, threads=1, random_state=11)
    ghost = audit_dpsgd_canaries((3.0, 1e-5), **kw)
    oracle = audit_dpsgd_canaries((3.0, 1e-5), grad_sample_mode="functorch", **kw)
    assert [x.v for x in ghost.audits] == [x.v for x in oracle.audits]


def test_zero_noise_full_batch_guesses_everything_right():
    # A sanity check of the wiring: σ tiny, q = 1 → included canaries score ~2C/B, excluded ~0,
    # so all 2k guesses are right (k = 30 < the ~50 included and ~50 excluded canaries), and the
    # bound is the one-run bound of 60 right out of 60 at the full level (a single k).
    res = audit_dpsgd_canaries(
        (1.0, 1e-5),
        m=100,
        sample_rate=1.0,
        steps=2,
        threads=1,
        random_state=0,
        k_values=[30],
        actual_noise_multiplier=1e-3,
    )
    assert (res.r, res.v) == (60, 60)
    assert res.epsilon_lb == pytest.approx(one_run_epsilon(100, 60, 60, delta=1e-5, alpha=0.05))
    assert res.verdict == "violation"


def test_to_dict_is_plain():
    res = audit_dpsgd_canaries(
        (2.0, 1e-5), m=20, sample_rate=1.0, steps=1, threads=1, random_state=1
    )
    d = res.to_dict()
    assert d["verdict"] == res.verdict and d["epsilon_lb"] == res.epsilon_lb
    assert d["audit"]["m"] == 20 and math.isfinite(d["epsilon_claimed"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"m": 0}, "'m'"),
        ({"m": 1}, "'m'"),
        ({"m": 10.0}, "'m'"),
        ({"m": 100, "k_values": [51]}, "k_values"),
        ({"m": 100, "k_values": []}, "k_values"),
        ({"m": 100, "k_values": [0]}, "k_values"),
        ({"n_ordinary": -1}, "n_ordinary"),
        ({"steps": 0}, "steps"),
        ({"sample_rate": 0.0}, "sample_rate"),
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"max_grad_norm": -1.0}, "max_grad_norm"),
        ({"alpha": 1.0}, "alpha"),
        ({"observe": "middle"}, "observe"),
        ({"actual_noise_multiplier": 0.0}, "actual_noise_multiplier"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        audit_dpsgd_canaries(BUDGET, **kwargs)


@pytest.mark.parametrize("budget", [0.0, -1.0, (0.0, 1e-5), (1.0, 0.0), "one"])
def test_bad_budgets_are_refused(budget):
    with pytest.raises(InvalidParameterError):
        audit_dpsgd_canaries(budget)


def test_errors_are_dpsynth_errors():
    with pytest.raises(DpsynthError):
        audit_dpsgd_canaries(BUDGET, m=np.int64(1))

"""Frequency oracles: noise at the claimed scale, exact ε-LDP ratios, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dpsynth.errors import DpsynthError, InvalidDataError, InvalidParameterError
from dpsynth.ldp import (
    GRR,
    LGRR,
    LOSUE,
    OLH,
    OUE,
    RSFD,
    SMP,
    SPL,
    SUE,
    HadamardResponse,
    make_oracle,
    project_simplex,
)
from dpsynth.ldp.anchor import skewed_values

K, N, EPS = 8, 20_000, 1.0
ORACLES = [GRR, OUE, SUE, OLH, HadamardResponse]


def _data(seed: int = 12345, k: int = K, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    x = skewed_values(n, k, np.random.default_rng(seed))
    return x, np.bincount(x, minlength=k) / n


def _normalised_sq_error(errs: list[np.ndarray], var: np.ndarray) -> tuple[float, float]:
    """Mean of err²/Var over reps and cells, and its tolerance (5 standard errors of a χ²₁ mean)."""
    z2 = np.concatenate([e**2 / var for e in errs])
    return float(z2.mean()), 5.0 * math.sqrt(2.0 / z2.size)


@pytest.mark.parametrize("cls", ORACLES, ids=lambda c: c.__name__)
def test_estimate_unbiased_and_variance_matches_formula(cls):
    x, f = _data()
    o = cls(K, EPS)
    errs = [o.estimate(o.randomize(x, random_state=1000 + r)).frequencies - f for r in range(40)]
    ratio, tol = _normalised_sq_error(errs, o.variance(N, f))
    assert abs(ratio - 1.0) < tol, (ratio, tol)
    bias = np.mean(errs, axis=0)
    assert np.all(np.abs(bias) < 5 * np.sqrt(o.variance(N, f) / len(errs)))


@pytest.mark.parametrize("cls", ORACLES, ids=lambda c: c.__name__)
def test_exact_likelihood_ratio_is_e_to_epsilon(cls):
    """Neighbouring inputs: every report's probability ratio is ≤ e^ε, and the bound is attained."""
    for eps in (0.3, 1.0, 3.0):
        o = cls(6, eps)
        probs = np.array([o.output_probabilities(v) for v in range(6)])
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
        ratio = (probs[:, None, :] / probs[None, :, :]).max()
        assert ratio <= math.exp(eps) * (1 + 1e-9)
        assert ratio >= math.exp(eps) * (1 - 1e-9)  # not more noise than claimed either


def test_grr_keeps_with_probability_p():
    x = np.repeat(np.arange(K), N // K)
    o = GRR(K, EPS)
    kept = (o.randomize(x, random_state=7) == x).mean()
    se = math.sqrt(o.p * (1 - o.p) / x.size)
    assert abs(kept - o.p) < 5 * se
    assert o.p / o.q == pytest.approx(math.exp(EPS))


@pytest.mark.parametrize("cls", [OUE, SUE], ids=lambda c: c.__name__)
def test_unary_bit_rates(cls):
    x = np.zeros(N, dtype=np.int64)
    o = cls(K, EPS)
    rates = o.randomize(x, random_state=3).mean(axis=0)
    assert abs(rates[0] - o.p) < 5 * math.sqrt(o.p * (1 - o.p) / N)
    assert np.all(np.abs(rates[1:] - o.q) < 5 * math.sqrt(o.q * (1 - o.q) / N))
    assert o.p * (1 - o.q) / ((1 - o.p) * o.q) == pytest.approx(math.exp(EPS))


def test_olh_hash_range_and_support_rate():
    o = OLH(50, 2.0)
    assert o.g == round(math.exp(2.0)) + 1
    x = np.full(N, 3)
    c = o.support_counts(o.randomize(x, random_state=5)) / N
    assert abs(c[3] - o.p) < 5 * math.sqrt(o.p * (1 - o.p) / N)
    others = np.delete(c, 3)
    assert abs(others.mean() - o.q) < 5 * math.sqrt(o.q * (1 - o.q) / N)


@pytest.mark.parametrize(
    "proto",
    [SPL((4, 6, 3), EPS, "grr"), SPL((4, 6, 3), EPS, "oue"), SMP((4, 6, 3), EPS, "grr"), SMP((4, 6, 3), EPS, "olh"),
     RSFD((4, 6, 3), EPS, "grr"), RSFD((4, 6, 3), EPS, "oue")],
    ids=lambda p: f"{type(p).__name__}-{p.oracle}",
)
def test_multi_attribute_variance_matches_formula(proto):
    rng = np.random.default_rng(99)
    sizes = (4, 6, 3)
    x = np.column_stack([rng.choice(k, size=N, p=np.arange(1, k + 1) / np.arange(1, k + 1).sum()) for k in sizes])
    f = [np.bincount(x[:, j], minlength=k) / N for j, k in enumerate(sizes)]
    errs: list[np.ndarray] = []
    var = []
    for r in range(25):
        est = proto.estimate(proto.randomize(x, random_state=2000 + r))
        errs.append(np.concatenate([e.frequencies - f[j] for j, e in enumerate(est)]))
    var = np.concatenate([proto.variance(N, j, f[j]) for j in range(3)])
    ratio, tol = _normalised_sq_error(errs, var)
    # SMP's per-attribute group size is random (binomial), which adds a little spread.
    assert abs(ratio - 1.0) < tol + (0.05 if isinstance(proto, SMP) else 0.0), (ratio, tol)


def _rsfd_ratios(proto: RSFD) -> tuple[float, float]:
    """Exact max likelihood ratio over all tuple pairs, and over pairs differing in one attribute."""
    import itertools

    tuples = list(itertools.product(*[range(k) for k in proto.sizes]))
    probs = np.array([proto.output_probabilities(t) for t in tuples])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    ratios = (probs[:, None, :] / probs[None, :, :]).max(axis=2)
    diff = np.array([[sum(a != b for a, b in zip(s, t, strict=True)) for t in tuples] for s in tuples])
    return float(ratios.max()), float(ratios[diff == 1].max())


def test_rsfd_exact_ratio_over_tuples():
    """RS+FD's amplified ε' holds for one-attribute changes only; the whole tuple is ldp_epsilon."""
    for eps in (0.5, 2.0):
        proto = RSFD((3, 3, 3), eps)
        full, one = _rsfd_ratios(proto)
        assert one == pytest.approx(math.exp(eps), rel=1e-9)  # the paper's claim, equal sizes
        assert full == pytest.approx(math.exp(proto.ldp_epsilon), rel=1e-9)
        assert proto.ldp_epsilon == pytest.approx(proto.amplified_epsilon)
        uneven = RSFD((3, 2, 4), eps)
        assert _rsfd_ratios(uneven)[0] == pytest.approx(math.exp(uneven.ldp_epsilon), rel=1e-9)
        cal = RSFD.calibrated((3, 2, 4), eps)
        assert _rsfd_ratios(cal)[0] == pytest.approx(math.exp(eps), rel=1e-7)


@pytest.mark.parametrize("cls", [LGRR, LOSUE], ids=lambda c: c.__name__)
def test_longitudinal_single_report_ratio_and_memo(cls):
    proto = cls(5, 2.0, 0.6)
    probs = np.array([proto.output_probabilities(v) for v in range(5)])
    ratio = (probs[:, None, :] / probs[None, :, :]).max()
    assert ratio == pytest.approx(math.exp(0.6), rel=1e-9)
    # Memoisation: the permanent answer is drawn once per (user, value) and reused.
    x = np.array([1, 2, 1, 4])
    memo = proto.new_memo(4)
    proto.randomize(x, memo, random_state=1)
    first = memo.copy()
    proto.randomize(x, memo, random_state=2)
    np.testing.assert_array_equal(memo, first)
    st = proto.privacy_statement(collections=100, distinct_values=2)
    assert st.per_collection == 0.6 and st.overall == pytest.approx(4.0)
    assert proto.privacy_statement(collections=3).overall == pytest.approx(1.8)


@pytest.mark.parametrize("cls", [LGRR, LOSUE], ids=lambda c: c.__name__)
def test_longitudinal_variance_matches_formula(cls):
    x, f = _data(k=6, n=N)
    proto = cls(6, 2.0, 0.8)
    errs = []
    for r in range(30):  # fresh users (memos) each time: the formula averages over both rounds
        memo = proto.new_memo(N)
        errs.append(proto.estimate(proto.randomize(x, memo, random_state=3000 + r)).frequencies - f)
    ratio, tol = _normalised_sq_error(errs, proto.variance(N, f))
    assert abs(ratio - 1.0) < tol, (ratio, tol)


def test_project_simplex():
    p = project_simplex(np.array([0.5, 0.7, -0.2]))
    assert p.sum() == pytest.approx(1.0) and np.all(p >= 0)
    np.testing.assert_allclose(project_simplex(np.array([0.2, 0.8])), [0.2, 0.8])


@pytest.mark.parametrize(
    "call",
    [
        lambda: GRR(1, 1.0),
        lambda: GRR(4, 0.0),
        lambda: GRR(4, -1.0),
        lambda: OUE(4, float("nan")),
        lambda: GRR(4, 1.0).randomize([0, 4]),
        lambda: GRR(4, 1.0).randomize([0.5, 1]),
        lambda: GRR(4, 1.0).randomize([[0, 1]]),
        lambda: GRR(4, 1.0).estimate([]),
        lambda: OUE(4, 1.0).estimate(np.zeros((3, 5))),
        lambda: OLH(4, 1.0).estimate(np.zeros((3, 2))),
        lambda: HadamardResponse(4, 1.0).estimate(np.array([[9, 1]])),
        lambda: make_oracle("nope", 4, 1.0),
        lambda: LGRR(4, 1.0, 2.0),
        lambda: SPL((4, 1), 1.0),
        lambda: SMP((4, 3), 1.0).randomize(np.array([[0, 3]])),
        lambda: RSFD((4, 3), 1.0, "olh"),
    ],
)
def test_bad_input_is_one_line_error(call):
    with pytest.raises(DpsynthError) as info:
        call()
    assert isinstance(info.value, InvalidDataError | InvalidParameterError)
    assert "\n" not in str(info.value).split("\n")[0]
    assert str(info.value)

import math

import numpy as np
import pytest
from scipy import stats

from dpsynth.errors import InvalidParameterError
from dpsynth.privacy.random import NoiseSource, make_rng


def _chi2_pvalue(samples: np.ndarray, support: np.ndarray, pmf: np.ndarray) -> float:
    """Chi-square goodness of fit, pooling the tails into the end bins."""
    pmf = pmf / pmf.sum()
    clipped = np.clip(samples, support[0], support[-1])
    observed = np.array([(clipped == k).sum() for k in support], dtype=float)
    expected = pmf * samples.size
    return float(stats.chisquare(observed, expected).pvalue)


def _discrete_gaussian_pmf(sigma: float, support: np.ndarray) -> np.ndarray:
    full = np.arange(-60 * math.ceil(sigma), 60 * math.ceil(sigma) + 1)
    w = np.exp(-(full.astype(float) ** 2) / (2 * sigma**2))
    w /= w.sum()
    pmf = np.array([w[(full == k)].sum() for k in support])
    pmf[0] = w[full <= support[0]].sum()
    pmf[-1] = w[full >= support[-1]].sum()
    return pmf


@pytest.mark.parametrize("sigma", [0.3, 0.7, 2.5, 10.0])
def test_discrete_gaussian_matches_its_pmf(sigma):
    x = NoiseSource(1).discrete_gaussian(sigma, 100_000)
    support = np.arange(-math.ceil(3 * sigma), math.ceil(3 * sigma) + 1)
    assert _chi2_pvalue(x, support, _discrete_gaussian_pmf(sigma, support)) > 1e-3


def test_discrete_gaussian_rejects_a_wrong_scale():
    # The same goodness-of-fit test must be able to fail: samples at sigma=2.5 vs a pmf at 2.75.
    x = NoiseSource(1).discrete_gaussian(2.5, 100_000)
    support = np.arange(-8, 9)
    assert _chi2_pvalue(x, support, _discrete_gaussian_pmf(2.75, support)) < 1e-6


def test_discrete_gaussian_is_symmetric_with_zero_counted_once():
    # The proposal is a sign times a geometric magnitude with -0 rejected: were -0 kept, 0 would
    # have twice its mass; were the sign biased, the halves would differ.
    sigma = 0.5
    x = NoiseSource(5).discrete_gaussian(sigma, 200_000)
    pmf = _discrete_gaussian_pmf(sigma, np.arange(-1, 2))
    p0 = pmf[1] / pmf.sum()
    sd = math.sqrt(p0 * (1 - p0) / x.size)
    assert abs((x == 0).mean() - p0) < 5 * sd
    pos, neg = int((x > 0).sum()), int((x < 0).sum())
    assert stats.binomtest(pos, pos + neg, 0.5).pvalue > 1e-3


@pytest.mark.parametrize("seed", [None, 6])
def test_discrete_gaussian_at_a_lattice_scale_is_normal(seed):
    # DP-SGD draws its noise in lattice units with sigma near 2^32: the same sampler, huge scale.
    sigma = 1.37 * 2.0**32
    x = NoiseSource(seed).discrete_gaussian(sigma, 100_000).astype(float)
    assert stats.kstest(x, "norm", args=(0, sigma)).pvalue > 1e-3
    assert stats.kstest(x, "norm", args=(0, 1.05 * sigma)).pvalue < 1e-6
    assert abs(x.mean()) < 5 * sigma / math.sqrt(x.size)


def test_discrete_gaussian_spends_about_one_word_per_candidate(monkeypatch):
    # One 64-bit word per candidate (rarely two) and about 0.76 candidates kept at a large scale.
    source = NoiseSource(7)
    drawn = []
    words = source._words
    monkeypatch.setattr(source, "_words", lambda n: drawn.append(n) or words(n))
    source.discrete_gaussian(2.0**32, 100_000)
    assert sum(drawn) < 1.5 * 100_000


@pytest.mark.parametrize("sigma", [0.7, 6.0])
def test_discrete_gaussian_acceptance_with_every_uniform_drawn_in_full(monkeypatch, sigma):
    # With no spare bits every acceptance test takes the rare path that draws U's remaining bits.
    import dpsynth.privacy.random as random_module

    monkeypatch.setattr(random_module, "_ACCEPT_BITS", 0)
    x = NoiseSource(8).discrete_gaussian(sigma, 100_000)
    support = np.arange(-math.ceil(3 * sigma), math.ceil(3 * sigma) + 1)
    assert _chi2_pvalue(x, support, _discrete_gaussian_pmf(sigma, support)) > 1e-3
    wrong = _discrete_gaussian_pmf(sigma * 1.1, support)
    assert _chi2_pvalue(x, support, wrong) < 1e-6


def test_discrete_laplace_matches_its_pmf():
    scale = 3.0
    x = NoiseSource(2).discrete_laplace(scale, 100_000)
    support = np.arange(-12, 13)
    pmf = np.exp(-np.abs(support) / scale)
    tail = math.exp(-13 / scale) / (1 - math.exp(-1 / scale))
    pmf[0] += tail
    pmf[-1] += tail
    assert _chi2_pvalue(x, support, pmf) > 1e-3


@pytest.mark.parametrize("seed", [None, 3])
def test_gaussian_is_normal_at_the_claimed_scale(seed):
    sigma = 4.2
    x = NoiseSource(seed).gaussian(sigma, 50_000)
    assert stats.kstest(x, "norm", args=(0, sigma)).pvalue > 1e-3
    # It is on the lattice: every value is an integer multiple of the granularity.
    g = NoiseSource.lattice_granularity(sigma)
    assert np.all(np.mod(x / g, 1.0) == 0.0)


def test_laplace_is_laplace_at_the_claimed_scale():
    x = NoiseSource(4).laplace(1.7, 50_000)
    assert stats.kstest(x, "laplace", args=(0, 1.7)).pvalue > 1e-3
    assert stats.kstest(x, "laplace", args=(0, 1.9)).pvalue < 1e-6


def test_gumbel_is_standard_gumbel():
    x = NoiseSource(5).gumbel(50_000)
    assert stats.kstest(x, "gumbel_r").pvalue > 1e-3


def test_secure_source_is_not_reproducible_and_seeded_is():
    a, b = NoiseSource().uniform(16), NoiseSource().uniform(16)
    assert not np.array_equal(a, b)
    assert NoiseSource().secure and not NoiseSource(0).secure
    np.testing.assert_array_equal(NoiseSource(7).uniform(16), NoiseSource(7).uniform(16))


def test_uniform_is_in_open_interval():
    u = NoiseSource(0).uniform(100_000)
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "1"])
def test_bad_scales_are_refused(bad):
    with pytest.raises(InvalidParameterError):
        NoiseSource(0).discrete_gaussian(bad, 3)


def test_make_rng_accepts_seed_generator_none_and_refuses_junk():
    g = np.random.default_rng(0)
    assert make_rng(g) is g
    assert make_rng(1).integers(100) == make_rng(1).integers(100)
    assert isinstance(make_rng(None), np.random.Generator)
    with pytest.raises(InvalidParameterError):
        make_rng("seed")

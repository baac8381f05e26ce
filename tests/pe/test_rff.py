"""The random-Fourier-feature similarity histogram (Backurs et al., ICLR 2024)."""

import math

import numpy as np
import pytest
from scipy import stats

from dpsynth.errors import InvalidParameterError
from dpsynth.pe import Population, PrivateEvolution, RandomFourierFeatures, RFFHistogram, _votes
from tests.pe.conftest import PointsAPI, PointsEmbedding, bind, make_points


def test_features_are_bounded_and_estimate_the_gaussian_kernel():
    rng = np.random.default_rng(0)
    rff = RandomFourierFeatures(PointsEmbedding(), 4000, 0.3, rng)
    x = rng.random((40, 2))
    phi = rff.map(x)
    assert np.linalg.norm(phi, axis=1).max() <= math.sqrt(2) + 1e-12
    approx = phi @ phi.T
    exact = np.exp(-((x[:, None, :] - x[None, :, :]) ** 2).sum(-1) / (2 * 0.3**2))
    # Each entry is a mean of D bounded terms (|2 cos·cos| ≤ 2): error ≲ 5·√2/√D.
    assert np.abs(approx - exact).max() < 5 * math.sqrt(2) / math.sqrt(4000)


def test_sketch_is_released_once_and_scores_follow_the_data(points_domain):
    data = bind(make_points(300), points_domain, epsilon=1e6)
    emb = PointsEmbedding()
    hist = RFFHistogram(data, emb, sigma=0.05, n_features=2000, bandwidth=0.05, rng=np.random.default_rng(1))
    pop = Population(sample_rounds=3, degree_start=0.5, degree_end=0.05)
    result = PrivateEvolution(PointsAPI(), emb, hist, pop).run(rounds=10, population_size=150,
                                                              rng=np.random.default_rng(2))
    assert [e.step for e in data.accountant.ledger] == ["pe.rff_sketch"]  # ten rounds, one charge
    centres = np.array([(0.2, 0.3), (0.7, 0.8), (0.85, 0.15)])
    d = np.sqrt(((result.samples[:, None, :] - centres[None]) ** 2).sum(-1)).min(axis=1)
    assert result.weights[d < 0.05].sum() / result.weights.sum() > 0.9
    assert RFFHistogram.releases(10) == 1


def test_sketch_noise_is_at_the_claimed_scale_and_rows_are_clipped(points_domain):
    frame = make_points(200)
    emb = PointsEmbedding()
    rff = RandomFourierFeatures(emb, 500, 0.2, np.random.default_rng(0))
    true = _votes.feature_sums(rff, frame, dim=500, norm_bound=math.sqrt(2))
    sigma = 2.0
    z = []
    for seed in range(8):
        data = bind(frame, points_domain, epsilon=1e4, seed=seed)
        noisy = data.feature_sums(rff, norm_bound=math.sqrt(2), sigma=sigma, step="pe.rff_sketch")
        z.append(((noisy - true) / sigma).ravel())
        (entry,) = data.accountant.ledger
        assert entry.mu is None  # lattice Gaussian: zCDP accounting only
        assert entry.rho == pytest.approx(2 / (2 * sigma**2), rel=1e-3)
    z = np.concatenate(z)
    n = z.size
    ss = float(np.sum(z**2))
    assert 2 * min(stats.chi2.cdf(ss, n), stats.chi2.sf(ss, n)) > 1e-3
    assert stats.chi2.sf(float(np.sum((z * 1.2) ** 2)), n) < 1e-6

    class Loud:
        dim = 3

        def __call__(self, block):
            return np.full((len(block), 3), 10.0)

    sums = _votes.feature_sums(Loud(), frame, dim=3, norm_bound=1.0)
    np.testing.assert_allclose(sums, len(frame) / math.sqrt(3))  # every row clipped to norm 1


def test_bad_input(points_domain):
    data = bind(make_points(), points_domain)
    with pytest.raises(InvalidParameterError, match="n_features"):
        RFFHistogram(data, PointsEmbedding(), sigma=1.0, n_features=0, rng=np.random.default_rng(0))
    hist = RFFHistogram(data, PointsEmbedding(), sigma=1.0, rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="dimension mismatch"):
        hist.votes(np.zeros((4, 3)), groups=None, round=0)
    with pytest.raises(InvalidParameterError, match="dim"):
        data.feature_sums(lambda b: b, norm_bound=1.0, sigma=1.0, step="x")
    assert data.accountant.ledger == []


@pytest.mark.parametrize("rho", [1e-4, 0.05, 3.0])
def test_sketch_sigma_fits_the_budget_at_any_scale(rho):
    from dpsynth.privacy import GaussianMechanism

    sigma = RFFHistogram.sigma_for_rho(rho, 2000, 10)
    mech = GaussianMechanism(sigma=sigma, sensitivity=math.sqrt(2), integer=False, dim=20000)
    assert mech.rho <= rho
    assert mech.rho == pytest.approx(rho, rel=1e-3)  # and wastes next to nothing

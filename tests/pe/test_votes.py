"""The vote histogram: exact counts in blocks, the PrivateData method's charge and noise."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cdist

from dpsynth.data.private import PrivateData
from dpsynth.errors import BudgetExceededError, InvalidParameterError
from dpsynth.pe import NearestNeighbourHistogram, _votes
from tests.pe.conftest import PointsEmbedding, bind, make_points


def _brute(points, cands):
    return np.bincount(np.argmin(cdist(points, cands), axis=1), minlength=len(cands))


@pytest.mark.parametrize("block", [1, 7, 2048])
def test_block_counts_match_brute_force(block):
    rng = np.random.default_rng(0)
    frame = make_points(300)
    cands = rng.random((50, 2))
    got = _votes.nearest_neighbour_counts(PointsEmbedding().embed_frame, frame, cands, block_size=block)
    np.testing.assert_array_equal(got, _brute(frame[["x", "y"]].to_numpy(), cands))
    assert got.sum() == len(frame)


def test_grouped_counts_vote_only_within_the_group():
    rng = np.random.default_rng(1)
    frame = make_points(300)
    cands = rng.random((40, 2))
    labels = np.where(np.arange(40) % 2 == 0, "a", "b")
    got = _votes.nearest_neighbour_counts(
        PointsEmbedding().embed_frame, frame, cands, candidate_groups=labels, row_groups=frame["g"].to_numpy(), block_size=64
    )
    expected = np.zeros(40, dtype=int)
    pts = frame[["x", "y"]].to_numpy()
    for g in "ab":
        idx = np.flatnonzero(labels == g)
        rows = frame["g"].to_numpy() == g
        expected[idx] += _brute(pts[rows], cands[idx])
    np.testing.assert_array_equal(got, expected)
    assert got.sum() == len(frame)


def test_method_charges_before_reading_rows(points_domain, monkeypatch):
    data = bind(make_points(), points_domain)
    seen = []
    original = _votes.nearest_neighbour_counts

    def spy(*args, **kwargs):
        seen.append(len(data.accountant.ledger))  # a charge must already be on the ledger
        return original(*args, **kwargs)

    monkeypatch.setattr(_votes, "nearest_neighbour_counts", spy)
    data.nearest_neighbour_votes(PointsEmbedding().embed_frame, np.random.default_rng(0).random((10, 2)),
                                 sigma=5.0, step="pe.votes")
    assert seen == [1]
    (entry,) = data.accountant.ledger
    assert entry.step == "pe.votes" and entry.noise_scale == 5.0
    assert entry.rho == pytest.approx(1 / (2 * 25.0)) and entry.mu is None  # discrete noise: not exactly GDP


def test_refused_charge_reads_nothing(points_domain, monkeypatch):
    data = bind(make_points(), points_domain, epsilon=0.01)
    monkeypatch.setattr(_votes, "nearest_neighbour_counts", lambda *a, **k: pytest.fail("rows were read"))
    with pytest.raises(BudgetExceededError):
        data.nearest_neighbour_votes(PointsEmbedding().embed_frame, np.zeros((3, 2)), sigma=0.5, step="pe.votes")
    assert data.accountant.ledger == []


def test_vote_noise_is_at_the_claimed_scale(points_domain):
    """Σ z² over many noisy bins follows χ²: the test accepts σ and rejects a σ off by 20%."""
    frame = make_points(400)
    rng = np.random.default_rng(3)
    cands = rng.random((400, 2))
    true = _brute(frame[["x", "y"]].to_numpy(), cands)
    sigma = 3.0
    z = []
    for seed in range(10):
        data = bind(frame, points_domain, epsilon=1e4, seed=seed)
        noisy = data.nearest_neighbour_votes(PointsEmbedding().embed_frame, cands, sigma=sigma, step="pe.votes")
        assert np.all(noisy == np.round(noisy))  # discrete Gaussian on integer counts
        z.append((noisy - true) / sigma)
    z = np.concatenate(z)
    n = z.size
    ss = float(np.sum(z**2))
    assert 2 * min(stats.chi2.cdf(ss, n), stats.chi2.sf(ss, n)) > 1e-3
    assert abs(z.mean()) < 4 / math.sqrt(n)
    for wrong in (0.8, 1.2):  # the same test rejects a σ 20% off
        ssw = float(np.sum((z / wrong) ** 2))
        assert 2 * min(stats.chi2.cdf(ssw, n), stats.chi2.sf(ssw, n)) < 1e-6


def test_bad_input_gets_clear_errors_and_costs_nothing(points_domain):
    data = bind(make_points(), points_domain)
    emb = PointsEmbedding()
    with pytest.raises(InvalidParameterError, match="dimension mismatch"):
        NearestNeighbourHistogram(data, emb, sigma=1.0).votes(np.zeros((5, 3)), groups=None, round=0)
    with pytest.raises(InvalidParameterError, match="non-empty"):
        data.nearest_neighbour_votes(emb.embed_frame, np.zeros((0, 2)), sigma=1.0, step="pe.votes")
    with pytest.raises(InvalidParameterError, match="NaN"):
        data.nearest_neighbour_votes(emb.embed_frame, np.full((2, 2), np.nan), sigma=1.0, step="pe.votes")
    with pytest.raises(InvalidParameterError, match="Unknown column"):
        data.nearest_neighbour_votes(emb.embed_frame, np.zeros((2, 2)), sigma=1.0, step="pe.votes",
                                     candidate_groups=["a", "b"], group_column="nope")
    with pytest.raises(InvalidParameterError, match="categorical"):
        data.nearest_neighbour_votes(emb.embed_frame, np.zeros((2, 2)), sigma=1.0, step="pe.votes",
                                     candidate_groups=["a", "b"], group_column="x")
    with pytest.raises(InvalidParameterError, match="callable"):
        data.nearest_neighbour_votes("embed", np.zeros((2, 2)), sigma=1.0, step="pe.votes")
    with pytest.raises(InvalidParameterError, match="sigma"):
        data.nearest_neighbour_votes(emb.embed_frame, np.zeros((2, 2)), sigma=0.0, step="pe.votes")
    with pytest.raises(InvalidParameterError, match="PrivateData"):
        NearestNeighbourHistogram(make_points(), emb, sigma=1.0)
    assert data.accountant.ledger == []


def test_an_embedding_that_disagrees_with_its_declared_dim_is_refused(points_domain):
    data = bind(make_points(), points_domain, epsilon=100.0)

    class Wrong(PointsEmbedding):
        def embed_frame(self, frame):
            return np.zeros((len(frame), 3))

    with pytest.raises(InvalidParameterError, match="dimension mismatch"):
        data.nearest_neighbour_votes(Wrong().embed_frame, np.zeros((2, 2)), sigma=1.0, step="pe.votes")


def test_unbound_data_refuses(points_domain):
    data = PrivateData(make_points(), points_domain)
    with pytest.raises(InvalidParameterError, match="not bound"):
        data.nearest_neighbour_votes(PointsEmbedding().embed_frame, np.zeros((2, 2)), sigma=1.0, step="pe.votes")

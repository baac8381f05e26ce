"""The PE loop: convergence with negligible noise, and private access only through the histogram."""

import itertools

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.pe import NearestNeighbourHistogram, Population, PrivateEvolution, Votes
from tests.pe.conftest import PointsAPI, PointsEmbedding, bind, make_points

CENTRES = np.array([(0.2, 0.3), (0.7, 0.8), (0.85, 0.15)])


class GuardedData(PrivateData):
    """A stand-in that lets the runner call nearest_neighbour_votes and nothing else."""

    def __init__(self, inner: PrivateData) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "calls", [])

    def __getattribute__(self, name):
        if name in ("_inner", "calls", "__class__", "__dict__"):
            return object.__getattribute__(self, name)
        if name == "nearest_neighbour_votes":
            inner = object.__getattribute__(self, "_inner")
            calls = object.__getattribute__(self, "calls")

            def votes(*args, **kwargs):
                calls.append(name)
                return inner.nearest_neighbour_votes(*args, **kwargs)

            return votes
        raise AssertionError(f"PE touched PrivateData.{name}")


def _run(data, rounds=12, size=120, seed=0, callbacks=(), grouped=False, group_column=None):
    emb = PointsEmbedding()
    hist = NearestNeighbourHistogram(data, emb, sigma=0.05, threshold=5.0, group_column=group_column)
    pop = Population(sample_rounds=4, degree_start=0.5, degree_end=0.05, keep_fraction=0.5)
    return PrivateEvolution(PointsAPI(grouped), emb, hist, pop, callbacks=callbacks).run(
        rounds=rounds, population_size=size, rng=np.random.default_rng(seed)
    )


def test_with_negligible_noise_pe_converges_to_the_private_points(points_domain):
    # ε = 10⁶ affords σ = 0.05 for every round: the votes are exact but for rounding.
    data = bind(make_points(300), points_domain, epsilon=1e6)
    result = _run(data)
    selected = result.samples[result.weights > 0]
    # Every cluster of private points has a selected candidate close to it …
    assert cdist(CENTRES, selected).min(axis=1).max() < 0.03
    # … and the weight lies near the data, not spread over the square.
    near = cdist(result.samples, CENTRES).min(axis=1) < 0.05
    assert result.weights[near].sum() / result.weights.sum() > 0.95
    assert result.total == pytest.approx(300, abs=1)
    # The random API alone is far from that.
    random = np.random.default_rng(0).random((120, 2))
    assert cdist(CENTRES, random).min(axis=1).max() > 0.03


def test_the_histogram_is_the_only_caller_of_private_data(points_domain):
    inner = bind(make_points(200), points_domain, epsilon=1e6)
    guard = GuardedData(inner)
    seen = []

    def callback(t, samples, votes):
        assert isinstance(votes, Votes) and samples.shape[1] == 2
        seen.append(t)

    _run(guard, rounds=5, callbacks=[callback])
    assert guard.calls == ["nearest_neighbour_votes"] * 5
    assert seen == list(range(5))
    assert [e.step for e in inner.accountant.ledger] == ["pe.votes"] * 5


def test_per_class_votes_keep_the_class_mix(points_domain):
    data = bind(make_points(300), points_domain, epsilon=1e6)
    result = _run(data, grouped=True, group_column="g", rounds=6)
    labels = PointsAPI(True).labels(result.samples)
    assert set(labels) == {"a", "b"}
    selected = result.samples[result.weights > 0]
    assert cdist(CENTRES, selected).min(axis=1).max() < 0.05


def test_population_modes_and_schedule():
    pop = Population(sample_rounds=2, degree_start=0.5, degree_end=0.05)
    assert [pop.mode(t) for t in range(4)] == ["sample", "sample", "rank", "rank"]
    degrees = [pop.degree(t, 6) for t in range(5)]
    assert degrees[0] == pytest.approx(0.5) and degrees[4] == pytest.approx(0.05)
    assert all(a > b for a, b in itertools.pairwise(degrees))
    # Rank mode keeps the best-voted half unchanged.
    api = PointsAPI()
    samples = np.random.default_rng(0).random((10, 2))
    weights = np.arange(10, dtype=float)
    nxt = pop.next_generation(api, samples, weights, 3, 6, np.random.default_rng(1))
    assert nxt.shape == samples.shape
    np.testing.assert_array_equal(np.sort(nxt[:5], axis=0), np.sort(samples[5:], axis=0))
    with pytest.raises(InvalidParameterError, match="weights"):
        pop.next_generation(api, samples, -weights, 0, 6, np.random.default_rng(1))
    with pytest.raises(InvalidParameterError, match="degree"):
        Population(degree_start=0.0)


def test_runner_refuses_bad_sizes_and_a_lying_embedding(points_domain):
    data = bind(make_points(50), points_domain, epsilon=1e6)
    with pytest.raises(InvalidParameterError, match="population_size"):
        _run(data, size=0)

    class Lying(PointsEmbedding):
        def embed(self, samples):
            return np.zeros((len(samples), 5))

    hist = NearestNeighbourHistogram(data, PointsEmbedding(), sigma=1.0)
    with pytest.raises(InvalidParameterError, match="dimension mismatch"):
        PrivateEvolution(PointsAPI(), Lying(), hist).run(rounds=2, population_size=10, rng=np.random.default_rng(0))
    assert data.accountant.ledger == []

import itertools

import numpy as np
import pytest

from dpsynth.errors import InvalidParameterError
from dpsynth.pgm import Domain, GraphicalModel

DOM = Domain(tuple("abcdef"), (3, 4, 2, 5, 3, 2))


def _model(seed=0, total=1000.0):
    rng = np.random.default_rng(seed)
    cliques = [
        ("a", "b"),
        ("b", "c"),
        ("c", "d"),
        ("a", "d"),
        ("d", "e"),
    ]  # a cycle and a tail; f alone
    pots = {c: rng.normal(size=[DOM[a] for a in c]) for c in cliques}
    return GraphicalModel(DOM, pots, total)


def _counts(rows, attrs):
    idx = [DOM.index(a) for a in attrs]
    out = np.zeros([DOM[a] for a in attrs])
    np.add.at(out, tuple(rows[:, i] for i in idx), 1)
    return out


def test_shape_dtype_and_codes():
    rows = _model().sample(1000, np.random.default_rng(0))
    assert rows.shape == (1000, 6) and rows.dtype == np.int64
    assert (rows >= 0).all() and (rows < np.array(DOM.shape)).all()
    assert _model().sample(0, np.random.default_rng(0)).shape == (0, 6)


def test_marginals_match_the_model():
    model = _model()
    n = 20_000
    rows = model.sample(n, np.random.default_rng(1))
    first = model.junction_tree.order[-1]  # sampled first: counts are rounded directly
    p = model.project((first,)) / model.total
    assert np.abs(_counts(rows, (first,)) - n * p).max() < 1.0
    # Every other 1- and 2-way marginal: within 4 binomial standard deviations, plus 1
    # for the rounding of each cell.
    for k in (1, 2):
        for attrs in itertools.combinations(DOM.attrs, k):
            p = model.project(attrs) / model.total
            bound = 4 * np.sqrt(n * p * (1 - p)) + 1
            assert (np.abs(_counts(rows, attrs) - n * p) <= bound).all(), attrs


def test_only_the_given_rng_is_used():
    model = _model(2)
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checking it stays untouched)
    a = model.sample(500, np.random.default_rng(7))
    b = model.sample(500, np.random.default_rng(7))
    c = model.sample(500, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_zero_probability_codes_are_never_drawn():
    pots = {("a", "b"): np.where(np.eye(3, 4) > 0, 0.0, -1e4)}
    model = GraphicalModel(DOM, pots, 100.0)
    rows = model.sample(3000, np.random.default_rng(3))
    assert (rows[:, 0] == rows[:, 1]).all()


@pytest.mark.parametrize("n", [-1, 2.5, True, "10"])
def test_bad_n(n):
    with pytest.raises(InvalidParameterError):
        _model().sample(n, np.random.default_rng(0))


def test_bad_rng():
    with pytest.raises(InvalidParameterError, match="Generator"):
        _model().sample(5, 0)  # type: ignore[arg-type]


def test_systematic_rounding_is_exact_on_rows_and_unbiased():
    from dpsynth.pgm._model import _systematic_counts

    rng = np.random.default_rng(4)
    n_g = np.array([0, 1, 7, 100, 12345])
    table = rng.random((5, 6))
    table[2, 3] = 0.0
    p = table / table.sum(axis=1, keepdims=True)
    draws = np.array([_systematic_counts(n_g, table, rng) for _ in range(4000)])
    assert (draws.sum(axis=2) == n_g).all()
    assert (np.abs(draws - n_g[:, None] * p) < 1).all()
    assert (draws[:, 2, 3] == 0).all()
    # E[count] = n·p: the mean of 4000 draws of a {0,1} remainder is within 5 standard errors.
    assert (np.abs(draws.mean(axis=0) - n_g[:, None] * p) <= 5 * 0.5 / np.sqrt(4000)).all()
    # An all-zero row is read as uniform.
    assert _systematic_counts(np.array([6]), np.zeros((1, 3)), rng).tolist() == [[2, 2, 2]]

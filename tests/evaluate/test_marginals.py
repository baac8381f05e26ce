from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from dpsynth.errors import InvalidParameterError
from dpsynth.evaluate import MarginalTVD, all_cliques, marginal_tvd


def _naive_tvd(a: np.ndarray, b: np.ndarray, cl: tuple[int, ...]) -> float:
    pa = pd.Series(map(tuple, a[:, list(cl)])).value_counts(normalize=True)
    pb = pd.Series(map(tuple, b[:, list(cl)])).value_counts(normalize=True)
    both = pa.index.union(pb.index)
    return 0.5 * float((pa.reindex(both, fill_value=0) - pb.reindex(both, fill_value=0)).abs().sum())


def test_marginal_tvd_matches_a_naive_count():
    rng = np.random.default_rng(0)
    sizes = [3, 5, 2, 4]
    a = np.column_stack([rng.integers(0, s, 500) for s in sizes])
    b = np.column_stack([rng.integers(0, s, 300) for s in sizes])
    cliques = all_cliques(4, 1) + all_cliques(4, 2) + all_cliques(4, 3)
    got = marginal_tvd(a, b, sizes, cliques)
    want = [_naive_tvd(a, b, cl) for cl in cliques]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_sparse_marginals_count_occupied_cells_only():
    rng = np.random.default_rng(1)
    sizes = [1000, 1000, 1000]  # 1e9 cells: must not allocate them
    a = rng.integers(0, 1000, (200, 3))
    b = np.vstack([a[:100], rng.integers(0, 1000, (100, 3))])
    got = marginal_tvd(a, b, sizes, [(0, 1, 2)])
    np.testing.assert_allclose(got, [_naive_tvd(a, b, (0, 1, 2))], atol=1e-12)


def test_all_cliques():
    assert all_cliques(14, 3) == list(itertools.combinations(range(14), 3))
    assert len(all_cliques(14, 3)) == 364


@pytest.mark.parametrize("k", [1, 2, 3])
def test_identical_is_zero_and_disjoint_is_one(domain, real, disjoint_pair, k):
    assert MarginalTVD(k).compute(real, real, domain).value == 0.0
    r, s = disjoint_pair
    res = MarginalTVD(k).compute(r, s, domain)
    assert res.value == pytest.approx(1.0)
    assert np.allclose(res.details["tvd"], 1.0)


def test_shuffled_columns_keep_one_way_and_break_higher_orders(domain, real, fresh, shuffled):
    assert MarginalTVD(1).compute(real, shuffled, domain).value == pytest.approx(0.0, abs=1e-12)
    for k in (2, 3):
        base = MarginalTVD(k).compute(real, fresh, domain).value  # sampling noise alone
        bad = MarginalTVD(k).compute(real, shuffled, domain).value
        assert bad > 2 * base


def test_categorical_missing_is_its_own_category(domain, real):
    other = real.copy()
    other.loc[other.index[:200], "b"] = None  # 10% of rows
    res = MarginalTVD(1).compute(real, other, domain)
    per = dict(zip(map(tuple, res.details["marginals"]), res.details["tvd"], strict=True))
    assert per[("b",)] == pytest.approx(0.1)


def test_seeded_sample_of_marginals(domain, real, shuffled):
    m = MarginalTVD(3, max_marginals=5, random_state=7)
    res = m.compute(real, shuffled, domain)
    assert res.details["n_marginals"] == 5 and res.details["n_marginals_total"] == 20
    assert res.details["sampled"] and res.ci is not None and res.ci[0] <= res.value <= res.ci[1]
    again = MarginalTVD(3, max_marginals=5, random_state=7).compute(real, shuffled, domain)
    assert again.details["marginals"] == res.details["marginals"]
    full = MarginalTVD(3).compute(real, shuffled, domain)
    assert full.ci is None and full.details["n_marginals"] == 20


def test_uses_the_data_layer_discretisation(domain, real, fresh):
    res = MarginalTVD(1).compute(real, fresh, domain)
    assert res.details["discretisation"] == "dpsynth.data.discretize.Discretizer"


def test_bad_parameters(domain, real):
    with pytest.raises(InvalidParameterError, match="'k'"):
        MarginalTVD(0).compute(real, real, domain)
    with pytest.raises(InvalidParameterError, match="'max_marginals'"):
        MarginalTVD(2, max_marginals=0).compute(real, real, domain)

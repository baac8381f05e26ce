"""Private-GSD (issue 6): incremental fitness, convergence, budget, noise scale, bad input."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dpsynth.data import queries as q
from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.privacy import GaussianMechanism, PrivacyBudget
from dpsynth.synth import create
from dpsynth.synth._genetic import GeneticSearch, RowSampler
from tests.synth.conftest import FAST_PARAMS

TINY_META = {
    "columns": [
        {"name": "a", "type": "categorical", "categories": ["p", "q", "r"]},
        {"name": "b", "type": "categorical", "categories": ["u", "v"], "nullable": True},
        {"name": "x", "type": "numeric", "lower": 0, "upper": 1, "edges": [0, 0.25, 0.5, 0.75, 1.0]},
        {"name": "k", "type": "numeric", "lower": 0, "upper": 9, "integer": True, "nullable": True,
         "edges": [0, 3, 6, 9]},
    ]
}


@pytest.fixture(scope="module")
def tiny_domain():
    return Domain.from_json(TINY_META)


@pytest.fixture(scope="module")
def tiny_frame():
    rng = np.random.default_rng(0)
    n = 1000
    a = rng.choice(["p", "q", "r"], n, p=[0.5, 0.3, 0.2])
    b = np.where(a == "p", "u", rng.choice(["u", "v", None], n))
    x = np.clip(np.where(a == "r", rng.beta(5, 2, n), rng.beta(2, 5, n)), 0, 1)
    k = pd.Series(np.where(x > 0.5, rng.integers(5, 10, n), rng.integers(0, 6, n)).astype(float))
    k[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"a": a, "b": b, "x": x, "k": k.astype("Int64")})


def tiny_workload(domain):
    rng = np.random.default_rng(5)
    return [
        q.Marginal(("a",)), q.Marginal(("b",)), q.Marginal(("a", "b")), q.Marginal(("a", "k")),
        q.Ranges.prefix(domain, ["x"], [np.linspace(0.1, 0.9, 9)]),
        q.Ranges.prefix(domain, ["x", "k"]),
        q.Ranges.random(domain, ["x", "k"], 20, rng),
        q.Halfspaces.random(["x", "k"], 8, rng),
    ]


def make_search(domain, seed=0, rows=150, population=3):
    rng = np.random.default_rng(seed)
    wl = q.CompiledWorkload(domain, tiny_workload(domain))
    target = rng.random(wl.m) * 0.5
    weight = rng.random(wl.m) + 0.1
    sampler = RowSampler(wl.specs, [None] * len(wl.specs))
    search = GeneticSearch(wl, target, weight, sampler, rng, population=population, children=40)
    search.set_population([sampler.table(rows, rng) for _ in range(population)])
    return search


def test_child_fitness_deltas_are_exact(tiny_domain):
    search = make_search(tiny_domain)
    for _ in range(5):
        parent, rows, new = search.propose()
        gain = search.deltas(parent, rows, new)
        for c in range(len(parent)):
            X = search.X[parent[c]].copy()
            X[rows[c]] = new[c]
            recomputed = (search.fitness(X) - search.fitness(search.X[parent[c]])) * search.N**2
            assert gain[c] == pytest.approx(recomputed, rel=1e-9, abs=1e-9)
        search.step()


def test_incremental_counts_and_fitness_equal_recomputed_ones(tiny_domain):
    search = make_search(tiny_domain, seed=1)
    f0 = search.f.copy()
    search.run(80, patience=1000)
    for p in range(search.P):
        # Counts kept by increments equal a count from scratch, exactly.
        np.testing.assert_array_equal(search.A[p], search.wl.counts(search.X[p]))
        assert search.f[p] == pytest.approx(search.fitness(search.X[p]), rel=1e-12)
    assert search.f.min() < f0.min()  # and the search made progress
    # The population only ever holds valid values: codes in range, numbers in bounds.
    for j, s in enumerate(search.wl.specs):
        col = search.X[:, :, j]
        if s.numeric:
            v = col[~np.isnan(col)]
            assert v.min() >= s.lower and v.max() <= s.upper
            if s.integer:
                assert np.all(v == np.round(v))
        else:
            assert set(np.unique(col)) <= set(range(s.size))


@pytest.mark.parametrize("mode", ["oneshot", "adaptive"])
def test_with_negligible_noise_the_search_matches_the_workload(tiny_frame, tiny_domain, mode):
    wl = tiny_workload(tiny_domain)
    model = create("gsd", workload=wl, mode=mode, synthetic_rows=200, generations=800, patience=200, children=96,
                   rounds=2, groups_per_round=4, random_state=0)
    model.fit(PrivateData(tiny_frame, tiny_domain), PrivacyBudget(1e5, 1e-6))
    comp = q.CompiledWorkload(tiny_domain, wl)
    from dpsynth.data.io import Table

    truth = comp.counts(q.encode_rows(Table.from_frame(tiny_frame).to_frame(tiny_domain), tiny_domain)) / len(tiny_frame)
    synth = comp.counts(model.X_) / len(model.X_)
    err = np.abs(truth - synth)
    # With 200 rows the best achievable error per query is 1/400 (rounding of fractions);
    # shuffling its columns (same one-way marginals) is several times further (checked below).
    assert err.max() < 0.015, f"max error {err.max():.3f}"
    assert err.mean() < 0.004, f"mean error {err.mean():.4f}"
    rng = np.random.default_rng(0)
    shuffled = model.X_.copy()
    for j in range(shuffled.shape[1]):
        shuffled[:, j] = rng.permutation(shuffled[:, j])
    assert np.abs(truth - comp.counts(shuffled) / len(shuffled)).mean() > 3 * err.mean()
    assert model.n_hat_ == pytest.approx(len(tiny_frame), abs=1)


def test_search_stops_at_the_noise_floor(tiny_frame, tiny_domain):
    wl = tiny_workload(tiny_domain)
    common = {"workload": wl, "mode": "oneshot", "synthetic_rows": 200, "generations": 3000, "patience": 3000,
              "children": 32, "random_state": 0}
    data = PrivateData(tiny_frame, tiny_domain)
    stopped = create("gsd", stop_at_noise=1.0, **common).fit(data, PrivacyBudget(0.5, 1e-6))
    free = create("gsd", **common).fit(data, PrivacyBudget(0.5, 1e-6))
    log, log_free = stopped.search_log_[-1], free.search_log_[-1]
    # Stopped as soon as the fit was as good as the true data's expected error to the noise.
    assert log["stopped_early"] and 0 < log["fitness"] <= log["noise_floor"] and log_free["noise_floor"] == 0
    assert log["generations"] < log_free["generations"] == 3000
    assert log_free["fitness"] < log["fitness"]  # without it the search keeps fitting the noise


@pytest.mark.parametrize("mode", ["oneshot", "adaptive"])
def test_budget_charged_equals_the_declared_rho(small_frame, small_domain, mode):
    # GSD's own split, with numeric detail (atoms, steps, within-bin shape) off.
    small_private = PrivateData(small_frame, small_domain, numeric_detail=())
    budget = PrivacyBudget(1.0, 1e-6)
    params = {**FAST_PARAMS["gsd"], "mode": mode, "rounds": 3}
    model = create("gsd", random_state=0, **params).fit(small_private, budget)
    ledger = model.privacy_report.ledger
    by_step = {}
    for e in ledger:
        by_step[e.step] = by_step.get(e.step, 0.0) + e.rho
    assert sum(by_step.values()) == pytest.approx(budget.rho, rel=1e-9)
    rho = budget.rho - by_step["gsd.infer_domain"]
    assert by_step["gsd.infer_domain"] == pytest.approx(small_private.inference_share * budget.rho)
    if mode == "oneshot":
        assert by_step["gsd.measure"] == pytest.approx(rho)
        (n_groups,) = {len(model.build_workload(model.domain_))}
        assert sum(e.count for e in ledger if e.step == "gsd.measure") == n_groups
    else:
        assert by_step["gsd.init"] == pytest.approx(0.1 * rho)
        rounds = [e for e in ledger if e.step == "gsd.round"]
        select = sum(e.rho for e in rounds if e.mechanism.startswith("exponential"))
        assert select == pytest.approx(0.1 * 0.9 * rho)
        assert sum(e.rho for e in rounds) == pytest.approx(0.9 * rho)
        assert sum(e.count for e in rounds if e.mechanism.startswith("exponential")) == 3 * len(model.domain_)


def test_noise_on_the_answers_is_at_the_claimed_scale(small_frame, small_domain, monkeypatch):
    log = []
    original = GaussianMechanism.release

    def spy(self, values, noise):
        out = original(self, values, noise)
        log.append((np.asarray(values, float).copy(), out, self.sigma))
        return out

    monkeypatch.setattr(GaussianMechanism, "release", spy)
    private = PrivateData(small_frame, small_domain, numeric_detail=())
    budget = PrivacyBudget(1.0, 1e-6)
    fast = {**FAST_PARAMS["gsd"], "mode": "oneshot", "generations": 1}
    measured = []
    for seed in range(4):
        start = len(log)
        model = create("gsd", random_state=seed, **fast).fit(private, budget)
        ledger = [e for e in model.privacy_report.ledger if e.step == "gsd.measure"]
        # σ per unit of sensitivity: every group costs 1/(2σ²) and they spend what is left.
        n_groups = sum(e.count for e in ledger)
        rho = budget.rho - sum(e.rho for e in model.privacy_report.ledger if e.step == "gsd.infer_domain")
        sigma = math.sqrt(n_groups / (2 * rho))
        scales = {e.noise_scale for e in ledger}
        mine = [entry for entry in log[start:] if entry[2] in scales]  # not domain inference's
        assert len(mine) == n_groups
        measured += mine
        for s in scales:
            # Each group's σ is σ·√h for its h (an integer ≥ 1).
            h = (s / sigma) ** 2
            assert h == pytest.approx(round(h), rel=1e-9) and round(h) >= 1
    z = np.concatenate([(o - v) / s for v, o, s in measured])
    n = z.size
    assert n > 300
    ss = float(np.sum(z**2))
    p = 2 * min(stats.chi2.cdf(ss, n), stats.chi2.sf(ss, n))
    assert p > 1e-3, f"noise variance off: mean z² = {ss / n:.3f} over {n} answers"
    assert stats.chi2.sf(float(np.sum((1.25 * z) ** 2)), n) < 1e-6  # rejects a σ 25% too small
    assert stats.chi2.cdf(float(np.sum((z / 1.25) ** 2)), n) < 1e-6  # and one 25% too large


def test_numeric_output_is_real_valued_within_bounds(small_frame, small_domain):
    # Without numeric detail no step is learned, so values are not snapped to a grid.
    small_private = PrivateData(small_frame, small_domain, numeric_detail=())
    model = create("gsd", random_state=0, **FAST_PARAMS["gsd"]).fit(small_private, 3.0)
    out = model.sample(1000, random_state=0)
    score = out["score"].dropna()
    assert score.between(0, 1).all()
    # Not rounded to bins: far more distinct values than the 5 bins.
    assert score.nunique() > 50
    assert str(out["age"].dtype) == "Int64" and out["age"].dropna().between(18, 80).all()
    # sample(n) resamples the fitted table: n ≤ N rows are distinct rows of it.
    assert len(model.sample(50, random_state=1).drop_duplicates()) >= 45


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"workload": []}, "empty"),
        ({"workload": [("color", "nope")]}, "nope"),
        ({"workload": [q.Ranges(("age",), [[0.0]], [[30.0]])]}, "outside the public bounds"),
        ({"workload": [q.Ranges(("color",), [[0.0]], [[1.0]])]}, "not numeric"),
        ({"workload": "color"}, "workload"),
        ({"workload": [3]}, "column-name lists"),
        ({"mode": "magic"}, "mode"),
        ({"synthetic_rows": 1}, "synthetic_rows"),
        ({"init_share": 1.5}, "init_share"),
        ({"stop_at_noise": -1}, "stop_at_noise"),
    ],
)
def test_bad_input_gets_a_clear_error(small_private, params, match, monkeypatch):
    measured = []
    monkeypatch.setattr(PrivateData, "answer_queries", lambda *a, **k: measured.append(1))
    with pytest.raises(InvalidParameterError, match=match):
        create("gsd", **{**FAST_PARAMS["gsd"], **params}).fit(small_private, 1.0)
    assert measured == []  # refused before any query was answered


@pytest.mark.parametrize("epsilon", [0, -1.0, float("nan")])
def test_refuses_non_positive_epsilon(small_private, epsilon):
    with pytest.raises(InvalidParameterError, match="epsilon"):
        create("gsd", **FAST_PARAMS["gsd"]).fit(small_private, epsilon)


def test_empty_table_is_refused(small_domain, small_frame):
    from dpsynth.errors import InvalidDataError

    with pytest.raises(InvalidDataError, match="no rows"):
        PrivateData(small_frame.iloc[:0], small_domain)


def test_rows_are_rounded_once_so_copies_stay_copies(small_frame, small_domain):
    # Rounding shares on 'age': each distinct row of the fitted table is rounded once, so
    # sampling more rows than the table holds repeats rows exactly instead of making near-copies.
    model = create("gsd", random_state=0, **FAST_PARAMS["gsd"]).fit(
        PrivateData(small_frame, small_domain, numeric_detail=()), 3.0)
    age = model.domain_["age"]
    model.domain_ = model.domain_.with_columns([age.replace(rounding=((1.0, 10.0), (0.2, 0.8)))])
    n_rows = FAST_PARAMS["gsd"]["synthetic_rows"]
    out = model.sample(4 * n_rows, random_state=0)
    assert len(out.drop_duplicates()) <= n_rows
    ages = out["age"].dropna().to_numpy(dtype=float)
    assert np.mean(ages % 10 == 0) > 0.5  # the shares are applied (a uniform draw gives ≈ 10%)

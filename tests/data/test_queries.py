"""Query groups, their sensitivities, and PrivateData.answer_queries (issue 6)."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from dpsynth.data import queries as q
from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import BudgetExceededError, InvalidParameterError
from dpsynth.privacy import Accountant, GaussianMechanism, NoiseSource, PrivacyBudget

META = {
    "columns": [
        {"name": "c", "type": "categorical", "categories": ["a", "b", "c"], "nullable": True},
        {"name": "x", "type": "numeric", "lower": 0, "upper": 10, "edges": [0, 2, 5, 10]},
        {"name": "k", "type": "numeric", "lower": 0, "upper": 20, "integer": True, "nullable": True,
         "edges": [0, 3, 8, 20]},
    ]
}


@pytest.fixture(scope="module")
def domain():
    return Domain.from_json(META)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(1)
    n = 400
    c = rng.choice(["a", "b", "c", None], n, p=[0.4, 0.3, 0.2, 0.1])
    x = rng.uniform(0, 10, n)
    k = rng.integers(0, 21, n).astype(float)
    k[rng.random(n) < 0.15] = np.nan
    return pd.DataFrame({"c": c, "x": x, "k": pd.Series(k).astype("Int64")})


def bound(frame, domain, eps=5.0, seed=0):
    acc = Accountant(PrivacyBudget(eps, 1e-6))
    return PrivateData(frame, domain).bind(acc, NoiseSource(seed)), acc


def brute_force(frame, group):
    """The true answers of a group, row by row (an independent second implementation)."""
    if isinstance(group, q.TotalCount):
        return np.array([len(frame)], dtype=float)
    if isinstance(group, q.Marginal):
        axes = []
        for name in group.columns:
            if name == "c":
                vals = frame["c"].map({"a": 0, "b": 1, "c": 2}).fillna(3).to_numpy()
                axes.append((vals, 4))
            else:
                edges = META["columns"][1 if name == "x" else 2]["edges"]
                v = frame[name].astype(float).to_numpy()
                code = np.searchsorted(edges[1:-1], v, side="right").astype(float)
                code[np.isnan(v)] = len(edges) - 1
                axes.append((code, len(edges) if name == "k" else len(edges) - 1))
        shape = [s for _, s in axes]
        out = np.zeros(math.prod(shape))
        for row in zip(*[a for a, _ in axes], strict=True):
            out[np.ravel_multi_index([int(r) for r in row], shape)] += 1
        return out
    v = np.column_stack([frame[c].astype(float).to_numpy() for c in group.columns])
    if isinstance(group, q.Ranges):
        out = []
        for lo, hi in zip(group.lower, group.upper, strict=True):
            with np.errstate(invalid="ignore"):
                out.append(np.sum(np.all((v >= lo) & (v < hi), axis=1)))
        return np.array(out, dtype=float)
    spans = np.array([[0, 10], [0, 20]])[[0 if c == "x" else 1 for c in group.columns]]
    z = (v - spans[:, 0]) / (spans[:, 1] - spans[:, 0])
    ok = ~np.isnan(z).any(axis=1)
    return np.array([np.sum(ok & (np.nan_to_num(z) @ w >= b)) for w, b in zip(group.weights, group.offsets, strict=True)],
                    dtype=float)


def groups(domain):
    rng = np.random.default_rng(3)
    return [
        q.Marginal(("c",)),
        q.Marginal(("c", "k")),
        q.Marginal(("x", "k")),
        q.Ranges.prefix(domain, ["x"], [[1.0, 2.5, 7.0]]),
        q.Ranges.prefix(domain, ["x", "k"]),
        q.Ranges.random(domain, ["x", "k"], 25, rng),
        q.Halfspaces.random(["x", "k"], 10, rng),
        q.TotalCount(),
        q.Ranges.grid(domain, ["x", "k"], [[2.0, 6.0], [5.0]]),
    ]


def test_counts_match_a_row_by_row_count(frame, domain):
    from dpsynth.data.io import Table

    wl = q.CompiledWorkload(domain, groups(domain))
    X = q.encode_rows(Table.from_frame(frame).to_frame(domain), domain)
    counts = wl.counts(X)
    for i, g in enumerate(wl.groups):
        np.testing.assert_array_equal(wl.group_values(counts, i), brute_force(frame, g), err_msg=g.describe())


def test_max_hits_is_the_largest_number_of_queries_one_row_satisfies(domain):
    wl = q.CompiledWorkload(domain, groups(domain))
    # Every possible row on a fine grid (including missing values).
    cs = [0, 1, 2, 3]
    xs = np.linspace(0, 10, 201)
    ks = [*range(21), np.nan]
    X = np.array(list(itertools.product(cs, xs, ks)), dtype=float)
    counts_per_row = np.zeros((len(X), len(wl.groups)))
    cells = wl.cells(X)
    dense = wl.dense(X)
    for i, (a, b) in enumerate(wl.slices):
        if a < wl.n_cell:
            counts_per_row[:, i] = 1.0
        else:
            counts_per_row[:, i] = dense[:, a - wl.n_cell : b - wl.n_cell].sum(axis=1)
    assert cells.shape == (len(X), wl.n_cell_groups)
    reached = counts_per_row.max(axis=0)
    for i, g in enumerate(wl.groups):
        assert wl.max_hits[i] >= reached[i], g.describe()
        if not isinstance(g, q.Halfspaces):  # exact for boxes; a bound (the count) for halfspaces
            assert wl.max_hits[i] == reached[i], g.describe()
    assert wl.max_hits[4] == 2 * 2  # a 2-way prefix grid: one row at the low corner meets all
    assert wl.max_hits[8] == 1  # disjoint boxes: a histogram of raw values


def test_answers_are_noisy_charged_first_and_at_the_claimed_scale(frame, domain, monkeypatch):
    log = []
    original = GaussianMechanism.release

    def spy(self, values, noise):
        out = original(self, values, noise)
        log.append((np.asarray(values, float), out, self.sigma, self.sensitivity))
        return out

    monkeypatch.setattr(GaussianMechanism, "release", spy)
    wl = q.CompiledWorkload(domain, groups(domain))
    sigma = 3.0
    private = PrivateData(frame, domain)
    for seed in range(40):
        acc = Accountant(PrivacyBudget(50.0, 1e-6))
        data = private.bind(acc, NoiseSource(seed))
        ans = data.answer_queries(wl, sigma=sigma, step="t.measure")
        # Every group costs 1/(2σ²) whatever its sensitivity.
        assert acc.rho_spent == pytest.approx(len(wl.groups) / (2 * sigma**2))
        assert ans.groups == tuple(range(len(wl.groups)))
    for _, _, s, sens in log:
        assert s == pytest.approx(sigma * sens)  # σ_g = σ·√h_g
    z = np.concatenate([(out - val) / s for val, out, s, _ in log])
    n = z.size
    ss = float(np.sum(z**2))
    p = 2 * min(stats.chi2.cdf(ss, n), stats.chi2.sf(ss, n))
    assert p > 1e-3, f"noise variance off: mean z² = {ss / n:.3f} over {n} answers"
    # The same test rejects noise 25% smaller than claimed.
    assert stats.chi2.sf(float(np.sum((1.25 * z) ** 2)), n) < 1e-6


def test_over_budget_asks_release_nothing(frame, domain, monkeypatch):
    calls = []
    monkeypatch.setattr(GaussianMechanism, "release", lambda self, v, n: calls.append(1))
    monkeypatch.setattr(q, "private_rows", lambda *a: calls.append("read"))
    data, acc = bound(frame, domain, eps=0.01)
    with pytest.raises(BudgetExceededError, match=r"t\.big"):
        data.answer_queries(groups(domain), sigma=0.5, step="t.big")
    est = [np.zeros(1)] * 9
    with pytest.raises(BudgetExceededError):
        data.answer_queries(groups(domain), sigma=0.5, step="t.sel", select=q.Selection(est, epsilon=5.0, k=2))
    assert calls == [] and acc.ledger == []


def test_selection_picks_the_worst_group_and_charges_it(frame, domain):
    data, acc = bound(frame, domain, eps=1e4)
    wl = q.CompiledWorkload(domain, [q.Marginal(("c",)), q.Marginal(("x",)), q.Marginal(("k",))])
    from dpsynth.data.io import Table

    truth = wl.counts(q.encode_rows(Table.from_frame(frame).to_frame(domain), domain)).astype(float)
    est = [wl.group_values(truth, i).copy() for i in range(3)]
    est[1] = est[1] + 100.0  # group 1 is badly estimated
    ans = data.answer_queries(wl, sigma=1.0, step="t", select=q.Selection(est, epsilon=20.0, k=1))
    assert ans.groups == (1,)
    steps = [(e.step, e.count) for e in acc.ledger]
    assert steps == [("t", 1), ("t", 1)]
    assert acc.ledger[0].mechanism.startswith("exponential")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: [], "empty"),
        (lambda d: [q.Marginal(("c", "nope"))], "nope"),
        (lambda d: [q.Ranges(("x",), [[-5.0]], [[3.0]])], "outside the public bounds"),
        (lambda d: [q.Ranges.prefix(d, ["x"], [[4.0, 11.0]])], "outside the public bounds"),
        (lambda d: [q.Ranges.prefix(d, ["c"], [[1.0]])], "not numeric"),
        (lambda d: [q.Halfspaces(("c",), [[1.0]], [0.5])], "not numeric"),
        (lambda d: ["c"], "Marginal, Ranges"),
    ],
)
def test_bad_workloads_get_a_clear_error(frame, domain, make, match):
    data, acc = bound(frame, domain)
    with pytest.raises(InvalidParameterError, match=match):
        data.answer_queries(make(domain), sigma=1.0, step="t")
    assert acc.ledger == []


def test_malformed_groups_are_refused(domain):
    with pytest.raises(InvalidParameterError, match="lower < upper"):
        q.Ranges(("x",), [[3.0]], [[1.0]])
    with pytest.raises(InvalidParameterError, match="lower < upper"):
        q.Ranges(("x",), [[np.nan]], [[1.0]])
    with pytest.raises(InvalidParameterError, match="one or two"):
        q.Ranges(("x", "k", "c"), [[0, 0, 0]], [[1, 1, 1]])
    with pytest.raises(InvalidParameterError, match="twice"):
        q.Marginal(("x", "x"))
    with pytest.raises(InvalidParameterError, match="finite"):
        q.Halfspaces(("x",), [[np.inf]], [0.0])
    with pytest.raises(InvalidParameterError, match="sigma"):
        bound(pd.DataFrame({"c": ["a", "b"], "x": [1.0, 2.0], "k": [1, 2]}), domain)[0].answer_queries(
            [q.Marginal(("c",))], sigma=0.0, step="t")


# -- sensitivity holds for every row the data layer accepts ----------------------------------------
def _rows_seen(data):
    """``X`` of the rows PrivateData's queries read (after its clamping)."""
    return q.private_rows(data._table, data.domain)


def _hits_per_row(wl, X, i):
    a, b = wl.slices[i]
    if a < wl.n_cell:
        return np.ones(len(X))
    return wl.dense(X)[:, a - wl.n_cell : b - wl.n_cell].sum(axis=1)


def test_a_row_below_explicit_edges_cannot_exceed_the_charged_sensitivity():
    # Edges [0, 10, 20, 30] and no declared lower bound: a row at -5 is accepted. The prefix
    # queries x < 0 and x < 10 are charged h = 1 (no row inside the range meets both); the
    # row must therefore count as a row at the range's end, or the charge is too small.
    domain = Domain.from_json({"columns": [{"name": "x", "type": "numeric", "edges": [0, 10, 20, 30]}]})
    rest = pd.DataFrame({"x": [3.0, 12.0, 25.0, 29.0]})
    neighbour = pd.DataFrame({"x": [3.0, 12.0, 25.0, 29.0, -5.0]})
    workload = [q.Marginal(("x",)), q.Ranges.prefix(domain, ["x"], [[0.0, 10.0]])]
    wl = q.CompiledWorkload(domain, workload)
    assert list(wl.max_hits) == [1.0, 1.0]
    acc = Accountant(PrivacyBudget(5.0, 1e-6))
    data = PrivateData(neighbour, domain).bind(acc, NoiseSource(0))
    data.answer_queries(workload, sigma=2.0, step="gsd.measure")
    charged = {e.description: e for e in acc.ledger}
    assert all("L2 sensitivity=1" in e.mechanism for e in charged.values())
    # Neighbouring datasets (add/remove the row at -5): each group's true answers move by at
    # most its charged L2 sensitivity √h.
    seen = [_rows_seen(PrivateData(f, domain).bind(Accountant(PrivacyBudget(5.0, 1e-6)), NoiseSource(0)))
            for f in (rest, neighbour)]
    for i, g in enumerate(wl.groups):
        diff = q.true_counts(seen[1], wl)[i] - q.true_counts(seen[0], wl)[i]
        assert np.linalg.norm(diff) <= math.sqrt(wl.max_hits[i]) + 1e-12, g.describe()
        assert _hits_per_row(wl, seen[1], i).max() <= wl.max_hits[i], g.describe()
    # The row is read as x = 0, the lower end of the range the sensitivity assumes.
    assert seen[1][:, 0].min() == 0.0 and seen[1][:, 0].max() == 29.0


def test_rows_outside_the_declared_bounds_are_clamped_when_validation_is_skipped():
    domain = Domain.from_json({"columns": [{"name": "x", "type": "numeric", "lower": 0, "upper": 30,
                                            "edges": [0, 10, 20, 30]}]})
    frame = pd.DataFrame({"x": [-5.0, 3.0, 40.0, None]}, dtype=object)
    with pytest.raises(Exception, match="below the lower bound"):
        PrivateData(frame, Domain.from_json({"columns": [{"name": "x", "type": "numeric", "lower": 0,
                                                         "upper": 30, "nullable": True}]}))
    domain = Domain.from_json({"columns": [{"name": "x", "type": "numeric", "lower": 0, "upper": 30,
                                            "nullable": True}]})
    data = PrivateData(frame, domain, validate_data=False).bind(Accountant(PrivacyBudget(5.0, 1e-6)),
                                                                NoiseSource(0))
    x = _rows_seen(data)[:, 0]
    np.testing.assert_array_equal(x[:3], [0.0, 3.0, 30.0])
    assert np.isnan(x[3])


_edges = st.lists(st.integers(-50, 50), min_size=2, max_size=6, unique=True).map(sorted)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edges=_edges, declared=st.sampled_from(["none", "lower", "upper"]),
       values=st.lists(st.integers(-80, 80), min_size=2, max_size=8),
       pick=st.lists(st.integers(0, 10**6), min_size=1, max_size=4),
       with_2d=st.booleans())
def test_charged_sensitivity_is_the_worst_case_over_accepted_rows(edges, declared, values, pick, with_2d):
    """max_hits equals the most queries any accepted row satisfies, and no row PrivateData reads exceeds it."""
    lo, hi = float(edges[0]), float(edges[-1])
    cols = []
    for name in ("x", "y"):
        c = {"name": name, "type": "numeric", "edges": [float(e) for e in edges]}
        if declared == "lower":
            c["lower"] = lo
        elif declared == "upper":
            c["upper"] = hi
        cols.append(c)
    domain = Domain.from_json({"columns": cols})
    # Values beyond a declared bound are refused by validation; beyond the edges they are accepted.
    v = np.array(values, dtype=float)
    if declared == "lower":
        v = np.maximum(v, lo)
    elif declared == "upper":
        v = np.minimum(v, hi)
    frame = pd.DataFrame({"x": v, "y": v[::-1]})
    # Thresholds among the public points of the range (the edges and integers inside).
    points = np.arange(lo, hi + 1.0)
    thr = points[[p % len(points) for p in pick]]
    rng = np.random.default_rng(sum(pick))
    workload = [q.Ranges.prefix(domain, ["x"], [thr]), q.Ranges.random(domain, ["x"], 6, rng, [thr])]
    if with_2d:
        workload.append(q.Ranges.random(domain, ["x", "y"], 6, rng, [thr, thr]))
    wl = q.CompiledWorkload(domain, workload)
    data = PrivateData(frame, domain).bind(Accountant(PrivacyBudget(5.0, 1e-6)), NoiseSource(0))
    seen = _rows_seen(data)
    assert np.all((seen >= lo) & (seen <= hi))
    # Every accepted row, after clamping, is a point of [lo, hi]²; the count of boxes holding a
    # point only changes at a threshold, so the half-integer grid covers every case.
    grid = np.arange(2.0 * lo, 2.0 * hi + 1.0) / 2.0
    every = np.array(list(itertools.product(grid, grid)), dtype=float)
    for i, g in enumerate(wl.groups):
        worst = _hits_per_row(wl, every, i).max()
        assert wl.max_hits[i] == max(worst, 1.0), g.describe()
        assert _hits_per_row(wl, seen, i).max() <= wl.max_hits[i], g.describe()


def test_clamping_reads_integer_and_datetime_columns_at_their_range_ends():
    domain = Domain.from_json({"columns": [
        {"name": "k", "type": "numeric", "integer": True, "edges": [0.5, 10, 20]},
        {"name": "t", "type": "datetime", "edges": ["2020-01-01", "2021-01-01", "2022-01-01"], "nullable": True},
    ]})
    frame = pd.DataFrame({"k": ["-3", "5", "25", "7"], "t": ["2019-05-01", "2020-06-01 10:00:00", "2023-01-01", ""]})
    data = PrivateData(frame, domain).bind(Accountant(PrivacyBudget(5.0, 1e-6)), NoiseSource(0))
    X = _rows_seen(data)
    # Integer column: the whole numbers inside [0.5, 20], so -3 reads as 1 and 25 as 20.
    np.testing.assert_array_equal(X[:, 0], [1.0, 5.0, 20.0, 7.0])
    day = pd.Timestamp("2020-01-01").timestamp()
    np.testing.assert_array_equal(X[:3, 1], [day, pd.Timestamp("2020-06-01 10:00").timestamp(),
                                            pd.Timestamp("2022-01-01").timestamp()])
    assert np.isnan(X[3, 1])
    specs = {s.name: s for s in q.column_specs(domain)}
    assert (specs["k"].lower, specs["k"].upper) == (1.0, 20.0)  # the same range the sensitivities use

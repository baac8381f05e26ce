import numpy as np
import pandas as pd
import pytest

from dpsynth.data.domain import Domain
from dpsynth.data.io import Table, marginal_counts
from dpsynth.data.private import MAX_CODES, PrivateData, coarsen_counts
from dpsynth.errors import BudgetExceededError, InvalidDataError, InvalidParameterError
from dpsynth.privacy import Accountant, GaussianMechanism, NoiseSource, PrivacyBudget

META = {
    "columns": [
        {"name": "a", "type": "categorical", "categories": ["x", "y", "z"]},
        {"name": "b", "type": "numeric", "lower": 0, "upper": 10, "bins": 5},
    ]
}


@pytest.fixture()
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.choice(["x", "y", "z"], 500), "b": rng.uniform(0, 10, 500)})


def bound(frame, eps=1.0):
    data = PrivateData(frame, Domain.from_json(META))
    return data.bind(Accountant(PrivacyBudget(eps, 1e-6)), NoiseSource(0))


def test_unbound_data_refuses_to_answer(frame):
    data = PrivateData(frame, Domain.from_json(META))
    with pytest.raises(InvalidParameterError, match="not bound"):
        data.measure_marginals([("a",)], sigma=1.0, step="t")


def test_measurement_is_noisy_and_charged(frame):
    data = bound(frame, eps=5.0)
    (m,) = data.measure_marginals([("a", "b")], sigma=2.0, step="t.measure")
    truth = marginal_counts(Table.from_frame(frame), data.discretizer, ("a", "b")).ravel()
    assert m.values.shape == truth.shape
    assert not np.array_equal(m.values, truth)
    assert data.accountant.rho_spent == pytest.approx(1 / 8)
    (entry,) = data.accountant.ledger
    assert entry.step == "t.measure" and "a×b" in entry.description


def test_over_budget_measurement_releases_nothing(frame, monkeypatch):
    calls = []
    monkeypatch.setattr(GaussianMechanism, "release", lambda self, v, n: calls.append(1))
    data = bound(frame, eps=0.01)
    with pytest.raises(BudgetExceededError, match=r"t\.big"):
        data.measure_marginals([("a",), ("b",)], sigma=0.5, step="t.big")
    assert calls == [] and data.accountant.ledger == []


def test_unknown_column_in_a_query(frame):
    with pytest.raises(InvalidParameterError, match="nope"):
        bound(frame).measure_marginals([("a", "nope")], sigma=1.0, step="t")


def test_exhausted_budget_is_refused(frame):
    data = bound(frame)
    data.measure_marginals([("a",)], sigma=float(np.sqrt(1 / (2 * data.accountant.rho_budget))), step="t")
    with pytest.raises(BudgetExceededError, match="exhausted"):
        data.rho_left("t.next")


def test_huge_category_count_gets_a_clear_error():
    cats = [f"c{i}" for i in range(10_000)]
    frame = pd.DataFrame({"k": cats[:50] * 2})
    data = PrivateData(frame, Domain.from_json({"columns": [{"name": "k", "type": "categorical", "categories": cats}]}))
    bound_data = data.bind(Accountant(PrivacyBudget(1.0, 1e-6)), NoiseSource(0))
    with pytest.raises(InvalidDataError, match=f"at most {MAX_CODES}"):
        bound_data.measure_marginals([("k",)], sigma=1.0, step="t")


def test_selection_is_charged_and_prefers_the_worst_estimate(frame):
    data = bound(frame, eps=50.0)
    truth = marginal_counts(Table.from_frame(frame), data.discretizer, ("a",))
    good = truth.copy()
    bad = np.zeros_like(truth)
    picks = [data.select_marginal([("a",), ("b",)], {("a",): bad, ("b",): marginal_counts(
        Table.from_frame(frame), data.discretizer, ("b",))}, epsilon=1.0, step="t.sel") for _ in range(20)]
    assert picks.count(0) == 20  # an L1 error of 500 vs 0 at ε = 1 is never lost
    assert len(data.accountant.ledger) == 20
    del good


def test_coarsen_counts_sums_merged_codes():
    counts = np.arange(12.0).reshape(3, 4)
    out = coarsen_counts(counts, ("p", "q"), {"q": np.array([0, 1, 1, 1])})
    np.testing.assert_array_equal(out, [[0, 6], [4, 18], [8, 30]])


def test_repr_hides_the_size(frame):
    assert str(len(frame)) not in repr(PrivateData(frame, Domain.from_json(META)))

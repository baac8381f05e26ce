"""Target-aware selection: MST's pairs and AIM's workload weigh the metadata's target."""

import math

import numpy as np
import pytest

from dpsynth.data.domain import Domain
from dpsynth.data.io import Table, marginal_counts
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget
from dpsynth.privacy.mechanisms import ExponentialMechanism
from dpsynth.synth import create
from dpsynth.synth.aim import candidate_weights, target_workload_weights
from dpsynth.synth.mst import target_pair_weights
from tests.synth.conftest import FAST_PARAMS, SMALL_META


def test_target_pair_weights_favour_the_target_and_keep_the_largest_at_one():
    pairs = [("a", "y"), ("a", "b"), ("y", "b")]
    assert target_pair_weights(pairs, "y", 4.0) == [1.0, 0.25, 1.0]
    assert target_pair_weights(pairs, None, 4.0) is None  # no declared target: unweighted
    assert target_pair_weights(pairs, "y", 1.0) is None


def test_target_workload_weights_scale_the_candidates_that_meet_the_target():
    workload = [("a", "b", "y"), ("a", "b", "c"), ("b", "c", "y")]
    assert target_workload_weights(workload, "y", 3.0) == [3.0, 1.0, 3.0]
    assert target_workload_weights(workload, None, 3.0) == [1.0, 1.0, 1.0]
    plain = candidate_weights(workload, [1.0] * 3)
    weighted = candidate_weights(workload, target_workload_weights(workload, "y", 3.0))
    # ("y",) meets two target marginals: 1 + 1 -> 3 + 3; ("c",) one of each: 1 + 1 -> 1 + 3.
    assert (plain[("y",)], weighted[("y",)]) == (2.0, 6.0)
    assert (plain[("c",)], weighted[("c",)]) == (2.0, 4.0)


META = {"columns": [
    {"name": "a", "type": "categorical", "categories": ["x", "y", "z"]},
    {"name": "b", "type": "categorical", "categories": ["p", "q"]},
]}


def _bound(frame, eps):
    data = PrivateData(frame, Domain.from_json(META), numeric_detail=())
    return data.bind(Accountant(PrivacyBudget(eps, 1e-6)), NoiseSource(0))


def _frame(n=300, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.choice(["x", "y", "z"], n), "b": rng.choice(["p", "q"], n)})


def test_weighted_selection_draws_at_the_claimed_scale():
    """P(pick r) ∝ exp(ε·w_r·err_r / (2·max w)): weights flip which candidate is favoured."""
    frame = _frame()
    data = _bound(frame, eps=5e4)
    truth = {c: marginal_counts(Table.from_frame(frame), data.discretizer, c) for c in [("a",), ("b",)]}
    est = {("a",): truth[("a",)] + np.array([2.0, 2.0, 0.0]),  # L1 error 4
           ("b",): truth[("b",)] + np.array([3.0, -3.0])}      # L1 error 6
    eps, weights, draws = 1.0, [1.0, 0.5], 3000
    picks = np.array([data.select_marginal([("a",), ("b",)], est, epsilon=eps, weights=weights, step="t")
                      for _ in range(draws)])
    p_a = math.exp(eps * 4 / 2) / (math.exp(eps * 4 / 2) + math.exp(eps * 3 / 2))  # 0.62
    se = math.sqrt(p_a * (1 - p_a) / draws)
    assert abs(np.mean(picks == 0) - p_a) < 4 * se
    # Unweighted, b (error 6) is the favourite: P(a) = 0.27.
    assert np.mean(picks == 0) > 0.5
    (entry,) = {(e.step, e.rho) for e in data.accountant.ledger}
    assert entry[1] == pytest.approx(eps**2 / 8)  # each selection costs ε²/8, weights or not


def test_weighted_score_changes_by_at_most_the_sensitivity_between_neighbours(monkeypatch):
    """Neighbouring tables (one row removed): every weighted score moves by ≤ max weight."""
    seen = []
    orig = ExponentialMechanism.select

    def spy(self, scores, noise):
        seen.append((np.array(scores, dtype=float), self.sensitivity))
        return orig(self, scores, noise)

    monkeypatch.setattr(ExponentialMechanism, "select", spy)
    frame = _frame()
    cands = [("a",), ("b",), ("a", "b")]
    weights = target_pair_weights(cands, "b", 3.0)
    for table in (frame, frame.iloc[1:]):
        data = _bound(table, eps=10.0)
        est = {c: np.zeros(data.pgm_domain.size(c)) for c in cands}
        data.select_marginal(cands, est, epsilon=1.0, weights=weights, step="t")
    (s0, d0), (s1, d1) = seen
    assert d0 == d1 == 1.0  # the target pairs weigh 1: the sensitivity stays 1
    assert np.max(np.abs(s0 - s1)) <= d0 + 1e-12
    assert np.max(np.abs(s0 - s1)) > 0


def _fit(name, frame, target_weight, eps=1.0, seed=0, **kw):
    data = PrivateData(frame, Domain.from_json(SMALL_META), numeric_detail=())
    params = {**FAST_PARAMS[name], **kw, "target_weight": target_weight}
    return create(name, random_state=seed, **params).fit(data, PrivacyBudget(eps, 1e-6))


def test_mst_passes_target_weights_to_its_selection(monkeypatch, small_frame):
    calls = []
    orig = PrivateData.select_marginal

    def spy(self, candidates, estimates, **kw):
        calls.append((list(candidates), kw.get("weights")))
        return orig(self, candidates, estimates, **kw)

    monkeypatch.setattr(PrivateData, "select_marginal", spy)
    _fit("mst", small_frame, 4.0)
    assert calls
    for cands, w in calls:
        assert w == [1.0 if "y" in c else 0.25 for c in cands]
    calls.clear()
    _fit("mst", small_frame, 1.0)
    assert all(w is None for _, w in calls)


def test_mst_target_weight_links_the_target_to_more_columns(small_frame):
    def degree(w, seed):
        model = _fit("mst", small_frame, w, eps=2.0, seed=seed)
        return sum("y" in c for c in model.model_.cliques)

    plain = [degree(1.0, s) for s in range(4)]
    star = [degree(1e6, s) for s in range(4)]
    assert min(star) == 4  # with the others' weight near 0, every pair of the tree holds y
    assert sum(plain) < sum(star)


def test_mst_selection_costs_the_same_with_a_target(small_frame):
    spent = []
    for w in (1.0, 2.0):
        model = _fit("mst", small_frame, w)
        spent.append(sum(e.rho for e in model.privacy_report.ledger if e.step == "mst.select"))
    assert spent[0] == pytest.approx(spent[1])


def test_aim_weighs_candidates_that_meet_the_target(monkeypatch, small_frame):
    calls = []
    orig = PrivateData.select_marginal

    def spy(self, candidates, estimates, **kw):
        calls.append(dict(zip(candidates, kw["weights"], strict=True)))
        return orig(self, candidates, estimates, **kw)

    monkeypatch.setattr(PrivateData, "select_marginal", spy)
    _fit("aim", small_frame, 3.0, max_rounds=2)
    weighted = calls[0]
    calls.clear()
    _fit("aim", small_frame, 1.0, max_rounds=2)
    plain = calls[0]
    assert weighted[("y",)] == pytest.approx(3 * plain[("y",)])
    assert weighted[("color", "size")] > plain[("color", "size")]  # they meet y in (color, size, y)
    assert all(weighted[c] >= plain[c] for c in plain)


@pytest.mark.parametrize("name", ["mst", "aim"])
@pytest.mark.parametrize("bad", [0.5, 0, -2.0, float("nan"), float("inf"), "2", True, None])
def test_bad_target_weight_is_refused_in_one_line(name, bad, small_frame):
    with pytest.raises(InvalidParameterError, match="target_weight") as info:
        _fit(name, small_frame, bad)
    assert "\n" not in str(info.value)

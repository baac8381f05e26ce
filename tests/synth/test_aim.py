"""AIM's wide-table machinery: workload sampling, candidate weights, early stopping."""

import itertools

import pytest

from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError
from dpsynth.privacy import PrivacyBudget
from dpsynth.synth import create
from dpsynth.synth.aim import candidate_weights, sample_workload
from tests.synth.conftest import FAST_PARAMS


def test_candidate_weights_are_the_overlap_with_the_workload():
    names = "abcdefg"
    workload = [("a", "b", "c"), ("b", "d", "e"), ("c", "f", "g"), ("a", "e", "g"), ("b", "c")]
    weights = [1.0, 2.0, 0.5, 1.5, 3.0]
    got = candidate_weights(workload, weights)
    closure = {r for cl in workload for k in range(1, len(cl) + 1) for r in itertools.combinations(cl, k)}
    assert set(got) == closure
    for r, w in got.items():
        assert w == pytest.approx(sum(c * len(set(r) & set(s)) for s, c in zip(workload, weights, strict=True)))
    assert set(names) == {a for r in got for a in r}


def test_sample_workload_is_fixed_and_only_bites_above_the_limit():
    workload = list(itertools.combinations(range(12), 3))  # 220 marginals
    assert sample_workload(workload, None) == workload
    assert sample_workload(workload, 220) == workload
    small = sample_workload(workload, 50)
    assert len(small) == 50 == len(set(small))
    assert set(small) <= set(workload)
    assert small == sample_workload(workload, 50)  # public, fixed: no data, no seed


def _fit(frame, domain, **params):
    kw = {**FAST_PARAMS["aim"], **params}
    # Numeric detail off: these tests pin AIM's own split of the whole budget (numeric detail
    # would also spend a share of δ, which changes the ρ the budget converts to).
    data = PrivateData(frame, domain, numeric_detail=())
    return create("aim", random_state=0, **kw).fit(data, PrivacyBudget(1.0, 1e-6))


def _measure_rounds(model):
    return [e for e in model.privacy_report.ledger if e.step == "aim.measure"]


def test_max_rounds_spends_everything_in_the_last_round(small_frame, small_domain):
    model = _fit(small_frame, small_domain, max_rounds=2)
    report = model.privacy_report
    rounds = _measure_rounds(model)
    assert len(rounds) == 2
    # The whole budget is spent, shared equally by the two rounds (not dumped on the last).
    assert sum(e.rho for e in report.ledger) == pytest.approx(PrivacyBudget(1.0, 1e-6).rho)
    assert rounds[-1].rho == pytest.approx(rounds[0].rho, rel=1e-6)
    init = sum(e.rho for e in report.ledger if e.step == "aim.init")
    # Each round measures with far more than the 20-round split gave (one init marginal of 5).
    assert rounds[0].rho > 5 * init / 5
    assert any("max_rounds" in n and "after 2 adaptive rounds" in n for n in report.notes)
    # Without the option the same fit runs more rounds and says nothing about stopping.
    full = _fit(small_frame, small_domain)
    assert len(_measure_rounds(full)) > 2
    assert not any("stopped early" in n for n in full.privacy_report.notes)


def test_time_limit_stops_after_the_first_round(small_frame, small_domain):
    model = _fit(small_frame, small_domain, time_limit=1e-9)
    assert len(_measure_rounds(model)) == 1
    assert sum(e.rho for e in model.privacy_report.ledger) == pytest.approx(PrivacyBudget(1.0, 1e-6).rho)
    assert any("time_limit" in n for n in model.privacy_report.notes)


@pytest.mark.parametrize(
    "params",
    [
        {"max_rounds": 0},
        {"max_rounds": 1.5},
        {"time_limit": -1.0},
        {"max_workload": 0},
        {"final_settle": -0.1},
        {"final_settle": "0.02"},
    ],
)
def test_bad_early_stopping_parameters_are_refused(params, small_frame, small_domain):
    with pytest.raises(InvalidParameterError):
        _fit(small_frame, small_domain, **params)


def _chain_table(n: int = 4000, d: int = 9, seed: int = 0):
    """A Markov chain of categorical columns (each depends on the one before), and its domain."""
    import numpy as np
    import pandas as pd

    from dpsynth.data.domain import Domain

    rng = np.random.default_rng(seed)
    cols = {"c0": rng.integers(0, 4, n)}
    for j in range(1, d):
        prev = cols[f"c{j - 1}"]
        cols[f"c{j}"] = np.where(rng.random(n) < 0.7, (prev + j) % 4, rng.integers(0, 4, n))
    frame = pd.DataFrame({k: [f"v{x}" for x in v] for k, v in cols.items()})
    meta = {"name": "chain", "columns": [
        {"name": k, "type": "categorical", "categories": [f"v{i}" for i in range(4)]} for k in cols
    ]}
    return frame, Domain.from_json(meta)


def test_lazy_selection_selects_exactly_as_scoring_every_candidate():
    # Same seed, same noise: the lazy selection must pick every round's marginal as the full
    # one does (equal ledgers), hence the same model and the same synthetic rows, while
    # computing fewer out-of-clique marginals.
    frame, domain = _chain_table(n=2000, d=8)
    fits = {}
    for lazy in (True, False):
        data = PrivateData(frame, domain, numeric_detail=())
        fits[lazy] = create(
            "aim", random_state=0, iters=20, final_iters=30, rounds=24, lazy_selection=lazy
        ).fit(data, PrivacyBudget(3.0, 1e-6))
    ledger = {k: [(e.step, e.description, e.rho) for e in m.privacy_report.ledger] for k, m in fits.items()}
    assert ledger[True] == ledger[False]
    assert len([e for e in ledger[True] if e[0] == "aim.measure"]) > 5
    assert fits[True].sample(300, random_state=1).equals(fits[False].sample(300, random_state=1))
    stats = fits[True].selection_stats_
    assert 0 < stats["out_of_clique_computed"] < stats["out_of_clique_candidates"] * 0.7


def test_a_binding_size_limit_is_checked_lazily_with_the_same_selections(monkeypatch):
    # A model-size limit that excludes candidates in the rounds: the lazy path asks the
    # (costly) size of fewer candidates than are offered, yet selects exactly as the full
    # path, which sizes every candidate; the final model stays under the limit.
    from dpsynth.pgm import _junction
    from dpsynth.pgm._junction import model_size_mb

    frame, domain = _chain_table(n=2000, d=8)
    asked = {True: 0, False: 0}
    real_call = _junction.CandidateSizes.__call__
    mode = {"lazy": True}

    def counting(self, candidate):
        # Count the costly sizes only: a candidate adding no edge has the model's own size.
        c = _junction._index_cliques(self.domain, [candidate])[0]
        if c not in self._memo and self.adds_edges(candidate):
            asked[mode["lazy"]] += 1
        return real_call(self, candidate)

    monkeypatch.setattr(_junction.CandidateSizes, "__call__", counting)
    limit = 8.0 * 300 / 2**20  # 300 cells: a few 3-way marginals of 64 cells, not all
    fits = {}
    for lazy in (True, False):
        mode["lazy"] = lazy
        fits[lazy] = create(
            "aim", random_state=0, iters=20, final_iters=30, rounds=24, lazy_selection=lazy, max_model_size=limit
        ).fit(PrivateData(frame, domain, numeric_detail=()), PrivacyBudget(3.0, 1e-6))
    ledger = {k: [(e.step, e.description, e.rho) for e in m.privacy_report.ledger] for k, m in fits.items()}
    assert ledger[True] == ledger[False]
    measured = [c for c in fits[True].model_.cliques]
    assert model_size_mb(fits[True].model_.domain, measured) <= limit
    assert 0 < asked[True] < asked[False]


def test_lazy_selection_must_be_a_bool(small_frame, small_domain):
    with pytest.raises(InvalidParameterError):
        _fit(small_frame, small_domain, lazy_selection="yes")

"""Bounds on how far successive estimated models move (the lazy selection of AIM relies on them)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dpsynth.pgm import Domain, _drift, estimate
from dpsynth.pgm._drift import LazyEstimates, ModelDrift
from tests.pgm._helpers import joint_from_potentials, noisy_measurements

DOM = Domain(tuple("abcdefg"), (3, 4, 2, 5, 3, 2, 4))


def _sequence(seed: int) -> list:
    """Models of a warm-started fit measuring one more marginal each round (as AIM does)."""
    rng = np.random.default_rng(seed)
    pots = {c: rng.normal(0, 1.0, [DOM[a] for a in c]) for c in [("a", "b"), ("b", "c", "d"), ("e", "f"), ("f", "g")]}
    joint = joint_from_potentials(DOM, pots, 5000.0)
    log = noisy_measurements(DOM, joint, [(a,) for a in DOM.attrs], 20.0, rng)
    models = [estimate(DOM, log, iters=60)]
    for c in [("a", "b"), ("c", "d"), ("b", "c", "d"), ("e", "f"), ("a", "g")]:
        log = log + noisy_measurements(DOM, joint, [c], 10.0, rng)
        models.append(estimate(DOM, log, iters=60, warm_start=models[-1]))
    return models


@pytest.mark.parametrize(("seed", "reduce_cells"), [(0, 1 << 15), (1, 1 << 15), (0, 4)])
def test_drift_bounds_every_marginal_over_every_span_of_rounds(seed, reduce_cells, monkeypatch):
    # reduce_cells = 4: every clique counts as big (whole-clique KLs stand in for reduced ones).
    monkeypatch.setattr(_drift, "_REDUCE_CELLS", reduce_cells)
    models = _sequence(seed)
    cliques = [c for k in (1, 2, 3) for c in itertools.combinations(DOM.attrs, k)]
    drift = ModelDrift(cliques)
    for t, model in enumerate(models):
        drift.advance(model)
        assert drift.version == t
        for s in range(t + 1):
            for c in cliques:
                moved = np.abs(model.project(c) - models[s].project(c)).sum()
                bound = drift.drift(c, s)
                assert moved <= bound, (c, s, t, moved, bound)
                assert math.isfinite(bound)
        assert drift.drift(("a",), t) == 0.0


def test_drift_is_local_a_far_marginal_moves_less_than_the_measured_one():
    models = _sequence(0)
    drift = ModelDrift([("e", "f"), ("a", "c")])
    drift.advance(models[3])
    drift.advance(models[4])  # measures ("e", "f"): the a–d part of the model barely moves
    near = drift.drift(("e", "f"), 0)
    far = drift.drift(("a", "c"), 0)
    assert far < near / 4
    # The bound is not vacuous: the measured marginal's own move is within a few times it.
    moved = np.abs(models[4].project(("e", "f")) - models[3].project(("e", "f"))).sum()
    assert moved <= near < 10 * moved + 1.0


def test_lazy_estimates_answer_like_the_model_and_count_eliminations():
    models = _sequence(1)
    drift = ModelDrift([("a",)])
    drift.advance(models[-1])
    cands = [("a", "b"), ("a", "c", "e"), ("a", "c"), ("c", "e")]
    est = LazyEstimates(drift, cands)
    assert est.in_clique(("a", "b")) and not est.in_clique(("a", "c", "e"))
    assert not est.cheap(("a", "c"))
    for c in [("a", "c", "e"), ("a", "c"), ("a", "b")]:
        np.testing.assert_allclose(est[c], models[-1].project(c), rtol=1e-10, atol=1e-9)
    # ("a", "c") was summed from ("a", "c", "e"): one elimination only.
    assert est.computed == 1 and est.cheap(("c", "e"))
    assert len(est) == 4 and list(est) == cands
    with pytest.raises(KeyError):
        est[("b", "d")]
    with pytest.raises(ValueError):
        drift.drift(("a",), 1)

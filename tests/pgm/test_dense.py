"""The whole-joint engine for small domains against belief propagation and brute force."""

import numpy as np
import pytest

import dpsynth.pgm._dense as dense
from dpsynth.pgm import Domain, estimate
from dpsynth.pgm._dense import DenseJoint, engine
from dpsynth.pgm._engine import BeliefPropagation
from dpsynth.pgm._junction import junction_tree
from dpsynth.pgm._model import maximal_cliques
from tests.pgm._helpers import joint_from_potentials, marginal, noisy_measurements

DOM = Domain(tuple("abcdef"), (3, 1, 4, 2, 5, 2))
POT_CLIQUES = [("a", "c"), ("c", "d", "e"), ("b",), ("e", "a"), ("f",)]
TARGETS = [("c", "a"), ("e",), ("d", "c"), ("a", "f"), ("b", "a")]


def _pots(seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return [scale * rng.normal(size=[DOM[a] for a in c]) for c in POT_CLIQUES]


def _tree():
    return junction_tree(DOM, maximal_cliques([*POT_CLIQUES, *TARGETS]))


@pytest.mark.parametrize("seed, scale", [(0, 1.0), (1, 25.0)])
def test_run_matches_belief_propagation_and_brute_force(seed, scale):
    jt = _tree()
    pots = _pots(seed, scale)
    dj, bp = DenseJoint(jt, POT_CLIQUES, TARGETS), BeliefPropagation(jt, POT_CLIQUES, TARGETS)
    joint = joint_from_potentials(DOM, dict(zip(POT_CLIQUES, pots, strict=True)), 321.0)
    got, ref = dj.run(pots, 321.0, keep=True), bp.run(pots, 321.0, keep=True)
    assert len(got) == len(ref) == len(TARGETS) + len(jt.cliques)
    for g, r, c in zip(got, ref, [*TARGETS, *jt.cliques], strict=True):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(g, marginal(DOM, joint, c), rtol=1e-9, atol=1e-9)
    # native order: the axes dj.target_orders names
    for m, order, t in zip(dj.run(pots, 321.0, native=True), dj.target_orders, TARGETS, strict=True):
        np.testing.assert_allclose(m, marginal(DOM, joint, order), rtol=1e-9, atol=1e-9)
        assert set(order) == set(t)


def test_flat_evaluator_equals_run():
    jt = _tree()
    targets = [("a", "c"), ("c", "d", "e"), ("e", "a")]
    fixed_cliques = [("f",), ("b",)]
    dj = DenseJoint(jt, targets + fixed_cliques, targets)
    rng = np.random.default_rng(3)
    native = [rng.normal(size=[DOM[a] for a in o]) for o in dj.target_orders]
    fixed = [rng.normal(size=[DOM[a] for a in c]) for c in fixed_cliques]
    # run() takes tables in the targets' own axis order
    own = [t.transpose([o.index(a) for a in c]) for t, o, c in zip(native, dj.target_orders, targets, strict=True)]
    ref = np.concatenate([m.reshape(-1) for m in dj.run(own + fixed, 77.0, native=True)])
    flat = np.concatenate([t.reshape(-1) for t in native])
    np.testing.assert_allclose(dj.flat_evaluator(fixed, 77.0)(flat), ref, rtol=1e-12, atol=1e-12)


def test_engine_picks_by_size(monkeypatch):
    jt = _tree()
    assert isinstance(engine(jt, POT_CLIQUES, TARGETS), DenseJoint)
    monkeypatch.setattr(dense, "DENSE_CELLS", 10)
    assert isinstance(engine(jt, POT_CLIQUES, TARGETS), BeliefPropagation)


def test_estimate_is_the_same_with_either_engine(monkeypatch):
    rng = np.random.default_rng(5)
    truth = joint_from_potentials(DOM, dict(zip(POT_CLIQUES, _pots(9), strict=True)), 1000.0)
    meas = noisy_measurements(DOM, truth, [("a", "c"), ("c", "d"), ("d", "e"), ("f",), ("b",)], 3.0, rng)
    kw = {"iters": 60, "tol": None}
    with_dense = estimate(DOM, meas, **kw)
    warm_dense = estimate(DOM, meas[:3], **kw)
    monkeypatch.setattr(dense, "DENSE_CELLS", 0)
    with_bp = estimate(DOM, meas, **kw)
    warm_bp = estimate(DOM, meas[:3], **kw)
    assert with_dense.iterations_ == with_bp.iterations_
    np.testing.assert_allclose(with_dense.loss_, with_bp.loss_, rtol=1e-9)
    for q in [("a", "c"), ("e", "a"), ("c", "d", "e"), ("f", "b")]:
        np.testing.assert_allclose(with_dense.project(q), with_bp.project(q), rtol=1e-7, atol=1e-7)
    # a warm start from either engine's model continues alike
    cont_bp = estimate(DOM, meas, warm_start=warm_bp, **kw)
    monkeypatch.setattr(dense, "DENSE_CELLS", 4096)
    cont_dense = estimate(DOM, meas, warm_start=warm_dense, **kw)
    np.testing.assert_allclose(cont_dense.project(("c", "d")), cont_bp.project(("c", "d")), rtol=1e-7, atol=1e-7)

import itertools
import json
import math

import numpy as np
import pytest

from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.pgm import Domain, GraphicalModel, Measurement, estimate, estimate_total
from tests.pgm._helpers import (
    exact_measurements,
    joint_from_potentials,
    marginal,
    noisy_measurements,
)

DOM = Domain(tuple("abcde"), (3, 4, 2, 5, 3))
EDGES = [("a", "b"), ("c", "b"), ("b", "d"), ("d", "e")]


def _tree_joint(seed=0, total=1000.0, scale=1.0):
    rng = np.random.default_rng(seed)
    pots = {e: scale * rng.normal(size=[DOM[a] for a in e]) for e in EDGES}
    return joint_from_potentials(DOM, pots, total)


def test_noise_free_tree_is_recovered():
    joint = _tree_joint()
    cliques = EDGES + [(a,) for a in DOM.attrs]
    model = estimate(DOM, exact_measurements(DOM, joint, cliques), iters=1500, tol=None)
    assert model.total == pytest.approx(1000.0)
    # With σ = 1 and exact y, each measured marginal is within √loss of the truth (L2).
    bound = math.sqrt(model.loss_)
    assert bound < 1e-3
    for c in cliques:
        assert np.abs(model.project(c) - marginal(DOM, joint, c)).max() <= bound
    # The truth is the tree model itself, so pairs outside every clique match too
    # (out-of-clique inference by elimination over the calibrated tree).
    for pair in [("a", "e"), ("e", "c"), ("a", "c", "e")]:
        assert np.allclose(model.project(pair), marginal(DOM, joint, pair), atol=1e-3)


def test_project_orders_axes_as_asked():
    joint = _tree_joint(1)
    model = estimate(DOM, exact_measurements(DOM, joint, EDGES), iters=200)
    ab = model.project(("a", "b"))
    assert ab.shape == (3, 4)
    assert np.array_equal(model.project(("b", "a")), ab.T)
    assert model.project(()).shape == () and float(model.project(())) == pytest.approx(model.total)
    assert model.project("a").shape == (3,)
    # Results are copies: mutating one does not change the model.
    ab[:] = -1
    assert (model.project(("a", "b")) >= 0).all()


def test_loss_decreases_monotonically_and_callback_gets_numbers_only():
    rng = np.random.default_rng(2)
    joint = _tree_joint(2)
    ms = noisy_measurements(DOM, joint, [*EDGES, ("a", "e"), ("c",)], sigma=5.0, rng=rng)
    seen = []
    model = estimate(DOM, ms, iters=150, tol=None, callback=lambda i, loss: seen.append((i, loss)))
    assert [i for i, _ in seen] == list(range(1, 151))
    assert all(type(i) is int and type(loss) is float for i, loss in seen)
    losses = [loss for _, loss in seen]
    # Armijo: a step is only accepted if it decreases the loss; rejected steps keep it.
    assert all(b <= a for a, b in itertools.pairwise(losses))
    assert losses[-1] < losses[0]
    assert model.iterations_ == 150 and model.loss_ == losses[-1]


def test_warm_start_from_converged_model_stops_at_once():
    # Mirror descent converges fast when cell counts are of similar sizes (no optimum on
    # the boundary): a near-uniform truth with small noise.
    rng = np.random.default_rng(3)
    joint = _tree_joint(3, scale=0.3)
    ms = noisy_measurements(DOM, joint, [*EDGES, ("a", "e")], sigma=1.0, rng=rng)
    converged = estimate(DOM, ms, iters=3000, tol=1e-9)
    assert converged.iterations_ < 3000
    again = estimate(DOM, ms, iters=1000, tol=1e-9, warm_start=converged)
    assert again.iterations_ <= 10  # the stopping window
    for c in EDGES:
        assert np.allclose(again.project(c), converged.project(c), atol=1e-6 * converged.total)


def test_warm_start_after_a_new_clique_beats_cold_start():
    rng = np.random.default_rng(4)
    joint = _tree_joint(4)
    ms = noisy_measurements(DOM, joint, list(EDGES), sigma=2.0, rng=rng)
    old = estimate(DOM, ms, iters=400)
    more = ms + noisy_measurements(DOM, joint, [("a", "c", "e")], sigma=2.0, rng=rng)
    warm = estimate(DOM, more, iters=30, tol=None, warm_start=old)
    cold = estimate(DOM, more, iters=30, tol=None)
    assert warm.loss_ < cold.loss_
    assert ("a", "c", "e") in warm.cliques


def test_extra_cliques_enter_the_structure_only():
    joint = _tree_joint(5)
    ms = exact_measurements(DOM, joint, EDGES)
    model = estimate(DOM, ms, iters=50, cliques=[("a", "e"), ("c", "d")])
    assert ("a", "e") in model.cliques and ("c", "d") in model.cliques
    assert set(model.potentials) == {DOM.canonical(e) for e in EDGES}


def test_total_is_estimated_from_measurements():
    ms = [
        Measurement(("a",), np.array([10.0, 20.0, 30.0]), 1.0),  # sum 60, variance 3
        Measurement(("b",), np.array([30.0, 30.0, 30.0, 30.0]), 2.0),  # sum 120, variance 16
    ]
    expected = (60 / 3 + 120 / 16) / (1 / 3 + 1 / 16)
    assert estimate_total(ms) == pytest.approx(expected)
    assert estimate(DOM, ms, iters=5).total == pytest.approx(expected)
    neg = [Measurement(("a",), np.array([-5.0, -5.0, 1.0]), 1.0)]
    assert estimate(DOM, neg, iters=5).total == 1.0
    assert estimate(DOM, ms, iters=5, total=77).total == 77.0


def test_repeated_measurements_are_pooled():
    # Two measurements of one clique act like their precision-weighted mean.
    rng = np.random.default_rng(6)
    y1, y2 = rng.normal(50, 5, 3), rng.normal(50, 5, 3)
    a = estimate(
        DOM, [Measurement(("a",), y1, 1.0), Measurement(("a",), y2, 2.0)], iters=300, total=150.0
    )
    mean = (y1 + y2 / 4) / (1 + 1 / 4)
    b = estimate(DOM, [Measurement(("a",), mean, math.sqrt(1 / 1.25))], iters=300, total=150.0)
    assert np.allclose(a.project("a"), b.project("a"))
    # The reported loss still counts both measurements.
    mu = a.project("a")
    assert a.loss_ == pytest.approx(np.sum((mu - y1) ** 2) + np.sum((mu - y2) ** 2) / 4)


def test_bad_inputs_raise_clear_errors():
    good = Measurement(("a",), np.ones(3), 1.0)
    with pytest.raises(InvalidParameterError, match="at least one measurement"):
        estimate(DOM, [])
    with pytest.raises(InvalidParameterError, match="unknown attribute"):
        estimate(DOM, [Measurement(("a", "zz"), np.ones(6), 1.0)])
    with pytest.raises(InvalidDataError, match="expected 12 values"):
        estimate(DOM, [Measurement(("a", "b"), np.ones(10), 1.0)])
    with pytest.raises(InvalidParameterError, match="sigma"):
        estimate(DOM, [Measurement(("a",), np.ones(3), 0.0)])
    with pytest.raises(InvalidDataError, match="NaN"):
        estimate(DOM, [Measurement(("a",), np.array([1.0, np.nan, 2.0]), 1.0)])
    with pytest.raises(InvalidParameterError, match="iters"):
        estimate(DOM, [good], iters=-1)
    with pytest.raises(InvalidParameterError, match="tol"):
        estimate(DOM, [good], tol=-1.0)
    with pytest.raises(InvalidParameterError, match="total"):
        estimate(DOM, [good], total=0)
    with pytest.raises(InvalidParameterError, match="unknown attribute"):
        estimate(DOM, [good], cliques=[("a", "q")])
    with pytest.raises(InvalidParameterError, match="Measurement"):
        estimate(DOM, [("a",)])  # type: ignore[list-item]
    other = estimate(Domain(("a",), (3,)), [good], iters=2)
    with pytest.raises(InvalidParameterError, match="different domain"):
        estimate(DOM, [good], warm_start=other)


def test_iters_zero_gives_the_uniform_model():
    model = estimate(DOM, [Measurement(("a", "b"), np.arange(12.0), 1.0)], iters=0)
    assert model.iterations_ == 0
    assert np.allclose(model.project(("a", "b")), model.total / 12)


def test_round_trip_through_json():
    rng = np.random.default_rng(7)
    joint = _tree_joint(7)
    model = estimate(
        DOM, noisy_measurements(DOM, joint, [*EDGES, ("a", "c", "e")], 3.0, rng), iters=100
    )
    d = json.loads(json.dumps(model.to_dict()))
    back = GraphicalModel.from_dict(d)
    assert back.domain == model.domain and back.cliques == model.cliques
    assert back.total == model.total and back.iterations_ == model.iterations_
    assert back.loss_ == model.loss_ and back.step_size_ == model.step_size_
    for c, table in model.potentials.items():
        assert np.array_equal(back.potentials[c], table)
    for c in [("a", "b"), ("e", "a", "c"), ("b", "e")]:
        assert np.allclose(back.project(c), model.project(c), rtol=1e-12, atol=1e-9)
    # A reloaded model warm-starts like the original.
    assert (
        estimate(
            DOM, noisy_measurements(DOM, joint, EDGES, 3.0, rng), iters=3, warm_start=back
        ).iterations_
        == 3
    )


def test_total_measurement_and_uncovered_attributes():
    ms = [Measurement((), np.array([100.0]), 1.0), Measurement(("a", "c"), np.full(6, 50.0), 10.0)]
    model = estimate(DOM, ms, iters=50)
    # Inverse-variance average of 100 (variance 1) and 300 (variance 600).
    assert model.total == pytest.approx((100 + 300 / 600) / (1 + 1 / 600))
    assert float(model.project(())) == pytest.approx(model.total)
    # Attributes in no measurement are uniform and independent.
    assert np.allclose(model.project(("e",)), model.total / 3)
    rows = model.sample(10, np.random.default_rng(0))
    assert rows.shape == (10, 5)


def test_out_of_clique_marginal_too_big(monkeypatch):
    import dpsynth.pgm._model as model_module

    joint = _tree_joint(8)
    model = estimate(DOM, exact_measurements(DOM, joint, EDGES), iters=5)
    monkeypatch.setattr(model_module, "_MAX_CELLS", 10)
    with pytest.raises(InvalidParameterError, match="too big"):
        model.project(("a", "e"))


def _rms_move(a, b, ms):
    moves = np.concatenate([((a.project(m.clique) - b.project(m.clique)) / m.sigma).ravel() for m in ms])
    return float(np.sqrt(np.mean(moves**2)))


def test_settle_stops_once_the_marginals_move_less_than_the_noise():
    rng = np.random.default_rng(7)
    joint = _tree_joint(7, total=3000.0, scale=2.0)
    ms = noisy_measurements(DOM, joint, [*EDGES, ("a", "e"), ("c",)], sigma=4.0, rng=rng)
    settled = estimate(DOM, ms, iters=2000, tol=None, settle=0.02)
    k = settled.iterations_
    assert k % 50 == 0 and 100 <= k < 2000
    # The run is deterministic: the same path cut 50 and 100 iterations earlier.
    before = estimate(DOM, ms, iters=k - 50, tol=None)
    earlier = estimate(DOM, ms, iters=k - 100, tol=None)
    assert _rms_move(settled, before, ms) <= 0.02 < _rms_move(before, earlier, ms)
    # Far from the noise: the settled fit is within a small fraction of σ of the long run.
    full = estimate(DOM, ms, iters=2000, tol=None)
    assert _rms_move(settled, full, ms) < 0.5
    assert estimate(DOM, ms, iters=300, tol=None, settle=None).iterations_ == 300
    assert estimate(DOM, ms, iters=300, tol=None, settle=0).iterations_ == 300


@pytest.mark.parametrize("bad", [-0.1, "0.1", True, float("nan")])
def test_settle_must_be_a_non_negative_number(bad):
    ms = exact_measurements(DOM, _tree_joint(), EDGES)
    with pytest.raises(InvalidParameterError, match="'settle' parameter of estimate"):
        estimate(DOM, ms, iters=5, settle=bad)

"""Exact inference: the engine against brute-force joints, including its guarded paths."""

import numpy as np
import pytest

import dpsynth.pgm._engine as engine
from dpsynth.pgm import Domain, GraphicalModel
from tests.pgm._helpers import joint_from_potentials, marginal

DOM = Domain(tuple("abcdefg"), (3, 1, 4, 5, 2, 6, 3))
QUERIES = [
    ("a",),
    ("c", "a", "e"),
    ("d", "c"),
    ("f", "a"),
    ("g", "e", "d"),
    ("b", "a"),
    ("a", "b", "c", "d", "e", "f", "g"),
]


def _potentials(scale, seed=0):
    rng = np.random.default_rng(seed)
    return {
        ("c", "a"): scale * rng.normal(size=(4, 3)),
        ("a", "d", "e"): scale * rng.normal(size=(3, 5, 2)),
        ("e", "c"): rng.normal(size=(2, 4)),
        ("d", "c"): rng.normal(size=(5, 4)),
        ("g", "f"): scale * rng.normal(size=(3, 6)),
    }


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_marginals_match_brute_force(scale):
    pots = _potentials(scale)
    model = GraphicalModel(DOM, pots, 500.0)
    joint = joint_from_potentials(DOM, pots, 500.0)
    for q in QUERIES:
        assert np.allclose(model.project(q), marginal(DOM, joint, q), rtol=1e-9, atol=1e-9)
    for c, m in model.clique_marginals().items():
        assert np.allclose(m, marginal(DOM, joint, c), rtol=1e-9, atol=1e-9)


def test_extreme_potentials_use_the_exact_maximum(monkeypatch):
    # Terms whose maxima sit in different cells: the bound Σ max overshoots the true
    # maximum by ~2000, the shifted exponentials underflow, and the guard must redo the
    # clique with its exact maximum.
    dom = Domain(("a", "b", "c"), (2, 2, 2))
    pots = {
        ("a", "b"): np.array([[2000.0, 0.0], [0.0, 0.0]]),
        ("b", "c"): np.array([[0.0, 0.0], [2000.0, 1999.0]]),
    }
    calls = []
    original = engine.BeliefPropagation._sweep

    def spy(self, node, terms, outs, **kw):
        calls.append(kw.get("reduce_max", False))
        return original(self, node, terms, outs, **kw)

    monkeypatch.setattr(engine.BeliefPropagation, "_sweep", spy)
    model = GraphicalModel(dom, pots, 10.0, cliques=[("a", "b", "c")])
    assert any(calls), "the exact-maximum path was not exercised"
    joint = joint_from_potentials(dom, pots, 10.0)
    for q in [("a",), ("b", "c"), ("a", "c")]:
        assert np.allclose(model.project(q), marginal(dom, joint, q), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("chunk", "threads"), [(8, 1), (8, 2), (7, 3)])
def test_chunked_and_threaded_sweeps_agree(monkeypatch, chunk, threads):
    monkeypatch.setattr(engine, "_CHUNK", chunk)
    monkeypatch.setattr(engine, "_THREADS", threads)
    monkeypatch.setattr(engine, "_PARALLEL_CHUNKS", 2)
    pots = _potentials(3.0, seed=1)
    model = GraphicalModel(DOM, pots, 123.0)
    joint = joint_from_potentials(DOM, pots, 123.0)
    for q in QUERIES:
        assert np.allclose(model.project(q), marginal(DOM, joint, q), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("scale", "threads"), [(1.0, 1), (30.0, 1), (3.0, 2)])
def test_cliques_of_fill_in_multiply_their_exponentiated_terms(monkeypatch, scale, threads):
    # A 4-cycle of pairwise potentials: the junction tree's cliques are triangles joined by
    # a fill-in edge, and every log term is small beside its clique, so the sweep multiplies
    # exponentiated terms instead of exponentiating each cell. Same marginals as brute force.
    monkeypatch.setattr(engine, "_CHUNK", 64)
    monkeypatch.setattr(engine, "_THREADS", threads)
    monkeypatch.setattr(engine, "_PARALLEL_CHUNKS", 2)
    folded = []
    original = engine.BeliefPropagation._fold_into_factors

    def spy(self, node, terms, factors):
        kept, out = original(self, node, terms, factors)
        folded.append(not kept and bool(terms))
        return kept, out

    monkeypatch.setattr(engine.BeliefPropagation, "_fold_into_factors", spy)
    dom = Domain(tuple("abcd"), (12, 11, 12, 13))
    rng = np.random.default_rng(3)
    pots = {c: scale * rng.normal(size=tuple(dom[a] for a in c))
            for c in [("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")]}
    model = GraphicalModel(dom, pots, 1000.0)
    assert any(folded), "no clique took the multiplied path"
    joint = joint_from_potentials(dom, pots, 1000.0)
    for q in [("a",), ("b", "d"), ("a", "c"), ("d", "c", "b"), ("a", "b", "c", "d")]:
        assert np.allclose(model.project(q), marginal(dom, joint, q), rtol=1e-9, atol=1e-9)


def test_potentials_in_any_attribute_order():
    pots = _potentials(1.0, seed=2)
    flipped = {tuple(reversed(c)): t.T for c, t in pots.items()}
    a = GraphicalModel(DOM, pots, 50.0)
    b = GraphicalModel(DOM, flipped, 50.0)
    for q in QUERIES[:4]:
        assert np.allclose(a.project(q), b.project(q))


@pytest.mark.parametrize(("direct_cells", "greedy_cells"), [(1 << 22, 1 << 24), (1, 1 << 24), (1, 1)])
def test_out_of_clique_marginals_of_a_forest_and_a_long_chain(direct_cells, greedy_cells, monkeypatch):
    import dpsynth.pgm._model as model_module

    # direct_cells=1: every query takes greedy variable elimination instead; with
    # greedy_cells=1 as well, the re-triangulated local model.
    monkeypatch.setattr(model_module, "_DIRECT_CELLS", direct_cells)
    monkeypatch.setattr(model_module, "_GREEDY_CELLS", greedy_cells)
    # A chain a-b-c-d-e-f (queries across it need variable elimination along the path) and
    # a separate tree g-h (queries across the two trees are products).
    dom = Domain(tuple("abcdefgh"), (3, 2, 4, 2, 3, 2, 3, 2))
    rng = np.random.default_rng(3)
    pots = {
        ("a", "b"): rng.normal(size=(3, 2)),
        ("b", "c"): 2 * rng.normal(size=(2, 4)),
        ("c", "d"): rng.normal(size=(4, 2)),
        ("d", "e"): rng.normal(size=(2, 3)),
        ("e", "f"): 2 * rng.normal(size=(3, 2)),
        ("g", "h"): rng.normal(size=(3, 2)),
    }
    model = GraphicalModel(dom, pots, 321.0)
    joint = joint_from_potentials(dom, pots, 321.0)
    for q in [("a", "f"), ("f", "c", "a"), ("a", "g"), ("h", "e", "a"), ("b", "d", "f", "h"), ("e", "a", "c")]:
        got = model.project(q)
        assert got.shape == tuple(dom[a] for a in q)
        assert np.allclose(got, marginal(dom, joint, q), rtol=1e-9, atol=1e-9)


def test_out_of_clique_marginal_from_the_potentials_when_the_calibrated_tree_is_bigger(monkeypatch):
    import dpsynth.pgm._model as model_module

    # A cycle a-b-c-d-e-a (its junction tree carries fill-in) and g-f hanging on a. The
    # marginal computed from the model's own potentials with the query added must equal
    # the brute-force one, and project() takes that route when it is the smaller tree.
    dom = Domain(tuple("abcdefg"), (3, 4, 2, 5, 3, 2, 4))
    rng = np.random.default_rng(0)
    cliques = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("a", "e"), ("f", "g"), ("a", "f")]
    pots = {c: rng.normal(size=tuple(dom[a] for a in c)) for c in cliques}
    model = GraphicalModel(dom, pots, 100.0)
    joint = joint_from_potentials(dom, pots, 100.0)
    for q in [("a", "c", "g"), ("b", "e", "f"), ("c", "g"), ("b", "d", "g")]:
        jt, own = model._potential_tree(q)
        assert np.allclose(model._project_potentials(q, jt, own), marginal(dom, joint, q), rtol=1e-9, atol=1e-9)
    monkeypatch.setattr(model_module, "_DIRECT_CELLS", 1)
    monkeypatch.setattr(model_module, "_GREEDY_CELLS", 1)
    own_tree = model_module.GraphicalModel._potential_tree
    small = set()

    def tracked(self, canon):
        jt, own = own_tree(self, canon)
        small.add(id(jt))
        return jt, own

    monkeypatch.setattr(model_module.GraphicalModel, "_potential_tree", tracked)
    monkeypatch.setattr(model_module.JunctionTree, "cells", lambda self: 1 if id(self) in small else 10**6)
    used = []
    project = model_module.GraphicalModel._project_potentials
    monkeypatch.setattr(model_module.GraphicalModel, "_project_potentials",
                        lambda self, *a: used.append(a[0]) or project(self, *a))
    got = model.project(("b", "d", "g"))
    assert used == [("b", "d", "g")]
    assert np.allclose(got, marginal(dom, joint, ("b", "d", "g")), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("seed", "memo_cells"), [(s, 1 << 23) for s in range(5)] + [(5, 0), (6, 30)])
def test_every_out_of_clique_path_agrees_on_random_models(seed, memo_cells, monkeypatch):
    import itertools

    import dpsynth.pgm._model as model_module

    # Random models with cycles (fill-in) over 8 attributes: the marginal on every 2- and
    # 3-way set outside the cliques, by elimination along the tree, by greedy variable
    # elimination and by the re-triangulated local model, equals the brute-force one, with
    # the clique factors memoised (summed from memoised supersets) or not.
    monkeypatch.setattr(model_module, "_FACTOR_TOTAL", memo_cells)
    rng = np.random.default_rng(seed)
    names = tuple("abcdefgh")
    dom = Domain(names, tuple(int(x) for x in rng.integers(1, 5, size=len(names))))
    cliques = {tuple(sorted(rng.choice(len(names), size=int(rng.integers(2, 4)), replace=False))) for _ in range(6)}
    pots = {tuple(names[i] for i in c): rng.normal(scale=2.0, size=tuple(dom[names[i]] for i in c)) for c in cliques}
    joint = joint_from_potentials(dom, pots, 250.0)
    queries = [q for k in (2, 3) for q in itertools.combinations(names, k)]
    for direct, greedy in [(1 << 22, 1 << 24), (1, 1 << 24), (1, 1)]:
        monkeypatch.setattr(model_module, "_DIRECT_CELLS", direct)
        monkeypatch.setattr(model_module, "_GREEDY_CELLS", greedy)
        model = GraphicalModel(dom, pots, 250.0)
        sets = [set(c) for c in model.junction_tree.cliques]
        outside = [q for q in queries if not any(set(q) <= s for s in sets)]
        assert outside
        for q in outside:
            assert np.allclose(model.project(q), marginal(dom, joint, q), rtol=1e-9, atol=1e-9), (q, direct, greedy)

import itertools

import networkx as nx
import pytest

from dpsynth.errors import InvalidParameterError
from dpsynth.pgm import Domain, junction_tree, model_size_mb


def _check_running_intersection(jt):
    tree = nx.Graph()
    tree.add_nodes_from(range(len(jt.cliques)))
    tree.add_edges_from(jt.edges)
    assert nx.is_forest(tree)
    for a in jt.domain.attrs:
        holding = [k for k, c in enumerate(jt.cliques) if a in c]
        assert holding, f"{a} in no clique"
        assert nx.is_connected(tree.subgraph(holding))


def test_tree_model_needs_no_fill_in():
    dom = Domain(tuple("abcde"), (2, 3, 4, 5, 6))
    edges = [("a", "b"), ("b", "c"), ("b", "d"), ("d", "e")]
    jt = junction_tree(dom, edges)
    assert sorted(jt.cliques) == sorted(edges)
    assert len(jt.edges) == 3
    _check_running_intersection(jt)
    # Hand computation: 8 bytes × (6 + 12 + 15 + 30) cells.
    assert model_size_mb(dom, edges) == 8 * (2 * 3 + 3 * 4 + 3 * 5 + 5 * 6) / 2**20


def test_cycle_is_triangulated_cheaply():
    # a - b - c - d - a: one fill edge; the cheap chord joins the two small attributes.
    dom = Domain(tuple("abcd"), (2, 10, 2, 10))
    jt = junction_tree(dom, [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")])
    assert sorted(jt.cliques) == [("a", "b", "c"), ("a", "c", "d")]
    assert (
        model_size_mb(dom, [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")])
        == 8 * (40 + 40) / 2**20
    )
    _check_running_intersection(jt)


def test_isolated_attributes_and_forest():
    dom = Domain(tuple("abcde"), (2, 3, 4, 5, 6))
    jt = junction_tree(dom, [("a", "b"), ("d", "e")])
    assert sorted(jt.cliques) == [("a", "b"), ("c",), ("d", "e")]
    assert jt.edges == ()
    assert model_size_mb(dom, []) == 8 * 20 / 2**20


def test_random_graphs_satisfy_running_intersection():
    dom = Domain(tuple("abcdefgh"), (2, 3, 2, 4, 3, 2, 5, 2))
    cliques = list(itertools.combinations(dom.attrs, 2))
    for start in range(0, 20, 3):
        jt = junction_tree(dom, cliques[start : start + 9])
        _check_running_intersection(jt)
        for c in cliques[start : start + 9]:
            assert any(set(c) <= set(k) for k in jt.cliques)


def test_unknown_attribute():
    with pytest.raises(InvalidParameterError):
        model_size_mb(Domain(("a",), (2,)), [("a", "b")])


def test_candidate_sizes_equal_one_model_size_per_candidate():
    import random

    from dpsynth.pgm._junction import candidate_sizes_mb

    rng = random.Random(0)
    checked = 0
    for _ in range(60):
        d = rng.randint(2, 11)
        dom = Domain(tuple(f"a{i}" for i in range(d)), tuple(rng.randint(1, 6) for _ in range(d)))
        cliques = [tuple(rng.sample(dom.attrs, rng.randint(1, min(3, d)))) for _ in range(rng.randint(0, 7))]
        cands = [c for k in (1, 2, 3) for c in itertools.combinations(dom.attrs, min(k, d))]
        got = candidate_sizes_mb(dom, cliques, cands)
        assert got == [model_size_mb(dom, [*cliques, c]) for c in cands]
        checked += len(cands)
    assert checked > 1000

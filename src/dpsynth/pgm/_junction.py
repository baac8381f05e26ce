"""Junction trees: triangulation by greedy elimination, maximal cliques, spanning tree.

A graphical model over cliques ``C_1 .. C_m`` is a Markov random field on the graph with
an edge between every two attributes that share a clique. Exact inference runs on a
junction tree of a triangulation of that graph (Koller & Friedman, Ch. 10; McKenna et
al. 2019, Sec. 4.1): eliminate attributes one at a time, each time joining its remaining
neighbours; the maximal elimination cliques, linked by a maximum-weight spanning tree on
separator sizes, satisfy the running-intersection property.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dpsynth.pgm._domain import Clique, Domain


@dataclass(frozen=True)
class JunctionTree:
    """Maximal cliques of a triangulated model graph, linked into a tree (or forest).

    Attributes:
        domain: The domain the cliques live in.
        cliques: Maximal cliques, each listing its attributes in domain order. Every
            attribute of the domain is in at least one of them.
        edges: Tree edges as pairs of indices into ``cliques``; a forest when the model
            graph is disconnected.
        order: The elimination order that produced the triangulation; sampling visits
            the attributes in its reverse (a perfect numbering of the chordal graph).
    """

    domain: Domain
    cliques: tuple[Clique, ...]
    edges: tuple[tuple[int, int], ...]
    order: tuple[str, ...]

    def cells(self) -> int:
        """Total number of cells over all maximal cliques."""
        return sum(self.domain.size(c) for c in self.cliques)

    def size_mb(self) -> float:
        """Memory of one float64 table per maximal clique, in MB (2**20 bytes)."""
        return 8.0 * self.cells() / 2**20

    def neighbors(self) -> list[list[int]]:
        """Adjacency lists of the tree."""
        nbrs: list[list[int]] = [[] for _ in self.cliques]
        for i, j in self.edges:
            nbrs[i].append(j)
            nbrs[j].append(i)
        return nbrs


@functools.lru_cache(maxsize=1 << 16)
def members(mask: int) -> tuple[int, ...]:
    """The positions of the set bits of ``mask``, increasing."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return tuple(out)


def _eliminate(
    shape: Sequence[int], cliques: Iterable[Sequence[int]]
) -> tuple[list[int], list[frozenset[int]]]:
    """Greedy elimination over attribute indices.

    Each step eliminates, among the simplicial vertices (whose neighbours are already
    pairwise joined, so eliminating them adds no fill-in and is never worse), the one with
    the smallest elimination clique; if there is none, the vertex whose elimination clique
    ``{v} ∪ N(v)`` has the fewest cells (greedy min-weight, as in Private-PGM). A chordal
    model graph (a tree, as in MST) is thus never filled in. Adjacency is kept as integer
    bitsets (AIM asks for the size of hundreds of candidate models per round).

    Returns:
        The elimination order and the maximal elimination cliques, in order of discovery.
    """
    d = len(shape)
    adj = [0] * d
    for cl in cliques:
        mask = 0
        for a in cl:
            mask |= 1 << a
        for a in cl:
            adj[a] |= mask
    for a in range(d):
        adj[a] &= ~(1 << a)

    def cost_of(v: int) -> int:
        cost = shape[v]
        for u in members(adj[v]):
            cost *= shape[u]
        return cost

    def simplicial(v: int) -> bool:
        nb = adj[v]
        return all(nb & ~adj[u] == 1 << u for u in members(nb))

    cost = [cost_of(v) for v in range(d)]
    simp = [simplicial(v) for v in range(d)]
    remaining = set(range(d))
    order: list[int] = []
    found: list[int] = []
    while remaining:
        v = min(remaining, key=lambda u: (not simp[u], cost[u], u))
        nb = adj[v]
        clique = nb | (1 << v)
        # A later elimination clique never contains an earlier vertex, so only the new
        # clique can be contained in one found before.
        if not any(clique & ~f == 0 for f in found):
            found.append(clique)
        gone = ~(1 << v)
        for u in members(nb):
            adj[u] = (adj[u] | nb) & ~(1 << u) & gone
        adj[v] = 0
        remaining.discard(v)
        order.append(v)
        # Only v's neighbours changed neighbourhoods; a vertex with two or more of them as
        # neighbours may have gained the fill edges that make it simplicial.
        for u in remaining:
            shared = adj[u] & nb
            if (nb >> u) & 1:
                cost[u] = cost_of(u)
                simp[u] = simplicial(u)
            elif not simp[u] and shared & (shared - 1):
                simp[u] = simplicial(u)
    return order, [frozenset(members(f)) for f in found]


def _spanning_tree(cliques: Sequence[frozenset[int]]) -> list[tuple[int, int]]:
    """Maximum-weight spanning forest on separator sizes (Kruskal; ties by index)."""
    cand = [
        (-len(cliques[i] & cliques[j]), i, j)
        for i, j in itertools.combinations(range(len(cliques)), 2)
        if cliques[i] & cliques[j]
    ]
    cand.sort()
    parent = list(range(len(cliques)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges = []
    for _, i, j in cand:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[ri] = rj
            edges.append((i, j))
    return edges


def _index_cliques(domain: Domain, cliques: Iterable[Iterable[str]]) -> list[tuple[int, ...]]:
    out = []
    for c in cliques:
        try:
            idx = tuple(sorted(domain.index_map[a] for a in c))
        except (KeyError, TypeError):
            domain.check(c)  # raises the clear error
            raise
        out.append(idx)
    return out


@functools.lru_cache(maxsize=4096)
def _junction_tree_cached(domain: Domain, cliques: frozenset[tuple[int, ...]]) -> JunctionTree:
    order, found = _eliminate(domain.shape, sorted(cliques))
    # Sort the maximal cliques by their smallest attribute for a stable, readable layout.
    found.sort(key=lambda c: sorted(c))
    edges = _spanning_tree(found)
    names = domain.attrs
    return JunctionTree(
        domain=domain,
        cliques=tuple(tuple(names[i] for i in sorted(c)) for c in found),
        edges=tuple(edges),
        order=tuple(names[i] for i in order),
    )


def junction_tree(domain: Domain, cliques: Iterable[Iterable[str]]) -> JunctionTree:
    """Build the junction tree of the graphical model with the given cliques.

    Args:
        domain: The attributes and their sizes; attributes in no clique become singleton
            cliques of the tree.
        cliques: Attribute tuples whose marginals the model must represent.

    Returns:
        The :class:`JunctionTree` (cached per domain and clique set).

    Raises:
        InvalidParameterError: If a clique names an unknown attribute.
    """
    return _junction_tree_cached(domain, frozenset(_index_cliques(domain, cliques)))


def model_size_mb(domain: Domain, cliques: Iterable[Iterable[str]]) -> float:
    """Size of the model's junction tree: 8 bytes × Σ cells of its maximal cliques / 2**20.

    AIM (McKenna et al. 2022, Alg. 1 line 7) keeps only candidates whose addition keeps
    this under a limit, so that estimation stays tractable.

    Args:
        domain: The attributes and their sizes.
        cliques: The model's cliques (measured and candidate ones).

    Returns:
        The size in MB of float64 tables.
    """
    return 8.0 * _cells_cached(domain, frozenset(_index_cliques(domain, cliques))) / 2**20


@functools.lru_cache(maxsize=1 << 14)
def _cells_cached(domain: Domain, cliques: frozenset[tuple[int, ...]]) -> int:
    """Cells of the maximal cliques (the elimination alone; no spanning tree needed)."""
    _, found = _eliminate(domain.shape, sorted(cliques))
    return sum(math.prod(domain.shape[i] for i in c) for c in found)


class CandidateSizes:
    """``model_size_mb(domain, [*cliques, c])`` for candidates ``c``, one at a time, sharing the work.

    Exact, and much cheaper than :func:`model_size_mb` per candidate (AIM asks this for
    thousands of candidates every round): greedy elimination treats the connected
    components of the model graph independently (a vertex's cost and simpliciality depend
    on its component only, and the greedy choice restricted to one component is that
    component's own greedy choice), so the size is the sum of the components' sizes. A
    candidate whose pairs are all edges already leaves the graph, hence the size,
    unchanged (:meth:`adds_edges` says which); any other only re-runs the elimination of
    the components it joins. Sizes are computed on demand, so a caller that needs only some
    of them (AIM's lazy selection) pays only for those.

    Args:
        domain: The attributes and their sizes.
        cliques: The model's cliques.
    """

    def __init__(self, domain: Domain, cliques: Iterable[Iterable[str]]) -> None:
        self.domain = domain
        self._shape = shape = domain.shape
        base = _index_cliques(domain, cliques)
        # The greedy elimination depends on the model graph only (its edges), not on which
        # cliques drew them.
        self.edges = edges = frozenset(p for cl in base for p in itertools.combinations(cl, 2))
        parent = list(range(len(shape)))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        adj = [0] * len(shape)
        for a, b in edges:
            adj[a] |= 1 << b
            adj[b] |= 1 << a
            parent[find(a)] = find(b)
        self._adj = adj
        self._root = [find(v) for v in range(len(shape))]
        comp_edges: dict[int, set[tuple[int, int]]] = {}
        comp_vertices: dict[int, list[int]] = {}
        for v in range(len(shape)):
            comp_vertices.setdefault(self._root[v], []).append(v)
        for e in edges:
            comp_edges.setdefault(self._root[e[0]], set()).add(e)
        self._comp_edges = comp_edges
        self._comp_vertices = comp_vertices
        self._comp_cells = {
            r: _cells_edges(shape, tuple(vs), frozenset(comp_edges.get(r, ())))
            for r, vs in comp_vertices.items()
        }
        self._total = sum(self._comp_cells.values())
        self._memo: dict[tuple[int, ...], float] = {}

    @property
    def base_mb(self) -> float:
        """The model's own size (that of any candidate that adds no edge)."""
        return 8.0 * self._total / 2**20

    def adds_edges(self, candidate: Iterable[str]) -> bool:
        """Whether the candidate joins two attributes the model graph does not join yet."""
        c = _index_cliques(self.domain, [candidate])[0]
        return not all(self._adj[a] >> b & 1 for a, b in itertools.combinations(c, 2))

    def __call__(self, candidate: Iterable[str]) -> float:
        """The size in MB of the model with ``candidate`` added (remembered per candidate)."""
        c = _index_cliques(self.domain, [candidate])[0]
        got = self._memo.get(c)
        if got is not None:
            return got
        if all(self._adj[a] >> b & 1 for a, b in itertools.combinations(c, 2)):
            got = self.base_mb
        else:
            roots = sorted({self._root[a] for a in c})
            vertices = tuple(sorted(v for r in roots for v in self._comp_vertices[r]))
            merged = frozenset(itertools.combinations(c, 2)).union(*(self._comp_edges.get(r, ()) for r in roots))
            cells = self._total - sum(self._comp_cells[r] for r in roots) + _cells_edges(self._shape, vertices, merged)
            got = 8.0 * cells / 2**20
        self._memo[c] = got
        return got


def candidate_sizes_mb(
    domain: Domain, cliques: Iterable[Iterable[str]], candidates: Sequence[Iterable[str]]
) -> list[float]:
    """``model_size_mb(domain, [*cliques, c])`` for every candidate ``c`` (:class:`CandidateSizes`).

    Args:
        domain: The attributes and their sizes.
        cliques: The model's cliques.
        candidates: Cliques to add, one at a time.

    Returns:
        One size in MB per candidate.
    """
    sizes = CandidateSizes(domain, cliques)
    return [sizes(c) for c in candidates]


@functools.lru_cache(maxsize=1 << 16)
def _cells_edges(
    shape: tuple[int, ...], vertices: tuple[int, ...], edges: frozenset[tuple[int, int]]
) -> int:
    """Cells of the maximal elimination cliques of the graph ``edges`` on ``vertices``.

    The vertices are renumbered in increasing order, so the greedy elimination makes the
    same choices (ties are broken by index) as on the whole graph.
    """
    pos = {v: i for i, v in enumerate(vertices)}
    sub = tuple(shape[v] for v in vertices)
    return _cells_sub(sub, frozenset((pos[a], pos[b]) for a, b in edges))


@functools.lru_cache(maxsize=1 << 16)
def _cells_sub(shape: tuple[int, ...], cliques: frozenset[tuple[int, ...]]) -> int:
    _, found = _eliminate(shape, sorted(cliques))
    return sum(math.prod(shape[i] for i in c) for c in found)

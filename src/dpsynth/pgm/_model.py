"""The fitted graphical model: marginals, out-of-model inference, sampling, serialisation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from dpsynth.errors import InvalidParameterError, SerializationError
from dpsynth.pgm._domain import Clique, Domain, as_clique
from dpsynth.pgm._engine import BeliefPropagation, route, sum_axes
from dpsynth.pgm._junction import JunctionTree, junction_tree

_FORMAT = "dpsynth.pgm.GraphicalModel"
_VERSION = 1
# Largest junction tree (cells) an out-of-clique marginal may build: 2**28 cells = 2 GB.
_MAX_CELLS = 1 << 28
# Marginals computed by project() are kept (for repeated queries) up to this many cells.
_CACHE_CELLS = 1 << 22
# Messages of out-of-clique marginals are kept (shared between queries) up to this size each.
_MEMO_CELLS = 1 << 16
_MEMO_TOTAL = 1 << 23
# Variable elimination along the tree handles queries whose tables stay below this many
# cells; bigger ones go through a re-triangulated local model (a better elimination order).
_DIRECT_CELLS = 1 << 22
# Greedy variable elimination (the fallback for bigger queries) spans at most this many
# cells per step; beyond it the re-triangulated local model is used.
_GREEDY_CELLS = 1 << 24
# The clique factors of out-of-clique marginals (conditionals summed down) kept per model.
_FACTOR_TOTAL = 1 << 23


class _TooBig(Exception):
    """Variable elimination along the tree would build too big a table."""


def maximal_cliques(cliques: Iterable[Clique]) -> list[Clique]:
    """Drop cliques contained in another one (and duplicates), keeping first-seen order."""
    uniq: list[Clique] = []
    seen: set[frozenset[str]] = set()
    for c in cliques:
        s = frozenset(c)
        if s not in seen:
            seen.add(s)
            uniq.append(c)
    sets = [frozenset(c) for c in uniq]
    return [c for c, s in zip(uniq, sets, strict=True) if not any(s < t for t in sets)]


class GraphicalModel:
    """A Markov random field on a junction tree, with its calibrated marginals.

    Usually built by :func:`~dpsynth.pgm.estimate`; constructing one directly runs one
    sweep of belief propagation to compute its marginals.

    Args:
        domain: The attributes and their sizes.
        potentials: Log-potential tables by clique; each table is n-d over the clique's
            attributes in the order listed (or flat in C order).
        total: The number of records the marginals sum to (> 0).
        cliques: The model's cliques (the structure); defaults to the potentials' cliques.
            Every potential's clique must be inside one of them.

    Attributes:
        domain: The attributes and their sizes.
        cliques: The model's maximal cliques, attributes in domain order.
        total: Estimated number of records.
        potentials: Log-potential tables by clique (attributes in domain order).
        junction_tree: The junction tree inference runs on.
        iterations_: Mirror-descent iterations the estimation ran (0 if not estimated).
        loss_: Final value of the estimation loss Σ ‖(μ_C − y)/σ‖² (nan if not estimated).
        step_size_: Final mirror-descent step size (used by warm starts).
    """

    def __init__(
        self,
        domain: Domain,
        potentials: Mapping[Clique, np.ndarray],
        total: float,
        *,
        cliques: Iterable[Iterable[str]] | None = None,
    ) -> None:
        if not isinstance(domain, Domain):
            raise InvalidParameterError(
                f"domain must be a dpsynth.pgm.Domain. Got {type(domain).__name__}."
            )
        t = float(total)
        if not (math.isfinite(t) and t > 0):
            raise InvalidParameterError(
                f"The total of a graphical model must be a finite number > 0. Got {total!r}."
            )
        pots: dict[Clique, np.ndarray] = {}
        for cl, table in potentials.items():
            given = domain.check(cl, "potential clique")
            canon = domain.canonical(given)
            arr = np.asarray(table, dtype=np.float64)
            shape = tuple(domain[a] for a in given)
            if arr.size != math.prod(shape):
                raise InvalidParameterError(
                    f"The potential of {given} has {arr.size} entries; expected {math.prod(shape)}."
                )
            arr = arr.reshape(shape).transpose([given.index(a) for a in canon])
            if not np.all(np.isfinite(arr)):
                raise InvalidParameterError(f"The potential of {given} has non-finite entries.")
            pots[canon] = pots[canon] + arr if canon in pots else np.array(arr, order="C")
        struct = [domain.canonical(c) for c in cliques] if cliques is not None else list(pots)
        self.domain = domain
        self.cliques: list[Clique] = maximal_cliques([*struct, *pots])
        self.total = t
        self.potentials = pots
        self.junction_tree: JunctionTree = junction_tree(domain, self.cliques)
        bp = BeliefPropagation(self.junction_tree, list(pots), [])
        self._marginals = bp.run(list(pots.values()), t, keep=True)
        self._cache: dict[Clique, np.ndarray] = {}
        self._cached_cells = 0
        self.iterations_ = 0
        self.loss_ = float("nan")
        self.step_size_ = float("nan")

    @classmethod
    def _fitted(
        cls,
        domain: Domain,
        cliques: list[Clique],
        potentials: dict[Clique, np.ndarray],
        total: float,
        jtree: JunctionTree,
        marginals: list[np.ndarray],
    ) -> GraphicalModel:
        """Assemble a model from the estimator's state without recomputing anything."""
        self = cls.__new__(cls)
        self.domain = domain
        self.cliques = cliques
        self.total = float(total)
        self.potentials = potentials
        self.junction_tree = jtree
        self._marginals = marginals
        self._cache = {}
        self._cached_cells = 0
        self.iterations_ = 0
        self.loss_ = float("nan")
        self.step_size_ = float("nan")
        return self

    def __repr__(self) -> str:
        return (
            f"GraphicalModel({len(self.domain)} attributes, {len(self.cliques)} cliques, "
            f"total={self.total:.6g}, size={self.junction_tree.size_mb():.3g} MB)"
        )

    # -- marginals ---------------------------------------------------------------------------
    def clique_marginals(self) -> dict[Clique, np.ndarray]:
        """Calibrated marginal counts of the junction tree's maximal cliques (copies)."""
        return {
            c: m.copy() for c, m in zip(self.junction_tree.cliques, self._marginals, strict=True)
        }

    def project(self, attrs: str | Iterable[str]) -> np.ndarray:
        """Estimated marginal counts over ``attrs``.

        Inside a clique of the junction tree this sums the clique's marginal; otherwise it
        is computed exactly from the calibrated marginals of the smallest subtree covering
        ``attrs`` (Koller & Friedman, Sec. 10.3.3), at a cost that grows with the size the
        model would have with ``attrs`` as one more clique (see :func:`model_size_mb`).

        Args:
            attrs: Attribute names (any subset of the domain, any order).

        Returns:
            An n-d array of counts with axes in the order of ``attrs``, summing to
            :attr:`total`.

        Raises:
            InvalidParameterError: If ``attrs`` names an unknown or repeated attribute, or
                the marginal would need a junction tree of more than 2 GB.
        """
        given = self.domain.check(as_clique(attrs), "projection")
        canon = self.domain.canonical(given)
        res = self._cache.get(canon)
        if res is None:
            res = self._project_canonical(canon)
            if self._cached_cells + res.size <= _CACHE_CELLS:
                self._cache[canon] = res
                self._cached_cells += res.size
        perm = [canon.index(a) for a in given]
        return np.array(res.transpose(perm), dtype=np.float64)

    def _project_canonical(self, canon: Clique) -> np.ndarray:
        jt = self.junction_tree
        s = set(canon)
        sets, _, _, attr_comp = self._tree_info()
        if any(s <= c for c in sets):
            k = route(self.domain, jt.cliques, canon)
            return np.asarray(self._marginals[k].sum(axis=sum_axes(canon, jt.cliques[k])))
        groups: dict[int, list[str]] = {}
        for a in canon:
            groups.setdefault(attr_comp[a], []).append(a)
        if len(groups) == 1:
            return self._eliminate(canon)
        # Attributes in different trees of the junction forest are independent: the
        # marginal is the outer product of the parts' marginals, divided by N per product.
        out: np.ndarray | None = None
        order: list[str] = []
        for part in groups.values():
            table = self._project_canonical(tuple(part))
            out = table if out is None else np.multiply.outer(out, table) / self.total
            order += part
        assert out is not None
        return np.array(out.transpose([order.index(a) for a in canon]), order="C")

    def _tree_info(
        self,
    ) -> tuple[list[frozenset[str]], list[list[int]], list[int], dict[str, int]]:
        """Clique sets, tree adjacency, the tree of the forest each clique and attribute is in."""
        info = self.__dict__.get("_info")
        if info is None:
            jt = self.junction_tree
            sets = [frozenset(c) for c in jt.cliques]
            nbrs = jt.neighbors()
            comp = [-1] * len(sets)
            for start in range(len(sets)):
                if comp[start] >= 0:
                    continue
                comp[start] = start
                stack = [start]
                while stack:
                    k = stack.pop()
                    for j in nbrs[k]:
                        if comp[j] < 0:
                            comp[j] = start
                            stack.append(j)
            attr_comp = {a: comp[k] for k, c in enumerate(sets) for a in c}
            info = (sets, nbrs, comp, attr_comp)
            self.__dict__["_info"] = info
        return info

    def _subtree(self, canon: Clique) -> tuple[list[int], dict[int, int], dict[int, list[int]]]:
        """The smallest subtree covering ``canon`` (one tree of the forest), rooted.

        Returns the cliques parents first, each one's parent (-1 for the root, the clique
        holding most of ``canon``) and children. Leaves whose query attributes all lie in
        their separator are pruned: summing out a leaf's other attributes from its
        conditional gives 1.
        """
        sets, nbrs, comp, attr_comp = self._tree_info()
        q = frozenset(canon)
        tree = attr_comp[canon[0]]
        alive = {k for k in range(len(sets)) if comp[k] == tree}
        stack = [k for k in alive if sum(j in alive for j in nbrs[k]) <= 1]
        while stack:
            k = stack.pop()
            if k not in alive:
                continue
            live = [j for j in nbrs[k] if j in alive]
            own = sets[k] & q
            if (len(live) == 1 and own <= sets[live[0]]) or (not live and not own):
                alive.discard(k)
                stack += [j for j in live if sum(i in alive for i in nbrs[j]) <= 1]
        root = min(alive, key=lambda k: (-len(sets[k] & q), k))
        order = [root]
        parent = {root: -1}
        for k in order:
            for j in nbrs[k]:
                if j in alive and j not in parent:
                    parent[j] = k
                    order.append(j)
        children: dict[int, list[int]] = {k: [] for k in order}
        for k in order[1:]:
            children[parent[k]].append(k)
        return order, parent, children

    def _factor(self, k: int, parent: int, kept: tuple[str, ...]) -> np.ndarray:
        """Clique ``k``'s marginal summed down to ``kept``, divided by its separator with ``parent``.

        The conditional μ_C / μ_S of the clique given its separator (0 where μ_S = 0), with
        the attributes outside ``kept`` summed out; the root (``parent`` -1) keeps its
        marginal. Memoised on the model: candidates share most of these tables, and summing
        a big clique down is the costly part of an out-of-clique marginal.
        """
        key = (k, parent, kept)
        memo: dict[tuple[int, int, tuple[str, ...]], np.ndarray] = self.__dict__.setdefault("_factors", {})
        got = memo.get(key)
        if got is not None:
            return got
        table = self._reduced(k, kept)
        if parent >= 0:
            sets = self._tree_info()[0]
            sep = sets[k] & sets[parent]
            denom = table.sum(axis=sum_axes(sep, kept), keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                table = np.where(denom > 0, table / denom, 0.0)
        held = self.__dict__.get("_factor_cells", 0)
        if held + table.size <= _FACTOR_TOTAL:
            memo[key] = table
            self.__dict__["_factor_cells"] = held + table.size
        return table

    def _reduced(self, k: int, kept: tuple[str, ...]) -> np.ndarray:
        """Clique ``k``'s calibrated marginal summed down to ``kept`` (the clique's order).

        Summed from the smallest such table already computed over a superset of ``kept``
        (memoised on the model), else from the clique's marginal.
        """
        clique = self.junction_tree.cliques[k]
        if len(kept) == len(clique):
            return self._marginals[k]
        memo: dict[int, dict[tuple[str, ...], np.ndarray]] = self.__dict__.setdefault("_reductions", {})
        mine = memo.setdefault(k, {})
        got = mine.get(kept)
        if got is not None:
            return got
        src, names = self._marginals[k], clique
        want = set(kept)
        for have, table in mine.items():
            if want < set(have) and table.size < src.size:
                src, names = table, have
        got = src.sum(axis=sum_axes(kept, names))
        held = self.__dict__.get("_reduced_cells", 0)
        if held + got.size <= _FACTOR_TOTAL:
            mine[kept] = got
            self.__dict__["_reduced_cells"] = held + got.size
        return got

    def _eliminate(self, canon: Clique) -> np.ndarray:
        """Out-of-clique marginal from the calibrated tree (all of ``canon`` in one tree).

        The junction-tree property holds on every subtree, so the joint of the variables
        of the smallest subtree covering ``canon`` is Π μ_C / Π μ_S over its cliques and
        separators (Koller & Friedman, Sec. 10.3.3). Rooted at the clique holding most of
        ``canon``, each clique's conditional μ_C / μ_S (first summed down to the variables
        its separators and ``canon`` need) times its children's messages is summed onto
        its separator and the query variables below it, leaves first: exact variable
        elimination along the tree. Messages are memoised on the model (AIM's candidates
        share most of them). When a step would span more than 4M cells (query variables
        carried through big cliques) the same factors are eliminated in a greedy order
        instead (:meth:`_eliminate_greedy`).
        """
        sets = self._tree_info()[0]
        q = frozenset(canon)
        order, parent, children = self._subtree(canon)
        pos = self.domain.index_map
        below: dict[int, frozenset[str]] = {}
        for k in reversed(order):
            below[k] = (sets[k] & q).union(*(below[c] for c in children[k]))
        # A message depends only on its edge and on the query variables below it (they
        # decide which of its subtree survives pruning): candidates share many of them.
        memo: dict[tuple[int, int, frozenset[str]], tuple[np.ndarray, tuple[str, ...]]]
        memo = self.__dict__.setdefault("_messages", {})
        kept_of = self._kept(canon, order, parent, children)

        def message(k: int) -> tuple[np.ndarray, tuple[str, ...]]:
            key = (k, parent[k], below[k])
            got = memo.get(key)
            if got is not None:
                return got
            sep = sets[k] & sets[parent[k]] if parent[k] >= 0 else frozenset()
            kept = kept_of[k]
            out = tuple(sorted(sep | below[k], key=pos.__getitem__))
            names = sorted(
                set(kept).union(*(sets[c] & sets[k] | below[c] for c in children[k])),
                key=pos.__getitem__,
            )
            if math.prod(self.domain[a] for a in names) > min(_DIRECT_CELLS, _MAX_CELLS):
                raise _TooBig
            operands: list[tuple[np.ndarray, tuple[str, ...]]] = [(self._factor(k, parent[k], kept), kept)]
            operands += [message(c) for c in children[k]]
            letter = {a: i for i, a in enumerate(names)}
            args: list[Any] = []
            for arr, v in operands:
                args += [arr, [letter[a] for a in v]]
            args.append([letter[a] for a in out])
            result = (np.einsum(*args, optimize=len(operands) > 1), out)
            held = self.__dict__.get("_message_cells", 0)
            if parent[k] >= 0 and result[0].size <= _MEMO_CELLS and held < _MEMO_TOTAL:
                memo[key] = result
                self.__dict__["_message_cells"] = held + result[0].size
            return result

        try:
            table, got = message(order[0])
        except _TooBig:
            return self._eliminate_greedy(canon, order, parent, children, kept_of)
        return np.array(table.transpose([got.index(a) for a in canon]), order="C")

    def _kept(
        self, canon: Clique, order: list[int], parent: dict[int, int], children: dict[int, list[int]]
    ) -> dict[int, tuple[str, ...]]:
        """Per clique of the subtree, the attributes its factor keeps (in the clique's order).

        Its separators inside the subtree and the query's attributes; any other attribute
        of the clique is in no other clique of the subtree (running intersection), so it is
        summed out of the clique's factor alone.
        """
        sets = self._tree_info()[0]
        q = frozenset(canon)
        kept: dict[int, tuple[str, ...]] = {}
        for k in order:
            need = set(q)
            if parent[k] >= 0:
                need |= sets[k] & sets[parent[k]]
            for c in children[k]:
                need |= sets[c] & sets[k]
            kept[k] = tuple(a for a in self.junction_tree.cliques[k] if a in need)
        return kept

    def _eliminate_greedy(
        self,
        canon: Clique,
        order: list[int],
        parent: dict[int, int],
        children: dict[int, list[int]],
        kept: dict[int, tuple[str, ...]],
    ) -> np.ndarray:
        """Out-of-clique marginal by variable elimination over the subtree's factors, greedy order.

        The same factorisation as :meth:`_eliminate` (root marginal times the other cliques'
        conditionals, each summed down to what it shares), but the non-query attributes are
        summed out one at a time, each time the one whose factors span the fewest cells
        (greedy min-weight): no query attribute is carried through a big clique unless
        that is the cheapest way. If a step would still span more than ``_GREEDY_CELLS``
        cells, the re-triangulated local model is used instead.
        """
        pos = self.domain.index_map
        factors: list[tuple[np.ndarray, frozenset[str]]] = []
        axes: list[tuple[str, ...]] = []
        for k in order:
            factors.append((self._factor(k, parent[k], kept[k]), frozenset(kept[k])))
            axes.append(kept[k])
        q = frozenset(canon)
        left = set().union(*(v for _, v in factors)) - q
        size = self.domain.__getitem__
        while left:
            best: tuple[int, int, str] | None = None
            for a in left:
                span = set().union(*(v for _, v in factors if a in v))
                cells = math.prod(size(b) for b in span)
                cand = (cells, pos[a], a)
                if best is None or cand < best:
                    best = cand
            assert best is not None
            cells, _, a = best
            if cells > min(_GREEDY_CELLS, _MAX_CELLS):
                return self._eliminate_local_tree(canon)
            group = [i for i, (_, v) in enumerate(factors) if a in v]
            span = set().union(*(factors[i][1] for i in group))
            out = tuple(sorted(span - {a}, key=pos.__getitem__))
            table = self._contract([(factors[i][0], axes[i]) for i in group], out)
            factors = [f for i, f in enumerate(factors) if i not in group] + [(table, frozenset(out))]
            axes = [x for i, x in enumerate(axes) if i not in group] + [out]
            left.discard(a)
        table = self._contract(list(zip((f for f, _ in factors), axes, strict=True)), canon)
        return np.array(table, order="C")

    @staticmethod
    def _contract(operands: list[tuple[np.ndarray, tuple[str, ...]]], out: tuple[str, ...]) -> np.ndarray:
        """Σ over the attributes not in ``out`` of the product of the operands (einsum)."""
        names = sorted({a for _, v in operands for a in v})
        letter = {a: i for i, a in enumerate(names)}
        args: list[Any] = []
        for arr, v in operands:
            args += [arr, [letter[a] for a in v]]
        args.append([letter[a] for a in out])
        return np.einsum(*args, optimize=len(operands) > 1)

    def _eliminate_local_tree(self, canon: Clique) -> np.ndarray:
        """Out-of-clique marginal from the calibrated tree, by a re-triangulated local model.

        Used when variable elimination along the tree would need a table too big
        (the local model is re-triangulated with the query as a clique).

        The junction-tree property holds on every subtree, so the joint of the variables
        of the smallest subtree covering ``canon`` is Π μ_C / Π μ_S over its cliques and
        separators (Koller & Friedman, Sec. 10.3.3). That local model, with ``canon``
        added as a clique and re-triangulated, is solved by the same belief propagation;
        its size is at most that of the whole model with ``canon`` added (what AIM's
        size filter bounds), usually far less.
        """
        jt = self.junction_tree
        q = set(canon)
        sets = [set(c) for c in jt.cliques]
        nbrs = [set(n) for n in jt.neighbors()]
        alive = set(range(len(sets)))
        # Prune leaves whose query attributes all lie in their separator: summing out a
        # leaf's other attributes from its conditional gives 1.
        changed = True
        while changed:
            changed = False
            for k in sorted(alive):
                live = nbrs[k] & alive
                own = sets[k] & q
                if (len(live) == 1 and own <= sets[k] & sets[next(iter(live))]) or (
                    not live and not own
                ):
                    alive.discard(k)
                    changed = True
        pots: dict[Clique, np.ndarray] = {}
        seen: set[int] = set()
        floor = np.finfo(np.float64).tiny  # log(0) → a finite, negligible weight
        for root in sorted(alive):
            if root in seen:
                continue
            seen.add(root)
            pots[jt.cliques[root]] = np.log(np.maximum(self._marginals[root], floor))
            queue = [root]
            while queue:
                k = queue.pop(0)
                for j in sorted(nbrs[k] & alive - seen):
                    seen.add(j)
                    queue.append(j)
                    sep = tuple(a for a in jt.cliques[j] if a in sets[k])
                    m = np.maximum(self._marginals[j], floor)
                    cond = np.log(m) - np.log(
                        m.sum(axis=sum_axes(sep, jt.cliques[j]), keepdims=True)
                    )
                    pots[jt.cliques[j]] = cond
        names = {a for c in pots for a in c}
        local = self.domain.project([a for a in self.domain.attrs if a in names])
        ljt = junction_tree(local, [*pots, canon])
        # The calibrated cliques already carry the model's fill-in, and adding the query
        # may triangulate badly on top of it. The model's own log-potentials (on its
        # structure's cliques) describe the same distribution with no fill-in: with the
        # query added they give the junction tree AIM's size filter measures.
        ojt, opots = self._potential_tree(canon)
        if ojt.cells() < ljt.cells():
            return self._project_potentials(canon, ojt, opots)
        if ljt.cells() > _MAX_CELLS:
            self._too_big(canon, ljt)
        bp = BeliefPropagation(ljt, list(pots), [canon])
        return bp.run(list(pots.values()), self.total)[0]

    def _potential_tree(self, canon: Clique) -> tuple[JunctionTree, dict[Clique, np.ndarray]]:
        """The junction tree of ``canon``'s component of the model with ``canon`` added, and its potentials."""
        attr_comp = self._tree_info()[3]
        tree = attr_comp[canon[0]]
        own = maximal_cliques([c for c in [*self.cliques, *self.potentials] if attr_comp[c[0]] == tree])
        names = {a for c in own for a in c}
        dom = self.domain.project([a for a in self.domain.attrs if a in names])
        pots = {c: t for c, t in self.potentials.items() if set(c) <= names}
        return junction_tree(dom, [*own, canon]), pots

    def _project_potentials(
        self, canon: Clique, jt: JunctionTree, pots: dict[Clique, np.ndarray]
    ) -> np.ndarray:
        """``canon``'s marginal by belief propagation on the model's potentials (``_potential_tree``)."""
        if jt.cells() > _MAX_CELLS:
            self._too_big(canon, jt)
        bp = BeliefPropagation(jt, list(pots), [canon])
        return bp.run(list(pots.values()), self.total)[0]

    @staticmethod
    def _too_big(canon: Clique, jt: JunctionTree) -> None:
        raise InvalidParameterError(
            f"The marginal over {canon} needs a {jt.size_mb():.0f} MB junction tree; "
            "that is too big to compute exactly."
        )

    def _vars(self, clique: Clique) -> tuple[int, ...]:
        return tuple(self.domain.index(a) for a in clique)

    # -- sampling -------------------------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` synthetic records whose marginals match the model's.

        Attributes are generated in the reverse of the junction tree's elimination order
        (a perfect numbering of the triangulated graph), each conditionally on its
        already-generated neighbours, which all lie in one clique with it, so the model
        factorises exactly along this order. Counts are rounded systematically: within
        each group of records sharing their neighbours' values, value ``v`` gets
        ``floor(n_g·p(v|g))`` records plus one more with probability equal to the
        fractional part (Madow's systematic sampling, so no cell is off by 1 or more and
        counts are unbiased), assigned to the group's records in random order (as
        Private-PGM's ``synthetic_data``).

        Args:
            n: Number of records (>= 0).
            rng: The only source of randomness.

        Returns:
            An ``(n, len(domain))`` int64 array of codes, columns in domain order.

        Raises:
            InvalidParameterError: If ``n`` is not a non-negative integer or ``rng`` is not
                a numpy Generator.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InvalidParameterError(
                f"The number of rows to sample must be an integer >= 0. Got {n!r}."
            )
        if not isinstance(rng, np.random.Generator):
            raise InvalidParameterError(
                f"rng must be a numpy.random.Generator (np.random.default_rng(seed)). Got {type(rng).__name__}."
            )
        n = int(n)
        dom = self.domain
        out = np.zeros((n, len(dom)), dtype=np.int64)
        if n == 0:
            return out
        adjacent: dict[str, set[str]] = {a: set() for a in dom.attrs}
        for c in self.junction_tree.cliques:
            for a in c:
                adjacent[a].update(c)
        done: set[str] = set()
        for attr in reversed(self.junction_tree.order):
            k = dom[attr]
            parents = [a for a in dom.attrs if a in done and a in adjacent[attr]]
            done.add(attr)
            if not parents:
                p = self.project((attr,)).reshape(1, k)
                counts = _systematic_counts(np.array([n]), p, rng)[0]
                col = np.repeat(np.arange(k), counts)
                rng.shuffle(col)
            else:
                idx = [dom.index(a) for a in parents]
                key = np.ravel_multi_index(
                    tuple(out[:, i] for i in idx), tuple(dom.shape[i] for i in idx)
                )
                uniq, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
                table = self.project((*parents, attr)).reshape(-1, k)[uniq]
                counts = _systematic_counts(cnt, table, rng)
                # Random order within each group, then values in blocks per group.
                perm = rng.permutation(n)
                rows = perm[np.argsort(inv[perm], kind="stable")]
                values = np.repeat(np.tile(np.arange(k), len(uniq)), counts.ravel())
                col = np.empty(n, dtype=np.int64)
                col[rows] = values
            out[:, dom.index(attr)] = col
        return out

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description: lists and plain numbers only (no pickle).

        The marginals are not stored; :meth:`from_dict` recomputes them from the
        potentials with one sweep of belief propagation.
        """
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "domain": {"attrs": list(self.domain.attrs), "shape": list(self.domain.shape)},
            "cliques": [list(c) for c in self.cliques],
            "total": self.total,
            "potentials": [
                {"clique": list(c), "values": v.ravel().tolist()}
                for c, v in self.potentials.items()
            ],
            "iterations": int(self.iterations_),
            "loss": None if math.isnan(self.loss_) else float(self.loss_),
            "step_size": None if math.isnan(self.step_size_) else float(self.step_size_),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GraphicalModel:
        """Rebuild a model written by :meth:`to_dict`.

        Raises:
            SerializationError: If the dict is not a saved graphical model of a supported
                version, or is malformed.
        """
        if not isinstance(d, Mapping) or d.get("format") != _FORMAT:
            raise SerializationError(
                "Not a saved dpsynth graphical model (missing or wrong 'format')."
            )
        if d.get("version") != _VERSION:
            raise SerializationError(
                f"Unsupported graphical-model version {d.get('version')!r}; this dpsynth reads version {_VERSION}."
            )
        try:
            dom = Domain(tuple(d["domain"]["attrs"]), tuple(int(s) for s in d["domain"]["shape"]))
            pots = {
                tuple(p["clique"]): np.asarray(p["values"], dtype=np.float64)
                for p in d["potentials"]
            }
            model = cls(dom, pots, float(d["total"]), cliques=[tuple(c) for c in d["cliques"]])
            model.iterations_ = int(d.get("iterations", 0))
            loss, step = d.get("loss"), d.get("step_size")
            model.loss_ = float("nan") if loss is None else float(loss)
            model.step_size_ = float("nan") if step is None else float(step)
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(f"Malformed saved graphical model: {exc}") from None
        return model


def _systematic_counts(n_g: np.ndarray, table: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round ``n_g · p(·|g)`` to integers per row, each row summing to ``n_g``.

    Each cell gets ``floor(n_g p)`` plus 0 or 1: the row's remainder is spread by
    systematic sampling with one uniform offset per row, so a cell gets the extra record
    with probability equal to its fractional part (unbiased, error < 1 per cell).

    Args:
        n_g: Records per row, shape (G,).
        table: Non-negative weights, shape (G, K); an all-zero row is read as uniform.
        rng: Randomness.

    Returns:
        Integer counts of shape (G, K).
    """
    table = np.maximum(np.asarray(table, dtype=np.float64), 0.0)
    rowsum = table.sum(axis=1, keepdims=True)
    k = table.shape[1]
    p = np.where(rowsum > 0, table / np.where(rowsum > 0, rowsum, 1.0), 1.0 / k)
    expected = n_g[:, None] * p
    floor = np.floor(expected)
    rem = np.rint(n_g - floor.sum(axis=1)).astype(np.int64)
    cum = np.cumsum(expected - floor, axis=1)
    cum[:, -1] = rem
    u = rng.random(len(n_g))[:, None]
    bounds = np.clip(np.ceil(cum - u), 0, rem[:, None])
    bounds = np.maximum.accumulate(bounds, axis=1)
    extra = np.diff(bounds, axis=1, prepend=0.0)
    return (floor + extra).astype(np.int64)

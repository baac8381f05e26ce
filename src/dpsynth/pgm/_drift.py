"""Bounds on how far a sequence of estimated models moves, marginal by marginal.

AIM scores every candidate marginal each round by the model's answer on it; most of those
answers barely change from one round to the next. :class:`ModelDrift` follows the models a
fit estimates and bounds, for any attribute set r, ‖M_r(p_t) − M_r(p_s)‖₁ (counts) between
two of them, so that a selection can skip recomputing a candidate whose score cannot have
grown enough to win (:class:`LazyEstimates`). Everything here is post-processing of the
models (public): no data is read.

The bound for one round (model s, then t, s's potentials on cliques of t's junction tree,
as warm-started estimation guarantees): both distributions factorise over t's junction
tree T, so s's marginals on T's cliques come from one sweep of belief propagation on s's
potentials. Rooting each tree of the forest, the KL divergence of the joints of a connected
subtree A with top node R is, by the chain rule,

    KL_A = KL(μᵗ_R ‖ μˢ_R) + Σ_{C ∈ A, C ≠ R} [KL(μᵗ_C ‖ μˢ_C) − KL(μᵗ_S ‖ μˢ_S)]

(S the separator of C with its parent; each bracket is an expected conditional KL, ≥ 0).
For r covered by A, marginalisation contracts KL and L1, so with Pinsker's inequality

    ‖M_r(p_t) − M_r(p_s)‖₁ ≤ |N̂_t − N̂_s| + N̂_t · √(2·KL_A)

(N̂ the models' totals; N̂_t P_t − N̂_s P_s = N̂_t (P_t − P_s) + (N̂_t − N̂_s) P_s). Over
several rounds the per-round bounds add up (triangle inequality).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from dpsynth.pgm._domain import Clique
from dpsynth.pgm._engine import BeliefPropagation, sum_axes
from dpsynth.pgm._model import GraphicalModel

# Added to every KL (nats) before the square root: covers the rounding of the marginals
# computed by belief propagation (relative errors ~1e-15) with a wide margin.
_KL_SLACK = 1e-11
# Cliques bigger than this (cells) are not summed down per query (see _Round).
_REDUCE_CELLS = 1 << 15


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p ‖ q) of two count tables, each normalised to a distribution (inf if p ≪ q fails)."""
    ps = float(p.sum())
    qs = float(q.sum())
    pn = p.ravel() / ps
    qn = q.ravel() / qs
    pos = pn > 0
    if np.any(qn[pos] <= 0):
        return math.inf
    return max(0.0, float(np.sum(pn[pos] * (np.log(pn[pos]) - np.log(qn[pos])))))


class _Round:
    """One round's drift bound for each of a set of cliques, on the newer model's junction tree."""

    def __init__(self, old: GraphicalModel, new: GraphicalModel, cliques: Sequence[Clique]) -> None:
        jt = new.junction_tree
        self.bounds: dict[Clique, float] = {}
        sets = [frozenset(c) for c in jt.cliques]
        if not all(any(set(c) <= s for s in sets) for c in old.potentials):
            self.bounds = dict.fromkeys(cliques, math.inf)
            return
        n = len(sets)
        parent = [-1] * n
        depth = [0] * n
        comp = [-1] * n
        nbrs = jt.neighbors()
        for start in range(n):
            if comp[start] >= 0:
                continue
            comp[start] = start
            order = [start]
            for k in order:
                for j in nbrs[k]:
                    if comp[j] < 0:
                        comp[j] = start
                        parent[j] = k
                        depth[j] = depth[k] + 1
                        order.append(j)
        # The top (least deep) clique holding each attribute; by the running-intersection
        # property the cliques holding it form a subtree, so it is unique.
        top: dict[str, int] = {}
        for k, s in enumerate(sets):
            for a in s:
                if a not in top or depth[k] < depth[top[a]]:
                    top[a] = k
        seps = [sets[k] & sets[parent[k]] if parent[k] >= 0 else frozenset() for k in range(n)]
        pots = list(old.potentials)
        bp = BeliefPropagation(jt, pots, [])
        olds = bp.run([old.potentials[c] for c in pots], old.total, keep=True)
        news = new._marginals
        memo: dict[tuple[int, frozenset[str]], float] = {}

        def kl(k: int, keep: frozenset[str]) -> float:
            """KL of clique k's marginals summed down to ``keep`` (or an upper bound).

            On a big clique the whole clique's KL stands in (computed once; marginalising
            only lowers KL, so it bounds the reduced one, and the separator's KL that is
            subtracted is computed exactly): summing a big table per query would cost more
            than the eliminations the bound saves.
            """
            if len(keep) < len(sets[k]) and news[k].size > _REDUCE_CELLS:
                keep = sets[k]
            got = memo.get((k, keep))
            if got is None:
                ax = sum_axes(tuple(keep), jt.cliques[k])
                got = _kl(news[k].sum(axis=ax), olds[k].sum(axis=ax)) if keep else 0.0
                memo[(k, keep)] = got
            return got

        sep_memo: dict[int, float] = {}

        def sep_kl(k: int) -> float:
            """KL of clique k's marginals on its separator with its parent (exact)."""
            got = sep_memo.get(k)
            if got is None:
                ax = sum_axes(tuple(seps[k]), jt.cliques[k])
                got = _kl(news[k].sum(axis=ax), olds[k].sum(axis=ax)) if seps[k] else 0.0
                sep_memo[k] = got
            return got

        dtotal = abs(new.total - old.total)
        for clique in cliques:
            by_comp: dict[int, set[int]] = {}
            for a in clique:
                by_comp.setdefault(comp[top[a]], set()).add(top[a])
            q = frozenset(clique)
            total_kl = 0.0
            for nodes in by_comp.values():
                # The subtree joining the nodes: lift the deepest until one remains.
                span = set(nodes)
                front = set(nodes)
                while len(front) > 1:
                    k = max(front, key=lambda i: (depth[i], i))
                    front.discard(k)
                    front.add(parent[k])
                    span.add(parent[k])
                (root,) = front
                # Each clique summed down to the query and the separators inside the subtree
                # (a variable in neither appears in no other clique of the subtree).
                need = {k: sets[k] & q for k in span}
                for k in span:
                    if k != root:
                        need[k] = need[k] | seps[k]
                        need[parent[k]] = need[parent[k]] | seps[k]
                for k in span:
                    if k == root:
                        total_kl += kl(k, need[k])
                    else:
                        # The expected KL of the conditional given the separator (≥ 0).
                        total_kl += max(0.0, kl(k, need[k]) - sep_kl(k))
            if math.isfinite(total_kl):
                bound = dtotal + new.total * math.sqrt(2.0 * (total_kl + _KL_SLACK * len(clique)))
            else:
                bound = math.inf
            self.bounds[clique] = bound


class ModelDrift:
    """Follows the models of a fit; bounds how far each candidate marginal moved between two of them.

    Call :meth:`advance` with each newly estimated model (in order); :attr:`version` counts
    them from 0. Each model's potentials must lie inside cliques of the next model's junction
    tree (true of warm-started estimation with a growing set of measurements); where not,
    the bounds across that step are infinite (always valid). The per-round bounds of every
    candidate are computed at :meth:`advance`, so no model's tables are kept.

    Args:
        candidates: The cliques whose drift may be asked for.
    """

    def __init__(self, candidates: Sequence[Clique]) -> None:
        self.version = -1
        self._cands = [tuple(c) for c in candidates]
        self._model: GraphicalModel | None = None
        self._per: dict[Clique, list[float]] = {c: [] for c in self._cands}

    @property
    def model(self) -> GraphicalModel:
        """The latest model."""
        if self._model is None:
            raise ValueError("ModelDrift has no model yet.")
        return self._model

    def advance(self, model: GraphicalModel) -> None:
        """Record the next model of the sequence."""
        if self._model is not None:
            step = _Round(self._model, model, self._cands)
            for c, b in step.bounds.items():
                self._per[c].append(b)
        self._model = model
        self.version += 1

    def drift(self, clique: Clique, since: int) -> float:
        """Upper bound on ‖M_clique(latest) − M_clique(model number ``since``)‖₁ (counts)."""
        if not 0 <= since <= self.version:
            raise ValueError(f"No model number {since} (latest is {self.version}).")
        per = self._per.get(tuple(clique))
        if per is None:
            raise KeyError(tuple(clique))
        # Each term is an upper bound; a slightly inflated sum stays one despite rounding.
        return math.fsum(per[since:]) * (1.0 + 1e-12)


class LazyEstimates(Mapping[Clique, np.ndarray]):
    """The latest model's marginals on a set of candidates, computed only when asked for.

    A mapping (``estimates[c]`` computes and keeps the marginal), so it can stand in for a
    dict of estimates; :meth:`dpsynth.data.private.PrivateData.select_marginal` also reads
    :meth:`drift` and :meth:`cheap` to skip candidates that cannot win.

    Args:
        drift: The model sequence; its latest model answers.
        candidates: The cliques that may be asked for.
    """

    def __init__(self, drift: ModelDrift, candidates: Sequence[Clique]) -> None:
        self.tracker = drift
        self.model = drift.model
        self.version = drift.version
        self.total = self.model.total
        self._cands = [tuple(c) for c in candidates]
        self._known = set(self._cands)
        self._done: dict[Clique, np.ndarray] = {}
        self._holder: dict[frozenset[str], Clique] = {}
        sets = [frozenset(c) for c in self.model.junction_tree.cliques]
        self._in_clique = {c for c in self._cands if any(set(c) <= s for s in sets)}
        #: Out-of-clique marginals computed by elimination (not summed from another).
        self.computed = 0

    def __getitem__(self, clique: Clique) -> np.ndarray:
        c = tuple(clique)
        if c not in self._known:
            raise KeyError(c)
        got = self._done.get(c)
        if got is not None:
            return got
        sup = self._holder.get(frozenset(c))
        if sup is not None:
            s = frozenset(c)
            table = self._done[sup]
            summed = table.sum(axis=tuple(i for i, a in enumerate(sup) if a not in s))
            kept = [a for a in sup if a in s]
            got = np.ascontiguousarray(summed.transpose([kept.index(a) for a in c]))
        else:
            got = self.model.project(c)
            if c not in self._in_clique:
                self.computed += 1
            for k in range(1, len(c)):
                for sub in itertools.combinations(c, k):
                    self._holder.setdefault(frozenset(sub), c)
        self._done[c] = got
        return got

    def __iter__(self) -> Iterator[Clique]:
        return iter(self._cands)

    def __len__(self) -> int:
        return len(self._cands)

    def in_clique(self, clique: Clique) -> bool:
        """Whether the marginal is inside a clique of the model (a sum of its marginal)."""
        return tuple(clique) in self._in_clique

    def cheap(self, clique: Clique) -> bool:
        """Whether the marginal is inside a clique of the model or already computed."""
        c = tuple(clique)
        return c in self._in_clique or c in self._done or frozenset(c) in self._holder

    def drift(self, clique: Clique, since: int) -> float:
        """Upper bound on how far this marginal moved since model number ``since`` (counts)."""
        return self.tracker.drift(tuple(clique), since)


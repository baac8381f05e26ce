"""Exact marginals of a log-linear model on a small domain, from its whole joint table.

When the whole domain has only a few thousand cells, building ``log P`` over every cell
(a handful of broadcast additions), exponentiating once and summing it onto each wanted
marginal costs less than the junction tree's message passing, whose bookkeeping per call
(plans, shifts, several small tables per clique) dominates at that size. The result is the
same distribution: ``P(x) ∝ exp(Σ_c θ_c(x_c))`` is exactly what belief propagation
marginalises, so the two agree to rounding (tests compare them on random models).

:class:`DenseJoint` has the interface of :class:`~dpsynth.pgm._engine.BeliefPropagation`
that the estimator uses (``run``, ``target_orders``), and :func:`engine` picks one of the
two for a junction tree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from dpsynth.pgm._domain import Clique
from dpsynth.pgm._engine import BeliefPropagation
from dpsynth.pgm._junction import JunctionTree

#: Largest joint table (cells of the whole domain) built whole.
DENSE_CELLS = 4096


class DenseJoint:
    """Marginals from the whole joint table of a small domain.

    Args:
        jtree: The model's junction tree (its cliques are the ones ``run(keep=True)``
            returns; its domain's attributes are the joint's axes).
        potential_cliques: Cliques of the log-potential tables given to :meth:`run`.
        targets: Cliques whose marginals :meth:`run` returns.
    """

    def __init__(
        self, jtree: JunctionTree, potential_cliques: Sequence[Clique], targets: Sequence[Clique]
    ) -> None:
        dom = jtree.domain  # every attribute of it is in some clique of the tree
        self.attrs: tuple[str, ...] = tuple(dom.attrs)
        self.shape: tuple[int, ...] = tuple(int(d) for d in dom.shape)
        pos = {a: i for i, a in enumerate(self.attrs)}
        self.jtree = jtree
        self.targets = [tuple(c) for c in targets]
        # How each potential enters the joint: transposed to the joint's axis order, then
        # reshaped to broadcast (1 on the axes it does not span).
        self._pot_layout = [self._layout(tuple(c), pos) for c in potential_cliques]
        #: Axis order of each target as returned by ``run(..., native=True)``: the joint's.
        self.target_orders: list[tuple[str, ...]] = [
            tuple(a for a in self.attrs if a in set(t)) for t in self.targets
        ]
        self._target_axes = [self._other_axes(t, pos) for t in self.targets]
        self._clique_axes = [self._other_axes(tuple(c), pos) for c in jtree.cliques]

    def _layout(self, clique: Clique, pos: dict[str, int]) -> tuple[list[int], tuple[int, ...]]:
        order = sorted(range(len(clique)), key=lambda i: pos[clique[i]])
        span = {pos[a] for a in clique}
        shape = tuple(d if k in span else 1 for k, d in enumerate(self.shape))
        return order, shape

    def _other_axes(self, clique: Clique, pos: dict[str, int]) -> tuple[int, ...]:
        span = {pos[a] for a in clique}
        return tuple(k for k in range(len(self.attrs)) if k not in span)

    def _log_sum(
        self, potentials: Sequence[np.ndarray], layouts: Sequence[tuple[list[int], tuple[int, ...]]]
    ) -> np.ndarray:
        """Σ of the log-potentials broadcast over the joint (axes in :attr:`attrs` order)."""
        logp = np.zeros(self.shape)
        for table, (order, shape) in zip(potentials, layouts, strict=True):
            logp += np.asarray(table, dtype=np.float64).transpose(order).reshape(shape)
        return logp

    def joint(self, potentials: Sequence[np.ndarray], total: float) -> np.ndarray:
        """The joint table (axes in :attr:`attrs` order) summing to ``total``."""
        return _normalised(self._log_sum(potentials, self._pot_layout), float(total))

    def run(
        self,
        potentials: Sequence[np.ndarray],
        total: float,
        *,
        keep: bool = False,
        native: bool = False,
    ) -> list[np.ndarray]:
        """Marginal counts of the targets (as :meth:`BeliefPropagation.run`)."""
        p = self.joint(potentials, total)
        out: list[np.ndarray] = []
        for target, order, axes in zip(self.targets, self.target_orders, self._target_axes, strict=True):
            m = p.sum(axis=axes) if axes else p.copy()
            out.append(m if native or order == target else self._to(m, order, target))
        if keep:
            for clique, axes in zip(self.jtree.cliques, self._clique_axes, strict=True):
                m = p.sum(axis=axes) if axes else p.copy()
                order = tuple(a for a in self.attrs if a in set(clique))
                out.append(self._to(m, order, tuple(clique)))
        return out

    def flat_evaluator(
        self, fixed: Sequence[np.ndarray], total: float
    ) -> Callable[[np.ndarray], np.ndarray]:
        """The targets' marginals as one flat vector, from their potentials as one flat vector.

        Both vectors hold the targets in order, each flattened with its axes in
        :attr:`target_orders` (the estimator's layout); the potentials given to :meth:`run`
        must be the targets' own (one per target, first) followed by ``fixed``, which stay
        constant. A joint cell's log-potential is then a gather of one entry per target and
        a marginal a weighted bincount: no per-clique loop.
        """
        k = len(self.targets)
        if len(self._pot_layout) != k + len(fixed):
            raise ValueError("flat_evaluator needs the targets' potentials first, then the fixed ones")
        grids = np.indices(self.shape).reshape(len(self.shape), -1)
        pos = {a: i for i, a in enumerate(self.attrs)}
        cols = []
        offset = 0
        for target_order in self.target_orders:
            sub = tuple(self.shape[pos[a]] for a in target_order)
            idx = (np.ravel_multi_index(tuple(grids[pos[a]] for a in target_order), sub) if target_order
                   else np.zeros(grids.shape[1], dtype=np.int64))
            cols.append(idx + offset)
            offset += math.prod(sub)
        gather = np.stack(cols, axis=1) if cols else np.zeros((grids.shape[1], 0), dtype=np.int64)
        flat_idx = gather.reshape(-1)
        base_flat = self._log_sum(fixed, self._pot_layout[k:]).reshape(-1)
        size = offset
        scale = float(total)

        def evaluate(flat: np.ndarray) -> np.ndarray:
            p = _normalised(flat[gather].sum(axis=1) + base_flat, scale)
            return np.bincount(flat_idx, weights=np.repeat(p, k), minlength=size)

        return evaluate

    @staticmethod
    def _to(m: np.ndarray, order: tuple[str, ...], clique: tuple[str, ...]) -> np.ndarray:
        if order == clique:
            return np.ascontiguousarray(m)
        return np.array(m.transpose([order.index(a) for a in clique]), order="C")


def _normalised(logp: np.ndarray, total: float) -> np.ndarray:
    """exp(logp), shifted by its maximum, scaled to sum to ``total``."""
    top = float(logp.max()) if logp.size else 0.0
    p = np.exp(logp - (top if math.isfinite(top) else 0.0))
    return p * (total / float(p.sum()))


def engine(
    jtree: JunctionTree, potential_cliques: Sequence[Clique], targets: Sequence[Clique]
) -> BeliefPropagation | DenseJoint:
    """The cheaper exact engine for this tree: the whole joint when it is small."""
    if math.prod(jtree.domain.shape) <= DENSE_CELLS:
        return DenseJoint(jtree, potential_cliques, targets)
    return BeliefPropagation(jtree, potential_cliques, targets)

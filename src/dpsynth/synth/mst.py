"""MST: the maximum-spanning-tree mechanism (McKenna, Miklau, Sheldon 2021).

Winner of the NIST 2018 Differential Privacy Synthetic Data challenge. The budget ρ is
split in three equal parts: (1) measure every one-way marginal; (2) select d − 1 pairs
forming a spanning tree, each chosen by the exponential mechanism among the pairs that
join two components, scored by how badly the one-way model explains the pair (a private
Kruskal); (3) measure the chosen pairs. A tree-structured graphical model fitted to all
measurements generates the data.

When the metadata declares a ``target`` column (a public key of the domain), step (2)
weighs the pairs that contain it ``target_weight`` times the others, so the tree links the
target to more of the columns that predict it (the exponential mechanism's score of a pair
is scaled by its weight, as AIM weighs its candidates; the sensitivity is the largest
weight, so the selection's privacy cost is unchanged).

The steps other settings share (federated MST counts through secure aggregation instead
of :class:`~dpsynth.data.private.PrivateData`; LDP synthesis grows its forest with
:func:`kruskal`) are the module's functions: :func:`measure_oneway` and :func:`kruskal`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from dpsynth.data.private import PrivateData, gaussian_sigma_for
from dpsynth.errors import InvalidParameterError, check_positive
from dpsynth.pgm import Domain as PGMDomain
from dpsynth.pgm import GraphicalModel, Measurement, estimate
from dpsynth.privacy.random import RandomState
from dpsynth.synth.marginal import MarginalSynthesizer, check_int, compress_domain
from dpsynth.synth.registry import register

Clique = tuple[str, ...]
Coarsening = dict[str, np.ndarray]
#: How a setting counts marginals: ``measure(cliques, rho, coarsen, step)`` charges ``rho`` in
#: total for the noisy counts of ``cliques`` (on the domain ``coarsen`` maps to, or the full
#: one when None) and returns them as measurements.
Measure = Callable[[Sequence[Clique], float, Coarsening | None, str], list[Measurement]]
#: Default weight of the pairs that contain the metadata's target in MST's selection.
TARGET_WEIGHT = 2.0


def check_target_weight(value: object, owner: str) -> float:
    """Validate ``target_weight``: a finite number >= 1."""
    w = check_positive(value, "target_weight", owner)
    if w < 1.0:
        raise InvalidParameterError(
            f"The 'target_weight' parameter of {owner} must be a number >= 1 (1: no preference). Got {value!r}."
        )
    return w


def measure_oneway(
    measure: Measure, domain: PGMDomain, rho: float, step: str, select_iters: int
) -> tuple[Coarsening, PGMDomain, list[Measurement], GraphicalModel]:
    """MST's first step: every one-way marginal at ``rho``, domain compression, the one-way model.

    Domain compression (MST, Sec. 3.2): codes whose noisy count is below 3σ are merged into
    one, so the pairs are measured on fewer, better-populated cells. Compression and the
    one-way model (``select_iters`` iterations of the estimator) are post-processing.

    Returns:
        The per-column code maps, the compressed domain, the one-way measurements on it,
        and the one-way model that pairs are scored against.
    """
    log = measure([(a,) for a in domain.attrs], rho, None, step)
    coarsen, dom, log = compress_domain(domain, log, log[0].sigma)
    return coarsen, dom, log, estimate(dom, log, iters=select_iters)


def target_pair_weights(pairs: Sequence[tuple[str, ...]], target: str | None, weight: float) -> list[float] | None:
    """Selection weights that favour the pairs holding ``target`` by ``weight`` (None: all equal).

    The pairs with the target weigh 1 and the others ``1 / weight``, so the largest weight
    (the score's sensitivity) stays 1 whenever a target pair is among the candidates.
    Public: it depends on the column names and the metadata's target only.
    """
    if target is None or weight == 1.0:
        return None
    return [1.0 if target in p else 1.0 / weight for p in pairs]


def kruskal(
    names: Sequence[str], pairs: Sequence[tuple[str, str]], pick: Callable[[list[tuple[str, str]]], int | None]
) -> list[tuple[str, str]]:
    """Grow a spanning tree (or forest) over ``names`` one pair at a time, Kruskal's way.

    At each step the candidates are the ``pairs`` (in their order) that join two components;
    ``pick(candidates)`` returns the index of the one to add, or None to stop (a forest). With
    ``pick`` the candidate of largest weight this is the maximum spanning tree; with the
    exponential mechanism, MST's private Kruskal.
    """
    component = {n: i for i, n in enumerate(names)}
    tree: list[tuple[str, str]] = []
    for _ in range(len(names) - 1):
        cands = [p for p in pairs if component[p[0]] != component[p[1]]]
        if not cands:
            break
        i = pick(cands)
        if i is None:
            break
        chosen = cands[i]
        tree.append(chosen)
        old, new = component[chosen[1]], component[chosen[0]]
        for n in names:
            if component[n] == old:
                component[n] = new
    return tree


@register("mst")
class MST(MarginalSynthesizer):
    """MST (McKenna, Miklau, Sheldon 2021).

    Args:
        iters: Iterations of the final graphical-model estimation (post-processing).
        select_iters: Iterations of the one-way model used to score pairs.
        target_weight: How much more the pairs that contain the metadata's ``target`` weigh
            in the tree's selection (≥ 1; 1 treats every pair alike, as the MST paper).
            Without a declared target it has no effect.
        random_state: Seed for tests and research only (the report then says not for release).
    """

    def __init__(self, *, iters: int = 1000, select_iters: int = 200, target_weight: float = TARGET_WEIGHT,
                 random_state: RandomState = None) -> None:
        super().__init__(random_state=random_state)
        self.iters = iters
        self.select_iters = select_iters
        self.target_weight = target_weight

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int(self.iters, "iters", type(self).__name__)
        check_int(self.select_iters, "select_iters", type(self).__name__)
        check_target_weight(self.target_weight, type(self).__name__)

    def _fit(self, data: PrivateData) -> None:
        names = list(data.domain.names)
        d = len(names)
        if d < 2:
            raise InvalidParameterError("MST needs at least two columns; use 'independent' for one.")
        rho = data.rho_left("mst")

        def measure(cliques: Sequence[Clique], rho: float, coarsen: Coarsening | None, step: str) -> list[Measurement]:
            return data.measure_marginals(cliques, sigma=gaussian_sigma_for(rho, len(cliques)), step=step, coarsen=coarsen)

        # (1) one-way marginals with ρ/3 (MST, Alg. 1 line 2), then domain compression.
        coarsen, dom, log, oneway = measure_oneway(measure, data.pgm_domain, rho / 3.0, "mst.measure_1way",
                                                   self.select_iters)
        # (2) private Kruskal with ρ/3 over d − 1 exponential-mechanism selections.
        epsilon = float(np.sqrt(8.0 * (rho / 3.0) / (d - 1)))
        pairs = list(itertools.combinations(names, 2))
        estimates: dict[tuple[str, ...], np.ndarray] = {p: oneway.project(p) for p in pairs}
        target = data.domain.target if data.domain.target in names else None
        tree = kruskal(names, pairs, lambda cands: data.select_marginal(
            cands, estimates, epsilon=epsilon, step="mst.select", coarsen=coarsen,
            weights=target_pair_weights(cands, target, self.target_weight)))
        # (3) measure the tree's pairs with the last ρ/3 (all that is left).
        log += measure(tree, data.accountant.rho_remaining, coarsen, "mst.measure_2way")
        self.model_ = estimate(dom, log, iters=self.iters)
        self.coarsen_ = coarsen

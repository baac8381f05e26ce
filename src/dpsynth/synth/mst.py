"""MST: the maximum-spanning-tree mechanism (McKenna, Miklau, Sheldon 2021).

Winner of the NIST 2018 Differential Privacy Synthetic Data challenge. The budget ρ is
split in three equal parts: (1) measure every one-way marginal; (2) select d − 1 pairs
forming a spanning tree, each chosen by the exponential mechanism among the pairs that
join two components, scored by how badly the one-way model explains the pair (a private
Kruskal); (3) measure the chosen pairs. A tree-structured graphical model fitted to all
measurements generates the data.
"""

from __future__ import annotations

import itertools

import numpy as np

from dpsynth.data.private import PrivateData, gaussian_sigma_for
from dpsynth.errors import InvalidParameterError
from dpsynth.pgm import estimate
from dpsynth.privacy.random import RandomState
from dpsynth.synth.marginal import MarginalSynthesizer, check_int, compress_domain
from dpsynth.synth.registry import register


@register("mst")
class MST(MarginalSynthesizer):
    """MST (McKenna, Miklau, Sheldon 2021).

    Args:
        iters: Iterations of the final graphical-model estimation (post-processing).
        select_iters: Iterations of the one-way model used to score pairs.
        random_state: Seed for tests and research only (the report then says not for release).
    """

    def __init__(self, *, iters: int = 1000, select_iters: int = 200, random_state: RandomState = None) -> None:
        super().__init__(random_state=random_state)
        self.iters = iters
        self.select_iters = select_iters

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int(self.iters, "iters", "MST")
        check_int(self.select_iters, "select_iters", "MST")

    def _fit(self, data: PrivateData) -> None:
        names = list(data.domain.names)
        d = len(names)
        if d < 2:
            raise InvalidParameterError("MST needs at least two columns; use 'independent' for one.")
        rho = data.rho_left("mst")
        # (1) one-way marginals with ρ/3 (MST, Alg. 1 line 2).
        sigma1 = gaussian_sigma_for(rho / 3.0, d)
        log = data.measure_marginals([(n,) for n in names], sigma=sigma1, step="mst.measure_1way")
        # Domain compression (MST, Sec. 3.2): codes whose noisy count is below 3σ are merged
        # into one, so the pairs are measured on fewer, better-populated cells.
        # Post-processing of the one-way answers: it costs nothing.
        coarsen, dom, log = compress_domain(data.pgm_domain, log, sigma1)
        # (2) private Kruskal with ρ/3 over d − 1 exponential-mechanism selections.
        oneway = estimate(dom, log, iters=self.select_iters)
        epsilon = float(np.sqrt(8.0 * (rho / 3.0) / (d - 1)))
        pairs = list(itertools.combinations(names, 2))
        estimates: dict[tuple[str, ...], np.ndarray] = {p: oneway.project(p) for p in pairs}
        component = {n: i for i, n in enumerate(names)}
        tree: list[tuple[str, str]] = []
        for _ in range(d - 1):
            cands = [p for p in pairs if component[p[0]] != component[p[1]]]
            pick = cands[
                data.select_marginal(cands, estimates, epsilon=epsilon, step="mst.select", coarsen=coarsen)
            ]
            tree.append(pick)
            old, new = component[pick[1]], component[pick[0]]
            for n in names:
                if component[n] == old:
                    component[n] = new
        # (3) measure the tree's pairs with the last ρ/3 (all that is left).
        sigma2 = gaussian_sigma_for(data.accountant.rho_remaining, d - 1)
        log += data.measure_marginals(tree, sigma=sigma2, step="mst.measure_2way", coarsen=coarsen)
        self.model_ = estimate(dom, log, iters=self.iters)
        self.coarsen_ = coarsen

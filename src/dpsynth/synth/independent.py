"""The independent-marginals baseline every method must beat."""

from __future__ import annotations

from dpsynth.data.private import PrivateData, gaussian_sigma_for
from dpsynth.pgm import estimate
from dpsynth.privacy.random import RandomState
from dpsynth.synth.marginal import MarginalSynthesizer, check_int
from dpsynth.synth.registry import register


@register("independent")
class Independent(MarginalSynthesizer):
    """Noisy one-way marginals, columns sampled independently.

    The whole budget measures every one-way marginal with discrete Gaussian noise of equal
    scale σ = √(d / 2ρ); a graphical model with no edges makes the noisy counts consistent
    (non-negative, one common total). It keeps each column's distribution and nothing of the
    associations: the baseline that tells whether a method learned anything more.

    Args:
        iters: Estimation iterations (post-processing).
        random_state: Seed for tests and research only (the report then says not for release).
    """

    def __init__(self, *, iters: int = 200, random_state: RandomState = None) -> None:
        super().__init__(random_state=random_state)
        self.iters = iters

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int(self.iters, "iters", "Independent")

    def _fit(self, data: PrivateData) -> None:
        names = data.domain.names
        sigma = gaussian_sigma_for(data.rho_left("independent"), len(names))
        log = data.measure_marginals([(n,) for n in names], sigma=sigma, step="independent.measure")
        self.model_ = estimate(data.pgm_domain, log, iters=self.iters)

"""A deliberately leaky CTAB-GAN+ for the audit's comparison. NOT differentially private.

The published DP variant of CTAB-GAN+ (Team-TUD/CTAB-GAN-Plus-DP) noises only the critic's
real-data gradient. This class keeps dpsynth's networks and training loop and puts back
the leaks that matter for a membership attack, so that the audit can be run on both with
everything else equal (``benchmarks/audit.py --generators ctabgan ctabgan_leaky``):

1. **Encoders and conditional-vector frequencies from exact counts** (the original fits its
   encoders and training-by-sampling frequencies on the raw rows). The same exact one-way
   counts are then the targets of the calibrated sampler.
2. **Auxiliary classifier without meaningful noise** (the original trains it on raw rows):
   σ = 0.05, which no budget of interest pays for.
3. **Critic noise halved**: the original's batch clipping has sensitivity 2C but is
   accounted as C, so at the "claimed" ε its noise is half of what that ε needs. Here σ is
   calibrated for the claimed ε with dpsynth's (correct) per-sample accounting, then halved.

Not emulated: the original's gradient penalty on raw interpolates (dpsynth's default critic
is spectrally constrained and has no penalty) and its information loss.

The fit runs under a nominal budget of ε = 10⁴ so that the accountant accepts the leaky
stages; the privacy report of such a model is meaningless and says so in its notes. Lives
in ``benchmarks/`` on purpose: the package has no switch that turns privacy off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.privacy import Accountant, PrivacyBudget
from dpsynth.synth.ctabgan import CTABGAN

#: The nominal budget a leaky fit runs under (its stages are not what ε claims).
NOMINAL_EPSILON = 1e4
#: σ of the auxiliary classifier's DP-SGD in the leaky variant ("no noise").
AUXILIARY_SIGMA = 0.05
#: Factor on the correctly calibrated critic σ (the original under-counts sensitivity 2C as C).
CRITIC_NOISE_FACTOR = 0.5


class LeakyCTABGAN(CTABGAN):
    """CTAB-GAN+ with the published DP variant's leaks put back (see the module docstring)."""

    claimed_epsilon: float = 1.0
    claimed_delta: float = 1e-6

    def _one_way(self, data: PrivateData) -> tuple[list[np.ndarray], float]:
        names = list(data.domain.names)
        counts = [np.asarray(c, dtype=np.float64) for c in data._true_marginals([(n,) for n in names])]
        data.accountant.notes.append(
            "LEAKY BENCHMARK MODEL: exact one-way counts, near-noiseless auxiliary classifier, critic noise "
            "halved; not differentially private, the epsilon above means nothing."
        )
        return counts, float(counts[0].sum())

    def _noise_multipliers(self, data: PrivateData, stages: Sequence[Any]) -> list[float]:
        from dpsynth import dpsgd

        scratch = Accountant(PrivacyBudget(self.claimed_epsilon, self.claimed_delta))
        sigmas = dpsgd.calibrate(scratch, stages)
        return [sigmas[0] * CRITIC_NOISE_FACTOR] + [AUXILIARY_SIGMA] * (len(sigmas) - 1)


class LeakyGenerator:
    """An audit game generator (``generator(train, domain, n_synth, seed)``) fitting LeakyCTABGAN."""

    name = "ctabgan_leaky"

    def __init__(self, *, epsilon: float, delta: float = 1e-6, **params: Any) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.params = params

    def __call__(self, train: pd.DataFrame, domain: Domain, n_synth: int, seed: int) -> pd.DataFrame:
        model = LeakyCTABGAN(random_state=seed, **self.params)
        model.claimed_epsilon, model.claimed_delta = float(self.epsilon), float(self.delta)
        model.fit(PrivateData(train, domain), PrivacyBudget(NOMINAL_EPSILON, self.delta))
        out: pd.DataFrame = model.sample(n_synth, random_state=seed + 1)
        return out

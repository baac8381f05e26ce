"""Broken generators for the worst-case audit's positive controls (tests and benchmarks only).

The package has no switch that turns privacy off; these copies are deliberately wrong and
live outside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dpsynth.audit.worst_case import TranscriptData
from dpsynth.pgm import Measurement
from dpsynth.privacy.mechanisms import GaussianMechanism
from dpsynth.synth.independent import Independent


class UnderNoisedData(TranscriptData):
    """Marginals released with 80% of the noise the ledger charges for (the bug on purpose).

    Any marginal generator fitted on it (independent, MST, AIM) becomes its under-noised copy:
    the accountant is charged for σ, the counts get 0.8·σ.
    """

    scale = 0.8

    def measure_marginals(self, cliques: Any, *, sigma: float, step: str, coarsen: Any = None) -> Any:
        cl = [tuple(c) for c in cliques]
        if not cl:
            return []
        charged = GaussianMechanism(sigma=sigma, sensitivity=1.0, integer=True)
        self.accountant.charge(charged, step=step, count=len(cl), description="marginals (under-noised copy)")
        used = GaussianMechanism(sigma=self.scale * sigma, sensitivity=1.0, integer=True)
        out = [
            Measurement(clique=c, values=used.release(t.ravel(), self.noise), sigma=float(sigma))
            for c, t in zip(cl, self._true_marginals(cl, coarsen), strict=True)
        ]
        self.note_marginals(cl, coarsen, out)
        return out


class CategoryFromData(Independent):
    """Independent marginals, but column ``a``'s categories are read from the data for free.

    The classic bug: a category no training row has is never generated, so its absence in
    the synthetic data tells that no training row had it.
    """

    def _fit(self, data: Any) -> None:
        super()._fit(data)
        (counts,) = data._true_marginals([("a",)])  # free, unnoised read: the bug
        self.seen_ = bool(np.asarray(counts).ravel()[1] > 0)

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        out = super()._sample(n, rng)
        if not self.seen_:
            out["a"] = out["a"].where(out["a"] != 1, 0)
        return out


class Make:
    """A picklable ``factory(seed)`` for the audit's workers."""

    def __init__(self, cls: type, name: str, **params: Any) -> None:
        self.cls, self.name, self.params = cls, name, params

    def __call__(self, seed: int) -> Any:
        return self.cls(random_state=seed, **self.params)

"""The API role: where candidates come from (Lin et al., ICLR 2024, Sec. 3).

PE never trains on private data. It asks a black box for candidates twice:
``RANDOM_API(n)`` draws n samples from a public prior (a foundation model, a simulator, the
uniform distribution over a public schema) and ``VARIATION_API(S, degree)`` returns
perturbed copies of the samples S, ``degree`` saying how far they may move. Both must be
independent of the private data: they see only public information and the candidates
that earlier rounds selected (which are DP outputs).

Samples are numpy arrays with one sample per leading index; what a sample is (a row of
cell values, a vector of simulator parameters) is the API's business, and the
:class:`~dpsynth.pe.embedding.Embedding` of the same family knows how to read it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from dpsynth.errors import InvalidParameterError


class API(ABC):
    """Generates and perturbs candidate samples from public information only."""

    @abstractmethod
    def random_api(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` samples from the public prior (Lin et al. 2024, RANDOM_API)."""

    @abstractmethod
    def variation_api(self, samples: np.ndarray, degree: float, rng: np.random.Generator) -> np.ndarray:
        """One perturbed copy of each sample (VARIATION_API); ``degree`` in (0, 1] sets how far."""

    def labels(self, samples: np.ndarray) -> np.ndarray | None:
        """The group (class) label of each sample, when votes are taken per class; else None."""
        return None


def check_degree(degree: object) -> float:
    """Validate a variation degree: a number in (0, 1]."""
    if isinstance(degree, bool) or not isinstance(degree, int | float) or not 0.0 < float(degree) <= 1.0:
        raise InvalidParameterError(f"A variation degree must be a number in (0, 1]. Got {degree!r}.")
    return float(degree)

"""The Private Evolution loop (Lin et al., ICLR 2024, Alg. 1), with callbacks.

::

    S₀ ← RANDOM_API(M)
    for t = 1 … T:
        H_t ← DP histogram of S_{t−1}          (Histogram: the only private access)
        if t < T: S_t ← select and vary S_{t−1} by H_t   (Population, API)
    return S_{T−1} with weights H_T

Callbacks receive the round number, the (public) candidates and their DP weights after
each round; they never receive private data, so nothing they compute can leak it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from dpsynth.errors import InvalidParameterError
from dpsynth.pe.api import API
from dpsynth.pe.embedding import Embedding
from dpsynth.pe.histogram import Histogram, Votes
from dpsynth.pe.population import Population
from dpsynth.progress import track

#: ``callback(round, candidates, votes)``, called after every round's histogram.
Callback = Callable[[int, np.ndarray, Votes], None]


@dataclass
class PEResult:
    """The final population and its DP weights.

    Attributes:
        samples: The last round's candidates.
        weights: Their selection weights (thresholded noisy votes; all DP).
        total: DP estimate of the number of private records (from the last histogram), if any.
        history: Per round: the number of candidates with positive weight (public, DP).
    """

    samples: np.ndarray
    weights: np.ndarray
    total: float | None
    history: list[int] = field(default_factory=list)


class PrivateEvolution:
    """Runs the PE loop with the four roles.

    Args:
        api: Random and variation APIs (public).
        embedding: The shared embedding space.
        histogram: The DP histogram (the only role that reads private data).
        population: Selection and variation schedule.
        callbacks: Called after each round with ``(round, candidates, votes)``.
    """

    def __init__(
        self,
        api: API,
        embedding: Embedding,
        histogram: Histogram,
        population: Population | None = None,
        *,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.api = api
        self.embedding = embedding
        self.histogram = histogram
        self.population = population or Population()
        self.callbacks = list(callbacks)

    def run(
        self,
        *,
        rounds: int,
        population_size: int,
        rng: np.random.Generator,
        initial: np.ndarray | None = None,
        description: str = "Private Evolution",
    ) -> PEResult:
        """Evolve ``population_size`` candidates for ``rounds`` histogram rounds.

        Args:
            rounds: Number of DP histograms T (each one is charged by the histogram).
            population_size: Candidates per round M.
            rng: Post-processing randomness (API calls, selection).
            initial: Optional public starting candidates instead of ``RANDOM_API(M)``.
            description: Label of the progress bar.
        """
        for name, value in (("rounds", rounds), ("population_size", population_size)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise InvalidParameterError(f"The {name!r} of Private Evolution must be an integer >= 1. Got {value!r}.")
        samples = self.api.random_api(int(population_size), rng) if initial is None else np.asarray(initial)
        history: list[int] = []
        votes: Votes | None = None
        with track(description, rounds) as update:
            for t in range(rounds):
                emb = self.embedding.embed(samples)
                if emb.ndim != 2 or emb.shape != (len(samples), self.embedding.dim):
                    raise InvalidParameterError(
                        f"Embedding dimension mismatch: embed() returned shape {emb.shape} for {len(samples)} "
                        f"candidates, but the embedding declares dim={self.embedding.dim}."
                    )
                votes = self.histogram.votes(emb, groups=self.api.labels(samples), round=t)
                history.append(int(np.count_nonzero(votes.weights)))
                for cb in self.callbacks:
                    cb(t, samples, votes)
                if t < rounds - 1:
                    samples = self.population.next_generation(self.api, samples, votes.weights, t, rounds, rng)
                update(t + 1)
        assert votes is not None
        return PEResult(samples=samples, weights=votes.weights, total=votes.total, history=history)

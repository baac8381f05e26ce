"""Private Evolution for tables (registry name ``pe``).

Lin et al. (ICLR 2024) with the tabular APIs of Tab-PE (2026): candidates start uniform
over the public schema; each round every private row votes for its nearest candidate
(min-max numerics + scaled one-hot), the votes get discrete Gaussian noise, and the
population is selected (sample mode first, then rank mode with keep-selected) and mutated
with a decaying rate. The fitted model is the last population with its DP weights;
sampling draws rows from it in proportion to the weights (post-processing).

Budget: everything left after domain inference goes to the T vote histograms, one
unit-sensitivity Gaussian release each, at σ = √(T / 2ρ) (the accountant composes in
zCDP). The report also states μ = √T/σ and the exact GDP ε, which is lower.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError, check_positive
from dpsynth.pe.accounting import sigma_for_rho
from dpsynth.pe.histogram import NearestNeighbourHistogram
from dpsynth.pe.population import Population
from dpsynth.pe.runner import PrivateEvolution
from dpsynth.pe.tabular import TableCodec, TabularAPI, TabularEmbedding
from dpsynth.privacy.random import RandomState, make_rng
from dpsynth.synth.base import Synthesizer
from dpsynth.synth.marginal import check_int
from dpsynth.synth.registry import register


class PopulationModel:
    """The fitted state: a weighted pool of synthetic rows (no private row).

    Args:
        domain: The public domain.
        samples: The pool as a PE sample matrix (see :class:`~dpsynth.pe.tabular.TableCodec`).
        weights: Non-negative DP weights, one per pool row.
    """

    def __init__(self, domain: Domain, samples: np.ndarray, weights: np.ndarray) -> None:
        self.domain = domain
        self.samples = np.asarray(samples, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float64)
        self.weights = w if w.sum() > 0 else np.ones_like(w)

    @property
    def probabilities(self) -> np.ndarray:
        """Sampling probability of each pool row."""
        return self.weights / self.weights.sum()

    def sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """``n`` rows drawn from the pool in proportion to the weights."""
        idx = rng.choice(len(self.samples), size=n, p=self.probabilities)
        return TableCodec(self.domain).decode(self.samples[idx], rng)

    def project(self, clique: tuple[str, ...]) -> np.ndarray:
        """The pool's weighted marginal (probabilities) over the discretised ``clique``."""
        disc = Discretizer(self.domain)
        codes = np.rint(self.samples).astype(np.int64)
        cols = [self.domain.names.index(a) for a in clique]
        shape = tuple(disc.sizes[a] for a in clique)
        flat = np.ravel_multi_index(tuple(codes[:, j] for j in cols), shape)
        counts = np.bincount(flat, weights=self.probabilities, minlength=int(np.prod(shape)))
        return counts.reshape(shape)


@register("pe")
class PE(Synthesizer):
    """Private Evolution for tables (Lin et al. 2024; Tab-PE 2026).

    Args:
        rounds: Number of DP vote histograms T (each one charged).
        population_size: Candidates per round M. Each candidate should expect many more
            votes than the noise σ, so M ≈ n / (10 σ) is a reasonable start.
        sample_rounds: Rounds selecting in sample mode before switching to rank mode.
        degree_start: Cell mutation rate after the first round (decays geometrically).
        degree_end: Cell mutation rate by the last round.
        keep_fraction: Share of candidates kept unchanged in rank mode.
        threshold: Noisy counts below ``threshold · σ`` are zeroed.
        categorical_scale: Weight of one-hot categorical columns in the embedding.
        numeric_onehot: Weight of the one-hot bin vector added to each numeric column's
            min-max value in the embedding (0: min-max only).
        missing_rate: Rate at which the APIs make nullable numeric cells missing.
        crossover: Per-cell probability that a variation copies the cell from another
            selected candidate (uniform crossover) before mutating.
        random_state: Seed for tests and research only (the report then says not for release).
    """

    def __init__(
        self,
        *,
        rounds: int = 10,
        population_size: int = 3000,
        sample_rounds: int = 3,
        degree_start: float = 0.5,
        degree_end: float = 0.1,
        keep_fraction: float = 0.5,
        threshold: float = 1.0,
        categorical_scale: float = 0.7071067811865476,
        numeric_onehot: float = 0.7,
        missing_rate: float = 0.1,
        crossover: float = 0.5,
        random_state: RandomState = None,
    ) -> None:
        super().__init__(random_state=random_state)
        self.rounds = rounds
        self.population_size = population_size
        self.sample_rounds = sample_rounds
        self.degree_start = degree_start
        self.degree_end = degree_end
        self.keep_fraction = keep_fraction
        self.threshold = threshold
        self.categorical_scale = categorical_scale
        self.numeric_onehot = numeric_onehot
        self.missing_rate = missing_rate
        self.crossover = crossover

    def _validate_params(self) -> None:
        super()._validate_params()
        check_int(self.rounds, "rounds", "PE")
        check_int(self.population_size, "population_size", "PE", minimum=2)
        check_int(self.sample_rounds, "sample_rounds", "PE", minimum=0)
        check_positive(self.threshold, "threshold", "PE", allow_zero=True)
        check_positive(self.categorical_scale, "categorical_scale", "PE")
        check_positive(self.numeric_onehot, "numeric_onehot", "PE", allow_zero=True)
        for name in ("degree_start", "degree_end"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 < v <= 1.0:
                raise InvalidParameterError(f"The {name!r} parameter of PE must be in (0, 1]. Got {v!r} instead.")
        if not (isinstance(self.keep_fraction, int | float) and 0.0 < self.keep_fraction < 1.0):
            raise InvalidParameterError(
                f"The 'keep_fraction' parameter of PE must be in (0, 1). Got {self.keep_fraction!r} instead."
            )
        if not (isinstance(self.crossover, int | float) and 0.0 <= self.crossover <= 1.0):
            raise InvalidParameterError(
                f"The 'crossover' parameter of PE must be in [0, 1]. Got {self.crossover!r} instead."
            )
        if not (isinstance(self.missing_rate, int | float) and 0.0 <= self.missing_rate < 1.0):
            raise InvalidParameterError(
                f"The 'missing_rate' parameter of PE must be in [0, 1). Got {self.missing_rate!r} instead."
            )

    def _check_domain(self, data: PrivateData) -> None:
        TableCodec(data.domain)  # a schema the random API cannot draw from fails before any charge

    def _fit(self, data: PrivateData) -> None:
        rho = data.rho_left("pe")
        sigma = sigma_for_rho(rho, self.rounds)
        embedding = TabularEmbedding(
            data.domain, categorical_scale=float(self.categorical_scale), numeric_onehot=float(self.numeric_onehot)
        )
        api = TabularAPI(data.domain, missing_rate=float(self.missing_rate), crossover=float(self.crossover))
        histogram = NearestNeighbourHistogram(data, embedding, sigma=sigma, threshold=self.threshold, step="pe.votes")
        population = Population(
            sample_rounds=self.sample_rounds,
            degree_start=float(self.degree_start),
            degree_end=float(self.degree_end),
            keep_fraction=float(self.keep_fraction),
        )
        runner = PrivateEvolution(api, embedding, histogram, population)
        # Post-processing randomness (API calls, selection) from its own stream.
        rng = make_rng(None if self.random_state is None else int(make_rng(self.random_state).integers(2**63)) + 1)
        result = runner.run(rounds=self.rounds, population_size=self.population_size, rng=rng,
                            description="PE rounds")
        self.model_ = PopulationModel(data.domain, result.samples, result.weights)
        self.sigma_ = sigma
        self.n_estimate_ = result.total

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        return self.model_.sample(n, rng)

    def _row_estimate(self) -> int | None:
        # The last histogram's noisy votes sum to a DP estimate of n (post-processing).
        return None if self.n_estimate_ is None else max(1, round(self.n_estimate_))

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {"sigma": self.sigma_, "n_estimate": self.n_estimate_}
        return state, {"samples": self.model_.samples, "weights": self.model_.weights}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.sigma_ = float(state["sigma"])
        self.n_estimate_ = state.get("n_estimate")
        self.model_ = PopulationModel(self.domain_, arrays["samples"], arrays["weights"])

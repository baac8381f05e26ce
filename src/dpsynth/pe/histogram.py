"""The Histogram role: the only part of Private Evolution that reads private data.

:class:`NearestNeighbourHistogram` is PE's DP_NN_HISTOGRAM (Lin et al., ICLR 2024, Alg. 2):
every private record votes for its nearest candidate in the embedding space, the votes
get Gaussian noise, and counts below a threshold are zeroed. It reads private rows only
through :meth:`~dpsynth.data.private.PrivateData.nearest_neighbour_votes`, which charges
the fit's accountant before computing anything; one call per round.

:class:`RFFHistogram` is the alternative of Backurs, Lin, Mahabadi, Silwal and Tarnawski
(ICLR 2024, "Efficiently Computing Similarities to Private Datasets"): release once a noisy
random-Fourier-feature sketch of the private embeddings; every later round scores candidates
by the kernel density the sketch implies, at no further privacy cost.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError, check_positive
from dpsynth.pe._votes import check_candidates
from dpsynth.pe.embedding import Embedding


@dataclass(frozen=True)
class Votes:
    """A DP histogram over candidates, after post-processing.

    Attributes:
        weights: Non-negative selection weights, one per candidate (thresholded noisy votes).
        noisy: The noisy scores before thresholding (a DP release).
        total: A DP estimate of the number of records that voted, when the histogram gives one.
    """

    weights: np.ndarray
    noisy: np.ndarray
    total: float | None = None


class Histogram(ABC):
    """Scores candidates by their closeness to the private data, with DP."""

    @abstractmethod
    def votes(self, candidates: np.ndarray, *, groups: np.ndarray | None, round: int) -> Votes:
        """A DP histogram over the embedded ``candidates`` (one call per PE round).

        Args:
            candidates: (n_candidates, dim) embedded candidates.
            groups: The class label of each candidate, for per-class votes; or None.
            round: The round number (0-based), for the ledger.
        """

    @staticmethod
    def releases(rounds: int) -> int:
        """How many private releases ``rounds`` PE rounds make (to calibrate the noise)."""
        return rounds


def threshold_counts(noisy: np.ndarray, cutoff: float) -> np.ndarray:
    """Zero the scores below ``cutoff`` (PE's threshold H, Lin et al. 2024, Alg. 2 line 6)."""
    out = np.asarray(noisy, dtype=np.float64).copy()
    out[out < cutoff] = 0.0
    return out


class NearestNeighbourHistogram(Histogram):
    """PE's noisy nearest-neighbour vote histogram.

    Privacy:
        One round: add/remove one record changes one vote (L2 sensitivity 1); discrete
        Gaussian noise σ; charged as one ``GaussianMechanism(σ, 1)`` per round through
        ``PrivateData.nearest_neighbour_votes``. T rounds are μ-GDP with μ = √T/σ.

    Args:
        data: The private data, bound to the fit.
        embedding: Maps private rows to the candidates' embedding space.
        sigma: Noise standard deviation of each round's histogram.
        threshold: Counts below ``threshold · sigma`` are zeroed (post-processing).
        step: Ledger name of the step (e.g. ``"pe.votes"``).
        group_column: A categorical column for per-class votes; the API's ``labels`` give
            the candidates' classes.
    """

    def __init__(
        self,
        data: PrivateData,
        embedding: Embedding,
        *,
        sigma: float,
        threshold: float = 0.0,
        step: str = "pe.votes",
        group_column: str | None = None,
    ) -> None:
        if not isinstance(data, PrivateData):
            raise InvalidParameterError(f"The histogram needs a PrivateData. Got {type(data).__name__}.")
        self.data = data
        self.embedding = embedding
        self.sigma = check_positive(sigma, "sigma", "NearestNeighbourHistogram")
        self.threshold = check_positive(threshold, "threshold", "NearestNeighbourHistogram", allow_zero=True)
        self.step = step
        self.group_column = group_column

    def votes(self, candidates: np.ndarray, *, groups: np.ndarray | None, round: int) -> Votes:  # noqa: D102
        cand = check_candidates(candidates, self.embedding.dim)
        if (groups is None) != (self.group_column is None):
            raise InvalidParameterError(
                "Per-class votes need both a group_column and candidate labels from the API's labels()."
            )
        noisy = self.data.nearest_neighbour_votes(
            self.embedding.embed_frame,
            cand,
            sigma=self.sigma,
            step=self.step,
            candidate_groups=groups,
            group_column=self.group_column,
        )
        return Votes(threshold_counts(noisy, self.threshold * self.sigma), noisy, float(noisy.sum()))


class RandomFourierFeatures:
    """φ(x) = √(2/D) cos(xW + b), W ~ N(0, 1/h²), b ~ U(0, 2π) (Rahimi & Recht 2007).

    ⟨φ(x), φ(y)⟩ is an unbiased estimate of the Gaussian kernel exp(−‖x − y‖²/(2h²)), and
    ‖φ(x)‖₂ ≤ √2 for every x, which bounds the sensitivity of a sum of features.

    Args:
        embedding: The embedding applied first (to private rows, via ``embed_frame``).
        n_features: D.
        bandwidth: h.
        rng: Draws W and b (public randomness, independent of the data).
    """

    norm_bound = math.sqrt(2.0)

    def __init__(self, embedding: Embedding, n_features: int, bandwidth: float, rng: np.random.Generator) -> None:
        self.embedding = embedding
        self.dim = int(n_features)
        self.bandwidth = check_positive(bandwidth, "bandwidth", "RandomFourierFeatures")
        self.w = rng.normal(0.0, 1.0 / self.bandwidth, size=(embedding.dim, self.dim))
        self.b = rng.uniform(0.0, 2 * math.pi, size=self.dim)

    def map(self, points: np.ndarray) -> np.ndarray:
        """Features of embedded points."""
        return math.sqrt(2.0 / self.dim) * np.cos(np.asarray(points) @ self.w + self.b)

    def __call__(self, frame: object) -> np.ndarray:
        """Features of a block of private rows (called inside ``PrivateData.feature_sums``)."""
        return self.map(self.embedding.embed_frame(frame))  # type: ignore[arg-type]


class RFFHistogram(Histogram):
    """Kernel-density scores from a noisy random-Fourier-feature sketch, released once.

    Backurs, Lin, Mahabadi, Silwal, Tarnawski (ICLR 2024): the sketch s = Σᵢ φ(xᵢ) + noise
    is released on the first round; a candidate c then scores ⟨s, φ(c)⟩ ≈ Σᵢ k(xᵢ, c), the
    private kernel density at c, for free in every later round. Selection is reweighted by
    the current population's own density: weight(c) = max(score(c) − threshold, 0) /
    Σ_{c′} k(c′, c), so that candidates in crowded regions do not all survive, and the
    resampled population follows the private density rather than the product of both.

    Privacy:
        One release for the whole run: add/remove one row changes (one group's row of) the
        sketch by φ(x), ‖φ(x)‖₂ ≤ √2 = L2 sensitivity; lattice-Gaussian noise σ per
        coordinate, charged once through ``PrivateData.feature_sums``.

    Args:
        data: The private data, bound to the fit.
        embedding: The shared embedding.
        sigma: Noise standard deviation per sketch coordinate.
        n_features: Number of random features D.
        bandwidth: Kernel bandwidth h in the embedding space.
        rng: Draws the random features (public randomness).
        threshold: Scores below ``threshold · sigma`` are zeroed.
        step: Ledger name of the release.
        group_column: A categorical column for per-class sketches.
        groups: The class labels, in the order of the sketch's rows (with ``group_column``).
    """

    def __init__(
        self,
        data: PrivateData,
        embedding: Embedding,
        *,
        sigma: float,
        n_features: int = 2000,
        bandwidth: float = 1.0,
        rng: np.random.Generator,
        threshold: float = 0.0,
        step: str = "pe.rff_sketch",
        group_column: str | None = None,
        groups: list[str] | None = None,
    ) -> None:
        if not isinstance(data, PrivateData):
            raise InvalidParameterError(f"The histogram needs a PrivateData. Got {type(data).__name__}.")
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise InvalidParameterError(f"n_features must be an integer >= 1. Got {n_features!r}.")
        self.data = data
        self.embedding = embedding
        self.sigma = check_positive(sigma, "sigma", "RFFHistogram")
        self.threshold = check_positive(threshold, "threshold", "RFFHistogram", allow_zero=True)
        self.features = RandomFourierFeatures(embedding, n_features, bandwidth, rng)
        self.step = step
        self.group_column = group_column
        self.groups = None if groups is None else [str(g) for g in groups]
        self.sketch_: np.ndarray | None = None

    @staticmethod
    def releases(rounds: int) -> int:  # noqa: D102
        return 1

    @staticmethod
    def sensitivity() -> float:
        """L2 sensitivity of the sketch (the feature map's norm bound)."""
        return RandomFourierFeatures.norm_bound

    @staticmethod
    def sigma_for_rho(rho: float, n_features: int, n_groups: int = 1) -> float:
        """The σ whose single sketch release costs at most ρ, lattice snapping included.

        A real-valued release is charged at sensitivity Δ + γ(σ)·√d (see
        :class:`~dpsynth.privacy.GaussianMechanism`), γ(σ) ≤ σ·2⁻²⁰ the lattice step.
        """
        check_positive(rho, "rho", "RFFHistogram.sigma_for_rho")
        from dpsynth.privacy import GaussianMechanism, NoiseSource

        delta = RandomFourierFeatures.norm_bound
        dim = n_features * n_groups
        sigma = delta / math.sqrt(2.0 * rho)
        # Fixed point of σ = (Δ + γ(σ)·√d)/√(2ρ); γ is a power of two, so this settles fast.
        for _ in range(60):
            sigma = (delta + NoiseSource.lattice_granularity(sigma) * math.sqrt(dim)) / math.sqrt(2.0 * rho)
            sigma *= 1.0 + 1e-9
            if GaussianMechanism(sigma=sigma, sensitivity=delta, integer=False, dim=dim).rho <= rho:
                return sigma
        raise InvalidParameterError("Could not calibrate the sketch's noise; use fewer random features.")

    def votes(self, candidates: np.ndarray, *, groups: np.ndarray | None, round: int) -> Votes:  # noqa: D102
        cand = check_candidates(candidates, self.embedding.dim)
        if (groups is None) != (self.group_column is None):
            raise InvalidParameterError("Per-class sketches need both a group_column and candidate labels.")
        if self.sketch_ is None:
            self.sketch_ = self.data.feature_sums(
                self.features, norm_bound=self.features.norm_bound, sigma=self.sigma, step=self.step,
                groups=self.groups, group_column=self.group_column,
            )
        phi = self.features.map(cand)
        if groups is None:
            rows = np.zeros(len(cand), dtype=np.int64)
            members = [np.arange(len(cand))]
        else:
            assert self.groups is not None
            index = {g: i for i, g in enumerate(self.groups)}
            labels = np.asarray(groups).astype(str)
            rows = np.array([index.get(g, -1) for g in labels])
            if (rows < 0).any():
                raise InvalidParameterError("A candidate's class is not among the sketch's groups.")
            members = [np.flatnonzero(rows == r) for r in np.unique(rows)]
        noisy = np.einsum("ij,ij->i", phi, self.sketch_[rows])  # ⟨s_g, φ(c)⟩ ≈ private density at c
        private = threshold_counts(noisy, self.threshold * self.sigma)
        weights = np.zeros(len(cand))
        h2 = 2.0 * self.features.bandwidth**2
        for idx in members:
            pts = cand[idx]
            sq = np.einsum("ij,ij->i", pts, pts)
            d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * pts @ pts.T, 0.0)
            own = np.exp(-d2 / h2).sum(axis=1)  # the population's density at each candidate (≥ 1)
            weights[idx] = private[idx] / own
        return Votes(weights, noisy, None)

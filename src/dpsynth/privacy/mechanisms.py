"""Noise-adding mechanisms.

A mechanism object says *what is released* (its dp-accounting event and zCDP cost) and
adds the noise. It never charges a budget by itself: the caller (``PrivateData``) charges
the fit's :class:`~dpsynth.privacy.accounting.Accountant` with the mechanism first, and
releases only if the charge went through. Sensitivities are under the add/remove-one-row
neighbouring relation.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import attr
import dp_accounting
import numpy as np

from dpsynth.errors import InvalidParameterError, check_positive
from dpsynth.privacy.random import NoiseSource


@attr.s(frozen=True, slots=True, auto_attribs=True)
class DiscreteGaussianDpEvent(dp_accounting.DpEvent):
    """Discrete Gaussian noise on an integer counting query (dp-accounting has no such event).

    Each coordinate gets independent discrete Gaussian noise of parameter ``sigma``
    (P(x) ∝ exp(−x²/(2σ²))); adding or removing one row changes at most ``shifts``
    coordinates, each by 1. Its privacy-loss distribution is the ``shifts``-fold composition
    of dp-accounting's discrete Gaussian PLD (``from_discrete_gaussian_mechanism``, shift 1),
    built by :mod:`dpsynth.privacy.accounting`; RDP accounting uses the continuous Gaussian's
    Rényi divergences, which bound the discrete ones (Canonne, Kamath, Steinke 2020,
    multivariate case).
    """

    sigma: float
    shifts: int = 1


class Mechanism(ABC):
    """What one noisy release costs and how its noise is drawn."""

    name: str = "mechanism"

    @property
    @abstractmethod
    def rho(self) -> float | None:
        """ZCDP cost of one release (Bun & Steinke 2016); None when it has no useful zCDP bound."""

    @property
    def event(self) -> dp_accounting.DpEvent | None:
        """The dp-accounting event describing the release (None if it has no such event)."""
        return None

    @property
    def mu(self) -> float | None:
        """Gaussian-DP parameter of one release, where the release is exactly μ-GDP (else None).

        None for every mechanism here: the discrete and lattice Gaussians are not exactly
        μ-GDP at μ = Δ/σ (at σ = 2, Δ = 1 the discrete Gaussian's ε at δ = 1e-5 is 2.011, the
        Gaussian's 1.993). The privacy report derives its f-DP figures from the exact
        privacy-loss distribution of each release instead.
        """
        return None

    @property
    def noise_scale(self) -> float:
        """The scale of the noise (sigma, or the Laplace scale), for the ledger."""
        return float("nan")

    def describe(self) -> str:
        """A one-line description for the ledger (never includes data)."""
        return self.name


@dataclass(frozen=True)
class GaussianMechanism(Mechanism):
    """Add Gaussian noise of standard deviation ``sigma`` to a vector query.

    With ``integer=True`` the query must be integer-valued (counts) and the noise is the
    discrete Gaussian on the integers; otherwise the query is snapped to a power-of-two
    lattice and lattice-valued Gaussian noise is added (see :mod:`dpsynth.privacy.random`).

    Privacy:
        Add/remove one row; L2 sensitivity ``sensitivity`` (Δ). ρ = Δ²/(2σ²)-zCDP for both
        noises, which is what the accountant composes (Canonne, Kamath, Steinke 2020,
        multivariate case: the discrete Gaussian has the continuous Gaussian's Rényi divergences at
        most). Neither noise is exactly μ-GDP at μ = Δ/σ, so ``mu`` is None.

        Integer queries are counting queries: a row changes each coordinate by 0 or 1, so
        at most h = ⌈Δ²⌉ coordinates. The exact privacy-loss distribution is then the h-fold
        composition of the discrete Gaussian's with shift 1 (dp-accounting's, pessimistic
        rounding on its grid, noise truncated where its mass is below 1e-30).
        Event: :class:`DiscreteGaussianDpEvent` ``(σ, h)``.

        Real-valued queries: the lattice snapping moves each coordinate by at most half a
        lattice step, so Δ is charged as Δ + γ·√d (γ the step, d the dimension): the
        increase is below 10⁻⁵·σ·√d and is counted, not ignored. A neighbour's shift on the
        lattice can take many shapes, for which no exact privacy-loss distribution is
        computed here: the release has zCDP accounting only (``event`` is None), so a fit
        that uses it reports no f-DP curve and cannot be composed with subsampled steps.

    Args:
        sigma: Noise standard deviation.
        sensitivity: L2 sensitivity of the query.
        integer: Whether the query is integer-valued (use the discrete Gaussian).
        dim: Dimension of the query (used to charge the lattice snapping of real queries).
    """

    sigma: float
    sensitivity: float = 1.0
    integer: bool = True
    dim: int = 1
    name: str = "gaussian"

    def __post_init__(self) -> None:
        check_positive(self.sigma, "sigma", "GaussianMechanism")
        check_positive(self.sensitivity, "sensitivity", "GaussianMechanism")
        if self.dim < 1:
            raise InvalidParameterError(f"GaussianMechanism needs dim >= 1. Got {self.dim}.")

    @property
    def effective_sensitivity(self) -> float:
        """Sensitivity actually charged (includes lattice snapping for real-valued queries)."""
        if self.integer:
            return self.sensitivity
        return self.sensitivity + NoiseSource.lattice_granularity(self.sigma) * math.sqrt(self.dim)

    @property
    def rho(self) -> float:  # noqa: D102
        return self.effective_sensitivity**2 / (2.0 * self.sigma**2)

    @property
    def shifts(self) -> int:
        """Most coordinates one row changes (by 1 each) in an integer counting query: ⌈Δ²⌉."""
        return max(1, math.ceil(self.sensitivity**2 - 1e-9))

    @property
    def event(self) -> dp_accounting.DpEvent | None:  # noqa: D102
        if not self.integer:
            return None
        return DiscreteGaussianDpEvent(sigma=float(self.sigma), shifts=self.shifts)

    @property
    def noise_scale(self) -> float:  # noqa: D102
        return self.sigma

    def describe(self) -> str:  # noqa: D102
        kind = "discrete Gaussian" if self.integer else "lattice Gaussian"
        return f"{kind}, sigma={self.sigma:.4g}, L2 sensitivity={self.sensitivity:g}"

    def release(self, values: np.ndarray, noise: NoiseSource) -> np.ndarray:
        """Return ``values`` plus noise (float64 array of the same shape)."""
        values = np.asarray(values, dtype=np.float64)
        if self.integer:
            if not np.all(values == np.round(values)):
                raise InvalidParameterError("The discrete Gaussian needs an integer-valued query.")
            return values + noise.discrete_gaussian(self.sigma, values.shape)
        gamma = NoiseSource.lattice_granularity(self.sigma)
        return np.round(values / gamma) * gamma + noise.gaussian(self.sigma, values.shape)


def _log_weights_from(sigma: float, start: int) -> float:
    """The log of Σ_{x ≥ start} exp(−x²/(2σ²)) for start ≥ 0, summed in blocks in log space."""
    total = -math.inf
    block = 1 << 16
    x0 = start
    while True:
        x = np.arange(x0, x0 + block, dtype=np.float64)
        logw = -(x * x) / (2.0 * sigma * sigma)
        total = float(np.logaddexp(total, np.logaddexp.reduce(logw)))
        # Every later term is below exp(logw[-1]) and they shrink geometrically by at least
        # exp(−x/σ²): stop once what is left cannot move the sum in double precision.
        last = float(logw[-1])
        ratio = -(x0 + block) / (sigma * sigma)  # log of the decay factor of the next terms
        rest = last + ratio - math.log1p(-math.exp(ratio)) if ratio < 0 else math.inf
        if rest < total - 60.0:
            return total
        x0 += block


def discrete_gaussian_tail(sigma: float, k: int) -> float:
    """P(Z ≥ k) for Z discrete Gaussian with parameter σ (P(x) ∝ exp(−x²/(2σ²)) on the integers).

    Exact up to double-precision round-off: the mass function is summed, never replaced by
    the continuous Gaussian's tail (which is smaller or larger depending on σ and k). This
    is the distribution :meth:`~dpsynth.privacy.random.NoiseSource.discrete_gaussian` draws.

    Args:
        sigma: The discrete Gaussian's parameter σ > 0.
        k: An integer.
    """
    check_positive(sigma, "sigma", "discrete_gaussian_tail")
    k = int(k)
    log_half = _log_weights_from(sigma, 1)  # Σ_{x ≥ 1}; the mass function is symmetric
    log_norm = float(np.logaddexp(0.0, math.log(2.0) + log_half))
    if k >= 1:
        return math.exp(_log_weights_from(sigma, k) - log_norm)
    # P(Z ≥ k) = 1 − P(Z ≤ k − 1) = 1 − P(Z ≥ 1 − k), with 1 − k ≥ 1.
    return -math.expm1(_log_weights_from(sigma, 1 - k) - log_norm)


def discrete_gaussian_threshold(sigma: float, delta: float) -> int:
    """The smallest integer k with P(Z ≥ k) ≤ ``delta``, Z discrete Gaussian with parameter σ.

    Thresholded histograms use it: a value held by one row has noisy count 1 + Z, which
    exceeds the threshold τ = k (integer counts: 1 + Z > k ⇔ Z ≥ k) with probability at most
    δ, exactly.
    """
    check_positive(sigma, "sigma", "discrete_gaussian_threshold")
    if not 0.0 < delta < 1.0:
        raise InvalidParameterError(f"discrete_gaussian_threshold needs 0 < delta < 1. Got {delta!r}.")
    # Bracket with the continuous tail, then step to the exact answer.
    from scipy import stats

    k = max(1, math.floor(sigma * float(stats.norm.isf(delta))) - 2)
    while discrete_gaussian_tail(sigma, k) > delta:
        k += 1
    while k > 1 and discrete_gaussian_tail(sigma, k - 1) <= delta:
        k -= 1
    return k


@dataclass(frozen=True)
class LaplaceMechanism(Mechanism):
    """Add Laplace noise of scale ``scale`` to a vector query.

    Privacy:
        Add/remove one row; L1 sensitivity Δ. Pure ε-DP with ε = Δ/scale, hence
        ε²/2-zCDP. Integer queries get discrete Laplace noise (exact); real-valued queries
        are snapped to a lattice, charged as in :class:`GaussianMechanism` (Δ + γ·d).
        Event: ``LaplaceDpEvent(scale / Δ)``.

    Args:
        scale: Laplace scale b.
        sensitivity: L1 sensitivity of the query.
        integer: Whether the query is integer-valued.
        dim: Dimension of the query.
    """

    scale: float
    sensitivity: float = 1.0
    integer: bool = True
    dim: int = 1
    name: str = "laplace"

    def __post_init__(self) -> None:
        check_positive(self.scale, "scale", "LaplaceMechanism")
        check_positive(self.sensitivity, "sensitivity", "LaplaceMechanism")

    @property
    def effective_sensitivity(self) -> float:
        """Sensitivity actually charged (includes lattice snapping for real-valued queries)."""
        if self.integer:
            return self.sensitivity
        return self.sensitivity + NoiseSource.lattice_granularity(self.scale) * self.dim

    @property
    def epsilon(self) -> float:
        """Pure-DP ε of one release."""
        return self.effective_sensitivity / self.scale

    @property
    def rho(self) -> float:  # noqa: D102
        return self.epsilon**2 / 2.0

    @property
    def event(self) -> dp_accounting.DpEvent:  # noqa: D102
        return dp_accounting.LaplaceDpEvent(
            noise_multiplier=self.scale / self.effective_sensitivity
        )

    @property
    def noise_scale(self) -> float:  # noqa: D102
        return self.scale

    def describe(self) -> str:  # noqa: D102
        return f"Laplace, scale={self.scale:.4g}, L1 sensitivity={self.sensitivity:g}"

    def release(self, values: np.ndarray, noise: NoiseSource) -> np.ndarray:
        """Return ``values`` plus Laplace noise."""
        values = np.asarray(values, dtype=np.float64)
        if self.integer:
            if not np.all(values == np.round(values)):
                raise InvalidParameterError("The discrete Laplace needs an integer-valued query.")
            return values + noise.discrete_laplace(self.scale, values.shape)
        gamma = NoiseSource.lattice_granularity(self.scale)
        return np.round(values / gamma) * gamma + noise.laplace(self.scale, values.shape)


@dataclass(frozen=True)
class ExponentialMechanism(Mechanism):
    """Select one candidate with probability proportional to exp(ε·q / (2Δ)).

    Implemented as report-noisy-max with Gumbel noise, which has exactly that distribution.

    Privacy:
        Add/remove one row; each score changes by at most Δ (``sensitivity``). ε-DP and,
        being bounded-range, ε²/8-zCDP (Cesar & Rogers 2021), which is what AIM charges.

    Args:
        epsilon: The ε of one selection.
        sensitivity: Sensitivity of each quality score.
    """

    epsilon: float
    sensitivity: float = 1.0
    name: str = "exponential"

    def __post_init__(self) -> None:
        check_positive(self.epsilon, "epsilon", "ExponentialMechanism")
        check_positive(self.sensitivity, "sensitivity", "ExponentialMechanism")

    @classmethod
    def from_rho(cls, rho: float, sensitivity: float = 1.0) -> ExponentialMechanism:
        """The exponential mechanism whose zCDP cost is ``rho`` (ε = √(8ρ))."""
        return cls(
            epsilon=math.sqrt(8.0 * check_positive(rho, "rho", "ExponentialMechanism")),
            sensitivity=sensitivity,
        )

    @property
    def rho(self) -> float:  # noqa: D102
        return self.epsilon**2 / 8.0

    @property
    def noise_scale(self) -> float:  # noqa: D102
        return 2.0 * self.sensitivity / self.epsilon

    def describe(self) -> str:  # noqa: D102
        return (
            f"exponential mechanism, epsilon={self.epsilon:.4g}, sensitivity={self.sensitivity:g}"
        )

    def select(self, scores: np.ndarray, noise: NoiseSource) -> int:
        """Return the index of the selected candidate.

        A score of ``-inf`` marks a candidate that may not be selected (one outside a
        public, data-independent restriction, such as AIM's model-size limit): it gets
        probability 0, and the others are chosen as among themselves alone. One Gumbel is
        drawn per candidate either way.
        """
        scores = np.asarray(scores, dtype=np.float64).ravel()
        if scores.size == 0:
            raise InvalidParameterError("The exponential mechanism needs at least one candidate.")
        if np.any(np.isnan(scores)) or np.any(scores == np.inf):
            raise InvalidParameterError("The exponential mechanism's scores must be finite (or -inf: excluded).")
        if not np.any(np.isfinite(scores)):
            raise InvalidParameterError("The exponential mechanism has no candidate left to select (all excluded).")
        logits = self.epsilon * scores / (2.0 * self.sensitivity)
        return int(np.argmax(logits + noise.gumbel(scores.size)))

    def select_lazy(
        self, upper: np.ndarray, score: Callable[[int], float], noise: NoiseSource
    ) -> tuple[int, int]:
        """:meth:`select` computing only the scores that could win; same noise, same answer.

        Draws the same Gumbel noise g as :meth:`select` (one per candidate, in order) and
        returns the argmax of ε·q_r/(2Δ) + g_r, evaluating ``score(r)`` = q_r in decreasing
        order of the bound ε·u_r/(2Δ) + g_r and stopping once the best exact value exceeds
        every bound left: a candidate not evaluated has q_r ≤ u_r, so it cannot win (nor
        tie: ties go to the lowest index, as ``np.argmax``). Floating-point rounding is
        monotone, so the rounded bounds still dominate the rounded logits. If a score
        exceeds its bound (a wrong bound), every remaining candidate is evaluated, so the
        answer is that of :meth:`select` whatever the bounds. A score of ``-inf`` excludes
        its candidate, as in :meth:`select`.

        Args:
            upper: An upper bound u_r ≥ q_r per candidate (``inf`` where none is known).
            score: The exact score of a candidate, by index.
            noise: The noise source (advanced exactly as :meth:`select` would).

        Returns:
            The selected index and the number of scores evaluated.
        """
        upper = np.asarray(upper, dtype=np.float64).ravel()
        if upper.size == 0:
            raise InvalidParameterError("The exponential mechanism needs at least one candidate.")
        if np.any(np.isnan(upper)):
            raise InvalidParameterError("The exponential mechanism's score bounds must not be NaN.")
        g = noise.gumbel(upper.size)
        bound = self.epsilon * upper / (2.0 * self.sensitivity) + g
        order = np.argsort(-bound, kind="stable")
        best = -math.inf
        best_i = -1
        evaluated = 0
        trusted = True
        for i in order:
            if trusted and bound[i] < best:
                break
            q = np.array([score(int(i))], dtype=np.float64)
            evaluated += 1
            if np.isnan(q[0]) or q[0] == np.inf:
                raise InvalidParameterError("The exponential mechanism's scores must be finite (or -inf: excluded).")
            if q[0] == -np.inf:
                continue
            if q[0] > upper[i]:
                trusted = False
            logit = float((self.epsilon * q / (2.0 * self.sensitivity) + g[i : i + 1])[0])
            if logit > best or (logit == best and i < best_i):
                best, best_i = logit, int(i)
        if best_i < 0:
            raise InvalidParameterError("The exponential mechanism has no candidate left to select (all excluded).")
        return best_i, evaluated


@dataclass(frozen=True)
class SubsampledGaussianMechanism(Mechanism):
    """``steps`` Gaussian releases, each on a Poisson sample of the rows (DP-SGD's steps).

    Each step includes each row independently with probability ``sample_rate``, computes a
    sum whose per-row contribution is clipped to L2 norm ``sensitivity`` and adds Gaussian
    noise of standard deviation ``noise_multiplier · sensitivity`` (noise is added even to
    an empty batch).

    Privacy:
        Add/remove one row. Subsampling has no tight zCDP bound, so this mechanism has
        ``rho = None`` and is accounted with privacy-loss distributions (dp-accounting's PLD
        accountant, Koskela et al. / Doroshenko et al.), RDP as a cross-check.
        Event: ``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(σ)), steps)``.

    Args:
        noise_multiplier: σ, the noise standard deviation over the clipping norm.
        sample_rate: q, the Poisson sampling probability.
        steps: Number of steps T.
        sensitivity: The clipping norm (the effective sensitivity of one step's sum).
    """

    noise_multiplier: float
    sample_rate: float
    steps: int = 1
    sensitivity: float = 1.0
    name: str = "subsampled_gaussian"

    def __post_init__(self) -> None:
        check_positive(self.noise_multiplier, "noise_multiplier", "SubsampledGaussianMechanism")
        check_positive(self.sensitivity, "sensitivity", "SubsampledGaussianMechanism")
        if not (isinstance(self.sample_rate, int | float) and 0.0 < self.sample_rate <= 1.0):
            raise InvalidParameterError(
                f"The 'sample_rate' parameter of SubsampledGaussianMechanism must be in (0, 1]. "
                f"Got {self.sample_rate!r} instead."
            )
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise InvalidParameterError(
                f"The 'steps' parameter of SubsampledGaussianMechanism must be an integer >= 1. Got {self.steps!r}."
            )

    @property
    def rho(self) -> float | None:  # noqa: D102
        if self.sample_rate == 1.0:
            return self.steps / (2.0 * self.noise_multiplier**2)
        return None

    @property
    def event(self) -> dp_accounting.DpEvent:  # noqa: D102
        step = dp_accounting.GaussianDpEvent(self.noise_multiplier)
        if self.sample_rate < 1.0:
            step = dp_accounting.PoissonSampledDpEvent(self.sample_rate, step)
        return dp_accounting.SelfComposedDpEvent(step, self.steps)

    @property
    def noise_scale(self) -> float:  # noqa: D102
        return self.noise_multiplier * self.sensitivity

    def describe(self) -> str:  # noqa: D102
        return (
            f"Poisson-subsampled Gaussian, noise_multiplier={self.noise_multiplier:.4g}, "
            f"sample_rate={self.sample_rate:.4g}, steps={self.steps}"
        )

"""Frequency estimation over several attributes per user under ε-LDP.

Three ways for a user with d attributes to spend one ε (Arcolezi et al., "Random Sampling
Plus Fake Data", CIKM 2021, and Arcolezi's thesis, ch. 3):

* :class:`SPL` — *split*: report every attribute with ε/d (sequential composition).
* :class:`SMP` — *sample*: report one uniformly sampled attribute with the whole ε, and say
  which one.
* :class:`RSFD` — *random sampling plus fake data*: report a sampled attribute with an
  amplified ε' = ln(d·(e^ε − 1) + 1), and uniformly random fake values for all the others,
  so the server does not learn which attribute is real.

Privacy:
    Each user's whole report (all its parts) is ε-LDP for any two of that user's tuples
    (checked exactly on small domains in the tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dpsynth.errors import InvalidDataError, InvalidParameterError
from dpsynth.ldp.oracles import (
    GRR,
    FrequencyEstimate,
    FrequencyOracle,
    _check_eps,
    _uniform_ints,
    check_values,
    grr_perturb,
    make_oracle,
    ue_perturb,
)
from dpsynth.privacy.random import NoiseSource, RandomState


def _check_sizes(sizes: Sequence[int], owner: str) -> tuple[int, ...]:
    if isinstance(sizes, str | bytes) or len(sizes) < 1:
        raise InvalidParameterError(f"The 'sizes' parameter of {owner} must list each attribute's number of values.")
    out = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 2:
            raise InvalidParameterError(f"Every attribute size of {owner} must be an integer >= 2. Got {s!r}.")
        out.append(int(s))
    return tuple(out)


def check_table(values: object, sizes: Sequence[int], owner: str) -> np.ndarray:
    """An (n, d) int64 code matrix valid for ``sizes``, or one error listing every bad column."""
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[1] != len(sizes):
        raise InvalidDataError(f"{owner} needs an (n, {len(sizes)}) matrix of codes. Got shape {arr.shape}.")
    problems = []
    cols = []
    for j, k in enumerate(sizes):
        try:
            cols.append(check_values(arr[:, j], k, f"{owner} attribute {j}"))
        except InvalidDataError as exc:
            problems.append(exc.problems[0])
    if problems:
        raise InvalidDataError(problems, hint="Encode every attribute as its code in the public domain.")
    return np.column_stack(cols) if cols else np.zeros((arr.shape[0], 0), dtype=np.int64)


@dataclass(frozen=True)
class SPL:
    """Split the budget: each attribute is reported with ``oracle`` at ε/d.

    Args:
        sizes: Number of values of each attribute.
        epsilon: ε of the whole report.
        oracle: A frequency-oracle name (grr, oue, sue, olh, hr, adaptive).
    """

    sizes: tuple[int, ...]
    epsilon: float
    oracle: str = "adaptive"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", _check_sizes(self.sizes, "SPL"))
        object.__setattr__(self, "epsilon", _check_eps(self.epsilon, "SPL"))
        self.oracles  # noqa: B018 - validates the oracle name

    @property
    def oracles(self) -> list[FrequencyOracle]:
        """One oracle per attribute, each at ε/d."""
        d = len(self.sizes)
        return [make_oracle(self.oracle, k, self.epsilon / d) for k in self.sizes]

    def randomize(self, values: object, *, random_state: RandomState = None) -> list[np.ndarray]:
        """Client side: one report per attribute per user (list of d report arrays)."""
        x = check_table(values, self.sizes, "SPL")
        noise = NoiseSource(random_state)
        return [o._randomize(x[:, j], noise) for j, o in enumerate(self.oracles)]

    def estimate(self, reports: Sequence[np.ndarray]) -> list[FrequencyEstimate]:
        """Server side: one estimate per attribute."""
        if len(reports) != len(self.sizes):
            raise InvalidDataError(f"SPL needs {len(self.sizes)} report arrays. Got {len(reports)}.")
        return [o.estimate(r) for o, r in zip(self.oracles, reports, strict=True)]

    def variance(self, n: int, j: int, f: np.ndarray | float = 0.0) -> np.ndarray:
        """Analytical variance for attribute ``j``."""
        return self.oracles[j].variance(n, f)


@dataclass(frozen=True)
class SMPReports:
    """What SMP users send: which attribute each one sampled, and the reports per attribute.

    ``reports[j]`` holds, in user order, the reports of the users with ``choice == j``.
    """

    choice: np.ndarray
    reports: list[np.ndarray]


@dataclass(frozen=True)
class SMP:
    """Sample one attribute uniformly per user and report it with ``oracle`` at the whole ε."""

    sizes: tuple[int, ...]
    epsilon: float
    oracle: str = "adaptive"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", _check_sizes(self.sizes, "SMP"))
        object.__setattr__(self, "epsilon", _check_eps(self.epsilon, "SMP"))
        self.oracles  # noqa: B018

    @property
    def oracles(self) -> list[FrequencyOracle]:
        """One oracle per attribute, each at the whole ε."""
        return [make_oracle(self.oracle, k, self.epsilon) for k in self.sizes]

    def randomize(self, values: object, *, random_state: RandomState = None) -> SMPReports:
        """Client side: each user samples an attribute and reports it (and its index)."""
        x = check_table(values, self.sizes, "SMP")
        noise = NoiseSource(random_state)
        choice = _uniform_ints(noise, len(self.sizes), x.shape[0])
        reports = [o._randomize(x[choice == j, j], noise) for j, o in enumerate(self.oracles)]
        return SMPReports(choice, reports)

    def estimate(self, reports: SMPReports) -> list[FrequencyEstimate]:
        """Server side: each attribute estimated from the users who sampled it."""
        if not isinstance(reports, SMPReports) or len(reports.reports) != len(self.sizes):
            raise InvalidDataError(f"SMP.estimate needs the SMPReports of {len(self.sizes)} attributes.")
        return [o.estimate(r) for o, r in zip(self.oracles, reports.reports, strict=True)]

    def variance(self, n: int, j: int, f: np.ndarray | float = 0.0) -> np.ndarray:
        """Analytical variance for attribute ``j`` with n/d expected reporters."""
        return self.oracles[j].variance(n / len(self.sizes), f)


@dataclass(frozen=True)
class RSFD:
    """Random sampling plus fake data (Arcolezi et al. 2021).

    Each user samples one attribute j, reports it with an ε'-LDP oracle where
    ε' = ln(d·(e^ε − 1) + 1), and for every other attribute sends fake data: a uniform
    value (``oracle="grr"``) or the unary encoding of nothing, randomised (``"oue"``: the
    OUE-z variant). Every attribute gets a report from every user.

    Privacy:
        The paper's amplification argument (Arcolezi et al. 2021, Thm. 1) bounds the
        likelihood ratio by e^ε only for two tuples that differ in *one* attribute, and
        only when all attributes have the same number of values. For a user's whole
        tuple replaced by another (the local-DP neighbouring relation used everywhere
        else here) the exact worst-case ratio is Σ_j k_j p_j / Σ_j k_j q_j (every reported
        value matching one tuple and none of the other), i.e. ``ldp_epsilon`` — for equal
        sizes exactly ε' = ln(d·(e^ε − 1) + 1), larger than ε. Charge ``ldp_epsilon``, or
        build the protocol with :meth:`calibrated` so that it equals the ε you budget.
    """

    sizes: tuple[int, ...]
    epsilon: float
    oracle: str = "grr"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", _check_sizes(self.sizes, "RSFD"))
        object.__setattr__(self, "epsilon", _check_eps(self.epsilon, "RSFD"))
        if self.oracle not in ("grr", "oue"):
            raise InvalidParameterError(f"The 'oracle' parameter of RSFD must be 'grr' or 'oue'. Got {self.oracle!r}.")

    @property
    def amplified_epsilon(self) -> float:
        """ε' = ln(d·(e^ε − 1) + 1), the ε of the sampled attribute's report."""
        return math.log(len(self.sizes) * math.expm1(self.epsilon) + 1.0)

    @property
    def ldp_epsilon(self) -> float:
        """The exact ε-LDP of a user's whole tuple (see the class docstring)."""
        num = den = 0.0
        for j, k in enumerate(self.sizes):
            p, q = self.pq(j)
            if self.oracle == "grr":
                num, den = num + k * p, den + k * q
            else:
                # P(y|x) ∝ Σ_j r_j with r_j = P(real report y_j | x_j) / P(fake report y_j):
                # at worst p/q for x against (1 − p)/(1 − q) for x', on every attribute.
                num, den = num + p * (1 - q) / ((1 - p) * q), den + 1.0
        return math.log(num / den)

    @classmethod
    def calibrated(cls, sizes: Sequence[int], epsilon: float, oracle: str = "grr") -> RSFD:
        """The RS+FD protocol whose whole-tuple guarantee ``ldp_epsilon`` is exactly ``epsilon``."""
        from scipy import optimize

        target = _check_eps(epsilon, "RSFD.calibrated")

        def gap(nominal: float) -> float:
            return cls(tuple(sizes), nominal, oracle).ldp_epsilon - target

        lo = 1e-9
        nominal = float(optimize.brentq(gap, lo, target, xtol=1e-13)) if gap(target) > 0 else target
        return cls(tuple(sizes), nominal, oracle)

    def pq(self, j: int) -> tuple[float, float]:
        """(p, q) of attribute ``j``'s ε' oracle."""
        e = math.exp(self.amplified_epsilon)
        if self.oracle == "grr":
            k = self.sizes[j]
            return e / (e + k - 1), 1.0 / (e + k - 1)
        return 0.5, 1.0 / (e + 1.0)

    def randomize(self, values: object, *, random_state: RandomState = None) -> list[np.ndarray]:
        """Client side: one report per attribute per user (the sampled one real, others fake)."""
        x = check_table(values, self.sizes, "RSFD")
        noise = NoiseSource(random_state)
        n, d = x.shape
        choice = _uniform_ints(noise, d, n)
        out = []
        for j, k in enumerate(self.sizes):
            p, q = self.pq(j)
            real = choice == j
            if self.oracle == "grr":
                rep = _uniform_ints(noise, k, n)
                rep[real] = grr_perturb(x[real, j], k, p, noise)
            else:
                rep = (noise.uniform((n, k)) < q).astype(np.uint8)
                rep[real] = ue_perturb(x[real, j], k, p, q, noise)
            out.append(rep)
        return out

    def estimate(self, reports: Sequence[np.ndarray]) -> list[FrequencyEstimate]:
        """Server side: unbiased frequencies (Arcolezi et al. 2021, Eqs. 4 and 6) with variances."""
        d = len(self.sizes)
        if len(reports) != d:
            raise InvalidDataError(f"RSFD needs {d} report arrays. Got {len(reports)}.")
        out = []
        for j, (k, rep) in enumerate(zip(self.sizes, reports, strict=True)):
            r = np.asarray(rep)
            if r.shape[0] == 0:
                raise InvalidDataError("RSFD needs at least one report to estimate from.")
            n = r.shape[0]
            p, q = self.pq(j)
            if self.oracle == "grr":
                counts = GRR(k, self.amplified_epsilon).support_counts(r)
                f = (counts * d * k - n * (d - 1 + q * k)) / (n * k * (p - q))
            else:
                if r.ndim != 2 or r.shape[1] != k:
                    raise InvalidDataError(f"RSFD[OUE] reports of attribute {j} must be (n, {k}) bits.")
                counts = r.sum(axis=0, dtype=np.float64)
                f = d * (counts / n - q) / (p - q)
            out.append(FrequencyEstimate(f, self.variance(n, j, np.clip(f, 0, 1)), n))
        return out

    def variance(self, n: int, j: int, f: np.ndarray | float = 0.0) -> np.ndarray:
        """Exact variance: d²·δ(1 − δ)/(n (p − q)²), δ the probability a report supports v."""
        d, k = len(self.sizes), self.sizes[j]
        p, q = self.pq(j)
        f = np.asarray(f, dtype=np.float64)
        if self.oracle == "grr":
            delta = (q + f * (p - q) + (d - 1) / k) / d
        else:
            delta = q + f * (p - q) / d
        return d**2 * delta * (1 - delta) / (n * (p - q) ** 2)

    def output_probabilities(self, x: Sequence[int]) -> np.ndarray:
        """Exact distribution of one user's report tuple (GRR variant, small domains only)."""
        if self.oracle != "grr" or math.prod(self.sizes) > 4096:
            raise InvalidParameterError("Exact RSFD output probabilities are enumerated for the GRR variant on small domains.")
        d = len(self.sizes)
        grids = np.meshgrid(*[np.arange(k) for k in self.sizes], indexing="ij")
        ys = [g.ravel() for g in grids]
        total = np.zeros(ys[0].size)
        for j in range(d):
            p, q = self.pq(j)
            term = np.where(ys[j] == x[j], p, q)
            for l, k in enumerate(self.sizes):
                if l != j:
                    term = term / k
            total += term / d
        return total

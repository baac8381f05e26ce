"""Frequency oracles: one categorical attribute under pure ε-local differential privacy.

Each user holds a value in ``0 … k−1`` and sends one randomised report; the server counts,
for every value v, how many reports *support* v, and inverts the randomisation. Every
oracle here is "pure" in the sense of Wang, Blocki, Li, Jha (USENIX Security 2017): a
report supports the user's true value with probability ``p`` and any other given value
with probability ``q``, so

    f̂(v) = (C(v)/n − q) / (p − q)                                 (unbiased)
    Var[f̂(v)] = q(1 − q) / (n (p − q)²) + f(v) (1 − p − q) / (n (p − q))

(Wang et al. 2017, Thm. 2). The objects are plain, frozen descriptions of a protocol: a
data collector ships ``randomize`` to the users' devices and runs ``estimate`` on what
comes back. Randomness comes from :class:`~dpsynth.privacy.NoiseSource` (``os.urandom``)
unless a seed is given, which is for tests and research only.

Privacy:
    Each report is ε-LDP: for any two inputs x, x' and any report y,
    P[y | x] ≤ e^ε · P[y | x'] (checked exactly by :meth:`FrequencyOracle.output_probabilities`
    in the tests). The neighbouring relation is *replace one user's value*; the number
    of reports is public.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from dpsynth.errors import InvalidDataError, InvalidParameterError, check_positive
from dpsynth.privacy.random import NoiseSource, RandomState

#: A Mersenne prime: local hashing uses h(x) = ((a·x + b) mod P) mod g.
HASH_PRIME = 2**31 - 1


@dataclass(frozen=True)
class FrequencyEstimate:
    """Estimated frequencies of one attribute (or one marginal, flattened).

    Attributes:
        frequencies: The unbiased estimate of each value's share (may be negative or sum
            to a little more or less than 1; see :func:`project_simplex`).
        variance: The variance of each entry, from the protocol's formula with the
            estimated frequencies plugged in (clipped to [0, 1]).
        n: The number of reports the estimate is based on.
    """

    frequencies: np.ndarray
    variance: np.ndarray
    n: int


def project_simplex(values: np.ndarray) -> np.ndarray:
    """Euclidean projection onto the probability simplex (Duchi et al. 2008, Fig. 1).

    The closest distribution in L2 to an unbiased but noisy frequency vector; it is
    post-processing and costs nothing.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise InvalidParameterError("project_simplex needs at least one value.")
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    idx = np.arange(1, v.size + 1)
    rho = int(np.nonzero(u - css / idx > 0)[0][-1])
    theta = css[rho] / (rho + 1.0)
    return np.maximum(v - theta, 0.0)


def clip_normalize(values: np.ndarray) -> np.ndarray:
    """Clip negatives to 0 and renormalise (the post-processing ``multi-freq-ldpy`` applies)."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    s = v.sum()
    return v / s if s > 0 else v


def pure_variance(p: float, q: float, n: int | float, f: np.ndarray | float = 0.0) -> np.ndarray:
    """Variance of a pure protocol's frequency estimate (Wang et al. 2017, Thm. 2)."""
    f = np.asarray(f, dtype=np.float64)
    return q * (1 - q) / (n * (p - q) ** 2) + f * (1 - p - q) / (n * (p - q))


def check_values(values: object, k: int, owner: str) -> np.ndarray:
    """Integer codes in ``[0, k)`` as an int64 array, or one clear error."""
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        raise InvalidDataError(f"{owner} needs integer values in [0, {k}).") from None
    if arr.ndim != 1:
        raise InvalidDataError(f"{owner} needs a 1-d array of values. Got shape {arr.shape}.")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            raise InvalidDataError(f"{owner} needs integer codes in [0, {k}). Got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= k):
        raise InvalidDataError(
            f"{owner} got values outside [0, {k}) (min {arr.min()}, max {arr.max()}).",
            hint="Encode each value as its code in the public domain before randomising it.",
        )
    return arr


def _check_k(k: object, owner: str, minimum: int = 2) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < minimum:
        raise InvalidParameterError(
            f"The 'k' parameter of {owner} must be an integer >= {minimum}. Got {k!r} instead."
        )
    return int(k)


def _check_eps(epsilon: object, owner: str) -> float:
    eps = check_positive(epsilon, "epsilon", owner)
    if eps > 50:
        raise InvalidParameterError(
            f"The 'epsilon' parameter of {owner} must be <= 50 (e^ε overflows the probabilities). Got {epsilon!r}."
        )
    return eps


def _uniform_ints(noise: NoiseSource, m: int | np.ndarray, size: int | tuple[int, ...]) -> np.ndarray:
    """Uniform integers in [0, m) from 53-bit uniforms (exact for m far below 2^53)."""
    out = np.floor(noise.uniform(size) * m).astype(np.int64)
    return np.minimum(out, np.asarray(m, dtype=np.int64) - 1)


class FrequencyOracle(ABC):
    """A pure ε-LDP protocol for one attribute with ``k`` values."""

    name: ClassVar[str] = "oracle"
    k: int
    epsilon: float

    @property
    @abstractmethod
    def p(self) -> float:
        """Probability that a report supports the user's own value."""

    @property
    @abstractmethod
    def q(self) -> float:
        """Probability that a report supports a given other value."""

    @abstractmethod
    def _randomize(self, x: np.ndarray, noise: NoiseSource) -> np.ndarray: ...

    @abstractmethod
    def support_counts(self, reports: np.ndarray) -> np.ndarray:
        """C(v): how many reports support each value v (server side)."""

    @abstractmethod
    def output_probabilities(self, x: int) -> np.ndarray:
        """The exact distribution of one report given input ``x``, over an enumerated output space.

        For local hashing the enumeration is over a fixed small family of hash functions
        (the hash is drawn independently of the input, so the ratio bound conditional on
        each hash is the bound).
        """

    def randomize(self, values: object, *, random_state: RandomState = None) -> np.ndarray:
        """Client side: one ε-LDP report per value (vectorised over users).

        Args:
            values: The users' codes in ``[0, k)``.
            random_state: None (cryptographically strong, the default); a seed only for
                tests and research.

        Returns:
            The reports, one row (or entry) per user, in this protocol's format.
        """
        x = check_values(values, self.k, type(self).__name__)
        return self._randomize(x, NoiseSource(random_state))

    def _check_reports(self, reports: object) -> np.ndarray:
        arr = np.asarray(reports)
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise InvalidDataError(f"{type(self).__name__} needs at least one report to estimate from.")
        return arr

    def estimate(self, reports: object) -> FrequencyEstimate:
        """Server side: unbiased frequencies and their variances from the reports."""
        arr = self._check_reports(reports)
        n = int(arr.shape[0])
        counts = self.support_counts(arr)
        f = (counts / n - self.q) / (self.p - self.q)
        return FrequencyEstimate(f, self.variance(n, np.clip(f, 0.0, 1.0)), n)

    def variance(self, n: int | float, f: np.ndarray | float = 0.0) -> np.ndarray:
        """Analytical variance of the estimate of a value with true frequency ``f`` from ``n`` reports."""
        return pure_variance(self.p, self.q, n, f)

    def approx_variance(self, n: int | float) -> float:
        """The variance at f = 0 (the usual figure of merit, ``Var*``)."""
        return float(pure_variance(self.p, self.q, n, 0.0))


@dataclass(frozen=True)
class GRR(FrequencyOracle):
    """Generalised randomised response (k-RR; Kairouz, Bonawitz, Ramage 2016).

    Report the true value with probability p = e^ε/(e^ε + k − 1), else a uniformly
    random other value. Reports: int64 codes. Best when k < 3e^ε + 2.
    """

    k: int
    epsilon: float
    name: ClassVar[str] = "grr"

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _check_k(self.k, "GRR"))
        object.__setattr__(self, "epsilon", _check_eps(self.epsilon, "GRR"))

    @property
    def p(self) -> float:  # noqa: D102
        return math.exp(self.epsilon) / (math.exp(self.epsilon) + self.k - 1)

    @property
    def q(self) -> float:  # noqa: D102
        return 1.0 / (math.exp(self.epsilon) + self.k - 1)

    def _randomize(self, x: np.ndarray, noise: NoiseSource) -> np.ndarray:
        return grr_perturb(x, self.k, self.p, noise)

    def support_counts(self, reports: np.ndarray) -> np.ndarray:  # noqa: D102
        r = check_values(reports, self.k, "GRR reports")
        return np.bincount(r, minlength=self.k).astype(np.float64)

    def output_probabilities(self, x: int) -> np.ndarray:  # noqa: D102
        out = np.full(self.k, self.q)
        out[x] = self.p
        return out


def grr_perturb(x: np.ndarray, k: int, p: float, noise: NoiseSource) -> np.ndarray:
    """Keep each code with probability ``p``, else replace it by a uniform *other* code."""
    keep = noise.uniform(x.shape) < p
    other = _uniform_ints(noise, k - 1, x.shape)
    other = other + (other >= x)
    return np.where(keep, x, other).astype(np.int64)


@dataclass(frozen=True)
class UnaryEncoding(FrequencyOracle):
    """Unary encoding: one-hot vector, each bit flipped independently (RAPPOR's basic form).

    The true bit is 1 with probability p, every other bit with probability q; the
    report is ε-LDP with ε = ln(p(1 − q) / ((1 − p) q)). Reports: (n, k) uint8 bits.
    """

    k: int
    epsilon: float
    optimal: bool = True
    name: ClassVar[str] = "ue"

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _check_k(self.k, type(self).__name__))
        object.__setattr__(self, "epsilon", _check_eps(self.epsilon, type(self).__name__))

    @property
    def p(self) -> float:  # noqa: D102
        if self.optimal:
            return 0.5
        e = math.exp(self.epsilon / 2)
        return e / (e + 1)

    @property
    def q(self) -> float:  # noqa: D102
        if self.optimal:
            return 1.0 / (math.exp(self.epsilon) + 1)
        return 1.0 - self.p

    def _randomize(self, x: np.ndarray, noise: NoiseSource) -> np.ndarray:
        return ue_perturb(x, self.k, self.p, self.q, noise)

    def support_counts(self, reports: np.ndarray) -> np.ndarray:  # noqa: D102
        r = np.asarray(reports)
        if r.ndim != 2 or r.shape[1] != self.k:
            raise InvalidDataError(f"{type(self).__name__} reports must be an (n, {self.k}) bit matrix. Got shape {r.shape}.")
        return r.sum(axis=0, dtype=np.float64)

    def output_probabilities(self, x: int) -> np.ndarray:  # noqa: D102
        if self.k > 12:
            raise InvalidParameterError("Exact output probabilities of unary encoding are enumerated for k <= 12 only.")
        bits = ((np.arange(2**self.k)[:, None] >> np.arange(self.k)) & 1).astype(bool)
        prob1 = np.full(self.k, self.q)
        prob1[x] = self.p
        return np.prod(np.where(bits, prob1, 1.0 - prob1), axis=1)


def ue_perturb(x: np.ndarray, k: int, p: float, q: float, noise: NoiseSource) -> np.ndarray:
    """Unary-encode ``x`` and report each bit: 1 w.p. ``p`` for the true bit, ``q`` otherwise."""
    n = x.shape[0]
    u = noise.uniform((n, k))
    thresh = np.full((n, k), q)
    thresh[np.arange(n), x] = p
    return (u < thresh).astype(np.uint8)


@dataclass(frozen=True)
class OUE(UnaryEncoding):
    """Optimised unary encoding (Wang et al. 2017): p = 1/2, q = 1/(e^ε + 1)."""

    k: int
    epsilon: float
    optimal: bool = True
    name: ClassVar[str] = "oue"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "optimal", True)


@dataclass(frozen=True)
class SUE(UnaryEncoding):
    """Symmetric unary encoding (basic RAPPOR): p = e^{ε/2}/(e^{ε/2} + 1), q = 1 − p."""

    k: int
    epsilon: float
    optimal: bool = False
    name: ClassVar[str] = "sue"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "optimal", False)


@dataclass(frozen=True)
class OLH(FrequencyOracle):
    """Optimised local hashing (Wang et al. 2017).

    Each user draws a hash h(x) = ((a·x + b) mod P) mod g (P = 2³¹ − 1, a and b uniform)
    and reports (a, b, GRR_g(h(x))) with g = round(e^ε) + 1. A report supports v when
    h(v) equals the reported hash value: with p = e^ε/(e^ε + g − 1) for v = x and q = 1/g
    otherwise (up to ~g/P from the hash family's near-universality). Reports: (n, 3) int64.

    Args:
        k: Domain size.
        epsilon: ε per report.
        g: Hash range; default round(e^ε) + 1 (the variance-optimal choice).
    """

    k: int
    epsilon: float
    g: int | None = None
    name: ClassVar[str] = "olh"

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _check_k(self.k, "OLH"))
        object.__setattr__(self, "epsilon", _check_eps(self.epsilon, "OLH"))
        if self.g is None:
            object.__setattr__(self, "g", round(math.exp(self.epsilon)) + 1)
        else:
            object.__setattr__(self, "g", _check_k(self.g, "OLH (g)"))

    @property
    def _g(self) -> int:
        assert self.g is not None
        return self.g

    @property
    def p(self) -> float:  # noqa: D102
        return math.exp(self.epsilon) / (math.exp(self.epsilon) + self._g - 1)

    @property
    def q(self) -> float:  # noqa: D102
        return 1.0 / self._g

    def _hash(self, a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
        return ((a * x + b) % HASH_PRIME) % self._g

    def _randomize(self, x: np.ndarray, noise: NoiseSource) -> np.ndarray:
        a = 1 + _uniform_ints(noise, HASH_PRIME - 1, x.shape)
        b = _uniform_ints(noise, HASH_PRIME, x.shape)
        h = self._hash(a, b, x)
        y = grr_perturb(h, self._g, self.p, noise)
        return np.column_stack([a, b, y]).astype(np.int64)

    def support_counts(self, reports: np.ndarray) -> np.ndarray:  # noqa: D102
        r = np.asarray(reports, dtype=np.int64)
        if r.ndim != 2 or r.shape[1] != 3:
            raise InvalidDataError(f"OLH reports must be an (n, 3) matrix of (a, b, y). Got shape {r.shape}.")
        counts = np.zeros(self.k)
        v = np.arange(self.k, dtype=np.int64)
        chunk = max(1, 2_000_000 // self.k)
        for s in range(0, r.shape[0], chunk):
            a, b, y = (r[s : s + chunk, i : i + 1] for i in range(3))
            counts += (self._hash(a, b, v[None, :]) == y).sum(axis=0)
        return counts

    def output_probabilities(self, x: int) -> np.ndarray:  # noqa: D102
        # 16 fixed hash functions, each with probability 1/16: conditional on the hash the
        # report is GRR over g values.
        seeds = [(1 + 7919 * i, 104729 * i) for i in range(16)]
        out = []
        for a, b in seeds:
            h = ((a * int(x) + b) % HASH_PRIME) % self._g
            probs = np.full(self._g, (1.0 - self.p) / (self._g - 1))
            probs[h] = self.p
            out.append(probs / len(seeds))
        return np.concatenate(out)


@dataclass(frozen=True)
class HadamardResponse(FrequencyOracle):
    """Hadamard randomised response (one-bit Hadamard response; Cormode, Kulkarni, Srivastava 2018).

    With K the smallest power of two ≥ k and H the K×K Sylvester–Hadamard matrix
    (H[j, x] = (−1)^popcount(j & x)), a user draws a row j uniformly and reports
    (j, b) where b = H[j, x] kept with probability e^ε/(e^ε + 1) and flipped otherwise.
    A report supports v when b·H[j, v] = +1: with p = e^ε/(e^ε + 1) for v = x and exactly
    q = 1/2 for v ≠ x (the rows of H are orthogonal). Reports: (n, 2) int64 of (j, bit),
    bit 1 meaning +1.
    """

    k: int
    epsilon: float
    name: ClassVar[str] = "hr"

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _check_k(self.k, "HadamardResponse"))
        object.__setattr__(self, "epsilon", _check_eps(self.epsilon, "HadamardResponse"))

    @property
    def K(self) -> int:
        """The Hadamard order: the smallest power of two ≥ k."""
        return 1 << (self.k - 1).bit_length()

    @property
    def p(self) -> float:  # noqa: D102
        e = math.exp(self.epsilon)
        return e / (e + 1.0)

    @property
    def q(self) -> float:  # noqa: D102
        return 0.5

    @staticmethod
    def _sign_is_plus(j: np.ndarray, x: np.ndarray) -> np.ndarray:
        return (np.bitwise_count(np.bitwise_and(j, x)) % 2) == 0

    def _randomize(self, x: np.ndarray, noise: NoiseSource) -> np.ndarray:
        j = _uniform_ints(noise, self.K, x.shape)
        plus = self._sign_is_plus(j, x)
        keep = noise.uniform(x.shape) < self.p
        bit = np.where(keep, plus, ~plus).astype(np.int64)
        return np.column_stack([j, bit]).astype(np.int64)

    def support_counts(self, reports: np.ndarray) -> np.ndarray:  # noqa: D102
        r = np.asarray(reports, dtype=np.int64)
        if r.ndim != 2 or r.shape[1] != 2 or (r.size and (r[:, 0].min() < 0 or r[:, 0].max() >= self.K)):
            raise InvalidDataError(f"HadamardResponse reports must be an (n, 2) matrix of (row < {self.K}, bit).")
        # Group by (row, bit): at most 2K distinct reports, each checked against every v.
        key = r[:, 0] * 2 + (r[:, 1] != 0)
        tally = np.bincount(key, minlength=2 * self.K).reshape(self.K, 2)
        rows = np.arange(self.K, dtype=np.int64)[:, None]
        out = np.empty(self.k)
        step = max(1, 4_000_000 // self.K)  # bounded memory for large domains
        for s in range(0, self.k, step):
            plus = self._sign_is_plus(rows, np.arange(s, min(s + step, self.k), dtype=np.int64)[None, :])
            out[s : s + step] = np.where(plus, tally[:, 1:2], tally[:, 0:1]).sum(axis=0)
        return out

    def output_probabilities(self, x: int) -> np.ndarray:  # noqa: D102
        rows = np.arange(self.K, dtype=np.int64)
        plus = self._sign_is_plus(rows, np.full(self.K, x, dtype=np.int64))
        p1 = np.where(plus, self.p, 1.0 - self.p)  # P[bit = +1 | j]
        return np.column_stack([1.0 - p1, p1]).ravel() / self.K


ORACLES: dict[str, type[FrequencyOracle]] = {
    "grr": GRR,
    "oue": OUE,
    "sue": SUE,
    "olh": OLH,
    "hr": HadamardResponse,
}


def make_oracle(name: str, k: int, epsilon: float) -> FrequencyOracle:
    """The oracle called ``name`` (grr, oue, sue, olh, hr, or "adaptive": GRR if k < 3e^ε + 2 else OLH)."""
    if name == "adaptive":
        name = "grr" if k < 3 * math.exp(epsilon) + 2 else "olh"
    try:
        cls = ORACLES[name]
    except KeyError:
        raise InvalidParameterError(
            f"Unknown frequency oracle {name!r}; choose one of {[*ORACLES, 'adaptive']}."
        ) from None
    return cls(k, epsilon)  # type: ignore[call-arg]

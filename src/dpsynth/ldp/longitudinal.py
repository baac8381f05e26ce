"""Longitudinal collection: the same users report again and again (memoisation).

RAPPOR's two-round design (Erlingsson, Pihur, Korolova 2014), with the chained protocols
of Arcolezi et al. ("Improving the utility of locally differentially private protocols for
longitudinal and multidimensional frequency estimates", 2022):

1. *Permanent* randomisation, ε∞: the first time a user reports value x, it is randomised
   once and the result is memoised on the device; every later report of x starts from it.
2. *Instantaneous* randomisation: each collection re-randomises the memoised answer, with
   parameters chosen so that one report alone is ε₁-LDP (ε₁ < ε∞).

* :class:`LGRR` chains GRR(ε∞) with GRR; :class:`LOSUE` chains OUE(ε∞) with SUE.

Privacy:
    One report: ε₁-LDP. Any number of collections: ε∞-LDP per distinct value the user
    ever reports (the memoised answer is all an observer can learn about it), so a user
    whose value takes c distinct values over t collections has
    min(t·ε₁, c·ε∞)-LDP overall (:meth:`LGRR.privacy_statement`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from dpsynth.errors import InvalidParameterError
from dpsynth.ldp.oracles import (
    FrequencyEstimate,
    _check_eps,
    _check_k,
    check_values,
    grr_perturb,
    pure_variance,
)
from dpsynth.privacy.random import NoiseSource, RandomState


def _check_pair(eps_perm: float, eps_1: float, owner: str) -> tuple[float, float]:
    ep = _check_eps(eps_perm, owner)
    e1 = _check_eps(eps_1, owner)
    if not e1 < ep:
        raise InvalidParameterError(
            f"{owner} needs eps_1 (one report) < eps_perm (all reports). Got eps_1={eps_1!r}, eps_perm={eps_perm!r}."
        )
    return ep, e1


@dataclass(frozen=True)
class PrivacyStatement:
    """The LDP guarantee of a longitudinal collection, per report and overall."""

    per_collection: float
    overall: float
    collections: int
    distinct_values: int

    def __str__(self) -> str:
        return (
            f"each report {self.per_collection:.4g}-LDP; after {self.collections} collections with at most "
            f"{self.distinct_values} distinct value(s) per user, {self.overall:.4g}-LDP per user overall"
        )


class _Longitudinal:
    eps_perm: float
    eps_1: float

    def privacy_statement(self, collections: int, distinct_values: int = 1) -> PrivacyStatement:
        """ε per collection and overall after ``collections`` reports of ≤ ``distinct_values`` values."""
        for v, nm in ((collections, "collections"), (distinct_values, "distinct_values")):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidParameterError(f"The {nm!r} parameter must be an integer >= 1. Got {v!r}.")
        return PrivacyStatement(
            self.eps_1, min(collections * self.eps_1, distinct_values * self.eps_perm), collections, distinct_values
        )

    @property
    def pq(self) -> tuple[float, float, float, float]:
        """(p1, q1, p2, q2) of the permanent and instantaneous rounds."""
        raise NotImplementedError

    @property
    def composite(self) -> tuple[float, float]:
        """(P, Q): the single-report probabilities of supporting the true / another value."""
        p1, q1, p2, q2 = self.pq
        return p1 * p2 + (1 - p1) * q2, q1 * p2 + (1 - q1) * q2

    def variance(self, n: int | float, f: np.ndarray | float = 0.0) -> np.ndarray:
        """Variance of one collection's estimate (Arcolezi et al. 2022, Eq. 7)."""
        big_p, big_q = self.composite
        return pure_variance(big_p, big_q, n, f)

    def _estimate(self, counts: np.ndarray, n: int) -> FrequencyEstimate:
        big_p, big_q = self.composite
        f = (counts / n - big_q) / (big_p - big_q)
        return FrequencyEstimate(f, self.variance(n, np.clip(f, 0, 1)), n)


@dataclass(frozen=True)
class LGRR(_Longitudinal):
    """Longitudinal GRR: GRR(ε∞) memoised, then GRR with the ε that makes one report ε₁-LDP.

    Args:
        k: Domain size.
        eps_perm: ε∞, the bound over any number of reports of one value.
        eps_1: ε₁ < ε∞, the bound of a single report.
    """

    k: int
    eps_perm: float
    eps_1: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _check_k(self.k, "LGRR"))
        ep, e1 = _check_pair(self.eps_perm, self.eps_1, "LGRR")
        object.__setattr__(self, "eps_perm", ep)
        object.__setattr__(self, "eps_1", e1)

    @property
    def pq(self) -> tuple[float, float, float, float]:  # noqa: D102
        k = self.k
        e_inf = math.exp(self.eps_perm)
        p1 = e_inf / (e_inf + k - 1)
        q1 = (1 - p1) / (k - 1)
        # One report supports x w.p. P = p1 p2 + (1 − p1) q2 and a given other value w.p.
        # Q = q1 p2 + (1 − q1) q2 with q2 = (1 − p2)/(k − 1): linear in p2; solve P = e^ε₁ Q.
        e1 = math.exp(self.eps_1)
        a = p1 - (1 - p1) / (k - 1) - e1 * (q1 - (1 - q1) / (k - 1))
        b = (1 - p1) / (k - 1) - e1 * (1 - q1) / (k - 1)
        p2 = -b / a
        return p1, q1, p2, (1 - p2) / (k - 1)

    def new_memo(self, n: int) -> np.ndarray:
        """An empty memo for ``n`` users (one slot per user and value; −1 = not yet drawn)."""
        return np.full((n, self.k), -1, dtype=np.int64)

    def randomize(self, values: object, memo: np.ndarray, *, random_state: RandomState = None) -> np.ndarray:
        """Client side: one report per user; fills and reuses ``memo`` (kept on the devices)."""
        x = check_values(values, self.k, "LGRR")
        if memo.shape != (x.size, self.k):
            raise InvalidParameterError(f"LGRR memo must have shape ({x.size}, {self.k}); use new_memo(n).")
        noise = NoiseSource(random_state)
        p1, _, p2, _ = self.pq
        rows = np.arange(x.size)
        fresh = memo[rows, x] < 0
        if fresh.any():
            memo[rows[fresh], x[fresh]] = grr_perturb(x[fresh], self.k, p1, noise)
        return grr_perturb(memo[rows, x], self.k, p2, noise)

    def estimate(self, reports: object) -> FrequencyEstimate:
        """Server side: one collection's unbiased frequencies."""
        r = check_values(reports, self.k, "LGRR reports")
        if r.size == 0:
            raise InvalidParameterError("LGRR needs at least one report to estimate from.")
        return self._estimate(np.bincount(r, minlength=self.k).astype(np.float64), r.size)

    def output_probabilities(self, x: int) -> np.ndarray:
        """Exact distribution of one report given x (the composite channel)."""
        big_p, big_q = self.composite
        out = np.full(self.k, big_q)
        out[x] = big_p
        return out


@dataclass(frozen=True)
class LOSUE(_Longitudinal):
    """Longitudinal OUE–SUE: OUE(ε∞) memoised, then SUE chosen so that one report is ε₁-LDP."""

    k: int
    eps_perm: float
    eps_1: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _check_k(self.k, "LOSUE"))
        ep, e1 = _check_pair(self.eps_perm, self.eps_1, "LOSUE")
        object.__setattr__(self, "eps_perm", ep)
        object.__setattr__(self, "eps_1", e1)

    @property
    def pq(self) -> tuple[float, float, float, float]:  # noqa: D102
        p1, q1 = 0.5, 1.0 / (math.exp(self.eps_perm) + 1)

        def eps_of(p2: float) -> float:
            q2 = 1 - p2
            big_p, big_q = p1 * p2 + (1 - p1) * q2, q1 * p2 + (1 - q1) * q2
            return math.log(big_p * (1 - big_q) / ((1 - big_p) * big_q)) - self.eps_1

        p2 = float(optimize.brentq(eps_of, 0.5 + 1e-15, 1 - 1e-15, xtol=1e-15))
        return p1, q1, p2, 1 - p2

    def new_memo(self, n: int) -> np.ndarray:
        """An empty memo: (n, k, k) bits per user and value; −1 = not yet drawn."""
        return np.full((n, self.k, self.k), -1, dtype=np.int8)

    def randomize(self, values: object, memo: np.ndarray, *, random_state: RandomState = None) -> np.ndarray:
        """Client side: an (n, k) bit report per user; fills and reuses ``memo``."""
        x = check_values(values, self.k, "LOSUE")
        if memo.shape != (x.size, self.k, self.k):
            raise InvalidParameterError(f"LOSUE memo must have shape ({x.size}, {self.k}, {self.k}); use new_memo(n).")
        noise = NoiseSource(random_state)
        p1, q1, p2, q2 = self.pq
        rows = np.arange(x.size)
        fresh = memo[rows, x, 0] < 0
        if fresh.any():
            f_rows = rows[fresh]
            u = noise.uniform((f_rows.size, self.k))
            thresh = np.full((f_rows.size, self.k), q1)
            thresh[np.arange(f_rows.size), x[fresh]] = p1
            memo[f_rows, x[fresh]] = (u < thresh).astype(np.int8)
        perm = memo[rows, x].astype(bool)
        u = noise.uniform((x.size, self.k))
        return (u < np.where(perm, p2, q2)).astype(np.uint8)

    def estimate(self, reports: object) -> FrequencyEstimate:
        """Server side: one collection's unbiased frequencies."""
        r = np.asarray(reports)
        if r.ndim != 2 or r.shape[1] != self.k or r.shape[0] == 0:
            raise InvalidParameterError(f"LOSUE reports must be a non-empty (n, {self.k}) bit matrix.")
        return self._estimate(r.sum(axis=0, dtype=np.float64), r.shape[0])

    def output_probabilities(self, x: int) -> np.ndarray:
        """Exact distribution of one report's bit vector given x (k ≤ 12)."""
        if self.k > 12:
            raise InvalidParameterError("Exact output probabilities are enumerated for k <= 12 only.")
        big_p, big_q = self.composite
        bits = ((np.arange(2**self.k)[:, None] >> np.arange(self.k)) & 1).astype(bool)
        prob1 = np.full(self.k, big_q)
        prob1[x] = big_p
        return np.prod(np.where(bits, prob1, 1.0 - prob1), axis=1)

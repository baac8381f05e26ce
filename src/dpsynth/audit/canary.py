"""One-run canary audit (Steinke, Nasr, Jagielski, NeurIPS 2023).

"Privacy Auditing with One (1) Training Run": m canaries are each included in the input independently with probability ½. After one run
of the mechanism the auditor scores every canary, guesses "in" for the ``k_pos`` highest
scores and "out" for the ``k_neg`` lowest, and abstains on the rest: r = k_pos + k_neg
guesses, v of them correct. If the mechanism is (ε, δ)-DP with respect to adding or
removing one canary, v is stochastically dominated (up to a δ term) by the number of
successes of r randomised-response coins with bias q = e^ε / (1 + e^ε) (the paper's
Theorem 3.1 for δ = 0 and Theorem 5.2 for δ > 0). The p-value of observing v or more is
(their Appendix D)

    p(ε, δ) = P[Bin(r, q) ≥ v] + 2 m δ · max_{1 ≤ i ≤ v} P[v − i ≤ Bin(r, q) < v] / i,

and the lower bound at confidence 1 − α is the largest ε with p(ε, δ) < α. It is computed
here exactly (binomial tails from SciPy, then bisection to 1e-10), not by a normal or
Chernoff approximation.

The audit works for any mechanism that can be run once on a set of randomly included
canaries: :func:`audit_one_run` takes the scores and the inclusion bits.
:func:`laplace_canary_release` is a ready-made demonstration on dpsynth's own Laplace
mechanism: one noisy count per canary, so each canary changes one coordinate by 1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binom

from dpsynth.audit.epsilon import Verdict
from dpsynth.errors import InvalidParameterError


def _check_mrv(m: int, r: int, v: int) -> None:
    ok = all(isinstance(x, int | np.integer) and not isinstance(x, bool) for x in (m, r, v))
    if not ok or not 0 <= v <= r <= m or m < 1:
        raise InvalidParameterError(
            "The one-run audit needs integers 0 <= v <= r <= m with m >= 1 (m canaries, "
            f"r guesses, v correct). Got m={m!r}, r={r!r}, v={v!r}."
        )


def one_run_p_value(m: int, r: int, v: int, epsilon: float, delta: float = 0.0) -> float:
    """Probability of v or more correct guesses out of r under (ε, δ)-DP with m canaries.

    Args:
        m: Canaries, each included independently with probability ½.
        r: Guesses made (abstentions excluded).
        v: Correct guesses.
        epsilon: The ε of the null hypothesis (≥ 0).
        delta: The δ of the null hypothesis, in [0, 1].

    Returns:
        The p-value, clipped to 1 (Steinke et al. 2023, Thm. 5.2 and Appendix D).

    Raises:
        InvalidParameterError: For counts out of order or ε, δ out of range.
    """
    _check_mrv(m, r, v)
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise InvalidParameterError(f"The 'epsilon' parameter must be >= 0. Got {epsilon!r}.")
    if not 0.0 <= delta <= 1.0:
        raise InvalidParameterError(f"The 'delta' parameter must be in [0, 1]. Got {delta!r}.")
    q = 1.0 / (1.0 + math.exp(-epsilon))
    tail = float(binom.sf(v - 1, r, q))  # P[Bin(r, q) >= v]
    if delta == 0.0 or v == 0:
        return min(tail, 1.0)
    # s_i = P[v - i <= Bin(r, q) < v] for i = 1..v; the δ term takes max_i s_i / i.
    s = np.cumsum(binom.pmf(np.arange(v - 1, -1, -1), r, q))
    worst = float(np.max(s / np.arange(1, v + 1)))
    return min(tail + 2.0 * m * delta * worst, 1.0)


def one_run_epsilon(
    m: int, r: int, v: int, *, delta: float = 0.0, alpha: float = 0.05, tol: float = 1e-10
) -> float:
    """The largest ε that v correct guesses out of r rule out at confidence 1 − α.

    Args:
        m: Canaries.
        r: Guesses.
        v: Correct guesses.
        delta: The δ of the guarantee being audited.
        alpha: One minus the confidence (0.05 for 95%).
        tol: Bisection tolerance on ε.

    Returns:
        ε_lb ≥ 0 (0 when even ε = 0 is not rejected). 1,000 canaries, 100 guesses, 90
        correct, δ = 0, α = 0.05 give 1.6308.

    Raises:
        InvalidParameterError: For bad counts or levels.
    """
    _check_mrv(m, r, v)
    if not 0.0 < alpha < 1.0:
        raise InvalidParameterError(f"The 'alpha' parameter must be in (0, 1). Got {alpha!r}.")
    if one_run_p_value(m, r, v, 0.0, delta) >= alpha:
        return 0.0
    lo, hi = 0.0, 1.0
    while one_run_p_value(m, r, v, hi, delta) < alpha:
        lo, hi = hi, 2.0 * hi
        if hi > 1e3:  # every guess right with r large: the bound is as large as r allows
            return lo
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if one_run_p_value(m, r, v, mid, delta) < alpha:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class OneRunAudit:
    """The outcome of a one-run canary audit.

    Attributes:
        m: Canaries.
        k_pos: "In" guesses (highest scores).
        k_neg: "Out" guesses (lowest scores).
        r: Guesses in all.
        v: Correct guesses.
        epsilon_lb: Lower bound on ε at ``1 − alpha``.
        delta: The δ the bound is computed at.
        alpha: One minus the confidence.
        epsilon_claimed: The mechanism's claimed ε (None if not given).
        verdict: ``"violation"`` when the bound exceeds the claim, else ``"consistent"``
            (a one-run bound is never "inconclusive": it is a valid bound at any size).
    """

    m: int
    k_pos: int
    k_neg: int
    r: int
    v: int
    epsilon_lb: float
    delta: float
    alpha: float
    epsilon_claimed: float | None
    verdict: Verdict | None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def audit_one_run(
    scores: Any,
    included: Any,
    *,
    k_pos: int,
    k_neg: int | None = None,
    delta: float = 0.0,
    alpha: float = 0.05,
    epsilon_claimed: float | None = None,
) -> OneRunAudit:
    """Guess from canary scores and bound ε (Steinke et al. 2023, Algorithm 1).

    ``k_pos`` and ``k_neg`` must be fixed before the scores are seen: choosing them to
    maximise the bound would make it invalid.

    Args:
        scores: One score per canary (higher = more likely included).
        included: Whether each canary was included in the run.
        k_pos: How many of the highest scores to guess "in".
        k_neg: How many of the lowest to guess "out" (default ``k_pos``).
        delta: The δ of the guarantee being audited.
        alpha: One minus the confidence.
        epsilon_claimed: The claimed ε; with it, a verdict is given.

    Returns:
        A :class:`OneRunAudit`.

    Raises:
        InvalidParameterError: For mismatched inputs, non-finite scores or too many guesses.
    """
    s = np.asarray(scores, dtype=float)
    inc = np.asarray(included)
    if s.ndim != 1 or s.shape != inc.shape or len(s) == 0:
        raise InvalidParameterError(
            f"'scores' and 'included' must be 1-d of equal, non-zero length. Got {s.shape} and "
            f"{inc.shape}."
        )
    if not np.all(np.isfinite(s)):
        raise InvalidParameterError("'scores' must be finite (no NaN or infinity).")
    if inc.dtype != bool:
        if not np.isin(inc, (0, 1)).all():
            raise InvalidParameterError("'included' must hold booleans or 0/1.")
        inc = inc.astype(bool)
    k_neg = k_pos if k_neg is None else k_neg
    m = len(s)
    if k_pos < 0 or k_neg < 0 or k_pos + k_neg > m or k_pos + k_neg == 0:
        raise InvalidParameterError(
            f"Need 0 <= k_pos, k_neg and 0 < k_pos + k_neg <= {m} canaries. Got k_pos={k_pos!r}, "
            f"k_neg={k_neg!r}."
        )
    order = np.argsort(-s, kind="stable")
    top, bottom = order[:k_pos], order[m - k_neg:] if k_neg else order[:0]
    v = int(inc[top].sum() + (~inc[bottom]).sum())
    r = k_pos + k_neg
    eps = one_run_epsilon(m, r, v, delta=delta, alpha=alpha)
    v_: Verdict | None = None
    if epsilon_claimed is not None:
        if not epsilon_claimed > 0:
            raise InvalidParameterError(
                f"The 'epsilon_claimed' parameter must be > 0. Got {epsilon_claimed!r}."
            )
        v_ = "violation" if eps > epsilon_claimed else "consistent"
    return OneRunAudit(m, k_pos, k_neg, r, v, eps, delta, alpha, epsilon_claimed, v_)


def laplace_canary_release(
    included: Any, *, epsilon: float, random_state: int | np.random.Generator | None = None
) -> np.ndarray:
    """Release one noisy count per canary with dpsynth's (discrete) Laplace mechanism.

    Canary i adds 1 to count i when it is included, so adding or removing one canary
    changes one coordinate by 1: L1 sensitivity 1, and scale 1/ε makes the release ε-DP
    (:class:`dpsynth.privacy.mechanisms.LaplaceMechanism`). The noisy counts are the
    auditor's scores.

    Privacy:
        Add/remove one canary; L1 sensitivity 1; pure ε-DP. This is a test harness: with a
        seed its noise is reproducible and it releases nothing real.

    Args:
        included: Inclusion bit of each canary.
        epsilon: The ε of the release (> 0).
        random_state: Seed for the noise (None: the operating system's secure source).

    Returns:
        The noisy counts (float array).
    """
    from dpsynth.errors import check_positive
    from dpsynth.privacy.mechanisms import LaplaceMechanism
    from dpsynth.privacy.random import NoiseSource

    check_positive(epsilon, "epsilon", "laplace_canary_release")
    counts = np.asarray(included, dtype=float)
    return LaplaceMechanism(scale=1.0 / epsilon).release(counts, NoiseSource(random_state))

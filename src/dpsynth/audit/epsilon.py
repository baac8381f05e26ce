"""Empirical lower bounds on ε from the outcomes of a membership attack.

An (ε, δ)-DP mechanism bounds every test of "member" against "non-member" (Kairouz et al.
2015; Nasr et al. 2021, eq. 1): for any threshold,

    FPR + e^ε · FNR ≥ 1 − δ   and   FNR + e^ε · FPR ≥ 1 − δ,

so an attack with observed error rates implies

    ε ≥ max( log((1 − δ − FPR) / FNR), log((1 − δ − FNR) / FPR) ).

Two estimators turn finite counts into a statement about ε:

* :func:`clopper_pearson_epsilon` (Jagielski et al. 2020; Nasr et al. 2021; TAPAS's
  "effective ε"): exact binomial upper bounds on FPR and FNR, plugged into the formula.
* :func:`bayesian_epsilon` (Zanella-Béguelin et al., ICML 2023): Jeffreys Beta posteriors on
  FNR and FPR; the lower credible bound is the α-quantile of the posterior of the implied ε.

:func:`epsilon_from_scores` scans the thresholds of attack scores; :func:`verdict` compares a
bound with the claimed ε.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import beta

from dpsynth.errors import InvalidParameterError

Verdict = Literal["violation", "consistent", "inconclusive"]
ThresholdChoice = Literal["bonferroni", "holdout", "scan"]


def _check_counts(tp: int, fn: int, fp: int, tn: int) -> None:
    counts = {"tp": tp, "fn": fn, "fp": fp, "tn": tn}
    bad = [
        f"{k}={v!r}" for k, v in counts.items() if not (isinstance(v, int | np.integer) and v >= 0)
    ]
    if bad:
        raise InvalidParameterError(
            f"Attack outcome counts must be non-negative integers. Got {', '.join(bad)}."
        )
    if tp + fn == 0 or fp + tn == 0:
        raise InvalidParameterError(
            "Attack outcomes need at least one member (tp + fn > 0) and one non-member "
            f"(fp + tn > 0). Got tp={tp}, fn={fn}, fp={fp}, tn={tn}."
        )


def _check_level(name: str, value: float, *, upper_open: bool = True) -> None:
    if not (0.0 < value < 1.0) if upper_open else not (0.0 <= value < 1.0):
        raise InvalidParameterError(f"The '{name}' parameter must be in (0, 1). Got {value!r}.")


def implied_epsilon(fpr: Any, fnr: Any, *, delta: float = 0.0) -> Any:
    """The smallest ε that an attack with these error rates does not contradict.

    Args:
        fpr: False-positive rate(s), in [0, 1].
        fnr: False-negative rate(s), in [0, 1].
        delta: The δ of the guarantee.

    Returns:
        ``max(0, log((1 − δ − FPR)/FNR), log((1 − δ − FNR)/FPR))`` elementwise; ``inf`` when a
        rate is zero and the other below 1 − δ.
    """
    fpr = np.asarray(fpr, dtype=float)
    fnr = np.asarray(fnr, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(np.clip(1.0 - delta - fpr, 0.0, None)) - np.log(fnr)
        b = np.log(np.clip(1.0 - delta - fnr, 0.0, None)) - np.log(fpr)
    out = np.fmax(
        np.fmax(
            np.nan_to_num(a, nan=0.0, posinf=np.inf, neginf=0.0),
            np.nan_to_num(b, nan=0.0, posinf=np.inf, neginf=0.0),
        ),
        0.0,
    )
    return float(out) if out.ndim == 0 else out


def clopper_pearson_upper(successes: int, trials: int, level: float) -> float:
    """One-sided Clopper–Pearson upper bound on a binomial proportion.

    Args:
        successes: Observed count.
        trials: Number of trials (> 0).
        level: Confidence of the one-sided bound, e.g. 0.975.

    Returns:
        p such that P(Bin(trials, p) ≤ successes) = 1 − level (1.0 when successes == trials).
    """
    if successes >= trials:
        return 1.0
    return float(beta.ppf(level, successes + 1, trials - successes))


def clopper_pearson_epsilon(
    tp: int, fn: int, fp: int, tn: int, *, delta: float = 0.0, alpha: float = 0.05
) -> float:
    """Lower bound on ε at confidence 1 − α from one threshold's confusion matrix.

    Convention (as ``statsmodels.proportion_confint(method="beta", alpha=α)`` used by
    Jagielski et al. 2020 and TAPAS): each of FPR and FNR is bounded above by the upper end of
    its two-sided 1 − α Clopper–Pearson interval, i.e. a one-sided bound at 1 − α/2. By the
    union bound both hold together with probability ≥ 1 − α, so the maximum over the two
    orderings is a valid 1 − α lower bound. TP=95, FN=5, FP=5, TN=95, δ=0, α=0.05 gives
    ε ≥ 2.0621 (one-sided bounds at 1 − α would give 2.1724, without the joint guarantee).

    Args:
        tp: Members the attack called members.
        fn: Members it called non-members.
        fp: Non-members it called members.
        tn: Non-members it called non-members.
        delta: The δ of the claimed guarantee.
        alpha: One minus the confidence level.

    Returns:
        The lower bound (≥ 0).

    Raises:
        InvalidParameterError: For negative counts, an empty class, or α, δ out of range.
    """
    _check_counts(tp, fn, fp, tn)
    _check_level("alpha", alpha)
    _check_level("delta", delta, upper_open=False)
    level = 1.0 - alpha / 2.0
    fpr_u = clopper_pearson_upper(fp, fp + tn, level)
    fnr_u = clopper_pearson_upper(fn, fn + tp, level)
    return float(implied_epsilon(fpr_u, fnr_u, delta=delta))


def bayesian_epsilon(
    tp: int,
    fn: int,
    fp: int,
    tn: int,
    *,
    delta: float = 0.0,
    alpha: float = 0.05,
    n_samples: int = 100_000,
    random_state: int | np.random.Generator | None = 0,
) -> float:
    """Lower credible bound on ε (Zanella-Béguelin et al., ICML 2023).

    With Jeffreys priors Beta(½, ½), the posteriors are FNR ~ Beta(FN + ½, TP + ½) and
    FPR ~ Beta(FP + ½, TN + ½). The ε implied by a draw is :func:`implied_epsilon`; the
    posterior mass outside the ε-DP region decreases in ε, so the largest ε whose region
    leaves mass ≥ 1 − α outside is the α-quantile of the implied ε, estimated by Monte Carlo.

    Args:
        tp: Members the attack called members.
        fn: Members it called non-members.
        fp: Non-members it called members.
        tn: Non-members it called non-members.
        delta: The δ of the claimed guarantee.
        alpha: One minus the credibility level.
        n_samples: Posterior draws.
        random_state: Seed or generator for the draws.

    Returns:
        The lower credible bound (finite, ≥ 0).

    Raises:
        InvalidParameterError: For bad counts or levels.
    """
    _check_counts(tp, fn, fp, tn)
    _check_level("alpha", alpha)
    _check_level("delta", delta, upper_open=False)
    if n_samples < 100:
        raise InvalidParameterError(f"The 'n_samples' parameter must be >= 100. Got {n_samples!r}.")
    rng = np.random.default_rng(random_state)
    fnr = rng.beta(fn + 0.5, tp + 0.5, size=n_samples)
    fpr = rng.beta(fp + 0.5, tn + 0.5, size=n_samples)
    eps = implied_epsilon(fpr, fnr, delta=delta)
    return float(np.quantile(eps, alpha))


@dataclass(frozen=True)
class ThresholdBound:
    """The best bound over the thresholds of attack scores.

    Attributes:
        epsilon_lb: The lower bound on ε.
        threshold: Scores ≥ threshold are called members.
        tp: True positives at the threshold (on the evaluation half for ``"holdout"``).
        fn: False negatives.
        fp: False positives.
        tn: True negatives.
        method: ``"cp"`` or ``"bayes"``.
        choice: How the threshold was chosen (``"bonferroni"``, ``"holdout"``, ``"scan"``).
        valid: Whether the bound keeps its stated confidence (False for ``"scan"``).
    """

    epsilon_lb: float
    threshold: float
    tp: int
    fn: int
    fp: int
    tn: int
    method: str
    choice: str
    valid: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def _confusions(scores: np.ndarray, members: np.ndarray) -> list[tuple[float, int, int, int, int]]:
    """(threshold, tp, fn, fp, tn) for every distinct score used as a threshold."""
    order = np.argsort(-scores, kind="stable")
    s, m = scores[order], members[order]
    n_pos, n_neg = int(m.sum()), int((~m).sum())
    tps, fps = np.cumsum(m), np.cumsum(~m)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    out = []
    for i in last:
        tp, fp = int(tps[i]), int(fps[i])
        out.append((float(s[i]), tp, n_pos - tp, fp, n_neg - fp))
    return out


def _bound(
    tp: int, fn: int, fp: int, tn: int, *, method: str, delta: float, alpha: float, seed: int
) -> float:
    if method == "cp":
        return clopper_pearson_epsilon(tp, fn, fp, tn, delta=delta, alpha=alpha)
    return bayesian_epsilon(
        tp, fn, fp, tn, delta=delta, alpha=alpha, n_samples=20_000, random_state=seed
    )


def epsilon_from_scores(
    scores: Any,
    members: Any,
    *,
    delta: float = 0.0,
    alpha: float = 0.05,
    method: Literal["cp", "bayes"] = "cp",
    choice: ThresholdChoice = "bonferroni",
    random_state: int | np.random.Generator | None = 0,
) -> ThresholdBound:
    """The best ε lower bound over thresholds of membership scores (higher = member).

    Taking the maximum over thresholds is a multiple comparison: the best of T bounds at
    1 − α holds at less than 1 − α. ``choice`` says how this is handled:

    * ``"bonferroni"`` (default): every threshold's bound is computed at α/T, so the best one
      keeps confidence 1 − α.
    * ``"holdout"``: the threshold is chosen on a random half of the games and the bound is
      computed at α on the other half.
    * ``"scan"``: the plain maximum at α, optimistic; reported with ``valid=False``.

    Args:
        scores: One score per game.
        members: Whether the target was in the training data of each game.
        delta: The δ of the claimed guarantee.
        alpha: One minus the confidence level.
        method: ``"cp"`` (Clopper–Pearson) or ``"bayes"`` (Zanella-Béguelin et al.).
        choice: Threshold choice, as above.
        random_state: Seed for the holdout split and Monte Carlo draws.

    Returns:
        A :class:`ThresholdBound`.

    Raises:
        InvalidParameterError: For mismatched inputs, a single class, or unknown options.
    """
    s = np.asarray(scores, dtype=float)
    m = np.asarray(members, dtype=bool)
    if s.ndim != 1 or s.shape != m.shape:
        raise InvalidParameterError(
            f"'scores' and 'members' must be 1-d of equal length. Got {s.shape} and {m.shape}."
        )
    if not np.all(np.isfinite(s)):
        raise InvalidParameterError("'scores' must be finite.")
    if method not in ("cp", "bayes"):
        raise InvalidParameterError(
            f"The 'method' parameter must be 'cp' or 'bayes'. Got {method!r}."
        )
    if choice not in ("bonferroni", "holdout", "scan"):
        raise InvalidParameterError(
            f"The 'choice' parameter must be 'bonferroni', 'holdout' or 'scan'. Got {choice!r}."
        )
    rng = np.random.default_rng(random_state)
    seed = int(rng.integers(2**31))
    if choice == "holdout":
        perm = rng.permutation(len(s))
        half = len(s) // 2
        pick, evaluate = perm[:half], perm[half:]
        if len(np.unique(m[pick])) < 2 or len(np.unique(m[evaluate])) < 2:
            raise InvalidParameterError(
                "Too few games to split: each half needs members and non-members."
            )
        # Choose by the Clopper-Pearson bound on the first half: point estimates with a
        # zero count are infinite and would pick the most extreme, least useful threshold.
        best = max(
            _confusions(s[pick], m[pick]),
            key=lambda c: clopper_pearson_epsilon(*c[1:], delta=delta, alpha=alpha),
        )
        t = best[0]
        called = s[evaluate] >= t
        me = m[evaluate]
        tp, fn = int((called & me).sum()), int((~called & me).sum())
        fp, tn = int((called & ~me).sum()), int((~called & ~me).sum())
        eps = _bound(tp, fn, fp, tn, method=method, delta=delta, alpha=alpha, seed=seed)
        return ThresholdBound(eps, t, tp, fn, fp, tn, method, choice, True)
    conf = _confusions(s, m)
    level = alpha / len(conf) if choice == "bonferroni" else alpha
    best_eps, best_c = -1.0, conf[0]
    for c in conf:
        eps = _bound(*c[1:], method=method, delta=delta, alpha=level, seed=seed)
        if eps > best_eps:
            best_eps, best_c = eps, c
    return ThresholdBound(best_eps, best_c[0], *best_c[1:], method, choice, choice != "scan")


def max_dp_auc(epsilon: float, delta: float = 0.0) -> float:
    """The largest ROC AUC any membership test can reach against an (ε, δ)-DP mechanism.

    The test's ROC lies under the trade-off curve of (ε, δ)-DP (Kairouz et al. 2015; Dong,
    Roth, Su 2022): FNR ≥ f(FPR) = max(0, 1 − δ − e^ε·FPR, e^−ε·(1 − δ − FPR)), a convex
    region, so AUC ≤ 1 − ∫₀¹ f. With δ = 0 this is e^ε / (1 + e^ε) (0.731 at ε = 1).

    Args:
        epsilon: ε ≥ 0.
        delta: δ in [0, 1].

    Returns:
        The AUC bound, in [0.5, 1].

    Raises:
        InvalidParameterError: For ε < 0 or δ outside [0, 1].
    """
    if not (math.isfinite(epsilon) and epsilon >= 0) or not 0.0 <= delta <= 1.0:
        raise InvalidParameterError(f"max_dp_auc needs epsilon >= 0 and delta in [0, 1]. Got {epsilon!r}, {delta!r}.")
    e = math.exp(min(epsilon, 700.0))
    a1 = (1.0 - delta) / (1.0 + e)  # where the two lines of f cross
    area = (1.0 - delta) * a1 - e * a1 * a1 / 2.0 + (1.0 - delta - a1) ** 2 / (2.0 * e)
    return float(min(1.0, max(0.5, 1.0 - area)))


def verdict(
    eps_lb: float,
    eps_claimed: float,
    ci_width: float,
    *,
    max_ci_width: float = 0.25,
    eps_lb_max: float | None = None,
    auc_high: float | None = None,
    delta: float = 0.0,
) -> Verdict:
    """Compare an empirical lower bound with the claimed ε.

    Args:
        eps_lb: The lower bound on ε at the audit's confidence.
        eps_claimed: The ε the generator claims.
        ci_width: Width of the audit's confidence interval on attack success (the
            bootstrap CI of the AUC, in :func:`dpsynth.audit.metrics.evaluate_attack`).
        max_ci_width: Widest interval at which a bound below the claim is still informative.
        eps_lb_max: The bound a perfect attack would reach with these games, if known.
        auc_high: The top of the attack's AUC interval, if known.
        delta: The claimed δ (for :func:`max_dp_auc`).

    Returns:
        ``"violation"`` if the bound exceeds the claim (a bug: the claim is false with
        the audit's confidence); otherwise ``"inconclusive"`` if the interval is wider than
        ``max_ci_width``, if even a perfect attack could not have shown a violation
        (``eps_lb_max`` ≤ claim), or if the AUC interval reaches above what any (ε, δ)-DP
        mechanism allows (``auc_high`` > :func:`max_dp_auc`); ``"consistent"`` if none of these.

    Raises:
        InvalidParameterError: If the claimed ε is not positive or a width is negative.
    """
    if not eps_claimed > 0:
        raise InvalidParameterError(
            f"The 'eps_claimed' parameter must be > 0. Got {eps_claimed!r}."
        )
    if ci_width < 0 or max_ci_width < 0:
        raise InvalidParameterError(
            f"CI widths must be >= 0. Got ci_width={ci_width!r}, max_ci_width={max_ci_width!r}."
        )
    if eps_lb > eps_claimed:
        return "violation"
    if not math.isfinite(ci_width) or ci_width > max_ci_width:
        return "inconclusive"
    if eps_lb_max is not None and eps_lb_max <= eps_claimed:
        return "inconclusive"  # too few games: even a perfect attack could not show a violation
    if auc_high is not None and auc_high > max_dp_auc(eps_claimed, delta):
        return "inconclusive"  # the games cannot rule out an attack beyond the claim
    return "consistent"

"""Metrics every membership audit reports.

AUC with a bootstrap CI, TPR at low FPR, advantage, the empirical ε lower bound and the
verdict against the claimed ε.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_curve

from dpsynth.audit.epsilon import (
    ThresholdChoice,
    Verdict,
    clopper_pearson_epsilon,
    epsilon_from_scores,
    verdict,
)
from dpsynth.errors import InvalidParameterError


@dataclass(frozen=True)
class AttackResult:
    """The outcome of one attack over many games.

    Attributes:
        attack: The attack's name.
        n_games: Number of games scored.
        n_members: Games in which the target was a member.
        auc: Area under the ROC curve.
        auc_ci: Percentile bootstrap interval of the AUC at ``1 − alpha``.
        tpr_at_1pct_fpr: Highest TPR with FPR ≤ 1%.
        tpr_at_01pct_fpr: Highest TPR with FPR ≤ 0.1%.
        advantage: max over thresholds of TPR − FPR.
        epsilon_lb: Clopper–Pearson lower bound on ε at ``1 − alpha`` (see ``threshold_choice``).
        epsilon_lb_bayes: Bayesian lower credible bound (Zanella-Béguelin et al. 2023).
        epsilon_claimed: The generator's claimed ε (None if not given).
        delta: The claimed δ.
        alpha: One minus the confidence level.
        threshold_choice: How the threshold for ε was chosen.
        verdict: ``"violation"``, ``"consistent"`` or ``"inconclusive"`` (None without a claim).
        roc_fpr: ROC curve false-positive rates (for the report's plot).
        roc_tpr: ROC curve true-positive rates.
        epsilon_lb_max: The bound a perfect attack would reach with these games (every
            member and non-member called right). When it does not exceed the claim, the
            games cannot reveal a violation and the verdict is ``"inconclusive"``.
    """

    attack: str
    n_games: int
    n_members: int
    auc: float
    auc_ci: tuple[float, float]
    tpr_at_1pct_fpr: float
    tpr_at_01pct_fpr: float
    advantage: float
    epsilon_lb: float
    epsilon_lb_bayes: float
    epsilon_claimed: float | None
    delta: float
    alpha: float
    threshold_choice: str
    verdict: Verdict | None
    roc_fpr: tuple[float, ...]
    roc_tpr: tuple[float, ...]
    epsilon_lb_max: float = math.inf

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        d = asdict(self)
        d["auc_ci"] = list(self.auc_ci)
        d["roc_fpr"] = list(self.roc_fpr)
        d["roc_tpr"] = list(self.roc_tpr)
        return d

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> AttackResult:
        """Inverse of :meth:`to_dict`."""
        d = dict(doc)
        d["auc_ci"] = tuple(float("nan") if x is None else float(x) for x in d["auc_ci"])
        d["roc_fpr"] = tuple(float(x) for x in d["roc_fpr"])
        d["roc_tpr"] = tuple(float(x) for x in d["roc_tpr"])
        if d.get("epsilon_lb_max") is None:
            d["epsilon_lb_max"] = math.inf
        return cls(**d)


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, level: float) -> float:
    """Highest TPR among ROC points with FPR ≤ ``level``."""
    ok = fpr <= level + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def auc_score(scores: np.ndarray, members: np.ndarray) -> float:
    """AUC as the Mann–Whitney statistic (ties count ½); equals sklearn's ``roc_auc_score``."""
    m = np.asarray(members, dtype=bool)
    n_pos, n_neg = int(m.sum()), int((~m).sum())
    ranks = rankdata(scores)
    return float((ranks[m].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_auc(
    scores: np.ndarray, members: np.ndarray, *, n_boot: int, alpha: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC, resampling games with replacement."""
    n = len(scores)
    aucs = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        m = members[idx]
        if m.all() or not m.any():
            continue
        aucs.append(auc_score(scores[idx], m))
    if not aucs:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def evaluate_attack(
    scores: Any,
    members: Any,
    *,
    attack: str = "attack",
    epsilon_claimed: float | None = None,
    delta: float = 0.0,
    alpha: float = 0.05,
    threshold_choice: ThresholdChoice = "bonferroni",
    n_boot: int = 1000,
    max_ci_width: float = 0.25,
    random_state: int | np.random.Generator | None = 0,
) -> AttackResult:
    """Summarise (score, member) pairs from privacy games.

    Args:
        scores: One membership score per game (higher = member).
        members: Whether the target was a member in each game.
        attack: Name recorded in the result.
        epsilon_claimed: The generator's claimed ε; with it, a verdict is given.
        delta: The claimed δ.
        alpha: One minus the confidence level of the AUC interval and the ε bounds.
        threshold_choice: See :func:`dpsynth.audit.epsilon.epsilon_from_scores`.
        n_boot: Bootstrap resamples for the AUC interval.
        max_ci_width: Widest AUC interval at which "consistent" may be said. "consistent"
            also needs the interval's top below :func:`~dpsynth.audit.epsilon.max_dp_auc` of
            the claim, and enough games that a perfect attack could have shown a violation.
        random_state: Seed for the bootstrap and Monte Carlo.

    Returns:
        An :class:`AttackResult`.

    Raises:
        InvalidParameterError: For mismatched inputs or a single class.
    """
    s = np.asarray(scores, dtype=float)
    m = np.asarray(members, dtype=bool)
    if s.ndim != 1 or s.shape != m.shape or len(s) < 2:
        raise InvalidParameterError(
            f"'scores' and 'members' must be 1-d, of equal length >= 2. Got {s.shape} and {m.shape}."
        )
    if m.all() or not m.any():
        raise InvalidParameterError("The games need both members and non-members; play more games.")
    rng = np.random.default_rng(random_state)
    fpr, tpr, _ = roc_curve(m, s)
    auc = auc_score(s, m)
    ci = bootstrap_auc(s, m, n_boot=n_boot, alpha=alpha, rng=rng)
    cp = epsilon_from_scores(
        s, m, delta=delta, alpha=alpha, method="cp", choice=threshold_choice, random_state=rng
    )
    bayes = epsilon_from_scores(
        s, m, delta=delta, alpha=alpha, method="bayes", choice=threshold_choice, random_state=rng
    )
    n_pos = int(m.sum())
    best = clopper_pearson_epsilon(n_pos, 0, 0, len(m) - n_pos, delta=delta, alpha=alpha)
    v: Verdict | None = None
    if epsilon_claimed is not None:
        v = verdict(cp.epsilon_lb, epsilon_claimed, ci[1] - ci[0], max_ci_width=max_ci_width,
                    eps_lb_max=best, auc_high=ci[1], delta=delta)
    return AttackResult(
        attack=attack,
        n_games=len(s),
        n_members=int(m.sum()),
        auc=auc,
        auc_ci=ci,
        tpr_at_1pct_fpr=tpr_at_fpr(fpr, tpr, 0.01),
        tpr_at_01pct_fpr=tpr_at_fpr(fpr, tpr, 0.001),
        advantage=float(np.max(tpr - fpr)),
        epsilon_lb=cp.epsilon_lb,
        epsilon_lb_bayes=bayes.epsilon_lb,
        epsilon_claimed=epsilon_claimed,
        delta=delta,
        alpha=alpha,
        threshold_choice=threshold_choice,
        verdict=v,
        roc_fpr=tuple(float(x) for x in fpr),
        roc_tpr=tuple(float(x) for x in tpr),
        epsilon_lb_max=best,
    )

"""A membership audit of a generator: targets × games × attacks, summarised."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from dpsynth.audit._private import private_dir
from dpsynth.audit.attacks import Attack, ClosestDistanceAttack, QueryAttack
from dpsynth.audit.epsilon import ThresholdChoice, Verdict
from dpsynth.audit.game import GameResults, Generator, play_games, select_targets
from dpsynth.audit.metrics import AttackResult, evaluate_attack
from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidParameterError

_SEVERITY = {"violation": 2, "consistent": 1, "inconclusive": 0}


@dataclass(frozen=True)
class MembershipAudit:
    """The result of :func:`audit_membership`.

    Attributes:
        targets: Positions of the audited records in the population.
        games_per_target: Games played per target.
        epsilon_claimed: The generator's claimed ε.
        delta: The claimed δ.
        results: Per attack, metrics pooled over all targets' games.
        verdict: ``"violation"`` if any attack's bound exceeds the claim, otherwise
            ``"consistent"`` if any attack is conclusive, else ``"inconclusive"``.
    """

    targets: tuple[int, ...]
    games_per_target: int
    epsilon_claimed: float
    delta: float
    results: dict[str, AttackResult]
    verdict: Verdict

    @property
    def strongest(self) -> AttackResult:
        """The attack with the highest ε lower bound (ties: highest AUC)."""
        return max(self.results.values(), key=lambda r: (r.epsilon_lb, r.auc))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "targets": list(self.targets),
            "games_per_target": self.games_per_target,
            "epsilon_claimed": self.epsilon_claimed,
            "delta": self.delta,
            "verdict": self.verdict,
            "results": {k: v.to_dict() for k, v in self.results.items()},
            "note": "The audit reads raw rows on purpose; it measures the release.",
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> MembershipAudit:
        """Inverse of :meth:`to_dict`."""
        return cls(
            targets=tuple(int(t) for t in doc["targets"]),
            games_per_target=int(doc["games_per_target"]),
            epsilon_claimed=float(doc["epsilon_claimed"]),
            delta=float(doc["delta"]),
            results={k: AttackResult.from_dict(v) for k, v in doc["results"].items()},
            verdict=doc["verdict"],
        )

    def summary(self) -> str:
        """One line: the strongest attack against the claim."""
        s = self.strongest
        lo, hi = s.auc_ci
        return (
            f"Membership inference ({len(self.results)} attacks, {s.n_games} games): strongest "
            f"'{s.attack}' AUC {s.auc:.3f} (CI {lo:.3f}–{hi:.3f}), TPR@1%FPR "
            f"{s.tpr_at_1pct_fpr:.3f}, ε ≥ {s.epsilon_lb:.3g} vs claimed ε = "
            f"{self.epsilon_claimed:g}: {self.verdict}."
        )


def audit_membership(
    population: pd.DataFrame,
    domain: Domain,
    generator: Generator,
    *,
    epsilon_claimed: float,
    delta: float = 0.0,
    m: int,
    games: int = 200,
    attacks: list[Attack] | None = None,
    targets: Literal["outliers", "random"] | list[int] = "outliers",
    n_targets: int = 1,
    n_synth: int | None = None,
    use_reference: bool = False,
    alpha: float = 0.05,
    threshold_choice: ThresholdChoice = "bonferroni",
    n_jobs: int = 1,
    random_state: int = 0,
    results_dir: str | os.PathLike[str] | None = None,
) -> MembershipAudit:
    """Play membership games against ``generator`` and compare the evidence with its claim.

    Args:
        population: Records the games draw training sets from.
        domain: Their public domain.
        generator: ``generator(train, domain, n_synth, seed) -> synthetic frame``.
        epsilon_claimed: The ε the generator claims (per fit).
        delta: The δ it claims.
        m: Training-set size in the member world.
        games: Games per target.
        attacks: Attacks to run on each game's synthetic data (default: closest-distance and
            query-based).
        targets: ``"outliers"``, ``"random"``, or explicit positions in ``population``.
        n_targets: How many targets to select (ignored for explicit positions).
        n_synth: Synthetic rows per game (default ``m``).
        use_reference: Give attacks the population records outside each training set.
        alpha: One minus the confidence level.
        threshold_choice: See :func:`dpsynth.audit.epsilon.epsilon_from_scores`.
        n_jobs: Parallel workers.
        random_state: Seed for targets, games and bootstrap.
        results_dir: Folder for one JSON-lines file of games per audit; reruns resume.

    Returns:
        A :class:`MembershipAudit`.

    Raises:
        InvalidParameterError: For bad parameters.
    """
    if not epsilon_claimed > 0:
        raise InvalidParameterError(
            f"The 'epsilon_claimed' parameter must be > 0. Got {epsilon_claimed!r}."
        )
    atk: list[Attack] = attacks if attacks is not None else [ClosestDistanceAttack(), QueryAttack()]
    if isinstance(targets, str):
        chosen = select_targets(
            population, domain, n_targets, method=targets, random_state=random_state
        )
    else:
        chosen = [int(t) for t in targets]
    path = None
    if results_dir is not None:
        path = private_dir(results_dir) / "membership_games.jsonl"
    played: list[GameResults] = [
        play_games(
            population,
            domain,
            generator,
            atk,
            target=t,
            m=m,
            games=games,
            n_synth=n_synth,
            use_reference=use_reference,
            n_jobs=n_jobs,
            random_state=random_state,
            results_path=path,
        )
        for t in chosen
    ]
    members = np.concatenate([p.members for p in played])
    results = {
        a.name: evaluate_attack(
            np.concatenate([p.scores[a.name] for p in played]),
            members,
            attack=a.name,
            epsilon_claimed=epsilon_claimed,
            delta=delta,
            alpha=alpha,
            threshold_choice=threshold_choice,
            random_state=random_state,
        )
        for a in atk
    }
    verdicts = [r.verdict for r in results.values() if r.verdict is not None]
    overall: Verdict = max(verdicts, key=lambda v: _SEVERITY[v]) if verdicts else "inconclusive"
    return MembershipAudit(
        targets=tuple(chosen),
        games_per_target=games,
        epsilon_claimed=epsilon_claimed,
        delta=delta,
        results=results,
        verdict=overall,
    )

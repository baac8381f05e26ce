"""dpsynth.audit: membership-inference games, attacks and empirical ε.

The audit reads raw rows on purpose: it measures a release, it is not part of one.
"""

from dpsynth.audit.attacks import Attack, ClosestDistanceAttack, QueryAttack, get_attack
from dpsynth.audit.epsilon import (
    bayesian_epsilon,
    clopper_pearson_epsilon,
    epsilon_from_scores,
    implied_epsilon,
    verdict,
)
from dpsynth.audit.game import GameResults, SynthesizerGenerator, play_games, select_targets
from dpsynth.audit.membership import MembershipAudit, audit_membership
from dpsynth.audit.metrics import AttackResult, evaluate_attack

__all__ = [
    "Attack",
    "AttackResult",
    "ClosestDistanceAttack",
    "GameResults",
    "MembershipAudit",
    "QueryAttack",
    "SynthesizerGenerator",
    "audit_membership",
    "bayesian_epsilon",
    "clopper_pearson_epsilon",
    "epsilon_from_scores",
    "evaluate_attack",
    "get_attack",
    "implied_epsilon",
    "play_games",
    "select_targets",
    "verdict",
]

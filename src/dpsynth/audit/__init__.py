"""dpsynth.audit: membership-inference games, attacks, reconstruction and empirical ε.

The audit reads raw rows on purpose: it measures a release, it is not part of one.
"""

from dpsynth.audit.attacks import (
    Attack,
    ClosestDistanceAttack,
    DensityRatioAttack,
    QueryAttack,
    ShadowModelAttack,
    get_attack,
    shadow_features,
)
from dpsynth.audit.canary import (
    OneRunAudit,
    audit_one_run,
    laplace_canary_release,
    one_run_epsilon,
    one_run_p_value,
)
from dpsynth.audit.canary_dpsgd import DPSGDCanaryAudit, audit_dpsgd_canaries, default_k_values
from dpsynth.audit.epsilon import (
    bayesian_epsilon,
    clopper_pearson_epsilon,
    epsilon_from_scores,
    implied_epsilon,
    max_dp_auc,
    verdict,
)
from dpsynth.audit.game import (
    GameResults,
    SynthesizerGenerator,
    play_games,
    resample_rows,
    select_targets,
)
from dpsynth.audit.membership import MembershipAudit, audit_membership
from dpsynth.audit.metrics import AttackResult, evaluate_attack
from dpsynth.audit.reconstruction import (
    MethodScore,
    ReconstructionResult,
    audit_reconstruction,
    reconstruction_scores,
)
from dpsynth.audit.runner import AuditReport, run_audit
from dpsynth.audit.worst_case import (
    FeatureBound,
    TranscriptData,
    WorstCaseAudit,
    audit_worst_case,
    worst_case_pair,
)

__all__ = [
    "Attack",
    "AttackResult",
    "AuditReport",
    "ClosestDistanceAttack",
    "DPSGDCanaryAudit",
    "DensityRatioAttack",
    "FeatureBound",
    "GameResults",
    "MembershipAudit",
    "MethodScore",
    "OneRunAudit",
    "QueryAttack",
    "ReconstructionResult",
    "ShadowModelAttack",
    "SynthesizerGenerator",
    "TranscriptData",
    "WorstCaseAudit",
    "audit_dpsgd_canaries",
    "audit_membership",
    "audit_one_run",
    "audit_reconstruction",
    "audit_worst_case",
    "bayesian_epsilon",
    "clopper_pearson_epsilon",
    "default_k_values",
    "epsilon_from_scores",
    "evaluate_attack",
    "get_attack",
    "implied_epsilon",
    "laplace_canary_release",
    "max_dp_auc",
    "one_run_epsilon",
    "one_run_p_value",
    "play_games",
    "reconstruction_scores",
    "resample_rows",
    "run_audit",
    "select_targets",
    "shadow_features",
    "verdict",
    "worst_case_pair",
]

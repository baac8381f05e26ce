"""Privacy core: noise, mechanisms, accounting and f-DP."""

from dpsynth.privacy.accounting import Accountant, LedgerEntry, PrivacyBudget, PrivacyReport
from dpsynth.privacy.mechanisms import (
    ExponentialMechanism,
    GaussianMechanism,
    LaplaceMechanism,
    Mechanism,
    SubsampledGaussianMechanism,
)
from dpsynth.privacy.random import NoiseSource, make_rng

__all__ = [
    "Accountant",
    "ExponentialMechanism",
    "GaussianMechanism",
    "LaplaceMechanism",
    "LedgerEntry",
    "Mechanism",
    "NoiseSource",
    "PrivacyBudget",
    "PrivacyReport",
    "SubsampledGaussianMechanism",
    "make_rng",
]

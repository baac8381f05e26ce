"""Local differential privacy: each user randomises their own record; the server sees only reports.

* :mod:`~dpsynth.ldp.oracles`: frequency oracles for one attribute (GRR, OUE, SUE, OLH,
  Hadamard response) with unbiased estimators and their variances.
* :mod:`~dpsynth.ldp.multi`: several attributes per user (SPL, SMP, RS+FD).
* :mod:`~dpsynth.ldp.longitudinal`: repeated collections with memoisation (L-GRR, L-OSUE).
* :mod:`~dpsynth.ldp.accounting`: pure ε-LDP charges and their privacy report.
* :mod:`~dpsynth.ldp.synth`: synthetic data from LDP marginal reports through the
  graphical-model estimator.
"""

from dpsynth.ldp.accounting import LocalAccountant, LocalRandomizer
from dpsynth.ldp.longitudinal import LGRR, LOSUE, PrivacyStatement
from dpsynth.ldp.multi import RSFD, SMP, SPL, SMPReports
from dpsynth.ldp.oracles import (
    GRR,
    OLH,
    OUE,
    SUE,
    FrequencyEstimate,
    FrequencyOracle,
    HadamardResponse,
    clip_normalize,
    make_oracle,
    project_simplex,
)
from dpsynth.ldp.synth import CollectionPlan, LDPSynthesizer, SimulatedUsers, randomize_marginal

__all__ = [
    "GRR",
    "LGRR",
    "LOSUE",
    "OLH",
    "OUE",
    "RSFD",
    "SMP",
    "SPL",
    "SUE",
    "CollectionPlan",
    "FrequencyEstimate",
    "FrequencyOracle",
    "HadamardResponse",
    "LDPSynthesizer",
    "LocalAccountant",
    "LocalRandomizer",
    "PrivacyStatement",
    "SMPReports",
    "SimulatedUsers",
    "clip_normalize",
    "make_oracle",
    "project_simplex",
    "randomize_marginal",
]

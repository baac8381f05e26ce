"""Federated synthesis: clients hold partitions of the rows; only noisy, securely aggregated sums leave them.

* :mod:`~dpsynth.federated.protocol`: distributed discrete Gaussian noise, pairwise-mask
  secure aggregation (simulated), the mechanism the server's accountant charges.
* :mod:`~dpsynth.federated.mst`: federated MST on the graphical-model estimator, and an
  in-process federation for tests and benchmarks.
* :mod:`~dpsynth.federated.aim`: federated AIM (DistAIM style: selection in a simulated
  secure computation, measurements with distributed noise).
* :mod:`~dpsynth.federated.fedsyn`: the neural baseline, a VAE trained by distributed DP-SGD
  (FedSyn-style federated training of a generator).
* :mod:`~dpsynth.federated.flower`: the same client and server logic as Flower apps, in
  process, in Flower's Simulation Engine, or as SuperLink/SuperNode processes (``write_app``).
"""

from dpsynth.federated.aim import FederatedAIM
from dpsynth.federated.fedsyn import FederatedDPVAE, FedSynFederation
from dpsynth.federated.mst import FedClient, FederatedMST, InProcessFederation, split_rows
from dpsynth.federated.protocol import (
    DistributedGaussianMechanism,
    aggregate,
    client_contribution,
    kls_epsilon,
)

__all__ = [
    "DistributedGaussianMechanism",
    "FedClient",
    "FedSynFederation",
    "FederatedAIM",
    "FederatedDPVAE",
    "FederatedMST",
    "InProcessFederation",
    "aggregate",
    "client_contribution",
    "kls_epsilon",
    "split_rows",
]

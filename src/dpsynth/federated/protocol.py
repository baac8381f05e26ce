"""Federated marginal measurement: distributed discrete Gaussian noise under secure aggregation.

K clients each hold a partition of the rows. To measure a list of marginals, every client
computes its local counts, adds its *share* of discrete Gaussian noise (σᵢ² = σ²/K, so the
sum carries variance σ²), adds pairwise masks that cancel in the sum (Bonawitz et al.
2017's secure aggregation, simulated without dropouts), and sends the masked vector
modulo 2³². The server adds the vectors: the masks cancel and it learns only the noisy
total. No party sees an un-noised local count: the server sees masked vectors, and each
client only its own data.

The clients' pairwise seeds stand for a Diffie–Hellman key agreement; in this simulation a
trusted set-up (:func:`pairwise_seeds`) draws them from ``os.urandom`` and hands each
client only the seeds it shares. Masks are expanded with SHAKE-128.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dp_accounting
import numpy as np

from dpsynth.errors import InvalidDataError, InvalidParameterError, MetadataError, check_positive
from dpsynth.privacy import Mechanism, NoiseSource

#: Secure aggregation works in the ring of integers modulo 2³².
MODULUS = 2**32
Clique = tuple[str, ...]


def kls_epsilon(sigma: float, clients: int, dim: int, sensitivity: float = 1.0) -> float:
    """The concentrated-DP ε of a sum of ``clients`` discrete Gaussians of variance σ²/clients each.

    Kairouz, Liu, Steinke (ICML 2021), Thm. 1: the sum of n i.i.d. N_Z(0, σᵢ²) on Z^d is
    ½ε²-concentrated DP for an L2 sensitivity Δ, with
    ε = min{ √(Δ²/(nσᵢ²) + τd/2), Δ/√(nσᵢ²) + τ√d },  τ = 10 Σ_{k=1}^{n−1} exp(−2π²σᵢ² k/(k+1)),
    valid for σᵢ ≥ 1/2. With nσᵢ² = σ² this is the central Δ/σ plus a term that vanishes
    quickly as σᵢ grows.
    """
    share2 = sigma**2 / clients
    if share2 < 0.25:
        raise InvalidParameterError(
            f"Each client's noise share must have sigma >= 1/2 (got {math.sqrt(share2):.3g} with {clients} clients): "
            "the distributed discrete Gaussian bound does not hold below it. Use fewer clients or more noise."
        )
    tau = 10.0 * sum(math.exp(-2 * math.pi**2 * share2 * k / (k + 1)) for k in range(1, clients))
    return min(math.sqrt(sensitivity**2 / sigma**2 + tau * dim / 2), sensitivity / sigma + tau * math.sqrt(dim))


@dataclass(frozen=True)
class DistributedGaussianMechanism(Mechanism):
    """A vector query answered as the sum of K clients' values, each with a discrete Gaussian share.

    Privacy:
        Add/remove one row (of any client) changes each marginal by one cell: L2
        sensitivity ``sensitivity`` per released vector. ρ = ε²/2 with ε from
        :func:`kls_epsilon` (slightly above the central Δ²/(2σ²) because a sum of discrete
        Gaussians is not exactly a discrete Gaussian). Event: ``GaussianDpEvent`` with the
        same ρ.

    Args:
        sigma: Standard deviation of the summed noise.
        clients: K, the number of clients adding a share.
        dim: Length of the largest released vector.
        sensitivity: L2 sensitivity.
    """

    sigma: float
    clients: int
    dim: int
    sensitivity: float = 1.0
    name: str = "distributed_discrete_gaussian"

    def __post_init__(self) -> None:
        check_positive(self.sigma, "sigma", "DistributedGaussianMechanism")
        if isinstance(self.clients, bool) or not isinstance(self.clients, int) or self.clients < 1:
            raise InvalidParameterError(f"The number of clients must be an integer >= 1. Got {self.clients!r}.")
        kls_epsilon(self.sigma, self.clients, self.dim, self.sensitivity)  # validates σᵢ

    @property
    def effective_sensitivity(self) -> float:
        """Δ such that the charged ρ = Δ²/(2σ²)."""
        return kls_epsilon(self.sigma, self.clients, self.dim, self.sensitivity) * self.sigma

    @property
    def rho(self) -> float:  # noqa: D102
        return self.effective_sensitivity**2 / (2 * self.sigma**2)

    @property
    def mu(self) -> float:  # noqa: D102
        return self.effective_sensitivity / self.sigma

    @property
    def event(self) -> dp_accounting.DpEvent:  # noqa: D102
        return dp_accounting.GaussianDpEvent(self.sigma / self.effective_sensitivity)

    @property
    def noise_scale(self) -> float:  # noqa: D102
        return self.sigma

    def describe(self) -> str:  # noqa: D102
        return (f"distributed discrete Gaussian, sigma={self.sigma:.4g} summed over {self.clients} clients "
                f"(each sigma={self.sigma / math.sqrt(self.clients):.4g}), L2 sensitivity={self.sensitivity:g}")


def pairwise_seeds(clients: int) -> list[dict[int, bytes]]:
    """Simulated key agreement: for each client, the 32-byte seeds it shares with every other."""
    seeds: list[dict[int, bytes]] = [{} for _ in range(clients)]
    for i in range(clients):
        for j in range(i + 1, clients):
            s = os.urandom(32)
            seeds[i][j] = s
            seeds[j][i] = s
    return seeds


def _mask(seed: bytes, round_id: int, size: int) -> np.ndarray:
    stream = hashlib.shake_128(seed + round_id.to_bytes(8, "little")).digest(4 * size)
    return np.frombuffer(stream, dtype="<u4").astype(np.int64)


def client_contribution(
    counts: np.ndarray,
    *,
    index: int,
    seeds: dict[int, bytes],
    round_id: int,
    sigma: float,
    clients: int,
    noise: NoiseSource,
) -> np.ndarray:
    """What one client sends: its counts plus its noise share plus its pairwise masks, mod 2³².

    Privacy:
        The noise share is N_Z(0, σ²/K); alone it does not protect the client's counts
        (the masks do, from the server), but the sum over K clients is the distributed
        discrete Gaussian the server's accountant charged.
    """
    share = sigma / math.sqrt(clients)
    noisy = counts + noise.discrete_gaussian(share, counts.shape)
    masked = noisy.astype(np.int64) % MODULUS
    for other, seed in seeds.items():
        m = _mask(seed, round_id, counts.size)
        masked = (masked + m) % MODULUS if other > index else (masked - m) % MODULUS
    return masked.astype(np.uint32)


def aggregate(vectors: list[np.ndarray]) -> np.ndarray:
    """Server side: sum the masked vectors mod 2³² and read the result as signed integers."""
    if not vectors:
        raise InvalidDataError("Secure aggregation needs at least one client's vector.")
    size = vectors[0].size
    if any(v.size != size for v in vectors):
        raise InvalidDataError("The clients sent vectors of different lengths.")
    total = np.zeros(size, dtype=np.int64)
    for v in vectors:
        total = (total + v.astype(np.int64)) % MODULUS
    return np.where(total >= MODULUS // 2, total - MODULUS, total)


def check_federation(partitions: Sequence[Any], domain: object) -> None:
    """Refuse a federation before any client is asked: a public, complete domain and one frame per client.

    Raises:
        InvalidParameterError: ``domain`` is not a Domain.
        MetadataError: Some column lacks declared categories or bounds (every client shares
            one public domain; nothing may be inferred from one client's rows).
        InvalidDataError: ``partitions`` is not a non-empty list of DataFrames.
    """
    import pandas as pd

    from dpsynth.data.domain import Domain

    if not isinstance(domain, Domain):
        raise InvalidParameterError(f"A federation needs a Domain. Got {type(domain).__name__}.")
    if domain.needs_inference:
        raise MetadataError([f"column {n!r} has no declared categories or bounds" for n in domain.needs_inference],
                            hint="Declare every column in the public metadata shared by all clients.")
    if len(partitions) < 1 or not all(isinstance(p, pd.DataFrame) for p in partitions):
        raise InvalidDataError("A federation needs a list of at least one client DataFrame.")

"""Federated MST: horizontal federation, distributed noise, the same graphical model as central MST.

The server plans every round and keeps the only :class:`~dpsynth.privacy.Accountant`; the
clients answer marginal-count requests with :func:`~dpsynth.federated.protocol.client_contribution`
(their noise share, masked). Rounds follow MST (McKenna, Miklau, Sheldon 2021), with ρ
split in three:

1. every one-way marginal (then MST's domain compression, post-processing);
2. every pair on the compressed domain; the server scores each pair by how badly the
   one-way model explains its noisy answer (minus the L1 norm noise alone would give)
   and keeps the maximum spanning tree (post-processing of noisy answers — the
   DistAIM-style "noisy federated scores" in place of an exponential mechanism that
   would need the exact scores inside secure computation);
3. the tree's pairs, with what is left.

:class:`InProcessFederation` runs the clients in this process (tests, benchmarks);
:mod:`dpsynth.federated.flower` carries the same requests over Flower.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from typing import Any, Protocol, Self

import numpy as np
import pandas as pd

from dpsynth.data.counts import local_counts
from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.errors import (
    BudgetExceededError,
    InvalidParameterError,
)
from dpsynth.federated.protocol import (
    Clique,
    DistributedGaussianMechanism,
    aggregate,
    check_federation,
    client_contribution,
    pairwise_seeds,
)
from dpsynth.pgm import Domain as PGMDomain
from dpsynth.pgm import GraphicalModel, Measurement, estimate
from dpsynth.privacy import Accountant, NoiseSource, PrivacyBudget
from dpsynth.privacy.random import RandomState, make_rng
from dpsynth.synth.base import as_budget
from dpsynth.synth.mst import MST, Coarsening, kruskal, measure_oneway


class FedClient:
    """One client: its rows (never sent), its pairwise seeds and its noise source.

    Args:
        table: The client's rows (a DataFrame with every domain column).
        domain: The public domain (complete: no inference from anyone's rows).
        index: The client's position 0 … K−1.
        seeds: The secure-aggregation seeds it shares with each other client.
        random_state: Seed of its noise share (research only; None = os.urandom).
    """

    def __init__(self, table: pd.DataFrame, domain: Domain, index: int, seeds: dict[int, bytes],
                 *, random_state: RandomState = None) -> None:
        self._codes = Discretizer(domain).encode_frame(table)  # rejects values outside the domain
        self._names = tuple(domain.names)
        self._sizes = Discretizer(domain).sizes
        self.index = index
        self._seeds = seeds
        # Seeded (research) noise is derived per round, so a client rebuilt between rounds
        # (as Flower may do) never repeats a round's noise.
        self._seed = None if random_state is None else int(make_rng(random_state).integers(2**62))
        self._noise = NoiseSource(None) if random_state is None else None

    def handle(self, request: dict[str, Any]) -> np.ndarray:
        """Answer one measurement request: the masked, noise-shared counts of its cliques."""
        cliques = [tuple(c) for c in request["cliques"]]
        coarsen = {a: np.asarray(m, dtype=np.int64) for a, m in (request.get("coarsen") or {}).items()}
        counts = local_counts(self._codes, self._sizes, self._names, cliques, coarsen or None)
        round_id = int(request["round"])
        noise = self._noise or NoiseSource(np.random.default_rng([self._seed or 0, round_id]))
        if request.get("individual"):
            # Released on its own (parallel composition over the clients' disjoint rows): full σ, no masks.
            seeds: dict[int, bytes] = {}
        elif request.get("members") is not None:
            members = set(request["members"])  # masks pair only the clients taking part this round
            seeds = {j: s for j, s in self._seeds.items() if j in members}
        else:
            seeds = self._seeds
        return client_contribution(counts, index=self.index, seeds=seeds, round_id=round_id,
                                   sigma=float(request["sigma"]), clients=int(request["clients"]), noise=noise)


class Federation(Protocol):
    """The server's view of the clients: the public domain, how many, and a broadcast."""

    domain: Domain
    n_clients: int

    def broadcast(self, request: dict[str, Any]) -> list[np.ndarray]:
        """Send ``request`` to every client; return their masked vectors."""


class InProcessFederation:
    """K clients simulated in this process (each request is a JSON round-trip, as on the wire).

    Args:
        partitions: One DataFrame of rows per client.
        domain: The public domain.
        random_state: Seed of the clients' noise shares (research only; None = os.urandom).
    """

    def __init__(self, partitions: Sequence[pd.DataFrame], domain: Domain, *, random_state: RandomState = None) -> None:
        check_federation(partitions, domain)
        self.domain = domain
        self.n_clients = len(partitions)
        seeds = pairwise_seeds(self.n_clients)
        rng = make_rng(random_state) if random_state is not None else None
        self.seeded = rng is not None
        self._clients = [
            FedClient(p, domain, i, seeds[i], random_state=None if rng is None else int(rng.integers(2**62)))
            for i, p in enumerate(partitions)
        ]
        self.bytes_up = np.zeros(self.n_clients, dtype=np.int64)
        self.bytes_down = np.zeros(self.n_clients, dtype=np.int64)

    def broadcast(self, request: dict[str, Any], only: Sequence[int] | None = None) -> list[np.ndarray]:
        """Send ``request`` to every client (or those in ``only``); return their masked vectors."""
        wire = json.dumps(request)
        out = []
        for c in self._clients if only is None else [self._clients[i] for i in only]:
            vec = c.handle(json.loads(wire))
            self.bytes_down[c.index] += len(wire.encode())
            self.bytes_up[c.index] += vec.nbytes
            out.append(vec)
        return out


def _sigma_for(rho: float, count: int, clients: int, dim: int) -> float:
    """The smallest σ (within 0.1%) whose ``count`` distributed releases cost at most ``rho``."""
    if rho <= 0:
        raise BudgetExceededError("No budget left to measure.")
    sigma = max(math.sqrt(count / (2.0 * rho)), 0.5 * math.sqrt(clients))
    while count * DistributedGaussianMechanism(sigma, clients, dim).rho > rho:
        sigma *= 1.001
    return sigma


class FederatedMST(MST):
    """MST over a horizontal federation with distributed discrete Gaussian noise.

    Args:
        iters: Iterations of the final graphical-model estimation.
        select_iters: Iterations of the one-way model used to score pairs.
        random_state: Seed for tests and research only (the report then says not for release).
    """

    name = "federated_mst"

    def fit(self, data: Federation, budget: PrivacyBudget | tuple[float, float] | float) -> Self:  # type: ignore[override]
        """Run the federated rounds and fit the model.

        Args:
            data: The federation (e.g. :class:`InProcessFederation`, or Flower's driver).
            budget: The (ε, δ) budget of the whole federation, under add/remove one row.
        """
        self._validate_params()
        budget = as_budget(budget)
        if not all(hasattr(data, a) for a in ("broadcast", "n_clients", "domain")):
            raise InvalidParameterError(f"FederatedMST.fit needs a federation (e.g. InProcessFederation). Got {type(data).__name__}.")
        domain = data.domain
        names = tuple(domain.names)
        if len(names) < 2:
            raise InvalidParameterError("FederatedMST needs at least two columns.")
        K = int(data.n_clients)
        seeded = self.random_state is not None or bool(getattr(data, "seeded", False))
        accountant = Accountant(budget, seeded=seeded)
        accountant.notes.append(
            f"Federated over {K} clients: each marginal is a secure-aggregation sum of the clients' counts, each with "
            "its share of discrete Gaussian noise; the server saw only the noisy sums."
        )
        sizes = Discretizer(domain).sizes
        dom = PGMDomain(names, tuple(sizes[a] for a in names))
        rho = accountant.rho_remaining
        self._round = 0

        def measure(cliques: Sequence[Clique], rho: float, coarsen: Coarsening | None, step: str) -> list[Measurement]:
            return self._measure(data, accountant, dom, cliques, rho, K, coarsen, step)

        coarsen, cdom, log, oneway = measure_oneway(measure, dom, rho / 3, "federated_mst.measure_1way",
                                                    self.select_iters)
        pairs = list(itertools.combinations(names, 2))
        sel = measure(pairs, rho / 3, coarsen, "federated_mst.select")
        tree = _spanning_tree(names, sel, oneway)
        final = measure(tree, accountant.rho_remaining * (1 - 1e-9), coarsen, "federated_mst.measure_2way")
        log += final + [m for m in sel if m.clique in tree]
        self.model_ = estimate(cdom, log, iters=self.iters)
        self.coarsen_ = coarsen
        self.tree_ = tree
        self.domain_ = domain
        self._report = accountant.report()
        return self

    def _measure(self, fed: Federation, accountant: Accountant, dom: PGMDomain, cliques: Sequence[Clique],
                 rho: float, K: int, coarsen: Coarsening | None, step: str) -> list[Measurement]:
        """Secure-aggregation counts of ``cliques`` on ``dom`` (compressed by ``coarsen`` when given), at ``rho``."""
        if coarsen is not None:
            dom = PGMDomain(dom.attrs, tuple(int(coarsen[a].max()) + 1 for a in dom.attrs))
        dims = [dom.size(c) for c in cliques]
        sigma = _sigma_for(rho, len(cliques), K, max(dims))
        mech = DistributedGaussianMechanism(sigma, K, max(dims))
        accountant.charge(mech, step=step, count=len(cliques),
                          description="marginals " + ", ".join("×".join(c) for c in cliques))
        self._round += 1
        request = {"round": self._round, "cliques": [list(c) for c in cliques], "sigma": sigma, "clients": K,
                   "coarsen": None if coarsen is None else {a: m.tolist() for a, m in coarsen.items()}}
        total = aggregate(fed.broadcast(request))
        out, start = [], 0
        for c, n in zip(cliques, dims, strict=True):
            out.append(Measurement(tuple(c), total[start : start + n].astype(np.float64), sigma))
            start += n
        return out

    def _fit(self, data: Any) -> None:  # pragma: no cover - fit is overridden
        raise NotImplementedError

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state, arrays = super()._get_state()
        state["tree"] = [list(p) for p in self.tree_]
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(state, arrays)
        self.tree_ = [tuple(p) for p in state.get("tree", [])]


def _spanning_tree(names: Sequence[str], noisy: list[Measurement], model: GraphicalModel) -> list[Clique]:
    """Maximum spanning tree of the pairs' noisy scores (post-processing of noisy answers).

    A pair's score is how badly the one-way model explains its noisy answer (L1), minus the
    L1 norm the noise alone would give.
    """
    score = {
        m.clique: float(np.abs(m.values - model.project(m.clique).ravel()).sum())
        - math.sqrt(2 / math.pi) * m.sigma * m.values.size
        for m in noisy
    }
    pairs = [(m.clique[0], m.clique[1]) for m in noisy]
    return list(kruskal(names, pairs, lambda cands: int(np.argmax([score[c] for c in cands]))))


def split_rows(frame: pd.DataFrame, clients: int, *, by: str | None = None,
               random_state: RandomState = None) -> list[pd.DataFrame]:
    """Partition rows among clients: IID (shuffled, equal sizes) or non-IID by a column's value.

    Non-IID: the column's distinct values are dealt round-robin (largest first) to clients,
    so each client holds whole groups (e.g. all rows of some occupations).
    """
    rng = make_rng(random_state)
    if by is None:
        idx = rng.permutation(len(frame))
        return [frame.iloc[np.sort(part)].reset_index(drop=True) for part in np.array_split(idx, clients)]
    if by not in frame.columns:
        raise InvalidParameterError(f"Cannot split by unknown column {by!r}.")
    counts = frame[by].value_counts()
    owner = {v: i % clients for i, v in enumerate(counts.index)}
    key = frame[by].map(owner)
    return [frame[key == i].reset_index(drop=True) for i in range(clients)]

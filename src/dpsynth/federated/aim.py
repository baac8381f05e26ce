"""Federated AIM in the DistAIM style: selection inside secure computation, distributed measurement noise.

AIM (McKenna et al. 2022) picks, each round, the marginal worst explained by the current
model with the exponential mechanism on *exact* scores ‖M_r(D) − estimate_r‖₁. Those scores
are not sums of per-client quantities, so no aggregate of noisy client answers gives them
at the exponential mechanism's price. DistAIM (Pereira et al. 2022; the baseline of FLAIM,
Maddock et al. 2024) therefore runs the selection inside secure multi-party computation:
the clients secret-share their local candidate marginals once, the computation sums them,
scores the candidates, adds the Gumbel noise and reveals only the selected index.

Here that computation is *simulated* by :class:`SimulatedSecureSelection`, an object that
receives the clients' exact local marginals and returns only indices; the server's code
never reads a sum from it. Measurements go through the same rounds as federated MST: each
client adds its share of discrete Gaussian noise and masks, the server learns the noisy sum.
The server's :class:`~dpsynth.privacy.Accountant` charges exactly what central AIM charges
(the exponential mechanism, and the distributed discrete Gaussian's slightly larger ρ for
each measurement). The algorithm itself is AIM's own code (:class:`dpsynth.synth.aim.AIM`),
driven through :class:`FederatedQueries`, which offers the two calls AIM makes.

Trust assumption: the secure computation (in a deployment, MPC servers that do not collude)
sees the exact global candidate marginals; no single party, the server included, does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np

from dpsynth.data.discretize import Discretizer
from dpsynth.errors import BudgetExceededError, InvalidParameterError
from dpsynth.federated.mst import FedClient, InProcessFederation
from dpsynth.federated.protocol import Clique, DistributedGaussianMechanism, aggregate, local_counts
from dpsynth.pgm import Domain as PGMDomain
from dpsynth.pgm import Measurement
from dpsynth.privacy import Accountant, ExponentialMechanism, NoiseSource, PrivacyBudget
from dpsynth.synth.aim import AIM
from dpsynth.synth.base import as_budget


class SimulatedSecureSelection:
    """Stands in for the MPC that runs AIM's selection: it sees exact sums, it reveals an index.

    Args:
        clients: The clients whose local marginals are secret-shared into the computation.
        noise: The computation's noise source (the Gumbel noise of the exponential mechanism).
    """

    def __init__(self, clients: Sequence[FedClient], noise: NoiseSource) -> None:
        self._clients = list(clients)
        self._noise = noise
        self._cache: dict[tuple[Clique, bytes], np.ndarray] = {}
        self.shared_bytes = np.zeros(len(self._clients), dtype=np.int64)

    def _sums(self, cliques: Sequence[Clique], coarsen: Mapping[str, np.ndarray] | None) -> list[np.ndarray]:
        key_c = b"" if not coarsen else b"".join(np.asarray(coarsen[a]).tobytes() for a in sorted(coarsen))
        todo = [c for c in cliques if (c, key_c) not in self._cache]
        if todo:
            parts = []
            for i, cl in enumerate(self._clients):
                counts = local_counts(cl._codes, cl._sizes, cl._names, list(todo),
                                      None if not coarsen else {a: np.asarray(m) for a, m in coarsen.items()})
                self.shared_bytes[i] += counts.size * 4  # one 32-bit share per cell
                parts.append(counts)
            total = np.sum(parts, axis=0)
            start = 0
            for c in todo:
                size = int(np.prod([_size(self._clients[0], a, coarsen) for a in c]))
                self._cache[(c, key_c)] = total[start : start + size]
                start += size
        return [self._cache[(c, key_c)] for c in cliques]

    def select(self, cands: Sequence[Clique], estimates: Mapping[Clique, np.ndarray], mech: ExponentialMechanism,
               weights: np.ndarray, penalties: np.ndarray, coarsen: Mapping[str, np.ndarray] | None) -> int:
        """The exponential mechanism on AIM's scores; only the index leaves the computation."""
        truths = self._sums(cands, coarsen)
        scores = np.array([
            wi * (np.abs(t.ravel() - np.asarray(estimates[c]).ravel()).sum() - p)
            for c, t, wi, p in zip(cands, truths, weights, penalties, strict=True)
        ])
        return mech.select(scores, self._noise)


def _size(client: FedClient, attr: str, coarsen: Mapping[str, np.ndarray] | None) -> int:
    if coarsen and attr in coarsen:
        return int(np.asarray(coarsen[attr]).max()) + 1
    return int(client._sizes[attr])


class FederatedQueries:
    """The measurement interface AIM uses (``measure_marginals``, ``select_marginal``), federated.

    Every answer is charged to the server's accountant before anything is computed, as in
    :class:`~dpsynth.data.private.PrivateData`.
    """

    def __init__(self, fed: InProcessFederation, accountant: Accountant, secure: SimulatedSecureSelection) -> None:
        self._fed = fed
        self.accountant = accountant
        self._secure = secure
        self.domain = fed.domain
        sizes = Discretizer(fed.domain).sizes
        self.pgm_domain = PGMDomain(tuple(fed.domain.names), tuple(sizes[n] for n in fed.domain.names))
        self._round = 0

    def rho_left(self, step: str) -> float:
        """The zCDP budget still available; refuses if nothing is left."""
        rho = self.accountant.rho_remaining
        if rho <= 0.0:
            raise BudgetExceededError(f"Step {step!r} found the budget exhausted. Nothing was released; raise epsilon.")
        return rho

    def measure_marginals(self, cliques: Sequence[Clique], *, sigma: float, step: str,
                          coarsen: Mapping[str, np.ndarray] | None = None) -> list[Measurement]:
        """Noisy sums of the clients' marginals (distributed discrete Gaussian at ``sigma``)."""
        cliques = [tuple(c) for c in cliques]
        if not cliques:
            return []
        dims = [int(np.prod([_size(self._fed._clients[0], a, coarsen) for a in c])) for c in cliques]
        mech = DistributedGaussianMechanism(sigma, self._fed.n_clients, max(dims))
        self.accountant.charge(mech, step=step, count=len(cliques),
                               description="marginals " + ", ".join("×".join(c) for c in cliques))
        self._round += 1
        request = {"round": self._round, "cliques": [list(c) for c in cliques], "sigma": sigma,
                   "clients": self._fed.n_clients,
                   "coarsen": None if not coarsen else {a: np.asarray(m).tolist() for a, m in coarsen.items()}}
        total = aggregate(self._fed.broadcast(request))
        out, start = [], 0
        for c, n in zip(cliques, dims, strict=True):
            out.append(Measurement(c, total[start : start + n].astype(np.float64), sigma))
            start += n
        return out

    def select_marginal(self, candidates: Sequence[Clique], estimates: Mapping[Clique, np.ndarray], *,
                        epsilon: float, penalties: Sequence[float] | None = None,
                        weights: Sequence[float] | None = None, step: str,
                        coarsen: Mapping[str, np.ndarray] | None = None) -> int:
        """AIM's selection, run in the (simulated) secure computation; charged first."""
        cands = [tuple(c) for c in candidates]
        if not cands:
            raise InvalidParameterError("select_marginal needs at least one candidate.")
        w = np.ones(len(cands)) if weights is None else np.asarray(weights, dtype=float)
        pen = np.zeros(len(cands)) if penalties is None else np.asarray(penalties, dtype=float)
        mech = ExponentialMechanism(epsilon=epsilon, sensitivity=float(w.max()))
        self.accountant.charge(mech, step=step, description=f"select among {len(cands)} marginals (secure computation)")
        return self._secure.select(cands, estimates, mech, w, pen, coarsen)


class FederatedAIM(AIM):
    """AIM over a horizontal federation (DistAIM style); same hyper-parameters as :class:`AIM`."""

    name = "federated_aim"

    def fit(self, data: InProcessFederation, budget: PrivacyBudget | tuple[float, float] | float) -> Self:  # type: ignore[override]
        """Run AIM's rounds over the federation; the server keeps the only accountant."""
        self._validate_params()
        budget = as_budget(budget)
        if not isinstance(data, InProcessFederation):
            raise InvalidParameterError(
                "FederatedAIM needs an InProcessFederation (its selection runs in a simulated secure "
                f"computation over the clients). Got {type(data).__name__}."
            )
        seeded = self.random_state is not None or data.seeded
        accountant = Accountant(budget, seeded=seeded)
        accountant.notes.append(
            f"Federated over {data.n_clients} clients: measurements are secure-aggregation sums with distributed "
            "discrete Gaussian noise; marginal selection ran in a (simulated) secure computation that revealed "
            "only the selected marginal."
        )
        secure = SimulatedSecureSelection(data._clients, NoiseSource(self._noise_seed()))
        queries = FederatedQueries(data, accountant, secure)
        self._fit(queries)  # type: ignore[arg-type]
        self.domain_ = data.domain
        self.secure_bytes_ = secure.shared_bytes.copy()
        self._report = accountant.report()
        return self

    @classmethod
    def load(cls, path: Any) -> FederatedAIM:
        """Load a model saved with :meth:`save` (JSON and numpy arrays only, no pickle)."""
        from dpsynth.ldp.synth import load_unregistered

        model = load_unregistered(cls, path)
        assert isinstance(model, FederatedAIM)
        return model

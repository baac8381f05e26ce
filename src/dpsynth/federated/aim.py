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

from collections.abc import Callable, Mapping, Sequence
from typing import Self

import numpy as np

from dpsynth.data.counts import local_counts
from dpsynth.data.discretize import Discretizer
from dpsynth.errors import BudgetExceededError, InvalidParameterError
from dpsynth.federated.mst import FedClient, InProcessFederation, _sigma_for
from dpsynth.federated.protocol import Clique, DistributedGaussianMechanism, aggregate
from dpsynth.ldp.oracles import project_simplex
from dpsynth.pgm import Domain as PGMDomain
from dpsynth.pgm import Measurement
from dpsynth.privacy import Accountant, ExponentialMechanism, NoiseSource, PrivacyBudget
from dpsynth.privacy.random import RandomState, make_rng
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
        self._cache: dict[tuple[int, Clique, bytes], np.ndarray] = {}
        self.shared_bytes = np.zeros(len(self._clients), dtype=np.int64)

    def _sums(self, cliques: Sequence[Clique], coarsen: Mapping[str, np.ndarray] | None,
              members: Sequence[int] | None = None) -> list[np.ndarray]:
        key_c = b"" if not coarsen else b"".join(np.asarray(coarsen[a]).tobytes() for a in sorted(coarsen))
        members = range(len(self._clients)) if members is None else members
        cmap = None if not coarsen else {a: np.asarray(m) for a, m in coarsen.items()}
        for i in members:
            todo = [c for c in cliques if (i, c, key_c) not in self._cache]
            if not todo:
                continue
            cl = self._clients[i]
            counts = local_counts(cl._codes, cl._sizes, cl._names, list(todo), cmap)
            self.shared_bytes[i] += counts.size * 4  # one 32-bit share per cell, sent once
            start = 0
            for c in todo:
                size = int(np.prod([_size(cl, a, coarsen) for a in c]))
                self._cache[(i, c, key_c)] = counts[start : start + size]
                start += size
        return [np.sum([self._cache[(i, c, key_c)] for i in members], axis=0) for c in cliques]

    def select(self, cands: Sequence[Clique], estimates: Mapping[Clique, np.ndarray], mech: ExponentialMechanism,
               weights: np.ndarray, penalties: np.ndarray, coarsen: Mapping[str, np.ndarray] | None,
               members: Sequence[int] | None = None,
               fill: Callable[[Clique, np.ndarray], np.ndarray] | None = None) -> int:
        """The exponential mechanism on AIM's scores; only the index leaves the computation.

        ``members``: the clients taking part (default all); ``fill`` turns their exact sum into
        the estimate of the whole federation's marginal (public post-processing: scaling, or
        adding a released proxy of the absent clients).
        """
        truths = self._sums(cands, coarsen, members)
        if fill is not None:
            truths = [fill(c, t) for c, t in zip(cands, truths, strict=True)]
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

    With ``participation < 1`` each round asks only a random subset of the clients (chosen
    by the server, independent of the data); the participants' noisy sum then stands for
    the whole federation through ``heterogeneity``:

    * ``"scale"`` (naive federated AIM): multiply by f = ñ/ñ_S, the ratio of the noisy row
      counts of all clients and of the participants — unbiased only if clients are alike;
    * ``"proxy"`` (a private proxy of heterogeneity, in the spirit of AugFLAIM, Maddock,
      Cormode, Maple 2024): every client releases its own noisy one-way marginals once (the
      proxy); a measurement adds, for every absent client k, the participants' table raked
      (iterative proportional fitting) to k's one-way marginals, times ñ_k — so an absent
      client whose rows differ from the participants' keeps its own one-way distribution,
      and the participants' associations. Selection scales (its sensitivity stays f·Δ).
    """

    def __init__(self, fed: InProcessFederation, accountant: Accountant, secure: SimulatedSecureSelection,
                 *, participation: float = 1.0, heterogeneity: str = "proxy",
                 proxy: list[dict[str, np.ndarray]] | None = None, rng: np.random.Generator | None = None) -> None:
        self._fed = fed
        self.accountant = accountant
        self._secure = secure
        self.domain = fed.domain
        sizes = Discretizer(fed.domain).sizes
        self.pgm_domain = PGMDomain(tuple(fed.domain.names), tuple(sizes[n] for n in fed.domain.names))
        self._round = 0
        self._participation = participation
        self._heterogeneity = heterogeneity
        self._proxy = proxy or []
        self._n = np.array([float(p["__n__"][0]) for p in self._proxy]) if self._proxy else None
        self._rng = rng or np.random.default_rng()
        self.rounds_members: list[list[int]] = []

    def _members(self) -> list[int] | None:
        K = self._fed.n_clients
        if self._participation >= 1.0:
            return None
        m = max(1, round(self._participation * K))
        return sorted(int(i) for i in self._rng.choice(K, size=m, replace=False))

    def _fill(self, members: Sequence[int] | None, coarsen: Mapping[str, np.ndarray] | None, *,
              select: bool = False) -> tuple[Callable[[Clique, np.ndarray], np.ndarray] | None, float]:
        """How the participants' sum becomes the federation's marginal, and the σ multiplier.

        Selection always scales (its sensitivity must be bounded: f·Δ); measurements in
        ``"proxy"`` mode are post-processed by :meth:`_rake` instead.
        """
        if members is None or self._n is None:
            return None, 1.0
        f = float(max(self._n.sum(), 1.0) / max(self._n[list(members)].sum(), 1.0))
        if self._heterogeneity == "scale" or select:
            return (lambda c, t: t * f), f
        absent = [k for k in range(self._fed.n_clients) if k not in set(members)]
        return (lambda c, t: self._rake(c, t, absent, coarsen)), f

    def _marg(self, k: int, attr: str, coarsen: Mapping[str, np.ndarray] | None) -> np.ndarray:
        p = self._proxy[k][attr]
        return np.bincount(np.asarray(coarsen[attr]), weights=p) if coarsen and attr in coarsen else p

    def _rake(self, clique: Clique, total: np.ndarray, absent: Sequence[int],
              coarsen: Mapping[str, np.ndarray] | None, sweeps: int = 10) -> np.ndarray:
        """The participants' noisy sum plus, per absent client, the participants' table raked to its proxy.

        Absent client k is assumed to share the participants' associations but to have its own
        one-way marginals p̂_k(a) (its released proxy): iterative proportional fitting of the
        participants' (non-negative) table to those margins, times ñ_k. A small share of
        the proxies' independence product seeds cells the participants never had (e.g. an
        occupation no participant holds). Post-processing of released values only.
        """
        shape = tuple(self._marg(0, a, coarsen).size for a in clique)
        base = np.clip(total.astype(np.float64), 0.0, None).reshape(shape)
        base = base / base.sum() if base.sum() > 0 else np.full(shape, 1.0 / base.size)
        out = total.astype(np.float64).ravel().copy()
        for k in absent:
            margs = [self._marg(k, a, coarsen) for a in clique]
            table = 0.95 * base + 0.05 * _outer(margs).reshape(shape)
            for _ in range(sweeps):
                for ax, m in enumerate(margs):
                    cur = table.sum(axis=tuple(i for i in range(len(shape)) if i != ax))
                    ratio = np.divide(m, cur, out=np.zeros_like(m), where=cur > 0)
                    table = table * ratio.reshape([-1 if i == ax else 1 for i in range(len(shape))])
            out += self._n[k] * table.ravel()  # type: ignore[index]
        return out

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
        members = self._members()
        k = self._fed.n_clients if members is None else len(members)
        dims = [int(np.prod([_size(self._fed._clients[0], a, coarsen) for a in c])) for c in cliques]
        mech = DistributedGaussianMechanism(sigma, k, max(dims))
        self.accountant.charge(mech, step=step, count=len(cliques),
                               description="marginals " + ", ".join("×".join(c) for c in cliques))
        self._round += 1
        request = {"round": self._round, "cliques": [list(c) for c in cliques], "sigma": sigma, "clients": k,
                   "members": members,
                   "coarsen": None if not coarsen else {a: np.asarray(m).tolist() for a, m in coarsen.items()}}
        self.rounds_members.append(list(range(self._fed.n_clients)) if members is None else members)
        total = aggregate(self._fed.broadcast(request, only=members))
        fill, factor = self._fill(members, coarsen)
        out, start = [], 0
        for c, n in zip(cliques, dims, strict=True):
            values = total[start : start + n].astype(np.float64)
            sd = sigma * factor  # the participants' noise, carried into the absent clients' share
            out.append(Measurement(c, values if fill is None else fill(c, values), sd))
            start += n
        return out

    def select_marginal(self, candidates: Sequence[Clique], estimates: Mapping[Clique, np.ndarray], *,
                        epsilon: float, penalties: Sequence[float] | None = None,
                        weights: Sequence[float] | None = None, step: str,
                        coarsen: Mapping[str, np.ndarray] | None = None,
                        admissible: Callable[[int], bool] | None = None) -> int:
        """AIM's selection, run in the (simulated) secure computation; charged first.

        With partial participation the computation sees only the participants' marginals,
        turned into the federation's by the same public fill-in as the measurements (a
        scaling by f multiplies the scores' sensitivity by f). ``admissible`` (a public
        rule) restricts the selection to the candidates it accepts.
        """
        if admissible is not None:
            keep = [i for i in range(len(candidates)) if admissible(i)]
            sub = self.select_marginal(
                [candidates[i] for i in keep], estimates, epsilon=epsilon,
                penalties=None if penalties is None else [penalties[i] for i in keep],
                weights=None if weights is None else [weights[i] for i in keep], step=step, coarsen=coarsen,
            )
            return keep[sub]
        cands = [tuple(c) for c in candidates]
        if not cands:
            raise InvalidParameterError("select_marginal needs at least one candidate.")
        w = np.ones(len(cands)) if weights is None else np.asarray(weights, dtype=float)
        pen = np.zeros(len(cands)) if penalties is None else np.asarray(penalties, dtype=float)
        members = self._members()
        fill, factor = self._fill(members, coarsen, select=True)
        mech = ExponentialMechanism(epsilon=epsilon, sensitivity=float(w.max()) * factor)
        self.accountant.charge(mech, step=step, description=f"select among {len(cands)} marginals (secure computation)")
        return self._secure.select(cands, estimates, mech, w, pen, coarsen, members, fill)


class FederatedAIM(AIM):
    """AIM over a horizontal federation (DistAIM style); AIM's hyper-parameters plus three.

    Args:
        participation: Share of the clients asked in each round (1 = all, DistAIM). Below 1
            the rounds see a random subset, as in FLAIM's partial participation.
        heterogeneity: How a round's participants stand for the federation when
            ``participation < 1``: ``"scale"`` (naive: scale up their sum) or ``"proxy"``
            (AugFLAIM-style: absent clients enter through their own noisy one-way marginals).
        proxy_share: Share of ρ spent, when ``participation < 1``, on every client's own
            noisy one-way marginals and row count (released per client at full σ; one row
            is in one client, so the clients compose in parallel).
        **See** :class:`~dpsynth.synth.aim.AIM` for the others.
    """

    name = "federated_aim"

    def __init__(
        self,
        *,
        workload: Sequence[Sequence[str]] | None = None,
        degree: int = 3,
        max_model_size: float = 80.0,
        max_cells: int = 10_000,
        max_workload: int | None = 2048,
        compress: bool = False,
        rounds: int | None = None,
        max_rounds: int | None = None,
        time_limit: float | None = None,
        iters: int = 100,
        final_iters: int = 1000,
        participation: float = 1.0,
        heterogeneity: str = "proxy",
        proxy_share: float = 0.1,
        random_state: RandomState = None,
    ) -> None:
        super().__init__(workload=workload, degree=degree, max_model_size=max_model_size, max_cells=max_cells,
                         max_workload=max_workload, compress=compress, rounds=rounds, max_rounds=max_rounds,
                         time_limit=time_limit, iters=iters, final_iters=final_iters, random_state=random_state)
        self.participation = participation
        self.heterogeneity = heterogeneity
        self.proxy_share = proxy_share

    def _validate_params(self) -> None:
        super()._validate_params()
        if not (isinstance(self.participation, int | float) and 0.0 < self.participation <= 1.0):
            raise InvalidParameterError(
                f"The 'participation' parameter of FederatedAIM must be in (0, 1]. Got {self.participation!r} instead."
            )
        if self.heterogeneity not in ("scale", "proxy"):
            raise InvalidParameterError(
                f"The 'heterogeneity' parameter of FederatedAIM must be 'scale' or 'proxy'. Got {self.heterogeneity!r}."
            )
        if not (isinstance(self.proxy_share, int | float) and 0.0 < self.proxy_share < 1.0):
            raise InvalidParameterError(
                f"The 'proxy_share' parameter of FederatedAIM must be in (0, 1). Got {self.proxy_share!r} instead."
            )

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
        noise_seed = self._noise_seed()
        proxy = None
        if self.participation < 1.0:
            accountant.notes.append(
                f"Partial participation: each round asked {self.participation:.0%} of the clients (chosen by the "
                f"server independently of the data; no amplification is claimed); heterogeneity='{self.heterogeneity}'."
            )
            proxy = _client_proxies(data, accountant, self.proxy_share * accountant.rho_remaining)
        secure = SimulatedSecureSelection(data._clients, NoiseSource(noise_seed))
        rng = make_rng(None if noise_seed is None else int(make_rng(noise_seed).integers(2**62)) + 1)
        queries = FederatedQueries(data, accountant, secure, participation=float(self.participation),
                                   heterogeneity=self.heterogeneity, proxy=proxy, rng=rng)
        self._fit(queries)  # type: ignore[arg-type]
        self.domain_ = data.domain
        self.secure_bytes_ = secure.shared_bytes.copy()
        self.rounds_members_ = queries.rounds_members
        self._report = accountant.report()
        return self


def _client_proxies(fed: InProcessFederation, accountant: Accountant, rho: float) -> list[dict[str, np.ndarray]]:
    """Every client's own noisy one-way marginals (full σ each, no masks) and its noisy row count.

    Privacy: one row is in one client and changes one cell of each of its one-way
    marginals; the clients' releases compose in parallel, so the whole round costs what one
    client's d one-way marginals at σ cost: d discrete Gaussians of sensitivity 1.
    """
    names = tuple(fed.domain.names)
    sizes = Discretizer(fed.domain).sizes
    dims = [int(sizes[a]) for a in names]
    sigma = _sigma_for(rho, len(names), 1, max(dims))
    accountant.charge(DistributedGaussianMechanism(sigma, 1, max(dims)), step="federated_aim.proxy",
                      count=len(names), description="each client's own one-way marginals (heterogeneity proxy)")
    request = {"round": 0, "cliques": [[a] for a in names], "sigma": sigma, "clients": 1, "individual": True,
               "coarsen": None}
    out = []
    for vec in fed.broadcast(request):
        noisy = aggregate([vec]).astype(np.float64)
        splits = np.split(noisy, np.cumsum(dims)[:-1])
        n_k = max(float(np.mean([x.sum() for x in splits])), 1.0)  # each attribute's total is an unbiased count
        # Euclidean projection onto the simplex keeps the mass where the counts are (clipping
        # negatives and renormalising would spread σ-sized mass over every empty cell).
        parts = {a: project_simplex(x / n_k) for a, x in zip(names, splits, strict=True)}
        parts["__n__"] = np.array([n_k])
        out.append(parts)
    return out


def _outer(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """The flattened outer product (C order, as the marginals are laid out)."""
    out = np.ones(1)
    for v in vectors:
        out = np.multiply.outer(out, v).ravel()
    return out

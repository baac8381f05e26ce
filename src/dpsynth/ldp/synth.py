"""Synthetic data from local-DP reports.

No one holds the table: each user randomises one marginal of their own record (CALM-style:
users are split at random into groups, each group reports one marginal with a frequency
oracle at the whole ε; Zhang, Wang, Li, He, Chen 2018). The server estimates every
marginal, projects it to the probability simplex, and hands the estimates with their
variances to the same graphical-model estimator MST and AIM use (``dpsynth.pgm``), then
samples a table from the model.

Which pairs to model is chosen MST-style with LDP too: a first group of users reports
every candidate pair (one pair per user); the server keeps the maximum spanning forest of
the pairs' estimated dependence, and the remaining users report the one-way marginals and
the forest's pairs. Every user reports exactly once, so each user is ε-LDP. Users are
spread over the marginals in proportion to cells^(2/3), which minimises the summed L1 error.

At small ε a pair is worth its users only where the noise can resolve its dependence, so:
candidates are the pairs (of at most ``max_cells`` cells) whose largest possible
dependence could clear the noise of both their first-group estimate and their own later
measurement (public: it depends on ε, the number of users and the sizes only; with none,
nobody is asked to choose and the fit is the independent one); a pair joins the forest only
if its estimated dependence clears two standard deviations of its first-group noise plus
the L1 error its later measurement would have. The first group's reports of the pairs left
out are pooled (inverse-variance) into the one-way estimates.

The server side never sees a row: :class:`SimulatedUsers` stands in for the users' devices
(it runs the client code, :func:`randomize_marginal`, on each record) in tests and benchmarks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.errors import (
    InvalidDataError,
    InvalidParameterError,
    MetadataError,
)
from dpsynth.ldp.accounting import LocalAccountant, LocalRandomizer
from dpsynth.ldp.oracles import (
    FrequencyEstimate,
    FrequencyOracle,
    check_values,
    make_oracle,
    project_simplex,
)
from dpsynth.pgm import Domain as PGMDomain
from dpsynth.pgm import Measurement, estimate
from dpsynth.privacy import PrivacyBudget
from dpsynth.privacy.random import NoiseSource, RandomState, make_rng
from dpsynth.synth.base import as_budget
from dpsynth.synth.marginal import MarginalSynthesizer, check_int
from dpsynth.synth.mst import kruskal

Clique = tuple[str, ...]


def coarsening_maps(sizes: dict[str, int], max_codes: int) -> dict[str, np.ndarray]:
    """Public maps merging runs of adjacent codes so no column has more than ``max_codes``.

    Data-independent (equal-width groups of codes): it costs nothing.
    """
    maps = {}
    for name, k in sizes.items():
        groups = min(k, max_codes)
        maps[name] = (np.arange(k) * groups // k).astype(np.int64)
    return maps


@dataclass(frozen=True)
class CollectionPlan:
    """The public description of one LDP collection round.

    Attributes:
        names: Column names in domain order.
        sizes: Codes per column after coarsening (what is reported).
        coarsen: Per column, the public map from a column's codes to reported codes.
        cliques: The marginals users may be asked for.
        epsilon: ε of each user's one report.
        oracle: The frequency-oracle name (``adaptive``: GRR for small marginals, else OLH).
    """

    names: tuple[str, ...]
    sizes: tuple[int, ...]
    coarsen: dict[str, np.ndarray] = field(repr=False)
    cliques: tuple[Clique, ...]
    epsilon: float
    oracle: str = "adaptive"

    def oracle_for(self, clique: Clique) -> FrequencyOracle:
        """The oracle users assigned ``clique`` run (on its joint domain)."""
        k = math.prod(self.sizes[self.names.index(a)] for a in clique)
        return make_oracle(self.oracle, max(k, 2), self.epsilon)

    def joint_codes(self, codes: np.ndarray, clique: Clique) -> np.ndarray:
        """The flat (C-order) index of each record's cell in the coarsened marginal ``clique``."""
        out = np.zeros(codes.shape[0], dtype=np.int64)
        for a in clique:
            j = self.names.index(a)
            out = out * self.sizes[j] + self.coarsen[a][codes[:, j]]
        return out


def randomize_marginal(
    codes: np.ndarray, plan: CollectionPlan, clique: Clique, *, random_state: RandomState = None
) -> np.ndarray:
    """Client side: the ε-LDP reports of records ``codes`` (n, d) for the marginal ``clique``.

    This is what a device runs on its own record (n = 1) — or a simulator on many.
    Randomness comes from ``os.urandom`` unless ``random_state`` is given (research only).

    Privacy:
        One report per record, ε-LDP (the plan's oracle at ``plan.epsilon``).
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != len(plan.names):
        raise InvalidDataError(f"randomize_marginal needs (n, {len(plan.names)}) codes. Got shape {codes.shape}.")
    full = [len(m) for m in (plan.coarsen[a] for a in plan.names)]
    for j, k in enumerate(full):
        check_values(codes[:, j], k, f"column {plan.names[j]!r}")
    oracle = plan.oracle_for(clique)
    return oracle.randomize(plan.joint_codes(codes, clique), random_state=random_state)


class Users(Protocol):
    """The users' side of a collection: given a plan and who is asked what, their reports."""

    @property
    def domain(self) -> Domain:
        """The public domain of the records."""

    @property
    def n_users(self) -> int:
        """How many users take part (public in the local model)."""

    def respond(self, plan: CollectionPlan, users: np.ndarray, cliques: Sequence[Clique]) -> list[np.ndarray]:
        """Reports of ``users[i]`` for ``cliques[i]``, grouped: one report array per clique of ``plan.cliques``."""


class SimulatedUsers:
    """Users' devices simulated on one machine: each record is randomised by the client code.

    Used in tests and benchmarks; the synthesizer only calls :meth:`respond`, which returns
    randomised reports.

    Args:
        table: The records (a pandas DataFrame with every domain column).
        domain: Their public domain; every column's categories or bounds must be declared
            (the local model has no curator to infer them).
        random_state: Seed of the devices' randomisers (research only; None = os.urandom).
    """

    def __init__(self, table: pd.DataFrame, domain: Domain, *, random_state: RandomState = None) -> None:
        if not isinstance(domain, Domain):
            raise InvalidParameterError(f"SimulatedUsers needs a Domain. Got {type(domain).__name__}.")
        if domain.needs_inference:
            raise MetadataError(
                [f"column {n!r} has no declared categories or bounds" for n in domain.needs_inference],
                hint="Under local DP nobody can look at the data: declare every column in the metadata.",
            )
        if not isinstance(table, pd.DataFrame):
            raise InvalidDataError(f"SimulatedUsers needs a pandas DataFrame. Got {type(table).__name__}.")
        self._domain = domain
        self._codes = Discretizer(domain).encode_frame(table)  # rejects values outside the domain
        self._noise = NoiseSource(random_state)
        self.seeded = random_state is not None

    @property
    def domain(self) -> Domain:  # noqa: D102
        return self._domain

    @property
    def n_users(self) -> int:  # noqa: D102
        return int(self._codes.shape[0])

    def respond(self, plan: CollectionPlan, users: np.ndarray, cliques: Sequence[Clique]) -> list[np.ndarray]:  # noqa: D102
        users = np.asarray(users, dtype=np.int64)
        asked = np.array([plan.cliques.index(tuple(c)) for c in cliques], dtype=np.int64)
        out = []
        for i, clique in enumerate(plan.cliques):
            rows = self._codes[users[asked == i]]
            seed = int(self._noise.uniform(1)[0] * 2**53) if self.seeded else None
            out.append(randomize_marginal(rows, plan, clique, random_state=seed))
        return out


def _assignment(n: int, cells: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Each of n users gets one of the marginals, group sizes ∝ cells^(2/3), in random order.

    A marginal's L1 error from n_g reports is about cells · √(V/n_g) (V the per-cell
    variance of one report), so Σ_g cells_g/√n_g is smallest when n_g ∝ cells_g^(2/3).
    Public (depends only on the plan), so it costs nothing.
    """
    return rng.permutation(np.repeat(np.arange(len(cells)), _group_sizes(n, cells)))


def _group_sizes(n: int, cells: Sequence[int]) -> np.ndarray:
    """How many of n users report each marginal: ∝ cells^(2/3), at least one each."""
    w = np.asarray(cells, dtype=np.float64) ** (2.0 / 3.0)
    sizes = np.floor(w / w.sum() * n).astype(np.int64)
    sizes = np.maximum(sizes, 1)
    while sizes.sum() > n:
        sizes[int(np.argmax(sizes))] -= 1
    short = n - int(sizes.sum())
    if short:
        sizes[np.argsort(-(w / w.sum() * n - sizes))[:short]] += 1
    return sizes


class LDPSynthesizer(MarginalSynthesizer):
    """Synthetic data from ε-LDP reports, via the graphical-model estimator MST/AIM use.

    Args:
        oracle: Frequency oracle each user runs on their marginal (``adaptive``: GRR when
            the marginal has fewer than 3e^ε + 2 cells, else OLH; or grr/oue/sue/olh/hr).
        pairs: The 2-way marginals to model. None: choose a spanning forest with LDP from a
            first group of users (``select_share`` of them); ``[]``: one-way marginals only
            (independent columns).
        select_share: Share of users who report a pair for the selection (when ``pairs`` is None).
        max_cells: Only pairs with at most this many cells are candidates: a larger joint
            domain spreads the reports too thin to say anything under LDP. The chosen pairs
            form a maximum spanning *forest* (pairs whose dependence the noise at this ε
            cannot resolve are left out), so columns may stay independent.
        project: Project each estimated marginal onto the probability simplex before the
            graphical model sees it (False: hand it the unbiased estimate, which matches the
            estimator's Gaussian likelihood better).
        max_codes: Columns with more codes are coarsened (public, equal-width groups of codes).
        iters: Iterations of the graphical-model estimation.
        random_state: Seed for tests and research only (the report then says not for release).
    """

    name = "ldp"

    def __init__(
        self,
        *,
        oracle: str = "adaptive",
        pairs: Sequence[Sequence[str]] | None = None,
        select_share: float = 0.05,
        max_cells: int = 200,
        max_codes: int = 128,
        project: bool = True,
        iters: int = 500,
        random_state: RandomState = None,
    ) -> None:
        super().__init__(random_state=random_state)
        self.oracle = oracle
        self.pairs = pairs
        self.select_share = select_share
        self.max_cells = max_cells
        self.max_codes = max_codes
        self.project = project
        self.iters = iters

    def _validate_params(self) -> None:
        super()._validate_params()
        make_oracle(self.oracle, 2, 1.0)
        check_int(self.max_codes, "max_codes", "LDPSynthesizer", minimum=2)
        check_int(self.max_cells, "max_cells", "LDPSynthesizer", minimum=4)
        if not isinstance(self.project, bool):
            raise InvalidParameterError(f"The 'project' parameter of LDPSynthesizer must be True or False. Got {self.project!r}.")
        check_int(self.iters, "iters", "LDPSynthesizer")
        s = self.select_share
        if isinstance(s, bool) or not isinstance(s, int | float) or not 0.0 < s < 1.0:
            raise InvalidParameterError(f"The 'select_share' parameter of LDPSynthesizer must be in (0, 1). Got {s!r} instead.")
        if self.pairs is not None and (isinstance(self.pairs, str) or any(len(p) != 2 for p in self.pairs)):
            raise InvalidParameterError("The 'pairs' parameter of LDPSynthesizer must be a list of column pairs, e.g. [('age', 'sex')].")

    def fit(self, data: Users, budget: PrivacyBudget | tuple[float, float] | float) -> Self:  # type: ignore[override]
        """Collect ε-LDP reports from ``data`` (the users) and fit the model.

        Args:
            data: The users (e.g. :class:`SimulatedUsers`); only their reports are seen.
            budget: ε per user (a bare ε, or a PrivacyBudget whose δ is unused: pure LDP).

        Returns:
            self, fitted; ``privacy_report`` states ε-LDP per user.
        """
        self._validate_params()
        budget = as_budget(budget)
        if not all(hasattr(data, a) for a in ("respond", "n_users", "domain")):
            raise InvalidParameterError(
                f"LDPSynthesizer.fit needs the users (e.g. dpsynth.ldp.SimulatedUsers(frame, domain)). Got {type(data).__name__}."
            )
        domain = data.domain
        names = tuple(domain.names)
        unknown = sorted({a for p in (self.pairs or []) for a in p} - set(names))
        if unknown:
            raise InvalidParameterError(f"LDPSynthesizer's pairs name unknown column(s) {unknown}.")
        n = int(data.n_users)
        if n < 2:
            raise InvalidDataError("LDPSynthesizer needs at least two users.")
        seeded = self.random_state is not None or bool(getattr(data, "seeded", False))
        accountant = LocalAccountant(budget, seeded=seeded)
        rng = make_rng(self._noise_seed())
        full_sizes = Discretizer(domain).sizes
        coarsen = coarsening_maps({a: full_sizes[a] for a in names}, self.max_codes)
        sizes = tuple(int(coarsen[a].max()) + 1 for a in names)
        pgm_dom = PGMDomain(names, sizes)
        users = rng.permutation(n)
        measurements: list[Measurement] = []
        pairs: list[Clique]
        share = n_sel = max(1, round(self.select_share * n))
        oneway = [(a,) for a in names]

        def report_l1(pair: Clique, users: float) -> float:
            """The L1 error noise alone gives ``pair`` estimated from ``users`` reports (public)."""
            k = pgm_dom.size(pair)
            var = float(np.mean(make_oracle(self.oracle, k, budget.epsilon).variance(max(users, 1.0), 1.0 / k)))
            return math.sqrt(2.0 / math.pi) * k * math.sqrt(var)

        def phase2_l1(forest: list[Clique], pair: Clique) -> float:
            """``report_l1`` of ``pair`` measured in phase 2 beside the one-way marginals and ``forest``."""
            cells = [pgm_dom.size(c) for c in (*oneway, *forest, pair)]
            return report_l1(pair, float(_group_sizes(n - n_sel, cells)[-1]))

        # Candidates (public): pairs small enough whose largest possible dependence (the L1
        # distance of a joint from the product of its margins is at most 2(1 − 1/min(k_a, k_b)))
        # could clear both the noise of their phase-1 estimate (n_sel users shared among the
        # candidates) and that of their phase-2 measurement at this ε. Pairs are dropped until
        # every candidate passes with its share; none left: independent columns, exactly.
        # The selection takes no more users than the candidates' own phase-2 measurements would.
        cands = [c for c in itertools.combinations(names, 2) if pgm_dom.size(c) <= self.max_cells]
        while cands:
            n_sel = min(share, int(sum(_group_sizes(n - share, [pgm_dom.size(c) for c in (*oneway, p)])[-1]
                                       for p in cands)))
            keep = [c for c in cands if 2.0 * (1.0 - 1.0 / min(pgm_dom.size((a,)) for a in c))
                    > report_l1(c, n_sel / len(cands)) + phase2_l1([], c)]
            if len(keep) == len(cands):
                break
            cands = keep
        if self.pairs is None and cands:
            plan1 = CollectionPlan(names, sizes, coarsen, tuple(cands), budget.epsilon, self.oracle)
            est1 = self._collect(data, plan1, users[:n_sel], rng, accountant, "ldp.select", "selection")
            pairs = _spanning_tree(names, sizes, est1, phase2_l1)
            measurements += [_measurement(c, est1[c], n, self.project) for c in pairs]
            users = users[n_sel:]
            # The other pairs' reports still say something about their two columns.
            spare = [(c, est1[c]) for c in cands if c not in pairs]
        else:
            pairs = [tuple(p) for p in (self.pairs or [])]
            spare = []
        cliques = [(a,) for a in names] + [p for p in pairs if p not in [(a,) for a in names]]
        plan2 = CollectionPlan(names, sizes, coarsen, tuple(cliques), budget.epsilon, self.oracle)
        est2 = self._collect(data, plan2, users, rng, accountant, "ldp.measure", "measurement")
        size = dict(zip(names, sizes, strict=True))
        for a in names:
            est2[(a,)] = _pool([est2[(a,)], *(_margin(e, c, a, size) for c, e in spare if a in c)])
        measurements += [_measurement(c, est2[c], n, self.project) for c in cliques]
        self.model_ = estimate(pgm_dom, measurements, total=float(n), iters=self.iters)
        self.coarsen_ = coarsen
        self.pairs_ = pairs
        self.domain_ = domain
        self._report = accountant.report()
        return self

    def _collect(
        self,
        data: Users,
        plan: CollectionPlan,
        users: np.ndarray,
        rng: np.random.Generator,
        accountant: LocalAccountant,
        step: str,
        group: str,
    ) -> dict[Clique, FrequencyEstimate]:
        if users.size < len(plan.cliques):
            raise InvalidDataError(
                f"Too few users ({users.size}) for {len(plan.cliques)} marginals: each marginal needs at least one.",
                hint="Model fewer pairs, or collect from more users.",
            )
        cells = [math.prod(plan.sizes[plan.names.index(a)] for a in c) for c in plan.cliques]
        assign = _assignment(users.size, cells, rng)
        accountant.charge(
            LocalRandomizer(plan.epsilon, f"{self.oracle} frequency oracle on one marginal"),
            step=step,
            description=f"each of {users.size} users reports one of {len(plan.cliques)} marginals",
            group=group,
        )
        reports = data.respond(plan, users, [plan.cliques[i] for i in assign])
        return {c: plan.oracle_for(c).estimate(r) for c, r in zip(plan.cliques, reports, strict=True)}

    def _fit(self, data: Any) -> None:  # pragma: no cover - fit is overridden
        raise NotImplementedError

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state, arrays = super()._get_state()
        state["pairs"] = [list(p) for p in self.pairs_]
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(state, arrays)
        self.pairs_ = [tuple(p) for p in state.get("pairs", [])]


def _measurement(clique: Clique, est: FrequencyEstimate, total: int, project: bool = True) -> Measurement:
    """A count measurement: the (simplex-projected) frequencies × the number of users.

    Its σ is the root-mean variance of the unbiased estimate (before projection, which
    only shrinks the error) scaled to counts.
    """
    values = (project_simplex(est.frequencies) if project else est.frequencies) * total
    sigma = math.sqrt(float(np.mean(est.variance))) * total
    return Measurement(clique, values, max(sigma, 1e-9))


def _margin(est: FrequencyEstimate, pair: Clique, attr: str, size: dict[str, int]) -> FrequencyEstimate:
    """The one-way estimate of ``attr`` implied by a pair's estimate (cell variances summed: an upper bound)."""
    axis = 1 - pair.index(attr)
    shape = (size[pair[0]], size[pair[1]])
    freq = est.frequencies.reshape(shape).sum(axis=axis)
    var = est.variance.reshape(shape).sum(axis=axis)
    return FrequencyEstimate(freq, var, est.n)


def _pool(ests: Sequence[FrequencyEstimate]) -> FrequencyEstimate:
    """Inverse-variance combination of unbiased estimates of one marginal (one weight per estimate).

    Weights use each estimate's mean variance (not the per-cell plug-in variances, which
    depend on the noisy values and would bias the combination).
    """
    if len(ests) == 1:
        return ests[0]
    w = np.array([1.0 / max(float(np.mean(e.variance)), 1e-300) for e in ests])
    w /= w.sum()
    freq = sum(wi * e.frequencies for wi, e in zip(w, ests, strict=True))
    var = sum(wi**2 * e.variance for wi, e in zip(w, ests, strict=True))
    return FrequencyEstimate(np.asarray(freq), np.asarray(var), sum(e.n for e in ests))


def _spanning_tree(
    names: Sequence[str],
    sizes: Sequence[int],
    est: dict[Clique, FrequencyEstimate],
    phase2_l1: Callable[[list[Clique], Clique], float] | None = None,
) -> list[Clique]:
    """Maximum spanning forest of the pairs' estimated dependence (post-processing of LDP reports).

    The weight of a pair is ‖P̂_ab − P̂_a ⊗ P̂_b‖₁ on the unbiased estimate (P̂_a, P̂_b its
    margins), minus the L1 norm the noise alone would give (√(2/π)·Σ σ_cell), so that large
    noisy marginals are not preferred for their noise. A pair joins the forest only if its weight
    is positive and, with ``phase2_l1``, larger than the L1 error its own phase-2
    measurement would have (``phase2_l1(forest, pair)``, public): a dependence the noise
    at this ε cannot resolve is not worth the users it takes from the one-way marginals.
    """
    names = list(names)
    weight, spread = {}, {}
    for (a, b), e in est.items():
        joint = e.frequencies.reshape(sizes[names.index(a)], sizes[names.index(b)])
        indep = np.outer(joint.sum(axis=1), joint.sum(axis=0))
        noise_l1 = math.sqrt(2.0 / math.pi) * float(np.sqrt(e.variance).sum())
        weight[(a, b)] = float(np.abs(joint - indep).sum()) - noise_l1
        # Two standard deviations of the noise's L1 norm: a weight below it may be noise alone.
        spread[(a, b)] = 2.0 * math.sqrt((1.0 - 2.0 / math.pi) * float(e.variance.sum()))
    forest: list[Clique] = []

    def heaviest(cands: list[tuple[str, str]]) -> int | None:
        ok = [i for i, c in enumerate(cands)
              if weight[c] > (0.0 if phase2_l1 is None else spread[c] + phase2_l1(forest, c))]
        if not ok:
            return None  # a forest: no edge that noise alone would explain
        i = max(ok, key=lambda i: weight[cands[i]])
        forest.append(cands[i])
        return i

    return list(kruskal(names, [(a, b) for a, b in est], heaviest))

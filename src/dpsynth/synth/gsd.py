"""Private-GSD: private synthetic data by genetic search (Liu, Tang, Vietri, Wu, ICML 2023).

The statistics to preserve are a *workload* of query groups (:mod:`dpsynth.data.queries`):
k-way marginals, 1-/2-way range and prefix (threshold) queries on raw numeric values, and
halfspaces. Their answers are privatised with Gaussian noise (zCDP) through
``PrivateData.answer_queries``; a small synthetic table is then evolved by a genetic
algorithm (:mod:`dpsynth.synth._genetic`) until its answers match the noisy ones. The search
is zeroth-order, so the queries need not be differentiable, and numeric columns stay
real-valued: the output is never rounded to bins.

Two modes (paper, Sec. 4.2):

* ``"oneshot"``: every group of the workload is measured once, with equal ρ per group.
* ``"adaptive"`` (default): one-way marginals first (``init_share`` of ρ), then ``rounds``
  rounds, each selecting the ``groups_per_round`` groups the current synthetic table
  answers worst (exponential mechanism, ``select_share`` of the round's ρ; AIM's scores and
  penalty, McKenna et al. 2022), measuring them, and resuming the search from the previous
  population (warm start).

Row counts are private: the search matches *fractions*, the noisy counts divided by a DP
row count ``n̂`` (the inverse-variance combination of the measured marginals' totals, each
of which is the row count plus noise). ``sample(n)`` resamples rows of the fitted table.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data import queries as q
from dpsynth.data.domain import Domain
from dpsynth.data.numeric import round_frame, snap
from dpsynth.data.private import PrivateData
from dpsynth.errors import InvalidParameterError, check_positive
from dpsynth.privacy.random import RandomState, make_rng
from dpsynth.progress import track
from dpsynth.synth._genetic import GeneticSearch, RowSampler
from dpsynth.synth.base import Synthesizer
from dpsynth.synth.marginal import check_int
from dpsynth.synth.registry import register

MODES = ("adaptive", "oneshot")


class _TableModel:
    """The fitted synthetic table seen as a model: marginals of its rows (scaled to n̂)."""

    def __init__(self, X: np.ndarray, domain: Domain, total: float) -> None:
        self.X = X
        self.domain = domain
        self.total = total

    def project(self, columns: Sequence[str]) -> np.ndarray:
        """The marginal on ``columns`` of the synthetic rows, scaled to the DP row count."""
        wl = q.CompiledWorkload(self.domain, [q.Marginal(tuple(columns))])
        counts = wl.counts(self.X).astype(np.float64)
        shape = tuple(wl.specs[wl._index[c]].size for c in columns)
        return counts.reshape(shape) * (self.total / max(len(self.X), 1))


@register("gsd")
class GSD(Synthesizer):
    """Private-GSD (Liu, Tang, Vietri, Wu 2023): genetic search on noisy query answers.

    Args:
        workload: Query groups to preserve (``Marginal``, ``Ranges``, ``Halfspaces`` from
            :mod:`dpsynth.data.queries`; a list of column names stands for a marginal).
            Default: every 1-way and (up to ``degree``)-way marginal with at most
            ``max_cells`` cells; on every numeric column, a fine histogram of its raw
            values (disjoint ranges between its bin edges, DP quantiles, each bin split in
            ``bin_refine``); on every pair of numeric columns, a grid of disjoint boxes at up
            to ``pair_thresholds`` thresholds each; and ``halfspaces`` random halfspaces
            over the numeric columns. Prefix queries (``Ranges.prefix``) can be added.
        mode: ``"adaptive"`` or ``"oneshot"``.
        degree: Largest marginal order of the default workload.
        max_cells: Largest marginal of the default workload.
        bin_refine: Parts each bin is split in for the fine 1-way range histograms (1: none).
        pair_thresholds: Thresholds per column of the 2-way range grids (0: none).
        halfspaces: Number of random halfspaces in the default workload.
        rounds: Adaptive rounds T.
        groups_per_round: Groups selected per round (default: the number of columns).
        init_share: Share of ρ spent on the one-way marginals first (adaptive mode).
        select_share: Share of each round's ρ spent on selection (adaptive mode).
        synthetic_rows: Rows of the evolved table (the paper uses a few thousand).
        population: Members of the population.
        children: Children per generation.
        generations: Most generations per search (one search per round).
        patience: Stop a search when the best fitness improved by less than 0.1% over this
            many generations.
        stop_at_noise: Stop a search once its weighted error to the noisy answers is below
            this multiple of the error the noise alone gives the true data (the expected
            Σ wᵢ σᵢ² / n̂², known from the σ of each measurement: no private data). Going lower
            fits noise, yet on adult at ε = 1 the held-out range error still fell below it
            (BENCHMARKS.md), so it is off (0) by default; 1 bounds fits at large ε (ε = 3:
            204 CPU s instead of over 400) at some cost in accuracy.
        random_state: Seed for tests and research only (the report then says not for release).
    """

    def __init__(
        self,
        *,
        workload: Sequence[Any] | None = None,
        mode: str = "adaptive",
        degree: int = 2,
        max_cells: int = 1000,
        bin_refine: int = 2,
        pair_thresholds: int = 8,
        halfspaces: int = 0,
        rounds: int = 8,
        groups_per_round: int | None = None,
        init_share: float = 0.1,
        select_share: float = 0.1,
        synthetic_rows: int = 2000,
        population: int = 4,
        children: int = 256,
        generations: int = 3000,
        patience: int = 200,
        stop_at_noise: float = 0.0,
        random_state: RandomState = None,
    ) -> None:
        super().__init__(random_state=random_state)
        self.workload = workload
        self.mode = mode
        self.degree = degree
        self.max_cells = max_cells
        self.bin_refine = bin_refine
        self.pair_thresholds = pair_thresholds
        self.halfspaces = halfspaces
        self.rounds = rounds
        self.groups_per_round = groups_per_round
        self.init_share = init_share
        self.select_share = select_share
        self.synthetic_rows = synthetic_rows
        self.population = population
        self.children = children
        self.generations = generations
        self.patience = patience
        self.stop_at_noise = stop_at_noise

    # -- parameters -------------------------------------------------------------------------
    def _validate_params(self) -> None:
        super()._validate_params()
        if self.mode not in MODES:
            raise InvalidParameterError(f"The 'mode' parameter of GSD must be one of {MODES}. Got {self.mode!r} instead.")
        check_int(self.degree, "degree", "GSD")
        check_int(self.max_cells, "max_cells", "GSD")
        check_int(self.bin_refine, "bin_refine", "GSD")
        check_int(self.pair_thresholds, "pair_thresholds", "GSD", minimum=0)
        check_int(self.halfspaces, "halfspaces", "GSD", minimum=0)
        check_int(self.rounds, "rounds", "GSD")
        if self.groups_per_round is not None:
            check_int(self.groups_per_round, "groups_per_round", "GSD")
        for name in ("init_share", "select_share"):
            v = check_positive(getattr(self, name), name, "GSD")
            if v >= 1:
                raise InvalidParameterError(f"The {name!r} parameter of GSD must be in (0, 1). Got {v!r} instead.")
        check_int(self.synthetic_rows, "synthetic_rows", "GSD", minimum=2)
        check_int(self.population, "population", "GSD")
        check_int(self.children, "children", "GSD")
        check_int(self.generations, "generations", "GSD")
        check_int(self.patience, "patience", "GSD")
        san = self.stop_at_noise
        if isinstance(san, bool) or not isinstance(san, int | float) or not (math.isfinite(san) and san >= 0):
            raise InvalidParameterError(f"The 'stop_at_noise' parameter of GSD must be a number >= 0. Got {san!r} instead.")
        if self.workload is not None and (isinstance(self.workload, str) or not isinstance(self.workload, Sequence)):
            raise InvalidParameterError(
                "The 'workload' parameter of GSD must be a list of query groups (dpsynth.data.queries) "
                "or of column-name lists (marginals)."
            )
        if self.workload is not None and len(self.workload) == 0:
            raise InvalidParameterError(
                "The 'workload' parameter of GSD is empty: pass at least one query group, or None for the default."
            )

    # -- workload ---------------------------------------------------------------------------
    def build_workload(self, domain: Domain) -> list[q.QueryGroup]:
        """The workload on a complete domain: the user's, or the default (public: domain only)."""
        if self.workload is not None:
            out: list[q.QueryGroup] = []
            for g in self.workload:
                if isinstance(g, q.Marginal | q.Ranges | q.Halfspaces | q.TotalCount):
                    out.append(g)
                elif isinstance(g, str) or (isinstance(g, Sequence) and all(isinstance(c, str) for c in g)):
                    out.append(q.Marginal(tuple([g] if isinstance(g, str) else g)))
                else:
                    raise InvalidParameterError(
                        f"GSD's workload holds query groups or column-name lists. Got {g!r}."
                    )
            return out
        names = list(domain.names)
        specs = {s.name: s for s in q.column_specs(domain)}
        groups: list[q.QueryGroup] = [q.Marginal((n,)) for n in names]
        for k in range(2, self.degree + 1):
            for cl in itertools.combinations(names, k):
                if math.prod(specs[c].size for c in cl) <= self.max_cells:
                    groups.append(q.Marginal(cl))
        numeric = [n for n in names if specs[n].numeric]
        # Range queries on raw values as disjoint boxes (one box per row: sensitivity 1),
        # from which every prefix/range query at these thresholds is a sum.
        for n in numeric:
            if self.bin_refine > 1:
                t = q.refine(q.bin_thresholds(domain, n), self.bin_refine, integer=specs[n].integer)
                groups.append(q.Ranges.grid(domain, [n], [t]))
        if self.pair_thresholds:
            for a, b in itertools.combinations(numeric, 2):
                ts = [_coarse(q.bin_thresholds(domain, c), self.pair_thresholds) for c in (a, b)]
                groups.append(q.Ranges.grid(domain, [a, b], ts))
        if self.halfspaces and numeric:
            groups.append(q.Halfspaces.random(numeric, self.halfspaces, np.random.default_rng(0)))
        return groups

    # -- fit --------------------------------------------------------------------------------
    def _fit(self, data: PrivateData) -> None:
        domain = data.domain
        groups = self.build_workload(domain)
        full = q.CompiledWorkload(domain, groups)  # validates before any budget is spent
        rng = _search_rng(self.random_state)
        rho = data.rho_left("gsd")
        self._measured: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # group -> (Σ y/σ², Σ 1/σ²)
        self._full = full
        self.search_log_: list[dict[str, Any]] = []
        specs = full.specs
        N = self.synthetic_rows
        if self.mode == "oneshot":
            sigma = math.sqrt(len(groups) / (2.0 * rho))
            self._record(data.answer_queries(full, sigma=sigma, step="gsd.measure"))
            search = self._search(domain, None, rng, specs, N)
            with track("GSD: search", total=1.0) as progress:
                X = self._run(search, progress, 0.0, 1.0)
        else:
            X = self._adaptive(data, domain, groups, full, rho, rng, N)
        self.X_ = X
        self.n_hat_ = self._n_hat()
        self.model_ = _TableModel(X, domain, self.n_hat_)

    def _adaptive(
        self,
        data: PrivateData,
        domain: Domain,
        groups: list[q.QueryGroup],
        full: q.CompiledWorkload,
        rho: float,
        rng: np.random.Generator,
        N: int,
    ) -> np.ndarray:
        names = list(domain.names)
        oneway = {g.columns[0]: i for i, g in enumerate(groups) if isinstance(g, q.Marginal) and len(g.columns) == 1}
        init = [oneway[n] for n in names if n in oneway]
        if not init:
            # No one-way marginal in the workload: the row count still has to be estimated.
            groups = [*groups, q.TotalCount()]
            full = q.CompiledWorkload(domain, groups)
            self._full = full
            init = [len(groups) - 1]
        sub = full.subset(init)
        sigma0 = math.sqrt(len(init) / (2.0 * self.init_share * rho))
        ans = data.answer_queries(sub, sigma=sigma0, step="gsd.init")
        self._record(q.QueryAnswers(tuple(init[i] for i in ans.groups), ans.values, ans.sigmas))
        k = min(self.groups_per_round or len(names), len(groups))
        search = self._search(domain, None, rng, full.specs, N)
        T = self.rounds
        with track("GSD: rounds", total=float(T + 1)) as progress:
            X = self._run(search, progress, 0.0, 1.0)
            for t in range(T):
                left = data.accountant.rho_remaining
                rho_t = left / (T - t)
                eps = math.sqrt(8.0 * self.select_share * rho_t / k)
                sigma = math.sqrt(k / (2.0 * (1.0 - self.select_share) * rho_t))
                # Estimates: the current best table's answers, scaled to the DP row count.
                counts = full.counts(X).astype(np.float64) * (self._n_hat() / N)
                est = [full.group_values(counts, i) for i in range(len(groups))]
                ans = data.answer_queries(full, sigma=sigma, step="gsd.round",
                                          select=q.Selection(est, epsilon=eps, k=k))
                self._record(ans)
                search = self._search(domain, search, rng, full.specs, N)
                X = self._run(search, progress, t + 1.0, 1.0)
        return X

    def _record(self, ans: q.QueryAnswers) -> None:
        """Accumulate answers per group, inverse-variance weighted (repeats are averaged)."""
        for g, y, s in zip(ans.groups, ans.values, ans.sigmas, strict=True):
            wy, w = self._measured.get(g, (np.zeros(y.size), np.zeros(y.size)))
            self._measured[g] = (wy + y / s**2, w + 1.0 / s**2)

    def _n_hat(self) -> float:
        """DP row count: inverse-variance combination of the measured totals (post-processing)."""
        num = den = 0.0
        for g, (wy, w) in self._measured.items():
            grp = self._full.groups[g]
            if isinstance(grp, q.Marginal | q.TotalCount):
                # Sum of a group's cells = n + noise of variance Σ 1/w.
                var = float(np.sum(1.0 / w))
                num += float(np.sum(wy / w)) / var
                den += 1.0 / var
        return max(1.0, num / den) if den > 0 else 1.0

    def _search(
        self,
        domain: Domain,
        previous: GeneticSearch | None,
        rng: np.random.Generator,
        specs: list[q.ColumnSpec],
        N: int,
    ) -> GeneticSearch:
        """A search over the measured groups, warm-started from ``previous`` when given."""
        ids = sorted(self._measured)
        wl = self._full.subset(ids)
        n_hat = self._n_hat()
        target = np.zeros(wl.m)
        weight = np.zeros(wl.m)
        for i, g in enumerate(ids):
            wy, w = self._measured[g]
            a, b = wl.slices[i]
            target[a:b] = wy / w / n_hat
            weight[a:b] = w
        top = weight.max()
        weight /= top
        # Expected fitness of the true data's answers: Σ (wᵢ/top) · Var(noise of cell i)/n̂², the
        # variance of an inverse-variance-weighted answer being 1/wᵢ (post-processing of σs).
        self._floor = float(self.stop_at_noise) * wl.m / (top * n_hat**2)
        probs: list[np.ndarray | None] = []
        for s in specs:
            gi = next((g for g in ids if isinstance(self._full.groups[g], q.Marginal)
                       and self._full.groups[g].columns == (s.name,)), None)
            probs.append(None if gi is None else self._measured[gi][0] / self._measured[gi][1])
        sampler = RowSampler(specs, probs)
        search = GeneticSearch(wl, target, weight, sampler, rng, population=self.population, children=self.children)
        if previous is None:
            search.set_population([sampler.table(N, rng) for _ in range(self.population)])
        else:
            search.set_population(list(previous.X))
        return search

    def _run(self, search: GeneticSearch, progress: Any, base: float, span: float) -> np.ndarray:
        gens = self.generations
        result = search.run(gens, patience=self.patience, floor=self._floor,
                            progress=lambda g: progress(base + span * g / gens))
        progress(base + span)
        self.search_log_.append({"generations": result.generations, "stopped_early": result.stopped_early,
                                 "fitness": result.fitness, "noise_floor": self._floor,
                                 "groups": len(self._measured)})
        return result.best

    # -- output -----------------------------------------------------------------------------
    def _row_estimate(self) -> int | None:
        return max(1, round(self.n_hat_))

    def _sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        X = self.X_
        N = len(X)
        # Systematic resampling: whole copies of the table, then distinct rows for the rest.
        idx = np.concatenate([np.tile(np.arange(N), n // N), rng.permutation(N)[: n % N]])
        # The table's rows are rounded once (amounts as round as the real ones), so the copies
        # of a row stay copies: rounding each copy apart would only add near-duplicates.
        rows = round_frame(decode_rows(X, self.domain_), self.domain_, rng)
        return rows.iloc[rng.permutation(idx)].reset_index(drop=True)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"n_hat": float(self.n_hat_)}, {"X": self.X_}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.X_ = np.asarray(arrays["X"], dtype=np.float64)
        self.n_hat_ = float(state["n_hat"])
        self.model_ = _TableModel(self.X_, self.domain_, self.n_hat_)


def _coarse(thresholds: np.ndarray, k: int) -> np.ndarray:
    """At most ``k`` thresholds, evenly spaced in rank among ``thresholds``."""
    t = np.unique(thresholds)
    if t.size <= k:
        return t
    return t[np.unique(np.round(np.linspace(0, t.size - 1, k)).astype(np.int64))]


def _search_rng(random_state: RandomState) -> np.random.Generator:
    """The search's randomness (post-processing), independent of the noise stream."""
    if isinstance(random_state, int) and not isinstance(random_state, bool):
        return np.random.default_rng([random_state, 0x65D])
    return make_rng(random_state)


def decode_rows(X: np.ndarray, domain: Domain) -> pd.DataFrame:
    """A frame of typed values from rows of ``X`` (inverse of :func:`queries.encode_rows`)."""
    data: dict[str, object] = {}
    for j, col in enumerate(domain):
        x = X[:, j]
        if not col.is_numeric:
            cats = np.empty(len(col.categories or ()) + 1, dtype=object)
            cats[:-1] = list(col.categories or ())
            cats[-1] = None
            data[col.name] = pd.Series(cats[np.minimum(x.astype(np.int64), len(cats) - 1)], dtype=object)
            continue
        x = snap(col, x)  # on the column's grid (step, whole numbers), atoms exact
        present = ~np.isnan(x)
        if col.kind == "datetime":
            micros = np.where(present, np.round(np.nan_to_num(x) * 1e6), 0).astype(np.int64)
            s = pd.Series(micros.astype("datetime64[us]"))
            s[~present] = pd.NaT
            data[col.name] = s
        elif col.integer or (col.step is not None and float(col.step).is_integer()):
            ints = np.where(present, np.round(np.nan_to_num(x)), 0).astype(np.int64)
            data[col.name] = pd.Series(pd.arrays.IntegerArray(ints, ~present))
        else:
            data[col.name] = pd.Series(x, dtype=np.float64)
    return pd.DataFrame(data, columns=list(domain.names))

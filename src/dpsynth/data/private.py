"""PrivateData: the one boundary private rows cross, and only as noisy answers.

A generator receives a ``PrivateData`` bound to its fit's accountant and noise source.
Every method that depends on private rows charges the accountant *before* computing the
answer and returns only noisy values (or a selection made by a DP mechanism). Raw counts
are computed inside the table's engine (DuckDB, or Spark for data beyond one machine) and
cached in this object; they never leave it. Whatever the engine, only aggregates come back
from it, and the charge and the noise happen here, on the driver.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dpsynth.data.discretize import Discretizer, clamped_view
from dpsynth.data.domain import Domain
from dpsynth.data.io import Table, marginal_counts_many, open_table, validate
from dpsynth.errors import BudgetExceededError, InvalidDataError, InvalidParameterError
from dpsynth.pgm import Domain as PGMDomain
from dpsynth.pgm import Measurement
from dpsynth.pgm._drift import LazyEstimates
from dpsynth.privacy import Accountant, ExponentialMechanism, GaussianMechanism, NoiseSource

if TYPE_CHECKING:
    import pandas as pd

    from dpsynth.data.numeric import Released
    from dpsynth.data.queries import CompiledWorkload, QueryAnswers, QueryGroup, Selection
    from dpsynth.dpsgd.rows import EncodedRows

Clique = tuple[str, ...]
#: Public maps from a column's codes to coarser codes: ``m[code] = coarse code``.
Coarsening = Mapping[str, np.ndarray]

#: Marginal methods refuse columns with more codes than this (a 2-way marginal of two such
#: columns already has a million cells). Group rare categories, or declare fewer bins.
MAX_CODES = 1000


class _Admissible:
    """A public admissibility rule over candidate indices, asked at most once per index."""

    def __init__(self, rule: Callable[[int], bool] | None) -> None:
        self._rule = rule
        self._known: dict[int, bool] = {}

    def __call__(self, i: int) -> bool:
        if self._rule is None:
            return True
        got = self._known.get(i)
        if got is None:
            got = self._known[i] = bool(self._rule(i))
        return got


class PrivateData:
    """A sensitive table behind its privacy boundary.

    Args:
        table: The table (a :class:`~dpsynth.data.io.Table`, a pandas DataFrame, or a path
            to a CSV/Parquet file; with the Spark engine a Spark DataFrame, a
            :class:`~dpsynth.data.spark.SparkTable` or a path/URI Spark reads).
        domain: The public description of every column (from metadata). Columns whose
            categories or bounds are unknown are inferred with DP when a fit starts,
            at ``inference_share`` of its budget.
        inference_share: Share of the zCDP budget spent on domain inference, if any is needed.
            None (the default): :func:`dpsynth.data.infer.default_inference_share` of the
            domain, 5% when only bin edges are left to place, growing with the share of
            columns whose bounds or categories are unknown, 25% when types are unknown.
        quantile_bins: Bin numeric columns at DP quantiles (charged within ``inference_share``)
            unless the metadata gives explicit ``edges``; False bins them uniformly over their
            public bounds at no cost.
        validate_data: Check the table against the domain first (recommended).
        numeric_detail: What to learn with DP about numeric columns whose metadata leaves
            it out, so their values look real (see :mod:`dpsynth.data.numeric`):
            ``"atoms"`` (exact frequent values), ``"step"`` (precision), ``"shape"``
            (within-bin density); charged at ``numeric.NUMERIC_SHARE`` of the budget.
            Opt-in: ``"bins"`` (equal-mass bin edges from one fine histogram, the one the
            shape is read from, in place of ``quantile_bins``' DP quantiles and at their
            share of ``inference_share``; see :func:`dpsynth.data.numeric.measure_bins`).
            ``()`` turns it off. Not measured on the Spark engine (a note says so).
        engine: ``"duckdb"`` or ``"spark"`` (see :func:`~dpsynth.data.io.open_table`);
            None picks Spark for Spark data and DuckDB otherwise. On Spark, every query is a
            count run as Spark aggregations; the queries that need rows in memory
            (nearest-neighbour votes, feature sketches, DP-SGD batches) are refused.
    """

    def __init__(
        self,
        table: Table | object,
        domain: Domain,
        *,
        inference_share: float | None = None,
        quantile_bins: bool = True,
        validate_data: bool = True,
        numeric_detail: Sequence[str] = ("atoms", "step", "shape"),
        engine: str | None = None,
    ) -> None:
        if not isinstance(domain, Domain):
            raise InvalidParameterError(f"PrivateData needs a Domain. Got {type(domain).__name__}.")
        if inference_share is None:
            from dpsynth.data.infer import default_inference_share

            inference_share = default_inference_share(domain)
        if not isinstance(inference_share, (int, float)) or not 0.0 < inference_share < 1.0:
            raise InvalidParameterError(
                f"The 'inference_share' parameter of PrivateData must be in (0, 1). Got {inference_share!r}."
            )
        self._table = open_table(table, engine=engine)
        self.domain = domain
        self.inference_share = float(inference_share)
        self.quantile_bins = bool(quantile_bins)
        from dpsynth.data.numeric import check_parts

        self.numeric_detail = check_parts(numeric_detail)
        #: Remarks every privacy report of a fit on this data carries (e.g. how types were read).
        self.notes: list[str] = []
        # Sensitivities assume every number lies in its column's range: hold the rows to it.
        if self._table.engine == "spark":
            from dpsynth.data import spark
            from dpsynth.data.infer import refuse_pending_on_spark

            refuse_pending_on_spark(domain)
            if validate_data:
                spark.validate(self._table, domain)  # type: ignore[arg-type]
            self._table = spark.clamped_view(self._table, domain, validated=validate_data)  # type: ignore[arg-type]
        else:
            if validate_data:
                validate(self._table, domain)  # type: ignore[arg-type]
            self._table = clamped_view(self._table, domain, validated=validate_data)  # type: ignore[arg-type]
        self._accountant: Accountant | None = None
        self._noise: NoiseSource | None = None
        self._discretizer: Discretizer | None = None
        self._cache: dict[Clique, np.ndarray] = {}

    # -- binding to a fit ----------------------------------------------------------------
    def bind(self, accountant: Accountant, noise: NoiseSource) -> PrivateData:
        """A view of this data whose answers charge ``accountant`` and draw from ``noise``."""
        view = object.__new__(PrivateData)
        view._table = self._table
        view.domain = self.domain
        view.inference_share = self.inference_share
        view.quantile_bins = self.quantile_bins
        view.numeric_detail = self.numeric_detail
        view.notes = list(self.notes)
        accountant.notes.extend(self.notes)
        view._accountant = accountant
        view._noise = noise
        view._discretizer = None
        view._cache = {}
        return view

    @property
    def accountant(self) -> Accountant:
        """The accountant of the fit this view is bound to."""
        if self._accountant is None:
            raise InvalidParameterError(
                "This PrivateData is not bound to a fit. Pass it to Synthesizer.fit(data, budget)."
            )
        return self._accountant

    @property
    def noise(self) -> NoiseSource:
        """The noise source of the bound fit."""
        self.accountant  # noqa: B018 - raises if unbound
        assert self._noise is not None
        return self._noise

    def rho_left(self, step: str) -> float:
        """The zCDP budget still available to ``step``; refuses if nothing is left."""
        rho = self.accountant.rho_remaining
        if rho <= 0.0:
            raise BudgetExceededError(
                f"Step {step!r} found the budget exhausted (ρ spent {self.accountant.rho_spent:.4g} of "
                f"{self.accountant.rho_budget:.4g}). Nothing was released; raise epsilon."
            )
        return rho

    def complete_domain(self, *, step: str = "infer_domain") -> PrivateData:
        """Fill in unknown categories and bounds with DP, charged at ``inference_share``.

        Numeric columns without explicit edges also get DP bin edges: equal-mass edges from
        the fine histogram of numeric detail ``"bins"`` (:func:`dpsynth.data.numeric.measure_bins`,
        within the numeric share), else DP-quantile edges from inference when
        ``quantile_bins`` is set. Returns self when there is nothing to infer (nothing is
        charged).
        """
        from dpsynth.data.infer import infer_domain, inference_todo, pending_of

        # Columns whose type is inferred are numeric only once inference is done: their
        # numeric detail (atoms, precision, shape) is measured after it, not before.
        untyped = bool(pending_of(self.domain)[0])
        rho_start = self.rho_left(step)
        # With equal-mass bins (numeric detail "bins"), the edges of numeric columns come
        # from the fine histogram measured after inference: inference spends nothing on
        # quantiles, and edges it places while locating bounds are replaced.
        equal_mass = "bins" in self.numeric_detail and self._table.engine != "spark"
        quantile_bins = self.quantile_bins and not equal_mass
        public_edges = {c.name for c in self.domain if c.is_numeric and c.edges is not None}
        numeric = 0.0 if untyped else self._numeric_detail_pre(step)
        # Equal-mass bins cost what DP quantiles cost: the inference share a column would
        # have spent on its quantiles goes to its fine histogram instead (the columns still
        # inferred keep their share; none moves when types are inferred).
        todo = inference_todo(self.domain, quantile_bins=quantile_bins)
        extra: dict[str, float] = {}
        rho_infer = self.inference_share * self.accountant.rho_remaining
        if equal_mass and self.quantile_bins and not untyped and numeric > 0:
            old_todo = inference_todo(self.domain, quantile_bins=True)
            names = {c.name for c in todo}
            moved = [c.name for c in old_todo if c.name not in names]
            if old_todo:
                extra = {n: rho_infer / len(old_todo) for n in moved}
                rho_infer *= len(todo) / len(old_todo)
        released: dict[str, Released] = {}
        if todo:
            rho = rho_infer if rho_infer > 0 else self.inference_share * self.rho_left(step)
            self.domain, self._table = infer_domain(
                self._table, self.domain, rho=rho, accountant=self.accountant, noise=self.noise, step=step,
                quantile_bins=quantile_bins, released=released,
            )
            if equal_mass:
                self.domain = self.domain.with_columns(
                    [c.replace(edges=None) for c in self.domain
                     if c.is_numeric and c.kind != "datetime" and c.edges is not None and c.name not in public_edges])
        if untyped:
            # The same share of the budget as when types are declared (of what was left
            # before inference), so the detail is measured at the same noise.
            numeric = self._numeric_detail_pre(step, rho_left=rho_start, released=released)
        self._numeric_detail_shape(step, numeric, extra)
        self._discretizer = None
        self._cache.clear()
        return self

    # -- numeric detail (atoms, precision, within-bin shape; dpsynth.data.numeric) ------------
    def _numeric_detail_pre(self, step: str, rho_left: float | None = None,
                            released: dict[str, Released] | None = None) -> float:
        """Measure atoms and steps before bounds are inferred; return ρ per unit for the shape.

        ``rho_left``: the budget left that the numeric share is taken of (default: now).
        ``released``: exact values type inference already released (see
        :func:`dpsynth.data.numeric.measure_pre`).
        """
        from dpsynth.data import numeric

        parts = self._detail_parts
        if not parts or not (
            numeric.pre_todo(self.domain, parts) or numeric.shape_todo(self.domain, parts)
            or numeric.bins_todo(self.domain, parts)
        ):
            return 0.0
        skipped = [p for p in self.numeric_detail if p not in parts]
        if skipped:
            what = {"atoms": "frequent exact values (atoms)", "bins": "equal-mass bins"}
            self.accountant.notes.append(
                f"{' and '.join(what[p] for p in skipped)} are not measured on the Spark engine (it counts "
                "public cells; the distinct values of a column may be as many as its rows): precision and "
                "within-bin shape are"
            )
        left = self.rho_left(step) if rho_left is None else rho_left
        rho_unit, _ = numeric.plan_rho(self.domain, numeric.NUMERIC_SHARE * left, parts)
        self.domain = numeric.measure_pre(self._table, self.domain, rho_unit=rho_unit, accountant=self.accountant,
                                          noise=self.noise, step=step, parts=parts, released=released)
        return rho_unit

    @property
    def _detail_parts(self) -> tuple[str, ...]:
        """The numeric detail this table's engine measures (Spark: no exact-value reads)."""
        if self._table.engine == "spark":
            return tuple(p for p in self.numeric_detail if p not in ("atoms", "bins"))
        return self.numeric_detail

    def _numeric_detail_shape(self, step: str, rho_unit: float, extra: dict[str, float] | None = None) -> None:
        """Place equal-mass edges (numeric detail "bins"), then measure within-bin densities on the other bins."""
        from dpsynth.data import numeric

        if rho_unit > 0:
            parts = self._detail_parts
            if "bins" in parts:
                assert isinstance(self._table, Table)  # not on Spark (see _detail_parts)
                self.domain = numeric.measure_bins(self._table, self.domain, rho_unit=rho_unit,
                                                   accountant=self.accountant, noise=self.noise, step=step,
                                                   parts=parts, rho_extra=extra)
            self.domain = numeric.measure_shape(self._table, self.domain, rho_unit=rho_unit, accountant=self.accountant,
                                                noise=self.noise, step=step, parts=parts)

    # -- the discretised view marginal methods measure --------------------------------------
    @property
    def discretizer(self) -> Discretizer:
        """Maps columns to integer codes (public: built from the Domain only)."""
        if self._discretizer is None:
            disc = Discretizer(self.domain)
            too_big = {n: s for n, s in disc.sizes.items() if s > MAX_CODES}
            if too_big:
                raise InvalidDataError(
                    [f"column {n!r} has {s} codes" for n, s in too_big.items()],
                    hint=f"Marginal methods support at most {MAX_CODES} codes per column: group rare "
                    "categories in the metadata, declare fewer bins, or drop the column.",
                )
            self._discretizer = disc
        return self._discretizer

    @property
    def pgm_domain(self) -> PGMDomain:
        """Attribute names and code counts, for graphical models."""
        sizes = self.discretizer.sizes
        names = tuple(self.domain.names)
        return PGMDomain(names, tuple(sizes[n] for n in names))

    def _true_marginals(self, cliques: Sequence[Clique], coarsen: Coarsening | None = None) -> list[np.ndarray]:
        missing = [c for c in cliques if c not in self._cache]
        if missing:
            self._check_cliques(missing)
            self._cache.update(marginal_counts_many(self._table, self.discretizer, missing))
        if not coarsen:
            return [self._cache[c] for c in cliques]
        return [coarsen_counts(self._cache[c], c, coarsen) for c in cliques]

    def _check_cliques(self, cliques: Sequence[Clique]) -> None:
        names = set(self.domain.names)
        bad = sorted({a for c in cliques for a in c if a not in names})
        if bad:
            raise InvalidParameterError(f"Unknown column(s) {bad} in a query; known: {sorted(names)}.")

    # -- noisy answers -------------------------------------------------------------------
    def measure_marginals(
        self,
        cliques: Sequence[Clique],
        *,
        sigma: float,
        step: str,
        coarsen: Coarsening | None = None,
    ) -> list[Measurement]:
        """Measure marginal counts with discrete Gaussian noise.

        Privacy:
            Add/remove one row changes one cell of each marginal by 1: L2 sensitivity 1 per
            marginal. Charges ``len(cliques)`` discrete-Gaussian releases at ``sigma``
            (ρ = len(cliques) / (2σ²)) before anything is computed. Coarsening (merging
            codes by a public map) keeps the sensitivity at 1.

        Args:
            cliques: Column tuples to measure.
            sigma: Noise standard deviation.
            step: The algorithm step asking, for the ledger.
            coarsen: Optional public map per column from codes to coarser codes (e.g. MST's
                domain compression); counts are summed within each coarse code.

        Returns:
            One :class:`~dpsynth.pgm.Measurement` per clique (flattened noisy counts).
        """
        cliques = [tuple(c) for c in cliques]
        if not cliques:
            return []
        self._check_cliques(cliques)
        self.discretizer  # noqa: B018 - a domain marginal methods cannot use fails before any charge
        mech = GaussianMechanism(sigma=sigma, sensitivity=1.0, integer=True)
        self.accountant.charge(mech, step=step, count=len(cliques),
                               description="marginals " + ", ".join("×".join(c) for c in cliques))
        out = []
        for clique, counts in zip(cliques, self._true_marginals(cliques, coarsen), strict=True):
            noisy = mech.release(counts.ravel(), self.noise)
            out.append(Measurement(clique=clique, values=noisy, sigma=float(sigma)))
        return out

    def select_marginal(
        self,
        candidates: Sequence[Clique],
        estimates: Mapping[Clique, np.ndarray],
        *,
        epsilon: float,
        penalties: Sequence[float] | None = None,
        weights: Sequence[float] | None = None,
        step: str,
        coarsen: Coarsening | None = None,
        admissible: Callable[[int], bool] | None = None,
    ) -> int:
        """Pick the candidate marginal worst explained by ``estimates`` (exponential mechanism).

        The quality of candidate r is ``w_r · (‖M_r(D) − estimate_r‖₁ − penalty_r)``
        (AIM, McKenna et al. 2022, Alg. 1 line 9; MST uses w = 1, penalty = 0).

        ``estimates`` is a mapping from candidate to estimate; a
        :class:`~dpsynth.pgm._drift.LazyEstimates` (a mapping that computes the model's
        marginal on demand and bounds how far it moved) makes the selection compute only
        the estimates of candidates that could still win — the same selection for the
        same noise.

        ``admissible(i)`` (public, data-independent: AIM's model-size limit) says whether
        candidate ``i`` may be selected at all; the others are excluded (score ``-inf``).
        It is asked only where needed (on the lazy path, for the candidates that could
        win), so a costly rule is paid for only there.

        Privacy:
            Add/remove one row changes ‖M_r(D) − e‖₁ by at most 1, so the score's
            sensitivity is max w_r over the admissible candidates. Charges one exponential mechanism at ``epsilon``
            (ε²/8-zCDP) before any true marginal is read. The lazy path releases the same
            index (same noise, same argmax); which estimates it computed is not returned.

        Returns:
            The index of the selected candidate.
        """
        cands = [tuple(c) for c in candidates]
        if not cands:
            raise InvalidParameterError("select_marginal needs at least one candidate.")
        w = np.ones(len(cands)) if weights is None else np.asarray(weights, dtype=float)
        pen = np.zeros(len(cands)) if penalties is None else np.asarray(penalties, dtype=float)
        if w.shape != (len(cands),) or pen.shape != (len(cands),) or np.any(w <= 0):
            raise InvalidParameterError("weights must be > 0 and weights/penalties one per candidate.")
        allowed = _Admissible(admissible)
        # The largest weight among admissible candidates: scanned from the heaviest down,
        # so the rule is asked about a few candidates only.
        heaviest = next((float(w[i]) for i in np.argsort(-w, kind="stable") if allowed(int(i))), None)
        if heaviest is None:
            raise InvalidParameterError("select_marginal: no candidate is admissible.")
        mech = ExponentialMechanism(epsilon=epsilon, sensitivity=heaviest)
        what = f"select among {len(cands)} marginals" + (" (those within the public limit)" if admissible else "")
        self.accountant.charge(mech, step=step, description=what)
        truths = self._true_marginals(cands, coarsen)
        if isinstance(estimates, LazyEstimates):
            return self._select_lazy(mech, cands, estimates, truths, w, pen, coarsen, allowed)
        scores = np.array([
            wi * (np.abs(t.ravel() - np.asarray(estimates[c]).ravel()).sum() - p) if allowed(i) else -np.inf
            for i, (c, t, wi, p) in enumerate(zip(cands, truths, w, pen, strict=True))
        ])
        return mech.select(scores, self.noise)

    def _select_lazy(
        self,
        mech: ExponentialMechanism,
        cands: list[Clique],
        estimates: LazyEstimates,
        truths: list[np.ndarray],
        w: np.ndarray,
        pen: np.ndarray,
        coarsen: Coarsening | None,
        allowed: _Admissible,
    ) -> int:
        """:meth:`select_marginal` computing only the estimates of candidates that could win.

        The same selection as scoring every candidate, for the same noise
        (:meth:`ExponentialMechanism.select_lazy`). A candidate's score is bounded by its
        L1 error when last computed (kept here: it depends on the data) plus the model
        side's public bound on how far its estimate moved since, or by ‖M_r(D)‖₁ + N̂.
        Marginals inside a clique of the model are cheap and always computed. Nothing
        private leaves: the errors stay in this object, only the index is returned.
        """
        # Last exact L1 errors, per model sequence (the estimates' tracker) and coarsening.
        memo = self.__dict__.get("_lazy_errors")
        if memo is None or memo[0] is not estimates.tracker or memo[1] is not coarsen:
            memo = (estimates.tracker, coarsen, {})
            self.__dict__["_lazy_errors"] = memo
        errors: dict[Clique, tuple[int, float]] = memo[2]
        version = estimates.version
        upper = np.empty(len(cands))
        exact: dict[int, float] = {}

        def score(i: int) -> float:
            got = exact.get(i)
            if got is None and not allowed(i):
                got = exact[i] = -math.inf
            if got is None:
                c, t = cands[i], truths[i]
                err = np.abs(t.ravel() - np.asarray(estimates[c]).ravel()).sum()
                errors[c] = (version, float(err))
                got = float(w[i] * (err - pen[i]))
                exact[i] = got
            return got

        for i, (c, t) in enumerate(zip(cands, truths, strict=True)):
            if estimates.cheap(c):
                upper[i] = score(i)
                continue
            mass = float(t.sum()) + estimates.total
            err_up = mass
            last = errors.get(c)
            if last is not None:
                err_up = min(err_up, last[1] + estimates.drift(c, last[0]))
            # A relative margin for the rounding of the L1 sums (~1e-16 per cell).
            upper[i] = w[i] * (err_up + 1e-9 * mass - pen[i])
        idx, _ = mech.select_lazy(upper, score, self.noise)
        return idx

    def nearest_neighbour_votes(
        self,
        embed: object,
        candidates: np.ndarray,
        *,
        sigma: float,
        step: str,
        candidate_groups: Sequence[object] | np.ndarray | None = None,
        group_column: str | None = None,
    ) -> np.ndarray:
        """Private Evolution's vote histogram: each row votes for its nearest candidate.

        Lin et al. (ICLR 2024), Alg. 2: every private row is embedded with ``embed`` and
        casts one vote for the closest (Euclidean) embedded candidate; the vote counts get
        discrete Gaussian noise. With ``group_column``, a row votes only among the
        candidates whose ``candidate_groups`` label equals its value in that column
        (per-class histograms over disjoint subsets, as in Aug-PE). The counting is done
        in numpy blocks by :func:`dpsynth.pe._votes.nearest_neighbour_counts`.

        Privacy:
            Add/remove one row adds or removes exactly one vote, in one bin (groups are
            disjoint, so this holds with groups too): L2 sensitivity 1. Charges one
            discrete-Gaussian release at ``sigma`` (ρ = 1/(2σ²), μ = 1/σ) before any row
            is read. ``embed`` and the candidates must not depend on private data.

        Args:
            embed: Maps a block of rows (a DataFrame with the domain's columns, typed) to an
                (rows, dim) float matrix.
            candidates: (n_candidates, dim) embedded candidates (public).
            sigma: Noise standard deviation.
            step: The algorithm step asking, for the ledger.
            candidate_groups: The group label of each candidate (with ``group_column``).
            group_column: A categorical column of the domain whose value picks a row's group.

        Returns:
            Noisy vote counts (float64), one per candidate.
        """
        from dpsynth.data.domain import category_key
        from dpsynth.pe._votes import check_candidates, nearest_neighbour_counts

        if not callable(embed):
            raise InvalidParameterError(f"embed must be a callable on a block of rows. Got {type(embed).__name__}.")
        cand = check_candidates(candidates)
        groups = None
        if (group_column is None) != (candidate_groups is None):
            raise InvalidParameterError("Pass both group_column and candidate_groups, or neither.")
        if group_column is not None and candidate_groups is not None:
            self._check_cliques([(group_column,)])
            if self.domain[group_column].is_numeric:
                raise InvalidParameterError(f"group_column {group_column!r} must be categorical.")
            groups = np.array([category_key(g) for g in candidate_groups], dtype=object)
            if groups.shape != (cand.shape[0],):
                raise InvalidParameterError("candidate_groups needs one label per candidate.")
        self._refuse_on_spark("Private Evolution's nearest-neighbour vote", "'pe'")
        mech = GaussianMechanism(sigma=sigma, sensitivity=1.0, integer=True)
        self.accountant.charge(
            mech, step=step, description=f"nearest-neighbour votes over {cand.shape[0]} candidates"
            + (f", per {group_column}" if group_column else ""),
        )
        frame = self._table.to_frame(self.domain)
        rows = None
        if group_column is not None:
            rows = np.array(
                ["" if v is None or v != v else category_key(v) for v in frame[group_column]], dtype=object
            )
        counts = nearest_neighbour_counts(embed, frame, cand, candidate_groups=groups, row_groups=rows)
        return mech.release(counts, self.noise)

    def answer_queries(
        self,
        workload: Sequence[QueryGroup] | CompiledWorkload,
        *,
        sigma: float,
        step: str,
        select: Selection | None = None,
    ) -> QueryAnswers:
        """Answer query groups (:mod:`dpsynth.data.queries`) as counts with Gaussian noise.

        Group g's counts get discrete Gaussian noise of standard deviation σ·√h_g, where
        h_g (``max_hits``) is the most of its queries one row can satisfy. With ``select``
        (a :class:`~dpsynth.data.queries.Selection`), only the ``select.k`` groups worst
        approximated by ``select.estimates`` are picked (exponential mechanism) and measured.
        Row counts stay private: callers normalise with a DP row count.

        Privacy:
            Add/remove one row changes each 0/1 counting query the row satisfies by 1, so
            group g has L2 sensitivity √h_g (1 for a marginal, which is one-hot, and for the
            total; for boxes the largest number containing one point of the columns' ranges,
            to which every row is clamped (see ``clamped_view``); for halfspaces the
            number of queries, a bound). Noise σ·√h_g makes each group cost ρ = 1/(2σ²)
            zCDP, charged as one discrete-Gaussian release per group measured. A selection
            is ``k`` exponential mechanisms at ``select.epsilon`` on scores of sensitivity 1
            (k·ε²/8-zCDP). Everything a call spends is checked to fit, and charged, before
            any private count is computed.

        Args:
            workload: A list of query groups, or a ``CompiledWorkload`` on this domain.
            sigma: Noise per unit of sensitivity (> 0).
            step: The algorithm step asking, for the ledger.
            select: Optional selection of the worst-approximated groups.

        Returns:
            A :class:`~dpsynth.data.queries.QueryAnswers`.
        """
        from collections import Counter

        from dpsynth.data import queries as q
        from dpsynth.errors import check_positive

        check_positive(sigma, "sigma", "answer_queries")
        if isinstance(workload, q.CompiledWorkload):
            if workload.domain != self.domain:
                raise InvalidParameterError("The compiled workload is for another domain; compile it on data.domain.")
            compiled = workload
        else:
            compiled = q.CompiledWorkload(self.domain, list(workload) if isinstance(workload, list | tuple) else [workload])  # type: ignore[list-item]
        acc, h, n_groups = self.accountant, compiled.max_hits, len(compiled.groups)
        picked = list(range(n_groups))
        em: ExponentialMechanism | None = None
        if select is not None:
            if not isinstance(select, q.Selection):
                raise InvalidParameterError(f"select must be a queries.Selection. Got {type(select).__name__}.")
            if isinstance(select.k, bool) or not isinstance(select.k, int) or not 1 <= select.k <= n_groups:
                raise InvalidParameterError(f"Selection.k must be an integer in [1, {n_groups}]. Got {select.k!r}.")
            if len(select.estimates) != n_groups:
                raise InvalidParameterError(f"Selection needs one estimate per group ({n_groups}). Got {len(select.estimates)}.")
            em = ExponentialMechanism(epsilon=select.epsilon, sensitivity=1.0)
        k = n_groups if select is None else select.k
        need = k / (2.0 * sigma**2) + (0.0 if em is None else k * em.rho)
        if acc.zcdp_only and acc.rho_spent + need > acc.rho_budget * (1 + 1e-9):
            raise BudgetExceededError(
                f"Step {step!r} asks for ρ = {need:.4g} ({k} query groups at σ = {sigma:.4g}"
                f"{'' if em is None else ', with selection'}), more than is left ({acc.rho_remaining:.4g}). "
                "Nothing was released; raise epsilon or lower the method's demands."
            )
        truths: list[np.ndarray] | None = None
        if em is not None and select is not None:
            acc.charge(em, step=step, count=k, description=f"select {k} of {n_groups} query groups")
            truths = self._query_counts(compiled)
            sizes = [t.size for t in truths]
            scores = q.selection_scores(truths, select, h, sigma, sizes)
            picked = q.top_k(scores, k, em.epsilon, self.noise)
        mechs = {hv: GaussianMechanism(sigma=sigma * math.sqrt(hv), sensitivity=math.sqrt(hv), integer=True)
                 for hv in sorted({float(h[i]) for i in picked})}
        for hv, count in sorted(Counter(float(h[i]) for i in picked).items()):
            what = [compiled.groups[i].describe() for i in picked if float(h[i]) == hv]
            acc.charge(mechs[hv], step=step, count=count,
                       description="; ".join(what[:20]) + (f"; … ({len(what)} groups)" if len(what) > 20 else ""))
        truths = self._query_counts(compiled) if truths is None else truths
        values = tuple(mechs[float(h[i])].release(truths[i], self.noise) for i in picked)
        sigmas = tuple(mechs[float(h[i])].sigma for i in picked)
        return q.QueryAnswers(groups=tuple(picked), values=values, sigmas=sigmas)

    def _query_counts(self, compiled: CompiledWorkload) -> list[np.ndarray]:
        """Raw counts of every group of a workload, by the table's engine (private)."""
        from dpsynth.data import queries as q

        if self._table.engine == "spark":
            from dpsynth.data import spark

            return spark.true_counts(self._table, compiled)  # type: ignore[arg-type]
        return q.true_counts(q.private_rows(self._table, self.domain), compiled)

    def _refuse_on_spark(self, what: str, generators: str) -> None:
        """Raise before any charge when a row-reading query meets the Spark engine."""
        if self._table.engine == "spark":
            from dpsynth.data.spark import refuse_rows

            raise refuse_rows(what, generators)

    def encoded_rows(self, encode: Callable[[pd.DataFrame], np.ndarray]) -> EncodedRows:
        """The private rows encoded by ``encode``, as an opaque object only DP-SGD consumes.

        Privacy:
            Releases nothing and charges nothing by itself. ``encode`` must be a public,
            row-wise function (built from the Domain only, e.g. one-hot and public-bound
            scaling), so one row changes one encoded row. The returned
            :class:`~dpsynth.dpsgd.EncodedRows` hides the rows and their number; its only
            consumers charge this fit's accountant first: ``noisy_count`` (one discrete
            Gaussian count, L2 sensitivity 1) and :class:`~dpsynth.dpsgd.PrivateTrainer`,
            which charges a whole run (T Poisson-subsampled Gaussian steps, add/remove one
            row, sensitivity the clipping norm; see :mod:`dpsynth.dpsgd.plan`) before its
            first step.
        """
        self._refuse_on_spark("DP-SGD training", "'tldm', 'ctabgan' and the other DP-SGD generators")
        # Imports torch: only the neural generators pay for it.
        from dpsynth.dpsgd.rows import EncodedRows

        return EncodedRows(encode(self._table.to_frame(self.domain)), self.accountant, self.noise)

    def feature_sums(
        self,
        features: object,
        *,
        norm_bound: float,
        sigma: float,
        step: str,
        groups: Sequence[object] | None = None,
        group_column: str | None = None,
    ) -> np.ndarray:
        """The noisy sum over rows of a public feature map (a random-Fourier-feature sketch).

        Used by Private Evolution's kernel-density histogram (Backurs et al., ICLR 2024):
        ``features`` maps a block of rows to a (rows, D) matrix; each row's vector is clipped
        to L2 norm ``norm_bound``, and the vectors are summed (per group of ``group_column``
        when ``groups`` lists the group labels; rows of other groups are dropped).

        Privacy:
            Add/remove one row changes one group's sum by a vector of L2 norm at most
            ``norm_bound`` (clipping enforces it): L2 sensitivity ``norm_bound``. Charges one
            lattice-Gaussian release at ``sigma`` over G·D coordinates (the snapping to the
            lattice is charged as extra sensitivity) before any row is read.

        Returns:
            The noisy sums, shape (G, D) (G = 1 without groups).
        """
        from dpsynth.data.domain import category_key
        from dpsynth.pe._votes import feature_sums

        if not callable(features):
            raise InvalidParameterError(f"features must be a callable on a block of rows. Got {type(features).__name__}.")
        if (group_column is None) != (groups is None):
            raise InvalidParameterError("Pass both group_column and groups, or neither.")
        labels = None
        if group_column is not None and groups is not None:
            self._check_cliques([(group_column,)])
            labels = [category_key(g) for g in groups]
        dim = int(getattr(features, "dim", 0))
        if dim < 1:
            raise InvalidParameterError("features must declare its output dimension as a 'dim' attribute >= 1.")
        n_groups = 1 if labels is None else len(labels)
        self._refuse_on_spark("Private Evolution's feature sketch", "'pe'")
        mech = GaussianMechanism(sigma=sigma, sensitivity=norm_bound, integer=False, dim=n_groups * dim)
        self.accountant.charge(mech, step=step, description=f"sketch of {dim} features over {n_groups} group(s)")
        frame = self._table.to_frame(self.domain)
        rows = None
        if group_column is not None:
            rows = np.array(["" if v is None or v != v else category_key(v) for v in frame[group_column]], dtype=object)
        sums = feature_sums(features, frame, dim=dim, norm_bound=norm_bound, groups=labels, row_groups=rows)
        return mech.release(sums, self.noise)

    def __repr__(self) -> str:
        # Never show data or its size.
        bound = "bound" if self._accountant is not None else "unbound"
        return f"PrivateData({len(self.domain)} columns, {bound})"


def coarsen_counts(counts: np.ndarray, clique: Clique, coarsen: Coarsening) -> np.ndarray:
    """Sum a marginal's cells within the coarse codes of each mapped column."""
    out = counts
    for axis, attr in enumerate(clique):
        m = coarsen.get(attr)
        if m is None:
            continue
        m = np.asarray(m)
        onehot = np.zeros((m.size, int(m.max()) + 1))
        onehot[np.arange(m.size), m] = 1.0
        out = np.moveaxis(np.tensordot(out, onehot, axes=([axis], [0])), -1, axis)
    return out


def gaussian_sigma_for(rho: float, count: int) -> float:
    """σ such that ``count`` unit-sensitivity Gaussian releases cost ``rho`` in total."""
    if rho <= 0:
        raise InvalidParameterError(f"No budget left to measure (rho={rho!r}).")
    return math.sqrt(count / (2.0 * rho))

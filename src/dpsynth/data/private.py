"""PrivateData: the one boundary private rows cross, and only as noisy answers.

A generator receives a ``PrivateData`` bound to its fit's accountant and noise source.
Every method that depends on private rows charges the accountant *before* computing the
answer and returns only noisy values (or a selection made by a DP mechanism). Raw counts
are computed inside DuckDB and cached in this object; they never leave it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from dpsynth.data.discretize import Discretizer
from dpsynth.data.domain import Domain
from dpsynth.data.io import Table, marginal_counts_many, validate
from dpsynth.errors import BudgetExceededError, InvalidDataError, InvalidParameterError
from dpsynth.pgm import Domain as PGMDomain
from dpsynth.pgm import Measurement
from dpsynth.privacy import Accountant, ExponentialMechanism, GaussianMechanism, NoiseSource

Clique = tuple[str, ...]
#: Public maps from a column's codes to coarser codes: ``m[code] = coarse code``.
Coarsening = Mapping[str, np.ndarray]

#: Marginal methods refuse columns with more codes than this (a 2-way marginal of two such
#: columns already has a million cells). Group rare categories, or declare fewer bins.
MAX_CODES = 1000


class PrivateData:
    """A sensitive table behind its privacy boundary.

    Args:
        table: The table (a :class:`~dpsynth.data.io.Table`, a pandas DataFrame, or a path
            to a CSV/Parquet file).
        domain: The public description of every column (from metadata). Columns whose
            categories or bounds are unknown are inferred with DP when a fit starts,
            at ``inference_share`` of its budget.
        inference_share: Share of the zCDP budget spent on domain inference, if any is needed.
        quantile_bins: Bin numeric columns at DP quantiles (charged within ``inference_share``)
            unless the metadata gives explicit ``edges``; False bins them uniformly over their
            public bounds at no cost.
        validate_data: Check the table against the domain first (recommended).
    """

    def __init__(
        self,
        table: Table | object,
        domain: Domain,
        *,
        inference_share: float = 0.05,
        quantile_bins: bool = True,
        validate_data: bool = True,
    ) -> None:
        if not isinstance(domain, Domain):
            raise InvalidParameterError(f"PrivateData needs a Domain. Got {type(domain).__name__}.")
        if not 0.0 < inference_share < 1.0:
            raise InvalidParameterError(
                f"The 'inference_share' parameter of PrivateData must be in (0, 1). Got {inference_share!r}."
            )
        self._table = Table.coerce(table)
        self.domain = domain
        self.inference_share = float(inference_share)
        self.quantile_bins = bool(quantile_bins)
        #: Remarks every privacy report of a fit on this data carries (e.g. how types were read).
        self.notes: list[str] = []
        if validate_data:
            validate(self._table, domain)
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

        Numeric columns without explicit edges also get DP-quantile bin edges when
        ``quantile_bins`` is set. Returns self when there is nothing to infer (nothing is
        charged).
        """
        from dpsynth.data.infer import infer_domain, inference_todo

        if not inference_todo(self.domain, quantile_bins=self.quantile_bins):
            return self

        rho = self.inference_share * self.rho_left(step)
        self.domain, self._table = infer_domain(
            self._table, self.domain, rho=rho, accountant=self.accountant, noise=self.noise, step=step,
            quantile_bins=self.quantile_bins,
        )
        self._discretizer = None
        self._cache.clear()
        return self

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
    ) -> int:
        """Pick the candidate marginal worst explained by ``estimates`` (exponential mechanism).

        The quality of candidate r is ``w_r · (‖M_r(D) − estimate_r‖₁ − penalty_r)``
        (AIM, McKenna et al. 2022, Alg. 1 line 9; MST uses w = 1, penalty = 0).

        Privacy:
            Add/remove one row changes ‖M_r(D) − e‖₁ by at most 1, so the score's
            sensitivity is max w_r. Charges one exponential mechanism at ``epsilon``
            (ε²/8-zCDP) before any true marginal is read.

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
        mech = ExponentialMechanism(epsilon=epsilon, sensitivity=float(w.max()))
        self.accountant.charge(mech, step=step, description=f"select among {len(cands)} marginals")
        truths = self._true_marginals(cands, coarsen)
        scores = np.array([
            wi * (np.abs(t.ravel() - np.asarray(estimates[c]).ravel()).sum() - p)
            for c, t, wi, p in zip(cands, truths, w, pen, strict=True)
        ])
        return mech.select(scores, self.noise)

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

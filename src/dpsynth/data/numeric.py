"""Numbers that look like the column they came from: atoms, precision, roundness and within-bin shape.

Marginal methods release counts over bins; a synthetic number is then drawn inside its
bin. Drawn uniformly, it gives ``capital-gain = 7143`` where every real amount is round,
``0.0031`` where most real values are exactly 0, and splits a frequent whole number over
its neighbours. This module owns how numbers are decoded, for every generator, from four
public or DP-measured facts a :class:`~dpsynth.data.domain.Column` carries:

* ``atoms``: values that occur exactly and often. Each gets a code of its own (so the
  generators measure it as a cell) and is decoded exactly.
* ``step``: the precision values are recorded in. Decoded values lie on its grid (whole
  numbers for integer columns, multiples of ``step`` otherwise).
* ``density``: a histogram on cells finer than the bins; a value is drawn inside its bin
  from the density's shape there (conditional on the bin), not uniformly.
* ``rounding``: the share of non-zero values on each coarser grid of the step's chain
  (whole hundreds, thousands); decoding rounds that share of values, within their bins
  (:func:`round_in_bins`).

Whatever the metadata leaves out is measured here with DP, called by
:meth:`dpsynth.data.private.PrivateData.complete_domain` and charged to the fit's
accountant at :data:`NUMERIC_SHARE` of the budget left:

* atoms: a thresholded (stability-based) noisy histogram over the exact values; a value
  held by one row clears the threshold with probability at most δ₀, charged as
  (ρ, δ₀)-approximate zCDP; kept values must also hold :data:`ATOM_MIN_SHARE` of the rows;
* step: a noisy histogram of, for each row, the coarsest grid of a public nested chain of
  candidates (``…, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, …``, :func:`step_chain`) the value is a
  non-zero multiple of; the step is the coarsest grid holding :data:`STEP_COVERAGE` of the
  non-zero values as far as the noise tells (:func:`select_step`); the same noisy counts
  give ``rounding`` (:func:`select_rounding`, post-processing);
* density: a noisy histogram over :data:`SHAPE_CELLS` sub-cells of every bin (geometric
  sub-cells in a bin spanning more than a factor 4, so long tails get shape too);
* bins (opt-in part ``"bins"``, :func:`measure_bins`): instead, one noisy histogram on fine
  public cells of the column's range; the bin edges are its denoised quantiles on the step
  grid (equal-mass bins) and the density is read from the same counts. It takes the shape's
  share plus the share domain inference would have spent on the column's DP quantiles.

What is kept is sized by the budget, so that a small budget degrades to the uniform
decoding instead of adding noisy detail. With σ_fit the noise sd the generator's count
measurements are planned against (:func:`fit_noise_sd`: the fit's ρ spread over a 1-way
and a 2-way marginal per column) and n̂ the step histogram's noisy row count:

* bins: a column without public ``bins``/``edges`` gets :func:`resolvable_bins` bins, so
  that an average bin holds :data:`BIN_SNR`·σ_fit rows (at most the default 32);
* atoms: an atom gets a code of its own only if it holds :data:`ATOM_SNR`·σ_fit rows and,
  on a column recorded on a grid, stands out from its neighbours on the grid
  (:data:`ATOM_STAND_OUT` times either); at most half as many atoms as bins, unless up to
  :data:`DISCRETE_MAX_ATOMS` atoms hold :data:`DISCRETE_MASS` of the rows: the column is then
  discrete, and its codes are its atoms and the gaps between them (no quantile bins);
* shape: each bin's sub-cell shape is kept only where its noisy counts resolve it
  (:func:`refine_shape`, Haar splits tested at :data:`SHAPE_Z` sds); elsewhere the bin is
  decoded uniformly.

Each is one Gaussian release of L2 sensitivity 1 (add/remove one row changes one cell by
one). Decoding (:func:`draw_in_bins`) is post-processing.
"""

from __future__ import annotations

import functools
import itertools
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import isotonic_regression

from dpsynth.data._parse import quote_ident, sql_missing, sql_number
from dpsynth.data.domain import DEFAULT_BINS, Column, Domain
from dpsynth.errors import InvalidParameterError
from dpsynth.privacy import Accountant, GaussianMechanism, NoiseSource

if TYPE_CHECKING:
    from dpsynth.data.discretize import _Coder
    from dpsynth.data.io import Table
    from dpsynth.data.spark import SparkTable

#: The released part of a thresholded histogram of a column's exact values: values, their
#: noisy counts, σ and δ₀ (see :func:`measure_pre`'s ``released``).
Released = tuple[np.ndarray, np.ndarray, float, float]
#: What :func:`measure_pre` / :func:`measure_shape` / :func:`measure_bins` may infer.
PARTS: tuple[str, ...] = ("atoms", "step", "shape", "bins")
#: Share of the zCDP budget left when a fit starts that numeric detail may spend in total.
NUMERIC_SHARE = 0.05
#: Share of the budget's δ the atom histograms may use, in total.
ATOM_DELTA_SHARE = 0.1
#: Most atoms kept per column, and the share of the rows an atom must hold.
MAX_ATOMS = 16
ATOM_MIN_SHARE = 0.01
#: A column whose atoms hold this share of its (noisy) rows is a discrete one (values of a
#: per-area figure, scores): it keeps up to :data:`DISCRETE_MAX_ATOMS` atoms and one bin, so
#: its codes are its atoms and the gaps between them (see :func:`measure_pre`).
DISCRETE_MASS = 0.95
DISCRETE_MAX_ATOMS = 32
#: On a grid, an atom holds at least this many times the count of either neighbour.
ATOM_STAND_OUT = 2.0
#: An atom must hold this many noise sds of the generator's measurements (:func:`fit_noise_sd`).
ATOM_SNR = 5.0
#: An average bin must hold this many noise sds of the generator's measurements (:func:`resolvable_bins`).
BIN_SNR = 10.0
#: Fewest bins :func:`resolvable_bins` gives a numeric column.
MIN_BINS = 4
#: Sub-cells per bin of the within-bin density (measured; fewer kept where the noise dominates).
SHAPE_CELLS = 8
#: A split of a bin's density is kept when the noisy halves differ by this many sds (:func:`refine_shape`).
SHAPE_Z = 2.5
#: Cells of the fine histogram :func:`measure_bins` places equal-mass edges on: equal-width
#: cells over the range, plus as many geometric ones where the range spans decades; a column
#: recorded on a grid of at most :data:`FINE_VALUES` values gets one cell per value.
FINE_CELLS = 64
FINE_VALUES = 512
#: In the fine histogram, a half of a cell range whose noisy sum is below this many sds
#: while the other half's is above holds no mass (:func:`refine_shape`'s ``empty``).
EMPTY_Z = 1.0
#: Relative weights of the three measurements in the numeric share (the fine histogram of
#: :func:`measure_bins` replaces the shape measurement, at its weight).
_WEIGHTS = {"atoms": 1.0, "step": 0.5, "shape": 2.0}
#: A grid coarser than the step keeps a rounding share of its own when its cell of the step
#: histogram clears this many sds (:func:`select_rounding`).
ROUNDING_Z = 3.0
#: The share of the non-zero values a candidate grid must hold to be the column's step.
STEP_COVERAGE = 0.98
#: Sds of noise a step histogram's sum must clear to count as evidence (:func:`select_step`).
STEP_EVIDENCE_Z = 4.0
#: Sds of noise the rows off a candidate step may add to its allowed share (:func:`select_step`).
STEP_OFF_Z = 2.0


def step_candidates(col: Column) -> tuple[float, ...]:
    """The public nested chain of candidate steps (each a multiple of the one before)."""
    if col.kind == "datetime":
        return (1.0, 60.0, 3600.0, 86400.0)
    chain = [m * 10.0**e for e in range(-4, 7) for m in (1.0, 5.0)]
    if col.integer:
        chain = [c for c in chain if c >= 1.0]
    return tuple(float(f"{c:.10g}") for c in chain)


def step_chain(col: Column) -> tuple[float, ...]:
    """The candidate steps a column's step histogram counts: those with a non-zero multiple in its bounds.

    A grid coarser than the largest absolute value the public bounds allow holds no
    non-zero value of the column, so its cell is empty by construction: left out, it adds
    no noise to the sums :func:`select_step` reads (a rate in [0, 1] has 9 candidate
    grids, not 22).
    """
    chain = step_candidates(col)
    if col.kind == "datetime" or col.lower is None or col.upper is None:
        return chain
    top = max(abs(float(col.lower)), abs(float(col.upper)))
    kept = tuple(c for c in chain if c <= top * (1.0 + 1e-9))
    return kept or chain[:1]


def _small_integer_range(col: Column) -> bool:
    """An integer column whose public range holds few enough whole numbers to code each."""
    if not col.integer or col.lower is None or col.upper is None:
        return False
    return math.floor(col.upper) - math.ceil(col.lower) + 1 <= max(col.bins or DEFAULT_BINS, DEFAULT_BINS)


def pre_todo(domain: Domain, parts: Iterable[str] = PARTS) -> list[tuple[str, str]]:
    """The (column, part) pairs :func:`measure_pre` spends budget on: atoms and steps."""
    parts = set(parts)
    out = []
    for col in domain:
        if not col.is_numeric or _small_integer_range(col):
            continue
        # The step first: its few-cell histogram gives the row count atoms are judged by.
        if "step" in parts and col.step is None:
            out.append((col.name, "step"))
        if "atoms" in parts and col.atoms is None:
            out.append((col.name, "atoms"))
    return out


def bins_todo(domain: Domain, parts: Iterable[str] = PARTS) -> list[str]:
    """The columns :func:`measure_bins` places equal-mass edges on (and measures a density of).

    Numeric, non-datetime columns without ``edges`` (public edges are kept exactly) whose
    range holds more whole numbers than bins (those get one code per number).
    """
    if "bins" not in set(parts):
        return []
    return [c.name for c in domain
            if c.is_numeric and c.kind != "datetime" and c.edges is None and not _small_integer_range(c)]


def shape_todo(domain: Domain, parts: Iterable[str] = PARTS) -> list[str]:
    """The columns :func:`measure_shape` measures a density of (on their bins as they are)."""
    if "shape" not in set(parts):
        return []
    binned = set(bins_todo(domain, parts))
    return [c.name for c in domain
            if c.is_numeric and c.density is None and not _small_integer_range(c) and c.name not in binned]


def check_parts(parts: Iterable[str]) -> tuple[str, ...]:
    """Validate a selection of parts (a one-line error for an unknown one)."""
    if isinstance(parts, str):
        parts = (parts,)
    out = tuple(parts)
    bad = [p for p in out if p not in PARTS]
    if bad:
        raise InvalidParameterError(f"Unknown numeric detail part(s) {bad}; choose among {list(PARTS)}.")
    return out


def plan_rho(domain: Domain, rho: float, parts: Iterable[str]) -> tuple[float, float]:
    """ρ per unit weight for the pre-inference and shape measurements (their split of ``rho``)."""
    pre = pre_todo(domain, parts)
    shape = shape_todo(domain, parts) + bins_todo(domain, parts)
    total = sum(_WEIGHTS[p] for _, p in pre) + _WEIGHTS["shape"] * len(shape)
    return (rho / total if total else 0.0), len(pre)


def _numbers_table(table: Table, cols: Sequence[Column]) -> str:
    """A temp table of the parsed numbers of ``cols`` (NULL where missing): one scan of the rows."""
    name = f"dpsynth_numbers_{uuid.uuid4().hex[:12]}"
    parts = []
    for col in cols:
        q = quote_ident(col.name)
        parts.append(f"CASE WHEN {sql_missing(col, q)} THEN NULL ELSE {sql_number(col, q)} END AS {q}")
    table.connection.execute(f"CREATE TEMP TABLE {name} AS SELECT {', '.join(parts)} FROM {table.relation_name}")
    return name


def _value_counts(table: Table, nums: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct finite values of a parsed column and how many rows hold each (raw, not noisy).

    The one read of private values every numeric-detail histogram starts from; the cells
    (exact values, candidate grids, sub-cells) are formed from it in numpy.
    """
    # Ordered: the atom histogram's noise is drawn in this order, and DuckDB's parallel
    # GROUP BY returns groups in no fixed order (a seeded fit drew its atoms differently
    # from run to run).
    rows = table.connection.execute(
        f"SELECT x, count(*) FROM (SELECT {quote_ident(name)} AS x FROM {nums}) "
        "WHERE x IS NOT NULL AND isfinite(x) GROUP BY ALL ORDER BY x"
    ).fetchall()
    values = np.array([r[0] for r in rows], dtype=np.float64)
    counts = np.array([r[1] for r in rows], dtype=np.float64)
    return values, counts


class _Reads:
    """The private reads of numeric detail, on the table's engine (raw counts, not noisy).

    DuckDB: one scan into a temp table of parsed numbers, then each column's distinct values
    and counts, from which every histogram's cells are formed in numpy. Spark: each histogram
    is counted by Spark over cells it computes per row (only the counts come back); the
    exact-value histogram of atoms is not available there (distinct values may be as many
    as rows).
    """

    def __init__(self, table: Table | SparkTable, cols: Sequence[Column]) -> None:
        self.table = table
        self.spark = table.engine == "spark"
        self.cols = {c.name: c for c in cols}
        self.nums = None if self.spark else _numbers_table(table, cols)  # type: ignore[arg-type]
        self._values: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def value_counts(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if self.spark:
            raise AssertionError("exact values are not read on the Spark engine")
        if name not in self._values:
            assert self.nums is not None
            self._values[name] = _value_counts(self.table, self.nums, name)  # type: ignore[arg-type]
        return self._values[name]

    def step_cells(self, name: str, chain: Sequence[float]) -> np.ndarray:
        """Rows on no grid of ``chain`` (cell 0), by coarsest grid (j + 1), exact zeros (last)."""
        if self.spark:
            from dpsynth.data import spark

            return spark.step_histogram(self.table, self.cols[name], chain)  # type: ignore[arg-type]
        values, counts = self.value_counts(name)
        where = np.where(values == 0.0, len(chain) + 1, grid_cells(chain, values))
        return np.bincount(where, weights=counts, minlength=len(chain) + 2).astype(np.float64)

    def shape_counts(self, name: str, coder: _Coder, cuts: np.ndarray) -> np.ndarray:
        """Rows per sub-cell of ``cuts`` (outside values in the outer ones), atom rows left out."""
        if self.spark:
            from dpsynth.data import spark

            return spark.shape_histogram(self.table, coder, cuts)  # type: ignore[arg-type]
        xs, cs = self.value_counts(name)
        if coder.atom_codes:
            # Rows holding an atom have codes of their own and are decoded as the atom: they
            # must not enter the sub-cells (a zero atom below the first cut would otherwise
            # be counted in the first cell of the next bin and pile its values there).
            keep = ~np.isin(coder.codes_of_numbers(np.clip(xs, coder.lo, coder.hi)), coder.atom_codes)
            xs, cs = xs[keep], cs[keep]
        cells = np.searchsorted(cuts[1:-1], xs, side="right")  # number of interior cuts ≤ x
        return np.bincount(cells, weights=cs, minlength=cuts.size - 1).astype(np.float64)

    def close(self) -> None:
        if self.nums is not None:
            self.table.connection.execute(f"DROP TABLE {self.nums}")  # type: ignore[union-attr]


def _merge_equal(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts summed over equal values."""
    uniq, inv = np.unique(values, return_inverse=True)
    return uniq, np.bincount(inv, weights=counts, minlength=uniq.size).astype(np.float64)


def grid_cells(chain: Sequence[float], values: np.ndarray) -> np.ndarray:
    """Per value, 1 + the index of the coarsest candidate grid it lies on (0: none).

    A value lies on a grid when it is a non-zero multiple of it: 0.013 is no multiple of
    5,000,000 however small its ratio (zero, on every grid, is none's: callers count it
    apart).
    """
    cell = np.zeros(values.size, dtype=np.int64)
    for j, s in enumerate(chain):
        r = values / s
        k = np.round(r)
        cell[(np.abs(r - k) < 1e-6) & (k != 0)] = j + 1  # later (coarser) grids overwrite
    return cell


def fit_noise_sd(rho: float, n_columns: int) -> float:
    """The noise sd a generator's count measurements are planned against.

    The σ of one Gaussian count if ``rho`` were spread over ``2·n_columns`` equal
    measurements (a 1-way and a 2-way marginal per column, the first measurements of MST
    and AIM): σ = √(n_columns / ρ). A public function of the budget and the schema.
    """
    return math.sqrt(max(n_columns, 1) / rho) if rho > 0 else math.inf


def resolvable_bins(n: float, sigma_fit: float) -> int:
    """Bins a numeric column can afford: an average bin holds :data:`BIN_SNR` noise sds.

    ``n / bins ≥ BIN_SNR·σ_fit``, between :data:`MIN_BINS` and
    :data:`~dpsynth.data.domain.DEFAULT_BINS` (finer bins cost 2-way cells; the within-bin
    shape gives resolution below the bins).
    """
    if not math.isfinite(sigma_fit) or sigma_fit <= 0:
        return DEFAULT_BINS
    return int(min(DEFAULT_BINS, max(MIN_BINS, math.floor(max(n, 0.0) / (BIN_SNR * sigma_fit)))))


def measure_pre(
    table: Table | SparkTable,
    domain: Domain,
    *,
    rho_unit: float,
    accountant: Accountant,
    noise: NoiseSource,
    step: str,
    parts: Iterable[str] = PARTS,
    rho_fit: float | None = None,
    released: Mapping[str, Released] | None = None,
) -> Domain:
    """Find atoms and steps with DP for the numeric columns whose metadata leaves them out.

    What is kept depends on the budget (post-processing of the noisy counts): with σ_fit
    the noise the generator's measurements are planned against (:func:`fit_noise_sd` of
    ``rho_fit``, default the budget left less :data:`NUMERIC_SHARE`) and n̂ the step
    histogram's noisy total, a column without ``bins``/``edges`` gets
    :func:`resolvable_bins` (n̂, σ_fit) bins; an atom must hold :data:`ATOM_SNR`·σ_fit rows
    (a cell of its own must be seen above the generator's noise), and a column gets at most
    half as many atoms as bins.

    Privacy:
        Add/remove one row changes one cell of each histogram by one (L2 sensitivity 1).
        Each step histogram is a Gaussian release at ρ = ``rho_unit``·w; each atom histogram a
        thresholded one at ρ = ``rho_unit``·w with δ₀ = :data:`ATOM_DELTA_SHARE`·δ / (number of
        atom histograms): a value held by one row reaches the threshold
        τ = 1 + t, with P(Z ≥ t) ≤ δ₀ for the discrete Gaussian noise Z, with probability
        at most δ₀. Each is charged before its counts are computed.

    ``released``: per column, the released part of an earlier thresholded histogram of its
    exact values (values, noisy counts, σ, δ₀; type inference's, already charged). Its
    values are atom candidates too, judged by the same rules (post-processing): a column
    keeps the atoms either histogram finds, up to the same cap, its own first. A 4-digit
    code held by 5% of the rows may clear one threshold and not the other.

    Returns:
        The domain with ``atoms``, ``step`` and ``bins`` filled in where measured.
    """
    todo = pre_todo(domain, parts)
    if not todo:
        return domain
    if rho_fit is None:
        rho_fit = (1.0 - NUMERIC_SHARE) * accountant.rho_remaining
    sigma_fit = fit_noise_sd(rho_fit, len(domain))
    n_atoms = sum(1 for _, p in todo if p == "atoms")
    delta0 = ATOM_DELTA_SHARE * accountant.budget.delta / max(1, n_atoms)
    names = list(dict.fromkeys(n for n, _ in todo))
    reads = _Reads(table, [domain[n] for n in names])
    new: list[Column] = []
    for name in names:
        col = domain[name]
        wanted = [p for n, p in todo if n == name]
        n_hat: float | None = None  # noisy row count, from the step histogram
        n_sum = 0.0
        if "step" in wanted:
            sigma = math.sqrt(1.0 / (2.0 * rho_unit * _WEIGHTS["step"]))
            mech = GaussianMechanism(sigma=sigma)
            accountant.charge(mech, step=step, description=f"histogram of {name!r} over candidate grids (precision)")
            chain = step_chain(col)
            # Zero lies on every grid and says nothing of the step: it gets a cell of its
            # own (last), counted in the row total only. Without it a column of 99% zeros
            # (hours of snow) "had" the coarsest grid, 5,000,000, and decoded every other
            # value as 0.
            noisy = mech.release(reads.step_cells(name, chain), noise)
            n_hat = float(np.clip(noisy, 0.0, None).sum())
            n_sum = float(noisy.sum())  # unbiased (clipping adds the empty cells' noise)
            found = select_step(chain, noisy[:-1], sigma=sigma)
            if found is not None and not (col.integer and found <= 1.0):
                col = col.replace(step=found)
                accountant.notes.append(f"step of {name!r} inferred with DP: {found:g}")
            else:
                accountant.notes.append(f"step of {name!r} inferred with DP: none")
            base = col.step if col.step is not None else (1.0 if col.integer else None)
            rounding = None if base is None else select_rounding(chain, noisy[:-1], base=base, sigma=sigma,
                                                                bounds=(col.lower, col.upper))
            if rounding is not None:
                col = col.replace(rounding=rounding)
                shown = ", ".join(f"{g:g}: {w:.0%}" for g, w in zip(*rounding, strict=True))
                accountant.notes.append(f"rounding of {name!r} read from the same histogram: {shown}")
        bins = col.bins or DEFAULT_BINS
        if n_hat is not None and col.bins is None and col.edges is None:
            bins = resolvable_bins(n_hat, sigma_fit)
            if bins != DEFAULT_BINS:
                col = col.replace(bins=bins)
                accountant.notes.append(f"bins of {name!r} chosen from the budget and the noisy row count: {bins}")
        if "atoms" in wanted:
            values, counts = reads.value_counts(name)
            sigma = math.sqrt(1.0 / (2.0 * rho_unit * _WEIGHTS["atoms"]))
            mech = GaussianMechanism(sigma=sigma)
            accountant.charge(mech, step=step, delta=delta0,
                              description=f"thresholded histogram of {name!r} exact values (atoms)")
            vals, cnts = _merge_equal(np.floor(values + 0.5), counts) if col.integer else (values, counts)
            noisy = mech.release(cnts, noise) if vals.size else cnts
            tau = 1.0 + discrete_gaussian_tail_threshold(sigma, delta0)
            # Without a step histogram, the released values' noisy counts bound the total
            # from below (the clipped sum of all cells would add noise once per value).
            total = n_hat if n_hat is not None else (float(noisy[noisy >= tau].sum()) if vals.size else 0.0)
            cap = min(MAX_ATOMS, max(1, bins // 2))
            grid = col.step if col.step is not None else (1.0 if col.integer else None)
            atoms = select_atoms(vals, noisy, sigma=sigma, delta0=delta0, total=total,
                                 min_count=ATOM_SNR * sigma_fit, max_atoms=cap, grid=grid,
                                 bounds=(col.lower, col.upper))
            if released is not None and name in released and len(atoms) < cap:
                r_vals, r_noisy, r_sigma, r_delta0 = released[name]
                if col.integer:
                    r_vals, r_noisy = _merge_equal(np.floor(r_vals + 0.5), r_noisy)
                more = select_atoms(r_vals, r_noisy, sigma=r_sigma, delta0=r_delta0, total=total,
                                    min_count=ATOM_SNR * sigma_fit, max_atoms=cap, grid=grid,
                                    bounds=(col.lower, col.upper))
                inside = [a for a in more if a not in atoms and (col.lower is None or a >= col.lower)
                          and (col.upper is None or a <= col.upper)]
                atoms = tuple(sorted((*atoms, *inside[:cap - len(atoms)])))
            if n_hat is not None and domain[name].bins is None and col.edges is None:
                # Nearly every row on a few exact values (a per-area figure: 20 densities,
                # one per area) is a discrete column: quantile bins between the values would
                # hold only noise, and a cap of half the bins decoded the values it left out
                # uniformly across their bins. All its atoms are kept and its one bin is cut
                # by them alone (post-processing of the same release).
                wide = select_atoms(vals, noisy, sigma=sigma, delta0=delta0, total=total,
                                    min_count=ATOM_SNR * sigma_fit, max_atoms=DISCRETE_MAX_ATOMS, grid=grid,
                                    bounds=(col.lower, col.upper))
                held = float(noisy[np.isin(vals, np.asarray(wide, dtype=np.float64))].sum())
                if len(wide) > 1 and held >= DISCRETE_MASS * n_sum:
                    atoms = wide
                    col = col.replace(bins=1)
                    accountant.notes.append(
                        f"{name!r} is discrete: {len(wide)} exact values found with DP hold "
                        f"{min(held / n_sum, 1.0):.0%} of its rows; its codes are those values and the gaps between them")
            col = col.replace(atoms=atoms)
            accountant.notes.append(f"atoms of {name!r} found with DP: {len(atoms)}")
        new.append(col)
    reads.close()
    return domain.with_columns(new)


@functools.lru_cache(maxsize=256)
def discrete_gaussian_tail_threshold(sigma: float, delta0: float) -> float:
    """The least whole ``t`` with P(Z ≥ t) ≤ δ₀ for discrete Gaussian noise Z of scale σ.

    The continuous quantile σ·Φ⁻¹(1 − δ₀) is not enough: integer noise reaches the next
    whole number above it about as often as continuous noise reaches half a unit less.
    """
    start = max(0, math.floor(sigma * float(stats.norm.isf(delta0))) - 1)
    top = start + math.ceil(12 * sigma) + 10
    j = np.arange(0, top + 1, dtype=np.float64)
    mass = np.exp(-(j**2) / (2 * sigma**2))
    norm = 2 * mass.sum() - mass[0]  # the tail beyond ``top`` is negligible (< e^-72)
    tails = np.cumsum(mass[::-1])[::-1] / norm  # P(Z ≥ j)
    ok = np.flatnonzero(tails[start:] <= delta0)
    return float(start + ok[0]) if ok.size else float(top)


def select_atoms(values: np.ndarray, noisy: np.ndarray, *, sigma: float, delta0: float,
                 total: float, min_count: float = 0.0, max_atoms: int = MAX_ATOMS,
                 grid: float | None = None,
                 bounds: tuple[float | None, float | None] | None = None) -> tuple[float, ...]:
    """The atoms a thresholded noisy histogram releases (post-processing of the noisy counts).

    Kept: values whose noisy count reaches τ = 1 + t (t the discrete Gaussian's (1 − δ₀)
    quantile, :func:`discrete_gaussian_tail_threshold`), holds at least
    :data:`ATOM_MIN_SHARE` of ``total`` and ``min_count`` rows and, on a column recorded on
    a ``grid`` (whole numbers, a step), stands out from its neighbours: at least
    :data:`ATOM_STAND_OUT` times the larger count at ``v ± grid``: its released count, τ/2
    where it was not released (only the thresholded release is used; the midpoint of the
    [0, τ) it may hide), 0 outside the public ``bounds``. An age held by 1.3% of the rows
    beside ages held by 1.2% is no atom; 40 hours, 0 or a round amount are. At most
    ``max_atoms``, the largest first.
    """
    if values.size == 0:
        return ()
    tau = 1.0 + discrete_gaussian_tail_threshold(sigma, delta0)
    released = noisy >= tau
    keep = released & (noisy >= ATOM_MIN_SHARE * total) & (noisy >= min_count)
    if grid is not None and grid > 0 and np.any(keep):
        order = np.argsort(values)
        sv, sn = values[order], np.where(released, noisy, tau / 2.0)[order]
        tol = grid * 1e-6
        lo = -np.inf if bounds is None or bounds[0] is None else bounds[0]
        hi = np.inf if bounds is None or bounds[1] is None else bounds[1]

        def near(x: np.ndarray) -> np.ndarray:
            j = np.clip(np.searchsorted(sv, x), 0, sv.size - 1)
            got = np.where(np.abs(sv[j] - x) <= tol, sn[j], tau / 2.0)
            return np.where((x < lo - tol) | (x > hi + tol), 0.0, got)

        neighbour = np.maximum(near(values - grid), near(values + grid))
        keep &= noisy >= ATOM_STAND_OUT * neighbour
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(-noisy[idx], kind="stable")][:max(0, max_atoms)]
    return tuple(sorted(float(v) for v in values[idx]))


def select_step(chain: Sequence[float], noisy: np.ndarray, *, sigma: float) -> float | None:
    """The coarsest candidate step that holds nearly every non-zero value, as far as the noise tells.

    ``noisy[0]`` counts values on no candidate grid, ``noisy[j + 1]`` those whose coarsest
    grid is ``chain[j]`` (post-processing of the noisy counts). ``chain[j]`` is the step when

    - the rows on it or a coarser grid are evident: their noisy sum clears
      :data:`STEP_EVIDENCE_Z` sds of its noise;
    - the rows off it are few: their noisy sum is at most (1 − :data:`STEP_COVERAGE`) of
      the rows on it plus :data:`STEP_OFF_Z` sds of its noise (the noise of many empty
      cells must not sink a grid that holds every value: at one sd, one clean grid in
      six or seven was read as a finer one, and whole-day dates got hours; nor a few
      hundred rows on a clean grid go unseen);
    - no finer cell on its own evidently holds more than that share (reaching
      :data:`STEP_EVIDENCE_Z` sds), so values recorded off the grid are not snapped onto
      it when their count, summed with the noise of the cells around, is unclear.

    None when no grid qualifies.
    """
    y = np.asarray(noisy, dtype=np.float64)
    m = len(chain)
    if y.size != m + 1:
        raise InvalidParameterError(f"A step histogram needs {m + 1} cells for {m} grids, got {y.size}.")
    total = float(y.sum())
    off = np.cumsum(y)[:-1]  # off[j]: rows off chain[j] and every coarser grid
    top = np.maximum.accumulate(y)[:-1]  # the largest finer cell
    for j in range(m - 1, -1, -1):
        on = total - float(off[j])
        if on < STEP_EVIDENCE_Z * sigma * math.sqrt(m - j):
            continue
        if off[j] > (1.0 - STEP_COVERAGE) * on + STEP_OFF_Z * sigma * math.sqrt(j + 1):
            continue
        if top[j] >= max(STEP_EVIDENCE_Z * sigma, (1.0 - STEP_COVERAGE) * on):
            continue
        return float(chain[j])
    return None


def select_rounding(chain: Sequence[float], noisy: np.ndarray, *, base: float, sigma: float,
                    bounds: tuple[float | None, float | None] = (None, None)
                    ) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """How round the non-zero values are, read off the step histogram (post-processing).

    ``noisy`` is the step histogram without its zero cell (``noisy[0]``: on no candidate
    grid, ``noisy[j + 1]``: coarsest grid ``chain[j]``). Off-grid values and grids finer than
    ``base`` (the column's step) count for ``base``. A coarser grid is kept only where its
    noisy count clears :data:`ROUNDING_Z` sds. One that does not is left out of the grids
    and its count dropped (merging it into a finer grid would add every empty cell's noise
    to that grid's share), so decoding treats its values as the finer grid's, on it at the
    rate a uniform draw gives, instead of avoiding it. Grids with no
    non-zero multiple inside the public ``bounds`` are left out. Returns the kept grids from
    ``base`` up with their shares (summing to 1), or None when no coarser grid is kept or
    the total is lost in the noise.
    """
    y = np.asarray(noisy, dtype=np.float64)
    if y.size != len(chain) + 1 or float(y.sum()) <= 10.0 * sigma * math.sqrt(y.size):
        return None
    at = [j for j, c in enumerate(chain) if abs(c - base) <= 1e-9 * base]
    if not at:
        return None
    j0 = at[0]
    grids, cells = [float(chain[j0])], [float(y[: j0 + 2].sum())]
    lo, hi = bounds
    top = max(abs(lo), abs(hi)) if lo is not None and hi is not None else math.inf
    for j in range(j0 + 1, len(chain)):
        if chain[j] > top:
            break
        if y[j + 1] >= ROUNDING_Z * sigma:
            grids.append(float(chain[j]))
            cells.append(float(y[j + 1]))
    w = np.clip(np.asarray(cells), 0.0, None)
    if len(grids) < 2 or not w.sum() > 0:
        return None
    return tuple(grids), tuple(float(x) for x in w / w.sum())


def shape_cells(coder: _Coder) -> np.ndarray:
    """Public sub-cell edges of a column's bins, in value space (from its bins only).

    A bin is cut into :data:`SHAPE_CELLS` cells, geometrically if it spans more than a
    factor 4 on one side of zero, so long tails get shape; bins of lattice columns are cut
    at half-steps, one cell per value when they hold few.
    """
    pieces = _bin_cuts(coder)
    if not pieces:
        return np.array([], dtype=np.float64)
    return np.unique(np.concatenate(pieces))


def _bin_cuts(coder: _Coder) -> list[np.ndarray]:
    """Per bin holding values (atom codes left out), the edges of its sub-cells."""
    a, b = coder.bin_extent()
    s = lattice_step(coder)
    skip = set(coder.atom_codes)
    out: list[np.ndarray] = []
    if s is not None:
        k0s, k1s = _lattice_ranges(coder, s)
        for c, (k0, k1) in enumerate(zip(k0s.tolist(), k1s.tolist(), strict=True)):
            if k1 < k0 or c in skip:
                continue
            if k1 - k0 + 1 <= SHAPE_CELLS:
                out.append((np.arange(k0, k1 + 2) - 0.5) * s)
            else:
                cuts = np.unique(np.round(_cuts(k0 - 0.5, k1 + 0.5) - 0.5) + 0.5)
                out.append(cuts * s)
    else:
        for c, (lo, hi) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
            if hi > lo and c not in skip:
                out.append(_cuts(lo, hi))
    return out


def refine_shape(noisy: np.ndarray, widths: np.ndarray, sigma: float, z: float = SHAPE_Z,
                 empty: float | None = None) -> np.ndarray:
    """Weights of a bin's sub-cells: its noisy shape where the noise resolves it, else uniform.

    Post-processing of the noisy sub-cell counts (σ each). The bin is halved recursively
    (a Haar tree); at each split the share of the left half is the noisy one when its
    deviation from the uniform share (mass ∝ width) exceeds ``z`` sds, the uniform one
    otherwise. Where nothing is resolved the weights are proportional to the widths, which
    is the uniform draw. With ``empty``, a half whose noisy sum is below ``empty`` sds of
    that sum while the other half's is above gets no mass (a long empty tail keeps none of
    its clipped noise).
    """
    y = np.asarray(noisy, dtype=np.float64)
    w = np.asarray(widths, dtype=np.float64)
    out = np.empty(y.size, dtype=np.float64)

    def split(i: int, j: int, mass: float) -> None:
        if j - i == 1:
            out[i] = mass
            return
        m = (i + j) // 2
        s_l, s_r = float(y[i:m].sum()), float(y[m:j].sum())
        w_l, w_r = float(w[i:m].sum()), float(w[m:j].sum())
        share = w_l / (w_l + w_r) if w_l + w_r > 0 else 0.5
        # Var(s_l − share·(s_l + s_r)) with independent cell noise.
        sd = sigma * math.sqrt((m - i) * (1.0 - share) ** 2 + (j - m) * share**2)
        pos_l, pos_r = max(s_l, 0.0), max(s_r, 0.0)
        if empty is not None:
            seen_l, seen_r = s_l > empty * sigma * math.sqrt(m - i), s_r > empty * sigma * math.sqrt(j - m)
            pos_l, pos_r = (pos_l if seen_l or not seen_r else 0.0), (pos_r if seen_r or not seen_l else 0.0)
        if abs(s_l - share * (s_l + s_r)) > z * sd and pos_l + pos_r > 0:
            share = pos_l / (pos_l + pos_r)
        split(i, m, mass * share)
        split(m, j, mass * (1.0 - share))

    if y.size:
        split(0, y.size, 1.0)
    return out


def _tail_direction(cuts: np.ndarray, *, first: bool, last: bool) -> bool | None:
    """Whether a bin is an outer tail (True: the upper one, False: the lower one), else None.

    A tail bin is the outermost bin on its side and spans more than a factor 4 on that side
    of zero (its sub-cells are geometric): the bin a long tail's last rows share with the
    empty stretch up to a round bound.
    """
    lo, hi = float(cuts[0]), float(cuts[-1])
    if last and lo > 0 and hi / lo > 4:
        return True
    if first and hi < 0 and lo / hi > 4:
        return False
    return None


def tail_shape(noisy: np.ndarray, widths: np.ndarray, *, outward_up: bool) -> np.ndarray | None:
    """Sub-cell weights of an outer tail bin whose noisy shape was not resolved (post-processing).

    The density (noisy count over width) fitted by weighted isotonic regression, falling
    outwards, clipped at zero: a tail's rows thin out towards the bound, so a bin that runs
    from the tail's last rows to a round bound (ages 15–27 in a bin up to 100) is not drawn
    uniformly up to the bound. None when the fit leaves no mass (the uniform draw stays).
    """
    y = np.asarray(noisy, dtype=np.float64)
    w = np.asarray(widths, dtype=np.float64)
    if y.size < 2 or not np.all(w > 0):
        return None
    fit = np.asarray(isotonic_regression(y / w, weights=w, increasing=not outward_up).x, dtype=np.float64)
    mass = np.clip(fit, 0.0, None) * w
    total = float(mass.sum())
    return mass / total if total > 0 else None


def _cuts(lo: float, hi: float) -> np.ndarray:
    if lo > 0 and hi / lo > 4:
        return np.geomspace(lo, hi, SHAPE_CELLS + 1)
    if hi < 0 and lo / hi > 4:
        return -np.geomspace(-lo, -hi, SHAPE_CELLS + 1)
    return np.linspace(lo, hi, SHAPE_CELLS + 1)


def measure_shape(
    table: Table | SparkTable,
    domain: Domain,
    *,
    rho_unit: float,
    accountant: Accountant,
    noise: NoiseSource,
    step: str,
    parts: Iterable[str] = PARTS,
) -> Domain:
    """Measure each numeric column's density on public sub-cells of its bins.

    Privacy:
        Add/remove one row changes one sub-cell count by one (L2 sensitivity 1; values
        outside the sub-cells go to the outer ones, rows holding an atom to none). One
        Gaussian release per column at
        ρ = ``rho_unit``·w, charged before the counts are computed.

    Returns:
        The domain with ``density`` filled in where measured (noisy counts clipped at 0).
    """
    from dpsynth.data.discretize import _Coder

    todo = shape_todo(domain, parts)
    if not todo:
        return domain
    reads = _Reads(table, [domain[n] for n in todo])
    new = []
    for name in todo:
        col = domain[name]
        coder = _Coder.build(col)
        pieces = _bin_cuts(coder)
        cuts = np.unique(np.concatenate(pieces)) if pieces else np.array([], dtype=np.float64)
        if cuts.size < 3:
            continue
        sigma = math.sqrt(1.0 / (2.0 * rho_unit * _WEIGHTS["shape"]))
        mech = GaussianMechanism(sigma=sigma)
        accountant.charge(mech, step=step, description=f"histogram of {name!r} on sub-cells of its bins (shape)")
        noisy = mech.release(reads.shape_counts(name, coder, cuts), noise)
        # Per bin, its share of the column's noisy mass spread over its sub-cells where the
        # noise resolves them (refine_shape); decoding only uses shapes within a bin.
        weights = np.clip(noisy, 0.0, None)
        widths = np.diff(cuts)
        resolved = tails = 0
        for i, p in enumerate(pieces):
            idx = np.searchsorted(cuts, p[:-1])
            mass = max(float(noisy[idx].sum()), sigma)
            shape = refine_shape(noisy[idx], widths[idx], sigma)
            flat = not np.any(np.abs(shape - widths[idx] / widths[idx].sum()) > 1e-12)
            resolved += int(not flat)
            outward = _tail_direction(p, first=i == 0, last=i == len(pieces) - 1)
            if flat and outward is not None:
                tail = tail_shape(noisy[idx], widths[idx], outward_up=outward)
                if tail is not None:
                    shape, tails = tail, tails + 1
            weights[idx] = mass * shape
        weights = weights / weights.sum()
        new.append(col.replace(density=(tuple(float(c) for c in cuts), tuple(float(f"{w:.4g}") for w in weights))))
        accountant.notes.append(f"within-bin shape of {name!r} measured with DP: {cuts.size - 1} sub-cells, "
                                f"resolved above the noise in {resolved} of {len(pieces)} bins"
                                + (f"; {tails} outer tail bin(s) shaped by a density fit that falls outwards"
                                   if tails else ""))
    reads.close()
    return domain.with_columns(new) if new else domain


# -- equal-mass bins ----------------------------------------------------------------------
def _fine_breaks(lo: float, hi: float, unit: float) -> np.ndarray:
    """Public breakpoints of ``[lo, hi]``, from the bounds only.

    :data:`FINE_CELLS` equal cells, plus as many geometric ones on each side of zero where
    that side spans more than two decades (from ``unit``, the smallest scale worth
    resolving, or 10⁻⁴ of the side's extent).
    """
    out = [np.linspace(lo, hi, FINE_CELLS + 1)]
    if hi > 0:
        p0 = max(lo if lo > 0 else 0.0, unit, hi * 1e-4)
        if hi / p0 > 100:
            out.append(np.geomspace(p0, hi, FINE_CELLS + 1))
    if lo < 0:
        n0 = max(-hi if hi < 0 else 0.0, unit, -lo * 1e-4)
        if -lo / n0 > 100:
            out.append(-np.geomspace(n0, -lo, FINE_CELLS + 1))
    b = np.unique(np.concatenate(out))
    return b[(b >= lo) & (b <= hi)]


def fine_cells(col: Column) -> tuple[np.ndarray, float | None]:
    """Public cuts of the fine histogram of a bounded numeric column, and its grid step.

    On a grid (whole numbers, or multiples of ``step``) the cuts lie half-way between grid
    values, so no recorded value is split, with one cell per value when the range holds at
    most :data:`FINE_VALUES`; the outer cuts are half a step beyond the first and last grid
    value. Otherwise the cuts are :func:`_fine_breaks` of ``[lower, upper]``. Depends on the
    column's public description only.
    """
    if col.lower is None or col.upper is None:
        raise InvalidParameterError(f"Column {col.name!r} needs bounds before its fine histogram is measured.")
    lo, hi = float(col.lower), float(col.upper)
    s = float(col.step) if col.step is not None and (col.step >= 1.0 or not col.integer) else (
        1.0 if col.integer else None)
    if s is None:
        return (_fine_breaks(lo, hi, 0.0) if hi > lo else np.array([lo, hi])), None
    a, b = math.ceil(lo / s - 1e-9), math.floor(hi / s + 1e-9)
    if b < a:
        return np.array([], dtype=np.float64), s
    if b - a + 1 <= FINE_VALUES:
        idx = np.arange(a, b + 2) - 0.5
    else:
        raw = _fine_breaks(float(a), float(b), 1.0)
        idx = np.unique(np.concatenate([[a - 0.5], np.floor(raw) + 0.5, [b + 0.5]]))
        idx = idx[(idx >= a - 0.5) & (idx <= b + 0.5)]
    return idx * s, s


def equal_mass_edges(cuts: np.ndarray, noisy: np.ndarray, *, sigma: float, bins: int,
                     lower: float, upper: float, integer: bool) -> tuple[tuple[float, ...], np.ndarray, np.ndarray]:
    """Bin edges at quantiles of a noisy fine histogram (post-processing of its counts).

    The counts are first denoised with :func:`refine_shape` over the whole column (a split
    of a cell range keeps its noisy shares only where they stand :data:`SHAPE_Z` sds out;
    elsewhere mass spreads evenly over the cells, which on equal cells is the uniform
    binning and on the geometric cells of a long tail a density decaying like 1/x; a half
    not seen above :data:`EMPTY_Z` sds beside one that is gets none, so an empty tail
    draws no edges). Each of
    the ``bins − 1`` interior quantiles of that density is moved to the nearest cut, so an
    edge never splits a fine cell (nor a grid value: cuts lie between them); a heavy cell
    spanning several quantiles gives fewer bins. Integer columns get whole-number edges
    (``[a, b)`` holds ``a … b − 1``) and the outer edges ``lower``, ``upper + 1``.

    Returns:
        The edges, the indices into ``cuts`` of the interior edges, and the denoised weight
        of each fine cell (summing to 1).
    """
    cuts = np.asarray(cuts, dtype=np.float64)
    noisy = np.asarray(noisy, dtype=np.float64)
    if cuts.ndim != 1 or cuts.size < 2 or noisy.shape != (cuts.size - 1,) or np.any(np.diff(cuts) <= 0):
        raise InvalidParameterError(
            f"equal_mass_edges needs strictly increasing cuts and one count per cell. Got {cuts.size} cuts "
            f"and {noisy.size} counts.")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise InvalidParameterError(f"equal_mass_edges needs a whole number of bins >= 1. Got {bins!r}.")
    if not (sigma > 0 and math.isfinite(sigma)) or not upper >= lower:
        raise InvalidParameterError(f"equal_mass_edges needs sigma > 0 and lower <= upper. Got {sigma!r}, "
                                    f"[{lower!r}, {upper!r}].")
    # Unresolved mass spreads evenly over the cells (not by width): uniform where the cells
    # are equal, decaying like 1/x over the geometric cells of a long positive tail.
    w = refine_shape(noisy, np.ones(noisy.size), sigma, empty=EMPTY_Z)
    cdf = np.concatenate([[0.0], np.cumsum(w)])
    cdf /= cdf[-1] if cdf[-1] > 0 else 1.0
    inner = np.arange(1, cuts.size - 1)
    chosen = np.array([], dtype=np.int64)
    if inner.size and bins > 1:
        targets = np.arange(1, bins) / bins
        pos = np.searchsorted(cdf[inner], targets)
        lo_i = inner[np.clip(pos - 1, 0, inner.size - 1)]
        hi_i = inner[np.clip(pos, 0, inner.size - 1)]
        pick = np.where(np.abs(cdf[lo_i] - targets) <= np.abs(cdf[hi_i] - targets), lo_i, hi_i)
        chosen = np.unique(pick).astype(np.int64)
    if integer:
        first, last = float(math.ceil(lower)), float(math.floor(upper)) + 1.0
        interior = np.ceil(cuts[chosen] - 1e-9)
    else:
        first, last = float(lower), float(upper)
        interior = cuts[chosen]
    keep = (interior > first) & (interior < last)
    interior, chosen = interior[keep], chosen[keep]
    interior, first_idx = np.unique(interior, return_index=True)
    edges = (first, *(float(e) for e in interior), last) if last > first else (first, np.nextafter(first, np.inf))
    return tuple(float(e) for e in edges), chosen[first_idx], w


def _atom_rows(col: Column, values: np.ndarray) -> np.ndarray:
    """Whether each value is coded as one of the column's atoms (those rows have codes of their own)."""
    if not col.atoms:
        return np.zeros(values.size, dtype=bool)
    atoms = np.asarray(col.atoms, dtype=np.float64)
    x = np.floor(values + 0.5) if col.integer else values
    return np.isin(x, np.floor(atoms + 0.5) if col.integer else atoms)


def measure_bins(
    table: Table,
    domain: Domain,
    *,
    rho_unit: float,
    accountant: Accountant,
    noise: NoiseSource,
    step: str,
    parts: Iterable[str] = PARTS,
    rho_extra: dict[str, float] | None = None,
) -> Domain:
    """Equal-mass bin edges and the within-bin density, from one fine DP histogram per column.

    For each column of :func:`bins_todo`: one Gaussian histogram on the public cells of
    :func:`fine_cells` (the rows holding an atom left out: they have codes of their own);
    the edges are its noisy quantiles (:func:`equal_mass_edges`), ``bins`` of them (public,
    or :func:`resolvable_bins` from :func:`measure_pre`, or the default); with ``"shape"``
    in ``parts`` the same counts give the density inside each bin (:func:`refine_shape`
    per bin), as :func:`measure_shape` does on fixed bins. Uniform bins spend most cells of
    a skewed column (amounts, pollution, incomes) on a few rows; equal-mass bins give the
    generator's marginals cells that each hold about as many rows.

    Privacy:
        Add/remove one row changes one fine cell by one (L2 sensitivity 1; the table is
        clamped to the bounds, values beyond the outer cuts go to the outer cells). One
        Gaussian release per column at ρ = ``rho_unit``·w(shape) plus ``rho_extra[column]``
        (the share domain inference would have spent on the column's DP quantiles), charged
        before the counts are computed; edges and density are post-processing of it.

    Returns:
        The domain with ``edges`` (and ``density``) filled in where measured.
    """
    todo = bins_todo(domain, parts)
    if not todo:
        return domain
    want_shape = "shape" in set(parts)
    nums = _numbers_table(table, [domain[n] for n in todo])
    new = []
    for name in todo:
        col = domain[name]
        if col.lower is None or col.upper is None or not col.upper > col.lower:
            continue
        sigma = math.sqrt(1.0 / (2.0 * (rho_unit * _WEIGHTS["shape"] + (rho_extra or {}).get(name, 0.0))))
        cuts, s = fine_cells(col)
        if cuts.size < 3:
            continue
        mech = GaussianMechanism(sigma=sigma)
        accountant.charge(mech, step=step,
                          description=f"histogram of {name!r} on fine public cells (equal-mass bin edges"
                                      + (", within-bin shape)" if want_shape and col.density is None else ")"))
        xs, cs = _value_counts(table, nums, name)
        other = ~_atom_rows(col, xs)
        xs, cs = xs[other], cs[other]
        if s is not None:
            xs = np.floor(xs / s + 0.5) * s
        cells = np.searchsorted(cuts[1:-1], xs, side="right")
        counts = np.bincount(cells, weights=cs, minlength=cuts.size - 1).astype(np.float64)
        noisy = mech.release(counts, noise)
        bins = col.bins or DEFAULT_BINS
        edges, at, dense = equal_mass_edges(cuts, noisy, sigma=sigma, bins=bins, lower=float(col.lower),
                                            upper=float(col.upper), integer=col.integer)
        out = col.replace(edges=edges)
        note = f"equal-mass bin edges of {name!r} placed with DP: {len(edges) - 1} bins on {cuts.size - 1} cells"
        if want_shape and col.density is None:
            # The denoised weights the edges were placed on (a multi-scale estimate: fine
            # where the rows are many, uniform where the noise hides the shape, nothing in
            # a stretch not seen beside one that is); a bin without weight decodes uniformly.
            bounds = np.concatenate([[0], at, [cuts.size - 1]]).astype(np.int64)
            resolved = 0
            for i0, i1 in itertools.pairwise(bounds.tolist()):
                part = dense[i0:i1]
                if i1 > i0 and part.sum() > 0:
                    resolved += int(np.any(np.abs(part / part.sum() - 1.0 / (i1 - i0)) > 1e-9))
            out = out.replace(density=(tuple(float(c) for c in cuts), tuple(float(f"{v:.4g}") for v in dense)))
            note += f"; within-bin shape resolved above the noise in {resolved} of {bounds.size - 1} bins"
        new.append(out)
        accountant.notes.append(note)
    table.connection.execute(f"DROP TABLE {nums}")
    return domain.with_columns(new) if new else domain


# -- decoding ---------------------------------------------------------------------------
def snap(col: Column, x: np.ndarray) -> np.ndarray:
    """Numbers put in the column's form: on its grid, atoms exact (post-processing).

    For generators that output numbers directly (GSD's tables, the neural generators'
    inverse transforms): a value is rounded to the nearest multiple of ``step`` (whole
    numbers for integer columns) inside the public bounds, and a value within half a step
    (an ulp without one) of an atom becomes the atom. NaN stays NaN.
    """
    x = np.asarray(x, dtype=np.float64).copy()
    s = float(col.step) if col.step is not None else (1.0 if col.integer else None)
    ok = ~np.isnan(x)
    if col.atoms:
        for a in col.atoms:
            tol = s / 2 if s is not None else abs(a) * 1e-12 + 1e-300
            x[ok & (np.abs(x - a) <= tol)] = a
    if s is None:
        return x
    k = np.floor(x[ok] / s + 0.5)
    lo = math.ceil(col.lower / s - 1e-9) if col.lower is not None else -np.inf
    hi = math.floor(col.upper / s + 1e-9) if col.upper is not None else np.inf
    if lo <= hi:
        k = np.clip(k, lo, hi)
    snapped = np.round(k * s, _decimals(s))
    if col.atoms:
        snapped = np.where(np.isin(x[ok], np.asarray(col.atoms)), x[ok], snapped)
    x[ok] = snapped
    return x


def lattice_step(coder: _Coder) -> float | None:
    """The grid decoded values lie on (None: continuous)."""
    col = coder.col
    if coder.mode in ("integer", "uniform_int", "edges_int"):
        return float(col.step) if col.step is not None and col.step >= 1.0 else 1.0
    return col.step


def _decimals(s: float) -> int:
    """Decimals that write multiples of ``s`` exactly (0.05 → 2)."""
    return max(0, min(12, -math.floor(math.log10(s) + 1e-9) + 1)) if s < 1 else 0


def _resolution_decimals(width: float) -> int:
    """Decimals (negative: tens, hundreds…) that write a value to a thousandth of ``width``."""
    return int(min(12, -math.floor(math.log10(width / 1000.0))))


def _lattice_ranges(coder: _Coder, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Per bin, the first and last grid index ``k`` (value ``k·s``) coded into it."""
    a, b = coder.bin_extent()
    integer_mode = coder.mode in ("integer", "uniform_int", "edges_int")
    k0 = np.ceil(a / s - 1e-9)
    if integer_mode:
        k1 = np.floor((b - 1.0) / s + 1e-9)
    else:
        k1 = np.ceil(b / s - 1e-9) - 1.0
        last = b >= coder.hi
        k1 = np.where(last, np.floor(b / s + 1e-9), k1)
    lo_k = math.ceil(coder.lo / s - 1e-9) if math.isfinite(coder.lo) else -np.inf
    hi_k = math.floor(coder.hi / s + 1e-9) if math.isfinite(coder.hi) else np.inf
    k0, k1 = np.maximum(k0, lo_k), np.minimum(k1, hi_k)
    c = np.arange(coder.n)
    for _ in range(2):  # repair floating-point off-by-ones against the encoder
        k0 = np.where((k0 <= k1) & (coder.codes_of_numbers(k0 * s) < c), k0 + 1, k0)
        k1 = np.where((k0 <= k1) & (coder.codes_of_numbers(k1 * s) > c), k1 - 1, k1)
    return k0, k1


def _pieces(lo: float, hi: float, density: tuple[np.ndarray, np.ndarray] | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Sub-intervals of [lo, hi) with their cumulative weights under the density."""
    if density is None or not hi > lo:
        return None
    e, w = density
    if e[0] > lo + 1e-9 * abs(lo) or e[-1] < hi - 1e-9 * abs(hi):
        return None
    j0 = max(int(np.searchsorted(e, lo, side="right")) - 1, 0)
    j1 = min(int(np.searchsorted(e, hi, side="left")), len(w))
    starts = np.maximum(e[j0:j1], lo)
    ends = np.minimum(e[j0 + 1 : j1 + 1], hi)
    widths = e[j0 + 1 : j1 + 1] - e[j0:j1]
    mass = w[j0:j1] * np.clip(ends - starts, 0.0, None) / widths
    total = mass.sum()
    if not total > 0:
        return None
    return starts, ends, np.cumsum(mass) / total


def _draw(lo: float, hi: float, pieces: tuple[np.ndarray, np.ndarray, np.ndarray] | None, m: int,
          rng: np.random.Generator, u: np.ndarray | None = None) -> np.ndarray:
    """Draws from the piecewise-uniform density on [lo, hi); with ``u``, its quantiles at ``u``."""
    if pieces is None:
        return lo + (rng.random(m) if u is None else u) * (hi - lo)
    starts, ends, cum = pieces
    if u is None:
        j = np.minimum(np.searchsorted(cum, rng.random(m), side="right"), cum.size - 1)
        return starts[j] + rng.random(m) * (ends[j] - starts[j])
    j = np.minimum(np.searchsorted(cum, u, side="right"), cum.size - 1)
    prev = np.concatenate([[0.0], cum[:-1]])[j]
    frac = np.clip((u - prev) / np.maximum(cum[j] - prev, 1e-300), 0.0, 1.0 - 1e-12)
    return starts[j] + frac * (ends[j] - starts[j])


def coupled_groups(codes: np.ndarray, names: Sequence[str], numeric_names: Iterable[str], sizes: dict[str, int],
                   missing: dict[str, int | None], threshold: float) -> list[list[int]]:
    """Groups of numeric columns whose synthetic codes are strongly, positively rank-correlated.

    Post-processing of synthetic codes only. Within a group, values are placed at the same
    quantile inside their bins (comonotone), as strongly dependent real columns are
    (monthly bills of one person): drawn independently, two such values would differ by up
    to a bin width where real ones differ little.
    """
    cols = [j for j, n in enumerate(names) if n in set(numeric_names) and sizes[n] > 2]
    if len(cols) < 2 or codes.shape[0] < 10:
        return []
    ranks = np.empty((codes.shape[0], len(cols)))
    for i, j in enumerate(cols):
        c = codes[:, j].astype(np.float64)
        mc = missing[names[j]]
        if mc is not None:
            c[codes[:, j] == mc] = np.nan
        ranks[:, i] = stats.rankdata(c, nan_policy="omit") if np.isnan(c).any() else stats.rankdata(c)
    parent = list(range(len(cols)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a in range(len(cols)):
        for b in range(a + 1, len(cols)):
            ok = ~(np.isnan(ranks[:, a]) | np.isnan(ranks[:, b]))
            if ok.sum() < 10:
                continue
            x, y = ranks[ok, a], ranks[ok, b]
            if x.std() == 0 or y.std() == 0:
                continue
            if float(np.corrcoef(x, y)[0, 1]) >= threshold:
                parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for i, j in enumerate(cols):
        groups.setdefault(find(i), []).append(j)
    return [g for g in groups.values() if len(g) > 1]


def draw_in_bins(coder: _Coder, codes: np.ndarray, rng: np.random.Generator,
                 u: np.ndarray | None = None) -> np.ndarray:
    """Values for the codes of present values of a numeric column (post-processing).

    Atom codes give their atom; other codes a value inside the bin and the public bounds,
    drawn from the column's density there (uniform without one), on the column's grid
    (without one, written to a thousandth of the bin's width).
    With ``u`` (one uniform per code), the value is the within-bin quantile at ``u``.
    """
    col = coder.col
    out = np.empty(codes.size, dtype=np.float64)
    if codes.size == 0:
        return out
    s = lattice_step(coder)
    density = None
    if col.density is not None:
        density = (np.asarray(col.density[0], dtype=np.float64), np.asarray(col.density[1], dtype=np.float64))
    a, b = coder.bin_extent()
    if s is not None:
        k0, k1 = _lattice_ranges(coder, s)
        dec = _decimals(s)
        if density is not None:
            density = (density[0] / s, density[1])
    atoms = dict(zip(coder.atom_codes, coder.atom_values, strict=True))
    order = np.argsort(codes, kind="stable")
    uniq, starts = np.unique(codes[order], return_index=True)
    bounds = np.append(starts, codes.size)
    for c, i0, i1 in zip(uniq.tolist(), bounds[:-1], bounds[1:], strict=True):
        idx = order[i0:i1]
        m = idx.size
        if c in atoms:
            out[idx] = atoms[c]
        elif s is not None:
            lo_k, hi_k = k0[c], k1[c]
            if hi_k < lo_k:
                # A bin holding no grid value (edges closer than the step): the grid value
                # nearest its middle, within the bounds.
                mid = (a[c] + b[c]) / 2.0 if coder.mode not in ("integer", "uniform_int", "edges_int") else (
                    float(np.mean(np.asarray(coder.edges, dtype=np.float64)[c : c + 2])) if coder.edges else a[c])
                k = math.floor(mid / s + 0.5)
                lo_all = math.ceil(coder.lo / s - 1e-9) if math.isfinite(coder.lo) else k
                hi_all = math.floor(coder.hi / s + 1e-9) if math.isfinite(coder.hi) else k
                out[idx] = np.round(min(max(k, lo_all), hi_all) * s, dec)
                continue
            x = _draw(lo_k - 0.5, hi_k + 0.5, _pieces(lo_k - 0.5, hi_k + 0.5, density), m, rng,
                      None if u is None else u[idx])
            k = np.clip(np.floor(x + 0.5), lo_k, hi_k)
            out[idx] = np.round(k * s, dec)
        else:
            lo, hi = float(a[c]), float(b[c])
            x = _draw(lo, hi, _pieces(lo, hi, density), m, rng, None if u is None else u[idx])
            if col.kind == "datetime":
                # No grid known: the coarsest of seconds, minutes, hours, days finer than a
                # thousandth of the bin (microseconds for a bin under a second and a half).
                unit = max((g for g in (1.0, 60.0, 3600.0, 86400.0) if g <= (hi - lo) / 1000.0), default=1e-6)
                short = np.round(x / unit) * unit
                x = np.where(coder.codes_of_numbers(np.clip(short, lo, hi)) == c, short, np.round(x * 1e6) / 1e6)
            elif hi > lo:
                # No grid known: write the value to a thousandth of its bin's width (the
                # draw resolves nothing finer), not to float64's 17 digits; one that the
                # rounding would carry over an edge keeps its digits.
                short = np.round(x, _resolution_decimals(hi - lo))
                x = np.where(coder.codes_of_numbers(np.clip(short, lo, hi)) == c, short, x)
            x = np.clip(x, lo, hi)
            wrong = coder.codes_of_numbers(x) != c
            if wrong.any():
                for fb in ((lo + hi) / 2.0, lo):
                    v = round(fb * 1e6) / 1e6 if col.kind == "datetime" else fb
                    x[wrong] = v
                    wrong = coder.codes_of_numbers(x) != c
                    if not wrong.any():
                        break
            out[idx] = x
    return round_in_bins(coder, out, rng)


def round_in_bins(coder: _Coder, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Values of a column made as round as its ``rounding`` says, each within its bin (post-processing).

    ``x`` are values on the column's grid (NaN where missing), as :func:`draw_in_bins` or a
    generator that outputs numbers (after :func:`snap`) gives them. Atoms and zeros stay;
    another value moves only inside its bin and, where the column has a within-bin
    density, inside the stretch where that density is flat (:func:`_uniform_runs`), so the
    counts and the shape the generator reproduced are kept (:func:`round_on_grids`).
    Returns ``x`` unchanged for a column without ``rounding``.
    """
    col = coder.col
    s = lattice_step(coder)
    rounding = _rounding_ratios(col, s)
    if rounding is None or s is None:
        return x
    x = np.asarray(x, dtype=np.float64).copy()
    present = ~np.isnan(x)
    atom = present & np.isin(x, np.asarray(col.atoms or (), dtype=np.float64))
    move = np.flatnonzero(present & ~atom)
    if move.size == 0:
        return x
    k = np.floor(x[move] / s + 0.5)
    codes = coder.codes_of_numbers(x[move])
    k0, k1 = _lattice_ranges(coder, s)
    lo, hi = k0[codes], k1[codes]
    if col.density is not None:
        runs = _uniform_runs((np.asarray(col.density[0], dtype=np.float64) / s,
                              np.asarray(col.density[1], dtype=np.float64)))
        j = np.clip(np.searchsorted(runs, k, side="right") - 1, 0, runs.size - 2)
        lo = np.maximum(lo, np.ceil(runs[j] - 1e-9))
        hi = np.minimum(hi, np.ceil(runs[j + 1] - 1e-9) - 1.0)
    inside = (lo <= k) & (k <= hi) & np.isfinite(lo) & np.isfinite(hi)
    lo, hi = np.where(inside, lo, k), np.where(inside, hi, k)  # out of its range: stays put
    moved = round_on_grids(k.astype(np.int64), lo.astype(np.int64), hi.astype(np.int64), rounding[0], rounding[1],
                           rng, fixed=x[atom] / s)
    x[move] = np.where(moved == k, x[move], np.round(moved * s, _decimals(s)))
    return x


def numbers_of(values: pd.Series, col: Column) -> np.ndarray:
    """A numeric column's values as floats (datetimes as epoch seconds), NaN where missing or unparsable."""
    if col.kind == "datetime":
        stamps = pd.to_datetime(values, errors="coerce")
        out = stamps.to_numpy(dtype="datetime64[us]").astype(np.int64).astype(np.float64) / 1e6
        out[stamps.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def round_frame(frame: pd.DataFrame, domain: Domain, rng: np.random.Generator) -> pd.DataFrame:
    """A synthetic frame whose numeric columns are as round as their ``rounding`` says (post-processing).

    For generators that output numbers directly (GSD, the neural generators): each column
    with ``rounding`` goes through :func:`round_in_bins` on the public bins of
    :class:`~dpsynth.data.discretize.Discretizer`, so every value keeps its bin. Marginal
    generators round while decoding (:func:`draw_in_bins`) and must not call this again.
    """
    from dpsynth.data.discretize import _Coder

    out = frame
    for col in domain:
        if col.rounding is None or not col.is_numeric or col.name not in frame.columns:
            continue
        values = frame[col.name]
        x = numbers_of(values, col)
        y = round_in_bins(_Coder.build(col), x, rng)
        if np.array_equal(x, y, equal_nan=True):
            continue
        out = out.copy() if out is frame else out
        present = ~np.isnan(y)
        if col.kind == "datetime":
            series = pd.Series(np.where(present, np.round(np.nan_to_num(y) * 1e6), 0).astype(np.int64)
                               .astype("datetime64[us]"), index=frame.index)
            series[~present] = pd.NaT
        elif isinstance(values.dtype, pd.Int64Dtype) or pd.api.types.is_integer_dtype(values.dtype):
            series = pd.Series(pd.arrays.IntegerArray(np.where(present, np.round(np.nan_to_num(y)), 0).astype(np.int64),
                                                      ~present), index=frame.index)
        else:
            series = pd.Series(y, index=frame.index, dtype=np.float64)
        out[col.name] = series
    return out


def _rounding_ratios(col: Column, s: float | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The column's rounding grids as whole multiples of the decoding grid ``s``, with shares."""
    if col.rounding is None or s is None:
        return None
    grids, shares = (np.asarray(a, dtype=np.float64) for a in col.rounding)
    ratios = np.round(grids / s)
    if abs(grids[0] - s) > 1e-9 * s or np.any(np.abs(grids / s - ratios) > 1e-6) or grids.size < 2:
        return None
    return ratios.astype(np.int64), shares


def _uniform_runs(density: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Edges of the stretches over which a density is flat (its resolved shape's pieces).

    Rounding moves a value only within its stretch, so the shape measured with DP is kept
    at the resolution it was measured at; where the shape was not resolved (flat) values
    round freely within the bin.
    """
    e, w = density
    d = w / np.diff(e)
    cut = np.abs(np.diff(d)) > 1e-3 * np.maximum(d[:-1], d[1:])
    return np.concatenate([[e[0]], e[1:-1][cut], [e[-1]]])


def _level(k: np.ndarray, ratios: np.ndarray, start: int = 0) -> np.ndarray:
    """Per grid index, the coarsest rounding grid (its position in ``ratios``) it lies on; -1 for 0.

    ``start``: every index is known to lie on grid ``start`` (only coarser ones are tested).
    """
    lev = np.full(k.size, start, dtype=np.int64)
    for i in range(start + 1, ratios.size):
        lev[k % ratios[i] == 0] = i
    lev[k == 0] = -1
    return lev


def _nearest_multiple(k: np.ndarray, lo: np.ndarray, hi: np.ndarray, r: int) -> np.ndarray:
    """Per value, the nearest non-zero multiple of ``r`` in ``[lo, hi]`` (``k`` itself where none)."""
    qlo, qhi = -((-lo) // r), hi // r
    q = np.clip(np.floor(k / r + 0.5).astype(np.int64), qlo, qhi)
    ok = (qlo <= qhi) & (q != 0)
    return np.where(ok, q * r, k)


def rounding_rates(ratios: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Per grid, the probability that a value is rounded to it, for values uniform on the finest grid.

    A value rounded to grid ``j`` lies on a coarser grid ``k`` (and no coarser) with
    probability ``g_j/g_k − g_j/g_(k+1)``; the shares are solved for these rates from the
    finest grid up (a triangular system), negatives clipped, the rates normalised.
    """
    g = np.asarray(ratios, dtype=np.float64)
    nxt = np.append(g[1:], np.inf)
    q = np.zeros(g.size)
    for k in range(g.size):
        came = sum(q[j] * (g[j] / g[k] - g[j] / nxt[k]) for j in range(k))
        q[k] = max(0.0, (shares[k] - came) / (1.0 - g[k] / nxt[k]))
    total = q.sum()
    return q / total if total > 0 else np.eye(g.size)[0]


def round_on_grids(k: np.ndarray, lo: np.ndarray, hi: np.ndarray, ratios: np.ndarray, shares: np.ndarray,
                   rng: np.random.Generator, *, fixed: np.ndarray | None = None, passes: int = 3) -> np.ndarray:
    """Grid indices rounded so that the non-zero values are about as round as ``shares`` say.

    ``k`` are values drawn on the decoding grid (value ``k·s``), each free to move within
    ``[lo, hi]`` (its bin's grid range); ``ratios[i]`` is rounding grid ``i`` in units of
    ``s`` (``ratios[0] == 1``) and ``shares[i]`` the share of non-zero values whose coarsest
    grid is ``i``. ``fixed`` are values that do not move (atoms, in units of ``s``): they count
    towards the shares. Each value is rounded, as a person reporting an amount would, to grid
    ``i`` with probability ``q_i`` (:func:`rounding_rates`; ``q_0``: kept as drawn), to the
    nearest non-zero point of that grid inside its range (kept where there is none). A value
    drawn in a narrow range is on a coarse grid as often as the draw puts it there, plus the
    rounding; so a uniform column is left as it is. The rates are then corrected
    (``passes`` − 1 times, multiplicatively, on the same uniforms) for the ranges too narrow
    to hold a coarse point. Zeros stay zeros; bins are kept (post-processing).
    """
    k = np.asarray(k, dtype=np.int64).copy()
    move = np.flatnonzero(k != 0)
    if move.size == 0:
        return k
    fixed_lev = np.zeros(0, dtype=np.int64)
    if fixed is not None and fixed.size:
        fk = fixed[np.abs(fixed - np.round(fixed)) < 1e-6]
        fixed_lev = _level(np.round(fk).astype(np.int64), ratios)
        fixed_lev = fixed_lev[fixed_lev >= 0]
    target = np.asarray(shares, dtype=np.float64)
    q = rounding_rates(ratios, target)
    u = rng.random(move.size)
    km, lom, him = k[move], lo[move], hi[move]
    # Row i: every value rounded to grid i (row 0: as drawn); and the grid each then lies on.
    options = np.stack([km] + [_nearest_multiple(km, lom, him, int(ratios[i])) for i in range(1, ratios.size)])
    level0 = _level(km, ratios)
    levels = np.stack([level0] + [np.where(options[i] == km, level0, _level(options[i], ratios, i))
                                  for i in range(1, ratios.size)])
    cols = np.arange(km.size)
    fixed_counts = np.bincount(fixed_lev, minlength=ratios.size)[: ratios.size]
    best, best_err = km, np.inf
    for p in range(max(1, passes)):
        level = np.minimum(np.searchsorted(np.cumsum(q), u, side="right"), ratios.size - 1)
        lev = levels[level, cols]
        counts = np.bincount(lev[lev >= 0], minlength=ratios.size)[: ratios.size] + fixed_counts
        got = counts / max(1, int(counts.sum()))
        err = float(np.abs(got - target).sum())
        if err < best_err:
            best, best_err = options[level, cols], err
        if p + 1 < passes:
            ratio = np.where(got > 0, target / np.maximum(got, 1e-12), 2.0)
            q = q * np.clip(ratio, 0.5, 2.0)
            q = q / q.sum()
    k[move] = best
    return k


__all__ = [
    "NUMERIC_SHARE",
    "PARTS",
    "bins_todo",
    "check_parts",
    "coupled_groups",
    "draw_in_bins",
    "equal_mass_edges",
    "fine_cells",
    "fit_noise_sd",
    "lattice_step",
    "measure_bins",
    "measure_pre",
    "measure_shape",
    "numbers_of",
    "plan_rho",
    "pre_todo",
    "refine_shape",
    "resolvable_bins",
    "round_frame",
    "round_in_bins",
    "round_on_grids",
    "rounding_rates",
    "select_atoms",
    "select_rounding",
    "select_step",
    "shape_cells",
    "shape_todo",
    "snap",
    "step_candidates",
    "step_chain",
    "tail_shape",
]

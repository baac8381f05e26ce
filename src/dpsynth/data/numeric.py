"""Numbers that look like the column they came from: atoms, precision and within-bin shape.

Marginal methods release counts over bins; a synthetic number is then drawn inside its
bin. Drawn uniformly, it gives ``capital-gain = 7143`` where every real amount is round,
``0.0031`` where most real values are exactly 0, and splits a frequent whole number over
its neighbours. This module owns how numbers are decoded, for every generator, from three
public or DP-measured facts a :class:`~dpsynth.data.domain.Column` carries:

* ``atoms``: values that occur exactly and often. Each gets a code of its own (so the
  generators measure it as a cell) and is decoded exactly.
* ``step``: the precision values are recorded in. Decoded values lie on its grid (whole
  numbers for integer columns, multiples of ``step`` otherwise).
* ``density``: a histogram on cells finer than the bins; a value is drawn inside its bin
  from the density's shape there (conditional on the bin), not uniformly.

Whatever the metadata leaves out is measured here with DP, called by
:meth:`dpsynth.data.private.PrivateData.complete_domain` and charged to the fit's
accountant at :data:`NUMERIC_SHARE` of the budget left:

* atoms: a thresholded (stability-based) noisy histogram over the exact values; a value
  held by one row clears the threshold with probability at most δ₀, charged as
  (ρ, δ₀)-approximate zCDP; kept values must also hold :data:`ATOM_MIN_SHARE` of the rows;
* step: a noisy histogram of, for each row, the coarsest grid of a public nested chain of
  candidates (``…, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, …``) the value lies on; the step is the
  coarsest grid holding 98 % of the noisy total;
* density: a noisy histogram over :data:`SHAPE_CELLS` sub-cells of every bin (geometric
  sub-cells in a bin spanning more than a factor 4, so long tails get shape too).

Each is one Gaussian release of L2 sensitivity 1 (add/remove one row changes one cell by
one). Decoding (:func:`draw_in_bins`) is post-processing.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from dpsynth.data._parse import quote_ident, sql_double, sql_missing, sql_number
from dpsynth.data.domain import DEFAULT_BINS, Column, Domain
from dpsynth.errors import InvalidParameterError
from dpsynth.privacy import Accountant, GaussianMechanism, NoiseSource

if TYPE_CHECKING:
    from dpsynth.data.discretize import _Coder
    from dpsynth.data.io import Table

#: What :func:`measure_pre` / :func:`measure_shape` may infer.
PARTS: tuple[str, ...] = ("atoms", "step", "shape")
#: Share of the zCDP budget left when a fit starts that numeric detail may spend in total.
NUMERIC_SHARE = 0.05
#: Share of the budget's δ the atom histograms may use, in total.
ATOM_DELTA_SHARE = 0.1
#: Most atoms kept per column, and the share of the rows an atom must hold.
MAX_ATOMS = 16
ATOM_MIN_SHARE = 0.01
#: Sub-cells per bin of the within-bin density.
SHAPE_CELLS = 8
#: Relative weights of the three measurements in the numeric share.
_WEIGHTS = {"atoms": 1.0, "step": 0.5, "shape": 2.0}
#: The share of the noisy total a candidate grid must hold to be the column's step.
STEP_COVERAGE = 0.98


def step_candidates(col: Column) -> tuple[float, ...]:
    """The public nested chain of candidate steps (each a multiple of the one before)."""
    if col.kind == "datetime":
        return (1.0, 60.0, 3600.0, 86400.0)
    chain = [m * 10.0**e for e in range(-4, 7) for m in (1.0, 5.0)]
    if col.integer:
        chain = [c for c in chain if c >= 1.0]
    return tuple(float(f"{c:.10g}") for c in chain)


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


def shape_todo(domain: Domain, parts: Iterable[str] = PARTS) -> list[str]:
    """The columns :func:`measure_shape` measures a density of."""
    if "shape" not in set(parts):
        return []
    return [c.name for c in domain if c.is_numeric and c.density is None and not _small_integer_range(c)]


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
    shape = shape_todo(domain, parts)
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


def measure_pre(
    table: Table,
    domain: Domain,
    *,
    rho_unit: float,
    accountant: Accountant,
    noise: NoiseSource,
    step: str,
    parts: Iterable[str] = PARTS,
) -> Domain:
    """Find atoms and steps with DP for the numeric columns whose metadata leaves them out.

    Privacy:
        Add/remove one row changes one cell of each histogram by one (L2 sensitivity 1).
        Each step histogram is a Gaussian release at ρ = ``rho_unit``·w; each atom histogram a
        thresholded one at ρ = ``rho_unit``·w with δ₀ = :data:`ATOM_DELTA_SHARE`·δ / (number of
        atom histograms): a value held by one row reaches the threshold
        τ = 1 + t, with P(Z ≥ t) ≤ δ₀ for the discrete Gaussian noise Z, with probability
        at most δ₀. Each is charged before its counts
        are computed.

    Returns:
        The domain with ``atoms`` and ``step`` filled in where measured.
    """
    todo = pre_todo(domain, parts)
    if not todo:
        return domain
    n_atoms = sum(1 for _, p in todo if p == "atoms")
    delta0 = ATOM_DELTA_SHARE * accountant.budget.delta / max(1, n_atoms)
    con = table.connection
    nums = _numbers_table(table, [domain[n] for n in dict.fromkeys(n for n, _ in todo)])
    new: dict[str, Column] = {}
    totals: dict[str, float] = {}  # noisy row counts from the step histograms
    for name, part in todo:
        col = new.get(name, domain[name])
        source = f"(SELECT {quote_ident(name)} AS x FROM {nums}) WHERE x IS NOT NULL AND isfinite(x)"
        sigma = math.sqrt(1.0 / (2.0 * rho_unit * _WEIGHTS[part]))
        mech = GaussianMechanism(sigma=sigma)
        if part == "atoms":
            accountant.charge(mech, step=step, delta=delta0,
                              description=f"thresholded histogram of {name!r} exact values (atoms)")
            if col.integer:
                source = f"(SELECT floor(x + 0.5) AS x FROM {source})"
            rows = con.execute(f"SELECT x, count(*) FROM {source} GROUP BY ALL").fetchall()
            values = np.array([r[0] for r in rows], dtype=np.float64)
            counts = np.array([r[1] for r in rows], dtype=np.float64)
            noisy = mech.release(counts, noise) if values.size else counts
            tau = 1.0 + discrete_gaussian_tail_threshold(sigma, delta0)
            # Without a step histogram, the released values' noisy counts bound the total
            # from below (the clipped sum of all cells would add noise once per value).
            total = totals.get(name, float(noisy[noisy >= tau].sum()) if values.size else 0.0)
            atoms = select_atoms(values, noisy, sigma=sigma, delta0=delta0, total=total)
            new[name] = col.replace(atoms=atoms)
            accountant.notes.append(f"atoms of {name!r} found with DP: {len(atoms)}")
        else:
            accountant.charge(mech, step=step, description=f"histogram of {name!r} over candidate grids (precision)")
            chain = step_candidates(col)
            cases = " ".join(
                f"WHEN abs(x / {sql_double(s)} - round(x / {sql_double(s)})) < 1e-6 THEN {j}"
                for j, s in reversed(list(enumerate(chain)))
            )
            rows = con.execute(
                f"SELECT CASE {cases} ELSE -1 END AS cell, count(*) FROM {source} GROUP BY ALL"
            ).fetchall()
            counts = np.zeros(len(chain) + 1)
            for cell, c in rows:
                counts[int(cell) + 1] = c
            noisy = mech.release(counts, noise)
            totals[name] = float(np.clip(noisy, 0.0, None).sum())
            found = select_step(chain, noisy, sigma=sigma)
            if found is not None and not (col.integer and found <= 1.0):
                new[name] = col.replace(step=found)
                accountant.notes.append(f"step of {name!r} inferred with DP: {found:g}")
            else:
                accountant.notes.append(f"step of {name!r} inferred with DP: none")
    con.execute(f"DROP TABLE {nums}")
    return domain.with_columns(new.values())


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
                 total: float) -> tuple[float, ...]:
    """The atoms a thresholded noisy histogram releases (post-processing of the noisy counts).

    Kept: values whose noisy count reaches τ = 1 + t (t the discrete Gaussian's (1 − δ₀)
    quantile, :func:`discrete_gaussian_tail_threshold`) and holds at least
    :data:`ATOM_MIN_SHARE` of ``total``; at most :data:`MAX_ATOMS`, the largest first.
    """
    if values.size == 0:
        return ()
    tau = 1.0 + discrete_gaussian_tail_threshold(sigma, delta0)
    keep = (noisy >= tau) & (noisy >= ATOM_MIN_SHARE * total)
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(-noisy[idx], kind="stable")][:MAX_ATOMS]
    return tuple(sorted(float(v) for v in values[idx]))


def select_step(chain: Sequence[float], noisy: np.ndarray, *, sigma: float) -> float | None:
    """The coarsest candidate step holding :data:`STEP_COVERAGE` of the noisy total.

    ``noisy[0]`` counts values on no candidate grid, ``noisy[j + 1]`` those whose coarsest
    grid is ``chain[j]``. None when no grid qualifies or the total is lost in the noise.
    """
    clipped = np.clip(noisy, 0.0, None)
    total = clipped.sum()
    if total <= 10.0 * sigma * math.sqrt(noisy.size):
        return None
    on_grid = np.cumsum(clipped[::-1])[::-1][1:]  # rows on chain[j] or a coarser grid
    ok = np.flatnonzero(on_grid >= STEP_COVERAGE * total)
    return float(chain[int(ok[-1])]) if ok.size else None


def shape_cells(coder: _Coder) -> np.ndarray:
    """Public sub-cell edges of a column's bins, in value space (from its bins only).

    A bin is cut into :data:`SHAPE_CELLS` cells, geometrically if it spans more than a
    factor 4 on one side of zero, so long tails get shape; bins of lattice columns are cut
    at half-steps, one cell per value when they hold few.
    """
    a, b = coder.bin_extent()
    s = lattice_step(coder)
    out: list[np.ndarray] = []
    if s is not None:
        k0s, k1s = _lattice_ranges(coder, s)
        for k0, k1 in zip(k0s.tolist(), k1s.tolist(), strict=True):
            if k1 < k0:
                continue
            if k1 - k0 + 1 <= SHAPE_CELLS:
                out.append((np.arange(k0, k1 + 2) - 0.5) * s)
            else:
                cuts = np.unique(np.round(_cuts(k0 - 0.5, k1 + 0.5) - 0.5) + 0.5)
                out.append(cuts * s)
    else:
        for lo, hi in zip(a.tolist(), b.tolist(), strict=True):
            if hi > lo:
                out.append(_cuts(lo, hi))
    if not out:
        return np.array([], dtype=np.float64)
    return np.unique(np.concatenate(out))


def _cuts(lo: float, hi: float) -> np.ndarray:
    if lo > 0 and hi / lo > 4:
        return np.geomspace(lo, hi, SHAPE_CELLS + 1)
    if hi < 0 and lo / hi > 4:
        return -np.geomspace(-lo, -hi, SHAPE_CELLS + 1)
    return np.linspace(lo, hi, SHAPE_CELLS + 1)


def measure_shape(
    table: Table,
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
        outside the sub-cells go to the outer ones). One Gaussian release per column at
        ρ = ``rho_unit``·w, charged before the counts are computed.

    Returns:
        The domain with ``density`` filled in where measured (noisy counts clipped at 0).
    """
    from dpsynth.data.discretize import _Coder

    todo = shape_todo(domain, parts)
    if not todo:
        return domain
    con = table.connection
    nums = _numbers_table(table, [domain[n] for n in todo])
    new = []
    for name in todo:
        col = domain[name]
        cuts = shape_cells(_Coder.build(col))
        if cuts.size < 3:
            continue
        sigma = math.sqrt(1.0 / (2.0 * rho_unit * _WEIGHTS["shape"]))
        mech = GaussianMechanism(sigma=sigma)
        accountant.charge(mech, step=step, description=f"histogram of {name!r} on sub-cells of its bins (shape)")
        # Counts per distinct value, binned here: cell = number of interior cuts ≤ x.
        rows = con.execute(
            f"SELECT x, count(*) FROM (SELECT {quote_ident(name)} AS x FROM {nums}) "
            "WHERE x IS NOT NULL AND isfinite(x) GROUP BY ALL"
        ).fetchall()
        xs = np.array([r[0] for r in rows], dtype=np.float64)
        cs = np.array([r[1] for r in rows], dtype=np.float64)
        cells = np.searchsorted(cuts[1:-1], xs, side="right")
        counts = np.bincount(cells, weights=cs, minlength=cuts.size - 1).astype(np.float64)
        noisy = mech.release(counts, noise)
        # Shrink towards uniform where the noise dominates: a floor of one σ per cell.
        weights = np.clip(noisy, 0.0, None) + sigma
        weights = weights / weights.sum()
        new.append(col.replace(density=(tuple(float(c) for c in cuts), tuple(float(f"{w:.4g}") for w in weights))))
        accountant.notes.append(f"within-bin shape of {name!r} measured with DP: {cuts.size - 1} sub-cells")
    con.execute(f"DROP TABLE {nums}")
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
    drawn from the column's density there (uniform without one), on the column's grid.
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
                x = np.round(x * 1e6) / 1e6
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
    return out


__all__ = [
    "NUMERIC_SHARE",
    "PARTS",
    "check_parts",
    "coupled_groups",
    "draw_in_bins",
    "lattice_step",
    "measure_pre",
    "measure_shape",
    "plan_rho",
    "pre_todo",
    "select_atoms",
    "select_step",
    "shape_cells",
    "shape_todo",
    "snap",
    "step_candidates",
]

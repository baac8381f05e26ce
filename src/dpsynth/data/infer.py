"""DP inference of what the public metadata left unknown, charged to the fit's budget.

Called only from :meth:`PrivateData.complete_domain` (the privacy boundary).

* Categories of a categorical column: a thresholded noisy histogram over the values that
  occur (the "stability-based" histogram). Values whose noisy count clears a threshold are
  kept; the rest are folded into a catch-all category ``"(other)"``, which is always added
  so that its presence says nothing. A value held by a single row is released only with
  probability δ₀, so this is (ρ, δ₀)-approximate zCDP, charged as such.
* Bounds and bin edges of a numeric column: a noisy histogram over a fixed, public
  log-spaced grid (no δ₀ needed: the grid does not depend on the data); the bounds are the
  outermost cells whose noisy count clears a threshold, the bin edges are quantiles of the
  noisy cumulative histogram. Values outside the inferred bounds are clamped.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from dpsynth.data._parse import quote_ident, sql_double, sql_missing, sql_number, sql_str, sql_text
from dpsynth.data.domain import Column, Domain
from dpsynth.data.io import Table

if TYPE_CHECKING:
    from dpsynth.data.spark import SparkTable
from dpsynth.errors import MetadataError
from dpsynth.privacy import Accountant, GaussianMechanism, NoiseSource

OTHER = "(other)"
_MANTISSAS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
#: Share of the budget's δ that thresholded histograms may use, in total.
DELTA_SHARE = 0.1


def public_grid() -> np.ndarray:
    """The fixed grid numeric bounds are searched on: 0 and ±m·10^e, e in [-3, 12]."""
    pos = [m * 10.0**e for e in range(-3, 13) for m in _MANTISSAS]
    return np.array(sorted({0.0, *pos, *(-p for p in pos)}))


_quote = quote_ident
_sql_literal = sql_str


def infer_domain(
    table: Table | SparkTable,
    domain: Domain,
    *,
    rho: float,
    accountant: Accountant,
    noise: NoiseSource,
    step: str,
    quantile_bins: bool = True,
) -> tuple[Domain, Table | SparkTable]:
    """Infer unknown categories and bounds with DP.

    The histograms are counted by the table's engine (DuckDB or Spark); only their counts
    reach Python, where noise is added after the charge.

    Args:
        table: The private table.
        domain: Its public domain, possibly incomplete.
        rho: zCDP budget for all of the inference.
        accountant: The fit's accountant, charged before each release.
        noise: The fit's noise source.
        step: Name of the step, for the ledger.
        quantile_bins: Also place DP-quantile bin edges on numeric columns whose bounds are
            public but whose edges are not (uniform bins over a wide public range waste
            most cells on skewed columns such as incomes).

    Returns:
        The completed domain, and a view of the table clipped to it (unknown categories
        become ``"(other)"``, numbers are clamped to the inferred bounds).
    """
    todo = inference_todo(domain, quantile_bins=quantile_bins)
    unordered = [c.name for c in todo if c.kind == "ordinal"]
    if unordered:
        raise MetadataError(
            [f"ordinal column {n!r} has no categories" for n in unordered],
            hint="The order of an ordinal column cannot be inferred from data: list its categories "
            "in the metadata, or declare it categorical.",
        )
    rho_each = rho / len(todo)
    sigma = math.sqrt(1.0 / (2.0 * rho_each))
    n_cat = sum(1 for c in todo if not c.is_numeric)
    delta0 = DELTA_SHARE * accountant.budget.delta / max(1, n_cat)
    new_cols: dict[str, Column] = {}
    for col in todo:
        q = _quote(col.name)
        ident = sql_text(q)
        present = f"NOT {sql_missing(col, q)}"
        mech = GaussianMechanism(sigma=sigma)
        if not col.is_numeric:
            accountant.charge(mech, step=step, delta=delta0,
                              description=f"thresholded histogram of {col.name!r} values (categories)")
            values, counts = _category_counts(table, col, ident, present)
            noisy = mech.release(counts, noise) if len(values) else counts
            # A value held by one row clears τ = 1 + σ·Φ⁻¹(1 − δ₀) with probability ≤ δ₀.
            tau = 1.0 + sigma * float(stats.norm.isf(delta0))
            kept = [v for v, c in zip(values, noisy, strict=True) if c > tau]
            new_cols[col.name] = col.replace(categories=(*kept, OTHER))
            accountant.notes.append(
                f"categories of {col.name!r} inferred with DP: {len(kept)} kept, the rest as {OTHER!r}"
            )
        else:
            accountant.charge(mech, step=step, description=f"histogram of {col.name!r} on a public grid (bounds)")
            lower_known, upper_known = col.lower, col.upper
            grid = public_grid()
            if lower_known is not None and upper_known is not None:
                # Public range: the log grid inside it plus 64 equal cells, so quantiles of
                # narrow ranges (ages) are placed as finely as those of wide ones (incomes).
                inside = grid[(grid > lower_known) & (grid < upper_known)]
                grid = np.unique(np.concatenate([inside, np.linspace(lower_known, upper_known, 65)]))
            counts = _grid_counts(table, col, grid, present)
            noisy = mech.release(counts, noise)
            thr = sigma * float(stats.norm.isf(0.05 / counts.size))
            hit = np.flatnonzero(noisy > thr)
            if hit.size == 0:
                lo_cell, hi_cell = 1, len(grid) - 1
            else:
                lo_cell, hi_cell = int(hit[0]), int(hit[-1])
            # Cell k covers [grid[k-1], grid[k]); the outer cells are clipped to the grid.
            lower = float(grid[max(lo_cell - 1, 0)]) if lower_known is None else float(lower_known)
            upper = float(grid[min(hi_cell, len(grid) - 1)]) if upper_known is None else float(upper_known)
            if col.integer:
                lower, upper = float(math.floor(lower)), float(math.ceil(upper))
            if upper <= lower:
                upper = lower + 1.0
            edges = _quantile_edges(grid, np.clip(noisy, 0, None), lower, upper, col.bins or 32, col.integer)
            new_cols[col.name] = col.replace(lower=lower, upper=upper, edges=edges)
            what = "bin edges" if lower_known is not None and upper_known is not None else "bounds and bin edges"
            accountant.notes.append(
                f"{what} of {col.name!r} inferred with DP: [{lower:g}, {upper:g}], {len(edges) - 1} bins"
            )
    new_domain = domain.with_columns([new_cols.get(c.name, c) for c in domain])
    if table.engine == "spark":
        from dpsynth.data import spark

        return new_domain, spark.clipped_view(table, domain, new_cols)  # type: ignore[arg-type]
    assert isinstance(table, Table)
    return new_domain, _clipped_view(table, domain, new_cols)


def _category_counts(table: Table | SparkTable, col: Column, ident: str, present: str) -> tuple[list[str], np.ndarray]:
    """Raw counts of each present value (sorted), by the table's engine."""
    if table.engine == "spark":
        from dpsynth.data import spark

        return spark.category_histogram(table, col)  # type: ignore[arg-type]
    assert isinstance(table, Table)
    rows = table.connection.execute(
        f"SELECT {ident} AS v, count(*) AS c FROM {table.relation_name} WHERE {present} "
        "GROUP BY ALL ORDER BY v"
    ).fetchall()
    return [r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.float64)


def _grid_counts(table: Table | SparkTable, col: Column, grid: np.ndarray, present: str) -> np.ndarray:
    """Raw counts of present finite values per grid cell (cell = grid edges ≤ x), by the table's engine."""
    if table.engine == "spark":
        from dpsynth.data import spark

        return spark.grid_histogram(table, col, grid)  # type: ignore[arg-type]
    assert isinstance(table, Table)
    num = sql_number(col, _quote(col.name))
    # Cell index = number of grid edges ≤ x (0 … len(grid)), by a balanced CASE: log2(len(grid))
    # comparisons per row instead of one per edge (it matters on tables of millions of rows).
    rows = table.connection.execute(
        f"SELECT {_sql_count_le('x', [float(g) for g in grid])} AS cell, count(*) FROM "
        f"(SELECT {num} AS x FROM {table.relation_name} WHERE {present}) WHERE x IS NOT NULL AND isfinite(x) "
        "GROUP BY ALL"
    ).fetchall()
    counts = np.zeros(len(grid) + 1)
    for cell, c in rows:
        counts[int(cell)] = c
    return counts


def inference_todo(domain: Domain, *, quantile_bins: bool = True) -> list[Column]:
    """The columns :func:`infer_domain` would spend budget on."""
    return [
        c
        for c in domain
        if c.needs_inference or (quantile_bins and c.is_numeric and c.edges is None and c.kind != "datetime")
    ]


def _quantile_edges(grid: np.ndarray, hist: np.ndarray, lower: float, upper: float, bins: int,
                    integer: bool) -> tuple[float, ...]:
    """Bin edges at quantiles of a noisy grid histogram (mass uniform within each cell)."""
    ext = np.concatenate([[lower], grid[(grid > lower) & (grid < upper)], [upper]])
    # Mass of each [ext[i], ext[i+1]) from the grid cells it lies in.
    cell_of = np.searchsorted(grid, ext[:-1], side="right")
    mass = hist[cell_of]
    widths = np.diff(ext)
    cell_width = np.array([
        (grid[k] - grid[k - 1]) if 0 < k < len(grid) else w for k, w in zip(cell_of, widths, strict=True)
    ])
    mass = mass * np.where(cell_width > 0, widths / cell_width, 0.0)
    if mass.sum() <= 0:
        edges = np.linspace(lower, upper, bins + 1)
    else:
        cdf = np.concatenate([[0.0], np.cumsum(mass)]) / mass.sum()
        qs = np.linspace(0, 1, bins + 1)
        edges = np.interp(qs, cdf, ext)
    # Atoms: a sub-cell holding more than a bin's worth of mass (capital-gain = 0) keeps its
    # own edges, so its value is not smeared over a wide bin when decoded.
    atoms = np.flatnonzero(mass > mass.sum() / bins) if mass.sum() > 0 else np.array([], dtype=int)
    edges = np.concatenate([edges, ext[atoms], ext[atoms + 1]])
    if integer:
        # [a, b) holds the same integers as [⌈a⌉, ⌈b⌉): ceil keeps an atom at 0 as [0, 1).
        edges = np.ceil(edges)
    edges = np.unique(np.concatenate([[lower], edges, [upper]]))
    return tuple(float(e) for e in edges)


def _clipped_view(table: Table, domain: Domain, new_cols: dict[str, Column]) -> Table:
    parts = []
    for col in domain:
        q = _quote(col.name)
        if col.name not in new_cols:
            parts.append(q)
            continue
        new = new_cols[col.name]
        text = sql_text(q)
        if not new.is_numeric:
            cats = ", ".join(_sql_literal(str(c)) for c in new.categories or ())
            parts.append(
                f"CASE WHEN {sql_missing(col, q)} THEN NULL WHEN {text} IN ({cats}) THEN {text} "
                f"ELSE {_sql_literal(OTHER)} END AS {q}"
            )
            continue
        clamped = f"least(greatest({sql_number(col, q)}, {new.lower!r}), {new.upper!r})"
        if col.kind == "datetime":
            as_text = f"strftime(make_timestamp(CAST(round({clamped} * 1e6) AS BIGINT)), '%Y-%m-%d %H:%M:%S.%f')"
        else:
            as_text = f"CAST({clamped} AS VARCHAR)"
        # Missing and unparseable values pass through unchanged (validation reports the latter).
        parts.append(
            f"CASE WHEN {sql_missing(col, q)} OR {sql_number(col, q)} IS NULL THEN {q} ELSE {as_text} END AS {q}"
        )
    return table.derive(f"SELECT {', '.join(parts)} FROM {table.relation_name}")


def _sql_count_le(x: str, edges: list[float]) -> str:
    """SQL: how many of the sorted ``edges`` are ≤ ``x``, as a balanced CASE."""

    def tree(a: int, b: int) -> str:
        if a == b:
            return str(a)
        mid = (a + b + 1) // 2  # x >= edges[mid - 1] ⇔ count >= mid
        return f"(CASE WHEN {x} >= {sql_double(edges[mid - 1])} THEN {tree(mid, b)} ELSE {tree(a, mid - 1)} END)"

    return tree(0, len(edges))


def schema_domain(table: Table | SparkTable) -> Domain:
    """A domain with only column types, when no metadata is given.

    Types come from the file's schema: a column whose every non-empty value parses as a
    number is numeric (integer if every value is whole), the others categorical. This reads the table (types are schema-level
    facts, and the report says they were read); categories and bounds are left unknown for
    DP inference, and every column may be missing.
    """
    if table.engine == "spark":
        from dpsynth.data import spark

        return spark.schema_domain(table)  # type: ignore[arg-type]
    assert isinstance(table, Table)
    cols = []
    for name in table.columns:
        probe = Column(name=name, kind="numeric", nullable=True)
        q = _quote(name)
        num = sql_number(probe, q)
        row = table.connection.execute(
            f"SELECT count(*) FILTER (WHERE NOT {sql_missing(probe, q)} AND {num} IS NULL), "
            f"count(*) FILTER (WHERE {num} IS NOT NULL AND {num} <> floor({num})) FROM {table.relation_name}"
        ).fetchone()
        if row is not None and row[0] == 0:
            cols.append(Column(name=name, kind="numeric", integer=row[1] == 0, nullable=True))
        else:
            cols.append(Column(name=name, kind="categorical", nullable=True))
    return Domain(cols)

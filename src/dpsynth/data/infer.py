"""DP inference of what the public metadata left unknown, charged to the fit's budget.

Called only from :meth:`PrivateData.complete_domain` (the privacy boundary). Everything a
fit learns about the schema from the rows goes through one of these releases, each charged
to the fit's accountant before it is computed, and each listed in the privacy report with
its cost and a reliability flag.

* **Type, integrality and missingness** of a column whose metadata gives no type (or whose
  ``nullable`` is ``null``): a *profile*, seven disjoint noisy counts (missing, text, ISO
  dates/timestamps, and numbers by sign × non-whole/whole). Add/remove one row changes one
  count by one (L2 sensitivity 1). The column is numeric, datetime or categorical as the
  noisy number, date or text count is largest; integer when the noisy non-whole count is a
  small share of the numbers; nullable when the noisy count of values that do not fit
  (missing, or another kind) clears a threshold. One odd row therefore cannot flip a type:
  it moves a noisy count by one. Values that do not fit the chosen type become missing (or,
  if the column is not nullable, the noisy mode); they never change the schema.
* **Formats** (``$1,234.50``, ``27.8%``, ``12/31/2020``) of a column of inferred type whose
  noisy text count is detectable: one more release, of the text values counted by the first
  of the public :data:`NUMBER_FORMATS` (split into whole and non-whole) and
  :data:`DATE_FORMATS` each reads under. A row lies in at most one of these cells (L2
  sensitivity 1, whatever the number of candidates); the release is charged
  :data:`FORMAT_SHARE` of that column's values budget (decided from the profile's noisy
  counts, so no other column's budget moves). The most frequent format is chosen when its
  noisy count clears its threshold (Bonferroni over the candidates), is more than the rest of
  the text, and the values it reads (with the plain numbers it also reads) outnumber both
  the plain numbers and the ISO dates: the plain-number test, with the format's values. Then
  the column is numeric (or datetime) with that ``format``; values not in it become missing,
  as any value that does not fit the type.
* **The split of the budget.** Every column's profile is measured first, at
  :data:`PROFILE_SHARE` of an equal split; the rest of ρ then goes to the values, split by
  what the profiles found (post-processing of released counts): a categorical column of
  inferred type gets :data:`DISCOVERY_WEIGHT` times a number column's share, since its
  values are discovered by a threshold of about 5σ. The charges' ρ therefore depend on
  earlier noisy answers, never their total (the budget's share): adaptive composition of
  zCDP under a fixed total (a privacy filter, Feldman & Zrnic 2021; Whitehouse et al.
  2023). Each value histogram of a column of inferred type carries the same δ₀, whatever
  the type.
* **Categories** of a categorical column: a thresholded noisy histogram over the values that
  occur (the "stability-based" histogram). Values whose noisy count clears a threshold are
  kept; the rest are folded into a catch-all category ``"(other)"``. A value held by a
  single row is released only with probability δ₀, so this is (ρ, δ₀)-approximate zCDP,
  charged as such. When the column's type was inferred, the profile's noisy count of present
  values less the kept noisy counts estimates the rest; when that is within one standard
  deviation of zero there is no ``"(other)"`` (its cell would hold mostly noise) and the
  few rows it may hold move to the noisy mode.
* **Bounds, support and bin edges** of a numeric column: a noisy histogram over a fixed,
  public grid (log-spaced, plus one cell per whole number in public windows for columns
  whose type is inferred; months from 1900 to 2100 for inferred datetimes; no δ₀ needed:
  the grid does not depend on the data) and, for a column of inferred type, a thresholded
  histogram of its exact values (with δ₀). A column whose mass sits on a few exact values
  (0/1 flags, codes 1–4, a per-area figure with 20 values) becomes an ordinal column with
  exactly those values (rows elsewhere are moved to the nearest one), so no value outside
  the support is ever produced; whole-number codes that fill most of a small range keep the
  whole range, and one more code beyond each end when a test at a lower threshold sees it.
  Otherwise bounds are located coarse-to-fine on a second noisy histogram, by decade
  (by year for dates), measured in the same release: the outermost decade detected (alone,
  with the two decades beyond it, or by the noisy total of all decades beyond it), then,
  inside it, the outermost grid cell detected on its own; mass beyond is clamped (a high DP
  quantile, not the noisy extreme). When nothing can be located the fit stops with an error
  naming the columns that need bounds in the metadata; it never falls back to the whole
  grid. Bin edges are quantiles of the noisy cumulative histogram.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import isotonic_regression

from dpsynth.data._parse import (
    bound_text,
    format_value,
    numbers,
    quote_ident,
    sql_missing,
    sql_number,
    sql_str,
    sql_text,
)
from dpsynth.data.domain import Column, Domain, NumberFormat, category_key
from dpsynth.data.io import Table

if TYPE_CHECKING:
    from dpsynth.data.numeric import Released
    from dpsynth.data.spark import SparkTable
from dpsynth.errors import InvalidParameterError, MetadataError
from dpsynth.privacy import Accountant, GaussianMechanism, NoiseSource
from dpsynth.privacy.mechanisms import discrete_gaussian_threshold

OTHER = "(other)"
_MANTISSAS = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
#: Share of the budget's δ that thresholded histograms may use, in total.
DELTA_SHARE = 0.1
#: Tokens read as missing in a column whose metadata is absent (public, as in pandas).
MISSING_TOKENS: tuple[str, ...] = ("NA", "N/A", "n/a", "na", "NaN", "nan", "NULL", "null", "None", "?")
#: Share of a type-inferred column's ρ spent on its profile (the rest on its values).
PROFILE_SHARE = 0.15
#: Public windows of whole numbers that get one grid cell each when a column's type is
#: inferred: small codes and counts. Kept narrow: summed back into the log grid (for bounds
#: and edges) each whole-number cell adds its noise.
INT_WINDOWS: tuple[tuple[int, int], ...] = ((-16, 100),)
#: Most distinct values an inferred whole-number column may have to become ordinal.
MAX_LEVELS = 24
#: Share of the (noisy) numbers that must lie on the kept values for an exact support.
SUPPORT_MASS = 0.95
#: Share of a whole-number column's numbers on released exact values (short of
#: SUPPORT_MASS) above which the report says it may be a code best declared categorical.
CODE_HINT_SHARE = 0.75
#: Sds the profile's noisy count of negative numbers must clear for a column of inferred
#: type to look for its negatives in the negative decades (see :meth:`_Profile.maybe_negative`).
NEGATIVE_Z = 2.0
#: Largest share of non-whole numbers an inferred integer column may hold.
NONWHOLE_SHARE = 0.02
#: False-positive rate of each threshold test (per column, Bonferroni over its cells).
ALPHA = 1e-3
#: Budget share for inference when the metadata gives no types at all (it infers more).
NO_METADATA_SHARE = 0.25
#: Budget share for inference when the metadata declares every column's type, categories
#: and bounds (only DP-quantile bin edges are left to place); see :func:`default_inference_share`.
TYPED_SHARE = 0.05
#: Share of the inference budget, on top of it, for a second look at the columns whose bounds
#: the first histogram could not locate (spent only when some could not, split among them).
RETRY_SHARE = 0.2
#: Decades a tail may spread over and still be seen together when bounds are located.
DECADE_WINDOW = 3
#: Sds a decade must show on its own to hold a bound when a sum over it and the next
#: decades in was what was detected (see :func:`_locate_bounds`).
WINDOW_Z = 2.5
#: Sds a window of cells just beyond a located bound must clear for the bound to move out
#: past it (see :func:`_locate_bounds`).
WALK_Z = 2.0
#: Largest share of a top code's own (noisy) count its grid cell may hold beside it (see
#: :func:`_top_code`): 9,972 poverty ratios at 501 beside 16 others in [500, 600).
TOP_CODE_REST = 0.1
#: Whole numbers in this range (years, amounts in the low thousands) get a charged finer look
#: when every cell of the public log grid detected on its own lies inside it: the log grid's
#: cells there are 250–500 wide, so years built 1950–2020 were bounded by [1500, 2500].
FINE_RANGE = (1000, 2500)
#: ρ of that finer look, as a share of the column's own values ρ (charged only when it happens).
FINE_SHARE = 0.5
#: Whole numbers per block of the finer look (a tail too thin for one number is seen by blocks).
FINE_BLOCK = 10
#: Weight of a categorical column's values budget against a numeric column's (see
#: :func:`_values_weight`).
DISCOVERY_WEIGHT = 1.5
_ID_SUFFIXES = ("_id", "-id", " id")
#: Zero-padded codes of 4 to 10 digits (ZIP codes, county codes, account numbers): a number
#: written with a leading zero ('02134') is text to the profile; these widths read it as a
#: number and write every value back with at least that many digits. Tried after the
#: formats above; a text value counts for the width of its own digits only (see
#: :func:`_format_counts`). Shorter codes ('007', '01') stay categorical: they are usually
#: few, and kept exactly as categories.
PADDED_FORMATS: tuple[NumberFormat, ...] = tuple(NumberFormat(width=w) for w in range(4, 11))
#: Number formats a column of inferred type is tried in (fixed, public), in this order: a
#: text value counts for the first it reads under.
NUMBER_FORMATS: tuple[NumberFormat, ...] = (
    NumberFormat(thousands=","),
    NumberFormat(prefix="$", thousands=","),
    NumberFormat(suffix="%"),
    NumberFormat(thousands=".", decimal=","),
    NumberFormat(suffix="%", decimal=","),
    NumberFormat(prefix="€", thousands=","),
    NumberFormat(prefix="£", thousands=","),
    NumberFormat(suffix=" €", thousands=".", decimal=","),
    *PADDED_FORMATS,
)
#: Date patterns a column of inferred type is tried in (fixed, public), after the numbers.
DATE_FORMATS: tuple[str, ...] = (
    "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y",
    "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d.%m.%Y %H:%M",
    "%b %d %Y", "%b %d, %Y", "%d %b %Y",
    "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ",
)
#: Share of a text-holding column's values budget spent on the counts of its formats.
FORMAT_SHARE = 0.1


def public_grid() -> np.ndarray:
    """The fixed grid numeric bounds are searched on: 0 and ±m·10^e, e in [-3, 12]."""
    pos = [m * 10.0**e for e in range(-3, 13) for m in _MANTISSAS]
    return np.array(sorted({0.0, *pos, *(-p for p in pos)}))


def datetime_grid() -> np.ndarray:
    """The fixed grid dates are searched on when a column's type is inferred.

    Month starts from 1900 to 2100, in epoch seconds (dates outside lie in the two outer cells).
    """
    months = np.arange(np.datetime64("1900-01"), np.datetime64("2100-02"), dtype="datetime64[M]")
    return months.astype("datetime64[s]").astype(np.int64).astype(np.float64)


def _year_blocks(grid: np.ndarray) -> np.ndarray:
    """Year of each cell of :func:`datetime_grid` (its lower edge's; the outer cells alone)."""
    years = grid.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    return np.concatenate([[years[0] - 1], years])


def _iso(seconds: float) -> str:
    """ISO text of epoch seconds: a date when it is midnight, else a timestamp."""
    ts = np.datetime64(round(seconds * 1e6), "us")
    if seconds % 86400 == 0:
        return str(ts.astype("datetime64[D]"))
    return str(ts.astype("datetime64[s]")).replace("T", " ")


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def typed_grid() -> np.ndarray:
    """The public grid plus one cell per whole number of :data:`INT_WINDOWS` (fixed, public)."""
    ints = [np.arange(a, b + 2, dtype=np.float64) for a, b in INT_WINDOWS]
    return np.unique(np.concatenate([public_grid(), *ints]))


_quote = quote_ident
_sql_literal = sql_str


# -- domains whose types are still unknown ---------------------------------------------------
class PendingDomain(Domain):
    """A domain some of whose column types (or nullability) are left to DP inference.

    The pending columns are held as nullable categorical placeholders reading
    :data:`MISSING_TOKENS` as missing, so the table can be validated; :func:`infer_domain`
    replaces them with their inferred description. Deriving a domain from this one
    (``replace``, ``project``) gives a plain :class:`Domain`.

    Args:
        columns: The columns (placeholders for the untyped ones).
        untyped: Names whose type is inferred.
        nullable_unknown: Names whose nullability is inferred.
        **kwargs: As for :class:`Domain`.
    """

    __slots__ = ("nullable_unknown", "untyped")

    def __init__(self, columns: Iterable[Column], *, untyped: Iterable[str] = (),
                 nullable_unknown: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(columns, **kwargs)
        self.untyped = frozenset(untyped)
        self.nullable_unknown = frozenset(nullable_unknown) | self.untyped

    def _key(self) -> tuple[Any, ...]:
        return (*super()._key(), tuple(sorted(self.untyped)), tuple(sorted(self.nullable_unknown)))


def placeholder(name: str) -> Column:
    """The stand-in for a column whose type is inferred."""
    return Column(name=name, kind="categorical", nullable=True, missing_values=MISSING_TOKENS)


def is_id_like(name: str) -> bool:
    """Whether a column name says it is a row identifier (``id``, ``ID``, ``*_id``, ``Unnamed: 0``)."""
    low = name.strip().lower()
    return low in ("id", "index", "unnamed: 0", "rowid", "row_id") or low.endswith(_ID_SUFFIXES)


def schema_domain(table: Table | SparkTable, *, drop_ids: bool = True) -> PendingDomain:
    """The domain of a table without metadata: its header, and nothing read from its rows.

    Every column's type, nullability, categories or bounds are left to DP inference at fit
    time. Columns named like row ids are listed under ``ignore`` (not synthesised) when
    ``drop_ids`` is set.
    """
    ids = [n for n in table.columns if drop_ids and is_id_like(n)]
    cols = [placeholder(n) for n in table.columns if n not in ids]
    if not cols:
        raise MetadataError(
            f"every column of {table.source} looks like a row id ({ids}); nothing is left to synthesise",
            hint="Describe the columns in a metadata file (`dpsynth metadata init`).",
        )
    return PendingDomain(cols, untyped=[c.name for c in cols], ignore=ids)


def pending_of(domain: Domain) -> tuple[frozenset[str], frozenset[str]]:
    """(untyped, nullable-unknown) column names of a domain (empty for a plain Domain)."""
    if isinstance(domain, PendingDomain):
        return domain.untyped, domain.nullable_unknown
    return frozenset(), frozenset()


# -- the plan: what is inferred, at what share -----------------------------------------------
@dataclass(frozen=True)
class PlanItem:
    """One column's DP inference: what is learned and its share of the fit's ρ."""

    column: str
    what: str
    share: float


def default_inference_share(domain: Domain) -> float:
    """The budget share domain inference gets by default, from the public domain alone.

    :data:`NO_METADATA_SHARE` when some column's type is unknown; otherwise it grows from
    :data:`TYPED_SHARE` towards :data:`NO_METADATA_SHARE` with the share of columns whose
    metadata leaves bounds, categories or missingness unknown:
    ``TYPED_SHARE + (NO_METADATA_SHARE − TYPED_SHARE)·k/d``. A fixed share split over many
    such columns left each too little to see a tail: on a 24-column table with 13 unbounded
    amounts, 5% gave each histogram a noise sd of about 100 rows, and 2–4% of the amounts
    were clamped onto bounds a decade short of their tail.
    """
    untyped, null_unknown = pending_of(domain)
    if untyped:
        return NO_METADATA_SHARE
    d = len(domain)
    k = sum(1 for c in domain if c.needs_inference or c.name in null_unknown)
    return TYPED_SHARE + (NO_METADATA_SHARE - TYPED_SHARE) * k / max(d, 1)


def inference_todo(domain: Domain, *, quantile_bins: bool = True) -> list[Column]:
    """The columns :func:`infer_domain` would spend budget on."""
    untyped, null_unknown = pending_of(domain)
    return [
        c
        for c in domain
        if c.name in untyped or c.name in null_unknown or c.needs_inference
        or (quantile_bins and c.is_numeric and c.edges is None and c.kind != "datetime")
    ]


def inference_plan(domain: Domain, *, share: float, quantile_bins: bool = True) -> list[PlanItem]:
    """What :func:`infer_domain` will learn about each column, and at what share of ρ.

    The share is split equally between the columns inferred, nothing being read from the
    data; for a column whose type is inferred this is an average: after the profiles, a
    categorical column's values get :data:`DISCOVERY_WEIGHT` times a number column's share.
    """
    todo = inference_todo(domain, quantile_bins=quantile_bins)
    untyped, null_unknown = pending_of(domain)
    out = []
    for c in todo:
        if c.name in untyped:
            what = ("type, missing values, format (of a column holding text), then categories or support/bounds "
                    "and bin edges (an average: categories get more)")
        else:
            parts = ["missing values"] if c.name in null_unknown else []
            if c.is_numeric:
                parts.append("bin edges" if c.lower is not None and c.upper is not None else "bounds and bin edges")
            elif c.categories is None:
                parts.append("categories")
            what = ", ".join(parts)
        out.append(PlanItem(c.name, what, share / len(todo)))
    return out


# -- inference ---------------------------------------------------------------------------------
@dataclass
class _Inferred:
    column: Column
    impute: str | None = None  # text a missing value becomes when the column is not nullable
    levels: tuple[float, ...] | None = None  # exact support of an inferred discrete number column
    level_text: tuple[str, ...] | None = None  # the text each level is written as
    other_to: str | None = None  # category unkept values become when there is no "(other)"
    fmt: NumberFormat | str | None = None  # the format an inferred column's raw values are read in
    # The released part of a thresholded histogram of exact values (values, noisy counts, σ,
    # δ₀): frequent values a numeric column may keep as atoms (see measure_pre's ``released``).
    exact: Released | None = None


def infer_domain(
    table: Table | SparkTable,
    domain: Domain,
    *,
    rho: float,
    accountant: Accountant,
    noise: NoiseSource,
    step: str,
    quantile_bins: bool = True,
    released: dict[str, Released] | None = None,
) -> tuple[Domain, Table | SparkTable]:
    """Infer unknown types, missingness, categories and bounds with DP.

    The histograms are counted by the table's engine (DuckDB or Spark); only their counts
    reach Python, where noise is added after the charge. Types and missingness (the
    no-metadata path) are inferred on DuckDB only: on Spark they must be declared.

    Args:
        table: The private table.
        domain: Its public domain, possibly incomplete (a :class:`PendingDomain` when types
            are unknown).
        rho: zCDP budget for all of the inference, split equally between the columns.
        accountant: The fit's accountant, charged before each release.
        noise: The fit's noise source.
        step: Name of the step, for the ledger.
        quantile_bins: Also place DP-quantile bin edges on numeric columns whose bounds are
            public but whose edges are not (uniform bins over a wide public range waste
            most cells on skewed columns such as incomes).
        released: Filled, when given, with the exact values each numeric column of inferred
            type released through its thresholded histogram (values, noisy counts, σ, δ₀),
            for :func:`dpsynth.data.numeric.measure_pre` to take atoms from (post-processing).

    Returns:
        The completed domain, and a view of the table clipped to it (unknown categories
        become ``"(other)"``, numbers are clamped to the inferred bounds, values that do not
        fit an inferred type become missing).

    Columns whose bounds the first histogram cannot locate get a second look at
    :data:`RETRY_SHARE` × ``rho`` more, split among them (charged only when it happens).

    Raises:
        MetadataError: An ordinal column has no categories, or the bounds of some columns
            could not be located at this budget, even at the second look (the message names
            them).
    """
    todo = inference_todo(domain, quantile_bins=quantile_bins)
    untyped, null_unknown = pending_of(domain)
    if table.engine == "spark":
        refuse_pending_on_spark(domain)
    unordered = [c.name for c in todo if c.kind == "ordinal" and c.categories is None and c.name not in untyped]
    if unordered:
        raise MetadataError(
            [f"ordinal column {n!r} has no categories" for n in unordered],
            hint="The order of an ordinal column cannot be inferred from data: list its categories "
            "in the metadata, or declare it categorical.",
        )
    rho_each = rho / len(todo)
    n_cat = sum(1 for c in todo if not c.is_numeric)  # untyped placeholders are counted here
    delta0 = DELTA_SHARE * accountant.budget.delta / max(1, n_cat)
    total_rho = accountant.rho_budget
    new_cols: dict[str, _Inferred] = {}
    failed: list[str] = []
    # Phase 1: the profiles (type, integrality, missingness), an equal small share each.
    profiles: dict[str, _Profile] = {}
    works: dict[str, Column] = {}
    for col in todo:
        if col.name in null_unknown:
            assert isinstance(table, Table)  # refused above on Spark
            profiles[col.name] = _measure_profile(table, col, PROFILE_SHARE * rho_each, accountant, noise, step,
                                                  total_rho, typed=col.name not in untyped)
        work = col
        if col.name in untyped:
            work = profiles[col.name].column()
        elif col.name in profiles:
            work = col.replace(nullable=profiles[col.name].nullable(numeric=col.is_numeric))
        works[col.name] = work
    # Phase 2: the rest of ρ goes to the values, split by what each column still needs
    # (post-processing of the profiles: no data is read to split it).
    need = {c.name: _values_weight(works[c.name], quantile_bins, typed=c.name not in untyped) for c in todo}
    rho_left = rho - sum(PROFILE_SHARE * rho_each for n in profiles)
    units = sum(need.values())
    # Phase 1b: formats of the untyped columns holding text, paid from their own values share
    # (decided on the noisy profile: post-processing), so no other column's share moves.
    spent: dict[str, float] = {}
    for col in todo:
        prof = profiles.get(col.name)
        if col.name in untyped and prof is not None and prof.text > _z(1) * prof.sigma and table.engine != "spark":
            assert isinstance(table, Table)
            spent[col.name] = FORMAT_SHARE * rho_left * need[col.name] / units
            found = _measure_formats(table, col, prof, spent[col.name], accountant, noise, step, total_rho)
            if found is not None:
                profiles[col.name] = found
                works[col.name] = found.column()
    for col in todo:
        work = works[col.name]
        profile = profiles.get(col.name)
        if need[col.name] == 0.0:
            # Only nullability was unknown: the profile settled it.
            new_cols[col.name] = _Inferred(work, impute=_impute_first(work))
            continue
        rho_values = rho_left * need[col.name] / units - spent.get(col.name, 0.0)
        try:
            if not work.is_numeric:
                new_cols[col.name] = _infer_categories(
                    table, col, work, rho_values, delta0, accountant, noise, step, total_rho, profile=profile)
            else:
                new_cols[col.name] = _infer_numeric(
                    table, col, work, rho_values, accountant, noise, step, total_rho,
                    typed=col.name not in untyped, profile=profile, delta0=delta0 if col.name in untyped else 0.0)
        except _BoundsNotFound:
            failed.append(col.name)
    if failed:
        # A second look for the columns whose bounds were not located (noise decides some of
        # them on a wide table): RETRY_SHARE more of the inference budget, split among them,
        # spent only when needed (charged like the first). What still fails stops the fit.
        rho_retry = RETRY_SHARE * rho / len(failed)
        still: list[str] = []
        for name in failed:
            col = next(c for c in todo if c.name == name)
            try:
                new_cols[name] = _infer_numeric(
                    table, col, works[name], rho_retry, accountant, noise, step, total_rho,
                    typed=name not in untyped, profile=profiles.get(name),
                    delta0=delta0 if name in untyped else 0.0)
                accountant.notes.append(
                    f"the bounds of {name!r} were located at a second look, at {rho_retry:.3g} more ρ "
                    "(the first histogram was too noisy)")
            except _BoundsNotFound:
                still.append(name)
        failed = still
    if failed:
        raise MetadataError(
            [f"the bounds of column {n!r} could not be located with DP: too few rows for the noise at "
             "this budget" for n in failed],
            hint="Declare 'lower' and 'upper' for these columns in the metadata (`dpsynth metadata init "
            "DATA.csv -o meta.json` writes a skeleton), or raise epsilon.",
        )
    if released is not None:
        released.update({name: inf.exact for name, inf in new_cols.items()
                         if inf.exact is not None and inf.column.is_numeric and inf.column.kind != "ordinal"})
    final = [new_cols[c.name].column if c.name in new_cols else c for c in domain]
    new_domain = Domain(final, target=domain.target, ignore=domain.ignore, name=domain.name,
                        description=domain.description, source=domain.source,
                        constraints=domain.constraints)
    if table.engine == "spark":
        from dpsynth.data import spark

        return new_domain, spark.clipped_view(
            table, domain, {n: inf.column for n, inf in new_cols.items()})  # type: ignore[arg-type]
    assert isinstance(table, Table)
    return new_domain, _clipped_view(table, domain, new_cols)


def refuse_pending_on_spark(domain: Domain) -> None:
    """Raise before any charge when a Spark fit would need DP type or missingness inference.

    Those profile histograms run as DuckDB SQL only; the Spark engine needs every column's
    type and nullability from the metadata (categories and bounds may still be inferred).
    """
    untyped, null_unknown = pending_of(domain)
    if untyped or null_unknown:
        names = sorted(untyped | null_unknown)
        raise InvalidParameterError(
            "the Spark engine needs metadata with every column's type and nullability (inferring them "
            f"with DP runs on DuckDB only); missing for {names[:5]}{' …' if len(names) > 5 else ''}. "
            "Write them with `dpsynth metadata init DATA.csv -o meta.json`, or use engine='duckdb'."
        )


def _category_counts(table: Table | SparkTable, col: Column, ident: str, present: str) -> tuple[list[Any], np.ndarray]:
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


def _grid_counts(table: Table | SparkTable, col: Column, grid: np.ndarray, num: str, present: str) -> np.ndarray:
    """Raw counts of present finite values per grid cell (cell = grid edges ≤ x), by the table's engine."""
    if table.engine == "spark":
        from dpsynth.data import spark

        return spark.grid_histogram(table, col, grid)  # type: ignore[arg-type]
    assert isinstance(table, Table)
    # Distinct values and their counts from DuckDB; cell index = number of grid edges ≤ x.
    res = table.connection.execute(
        f"SELECT x, count(*) AS c FROM (SELECT {num} AS x FROM {table.relation_name} WHERE {present}) "
        "WHERE x IS NOT NULL AND isfinite(x) GROUP BY ALL"
    ).fetchnumpy()
    counts = np.zeros(len(grid) + 1)
    if len(res["x"]):
        cells = np.searchsorted(grid, np.asarray(res["x"], dtype=np.float64), side="right")
        np.add.at(counts, cells, np.asarray(res["c"], dtype=np.float64))
    return counts


class _BoundsNotFound(Exception):
    """No noisy count located a bound of this column."""


def _cost(rho: float, total: float) -> str:
    share = rho / total if total > 0 else 0.0
    return f"ρ = {rho:.3g}, {share:.1%} of the budget"


def _note(accountant: Accountant, text: str, rho: float, total: float, reliable: bool, why: str = "") -> None:
    flag = "high confidence" if reliable else f"low confidence{': ' + why if why else ''}"
    accountant.notes.append(f"inferred with DP: {text} ({_cost(rho, total)}; {flag})")


def _z(tests: int) -> float:
    """One-sided threshold (in σ) a pure-noise count clears with probability ALPHA / tests."""
    return float(stats.norm.isf(ALPHA / max(1, tests)))


# -- profile: type, integrality, missingness ---------------------------------------------------
@dataclass
class _Profile:
    name: str
    source: Column
    missing: float
    text: float
    nonwhole: float
    whole: float
    sigma: float
    negative: float = 0.0  # noisy count of negative numbers (whole or not)
    dates: float = 0.0  # noisy count of ISO dates/timestamps (not numbers)
    fmt: NumberFormat | str | None = None  # the format chosen with DP (then numbers/dates count its values)

    @property
    def numbers(self) -> float:
        return self.nonwhole + self.whole

    def non_negative(self) -> bool:
        """Whether negative numbers are too few to see (then the lower bound is 0)."""
        if self.fmt is not None:
            return False  # the sign of formatted values is not counted: the bounds are located
        return self.negative <= _z(1) * self.sigma * math.sqrt(2)

    def non_positive(self) -> bool:
        """Whether the numbers are clearly negative, with zeros and positives not even weakly seen.

        Then the upper bound is 0 or located below it, the mirror of a non-negative column's
        lower bound: a column of losses recorded as negatives is not clamped below its values
        nearest 0. Positives must stay under :data:`NEGATIVE_Z` sds (not the strict
        threshold): a column with a few positives keeps its located upper bound, as before.
        """
        if self.fmt is not None:
            return False
        sd = self.sigma * math.sqrt(2)
        return self.negative > _z(1) * sd and self.numbers - self.negative <= NEGATIVE_Z * sd

    def maybe_negative(self) -> bool:
        """Whether the noisy count of negatives clears :data:`NEGATIVE_Z` sds.

        A lower threshold than :meth:`non_negative`'s: a column that passes this and not
        that is still located as non-negative, but its lower bound goes below 0 when the
        negative decades confirm it (:func:`_negative_reach`). Negatives missed are clamped
        (4% refunds among amounts, 328 rows, became the lower bound), while this test alone
        raises a false alarm in 2.3% of non-negative columns.
        """
        return self.fmt is None and self.negative > NEGATIVE_Z * self.sigma * math.sqrt(2)

    def maybe_positive(self) -> bool:
        """Whether the noisy count of non-negative numbers clears :data:`NEGATIVE_Z` sds.

        The mirror of :meth:`maybe_negative`: a column located below 0 whose profile still
        shows such numbers looks for them in the positive decades (a few gains among losses).
        """
        return self.fmt is None and self.numbers - self.negative > NEGATIVE_Z * self.sigma * math.sqrt(2)

    def kind(self) -> str:
        """numeric, datetime or categorical: whichever of numbers, dates and text is most frequent."""
        if self.fmt is not None:  # chosen by _measure_formats
            return "numeric" if isinstance(self.fmt, NumberFormat) else "datetime"
        if self.numbers > max(self.text, self.dates, 0.0):
            return "numeric"
        if self.dates > max(self.text, self.numbers, 0.0):
            return "datetime"
        return "categorical"

    def is_numeric(self) -> bool:
        return self.kind() == "numeric"

    def is_integer(self) -> bool:
        return self.nonwhole <= NONWHOLE_SHARE * max(self.numbers, 0.0) + _z(1) * self.sigma

    def _bad(self, numeric: bool, datetime: bool) -> tuple[float, float]:
        """Noisy count of values that do not fit the type, and its noise sd."""
        if datetime:
            bad, cells = self.missing + self.text + self.numbers, 6
        elif numeric:
            bad, cells = self.missing + self.text + self.dates, 3
        else:
            bad, cells = self.missing, 1
        return bad, self.sigma * math.sqrt(cells)

    def nullable(self, *, numeric: bool, datetime: bool = False) -> bool:
        """Whether values that do not fit the type (missing, or another kind) are detectable."""
        bad, sd = self._bad(numeric, datetime)
        return bad > _z(1) * sd

    def nullable_margin(self, *, numeric: bool, datetime: bool = False) -> float:
        """Sds between the noisy count of values that do not fit and the nullable threshold."""
        bad, sd = self._bad(numeric, datetime)
        return abs(bad - _z(1) * sd) / sd

    def column(self) -> Column:
        kind = self.kind()
        base = self.source
        if kind == "numeric":
            return Column(name=self.name, kind="numeric", integer=self.is_integer(), nullable=self.nullable(numeric=True),
                          missing_values=base.missing_values, description=base.description, format=self.fmt)
        if kind == "datetime":
            return Column(name=self.name, kind="datetime", nullable=self.nullable(numeric=False, datetime=True),
                          missing_values=base.missing_values, description=base.description, format=self.fmt)
        return Column(name=self.name, kind="categorical", nullable=self.nullable(numeric=False),
                      missing_values=base.missing_values, description=base.description)


def _sql_typed_number(q: str) -> str:
    """The number a field holds, NULL for text; a code with leading zeros ('02134') is text."""
    probe = Column(name="probe", kind="numeric")
    num = sql_number(probe, q)
    t = sql_text(q)
    return (f"(CASE WHEN regexp_full_match({t}, {sql_str('[+-]?0[0-9].*')}) THEN NULL "
            f"WHEN isfinite({num}) THEN {num} END)")


def _sql_typed_value(work: Column, q: str) -> str:
    """The value of a field of a column of inferred type: in its chosen format, else as the profile reads it."""
    if work.format is not None:
        x = sql_number(work, q)
        return f"(CASE WHEN isfinite({x}) THEN {x} END)"
    return _sql_typed_datetime(q) if work.kind == "datetime" else _sql_typed_number(q)


def _sql_typed_datetime(q: str) -> str:
    """Epoch seconds of an ISO date/timestamp field, NULL for anything else (as a datetime column reads it)."""
    return sql_number(Column(name="probe", kind="datetime"), q)


def _measure_profile(table: Table, col: Column, rho: float, accountant: Accountant, noise: NoiseSource,
                     step: str, total_rho: float, *, typed: bool) -> _Profile:
    """Seven disjoint noisy counts (missing, text, dates, numbers by sign × non-whole/whole).

    Sensitivity 1 (a row lies in one cell), one release.
    """
    sigma = math.sqrt(1.0 / (2.0 * rho))
    mech = GaussianMechanism(sigma=sigma)
    accountant.charge(mech, step=step, description=f"profile of {col.name!r}: counts of missing, text, dates, "
                      "and negative/non-negative × non-whole/whole numbers (type, sign, missingness)")
    q = _quote(col.name)
    miss = sql_missing(col, q)
    if typed and col.is_numeric:
        x = f"(CASE WHEN isfinite({sql_number(col, q)}) THEN {sql_number(col, q)} END)"
    else:
        x = _sql_typed_number(q)
    # A column typed in the metadata reads its own values (dates of a datetime column are its
    # numbers); otherwise an ISO date or timestamp that is not a number counts as a date.
    dt = "NULL" if typed else _sql_typed_datetime(q)
    # Seven disjoint cells: missing, text, dates, and numbers by sign × (non-whole, whole).
    row = table.connection.execute(
        f"SELECT count(*) FILTER (WHERE m), count(*) FILTER (WHERE NOT m AND x IS NULL AND d IS NULL), "
        f"count(*) FILTER (WHERE NOT m AND x < 0 AND x <> floor(x)), "
        f"count(*) FILTER (WHERE NOT m AND x < 0 AND x = floor(x)), "
        f"count(*) FILTER (WHERE NOT m AND x >= 0 AND x <> floor(x)), "
        f"count(*) FILTER (WHERE NOT m AND x >= 0 AND x = floor(x)), "
        f"count(*) FILTER (WHERE NOT m AND x IS NULL AND d IS NOT NULL) "
        f"FROM (SELECT {miss} AS m, {x} AS x, {dt} AS d FROM {table.relation_name})"
    ).fetchone()
    assert row is not None
    noisy = mech.release(np.array(row, dtype=np.float64), noise)
    v = [float(c) for c in noisy]
    prof = _Profile(col.name, col, missing=v[0], text=v[1], nonwhole=v[2] + v[4], whole=v[3] + v[5],
                    sigma=sigma, negative=v[2] + v[3], dates=v[6])
    if typed:
        nullable = prof.nullable(numeric=col.is_numeric)
        margin = abs(prof.missing - _z(1) * sigma) / sigma
        _note(accountant, f"{col.name!r} is {'nullable' if nullable else 'never missing'}", rho, total_rho,
              margin > 2.0, "the missing count is close to its threshold")
        return prof
    found = prof.kind()
    numeric = found == "numeric"
    kind = ("integer" if prof.is_integer() else "decimal") if numeric else found
    counts = sorted([prof.numbers, prof.text, prof.dates])
    margin = (counts[2] - counts[1]) / (sigma * math.sqrt(5))
    if numeric:
        margin = min(margin, abs(prof.nonwhole - NONWHOLE_SHARE * prof.numbers - _z(1) * sigma) / sigma)
    nullable = prof.nullable(numeric=numeric, datetime=found == "datetime")
    if numeric and prof.non_negative():
        kind += " ≥ 0, a few negatives possible" if prof.maybe_negative() else " ≥ 0"
    why = "its noisy counts are close to the decision threshold"
    if margin > 3.0 and prof.nullable_margin(numeric=numeric, datetime=found == "datetime") < 2.0:
        # The type is clear, missingness is not: a few hundred blanks may be filled in.
        margin = 0.0
        why = ("the count of missing values (or values of another kind) is close to its threshold"
               + ("" if nullable else ": those there are become a typical value"))
    _note(accountant, f"type of {col.name!r}: {kind}, {'nullable' if nullable else 'never missing'}"
          + (" (values of another kind become missing)" if found != "categorical" and nullable else ""),
          rho, total_rho, margin > 3.0, why)
    return prof


def _format_cells() -> list[tuple[NumberFormat | str, str]]:
    """The cells of the format counts, in release order: (format, "whole"/"nonwhole"/"date")."""
    cells: list[tuple[NumberFormat | str, str]] = []
    for f in NUMBER_FORMATS:
        cells += [(f, "nonwhole"), (f, "whole")]
    return cells + [(f, "date") for f in DATE_FORMATS]


def _format_counts(table: Table, col: Column) -> np.ndarray:
    """Raw counts of the text values of ``col`` by the first public format each reads under.

    Text: present, neither a plain number (as the profile reads it) nor an ISO date. A
    number with a leading zero ('02134') stays a code, as in the profile, for every format
    but the zero-padded width of its own digits (:data:`PADDED_FORMATS`). One row lies in
    at most one cell: L2 sensitivity 1.
    """
    q = _quote(col.name)
    text = (f"NOT {sql_missing(col, q)} AND {_sql_typed_number(q)} IS NULL AND {_sql_typed_datetime(q)} IS NULL")
    # The distinct text values and their counts come from DuckDB; each is read under every
    # format by the pandas reader (which equals the SQL one value for value, as tested).
    res = table.connection.execute(
        f"SELECT {sql_text(q)} AS v, count(*) AS c FROM {table.relation_name} WHERE {text} GROUP BY ALL"
    ).fetchall()
    vals = pd.Series([r[0] for r in res], dtype=object)
    cnt = np.array([r[1] for r in res], dtype=np.float64)
    code = np.array([bool(re.fullmatch(r"[+-]?0[0-9].*", v)) for v in vals], dtype=bool)
    # Digits of the whole part of a zero-padded code ('02134' → 5, '007.5' → 3; 0 otherwise).
    padded = np.array([len(m.group(1)) if (m := re.fullmatch(r"(0[0-9]+)(?:\.[0-9]*)?", v)) else 0 for v in vals])
    taken = np.zeros(len(vals), dtype=bool)
    out: list[float] = []
    fmts: list[NumberFormat | str] = [*NUMBER_FORMATS, *DATE_FORMATS]
    for f in fmts:
        number = isinstance(f, NumberFormat)
        x = numbers(Column(name="probe", kind="numeric" if number else "datetime", format=f), vals)
        if isinstance(f, NumberFormat) and f.width:
            # A padded width counts the codes of exactly its digits (it reads any digits).
            hit = ~np.isnan(x) & ~taken & (padded == f.width)
        else:
            hit = ~np.isnan(x) & ~taken & ~(code & number)
        taken |= hit
        if number:
            whole = hit & (x == np.floor(np.where(hit, x, 0.0)))
            out += [float(cnt[hit & ~whole].sum()), float(cnt[whole].sum())]
        else:
            out.append(float(cnt[hit].sum()))
    return np.array(out, dtype=np.float64)


def _release_formats(table: Table, col: Column, rho: float, accountant: Accountant, noise: NoiseSource,
                     step: str) -> tuple[np.ndarray, float]:
    """Noisy counts of the column's text by public format (:func:`_format_counts`), and their σ.

    Privacy: add/remove one row changes one count by one (the cells are disjoint: a value
    counts for the first format it reads under, whatever the number of formats), L2
    sensitivity 1; one Gaussian release of ρ, charged before it is computed.
    """
    sigma = math.sqrt(1.0 / (2.0 * rho))
    mech = GaussianMechanism(sigma=sigma)
    accountant.charge(mech, step=step, description=f"formats of {col.name!r}: counts of its text values by the "
                      f"first of {len(NUMBER_FORMATS)} number and {len(DATE_FORMATS)} date formats each reads under")
    return mech.release(_format_counts(table, col), noise), sigma


def _measure_formats(table: Table, col: Column, prof: _Profile, rho: float, accountant: Accountant,
                     noise: NoiseSource, step: str, total_rho: float) -> _Profile | None:
    """The column's profile read in the public format its noisy counts choose, or None.

    One release (:func:`_release_formats`); the choice is post-processing of it and of the
    profile: the most frequent format, when it clears its detection threshold, holds most of
    the text, and reads more values than the plain-number and ISO-date readings.
    """
    noisy, sigma = _release_formats(table, col, rho, accountant, noise, step)
    cells = _format_cells()
    fmts: list[NumberFormat | str] = [*NUMBER_FORMATS, *DATE_FORMATS]
    total = {f: 0.0 for f in fmts}
    size = {f: 0 for f in fmts}
    for (f, _), v in zip(cells, noisy, strict=True):
        total[f] += float(v)
        size[f] += 1
    best = max(fmts, key=lambda f: total[f])
    count = total[best]
    plain_nonwhole = plain_whole = 0.0
    if isinstance(best, NumberFormat) and not best.prefix and not best.suffix:
        plain_whole = prof.whole  # plain whole numbers read under it too
        plain_nonwhole = prof.nonwhole if best.decimal == "." else 0.0
    detected = count > _z(len(fmts)) * sigma * math.sqrt(size[best])
    chosen = (detected and count > prof.text - count
              and count + plain_whole + plain_nonwhole > max(prof.numbers, prof.dates))
    margin = (count - max(prof.text - count, _z(len(fmts)) * sigma * math.sqrt(size[best]))) / max(sigma, prof.sigma)
    if not chosen:
        _note(accountant, f"{col.name!r} is in none of the public formats", rho, total_rho, margin < -3.0,
              "a format's noisy count is close to its threshold")
        return None
    if isinstance(best, NumberFormat):
        nonwhole = next(float(v) for (f, part), v in zip(cells, noisy, strict=True) if f == best and part == "nonwhole")
        found = _Profile(col.name, prof.source, missing=prof.missing,
                         text=prof.text - count + prof.numbers - plain_whole - plain_nonwhole,
                         nonwhole=nonwhole + plain_nonwhole, whole=count - nonwhole + plain_whole,
                         sigma=max(sigma, prof.sigma), negative=0.0, dates=prof.dates, fmt=best)
    else:
        found = _Profile(col.name, prof.source, missing=prof.missing, text=prof.text - count,
                         nonwhole=prof.nonwhole, whole=prof.whole, sigma=max(sigma, prof.sigma), dates=count, fmt=best)
    new = found.column()
    what = (("integer" if new.integer else "decimal") if new.kind == "numeric" else "datetime")
    _note(accountant, f"format of {col.name!r}: {best} ({what}, {'nullable' if new.nullable else 'never missing'}; "
          "values in another form become missing)", rho, total_rho, margin > 3.0,
          "its noisy count is close to the threshold")
    return found


def _values_weight(work: Column, quantile_bins: bool, *, typed: bool) -> float:
    """Relative share of the values budget a column gets, once its type is known.

    0 when the profile settled everything; :data:`DISCOVERY_WEIGHT` for a categorical column
    whose values are discovered by a thresholded histogram (a value is kept only when its
    noisy count clears a threshold of about 5σ, so the noise decides how rare a kept value
    may be) when its type was inferred too (nothing at all is known of it); 1 for the rest
    (bounds, support and bin edges of numbers, which are located from aggregated counts).
    """
    if not (work.needs_inference or (quantile_bins and work.is_numeric and work.edges is None
                                     and work.kind != "datetime")):
        return 0.0
    if not typed and not work.is_numeric and work.categories is None:
        return DISCOVERY_WEIGHT
    return 1.0


def _impute_first(col: Column) -> str | None:
    if col.nullable:
        return None
    if not col.is_numeric:
        return str((col.categories or (OTHER,))[0])
    if col.lower is not None:
        return _num_text(col.lower, col.integer)
    return None


def _num_text(v: float, integer: bool) -> str:
    return str(round(v)) if integer else repr(float(v))


# -- categories --------------------------------------------------------------------------------
def _infer_categories(table: Table | SparkTable, col: Column, work: Column, rho: float, delta0: float,
                      accountant: Accountant, noise: NoiseSource, step: str, total_rho: float,
                      profile: _Profile | None = None) -> _Inferred:
    sigma = math.sqrt(1.0 / (2.0 * rho))
    mech = GaussianMechanism(sigma=sigma)
    accountant.charge(mech, step=step, delta=delta0,
                      description=f"thresholded histogram of {col.name!r} values (categories)")
    q = _quote(col.name)
    ident = sql_text(q)
    present = f"NOT {sql_missing(col, q)}"
    values, counts = _category_counts(table, col, ident, present)
    noisy = mech.release(counts, noise) if len(values) else counts
    # A value held by one row has noisy count 1 + Z, Z discrete Gaussian: it clears τ = k
    # (1 + Z > k ⇔ Z ≥ k) with probability P(Z ≥ k) ≤ δ₀, from the exact discrete tail.
    tau = float(discrete_gaussian_threshold(sigma, delta0))
    kept_pairs = sorted(((v, c) for v, c in zip(values, noisy, strict=True) if c > tau), key=lambda p: -p[1])
    kept = [v for v, _ in sorted(kept_pairs, key=lambda p: p[0])]
    mode = kept_pairs[0][0] if kept_pairs else OTHER
    other_to = None
    if profile is not None and kept:
        # The rows outside the kept values: the profile's noisy count of present values less
        # the kept noisy counts (post-processing). When that rest is not even one standard
        # deviation above zero, there is no "(other)" category: its cell would hold mostly
        # noise in every later measurement. The few rows it may hold move to the noisy mode,
        # as rare codes move to a neighbour. (A stricter test would fold a real rest of a few
        # hundred rows into the mode as often as not.)
        n_present = profile.text + profile.dates + profile.numbers  # six profile cells
        rest = n_present - sum(c for _, c in kept_pairs)
        sd = math.sqrt(6 * profile.sigma**2 + len(kept) * sigma**2)
        if rest <= sd:
            other_to = str(mode)
    cats = tuple(kept) if other_to is not None else (*kept, OTHER)
    new = work.replace(categories=cats)
    impute = None if new.nullable else str(mode)
    low = not kept or min(c for _, c in kept_pairs) < 2 * tau
    rest_text = (f"no {OTHER!r}: the rest is too small to detect" if other_to is not None
                 else f"the rest as {OTHER!r}")
    if not kept:
        rest_text += (f": every synthetic value will be {OTHER!r}. No value is frequent enough to keep "
                      "(free text, identifiers, or numbers or dates written in a form other than plain "
                      "numbers and ISO dates); drop the column, or declare its type or categories in the metadata")
    _note(accountant, f"categories of {col.name!r}: {len(kept)} kept, {rest_text}", rho, total_rho,
          not low, "no value cleared the threshold" if not kept else "some kept values barely cleared the threshold")
    return _Inferred(new, impute=impute, other_to=other_to)


# -- numbers -----------------------------------------------------------------------------------
def _infer_numeric(table: Table | SparkTable, col: Column, work: Column, rho: float, accountant: Accountant,
                   noise: NoiseSource, step: str, total_rho: float, *, typed: bool,
                   profile: _Profile | None, delta0: float) -> _Inferred:
    lower_known, upper_known = work.lower, work.upper
    dated = work.kind == "datetime"
    floor = None
    if not typed and not dated and profile is not None and profile.non_negative() and lower_known is None:
        # Negatives too few to see: they are clamped to 0, and the lower bound is located at
        # or above 0 (a column that starts far above 0 gets no empty bins below its values,
        # whose measurement noise alone would put synthetic values there).
        lower_known = floor = 0.0
    ceiling = None
    if (not typed and not dated and profile is not None and floor is None and upper_known is None
            and profile.non_positive()):
        # The mirror: numbers all below 0 (losses) have their upper bound at or below 0.
        upper_known = ceiling = 0.0
    both_known = lower_known is not None and upper_known is not None
    # With a bound to locate, each row is counted twice: in its grid cell and in its decade
    # (a second, coarse histogram whose cells hold enough rows to be seen). A column whose
    # type was inferred is counted a third time, in a thresholded histogram of its exact
    # values (values a numeric-looking code or a per-area figure takes). L2 sensitivity
    # √(number of histograms).
    parts = (1 if both_known else 2) + (0 if typed else 1)
    # Each histogram gets ρ/parts: every count has the same noise σ, as one release of L2
    # sensitivity √parts would give. The exact values are released separately (and after),
    # so the grid's noise does not depend on how many distinct values there are.
    rho_grid = rho * (parts - (0 if typed else 1)) / parts
    sens = math.sqrt(parts - (0 if typed else 1))
    sigma = sens * math.sqrt(1.0 / (2.0 * rho_grid))
    mech = GaussianMechanism(sigma=sigma, sensitivity=sens)
    what = "bin edges" if both_known else "bounds and bin edges"
    if not typed:
        what = "support or bounds and bin edges"
    accountant.charge(mech, step=step,
                      description=f"histogram of {col.name!r} on a public grid"
                      + ("" if both_known else " and by decade") + f" ({what})")
    grid = datetime_grid() if dated and not typed else public_grid() if typed else typed_grid()
    if both_known:
        assert lower_known is not None and upper_known is not None
        # Public range: the log grid inside it plus 64 equal cells, so quantiles of
        # narrow ranges (ages) are placed as finely as those of wide ones (incomes).
        inside = grid[(grid > lower_known) & (grid < upper_known)]
        grid = np.unique(np.concatenate([inside, np.linspace(lower_known, upper_known, 65)]))
    q = _quote(col.name)
    num = sql_number(work, q) if typed else _sql_typed_value(work, q)
    if not typed and work.integer:
        num = f"round({num})"
    present = f"NOT {sql_missing(col, q)}"
    exact_vals = np.zeros(0)
    exact_vals_all = exact_counts_all = np.zeros(0)  # every present value and its count (inferred type)
    fine_edges: tuple[float, ...] | None = None
    fine_rho = 0.0  # ρ of the finer look, when it was taken
    if typed:
        counts = _grid_counts(table, work, grid, num, present)
        exact_counts = np.zeros(0)
    else:
        assert isinstance(table, Table)  # type inference runs on DuckDB only
        vals, cnts = _value_counts(table, num, present)
        exact_vals_all, exact_counts_all = vals, cnts
        counts = np.zeros(len(grid) + 1)
        np.add.at(counts, np.searchsorted(grid, vals, side="right"), cnts)
        # Whole numbers of an integer column inside the public windows have exact cells of
        # their own in the grid already; every other value is counted by its exact value.
        own = ~(work.integer & _in_windows(vals))
        exact_vals, exact_counts = vals[own], cnts[own]
    decade_of = _year_blocks(grid) if dated and not typed else _blocks(grid)
    decades = np.unique(decade_of)
    decade_idx = np.searchsorted(decades, decade_of)
    dec_counts = np.zeros(0) if both_known else np.bincount(decade_idx, counts, len(decades))
    released = mech.release(np.concatenate([counts, dec_counts]), noise)
    noisy = released[: len(counts)]
    noisy_dec = released[len(counts):] if not both_known else np.zeros(len(decades))
    noisy_exact = np.zeros(0)
    if not typed:
        # A column whose type was inferred is charged the δ₀ of this thresholded histogram
        # (the same δ₀ a categorical outcome uses: the charges do not depend on the type).
        mech_exact = GaussianMechanism(sigma=sigma)
        accountant.charge(mech_exact, step=step, delta=delta0,
                          description=f"thresholded histogram of {col.name!r}'s exact values (discrete support)")
        noisy_exact = mech_exact.release(exact_counts, noise) if len(exact_counts) else exact_counts
    # The exact values the thresholded histogram releases (a value held by one row clears the
    # δ₀ threshold with probability at most δ₀): atom candidates and top codes.
    exact: Released | None = None
    if not typed and not dated and len(noisy_exact):
        out = noisy_exact > float(discrete_gaussian_threshold(sigma, delta0))
        exact = (exact_vals[out], noisy_exact[out], sigma, delta0)
    live = np.ones(len(noisy), dtype=bool)  # cells a row may lie in
    if lower_known is not None:  # no row lies below a public bound: those cells are noise only
        live[: int(np.searchsorted(grid, lower_known, side="right"))] = False
    if upper_known is not None:
        live[int(np.searchsorted(grid, upper_known, side="right")) + 1:] = False
    noisy[~live] = 0.0
    live_dec = np.bincount(decade_idx, live, len(decades)) > 0
    # Every decade's total as released, for :func:`_negative_reach` on either side (kept
    # apart: a column located as non-negative has its negative decades zeroed just below).
    released_dec = noisy_dec.copy()
    noisy_dec[~live_dec] = 0.0

    if not typed and profile is not None:
        support = _exact_support(grid, noisy, exact_vals, noisy_exact, sigma, delta0, profile,
                                 integer=work.integer)
        if support is None and exact is not None and work.integer:
            # Most rows on a few released whole numbers, the rest on values too rare to
            # release (4-digit merchant codes): kept numeric, so synthetic values fall
            # between the codes. Say so, and how to keep codes whole (post-processing).
            share = float(exact[1].sum()) / max(profile.numbers, 1.0)
            if 3 <= exact[0].size <= MAX_LEVELS and CODE_HINT_SHARE <= share < SUPPORT_MASS:
                accountant.notes.append(
                    f"{col.name!r}: {exact[0].size} whole numbers released as exact values hold "
                    f"{share:.0%} of its numbers and the rest lie on values too rare to release, "
                    "so it is kept numeric and synthetic values fall between them; if it is a code, "
                    "declare it categorical in the metadata (with its codes, where they are public)")
        if support is not None:
            levels, weights, extended = support
            cats: tuple[Any, ...]
            if work.format is not None:
                cats = tuple(format_value(work, v) for v in levels)
            else:
                cats = tuple(_iso(v) for v in levels) if dated else tuple(_level(v) for v in levels)
            new = Column(name=col.name, kind="ordinal", categories=cats,
                         nullable=work.nullable, missing_values=work.missing_values, description=work.description)
            impute = None if work.nullable else category_key(cats[int(np.argmax(weights))])
            low = float(np.min(weights)) < 2 * _z(len(grid)) * sigma
            _note(accountant, f"support of {col.name!r}: exactly {list(cats)} "
                  "(ordinal; other values move to the nearest)"
                  + (f"; {extended} value(s) of their lattice kept inside or next to the detected ones"
                     if extended else ""), rho, total_rho, not low,
                  "some values barely cleared the threshold")
            return _Inferred(new, impute=impute, levels=tuple(float(v) for v in levels),
                             level_text=tuple(category_key(c) for c in cats), fmt=work.format)

    if both_known:
        assert lower_known is not None and upper_known is not None
        lower, upper, reliable = float(lower_known), float(upper_known), True
        why = ""
    else:
        # Bounds are located on the public log grid (the whole-number cells of a typed grid
        # summed into it): fine cells would each hold too few rows to be seen. Dates are
        # located on their own grid of months, by year.
        coarse_grid = grid if dated and not typed else public_grid()
        owner = np.searchsorted(coarse_grid, np.concatenate([[-np.inf], grid]), side="right")
        coarse = np.zeros(len(coarse_grid) + 1)
        var = np.zeros(len(coarse_grid) + 1)
        np.add.at(coarse, owner, noisy)
        np.add.at(var, owner, np.where(live, sigma**2, 0.0))
        located = _locate_bounds(coarse_grid, coarse, np.sqrt(var), decades, noisy_dec, live_dec, sigma,
                                 blocks=decade_of if dated and not typed else None)
        if located is None:
            raise _BoundsNotFound(col.name)
        lower, upper, reliable, why = located
        seen = coarse > _z(len(coarse)) * np.maximum(np.sqrt(var), sigma)  # log-grid cells detected alone
        if floor is not None:
            lower = max(lower, floor)
            if lower > floor and _mass_below(grid, noisy, live, decade_of, decades, noisy_dec, live_dec, sigma,
                                                          lower):
                lower = floor
        elif lower_known is not None:
            lower = float(lower_known)
        elif (profile is not None and profile.fmt is not None and not dated and lower > 0.0
              and _mass_below(grid, noisy, live, decade_of, decades, noisy_dec, live_dec, sigma, lower)):
            # A formatted column ("2.4%", "$1,200") has no profiled sign, so no floor at 0 and
            # no test of the mass below its located lower bound: raises of N(3, 1.5) were cut
            # at 1.5 (16% clamped). Rows showing between 0 and the bound take it to 0, as for a
            # column profiled non-negative; negatives may then reach below (just after).
            lower = 0.0
        # Negatives the profile saw (clearly, or weakly in a column located as non-negative)
        # that no cell or decade showed on its own (refunds spread thinly over three
        # decades): the bound reaches down to where windows of negative decades show them,
        # instead of clamping every negative to a non-negative lower bound.
        signed = (profile is not None and not typed and not dated
                  and (profile.maybe_negative() if floor is not None else lower_known is None))
        if signed and lower >= 0.0:
            reach = _negative_reach(decades, released_dec, decades < 0, sigma, upper, integer=work.integer)
            if reach is not None:
                lower, reliable = reach, False
                why = "the lower bound comes from windows of noisy negative decades, not from one cell"
        if ceiling is not None:
            upper = min(upper, ceiling)
            if upper < ceiling and _mass_below(-grid[::-1], noisy[::-1], live[::-1], -decade_of[::-1],
                                               -decades[::-1], noisy_dec[::-1], live_dec[::-1], sigma, -upper):
                upper = ceiling  # rows show between the located bound and 0 (the mirror image)
        elif upper_known is not None:
            upper = float(upper_known)
        elif profile is not None and not typed and not dated and upper <= 0.0 and profile.maybe_positive():
            # The mirror of the negative reach: positives the profile saw in a column located
            # below 0 (3% gains among losses) that no cell showed on its own reach the upper
            # bound up to where windows of positive decades show them.
            reach = _negative_reach(-decades, released_dec, -decades < 0, sigma, lower, integer=work.integer)
            if reach is not None:
                upper, reliable = -reach, False
                why = "the upper bound comes from windows of noisy positive decades, not from one cell"
        if exact is not None and upper_known is None:
            top = _top_code(grid, noisy, live, exact[0], exact[1], sigma, upper)
            if top is not None:
                upper = top
        if not typed and not dated and work.integer and upper_known is None:
            detected = np.flatnonzero(seen)
            cell_lo = np.concatenate([[-np.inf], coarse_grid])[detected]
            cell_hi = np.concatenate([coarse_grid, [np.inf]])[detected]
            if detected.size and cell_lo.min() >= FINE_RANGE[0] and cell_hi.max() <= FINE_RANGE[1]:
                fine_rho = FINE_SHARE * rho
                fine = _fine_look(exact_vals_all, exact_counts_all, (lower, upper), fine_rho, accountant,
                                  noise, step, col.name, work.bins or 32)
                if fine is not None:
                    lower, upper, fine_edges = fine
                    reliable, why = True, ""
    if work.integer:
        lower, upper = float(math.floor(lower)), float(math.ceil(upper))
    if upper <= lower:
        upper = lower + 1.0
    if typed or both_known or dated:
        edges = _quantile_edges(grid, np.clip(noisy, 0, None), lower, upper, work.bins or 32, work.integer,
                                atom_min=_z(len(noisy)) * sigma)
    else:
        # Edges come from the public grid's cells (the whole-number cells of a typed grid are
        # many: their clipped noise alone would pull edges towards them), read off the
        # unclipped noisy counts: a tail spread over many cells none of which is detected on
        # its own (a third of the rows over 4,000–100,000) still gets its share of the bins.
        # Atoms need a cell detected on its own (hard thresholding).
        # Below the first detected cell wider than a point (a lower bound kept at 0 under
        # values that start at 89, or between exact zeros and the bulk), cells count only
        # when detected: the cumulated noise of a long empty stretch would otherwise place
        # edges in it. That stretch becomes one bin, its mass measured by the generator.
        kept = np.where(seen, coarse, 0.0)
        hist = np.where(var > 0, coarse, 0.0)
        cell_lo = np.concatenate([[-np.inf], coarse_grid])
        cell_hi = np.concatenate([coarse_grid, [np.inf]])
        wide = (kept > 0) & (cell_hi - cell_lo > 1e-3 * (upper - lower)) & (cell_hi > lower)
        first = int(np.argmax(wide)) if wide.any() else 0
        hist[:first] = kept[:first]
        edges = _quantile_edges(coarse_grid, hist, lower, upper, work.bins or 32, work.integer, atom_hist=kept)
        # Atoms at whole numbers (hours = 40): a detected whole-number cell holding more
        # than a bin's worth keeps edges of its own.
        cells = np.arange(1, len(grid))
        big = ((noisy[cells] > max(_z(len(noisy)) * sigma, kept.sum() / (work.bins or 32)))
               & (grid[cells] - grid[cells - 1] <= 1))
        extra = np.concatenate([grid[cells[big] - 1], grid[cells[big]]])
        # Zero is an edge whenever the range spans it (public): a bin across 0 holding a
        # few thin negatives beside many small positives would decode most of its
        # positives as negatives.
        extra = np.concatenate([extra, [0.0]])
        extra = extra[(extra > lower) & (extra < upper)]
        if extra.size:
            edges = tuple(float(e) for e in np.unique(np.concatenate([edges, np.ceil(extra) if work.integer else extra])))
    if fine_edges is not None:
        edges = fine_edges
    if work.integer and upper - lower + 1 <= (work.bins or 32):
        # Few whole numbers: one code per number, as for declared bounds. Quantile edges
        # would merge them, and a merged bin is decoded uniformly over its numbers (a
        # column of zeros clamped to [0, 1] would come back half ones).
        new = work.replace(lower=lower, upper=upper, edges=None)
    else:
        new = work.replace(lower=lower, upper=upper, edges=edges)
    impute = None
    if not new.nullable:
        # A round value: every missing value becomes it, and an unround one (25.4631…)
        # would be off the column's grid, taken for an atom and cost the column its step.
        v = _round_value(_noisy_median(grid, noisy, lower, upper), dated=dated, integer=work.integer)
        v = float(min(max(v, lower), upper))
        impute = format_value(work, v) if work.format is not None else _iso(v) if dated else _num_text(v, work.integer)
    shown = f"[{_iso(lower)}, {_iso(upper)}]" if dated else f"[{lower:g}, {upper:g}]"
    binned = f"{len(edges) - 1} bins" if new.edges is not None else f"one code per whole number ({int(upper - lower) + 1})"
    looked = ""
    if fine_rho:
        looked = (", from a finer look by whole number in [1000, 2500)" if fine_edges is not None
                  else "; a finer look by whole number was taken and not kept (the coarse bounds stand)")
    _note(accountant, f"{what.replace('support or ', '')} of {col.name!r}: {shown}, "
          f"{binned}{looked}", rho + fine_rho, total_rho, reliable, why)
    return _Inferred(new, impute=impute, fmt=work.format, exact=exact)


def _top_code(grid: np.ndarray, noisy: np.ndarray, live: np.ndarray, values: np.ndarray,
              counts: np.ndarray, sigma: float, upper: float) -> float | None:
    """The largest exact value released (``values``, noisy ``counts``), when nothing shows beside or above it.

    Public-use tables cap a column at a code (incomes at 99,999, a poverty ratio at 501): the
    capped rows are one exact value at the top of the column, which the thresholded exact-value
    histogram releases, while the log grid's cell holding it reaches further (501 lies in
    [500, 600), so a bound at 600 decoded rows up to 600). When that cell is the last one
    below the located bound and holds, beyond the value's own noisy count, no more than
    :data:`WALK_Z` sds of their noise and no more than :data:`TOP_CODE_REST` of the value's
    own count, the bound moves down to the value. A frequent round value with rows beside it
    is not a cap (722 credit limits of 500,000, 111 more up to 600,000: the bound stays).
    Post-processing of both releases.
    """
    if values.size == 0:
        return None
    i = int(np.argmax(values))
    top = float(values[i])
    if top >= upper:
        return None
    k = int(np.searchsorted(grid, top, side="right"))  # the grid cell holding it
    if k >= len(grid) or grid[k] != upper or not live[k]:
        return None  # rows were located in cells above it: a frequent value, not a cap
    rest = float(noisy[k]) - float(counts[i])
    if rest > WALK_Z * sigma * math.sqrt(2.0) or rest > TOP_CODE_REST * float(counts[i]):
        return None
    return top


def _fine_grid() -> np.ndarray:
    """Edges of the finer look's cells: every whole number of :data:`FINE_RANGE`, ends included."""
    return np.arange(FINE_RANGE[0], FINE_RANGE[1] + 1, dtype=np.float64)


def _fine_release(vals: np.ndarray, cnts: np.ndarray, rho: float, accountant: Accountant, noise: NoiseSource,
                  step: str, name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The finer look's release (charged here, at ``rho``): noisy counts per cell and per block.

    One cell per whole number of :data:`FINE_RANGE` (cell k = [lo + k - 1, lo + k)), a cell
    for each side beyond it, and in the same release the blocks of :data:`FINE_BLOCK` numbers
    (each outer cell a block of its own): a row is counted in its cell and its block, so the
    L2 sensitivity is √2. Returns the noisy cells, the noisy blocks and the noise sd.
    """
    lo, hi = FINE_RANGE
    grid = _fine_grid()
    counts = np.zeros(len(grid) + 1)
    np.add.at(counts, np.searchsorted(grid, vals, side="right"), cnts)
    inner = np.arange(len(grid) - 1) // FINE_BLOCK
    block_of = np.concatenate([[0], inner + 1, [int(inner[-1]) + 2]])  # the outer cells: blocks of their own
    block_counts = np.bincount(block_of, counts)
    sens = math.sqrt(2.0)
    sigma = sens * math.sqrt(1.0 / (2.0 * rho))
    mech = GaussianMechanism(sigma=sigma, sensitivity=sens)
    accountant.charge(mech, step=step, description=f"histogram of {name!r} by whole number in "
                      f"[{lo}, {hi}) and by block of {FINE_BLOCK} (finer bounds and bin edges)")
    released = mech.release(np.concatenate([counts, block_counts]), noise)
    return released[: len(counts)], released[len(counts):], sigma


def _fine_look(vals: np.ndarray, cnts: np.ndarray, coarse: tuple[float, float], rho: float, accountant: Accountant,
               noise: NoiseSource, step: str, name: str, bins: int) -> tuple[float, float, tuple[float, ...]] | None:
    """Bounds and bin edges of a whole-number column inside :data:`FINE_RANGE`, one cell per number.

    Taken only when the first, coarse histogram detected nothing outside the range
    (post-processing), on a second histogram over a fixed public grid (:func:`_fine_release`).
    Bounds are located on its blocks as on the coarse grid (:func:`_locate_bounds`, each block
    its own decade), then moved out a block at a time while the blocks beyond still show rows;
    bin edges at quantiles of its noisy cells. None (the coarse bounds ``coarse`` then stand)
    when the bounds leave the range, when fewer than half the blocks between them are
    detected on their own (a column spread too thinly for this grid), or when the blocks it
    leaves out inside the coarse bounds show rows in total.
    """
    lo, hi = FINE_RANGE
    grid = _fine_grid()
    noisy, noisy_blocks, sigma = _fine_release(vals, cnts, rho, accountant, noise, step, name)
    # Located on the blocks, each its own "decade" (so every test has the noise sd σ), as on
    # the coarse grid: from each side the first block detected alone or in a window of
    # blocks, then out past windows of blocks beyond that still show rows (a thin tail).
    block_grid = np.concatenate([grid[::FINE_BLOCK], [] if (len(grid) - 1) % FINE_BLOCK == 0 else [grid[-1]]])
    ids = np.arange(len(noisy_blocks))
    located = _locate_bounds(block_grid, noisy_blocks, np.full(len(ids), sigma), ids, noisy_blocks,
                             np.ones(len(ids), dtype=bool), sigma, blocks=ids)
    if located is None:
        return None
    lower, upper = located[0], located[1]
    if not (lo <= lower < upper <= hi):
        return None
    # Out one block at a time while the window of 1 or 2 blocks beyond the bound shows rows
    # (its noisy sum clears WINDOW_Z sds): a normal tail goes on clearing (birth years cut at
    # 1950 and 2000 keep 1940 and 2010), while years up to 2020 with the 2030s empty stop at
    # 2030 (stepping past the whole window took the 2030s in with 2020's rows at δ = 1e-9;
    # a walk that tested wider windows at 2 sds wandered 50 empty years out in one fit of eight).
    inner_blocks = noisy_blocks[1:-1]
    first, last = int(np.searchsorted(block_grid, lower)), int(np.searchsorted(block_grid, upper)) - 1
    # A column concentrated enough for this grid has most blocks between its bounds detected
    # on their own; one spread thinly over the range (amounts 1,000–2,600 about 1,800, at
    # most 80 rows a block) is located only by sums, narrowly, and keeps its coarse bounds.
    if 2 * int((inner_blocks[first:last + 1] > _z(len(ids)) * sigma).sum()) < last + 1 - first:
        return None

    def shows_rows(start: int, stop: int) -> bool:
        return 0 <= start and stop <= len(inner_blocks) and (
            float(inner_blocks[start:stop].sum()) > WINDOW_Z * sigma * math.sqrt(stop - start))

    while any(shows_rows(first - w, first) for w in (1, 2)):
        first -= 1
    while any(shows_rows(last + 1, last + 1 + w) for w in (1, 2)):
        last += 1
    lower, upper = float(block_grid[first]), float(block_grid[last + 1])
    # Kept only when the blocks it leaves out (inside the coarse bounds) show no rows in
    # total: what it would clamp must not be visible.
    starts = block_grid[np.clip(ids - 1, 0, len(block_grid) - 1)]
    left_out = (ids > 0) & (ids < len(ids) - 1)
    left_out &= (starts >= coarse[0]) & (starts < coarse[1]) & ((starts < lower) | (starts >= upper))
    m = int(left_out.sum())
    if m and float(noisy_blocks[left_out].sum()) > WALK_Z * sigma * math.sqrt(m):
        return None
    cell_lo = np.concatenate([[-np.inf], grid])
    hist = np.where((cell_lo >= lower) & (cell_lo < upper), noisy, 0.0)
    edges = _quantile_edges(grid, hist, lower, upper, bins, True, atom_min=_z(len(noisy)) * sigma)
    return float(lower), float(upper), edges


def _mass_below(grid: np.ndarray, noisy: np.ndarray, live: np.ndarray, decade_of: np.ndarray,
                decades: np.ndarray, noisy_dec: np.ndarray, live_dec: np.ndarray, sigma: float,
                lower: float) -> bool:
    """Whether rows show between 0 and a located lower bound (a non-negative column).

    The lower bound of a column with no visible negatives is located at or above 0; it is
    kept above 0 only when everything below it looks empty, each test at one standard
    deviation: the decade holding 0 alone (zeros are common, and clamping them onto the
    bound would move a whole atom), the decade just below the bound's alone (where a thin
    lower tail lies), the grid cells of the bound's own decade below it together (a
    spread-out column whose first cell detected on its own lies deep inside its values,
    ages 18–94 located at 25, is not cut there), and the other decades below together. Any
    of them above that keeps 0: an empty bin or two below the values costs less than a
    clamped tail. Post-processing of the released counts.
    """
    blk = decade_of[int(np.searchsorted(grid, lower, side="right"))]
    zero_blk = decade_of[int(np.searchsorted(grid, 0.0, side="right"))]
    below = np.flatnonzero(live_dec & (decades < blk))
    if below.size == 0:
        return False
    alone = {int(below[-1])} | {int(d) for d in below if decades[d] == zero_blk}
    if any(float(noisy_dec[d]) > sigma for d in alone):
        return True
    k = np.arange(len(noisy))
    inside = live & (decade_of == blk) & (k >= 1) & (grid[np.clip(k, 0, len(grid) - 1)] <= lower)
    if inside.any() and float(noisy[inside].sum()) > sigma * math.sqrt(int(inside.sum())):
        return True
    rest = [int(d) for d in below if int(d) not in alone]
    return bool(rest) and float(noisy_dec[rest].sum()) > sigma * math.sqrt(len(rest))


def _negative_reach(decades: np.ndarray, noisy_dec: np.ndarray, live_dec: np.ndarray, sigma: float,
                    upper: float, *, integer: bool = False) -> float | None:
    """A lower bound below 0 where the negative decades show rows (post-processing).

    Windows of one to three adjacent negative decades, each showing rows on its own (one
    sd), are tested: a window whose noisy sum clears :data:`WINDOW_Z` sds confirms its
    decades (a strong decade must not carry a noisy one two decades out). The bound is the
    outer edge of the outermost confirmed decade, no further out than ten times the upper
    bound's decade (or 10); None when no decade is confirmed (a profile whose noise alone
    crossed its threshold finds none). Only decades that could hold a bound are tested (out
    to the cap; for whole numbers, from -1 down), so that few tests are made. (A running
    total from 0 outwards wandered with the noise of the empty decades near 0 and stopped
    as far out as the cap.) Called with the decades negated, it reaches an upper bound up
    through the positive decades (the result negated back).
    """
    cap = 10.0 ** math.ceil(math.log10(max(abs(upper), 1.0))) * 10.0
    e_of = -decades
    usable = (decades < 0) & live_dec & (10.0 ** (e_of - 3.0) <= cap) & ((e_of >= 4) if integer else True)
    neg = np.flatnonzero(usable)
    if neg.size == 0:
        return None
    neg = neg[np.argsort(-decades[neg])]  # -1, -2, …: nearest to 0 first
    y = noisy_dec[neg]
    outermost = -1
    for i in range(neg.size):
        for w in (1, 2, 3):
            win = y[max(0, i - w + 1):i + 1]
            if win.size == w and np.all(win > sigma) and float(win.sum()) > WINDOW_Z * sigma * math.sqrt(w):
                outermost = i
    if outermost < 0:
        return None
    e = int(-decades[neg[outermost]])
    return -min(10.0 ** (e - 3), cap)  # decade -e holds values down to -10^(e-3) (see _blocks)


def _round_value(v: float, *, dated: bool, integer: bool) -> float:
    """``v`` on a coarse public grid: whole days (dates), two significant digits (numbers)."""
    if dated:
        return float(round(v / 86400.0) * 86400.0)
    if not math.isfinite(v) or v == 0.0:
        return 0.0
    r = float(round(v, 1 - math.floor(math.log10(abs(v)))))
    return float(round(r)) if integer else r


def _noisy_median(grid: np.ndarray, noisy: np.ndarray, lower: float, upper: float) -> float:
    """The median of a noisy histogram on ``grid`` inside [lower, upper] (post-processing).

    What a missing value of a column that is not nullable becomes. The median, not the
    fullest cell: on a column whose cells each hold fewer rows than their noise (ages of a
    few thousand rows, one cell per whole number) the fullest cell is where the noise
    peaked, often at an end of the range (missing ages had become 0). Negative counts are
    clipped; the median is placed linearly inside its cell.
    """
    lo_edge = np.concatenate([[-np.inf], grid])
    hi_edge = np.concatenate([grid, [np.inf]])
    a, b = np.maximum(lo_edge, lower), np.minimum(hi_edge, upper)
    mass = np.where(b > a, np.clip(noisy, 0.0, None), 0.0)
    total = float(mass.sum())
    if total <= 0.0:
        return (lower + upper) / 2.0
    cum = np.cumsum(mass)
    k = int(np.searchsorted(cum, total / 2.0))
    before = cum[k] - mass[k]
    frac = (total / 2.0 - before) / mass[k] if mass[k] > 0 else 0.5
    return float(min(max(a[k] + frac * (b[k] - a[k]), lower), upper))


def _value_counts(table: Table, num: str, present: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw counts of each distinct present finite number (DuckDB)."""
    res = table.connection.execute(
        f"SELECT x, count(*) AS c FROM (SELECT {num} AS x FROM {table.relation_name} WHERE {present}) "
        "WHERE x IS NOT NULL AND isfinite(x) GROUP BY ALL ORDER BY x"
    ).fetchnumpy()
    return np.asarray(res["x"], dtype=np.float64), np.asarray(res["c"], dtype=np.float64)


def _in_windows(x: np.ndarray) -> np.ndarray:
    """Whether each value is a whole number with a cell of its own in :data:`INT_WINDOWS`."""
    out = np.zeros(len(x), dtype=bool)
    for lo, hi in INT_WINDOWS:
        out |= (x >= lo) & (x <= hi)
    return out & (x == np.floor(x))


def _level(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def _exact_support(grid: np.ndarray, noisy: np.ndarray, exact_vals: np.ndarray, noisy_exact: np.ndarray,
                   sigma: float, delta0: float, profile: _Profile, *,
                   integer: bool) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The few exact values a number column lives on, if its noisy histograms say so.

    Two sources of exact values. For an integer column, the whole-number cells of the public
    windows (cell k = [grid[k-1], grid[k]) holds exactly grid[k-1] when that is in a window
    of :data:`INT_WINDOWS` and the next edge is one above), detected when the noisy count
    clears z·σ (Bonferroni over the grid). Codes are contiguous more often than not: when the
    detected whole numbers fill at least half of the range between the smallest and the
    largest, the whole range is the support (a code inside it too rare to detect is kept),
    and the next whole number beyond each end is kept when its noisy count clears z·σ for
    those two tests only (a lower threshold: the cells are public, the test costs nothing).
    Then the thresholded histogram of every other exact value: a value is kept when its noisy
    count clears the δ₀ threshold (a value held by one row is released with probability at
    most δ₀).

    The column is discrete when at most :data:`MAX_LEVELS` values are kept, no grid cell
    without a kept value is detected, and the kept values' noisy counts hold
    :data:`SUPPORT_MASS` of the (noisy) numbers (a single value: beyond the counts' noise).

    Returns:
        (sorted values, their noisy counts, how many values were kept that were not
        detected on their own), or None when the column is not discrete.
    """
    k = np.arange(1, len(grid))
    a, b = grid[k - 1], grid[k]
    cell_exact = np.zeros(len(noisy), dtype=bool)
    if integer:
        cell_exact[k[_in_windows(a) & (b <= a + 1)]] = True
    z_grid = _z(len(noisy))
    hit = noisy > z_grid * sigma
    seeds = np.flatnonzero(cell_exact & hit)
    cells = seeds
    if seeds.size:
        lo, hi = float(grid[seeds.min() - 1]), float(grid[seeds.max() - 1])
        if hi - lo + 1 <= MAX_LEVELS and 2 * seeds.size >= hi - lo + 1:
            cell_of = {float(grid[c - 1]): int(c) for c in np.flatnonzero(cell_exact)}
            z_end = _z(2)
            for step_out in (-1.0, 1.0):  # one more whole number beyond each end, if seen
                v = (lo if step_out < 0 else hi) + step_out
                if v in cell_of and noisy[cell_of[v]] > z_end * sigma:
                    lo, hi = min(lo, v), max(hi, v)
            cells = np.array([cell_of[float(v)] for v in np.arange(lo, hi + 1) if float(v) in cell_of])
    tau = float(discrete_gaussian_threshold(sigma, delta0)) if delta0 > 0 else math.inf
    kept_exact = noisy_exact > tau
    values = np.concatenate([grid[cells - 1], exact_vals[kept_exact]]) if cells.size else exact_vals[kept_exact]
    weights = np.concatenate([noisy[cells], noisy_exact[kept_exact]]) if cells.size else noisy_exact[kept_exact]
    if values.size == 0 or values.size > MAX_LEVELS:
        return None
    covered = np.zeros(len(noisy), dtype=bool)
    covered[cells] = True
    covered[np.searchsorted(grid, exact_vals[kept_exact], side="right")] = True
    added, added_w = _fill_lattice(values, weights, grid, noisy, hit & ~covered)
    n_added = 0
    if added.size and np.any(hit & ~covered):
        # Values on a lattice (ratings 1, 1.5, …, 5) missing from the kept ones because their
        # noisy count fell just short of the threshold, while their grid cell was detected:
        # the lattice the kept values fill at least half of is the support (post-processing
        # of released values and public cells; no value is read from the rows).
        values, weights = np.concatenate([values, added]), np.concatenate([weights, added_w])
        covered[np.searchsorted(grid, added, side="right")] = True
        n_added = int(added.size)
    if np.any(hit & ~covered):
        return None  # mass the kept values do not hold is detected elsewhere
    # A single kept value would make the column constant: that needs the kept value to hold
    # SUPPORT_MASS of the numbers beyond the noise of both counts (a zero-heavy column whose
    # tail is too thin to locate is not constant). A column that fails falls back to bounds,
    # where a few whole numbers still get one code each.
    # (The profile's count of numbers is four noisy cells: sign × whole/non-whole.) Several
    # kept values must reach SUPPORT_MASS on the noisy counts as they are: an allowance of
    # one sd for their noise kept a clean 1–5 answer scale more often, but also cut
    # lengths of stay 0–27 at 10, moving the 4% beyond onto 10.
    sd = math.sqrt(weights.size * sigma**2 + 4.0 * (SUPPORT_MASS * profile.sigma) ** 2)
    margin = _z(1) * sd if values.size == 1 else 0.0
    if weights.sum() < SUPPORT_MASS * profile.numbers + margin:
        return None
    order = np.argsort(values)
    return values[order], weights[order], int(cells.size - seeds.size) + n_added


def _fill_lattice(values: np.ndarray, weights: np.ndarray, grid: np.ndarray,
                  noisy: np.ndarray, hit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points of the kept values' lattice between them that are not kept (post-processing).

    The lattice step is the greatest common divisor of the kept values' differences (read to
    six decimals). Returned only when the lattice has at most :data:`MAX_LEVELS` points and
    the kept values fill at least half of them (as codes kept contiguous); one point beyond
    either end joins when its grid cell was detected and holds no kept value (``hit``).
    Each grid cell's noisy count, less the kept values' counts in it, is shared equally by
    the added points in it: their weights.
    """
    v = np.unique(values)
    none = (np.zeros(0), np.zeros(0))
    if v.size < 2:
        return none
    scaled = np.round(v * 1e6)
    if np.any(np.abs(scaled - v * 1e6) > 1e-3) or np.abs(scaled).max() > 2**52:
        return none
    ints = scaled.astype(np.int64)
    step = int(np.gcd.reduce(np.diff(ints)))
    points = (int(ints[-1]) - int(ints[0])) // step + 1
    if points > MAX_LEVELS or 2 * v.size < points:
        return none
    lattice = np.round((ints[0] + step * np.arange(-1, points + 1)) / 1e6, 6)
    ends = hit[np.searchsorted(grid, lattice[[0, -1]], side="right")]
    lattice = lattice[1:-1] if points + 2 > MAX_LEVELS else lattice[[bool(ends[0]), *([True] * points), bool(ends[1])]]
    added = np.setdiff1d(lattice, np.round(v, 6))
    cell = np.searchsorted(grid, added, side="right")
    kept_in = np.bincount(np.searchsorted(grid, values, side="right"), weights=weights, minlength=len(noisy))
    per_cell = np.bincount(cell, minlength=len(noisy))
    rest = np.clip(noisy - kept_in, 0.0, None)
    return added, rest[cell] / per_cell[cell]


def _blocks(grid: np.ndarray) -> np.ndarray:
    """Decade of each cell (sign × exponent of its edge nearer zero); cells near 0 share one."""
    m = len(grid) + 1
    out = np.empty(m, dtype=np.int64)
    for k in range(m):
        a = grid[k - 1] if k > 0 else -np.inf
        b = grid[k] if k < len(grid) else np.inf
        rep = a if a >= 0 else b
        if not np.isfinite(rep):
            rep = grid[-1] if rep > 0 else grid[0]
        if abs(rep) < 1e-3:
            out[k] = 0
        else:
            e = math.floor(math.log10(abs(rep)) + 1e-9) + 4  # ≥ 1 for |rep| ≥ 1e-3
            out[k] = e if rep > 0 else -e
    return out


def _locate_bounds(grid: np.ndarray, noisy: np.ndarray, sd: np.ndarray, decades: np.ndarray,
                   noisy_dec: np.ndarray, live_dec: np.ndarray, sigma: float,
                   blocks: np.ndarray | None = None) -> tuple[float, float, bool, str] | None:
    """Bounds from noisy decade and grid histograms; None when no decade is detected.

    Coarse to fine. From each unknown side inwards, the first decade (:func:`_blocks`) that
    is detected, by its own noisy count or by the noisy total of the decades scanned so far
    (which sees a tail spread thin over several decades), holds the bound; inside it, the
    bound is the outer edge of the outermost grid cell detected on its own (or of the next
    cell out, if its noisy count exceeds one standard deviation), else the decade's outer
    edge. ``sd`` is each grid cell's noise standard deviation (0 where no row may
    lie); thresholds are z·sd with z Bonferroni-corrected for the tests made. Mass beyond
    the bound is clamped: a high DP quantile, stable from fit to fit, not the noisy extreme.
    """
    if blocks is None:
        blocks = _blocks(grid)
    z_dec = _z(3 * int(live_dec.sum()))
    live_cells = sd > 0

    def outer_decade(order: np.ndarray) -> int | None:
        # Three tests per decade: alone, with the DECADE_WINDOW - 1 decades before it, and
        # the running total of all decades scanned. The window sees a tail spread over a few
        # decades without the noise of the many empty decades far out that the running total
        # adds (each adds σ² to its variance).
        # When a sum is what is detected, the rows may lie in any decade it holds: the bound
        # goes to the outermost decade of the window that shows rows on its own at
        # WINDOW_Z sds (dates spread evenly over 19 years, 263 rows a year, were detected
        # three years in and cut two years off each end), else to the decade reached.
        run, k = 0.0, 0
        window: list[int] = []
        for d in order:
            if not live_dec[d]:
                continue
            run += noisy_dec[d]
            k += 1
            window = [*window[-(DECADE_WINDOW - 1):], int(d)]
            if noisy_dec[d] > z_dec * sigma:
                return int(d)
            if run > z_dec * sigma * math.sqrt(k) or sum(noisy_dec[w] for w in window) > z_dec * sigma * math.sqrt(len(window)):
                return next((w for w in window if noisy_dec[w] > WINDOW_Z * sigma), int(d))
        return None

    def walk_out(order: np.ndarray, pick: int) -> int:
        # A decaying tail just beyond the detected cells: its cells hold too few rows to be
        # seen one by one at the detection threshold, and summed with the many empty cells
        # further out they drown in their noise (temperatures N(8, 12) clamped at 25–30,
        # 3–8% of the rows, in a 6,000-row table of 10 columns). Next to cells already seen,
        # rows are likely: windows of 1, 2, 4, … cells beyond the bound are summed, and the
        # bound moves out past the smallest window whose noisy sum clears WALK_Z sds, then
        # again from there, until none does. Empty cells alone move it out in 4–7% of fits
        # (3–9 cells beyond), by one window.
        while pick > 0:
            beyond = order[:pick][::-1]  # nearest first
            sizes = [1 << i for i in range(int(math.log2(beyond.size)) + 1)]
            step = next((m for m in sizes
                         if float(noisy[beyond[:m]].sum()) > WALK_Z * math.sqrt(float((sd[beyond[:m]] ** 2).sum()))),
                        None)
            if step is None:
                break
            pick -= step
        return pick

    def refine(d: int, top: bool) -> tuple[int, bool]:
        idx = np.flatnonzero((blocks == decades[d]) & live_cells)
        order = idx[::-1] if top else idx  # outermost first
        # A running total would be quicker to see a thin tail, but its noise grows with every
        # cell added and it then cuts off more mass than it keeps; each cell alone does not.
        z = _z(max(1, idx.size))
        for j, k in enumerate(order):
            if noisy[k] > z * sd[k]:
                # One cell of slack: the next cell out is kept when its noisy count is
                # above one standard deviation (a tail too thin to detect, not nothing).
                pick = j - 1 if j > 0 and noisy[order[j - 1]] > sd[order[j - 1]] else j
                # The cells beyond it, together: rows spread over many cells none of which is
                # detected alone (ages 18–94 in a small table, first cell detected from the
                # top at 40–50) show in their total; then the decade's edge holds the bound.
                out = order[:pick]
                if out.size and float(noisy[out].sum()) > 2.0 * math.sqrt(float((sd[out] ** 2).sum())):
                    return int(order[0]), False
                # (A lower bound above zero is not walked: for a column of non-negative
                # numbers the test of the mass below it, after this, moves it to 0 or keeps it.)
                return int(order[walk_out(order, pick) if top or decades[d] < 0 else pick]), True
        return int(order[0]), False

    order = np.arange(len(decades))
    d_hi, d_lo = outer_decade(order[::-1]), outer_decade(order)
    if d_hi is None or d_lo is None:
        return None
    k_hi, ok_hi = refine(d_hi, top=True)
    k_lo, ok_lo = refine(d_lo, top=False)
    upper = float(grid[min(k_hi, len(grid) - 1)])
    lower = float(grid[max(k_lo - 1, 0)])
    reliable = ok_hi and ok_lo
    why = "" if reliable else "a bound comes from a decade's noisy total, not from one cell"
    if upper <= lower:
        upper = lower + max(abs(lower), 1.0)
    return lower, upper, reliable, why


def _quantile_edges(grid: np.ndarray, hist: np.ndarray, lower: float, upper: float, bins: int,
                    integer: bool, atom_min: float = 0.0, atom_hist: np.ndarray | None = None) -> tuple[float, ...]:
    """Bin edges at quantiles of a noisy grid histogram (mass uniform within each cell).

    ``hist`` may hold negative noisy counts: the quantiles are read off the monotone
    least-squares fit of its cumulative sums, so zero-mean noise in empty cells neither adds
    mass (as clipping each cell at zero would) nor makes the distribution function fall.
    A sub-cell keeps edges of its own (an atom) when its mass in ``atom_hist`` (default
    ``hist``) exceeds a bin's worth and ``atom_min`` (the count noise alone is unlikely to
    reach), so noise makes no atom. The other bins sit at quantiles of the mass outside an
    atom of exact zeros: edges spread over its cell, or just past it, would only make empty
    bins, whose measurement noise then decodes to values no row has (0.0006 beside zeros).
    """
    ext = np.concatenate([[lower], grid[(grid > lower) & (grid < upper)], [upper]])
    # Mass of each [ext[i], ext[i+1]) from the grid cells it lies in.
    cell_of = np.searchsorted(grid, ext[:-1], side="right")
    widths = np.diff(ext)
    cell_width = np.array([
        (grid[k] - grid[k - 1]) if 0 < k < len(grid) else w for k, w in zip(cell_of, widths, strict=True)
    ])
    share = np.where(cell_width > 0, widths / cell_width, 0.0)
    mass = hist[cell_of] * share
    amass = mass if atom_hist is None else atom_hist[cell_of] * share
    # Atoms: a sub-cell holding more than a bin's worth of mass (capital-gain = 0) keeps its
    # own edges, so its value is not smeared over a wide bin when decoded.
    atoms = (np.flatnonzero(amass > max(amass.sum() / bins, atom_min)) if amass.sum() > 0
             else np.array([], dtype=int))
    # The other bins are placed at quantiles of the mass outside an atom of exact zeros (the
    # grid's cell [0, 0.001) holding more than a bin's worth): its own edges hold it, and a
    # quantile inside or just past it would make a bin of almost no width. Any other cell
    # holding more than a bin's worth keeps its share of the quantiles.
    points = atoms[(ext[atoms] == 0.0) & (widths[atoms] <= 1e-3)]
    rest = mass.copy()
    rest[points] = 0.0
    # The distribution function is the monotone least-squares fit of the noisy cumulative
    # sums, pinned at 0 below the range: a stretch of empty cells (a lower bound kept at 0
    # below values that start at 89) pools to no mass, where a running maximum would keep
    # the highest excursion of its noise as phantom mass at the start.
    raw = np.concatenate([[0.0], np.cumsum(rest)])
    pin = np.ones_like(raw)
    pin[0] = 1e12
    cum = np.clip(isotonic_regression(raw, weights=pin).x, 0.0, None)
    left = max(1, bins - len(points))
    if cum[-1] <= 0:
        edges = np.linspace(lower, upper, left + 1)
    else:
        cdf = cum / cum[-1]
        qs = np.linspace(0, 1, left + 1)
        k = np.clip(np.searchsorted(cdf, qs, side="left"), 1, len(ext) - 1)
        lo_c, hi_c = cdf[k - 1], cdf[k]
        rise = hi_c - lo_c
        t = np.clip(np.where(rise > 0, (qs - lo_c) / np.where(rise > 0, rise, 1.0), 0.0), 0.0, 1.0)
        edges = ext[k - 1] + t * (ext[k] - ext[k - 1])
        # The last bin runs to the upper bound: where the fitted mass ends short of it (a
        # bound located a decade out from a thin tail), the empty stretch beyond would be a
        # bin of its own holding only the generator's noise, decoded across the whole
        # stretch (salaries up to 167,000 came back at 600,000–1,000,000).
        edges[-1] = upper
    edges = np.concatenate([edges, ext[atoms], ext[atoms + 1]])
    if integer:
        # [a, b) holds the same integers as [⌈a⌉, ⌈b⌉): ceil keeps an atom at 0 as [0, 1).
        edges = np.ceil(edges)
    edges = np.unique(np.concatenate([[lower], edges, [upper]]))
    return tuple(float(e) for e in edges)


# -- the view the fit reads ------------------------------------------------------------------
def _clipped_view(table: Table, domain: Domain, new_cols: dict[str, _Inferred]) -> Table:
    untyped, _ = pending_of(domain)
    parts = []
    for col in domain:
        q = _quote(col.name)
        if col.name not in new_cols:
            parts.append(q)
            continue
        inf = new_cols[col.name]
        new = inf.column
        text = sql_text(q)
        missing = sql_missing(col, q)
        on_missing = "NULL" if inf.impute is None else _sql_literal(inf.impute)
        dated = new.kind == "datetime" or (new.kind == "ordinal" and inf.level_text is not None
                                            and not _is_number_text(inf.level_text[0]))
        if inf.fmt is not None:
            dated = isinstance(inf.fmt, str)
        read = Column(name="probe", kind="datetime" if dated else "numeric", format=inf.fmt)
        if inf.levels is not None:
            # Exact support: every number moves to the nearest kept value.
            x = _sql_typed_value(read, q)
            lv = list(inf.levels)
            mids = [(a + b) / 2 for a, b in itertools.pairwise(lv)]
            lit = [_sql_literal(t) for t in inf.level_text or [category_key(_level(v)) for v in lv]]
            case = " ".join(f"WHEN {x} < {m!r} THEN {t}" for m, t in zip(mids, lit[:-1], strict=True))
            parts.append(f"CASE WHEN {missing} OR {x} IS NULL THEN {on_missing} "
                         f"{case} ELSE {lit[-1]} END AS {q}")
            continue
        if not new.is_numeric:
            cats = ", ".join(_sql_literal(str(c)) for c in new.categories or ())
            parts.append(
                f"CASE WHEN {missing} THEN {on_missing} WHEN {text} IN ({cats}) THEN {text} "
                f"ELSE {_sql_literal(inf.other_to or OTHER)} END AS {q}"
            )
            continue
        if col.name in untyped:
            x = _sql_typed_value(read, q)
        else:
            x = sql_number(col, q)
        lo = new.lower if new.lower is not None else (new.edges or (0.0,))[0]
        hi = new.upper if new.upper is not None else (new.edges or (0.0,))[-1]
        clamped = f"least(greatest({x}, {float(lo)!r}), {float(hi)!r})"
        if new.format is not None:
            # A formatted value is kept as written; beyond the bounds it becomes the bound's
            # text in the format; a non-whole value of an integer column whose type was
            # inferred does not fit the type. (A declared column keeps its missing and
            # unparseable values, as below: validation reports the latter.)
            bad = f" OR {x} <> floor({x})" if new.integer and col.name in untyped else ""
            on_bad = on_missing if col.name in untyped or inf.impute is not None else q
            parts.append(f"CASE WHEN {missing} OR {x} IS NULL{bad} THEN {on_bad} "
                         f"WHEN {x} < {float(lo)!r} THEN {_sql_literal(bound_text(new, lo, upper=False))} "
                         f"WHEN {x} > {float(hi)!r} THEN {_sql_literal(bound_text(new, hi, upper=True))} "
                         f"ELSE {text} END AS {q}")
            continue
        if col.kind == "datetime" or dated:
            as_text = f"strftime(make_timestamp(CAST(round({clamped} * 1e6) AS BIGINT)), '%Y-%m-%d %H:%M:%S.%f')"
        elif col.name in untyped and new.integer:
            as_text = f"CAST(CAST(round({clamped}) AS BIGINT) AS VARCHAR)"
        else:
            as_text = f"CAST({clamped} AS VARCHAR)"
        if col.name in untyped or inf.impute is not None:
            # Values that do not fit the inferred type are missing (or the noisy mode).
            parts.append(f"CASE WHEN {missing} OR {x} IS NULL OR NOT isfinite({x}) THEN {on_missing} "
                         f"ELSE {as_text} END AS {q}")
        else:
            # Missing and unparseable values pass through unchanged (validation reports the latter).
            parts.append(f"CASE WHEN {missing} OR {x} IS NULL THEN {q} ELSE {as_text} END AS {q}")
    return table.derive(f"SELECT {', '.join(parts)} FROM {table.relation_name}")


def _name_list(names: Sequence[str], limit: int = 12) -> str:
    """Column names for one line of a screen: the first ``limit``, then how many more."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def describe_plan(items: Sequence[PlanItem], *, ignored: Sequence[str] = ()) -> list[str]:
    """Plain-text lines of an inference plan (for the screen a fit prints before spending).

    Columns with the same plan and share share a line (without metadata every column has
    the same one: a screen, not a page per column); a long list of names is cut after 12.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for it in items:
        groups.setdefault((it.what, f"{it.share:.1%}"), []).append(it.column)
    lines = []
    for (what, share), names in groups.items():
        if len(names) == 1:
            lines.append(f"{names[0]}: {what} ({share} of the budget)")
        else:
            lines.append(f"{len(names)} columns ({_name_list(names)}): {what} ({share} of the budget each)")
    lines += [f"{n}: looks like a row id (by its name): dropped, not synthesised" for n in ignored]
    return lines


# -- metadata with unknowns --------------------------------------------------------------------
_NUMERIC_HINTS = ("lower", "upper", "bins", "edges")


def load_metadata(source: str | os.PathLike[str] | Mapping[str, Any]) -> Domain:
    """Read metadata in which some columns may have ``"type": null`` or ``"nullable": null``.

    Such unknowns are left to DP inference at fit time (a :class:`PendingDomain`); a column
    with ``"type": null`` but bounds/bins/edges is numeric, one with categories categorical,
    one with a ``format`` numeric (an object) or datetime (a pattern).
    Metadata without unknowns gives a plain :class:`Domain`, exactly as
    :meth:`Domain.from_json`.

    Raises:
        MetadataError: As :meth:`Domain.from_json`.
    """
    try:
        doc = source if isinstance(source, Mapping) else json.loads(Path(source).read_text(encoding="utf-8"))
        specs = doc["columns"]
        items = ([{"name": k, **v} for k, v in specs.items()] if isinstance(specs, Mapping) else list(specs))
        if not all(isinstance(s, Mapping) for s in items):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return Domain.from_json(source)  # raises the precise error (or reads it if it can)
    untyped: list[str] = []
    null_unknown: list[str] = []
    cols: list[dict[str, Any]] = []
    for spec in items:
        spec = dict(spec)
        name = str(spec.get("name"))
        if "type" in spec and spec["type"] is None:
            if spec.get("categories") is not None:
                spec["type"] = "categorical"
            elif isinstance(spec.get("format"), str):
                spec["type"] = "datetime"
            elif any(spec.get(k) is not None for k in (*_NUMERIC_HINTS, "format")):
                spec["type"] = "numeric"
            else:
                untyped.append(name)
                spec = {"name": name, "type": "categorical", "nullable": True,
                        "missing_values": list(MISSING_TOKENS), "description": spec.get("description") or ""}
        if name not in untyped and "nullable" in spec and spec["nullable"] is None:
            null_unknown.append(name)
            spec["nullable"] = True
        cols.append(spec)
    if not untyped and not null_unknown:
        return Domain.from_json(source)
    plain = Domain.from_json({**doc, "columns": cols})
    return PendingDomain(plain.columns, untyped=untyped, nullable_unknown=null_unknown, target=plain.target,
                         ignore=plain.ignore, name=plain.name, description=plain.description, source=plain.source,
                         constraints=plain.constraints)


def metadata_skeleton(path: str | os.PathLike[str], *, share: float = NO_METADATA_SHARE) -> tuple[dict[str, Any], list[str]]:
    """A metadata skeleton from a CSV file's header line only, every unknown ``null``.

    Returns:
        The JSON document (loadable by :func:`load_metadata` as it is: every ``null`` is
        inferred with DP at fit time), and lines saying what DP inference would cost per
        column and what to fill in from the documentation instead (one line for the
        columns to infer, one per id-like column left out).

    Raises:
        InvalidDataError: The file is absent or its header cannot be read.
    """
    from dpsynth.data.io import CSV_SUFFIXES, sniff_header
    from dpsynth.errors import InvalidDataError

    p = Path(path)
    if not p.is_file():
        raise InvalidDataError(f"file {p} not found", hint="Check the path.")
    if p.suffix.lower() not in CSV_SUFFIXES:
        raise InvalidDataError(f"file {p}: `metadata init` reads the header of a CSV/TSV file",
                               hint="Pass a .csv, .tsv or .txt file with a header line.")
    names, delim, _ = sniff_header(p, CSV_SUFFIXES[p.suffix.lower()])
    ids = [n for n in names if is_id_like(n)]
    kept = [n for n in names if n not in ids]
    each = share / max(1, len(kept))
    doc: dict[str, Any] = {
        "version": 1,
        "name": p.stem,
        "description": f"Skeleton written from the header of {p.name} (delimiter {delim!r}). Every null is "
        "inferred with DP at fit time and charged to the budget; fill in what the documentation says.",
        "source": "",
        "target": None,
        "ignore": ids,
        "missing_values": list(MISSING_TOKENS),
        "columns": [
            {"name": n, "type": None, "nullable": None, "integer": None, "lower": None, "upper": None,
             "categories": None, "description": ""}
            for n in kept
        ],
    }
    # The header says nothing of a column but its name, so every column gets the same line:
    # written once, with the names.
    lines = [
        f"{len(kept)} column(s) ({_name_list(kept)}): type, missing values and categories or bounds unknown: DP inference "
        f"costs about {each:.1%} of the budget for each; fill in from the documentation: \"type\" (numeric, "
        "categorical, ordinal, datetime), \"lower\"/\"upper\" (published ranges) or \"categories\" (the codebook), "
        "\"nullable\"; \"format\" when values are written like $1,234.50, 27.8%, 02134 or 12/31/2020 (else a format "
        "is chosen with DP among a public list)"
    ] if kept else []
    lines += [f"{n}: looks like a row id (by its name): listed under \"ignore\", not synthesised" for n in ids]
    return doc, lines

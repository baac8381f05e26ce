"""Validation of the tables an evaluation reads, and their encodings on the public domain.

Every encoding here is built from the :class:`~dpsynth.data.domain.Domain` alone
(categories, bounds, bins): nothing about the coding is learned from the real rows, so
real and synthetic tables are always encoded the same way. The only exception is a
numeric column whose bounds the domain leaves unknown; its scale is then taken from the
observed values of all tables, and results say so.

Missing values: a categorical column's missing values are a category of their own; a
numeric column's are kept as NaN and each metric says how it treats them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data._parse import numbers
from dpsynth.data.domain import DEFAULT_BINS, Column, Domain, category_key, parse_datetime_seconds
from dpsynth.errors import DpsynthError, InvalidDataError, InvalidParameterError
from dpsynth.evaluate._base import REAL_SPLITS

ROLES = ("real", "synthetic", "holdout")
#: HistGradientBoosting handles at most this many categories natively.
MAX_NATIVE_CATEGORIES = 250


def is_categorical(col: Column) -> bool:
    """Categorical or ordinal (labels), as opposed to numeric or datetime."""
    return not col.is_numeric


def prepare(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    domain: Domain,
    *,
    holdout: pd.DataFrame | None = None,
    real_split: str = "unspecified",
) -> Prepared:
    """Validate the tables against the domain and wrap them for the metrics.

    Raises:
        InvalidParameterError: If an argument has the wrong type or ``real_split`` is unknown.
        InvalidDataError: Listing every empty table and every column that does not match
            the domain, at once.
    """
    if not isinstance(domain, Domain):
        raise InvalidParameterError(
            f"Evaluation needs a dpsynth Domain. Got {type(domain).__name__} instead."
        )
    if real_split not in REAL_SPLITS:
        raise InvalidParameterError(
            f"The 'real_split' parameter must be one of {REAL_SPLITS}. Got {real_split!r} instead."
        )
    frames = {"real": real, "synthetic": synthetic}
    if holdout is not None:
        frames["holdout"] = holdout
    for role, df in frames.items():
        if not isinstance(df, pd.DataFrame):
            raise InvalidParameterError(
                f"The {role} table must be a pandas DataFrame. Got {type(df).__name__} instead."
            )
    problems: list[str] = []
    names = list(domain.names)
    ignored = set(domain.ignore)
    for role, df in frames.items():
        if len(df) == 0:
            problems.append(f"the {role} table has no rows")
        cols = [str(c) for c in df.columns]
        have = set(cols)
        problems.extend(
            f"column {n!r} is in the domain but missing from the {role} table" for n in names if n not in have
        )
        problems.extend(
            f"column {c!r} of the {role} table is not in the domain" for c in cols
            if c not in domain and c not in ignored
        )
        dups = sorted({c for c in cols if cols.count(c) > 1})
        problems.extend(f"column {c!r} appears more than once in the {role} table" for c in dups)
    problems.extend(
        f"column {c.name!r} has no declared categories; evaluate against a complete domain "
        "(e.g. the fitted synthesizer's domain_)"
        for c in domain if is_categorical(c) and not c.categories
    )
    if problems:
        raise InvalidDataError(
            problems,
            hint="Pass tables with exactly the domain's columns (e.g. df[list(domain.names)]), "
            "each with at least one row.",
        )
    tables = {role: EncodedTable(df[names], domain) for role, df in frames.items()}
    return Prepared(domain, tables, real_split)


class EncodedTable:
    """One table's columns as codes (categorical) or floats (numeric), computed lazily.

    Args:
        frame: The rows, with exactly the domain's columns.
        domain: The public domain.
    """

    def __init__(self, frame: pd.DataFrame, domain: Domain) -> None:
        self.frame = frame
        self.domain = domain
        self.n = len(frame)
        self._codes: dict[str, np.ndarray] = {}
        self._values: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def codes(self, name: str) -> np.ndarray:
        """Category codes: ``0..K-1`` the declared categories, ``K`` missing, ``K+1`` any other value."""
        if name not in self._codes:
            col = self.domain[name]
            cats = col.categories or ()
            k = len(cats)
            keymap = {category_key(c): i for i, c in enumerate(cats)}
            tokens = {t.strip(" ") for t in col.missing_values}
            inv, uniq = pd.factorize(self.frame[name], use_na_sentinel=True)
            ucodes = np.empty(len(uniq) + 1, dtype=np.int64)
            for i, u in enumerate(uniq):
                key = category_key(u)
                ucodes[i] = k if key == "" or key in tokens else keymap.get(key, k + 1)
            ucodes[-1] = k  # factorize's sentinel -1 (null / NaN) → missing
            self._codes[name] = ucodes[inv]
        return self._codes[name]

    def values(self, name: str) -> np.ndarray:
        """Numeric values as floats (datetimes as epoch seconds); NaN where missing or invalid."""
        return self._numeric(name)[0]

    def invalid(self, name: str) -> np.ndarray:
        """Rows whose value is neither missing nor valid for the column (unparseable)."""
        return self._numeric(name)[1]

    def _numeric(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._values:
            self._values[name] = _to_float(self.frame[name], self.domain[name])
        return self._values[name]

    def missing_rate(self, name: str) -> float:
        """Share of rows where the column is missing (categorical: the missing code)."""
        col = self.domain[name]
        if is_categorical(col):
            return float(np.mean(self.codes(name) == len(col.categories or ())))
        v, bad = self._numeric(name)
        return float(np.mean(np.isnan(v) & ~bad))

    def invalid_rate(self, name: str) -> float:
        """Share of rows whose value the domain does not allow (unknown category, not a number)."""
        col = self.domain[name]
        if is_categorical(col):
            return float(np.mean(self.codes(name) == len(col.categories or ()) + 1))
        return float(np.mean(self._numeric(name)[1]))


def _to_float(s: pd.Series, col: Column) -> tuple[np.ndarray, np.ndarray]:
    """(values with NaN for missing/invalid, invalid mask) of a numeric or datetime column."""
    tokens = {t.strip(" ") for t in col.missing_values}
    n = len(s)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        ts = pd.to_datetime(s)
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
        vals = ((ts - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=np.nan)
        return vals, np.zeros(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        vals = s.to_numpy(dtype=np.float64, na_value=np.nan).copy()
        bad = np.isinf(vals)
        if tokens:
            num_tokens = [float(t) for t in tokens if _parse_float(t) is not None]
            if num_tokens:
                vals[np.isin(vals, num_tokens)] = np.nan
        vals[bad] = np.nan
        return vals, bad
    inv, uniq = pd.factorize(s, use_na_sentinel=True)
    uvals = np.full(len(uniq) + 1, np.nan)
    ubad = np.zeros(len(uniq) + 1, dtype=bool)
    for i, u in enumerate(uniq):
        key = category_key(u)
        if key == "" or key in tokens:
            continue
        if col.format is not None and isinstance(u, str):  # text in the column's format
            x = float(numbers(col, pd.Series([u], dtype=object))[0])
            v = None if math.isnan(x) else x
        elif col.kind == "datetime" and isinstance(u, str):
            v = parse_datetime_seconds(u)
        elif isinstance(u, pd.Timestamp):
            v = (u.tz_convert("UTC").tz_localize(None) if u.tz is not None else u).timestamp()
        else:
            v = _parse_float(u)
        if v is None or not math.isfinite(v):
            ubad[i] = True
        else:
            uvals[i] = v
    return uvals[inv], ubad[inv]


def _parse_float(u: Any) -> float | None:
    if isinstance(u, bool):
        return None
    try:
        return float(u.strip(" ") if isinstance(u, str) else u)
    except (TypeError, ValueError):
        return None


@dataclass
class Discretised:
    """Integer codes of every table on one discretisation of the domain.

    Attributes:
        codes: role → (n, d) int array, columns in domain order.
        sizes: Number of codes per column.
        method: Which discretisation: the data layer's ``Discretizer``, or this module's
            fallback (and why).
    """

    codes: dict[str, np.ndarray]
    sizes: tuple[int, ...]
    method: str


class Prepared:
    """Validated tables, their encodings and caches shared by the metrics of one evaluation.

    Args:
        domain: The public domain.
        tables: role (``"real"``, ``"synthetic"``, ``"holdout"``) → encoded table.
        real_split: What the real table is.
    """

    def __init__(self, domain: Domain, tables: dict[str, EncodedTable], real_split: str) -> None:
        self.domain = domain
        self.tables = tables
        self.real_split = real_split
        self._bounds: dict[str, tuple[float, float, str]] = {}
        self._disc: Discretised | None = None

    @property
    def real(self) -> EncodedTable:
        """The real table."""
        return self.tables["real"]

    @property
    def synthetic(self) -> EncodedTable:
        """The synthetic table."""
        return self.tables["synthetic"]

    @property
    def holdout(self) -> EncodedTable | None:
        """The hold-out table, if one was given."""
        return self.tables.get("holdout")

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in domain order."""
        return tuple(self.domain.names)

    # -- scale of numeric columns ----------------------------------------------------------
    def bounds(self, name: str) -> tuple[float, float, str]:
        """``(lower, upper, source)`` of a numeric column; source is ``"declared"`` or ``"observed"``.

        Declared bounds (or the outer bin edges) come from the domain. Only when it has none
        are the observed extremes over every table used (reading raw rows, as all of
        evaluation does).
        """
        if name not in self._bounds:
            col = self.domain[name]
            lo, hi, source = col.lower, col.upper, "declared"
            if (lo is None or hi is None) and col.edges:
                lo, hi = col.edges[0], col.edges[-1]
            if lo is None or hi is None:
                vals = np.concatenate([t.values(name) for t in self.tables.values()])
                vals = vals[np.isfinite(vals)]
                lo = float(vals.min()) if lo is None and len(vals) else lo
                hi = float(vals.max()) if hi is None and len(vals) else hi
                source = "observed"
            lo = 0.0 if lo is None else float(lo)
            hi = lo + 1.0 if hi is None or hi <= lo else float(hi)
            self._bounds[name] = (lo, hi, source)
        return self._bounds[name]

    def scaled(self, role: str, name: str) -> np.ndarray:
        """A numeric column mapped to [0, 1] by its bounds (clipped; NaN where missing)."""
        lo, hi, _ = self.bounds(name)
        v = self.tables[role].values(name)
        return np.clip((v - lo) / (hi - lo), 0.0, 1.0)

    def out_of_range(self, role: str, name: str) -> float:
        """Share of rows of a numeric column outside its declared bounds (0 if none declared)."""
        lo, hi, source = self.bounds(name)
        if source != "declared":
            return 0.0
        v = self.tables[role].values(name)
        with np.errstate(invalid="ignore"):
            return float(np.mean((v < lo) | (v > hi)))

    # -- discretisation --------------------------------------------------------------------
    def discretised(self) -> Discretised:
        """Every table's integer codes on the domain's discretisation (computed once).

        Uses :class:`dpsynth.data.discretize.Discretizer` (the discretisation generators
        measure on) when it is available and accepts every table; otherwise the fallback in
        this module: categories plus a missing code; numeric columns binned on the declared
        edges, or ``bins`` (default 32) equal-width bins between the bounds, plus a missing
        code. Either way every column has one more code, for values the domain does not
        allow, so that they count as a difference instead of an error.
        """
        if self._disc is None:
            self._disc = self._discretise_with_data_layer() or self._discretise_fallback(
                " (dpsynth.data.discretize is not available)")
        return self._disc

    def _discretise_with_data_layer(self) -> Discretised | None:
        try:
            from dpsynth.data.discretize import Discretizer
        except ImportError:
            return None
        names = list(self.names)
        try:
            disc = Discretizer(self.domain)
            # One more code per column for values the domain does not allow (marked -1).
            sizes = tuple(int(disc.sizes[n]) + 1 for n in names)
            codes = {}
            for role, t in self.tables.items():
                c = np.asarray(disc.encode_frame(t.frame, on_invalid="mark"), dtype=np.int64)
                c = np.where(c < 0, np.asarray(sizes) - 1, c)
                if c.shape != (t.n, len(names)) or (c >= np.asarray(sizes)).any():
                    raise InvalidDataError(f"the Discretizer gave codes out of range for the {role} table")
                codes[role] = c
        except (DpsynthError, ValueError, KeyError, TypeError, IndexError) as err:
            return self._discretise_fallback(f" (the data layer's Discretizer refused: {err})")
        return Discretised(codes, sizes, "dpsynth.data.discretize.Discretizer")

    def _discretise_fallback(self, why: str) -> Discretised:
        sizes = []
        per_col: dict[str, list[np.ndarray]] = {r: [] for r in self.tables}
        for col in self.domain:
            if is_categorical(col):
                sizes.append(len(col.categories or ()) + 2)
                for role, t in self.tables.items():
                    per_col[role].append(t.codes(col.name))
                continue
            lo, hi, _ = self.bounds(col.name)
            if col.edges:
                edges = np.asarray(col.edges, dtype=float)
            else:
                edges = np.linspace(lo, hi, (col.bins or DEFAULT_BINS) + 1)
            nb = len(edges) - 1
            sizes.append(nb + 2)
            for role, t in self.tables.items():
                v = t.values(col.name)
                idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, nb - 1)
                idx = np.where(np.isnan(v), nb, idx)
                per_col[role].append(np.where(t.invalid(col.name), nb + 1, idx).astype(np.int64))
        codes = {r: np.column_stack(cs) for r, cs in per_col.items()}
        return Discretised(codes, tuple(sizes), "dpsynth.evaluate fallback binning" + why)

    # -- feature matrices for learned metrics ----------------------------------------------
    def tree_features(self, role: str, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Features for gradient-boosted trees and the mask of columns to treat as categorical.

        Categorical columns become their domain codes (missing its own code); numeric columns
        stay on their scale with NaN for missing, which the trees route on their own.
        """
        t = self.tables[role]
        cols, mask = [], []
        for name in names:
            col = self.domain[name]
            if is_categorical(col):
                cols.append(t.codes(name).astype(np.float64))
                mask.append(len(col.categories or ()) + 2 <= MAX_NATIVE_CATEGORIES)
            else:
                cols.append(t.values(name))
                mask.append(False)
        if not cols:
            return np.zeros((t.n, 0)), np.zeros(0, dtype=bool)
        return np.column_stack(cols), np.asarray(mask, dtype=bool)

    def onehot_features(self, role: str, names: list[str]) -> np.ndarray:
        """Features for linear models and distances, on the domain's scale.

        Categorical columns are one-hot over the declared categories plus a missing column
        (a value outside the domain is all zeros). Numeric columns are scaled to [0, 1] by
        their bounds (clipped), with missing values set to 0 and flagged in an extra column.
        """
        t = self.tables[role]
        blocks = []
        for name in names:
            col = self.domain[name]
            if is_categorical(col):
                k = len(col.categories or ())
                eye = np.vstack([np.eye(k + 1), np.zeros((1, k + 1))])
                blocks.append(eye[t.codes(name)])
            else:
                v = self.scaled(role, name)
                miss = np.isnan(v)
                blocks.append(np.column_stack([np.where(miss, 0.0, v), miss.astype(np.float64)]))
        if not blocks:
            return np.zeros((t.n, 0))
        return np.hstack(blocks)

    def domain_check(self) -> dict[str, Any]:
        """Per column and table: missing rate, share of values outside the domain."""
        out: dict[str, Any] = {}
        for col in self.domain:
            entry = {}
            for role, t in self.tables.items():
                e = {"missing": t.missing_rate(col.name), "invalid": t.invalid_rate(col.name)}
                if col.is_numeric:
                    e["out_of_range"] = self.out_of_range(role, col.name)
                entry[role] = e
            out[col.name] = entry
        return out

"""Integer codes for marginal-based methods: every column becomes 0 … k−1.

The :class:`Discretizer` is built from the public :class:`~dpsynth.data.domain.Domain`
only; it never looks at data to choose categories, bounds or bin edges, so using it costs
no privacy budget. Columns whose categories or bounds are unknown must first be completed
(by DP inference, :meth:`dpsynth.data.private.PrivateData.complete_domain`).

Codes, per column type:

* categorical / ordinal: the index of the category in the metadata's list;
* numeric: the bin; bins are the metadata's ``edges`` if given (bin i is
  ``[e_i, e_{i+1})``, the last bin closed, values beyond the outer edges go to the outer
  bins), else ``bins`` (default 32; numeric detail sets fewer when the budget cannot
  resolve 32, :func:`dpsynth.data.numeric.resolvable_bins`) equal-width bins over ``[lower, upper]`` (values
  outside are clamped). An integer column whose range holds at most ``bins`` whole numbers
  gets one code per number; a wider integer column is binned over ``[lower, upper + 1)`` so
  that every bin holds whole numbers. Integer columns round values half up first.
* datetime: as numeric, over seconds since 1970-01-01;
* atoms (the column's ``atoms``, public or found with DP): each atom inside the outer edges
  gets a code of its own (``[a, a + 1)`` for integer columns, ``[a, nextafter(a))``
  otherwise), so it is measured as a cell and decoded exactly;
* missing (nullable columns only): one extra, last code.

The same mapping is written twice, as a DuckDB SQL expression (:meth:`Discretizer.sql_expr`,
used on tables of any size) and in numpy (:meth:`Discretizer.encode_frame`, for small
frames); they agree value for value. :meth:`Discretizer.decode` maps codes back to values
through :mod:`dpsynth.data.numeric` (atoms exact, values on the column's ``step`` grid,
drawn from its within-bin ``density``); it reads no data, so it is post-processing of
whatever produced the codes.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from dpsynth.data._parse import (
    bound_text,
    category_index,
    missing_mask,
    numbers,
    quote_ident,
    sql_category_keys,
    sql_double,
    sql_missing,
    sql_number,
    sql_str,
    sql_text,
)
from dpsynth.data.domain import DEFAULT_BINS, Column, Domain
from dpsynth.errors import InvalidDataError, InvalidParameterError, MetadataError

if TYPE_CHECKING:
    from dpsynth.data.io import Table

Mode = Literal["category", "integer", "uniform", "uniform_int", "edges", "edges_int"]
#: Default rank-correlation threshold above which numeric columns are decoded comonotone
#: within their bins (:meth:`Discretizer.decode`).
COUPLE = 0.9


@dataclass(frozen=True)
class _Coder:
    """How one column maps to codes (the parameters both engines use)."""

    col: Column
    mode: Mode
    n: int  # codes for present values; the missing code (if nullable) is n
    lo: float = 0.0
    hi: float = 0.0
    width: float = 1.0
    interior: tuple[float, ...] = ()  # interior edges (edges modes)
    edges: tuple[float, ...] = ()

    atom_codes: tuple[int, ...] = ()  # codes that hold one atom each …
    atom_values: tuple[float, ...] = ()  # … and its value

    @classmethod
    def build(cls, col: Column) -> _Coder:
        base = cls._build_base(col)
        if not col.atoms or base.mode in ("category", "integer"):
            return base  # one code per whole number: every atom already has its own code
        return base._with_atoms(col.atoms)

    @classmethod
    def _build_base(cls, col: Column) -> _Coder:
        if not col.is_numeric:
            return cls(col, "category", len(col.categories or ()))
        if col.edges is not None:
            edges = tuple(col.edges)
            mode: Mode = "edges_int" if col.integer else "edges"
            bounds = value_range(col)
            assert bounds is not None
            lo, hi = bounds
            return cls(col, mode, len(edges) - 1, lo=lo, hi=hi, interior=edges[1:-1], edges=edges)
        assert col.lower is not None and col.upper is not None
        bins = col.bins or DEFAULT_BINS
        if col.integer:
            lo_i, hi_i = math.ceil(col.lower), math.floor(col.upper)
            count = hi_i - lo_i + 1
            if count <= bins:
                return cls(col, "integer", count, lo=float(lo_i), hi=float(hi_i))
            return cls(col, "uniform_int", bins, lo=float(lo_i), hi=float(hi_i), width=count / bins)
        lo, hi = float(col.lower), float(col.upper)
        if hi <= lo:
            return cls(col, "uniform", 1, lo=lo, hi=hi, width=1.0)
        return cls(col, "uniform", bins, lo=lo, hi=hi, width=(hi - lo) / bins)

    def _with_atoms(self, atoms: tuple[float, ...]) -> _Coder:
        """The same bins with a code of its own for each atom inside the outer edges.

        An atom ``a`` of an integer column gets the bin ``[a, a + 1)``; of a continuous one
        ``[a, nextafter(a))``, which holds exactly ``a``. Atoms outside the outer edges (or
        the public bounds) are ignored.
        """
        integer = self.mode in ("uniform_int", "edges_int")
        if self.mode == "uniform":
            edges = self.lo + np.arange(self.n + 1) * self.width
            edges[-1] = self.hi
            if self.n == 1 and self.hi <= self.lo:
                edges = np.array([self.lo, np.nextafter(self.lo, np.inf)])
        elif self.mode == "uniform_int":
            edges = self.int_starts()
        else:
            edges = np.asarray(self.edges, dtype=np.float64)
        first, last = max(float(edges[0]), self.lo), min(float(edges[-1]), self.hi)
        extra: list[float] = []
        kept: list[float] = []
        for a in atoms:
            if integer:
                a = float(math.floor(a + 0.5))
            if not first <= a <= last:
                continue
            kept.append(a)
            extra += [a, a + 1.0] if integer else [a, float(np.nextafter(a, np.inf))]
        if not kept:
            return self
        new = np.unique(np.concatenate([edges, extra]))
        if integer:
            new = new[new <= max(float(edges[-1]), self.hi + 1.0)]
        e = tuple(float(x) for x in new)
        mode: Mode = "edges_int" if integer else "edges"
        interior = np.asarray(e[1:-1])
        codes = tuple(int(np.searchsorted(interior, a, side="right")) for a in kept)
        return _Coder(self.col, mode, len(e) - 1, lo=self.lo, hi=self.hi, interior=e[1:-1], edges=e,
                      atom_codes=codes, atom_values=tuple(kept))

    @property
    def size(self) -> int:
        return self.n + (1 if self.col.nullable else 0)

    @property
    def missing_code(self) -> int | None:
        return self.n if self.col.nullable else None

    # -- numpy -----------------------------------------------------------------------------
    def codes_of_numbers(self, x: np.ndarray) -> np.ndarray:
        """Codes of finite numbers (the numeric modes)."""
        if self.mode in ("integer", "uniform_int", "edges_int"):
            x = np.floor(x + 0.5)
        if self.mode == "integer":
            out = np.clip(x, self.lo, self.hi) - self.lo
        elif self.mode in ("uniform", "uniform_int"):
            if self.n == 1:
                return np.zeros(x.shape, dtype=np.int64)
            out = np.clip(np.floor((np.clip(x, self.lo, self.hi) - self.lo) / self.width), 0, self.n - 1)
        else:
            return np.searchsorted(np.asarray(self.interior, dtype=np.float64), x, side="right").astype(np.int64)
        return out.astype(np.int64)

    def codes_of(self, values: pd.Series) -> np.ndarray:
        """Codes of raw or typed values; -1 where a value is invalid (or missing but not nullable)."""
        miss = missing_mask(self.col, values)
        if self.mode == "category":
            out = category_index(self.col, values)
        else:
            x = numbers(self.col, values)
            ok = ~np.isnan(x)
            out = np.full(len(x), -1, dtype=np.int64)
            out[ok] = self.codes_of_numbers(x[ok])
        mc = self.missing_code
        out[miss] = -1 if mc is None else mc
        return out

    # -- SQL -------------------------------------------------------------------------------
    def sql(self, ident: str) -> str:
        """DuckDB expression of the code; NULL where the value is invalid."""
        mc = self.missing_code
        missing = sql_missing(self.col, ident)
        on_missing = "NULL" if mc is None else str(mc)
        if self.mode == "category":
            body = f"list_position({sql_category_keys(self.col)}, {sql_text(ident)}) - 1"
            return f"(CASE WHEN {missing} THEN {on_missing} ELSE {body} END)"
        x = sql_number(self.col, ident)
        # DuckDB's least/greatest skip NULLs: invalid values are caught before binning.
        return (
            f"(CASE WHEN {missing} THEN {on_missing} WHEN {x} IS NULL OR NOT isfinite({x}) THEN NULL "
            f"ELSE {self._sql_bin(x)} END)"
        )

    def _sql_bin(self, x: str) -> str:
        if self.mode in ("integer", "uniform_int", "edges_int"):
            x = f"floor({x} + {sql_double(0.5)})"
        lo, hi = sql_double(self.lo), sql_double(self.hi)
        if self.mode == "integer":
            return f"(least(greatest({x}, {lo}), {hi}) - {lo})"
        if self.mode in ("uniform", "uniform_int"):
            if self.n == 1:
                return "0"
            clipped = f"least(greatest({x}, {lo}), {hi})"
            return f"least(greatest(floor(({clipped} - {lo}) / {sql_double(self.width)}), 0), {self.n - 1})"
        return self._sql_tree(x, 0, self.n - 1)

    def _sql_tree(self, x: str, a: int, b: int) -> str:
        """Balanced CASE: the number of interior edges ≤ x, in log2(k) comparisons."""
        if a == b:
            return str(a)
        mid = (a + b + 1) // 2  # x >= interior[mid - 1] ⇔ code >= mid
        return (
            f"(CASE WHEN {x} >= {sql_double(self.interior[mid - 1])} THEN {self._sql_tree(x, mid, b)} "
            f"ELSE {self._sql_tree(x, a, mid - 1)} END)"
        )

    # -- decoding --------------------------------------------------------------------------
    def int_starts(self) -> np.ndarray:
        """For the integer-valued modes: the first whole number of each bin, then hi + 1.

        Bin c holds the whole numbers ``starts[c] … starts[c+1] − 1`` (none if equal).
        """
        lo, hi, n = self.lo, self.hi, self.n
        c = np.arange(n, dtype=np.float64)
        if self.mode == "integer":
            starts = lo + c
        elif self.mode == "uniform_int":
            starts = lo + np.ceil(c * self.width)
            for _ in range(4):  # repair floating-point off-by-ones against the encoder
                starts = np.where(self.codes_of_numbers(starts) < c, starts + 1, starts)
                back = starts - 1
                starts = np.where((back >= lo) & (self.codes_of_numbers(back) >= c), back, starts)
        else:
            starts = np.ceil(np.asarray(self.edges[:-1], dtype=np.float64))
            starts[0] = lo
        starts = np.maximum.accumulate(np.clip(starts, lo, hi + 1))
        return np.append(starts, hi + 1)

    def decode(self, codes: np.ndarray, rng: np.random.Generator, u: np.ndarray | None = None) -> np.ndarray:
        """Values for codes of present values (floats; whole numbers for integer modes).

        An atom's code gives the atom. Otherwise the value is drawn inside the bin (and the
        public bounds) from the column's ``density`` if it has one, else uniformly, on the
        grid of the column's precision (whole numbers for integer columns; multiples of
        ``step`` if given), so no recorded value is split across its neighbours.
        """
        from dpsynth.data.numeric import draw_in_bins

        return draw_in_bins(self, codes.astype(np.int64), rng, u)

    def bin_extent(self) -> tuple[np.ndarray, np.ndarray]:
        """Per code, the values it holds: ``[a, b)`` (``[a, b]`` for the last bin), within bounds.

        For the integer-valued modes: ``a`` is the first whole number of the bin and ``b``
        one past the last (``a == b``: the bin holds none).
        """
        if self.mode in ("integer", "uniform_int", "edges_int"):
            starts = self.int_starts()
            return starts[:-1], starts[1:]
        c = np.arange(self.n, dtype=np.float64)
        if self.mode == "uniform":
            a = self.lo + c * self.width
            b = np.where(c == self.n - 1, self.hi, self.lo + (c + 1) * self.width)
            return a, b
        e = np.asarray(self.edges, dtype=np.float64)
        a, b = e[:-1], e[1:]
        lo_b = self.col.lower if self.col.lower is not None else -np.inf
        hi_b = self.col.upper if self.col.upper is not None else np.inf
        a2, b2 = np.maximum(a, lo_b), np.minimum(b, hi_b)
        inside = a2 <= b2
        return np.where(inside, a2, a), np.where(inside, b2, b)


class Discretizer:
    """Maps each column of a domain to integer codes 0 … k−1, and back.

    Args:
        domain: A complete domain (no column :attr:`~dpsynth.data.domain.Column.needs_inference`).

    Raises:
        MetadataError: If some column still has unknown categories or bounds.
    """

    def __init__(self, domain: Domain) -> None:
        todo = [c.name for c in domain if c.needs_inference]
        if todo:
            raise MetadataError(
                [f"column {n!r} has unknown {'bounds' if domain[n].is_numeric else 'categories'}" for n in todo],
                hint="Declare them in the metadata, or complete the domain with DP first "
                "(PrivateData.complete_domain, charged to the budget).",
            )
        self.domain = domain
        self._coders = {c.name: _Coder.build(c) for c in domain}
        self._exprs = {n: self._coders[n].sql(quote_ident(n)) for n in domain.names}
        self.key = hashlib.sha256("\n".join(self._exprs.values()).encode()).hexdigest()[:16]

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in domain order."""
        return self.domain.names

    @property
    def sizes(self) -> dict[str, int]:
        """Number of codes of each column (including the missing code of nullable columns)."""
        return {n: c.size for n, c in self._coders.items()}

    @property
    def shape(self) -> tuple[int, ...]:
        """Code counts in domain order."""
        return tuple(self._coders[n].size for n in self.names)

    def missing_code(self, name: str) -> int | None:
        """The code of a missing value in column ``name`` (None if it is not nullable)."""
        return self._coders[name].missing_code

    def bin_edges(self, name: str) -> np.ndarray | None:
        """The bin edges of a numeric column (None for categorical ones).

        For one-code-per-integer columns, the edges are ``lower − ½ … upper + ½``.
        """
        c = self._coders[name]
        if c.mode == "category":
            return None
        if c.mode in ("edges", "edges_int"):
            return np.asarray(c.edges, dtype=np.float64)
        if c.mode == "integer":
            return np.arange(c.lo, c.hi + 2) - 0.5
        if c.mode == "uniform_int":
            return np.append(c.int_starts()[:-1], c.hi + 1) - 0.5
        return np.append(c.lo + np.arange(c.n) * c.width, c.hi)

    def sql_expr(self, name: str) -> str:
        """A DuckDB expression computing the code of column ``name`` from its raw text.

        It evaluates to NULL for a value that is invalid for the domain (not a category,
        not a number, or missing in a non-nullable column).
        """
        try:
            return self._exprs[name]
        except KeyError:
            raise KeyError(f"no column {name!r} in the domain") from None

    # -- tables ----------------------------------------------------------------------------
    def encode(self, table: Table) -> str:
        """Create (once per table) a DuckDB temp table of codes; return its name.

        The encoded table lives in ``table.connection``; it has one SMALLINT/INTEGER column
        per domain column (same names) and the rows of ``table`` in order.

        Raises:
            InvalidDataError: If a column is absent or holds values the domain cannot code
                (run :func:`dpsynth.data.io.validate` for the details).
        """
        cache: dict[str, str] = table._encoded
        if self.key in cache:
            return cache[self.key]
        absent = [n for n in self.names if n not in table.columns]
        if absent:
            raise InvalidDataError(
                [f"column {n!r} is in the metadata but not in the data" for n in absent],
                hint="Check the column names of the data against the metadata.",
            )
        name = f"dpsynth_codes_{self.key}_{uuid.uuid4().hex[:8]}"
        select = ", ".join(
            f"CAST({self._exprs[n]} AS {'SMALLINT' if self._coders[n].size < 2**15 else 'INTEGER'}) "
            f"AS {quote_ident(n)}"
            for n in self.names
        )
        con = table.connection
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT {select} FROM {table.relation_name}")
        counts = con.execute(
            "SELECT " + ", ".join(f"count(*) FILTER (WHERE {quote_ident(n)} IS NULL)" for n in self.names)
            + f" FROM {name}"
        ).fetchone()
        bad = [(n, int(k)) for n, k in zip(self.names, counts or (), strict=True) if k]
        if bad:
            con.execute(f"DROP TABLE {name}")
            raise InvalidDataError(
                [f"column {n!r}: {k} value(s) are invalid for the domain" for n, k in bad],
                hint="Run dpsynth.data.io.validate(table, domain) to see which values and why.",
            )
        cache[self.key] = name
        return name

    def codes(self, table: Table) -> np.ndarray:
        """The (n, d) code matrix of a table (reads every row: evaluation, tests, small data)."""
        enc = self.encode(table)
        cols = table.connection.execute(f"SELECT * FROM {enc}").fetchnumpy()
        if not self.names:
            return np.zeros((0, 0), dtype=np.int64)
        return np.column_stack([np.asarray(cols[n], dtype=np.int64) for n in self.names])

    def encode_frame(
        self, frame: pd.DataFrame, *, on_invalid: Literal["raise", "mark"] = "raise"
    ) -> np.ndarray:
        """The (n, d) code matrix of a pandas frame (raw text or typed values).

        Args:
            frame: Must hold every domain column; other columns are ignored.
            on_invalid: ``"raise"``: an invalid value raises; ``"mark"``: it gets code −1.

        Raises:
            InvalidDataError: A column is absent, or (``on_invalid="raise"``) holds invalid values.
        """
        absent = [n for n in self.names if n not in frame.columns]
        if absent:
            raise InvalidDataError(
                [f"column {n!r} is in the metadata but not in the frame" for n in absent],
                hint="Pass a frame with every domain column.",
            )
        out = np.empty((len(frame), len(self.names)), dtype=np.int64)
        for j, n in enumerate(self.names):
            out[:, j] = self._coders[n].codes_of(frame[n].reset_index(drop=True))
        if on_invalid == "raise":
            bad = [(n, int(k)) for n, k in zip(self.names, (out < 0).sum(axis=0), strict=True) if k]
            if bad:
                raise InvalidDataError(
                    [f"column {n!r}: {k} value(s) are invalid for the domain" for n, k in bad],
                    hint="Run dpsynth.data.io.validate on the data to see which values and why.",
                )
        return out

    def decode(self, codes: np.ndarray, rng: np.random.Generator, *, couple: float | None = COUPLE) -> pd.DataFrame:
        """Values for a code matrix: the inverse of :meth:`encode`, up to the bin.

        Categorical codes give the category; an atom's code gives the atom; other numeric
        codes a value within the bin and the public bounds, drawn from the column's
        within-bin density (uniformly without one), on its grid (whole numbers for integer
        columns, multiples of ``step``); the missing code gives NA. This reads no private
        data: it is post-processing, free under DP.

        Numeric columns whose codes are strongly rank-correlated (≥ ``couple``) get values
        at the same quantile inside their bins (see :func:`dpsynth.data.numeric.coupled_groups`).

        Args:
            codes: (n, d) integer codes, columns in domain order.
            rng: Draws the values within bins.
            couple: Rank-correlation threshold for comonotone within-bin draws (None: off).

        Returns:
            A frame with the domain's columns in order: float64 (numeric), Int64 (integer
            numeric, or a whole-number ``step``), datetime64 (datetime), object
            (categorical; None where missing).
        """
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != len(self.names):
            raise InvalidParameterError(
                f"decode needs an (n, {len(self.names)}) code matrix. Got shape {codes.shape}."
            )
        if codes.size and not np.issubdtype(codes.dtype, np.integer):
            raise InvalidParameterError(f"decode needs integer codes. Got dtype {codes.dtype}.")
        data: dict[str, object] = {}
        for j, n in enumerate(self.names):
            coder = self._coders[n]
            col_codes = codes[:, j].astype(np.int64)
            if col_codes.size and (col_codes.min() < 0 or col_codes.max() >= coder.size):
                raise InvalidParameterError(
                    f"codes of column {n!r} must be in [0, {coder.size}). "
                    f"Got values in [{col_codes.min()}, {col_codes.max()}]."
                )
        shared: dict[int, np.ndarray] = {}
        if couple is not None:
            from dpsynth.data.numeric import coupled_groups

            numeric_names = [c.name for c in self.domain if c.is_numeric]
            missing = {n: self._coders[n].missing_code for n in self.names}
            for group in coupled_groups(codes, self.names, numeric_names, self.sizes, missing, couple):
                u = np.asarray(rng.random(codes.shape[0]), dtype=np.float64)
                shared.update({j: u for j in group})
        for j, n in enumerate(self.names):
            data[n] = _decode_column(self._coders[n], codes[:, j].astype(np.int64), rng, shared.get(j))
        return pd.DataFrame(data, columns=list(self.names))

    def __repr__(self) -> str:
        return f"Discretizer({dict(self.sizes)!r})"


def _decode_column(coder: _Coder, codes: np.ndarray, rng: np.random.Generator,
                   u: np.ndarray | None = None) -> pd.Series:
    col = coder.col
    present = codes < coder.n
    if coder.mode == "category":
        cats = np.empty(len(col.categories or ()) + 1, dtype=object)
        cats[:-1] = list(col.categories or ())
        cats[-1] = None
        return pd.Series(cats[np.minimum(codes, coder.n)], dtype=object)
    values = np.full(len(codes), np.nan)
    values[present] = coder.decode(codes[present], rng, None if u is None else u[present])
    if col.kind == "datetime":
        micros = np.where(present, np.round(np.nan_to_num(values) * 1e6), 0).astype(np.int64)
        out = pd.Series(micros.astype("datetime64[us]"))
        out[~present] = pd.NaT
        return out
    if col.integer or (col.step is not None and float(col.step).is_integer()):
        # Whole numbers keep their form: 40, not 40.0.
        ints = np.where(present, values, 0).astype(np.int64)
        return pd.Series(pd.arrays.IntegerArray(ints, ~present))
    return pd.Series(values, dtype=np.float64)


# -- the range every numeric value is held to ---------------------------------------------------
def value_range(col: Column) -> tuple[float, float] | None:
    """The closed range ``[lo, hi]`` a numeric column's values are held to, or None if unknown.

    The declared bounds where given, else the outer bin edges (``edges[0]``, ``edges[-1]``);
    for integer columns the whole numbers inside (``⌈lo⌉``, ``⌊hi⌋``). This is the range every
    sensitivity computation assumes (:mod:`dpsynth.data.queries`), and :func:`clamped_view`
    holds the private rows to it.
    """
    if not col.is_numeric:
        return None
    edges = col.edges
    lo = col.lower if col.lower is not None else (edges[0] if edges else None)
    hi = col.upper if col.upper is not None else (edges[-1] if edges else None)
    if lo is None or hi is None:
        return None
    lo, hi = float(lo), float(hi)
    if col.integer:
        lo, hi = float(math.ceil(lo)), float(math.floor(hi))
    return lo, hi


def clamped_view(table: Table, domain: Domain, *, validated: bool = False) -> Table:
    """A view of ``table`` whose numeric values are clamped into their :func:`value_range`.

    Every query, marginal and training step reads the private rows through this view
    (:class:`~dpsynth.data.private.PrivateData` builds it), so a row outside the range
    (below explicit ``edges`` without a declared ``lower``, say) counts as a row at the
    range's end: the sensitivity computed for the worst row inside the range holds for
    every row. With ``validated`` (``validate`` already refused values outside declared
    bounds), columns with both bounds declared are left as they are. Missing and
    unparseable values pass through unchanged; columns whose range is still unknown are
    clamped when DP inference fills it in. Returns ``table`` itself when nothing needs it.
    """
    parts, changed = [], False
    for name in table.columns:
        q = quote_ident(name)
        col = domain[name] if name in domain else None
        rng = None if col is None else value_range(col)
        if col is None or rng is None or (validated and col.lower is not None and col.upper is not None):
            parts.append(q)
            continue
        changed = True
        x = sql_number(col, q)
        if col.format is not None:
            # Formatted text is kept as it is; a value beyond the range becomes the bound's
            # text in the format (read back as the bound), as on Spark.
            lo_t, hi_t = bound_text(col, rng[0], upper=False), bound_text(col, rng[1], upper=True)
            parts.append(f"CASE WHEN {sql_missing(col, q)} OR {x} IS NULL OR NOT isfinite({x}) THEN {q} "
                         f"WHEN {x} < {sql_double(rng[0])} THEN {sql_str(lo_t)} "
                         f"WHEN {x} > {sql_double(rng[1])} THEN {sql_str(hi_t)} ELSE {q} END AS {q}")
            continue
        clamped = f"least(greatest({x}, {sql_double(rng[0])}), {sql_double(rng[1])})"
        if col.kind == "datetime":
            text = f"strftime(make_timestamp(CAST(round({clamped} * 1e6) AS BIGINT)), '%Y-%m-%d %H:%M:%S.%f')"
        else:
            text = f"CAST({clamped} AS VARCHAR)"
        parts.append(f"CASE WHEN {sql_missing(col, q)} OR {x} IS NULL OR NOT isfinite({x}) THEN {q} "
                     f"ELSE {text} END AS {q}")
    if not changed:
        return table
    return table.derive(f"SELECT {', '.join(parts)} FROM {table.relation_name}")

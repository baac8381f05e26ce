"""Statistical queries as objects: the workloads Private-GSD measures and matches.

A *workload* is a list of query *groups*. Every query is a 0/1 counting query (how many
rows satisfy a condition); a group is a family of such queries over a few columns that is
measured, selected and charged as one unit:

* :class:`Marginal`: every cell of a k-way marginal on the domain's codes (categories;
  numeric columns by their bins, which after ``PrivateData.complete_domain`` are DP
  quantiles; missing values are a code of their own). One row lies in exactly one cell.
* :class:`Ranges`: boxes ``lower <= x < upper`` over one or two numeric columns
  (``upper = +inf`` means "up to the column's upper bound, inclusive"). Built as prefix
  (threshold) queries at public thresholds with :meth:`Ranges.prefix`, or as random ranges
  with endpoints at public thresholds with :meth:`Ranges.random`. A missing value
  satisfies no box.
* :class:`Halfspaces`: ``w·z >= b`` on min-max normalised numeric columns,
  ``z = (x − lower) / (upper − lower)`` within the public bounds (Private-GSD, Liu et al.
  2023, Sec. 5); a missing value in any column of the group satisfies no query.
* :class:`TotalCount`: the number of rows (one query).

Every threshold, bound and bin comes from the public (or DP-completed) domain; nothing here
reads private rows. ``PrivateData.answer_queries`` is the only place the queries meet the
private table.

Sensitivity (add/remove one row): a group's answers change by 1 in each query the row
satisfies, so its L2 sensitivity is √h where ``h = max_hits`` is the largest number of the
group's queries one row can satisfy: 1 for a marginal (one-hot) and for the total; for
boxes, the largest number of boxes containing one point of the columns' ranges (computed
exactly, at the boxes' lower corners clipped to the ranges); for halfspaces, the number of
queries (a bound). The range of a numeric column is its declared bounds, else its outer bin
edges (:func:`~dpsynth.data.discretize.value_range`); ``PrivateData`` reads the private rows
through :func:`~dpsynth.data.discretize.clamped_view`, so no row it answers for lies outside
it (a row below explicit edges counts as a row at the lowest edge).

The numeric representation shared by the private answers and the genetic search is a float
matrix ``X`` (rows × columns in domain order): categorical/ordinal columns hold their code
(index of the category; the missing code of a nullable column is the number of
categories); numeric columns hold their value, NaN where missing.
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dpsynth.data.discretize import Discretizer, value_range
from dpsynth.data.domain import Domain
from dpsynth.data.numeric import numbers_of
from dpsynth.errors import InvalidParameterError

#: Thresholds of one column: a list of numbers or an array.
Thresholds = Sequence[float] | np.ndarray

#: Largest marginal (cells) a workload may hold: its answers are kept dense.
MAX_MARGINAL_CELLS = 100_000


# -- query groups -----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Marginal:
    """All cells of the marginal on ``columns`` (the domain's codes; numeric columns by bin).

    Args:
        columns: One or more distinct column names.
    """

    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", _names(self.columns, "Marginal"))

    def describe(self) -> str:
        """Public description for the ledger."""
        return "marginal " + "×".join(self.columns)


@dataclass(frozen=True, eq=False)
class Ranges:
    """Boxes ``lower[i, j] <= x_j < upper[i, j]`` over one or two numeric columns.

    Args:
        columns: One or two distinct numeric column names.
        lower: (m, k) lower ends (k = number of columns); ``-inf`` allowed.
        upper: (m, k) upper ends, excluded; ``+inf`` means up to the upper bound, included.
    """

    columns: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    kind: str = "ranges"

    def __post_init__(self) -> None:
        cols = _names(self.columns, "Ranges")
        if len(cols) > 2:
            raise InvalidParameterError(
                f"Ranges covers one or two columns (1-/2-way boxes). Got {len(cols)}: {list(cols)}."
            )
        lo = np.atleast_2d(np.asarray(self.lower, dtype=np.float64))
        hi = np.atleast_2d(np.asarray(self.upper, dtype=np.float64))
        if lo.shape != hi.shape or lo.ndim != 2 or lo.shape[1] != len(cols) or lo.shape[0] == 0:
            raise InvalidParameterError(
                f"Ranges on {list(cols)} needs lower and upper of shape (m >= 1, {len(cols)}). "
                f"Got {lo.shape} and {hi.shape}."
            )
        if np.isnan(lo).any() or np.isnan(hi).any() or np.any(lo >= hi):
            raise InvalidParameterError(
                f"Ranges on {list(cols)}: every box needs lower < upper (no NaN)."
            )
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)

    @classmethod
    def prefix(
        cls, domain: Domain, columns: Sequence[str], thresholds: Sequence[Thresholds] | None = None
    ) -> Ranges:
        """Prefix (threshold) queries ``x_1 < t_1 [and x_2 < t_2]`` on a grid of thresholds.

        Args:
            domain: The (complete) public domain.
            columns: One or two numeric columns.
            thresholds: One list per column; default: the column's interior bin edges (DP
                quantiles after ``complete_domain``). Must lie within the public bounds.
        """
        cols = _names(columns, "Ranges.prefix")
        grids = [
            np.asarray(t, dtype=np.float64).ravel() for t in (thresholds or [bin_thresholds(domain, c) for c in cols])
        ]
        if len(grids) != len(cols) or any(g.size == 0 for g in grids):
            raise InvalidParameterError(
                f"Ranges.prefix on {list(cols)} needs one non-empty list of thresholds per column."
            )
        uppers = np.array(list(itertools.product(*grids)), dtype=np.float64).reshape(-1, len(cols))
        return cls(cols, np.full_like(uppers, -np.inf), uppers, kind="prefix")

    @classmethod
    def grid(cls, domain: Domain, columns: Sequence[str], thresholds: Sequence[Thresholds] | None = None) -> Ranges:
        """Disjoint boxes between consecutive thresholds: a fine 1-/2-way histogram of raw values.

        The first interval starts below the lower bound and the last reaches the upper
        bound, so every present value lies in exactly one box (``max_hits`` = 1). Prefix and
        range queries at the thresholds are sums of these boxes, measured far more cheaply
        than one by one (a row satisfies many prefix queries, but only one box).

        Args:
            domain: The (complete) public domain.
            columns: One or two numeric columns.
            thresholds: One list per column; default: the column's interior bin edges.
        """
        cols = _names(columns, "Ranges.grid")
        grids = [np.unique(np.asarray(t, dtype=np.float64).ravel())
                 for t in (thresholds or [bin_thresholds(domain, c) for c in cols])]
        if len(grids) != len(cols):
            raise InvalidParameterError(f"Ranges.grid on {list(cols)} needs one list of thresholds per column.")
        cells = [np.column_stack([np.concatenate([[-np.inf], g]), np.concatenate([g, [np.inf]])]) for g in grids]
        boxes = list(itertools.product(*cells))
        lo = np.array([[b[0] for b in box] for box in boxes], dtype=np.float64)
        hi = np.array([[b[1] for b in box] for box in boxes], dtype=np.float64)
        return cls(cols, lo, hi, kind="range grid")

    @classmethod
    def random(
        cls,
        domain: Domain,
        columns: Sequence[str],
        n: int,
        rng: np.random.Generator,
        thresholds: Sequence[Thresholds] | None = None,
    ) -> Ranges:
        """``n`` random boxes whose ends are drawn among public thresholds (and the bounds).

        Args:
            domain: The (complete) public domain.
            columns: One or two numeric columns.
            n: Number of boxes.
            rng: Randomness of the workload (public: it depends on no data).
            thresholds: One list per column; default: the column's interior bin edges.
        """
        cols = _names(columns, "Ranges.random")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise InvalidParameterError(f"Ranges.random needs n >= 1 boxes. Got {n!r}.")
        grids = thresholds or [bin_thresholds(domain, c) for c in cols]
        lo = np.empty((n, len(cols)))
        hi = np.empty((n, len(cols)))
        for j, (c, g) in enumerate(zip(cols, grids, strict=True)):
            pts = np.concatenate([[-np.inf], np.unique(np.asarray(g, dtype=np.float64)), [np.inf]])
            if pts.size < 3:
                raise InvalidParameterError(f"Ranges.random on {c!r} needs at least one threshold.")
            a = rng.integers(0, pts.size - 1, size=n)
            b = a + 1 + (rng.random(n) * (pts.size - 1 - a)).astype(np.int64)
            lo[:, j], hi[:, j] = pts[a], pts[np.minimum(b, pts.size - 1)]
        return cls(cols, lo, hi, kind="ranges")

    def describe(self) -> str:
        """Public description for the ledger."""
        return f"{len(self.lower)} {self.kind} queries on " + "×".join(self.columns)


@dataclass(frozen=True, eq=False)
class Halfspaces:
    """Halfspace queries ``w·z >= b`` on min-max normalised numeric columns.

    Args:
        columns: Numeric columns (with public bounds).
        weights: (m, k) normal vectors.
        offsets: (m,) thresholds b.
    """

    columns: tuple[str, ...]
    weights: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        cols = _names(self.columns, "Halfspaces")
        w = np.atleast_2d(np.asarray(self.weights, dtype=np.float64))
        b = np.asarray(self.offsets, dtype=np.float64).ravel()
        if w.ndim != 2 or w.shape[1] != len(cols) or w.shape[0] != b.size or b.size == 0:
            raise InvalidParameterError(
                f"Halfspaces on {list(cols)} needs weights of shape (m >= 1, {len(cols)}) and m offsets."
            )
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise InvalidParameterError("Halfspaces weights and offsets must be finite.")
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "offsets", b)

    @classmethod
    def random(cls, columns: Sequence[str], n: int, rng: np.random.Generator) -> Halfspaces:
        """``n`` random halfspaces through the unit box: w ~ N(0, I), b = w·u, u ~ U[0, 1]^k."""
        cols = _names(columns, "Halfspaces.random")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise InvalidParameterError(f"Halfspaces.random needs n >= 1 queries. Got {n!r}.")
        w = rng.standard_normal((n, len(cols)))
        b = np.einsum("ij,ij->i", w, rng.random((n, len(cols))))
        return cls(cols, w, b)

    def describe(self) -> str:
        """Public description for the ledger."""
        return f"{len(self.offsets)} halfspaces on " + "×".join(self.columns)


@dataclass(frozen=True, eq=False)
class TotalCount:
    """The number of rows (one query that every row satisfies)."""

    columns: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """Public description for the ledger."""
        return "total count"


QueryGroup = Marginal | Ranges | Halfspaces | TotalCount


def _names(columns: object, owner: str) -> tuple[str, ...]:
    if isinstance(columns, str):
        columns = (columns,)
    if not isinstance(columns, Sequence) or not columns or not all(isinstance(c, str) for c in columns):
        raise InvalidParameterError(f"{owner} needs a non-empty list of column names. Got {columns!r}.")
    cols = tuple(columns)
    if len(set(cols)) != len(cols):
        raise InvalidParameterError(f"{owner} names a column twice: {list(cols)}.")
    return cols


def bin_thresholds(domain: Domain, name: str) -> np.ndarray:
    """The interior bin edges of a numeric column (public, or DP quantiles once completed)."""
    col = domain[name]
    if not col.is_numeric:
        raise InvalidParameterError(f"Column {name!r} is {col.kind}, not numeric: it has no thresholds.")
    edges = Discretizer(domain.project([name])).bin_edges(name)
    assert edges is not None
    inner = edges[1:-1]
    if inner.size == 0:  # one bin: its middle
        inner = np.array([(edges[0] + edges[-1]) / 2.0])
    return inner


def refine(thresholds: np.ndarray, factor: int, *, integer: bool) -> np.ndarray:
    """Thresholds with ``factor − 1`` evenly spaced points added between neighbours (public)."""
    t = np.unique(np.asarray(thresholds, dtype=np.float64))
    if factor <= 1 or t.size < 2:
        return t
    fine = [a + (b - a) * np.arange(factor) / factor for a, b in itertools.pairwise(t)]
    out = np.concatenate([*fine, t[-1:]])
    if integer:
        out = np.ceil(out - 1e-9)
    return np.unique(out)


# -- the numeric representation ----------------------------------------------------------------
@dataclass(frozen=True)
class ColumnSpec:
    """How one column is represented in ``X`` and coded into bins (public)."""

    name: str
    numeric: bool
    integer: bool
    nullable: bool
    n_codes: int  # codes of present values (categories or bins)
    lower: float = 0.0
    upper: float = 0.0
    interior: np.ndarray = field(default_factory=lambda: np.empty(0))  # interior bin edges
    edges: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def size(self) -> int:
        """Codes including the missing code."""
        return self.n_codes + (1 if self.nullable else 0)

    def codes(self, x: np.ndarray) -> np.ndarray:
        """Codes of a column of ``X`` (the missing code where NaN, for numeric columns)."""
        if not self.numeric:
            return x.astype(np.int64)
        out = np.searchsorted(self.interior, x, side="right").astype(np.int64)
        out[np.isnan(x)] = self.n_codes
        return out


def column_specs(domain: Domain) -> list[ColumnSpec]:
    """The representation of every column of a complete domain."""
    disc = Discretizer(domain)
    specs = []
    for col in domain:
        size = disc.sizes[col.name]
        n = size - (1 if col.nullable else 0)
        if not col.is_numeric:
            specs.append(ColumnSpec(col.name, False, False, col.nullable, n))
            continue
        edges = disc.bin_edges(col.name)
        assert edges is not None
        # The range PrivateData clamps the private rows to (declared bounds, else outer edges).
        bounds = value_range(col)
        assert bounds is not None
        lo, hi = bounds
        specs.append(ColumnSpec(col.name, True, col.integer, col.nullable, n, lo, hi,
                                np.asarray(edges[1:-1], dtype=np.float64), np.asarray(edges, dtype=np.float64)))
    return specs


def encode_rows(frame: pd.DataFrame, domain: Domain) -> np.ndarray:
    """``X`` of a frame of typed values (as ``Table.to_frame(domain)`` returns).

    Categorical columns become codes (``Discretizer``'s); numeric columns their values as
    floats (datetimes as epoch seconds), NaN where missing.
    """
    codes = Discretizer(domain).encode_frame(frame)
    X = codes.astype(np.float64)
    for j, col in enumerate(domain):
        if col.is_numeric:
            X[:, j] = numbers_of(frame[col.name], col)
    return X


# -- compiled workloads --------------------------------------------------------------------------
class CompiledWorkload:
    """A workload bound to a domain: evaluates every query on rows of ``X``, vectorised.

    Queries are numbered group by group, in the order given. The groups split in two
    blocks: *cell* groups (marginals and the total), where a row satisfies exactly one
    query per group (so a row is described by one global query index per group), and
    *dense* groups (ranges, halfspaces), evaluated as a boolean matrix.

    Args:
        domain: The complete public domain.
        groups: The workload.

    Raises:
        InvalidParameterError: An empty workload, an unknown column, a marginal on too many
            cells, a range or halfspace on a non-numeric column, thresholds outside the
            column's public bounds.
    """

    def __init__(self, domain: Domain, groups: Sequence[QueryGroup]) -> None:
        groups = list(groups)
        if not groups:
            raise InvalidParameterError(
                "The workload is empty: pass at least one query group (Marginal, Ranges, Halfspaces)."
            )
        bad_type = [type(g).__name__ for g in groups if not isinstance(g, Marginal | Ranges | Halfspaces | TotalCount)]
        if bad_type:
            raise InvalidParameterError(
                f"A workload holds Marginal, Ranges, Halfspaces or TotalCount objects. Got {bad_type[:3]}."
            )
        names = set(domain.names)
        unknown = sorted({c for g in groups for c in g.columns if c not in names})
        if unknown:
            raise InvalidParameterError(
                f"The workload names unknown column(s) {unknown}; known: {sorted(names)}."
            )
        self.domain = domain
        self.specs = column_specs(domain)
        self._index = {s.name: j for j, s in enumerate(self.specs)}
        problems = []
        for g in groups:
            if isinstance(g, Ranges | Halfspaces):
                problems += self._check_numeric(g)
        if problems:
            raise InvalidParameterError("; ".join(problems))
        self.groups = groups
        # Cell groups first, then dense ones: global query order follows ``groups`` within
        # each block; ``slices[i]`` is group i's (start, stop) in that global order.
        cell = [i for i, g in enumerate(groups) if isinstance(g, Marginal | TotalCount)]
        dense = [i for i, g in enumerate(groups) if isinstance(g, Ranges | Halfspaces)]
        self.slices: list[tuple[int, int]] = [(0, 0)] * len(groups)
        start = 0
        self._cell_cols: list[np.ndarray] = []
        self._cell_strides: list[np.ndarray] = []
        offsets = []
        for i in cell:
            g = groups[i]
            cols = np.array([self._index[c] for c in g.columns], dtype=np.int64)
            shape = [self.specs[j].size for j in cols]
            size = math.prod(shape)
            if size > MAX_MARGINAL_CELLS:
                raise InvalidParameterError(
                    f"The marginal on {list(g.columns)} has {size} cells (> {MAX_MARGINAL_CELLS}); "
                    "use fewer columns or fewer bins."
                )
            strides = np.array([math.prod(shape[k + 1 :]) for k in range(len(shape))], dtype=np.int64)
            self._cell_cols.append(cols)
            self._cell_strides.append(strides)
            offsets.append(start)
            self.slices[i] = (start, start + size)
            start += size
        self.n_cell = start
        # cells = codes @ stride matrix + offsets: one product for every cell group.
        self._stride_matrix = np.zeros((len(self.specs), len(self._cell_cols)), dtype=np.int64)
        for k, (cols, strides) in enumerate(zip(self._cell_cols, self._cell_strides, strict=True)):
            self._stride_matrix[cols, k] = strides
        self._cell_offsets = np.array(offsets, dtype=np.int64)
        self._dense: list[tuple[QueryGroup, np.ndarray]] = []
        for i in dense:
            g = groups[i]
            m = len(g.lower) if isinstance(g, Ranges) else len(g.offsets)  # type: ignore[union-attr]
            self.slices[i] = (start, start + m)
            self._dense.append((g, np.array([self._index[c] for c in g.columns], dtype=np.int64)))
            start += m
        self.m = start
        self.n_dense = self.m - self.n_cell
        self.max_hits = np.array([self._max_hits(g) for g in groups], dtype=np.float64)
        #: Group of every query (global order).
        self.group_of = np.empty(self.m, dtype=np.int64)
        for i, (a, b) in enumerate(self.slices):
            self.group_of[a:b] = i

    @property
    def n_cell_groups(self) -> int:
        """Number of cell groups (one global query index per row each)."""
        return len(self._cell_cols)

    def _check_numeric(self, g: Ranges | Halfspaces) -> list[str]:
        out = []
        for j, c in enumerate(g.columns):
            spec = self.specs[self._index[c]]
            if not spec.numeric:
                out.append(f"{type(g).__name__} on {c!r}: the column is {self.domain[c].kind}, not numeric "
                           "(use a Marginal for categorical columns)")
                continue
            if isinstance(g, Ranges):
                ends = np.concatenate([g.lower[:, j], g.upper[:, j]])
                ends = ends[np.isfinite(ends)]
                if ends.size and (ends.min() < spec.lower or ends.max() > spec.upper):
                    out.append(
                        f"Ranges on {c!r}: thresholds outside the public bounds [{spec.lower:g}, {spec.upper:g}] "
                        f"(got [{ends.min():g}, {ends.max():g}]); use thresholds within the bounds"
                    )
            elif not spec.upper > spec.lower:
                out.append(f"Halfspaces on {c!r}: the column's bounds are degenerate")
        return out

    def _max_hits(self, g: QueryGroup) -> float:
        """Most queries of ``g`` one row can satisfy (the squared L2 sensitivity of ``g``)."""
        if isinstance(g, Marginal | TotalCount):
            return 1.0
        if isinstance(g, Halfspaces):
            return float(len(g.offsets))
        # The number of boxes containing a point is largest at some point whose every
        # coordinate is one of the boxes' lower ends (moving a point down to the nearest
        # lower end never leaves a box). Lower ends are clipped to the public bounds.
        cols = [self.specs[self._index[c]] for c in g.columns]
        lo = np.column_stack([np.maximum(g.lower[:, j], s.lower) for j, s in enumerate(cols)])
        cands = [np.unique(lo[:, j]) for j in range(lo.shape[1])]
        best = 0
        grid = np.array(list(itertools.product(*cands))) if len(cands) > 1 else cands[0][:, None]
        for start in range(0, len(grid), 512):
            pts = grid[start : start + 512]
            inside = np.ones((len(pts), len(g.lower)), dtype=bool)
            for j in range(lo.shape[1]):
                hi = np.where(np.isinf(g.upper[:, j]), np.inf, g.upper[:, j])
                inside &= (pts[:, j, None] >= lo[None, :, j]) & (pts[:, j, None] < hi[None, :])
            best = max(best, int(inside.sum(axis=1).max()))
        return float(max(best, 1))

    # -- evaluation -------------------------------------------------------------------------
    def codes(self, X: np.ndarray) -> np.ndarray:
        """(n, d) codes of rows of ``X``."""
        return np.column_stack([s.codes(X[:, j]) for j, s in enumerate(self.specs)]) if len(X) else np.zeros(
            (0, len(self.specs)), dtype=np.int64
        )

    def cells(self, X: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
        """(n, cell groups) global index of the query each row satisfies in each cell group."""
        codes = self.codes(X) if codes is None else codes
        return codes @ self._stride_matrix + self._cell_offsets

    def dense(self, X: np.ndarray) -> np.ndarray:
        """(n, dense queries) boolean: which range/halfspace queries each row satisfies."""
        out = np.empty((len(X), self.n_dense), dtype=bool)
        pos = 0
        for g, cols in self._dense:
            V = X[:, cols]
            if isinstance(g, Ranges):
                m = len(g.lower)
                ok = np.ones((len(X), m), dtype=bool)
                for j in range(len(cols)):
                    v = V[:, j, None]
                    with np.errstate(invalid="ignore"):
                        ok &= (v >= g.lower[None, :, j]) & (v < g.upper[None, :, j])
            else:
                assert isinstance(g, Halfspaces)
                m = len(g.offsets)
                lo = np.array([self.specs[j].lower for j in cols])
                span = np.array([self.specs[j].upper - self.specs[j].lower for j in cols])
                Z = (V - lo) / span
                miss = np.isnan(Z).any(axis=1)
                ok = (np.nan_to_num(Z) @ g.weights.T) >= g.offsets[None, :]
                ok[miss] = False
            out[:, pos : pos + m] = ok
            pos += m
        return out

    def counts(self, X: np.ndarray) -> np.ndarray:
        """(m,) int64: how many rows of ``X`` satisfy each query."""
        out = np.zeros(self.m, dtype=np.int64)
        if self.n_cell:
            out[: self.n_cell] = np.bincount(self.cells(X).ravel(), minlength=self.n_cell)[: self.n_cell]
        if self.n_dense:
            out[self.n_cell :] = self.dense(X).sum(axis=0)
        return out

    def subset(self, indices: Sequence[int]) -> CompiledWorkload:
        """The workload of the groups ``indices`` (in that order)."""
        return CompiledWorkload(self.domain, [self.groups[i] for i in indices])

    def group_values(self, values: np.ndarray, i: int) -> np.ndarray:
        """The part of a per-query vector that belongs to group ``i``."""
        a, b = self.slices[i]
        return values[a:b]


# -- answers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryAnswers:
    """Noisy answers to some groups of a workload.

    Attributes:
        groups: Indices (into the workload asked) of the groups answered.
        values: Noisy counts, one array per answered group (queries in group order).
        sigmas: Noise standard deviation of each answered group's queries.
    """

    groups: tuple[int, ...]
    values: tuple[np.ndarray, ...]
    sigmas: tuple[float, ...]


@dataclass(frozen=True)
class Selection:
    """Ask ``answer_queries`` to select the ``k`` worst-approximated groups before measuring.

    The quality of group g is ``(‖q_g(D) − estimate_g‖₁ − penalty_g) / h_g`` with ``h_g``
    its ``max_hits`` and ``penalty_g = √(2/π)·σ_g·|g|`` the expected L1 norm of the noise it
    would be measured with (AIM, McKenna et al. 2022, Alg. 1 line 9); dividing by ``h_g``
    makes every score's sensitivity 1.

    Attributes:
        estimates: One array per group of the workload: the current estimate of its counts
            (post-processing of earlier noisy answers, e.g. synthetic counts scaled to a DP
            row count).
        epsilon: ε of each of the ``k`` exponential-mechanism selections.
        k: Number of groups to select (distinct).
    """

    estimates: Sequence[np.ndarray]
    epsilon: float
    k: int = 1


def selection_scores(
    truths: Sequence[np.ndarray], sel: Selection, max_hits: np.ndarray, sigma: float, sizes: Sequence[int]
) -> np.ndarray:
    """Quality scores of :class:`Selection` (sensitivity 1 each under add/remove one row)."""
    out = np.empty(len(truths))
    for i, (t, e) in enumerate(zip(truths, sel.estimates, strict=True)):
        e = np.asarray(e, dtype=np.float64).ravel()
        if e.shape != t.shape:
            raise InvalidParameterError(
                f"The estimate of group {i} has {e.size} values; the group has {t.size} queries."
            )
        penalty = math.sqrt(2.0 / math.pi) * sigma * math.sqrt(max_hits[i]) * sizes[i]
        out[i] = (np.abs(t - e).sum() - penalty) / max_hits[i]
    return out


def true_counts(table_rows: np.ndarray, workload: CompiledWorkload) -> list[np.ndarray]:
    """Raw counts of every group (private: only ``PrivateData`` calls this, before adding noise)."""
    counts = workload.counts(table_rows).astype(np.float64)
    return [workload.group_values(counts, i) for i in range(len(workload.groups))]


def top_k(scores: np.ndarray, k: int, epsilon: float, noise: object) -> list[int]:
    """Indices of ``k`` distinct groups picked by report-noisy-max with Gumbel noise.

    The top ``k`` of ``ε·score/2 + Gumbel`` has the distribution of ``k`` exponential
    mechanisms (ε each, sensitivity 1) run one after another without replacement
    ("peeling"; Durfee & Rogers 2019, Lemma 4.2), so it is charged as ``k`` of them.
    """
    logits = epsilon * np.asarray(scores, dtype=np.float64) / 2.0 + noise.gumbel(len(scores))  # type: ignore[attr-defined]
    return [int(i) for i in np.argsort(-logits, kind="stable")[:k]]


_ROWS: weakref.WeakKeyDictionary[object, tuple[Domain, np.ndarray]] = weakref.WeakKeyDictionary()


def private_rows(table: object, domain: Domain) -> np.ndarray:
    """``X`` of the private table (cached per table object and domain).

    Private: only ``PrivateData`` calls this, to compute answers it adds noise to.
    """
    hit = _ROWS.get(table)
    if hit is not None and hit[0] == domain:
        return hit[1]
    frame = table.to_frame(domain)  # type: ignore[attr-defined]
    X = encode_rows(frame, domain)
    _ROWS[table] = (domain, X)
    return X
